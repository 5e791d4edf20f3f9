// `rrlhf runs list|show|diff`: the run history in the store. Runs are written by the experiment runner;
// these commands only read (apart from marking runs whose process died as paused/failed, so that a
// crashed run is not listed as running forever).
import { z } from 'zod';
import { type Command, UsageError, parse } from '../cli-kit.js';
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
    'runs list [--experiment ID] [--status S] [--objective O]   run history (S: queued|running|paused|failed|finished|cancelled)',
    'runs show ID                    one run: status, last value of each metric, checkpoints, alerts (--json adds its settings)',
    'runs diff ID ID                 settings that differ between two runs',
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
      default:
        throw new UsageError(`unknown runs subcommand "${sub ?? ''}"; use list, show or diff`);
    }
  },
};
