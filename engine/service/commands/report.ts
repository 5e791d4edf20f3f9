// `rrlhf report`: export a comparison report (HTML, PDF, CSV of every metric, JSON of the report model)
// for an experiment or a set of runs.
//
// Telling ids apart: bare ids are run ids; with --experiment they are experiment ids. A prefix decides
// per id and wins over the flag: `exp:3` (or `e3`) is experiment 3, `run:7` (or `r7`) is run 7.
// One experiment alone gives the experiment's report (its spec, ensemble and every run); anything else
// (several experiments, or runs) reports on the union of those runs.
import { type Command, UsageError, parse } from '../cli-kit.js';
import { openStore, resolveDataDir } from '../../store/index.js';
import { exportReport, OutputPathError } from '../../report/index.js';

export interface ReportTargets { experiments: number[]; runs: number[] }

/** Parses RUN_OR_EXPERIMENT_ID arguments (see the header comment). */
export function parseTargets(ids: string[], experimentFlag: boolean): ReportTargets {
  const t: ReportTargets = { experiments: [], runs: [] };
  for (const raw of ids) {
    const m = /^(?:(exp|experiment|e|run|r)[:]?)?(\d+)$/i.exec(raw.trim());
    if (!m || Number(m[2]) <= 0) {
      if (/\.json$/i.test(raw)) throw new UsageError(`"${raw}" is not an id: name the JSON export with --json-file ${raw} (--json alone prints the result as JSON)`);
      throw new UsageError(`"${raw}" is not a run or experiment id; use a number (a run, or an experiment with --experiment), exp:N or run:N`);
    }
    const kind = m[1]?.toLowerCase();
    const isExp = kind ? kind.startsWith('e') : experimentFlag;
    const list = isExp ? t.experiments : t.runs;
    const id = Number(m[2]);
    if (!list.includes(id)) list.push(id);
  }
  return t;
}

export const report: Command = {
  usage: [
    'report ID... --out FILE.html [--pdf FILE.pdf] [--csv FILE.csv] [--json-file FILE.json] [--experiment] [--gallery N]',
    '                                comparison report: HTML (self-contained), PDF (needs Chromium; RRLHF_CHROMIUM=PATH picks one), every metric as CSV,',
    '                                the report as JSON; --gallery N: how many hacked samples to show (default 8, 0 = none).',
    '                                IDs are run ids, or experiment ids with --experiment; exp:N / run:N pick per id (e.g. `report exp:1 --out r.html`)',
  ],
  async run(args, out) {
    const { values, positionals } = parse(args, {
      out: { type: 'string', short: 'o' }, pdf: { type: 'string' }, csv: { type: 'string' }, 'json-file': { type: 'string' },
      experiment: { type: 'boolean' }, gallery: { type: 'string' },
    }, true);
    if (!positionals.length) throw new UsageError('name at least one run or experiment, e.g. `rrlhf report exp:1 --out report.html`');
    const targets = parseTargets(positionals, !!values.experiment);
    const outputs = { html: values.out, pdf: values.pdf, csv: values.csv, json: values['json-file'] };
    if (!Object.values(outputs).some((v) => v !== undefined)) throw new UsageError('name an output: --out FILE.html (and/or --pdf, --csv, --json-file)');
    let gallery: number | undefined;
    if (values.gallery !== undefined) {
      gallery = Number(values.gallery);
      if (!Number.isInteger(gallery) || gallery < 0) throw new UsageError(`--gallery must be a whole number ≥ 0, got "${values.gallery}"`);
    }
    const dataDir = resolveDataDir(values['data-dir']);
    const store = openStore({ dataDir });
    try {
      let experimentId: number | undefined;
      let runIds: number[] | undefined;
      for (const e of targets.experiments) if (!store.experiments.get(e)) throw new Error(`experiment ${e} does not exist; \`rrlhf runs list\` shows experiments and runs`);
      for (const r of targets.runs) if (!store.runs.get(r)) throw new Error(`run ${r} does not exist; \`rrlhf runs list\` shows the ids`);
      if (targets.experiments.length === 1 && !targets.runs.length) {
        experimentId = targets.experiments[0];
      } else {
        runIds = [...new Set([...targets.experiments.flatMap((e) => store.runs.list({ experimentId: e }).map((r) => r.id)), ...targets.runs])];
        if (!runIds.length) throw new Error('the named experiments have no runs');
      }
      const r = await exportReport({
        store, dataDir, experimentId, runIds, out: outputs, gallery,
        onProgress: (m) => process.stderr.write(`[report] ${m}\n`),
      }).catch((e: unknown) => { throw e instanceof OutputPathError ? new UsageError(e.message) : e; });
      const result: Record<string, string> = {};
      for (const k of ['html', 'pdf', 'csv', 'json'] as const) if (r[k]) result[k] = r[k]!;
      out(result, () => [r.model.verdict, ...Object.entries(result).map(([k, v]) => `  ${k.toUpperCase().padEnd(4)} ${v}`)].join('\n'));
    } finally {
      store.close();
    }
  },
};
