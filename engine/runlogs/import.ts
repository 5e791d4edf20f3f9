// Another engine's run into the lab's history: read its log (TensorBoard folder or file, verl JSON
// lines or console log, W&B CSV), map the metric names to ours (metric-map.ts), and store it as a run
// of an experiment with status 'imported', so the Runs overlay, the study page and the report show it
// beside local runs. The run and its metrics are written in one transaction.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Store, Run, RunSource } from '../store/index.js';
import { InputFileError } from '../store/index.js';
import { parseEventFile, maskedCrc32c, RunLogError } from './tfrecord.js';
import { readJsonlLog, readConsoleLog, isConsoleLine, type ScalarPoint } from './jsonl.js';
import { readWandbCsv } from './csv.js';
import { mapMetrics, ENGINES, type Engine, type MappedName } from './metric-map.js';

export { RunLogError } from './tfrecord.js';

export const LOG_FORMATS = ['tensorboard', 'jsonl', 'console', 'csv'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The same files imported again into the same experiment, objective and seed. */
export class DuplicateImportError extends RunLogError {
  override name = 'DuplicateImportError';
  constructor(message: string, readonly runId: number) { super(message); }
}

/** What `rrlhf runs import` and the `runs.import` API method take. */
export const RunImportSchema = z.strictObject({
  path: z.string().min(1, 'choose the log file or TensorBoard folder'),
  experimentId: z.number().int().positive(),
  objective: z.string().min(1, 'name the objective this run optimised'),
  seed: z.number().int().min(0),
  format: z.enum(['auto', ...LOG_FORMATS]).default('auto'),
  engine: z.enum(['auto', ...ENGINES]).default('auto'),
});
export type RunImportRequest = z.infer<typeof RunImportSchema>;

export interface ImportRunLogOptions {
  experimentId: number;
  objective: string;
  seed: number;
  format?: LogFormat | 'auto';
  engine?: Engine | 'auto';
}

export interface ImportRunLogResult {
  run: Run;
  engine: Engine | null;
  format: LogFormat;
  metrics: { mapped: MappedName[]; kept: string[] };
  steps: { count: number; first: number; last: number };
  points: number;
  source: RunSource;
  warnings: string[];
}

const isEventFileName = (name: string) => name.includes('tfevents');

/** A file or folder the user named, as an absolute path; the message says what is wrong. */
export function checkLogPath(p: string): { abs: string; dir: boolean } {
  const abs = path.resolve(p);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputFileError(`${abs} does not exist; check the path (relative paths start from ${process.cwd()})`);
    throw new InputFileError(`${abs} cannot be read: ${(err as Error).message}`);
  }
  if (!st.isDirectory() && !st.isFile()) throw new InputFileError(`${abs} is not a regular file or folder`);
  try {
    fs.accessSync(abs, fs.constants.R_OK | (st.isDirectory() ? fs.constants.X_OK : 0));
  } catch {
    throw new InputFileError(`${abs} is not readable by this user; check its permissions`);
  }
  return { abs, dir: st.isDirectory() };
}

