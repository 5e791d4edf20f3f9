// `rrlhf runs list|show|diff|import`: the run history in the store. Runs are written by the experiment
// runner; list/show/diff only read (apart from marking runs whose process died as paused/failed, so
// that a crashed run is not listed as running forever). `import` adds a run from another engine's logs
// (engine/runlogs/import.ts).
import { z } from 'zod';
import { type Command, UsageError, parse, nonNegIntOpt } from '../cli-kit.js';
import { importRunLog, RunImportSchema } from '../../runlogs/import.js';
import { openStore, RUN_STATUSES, RunFilterSchema, type Run, type Store } from '../../store/index.js';

const Id = z.coerce.number().int().positive();
const Status = z.enum(RUN_STATUSES);

function idArg(v: string | undefined, what: string): number {
  const r = Id.safeParse(v);
  if (!r.success) throw new UsageError(`expected ${what} (a positive integer), got "${v ?? ''}"`);
  return r.data;
}

function withStore<T>(dataDir: string | undefined, f: (s: Store) => T): T {
  const store = openStore(dataDir ? { dataDir } : {});
  try {
    store.runs.recoverInterrupted();
    return f(store);
  } finally {
    store.close();
  }
}

/** The row `runs list` prints per run. */
function summary(s: Store, r: Run) {
  return {
    id: r.id, experiment: r.experimentId, objective: r.objective, seed: r.seed, status: r.status, device: r.device,
    created: r.created, started: r.started, finished: r.finished, last_step: s.metrics.lastStep(r.id), error: r.error,
  };
}

export const runs: Command = {
  usage: [
    'runs list [--experiment ID] [--status S] [--objective O]   run history (S: queued|running|paused|failed|finished|cancelled|imported)',
    'runs show ID                    one run: status, last value of each metric, checkpoints, alerts (--json adds its settings)',
    'runs diff ID ID                 settings that differ between two runs',
    'runs import PATH --experiment ID --objective NAME --seed S [--format auto|tensorboard|jsonl|console|csv] [--engine openrlhf|verl|auto]',
    '                                an OpenRLHF / verl run (TensorBoard folder or file, verl JSON lines or console log, W&B CSV) as an imported run of a study',
  ],
  async run(args, out) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'list': {
        const { values } = parse(rest, { experiment: { type: 'string' }, status: { type: 'string' }, objective: { type: 'string' } });
        if (values.status !== undefined && !Status.safeParse(values.status).success) {
          throw new UsageError(`--status must be one of ${RUN_STATUSES.join(', ')}; got "${values.status}"`);
        }
        const filter = RunFilterSchema.parse({
          experimentId: values.experiment === undefined ? undefined : idArg(values.experiment, 'an experiment id'),
          status: values.status, objective: values.objective,
        });
        const list = withStore(values['data-dir'], (s) => s.runs.list(filter).map((r) => summary(s, r)));
        return out(list, () => (list.length
          ? list.map((r) => `${String(r.id).padStart(4)}  exp ${String(r.experiment ?? '-').padEnd(4)} ${r.objective.padEnd(10)} seed ${String(r.seed).padEnd(4)} ${r.status.padEnd(9)} step ${r.last_step ?? '-'}${r.error ? `  (${r.error})` : ''}`).join('\n')
          : 'No runs match.'));
      }
      case 'show': {
        const { values, positionals } = parse(rest, {}, true);
        const id = idArg(positionals[0], 'a run id');
        const shown = withStore(values['data-dir'], (s) => {
          const r = s.runs.get(id);
          if (!r) throw new Error(`run ${id} does not exist; \`rrlhf runs list\` shows the ids`);
          return {
            ...r, last_step: s.metrics.lastStep(id), metric_keys: s.metrics.keys(id), metrics: s.metrics.last(id),
            checkpoints: s.runs.checkpoints(id), alerts: s.alerts.list(id),
          };
        });
        return out(shown, () => [
          `Run ${shown.id}: ${shown.objective}, seed ${shown.seed}, ${shown.status}${shown.device ? ` on ${shown.device}` : ''}${shown.error ? ` — ${shown.error}` : ''}`,
          `  experiment ${shown.experimentId ?? '-'}, created ${shown.created}, started ${shown.started ?? '-'}, finished ${shown.finished ?? '-'}`,
          ...Object.entries(shown.metrics).map(([k, v]) => `  ${k.padEnd(28)} ${v.value ?? 'NaN'}  (step ${v.step})`),
          `  checkpoints: ${shown.checkpoints.map((c) => c.step).join(', ') || 'none'}`,
          ...shown.alerts.map((a) => `  alert at step ${a.step}: ${a.kind}: ${a.message} (${a.sampleIds.length} samples)`),
        ].join('\n'));
      }
      case 'diff': {
        const { values, positionals } = parse(rest, {}, true);
        if (positionals.length !== 2) throw new UsageError('runs diff takes two run ids');
        const [a, b] = positionals.map((p) => idArg(p, 'a run id')) as [number, number];
        const diff = withStore(values['data-dir'], (s) => s.runs.configDiff(a, b));
        return out(diff, () => (diff.length
          ? diff.map((d) => `  ${d.path}: ${JSON.stringify(d.a) ?? '(absent)'} → ${JSON.stringify(d.b) ?? '(absent)'}`).join('\n')
          : `Runs ${a} and ${b} have the same settings.`));
      }
      case 'import': {
        const { values, positionals } = parse(rest, {
          experiment: { type: 'string' }, objective: { type: 'string' }, seed: { type: 'string' }, format: { type: 'string' }, engine: { type: 'string' },
        }, true);
        if (positionals.length !== 1) throw new UsageError('runs import takes one PATH: a TensorBoard folder or event file, a verl .jsonl or console log, or a W&B .csv');
        if (values.experiment === undefined || values.objective === undefined || values.seed === undefined) {
          throw new UsageError('runs import needs --experiment ID, --objective NAME and --seed S (the study, objective and seed this run belongs to)');
        }
        const req = RunImportSchema.safeParse({
          path: positionals[0], experimentId: idArg(values.experiment, 'an experiment id'), objective: values.objective,
          seed: nonNegIntOpt(values.seed, 'seed', 0), format: values.format ?? 'auto', engine: values.engine ?? 'auto',
        });
        if (!req.success) throw new UsageError(req.error.issues.map((i) => `--${String(i.path[0] ?? '')}: ${i.message}`).join('; '));
        const store = openStore(values['data-dir'] ? { dataDir: values['data-dir'] } : {});
        let r;
        try {
          r = await importRunLog(store, req.data.path, req.data);
        } finally {
          store.close();
        }
        for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
        const doc = { run: r.run, engine: r.engine, format: r.format, metrics: r.metrics, steps: r.steps, source: r.source, warnings: r.warnings };
        return out(doc, () => [
          `Imported run ${r.run.id} (experiment ${r.run.experimentId}, ${r.run.objective}, seed ${r.run.seed}) from ${r.source.path}: ${r.format}, ${r.engine ?? 'unknown engine'}`,
          `  ${r.steps.count} steps (${r.steps.first}..${r.steps.last}), ${r.points} values`,
          `  mapped: ${r.metrics.mapped.map((m) => `${m.from} → ${m.to}`).join(', ') || 'none'}`,
          `  kept as ext/: ${r.metrics.kept.join(', ') || 'none'}`,
        ].join('\n'));
      }
      default:
        throw new UsageError(`unknown runs subcommand "${sub ?? ''}"; use list, show, diff or import`);
    }
  },
};