/** The event files of a TensorBoard folder, in name order (their names start with the writer's start time). */
function eventFilesIn(dir: string): string[] {
  const entries = fs.readdirSync(dir, { withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && isEventFileName(e.name)).map((e) => path.join(dir, e.name)).sort();
  if (files.length) return files;
  const sub = entries.filter((e) => e.isDirectory() && fs.readdirSync(path.join(dir, e.name)).some(isEventFileName)).map((e) => e.name).sort();
  if (sub.length === 1) return eventFilesIn(path.join(dir, sub[0]!));
  if (sub.length > 1) throw new RunLogError(`${dir} holds event files in ${sub.length} subfolders (${sub.join(', ')}), one per run or writer; import each folder as its own run`);
  throw new RunLogError(`${dir} has no TensorBoard event files (events.out.tfevents.*); pass the folder the trainer's SummaryWriter wrote, or a log file`);
}

/** What a single file is, from its name and first bytes. */
function sniffFormat(file: string): LogFormat {
  const name = path.basename(file).toLowerCase();
  if (isEventFileName(name)) return 'tensorboard';
  if (name.endsWith('.csv')) return 'csv';
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(64 << 10);
  let n: number;
  try { n = fs.readSync(fd, head, 0, head.length, 0); } finally { fs.closeSync(fd); }
  const bytes = head.subarray(0, n);
  if (n >= 12 && bytes.readUInt32LE(8) === maskedCrc32c(bytes, 0, 8)) return 'tensorboard';
  const text = bytes.toString('utf8');
  const first = text.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
  if (first.startsWith('{')) return 'jsonl';
  if (text.split('\n').some(isConsoleLine)) return 'console';
  throw new RunLogError(`${file}: cannot tell what kind of log this is (not a TensorBoard event file, JSON lines, verl console lines or CSV); pass --format`);
}

async function readFile(file: string, format: LogFormat): Promise<{ scalars: ScalarPoint[]; warnings: string[] }> {
  switch (format) {
    case 'tensorboard': return parseEventFile(fs.readFileSync(file), file);
    case 'jsonl': return readJsonlLog(file);
    case 'console': return readConsoleLog(file);
    case 'csv': return readWandbCsv(file);
  }
}

const sha256 = (bytes: Uint8Array) => crypto.createHash('sha256').update(bytes).digest('hex');

/**
 * Reads every file, then keeps one value per (metric, step): the one written last (the greatest wall
 * time; in file order where there is none), as TensorBoard itself shows a restarted run.
 */
export async function readRunLog(p: string, format: LogFormat | 'auto' = 'auto'): Promise<{
  format: LogFormat; files: string[]; points: Map<string, Map<number, number>>; warnings: string[];
}> {
  const { abs, dir } = checkLogPath(p);
  if (dir && format !== 'auto' && format !== 'tensorboard') throw new RunLogError(`${abs} is a folder; a ${format} log is one file, so pass the file`);
  const files = dir ? eventFilesIn(abs) : [abs];
  const fmt: LogFormat = dir ? 'tensorboard' : format === 'auto' ? sniffFormat(abs) : format;
  const best = new Map<string, Map<number, { value: number; wall: number; order: number }>>();
  const warnings: string[] = [];
  let order = 0;
  for (const f of files) {
    const r = await readFile(f, fmt);
    warnings.push(...r.warnings);
    for (const s of r.scalars) {
      if (!Number.isInteger(s.step) || s.step < 0) throw new RunLogError(`${f}: metric "${s.tag}" has step ${s.step}; steps must be non-negative integers`);
      const byStep = best.get(s.tag) ?? new Map<number, { value: number; wall: number; order: number }>();
      best.set(s.tag, byStep);
      const cur = byStep.get(s.step);
      const wall = s.wallTime ?? -Infinity;
      order++;
      if (!cur || wall > cur.wall || (wall === cur.wall && order > cur.order)) byStep.set(s.step, { value: s.value, wall, order });
    }
  }
  const points = new Map([...best].map(([tag, m]) => [tag, new Map([...m].map(([step, v]) => [step, v.value]))]));
  return { format: fmt, files, points, warnings };
}

export async function importRunLog(store: Store, p: string, o: ImportRunLogOptions): Promise<ImportRunLogResult> {
  const exp = store.experiments.get(o.experimentId);
  if (!exp) throw new RunLogError(`experiment ${o.experimentId} does not exist; \`rrlhf runs list\` shows each run with its experiment id`);
  if (!Number.isInteger(o.seed)) throw new RunLogError(`the seed must be an integer, got ${o.seed}`);
  if (o.engine !== undefined && o.engine !== 'auto' && !ENGINES.includes(o.engine)) throw new RunLogError(`unknown engine "${o.engine}"; use ${ENGINES.join(', ')} or auto`);
  const log = await readRunLog(p, o.format ?? 'auto');
  const where = log.files.length === 1 ? log.files[0]! : path.resolve(p);
  if (![...log.points.values()].some((m) => m.size)) {
    throw new RunLogError(`${where}: no scalar metrics found${log.files.length > 1 ? ` in its ${log.files.length} event files` : ''}; nothing to import`);
  }
  const files = log.files.map((f) => {
    const bytes = fs.readFileSync(f);
    return { name: path.relative(path.resolve(p), f) || path.basename(f), sha256: sha256(bytes), bytes: bytes.length };
  });
  // Content only, so a copied or renamed log is still recognised.
  const sourceHash = sha256(new TextEncoder().encode(files.map((f) => f.sha256).sort().join('\n')));
  const mapping = mapMetrics(log.points.keys(), o.engine ?? 'auto');
  const warnings = [...log.warnings];
  const objectives = ((exp.spec as { objectives?: { name?: string }[] }).objectives ?? []).map((x) => x.name);
  if (!objectives.includes(o.objective)) {
    warnings.push(`objective "${o.objective}" is not one of experiment ${exp.id}'s (${objectives.join(', ') || 'none'}): the run is listed with the study's runs but not in its per-objective summary`);
  }
  const bySteps = new Map<number, Record<string, number>>();
  for (const [tag, m] of log.points) {
    const key = mapping.names.get(tag)!;
    for (const [step, value] of m) {
      const rec = bySteps.get(step) ?? {};
      rec[key] = value;
      bySteps.set(step, rec);
    }
  }
  const steps = [...bySteps.keys()].sort((a, b) => a - b);
  const source: RunSource = { engine: mapping.engine, format: log.format, path: path.resolve(p), files };
  const run = store.db.transaction(() => {
    // Checked inside the write transaction, so two imports of the same log cannot both pass.
    const dup = store.runs.findImport({ experimentId: exp.id, objective: o.objective, seed: o.seed, sourceHash });
    if (dup) {
      throw new DuplicateImportError(`${where} is already imported into experiment ${exp.id} as run ${dup.id} (objective ${o.objective}, seed ${o.seed}); nothing was added (a different objective or seed makes it a separate run)`, dup.id);
    }
    const r = store.runs.createImported({
      experimentId: exp.id, objective: o.objective, seed: o.seed, source, sourceHash,
      versions: { engine: mapping.engine ?? 'unknown' },
    });
    store.metrics.appendMany(r.id, steps.map((step) => ({ step, record: bySteps.get(step)! })));
    return r;
  }).immediate();
  return {
    run, engine: mapping.engine, format: log.format, metrics: { mapped: mapping.mapped, kept: mapping.kept },
    steps: { count: steps.length, first: steps[0]!, last: steps[steps.length - 1]! },
    points: [...log.points.values()].reduce((n, m) => n + m.size, 0), source, warnings,
  };
}
