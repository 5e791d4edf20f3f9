// W&B's CSV exports. Two shapes:
//   run history (`run.history()` / "Export as CSV" of a run's table): `_step`, `_runtime`, `_timestamp`
//     and one column per metric;
//   a chart panel's export: `Step`, then "<run name> - <metric>" with "__MIN" / "__MAX" companions
//     (the panel's min/max envelope, not data; ignored).
// Empty cells are steps where the metric was not logged. A column with text that is not a number
// (media, tables) is left out with a warning. Parsed with the CSV reader datasets use.
import { openCsv } from '../data/readers/csv.js';
import { RunLogError } from './tfrecord.js';
import type { ParsedLog, ScalarPoint } from './jsonl.js';

const STEP_COLUMNS = ['Step', '_step', 'step', 'global_step', 'train/global_step'];
const IGNORED = new Set(['_runtime', '_timestamp', 'Wall time', 'wall_time']);

export async function readWandbCsv(file: string): Promise<ParsedLog> {
  const warnings: string[] = [];
  const rows: { pos: number; value: Record<string, unknown> }[] = [];
  let columns: string[] | undefined;
  const source = openCsv(file, { delimiter: ',' });
  for await (const rec of source.records) {
    if (rec.error !== undefined || !rec.value) throw new RunLogError(`${file}: line ${rec.pos}: ${rec.error ?? 'unreadable'}`);
    rows.push({ pos: rec.pos, value: rec.value });
  }
  columns = (source.notes.columns as string[] | undefined) ?? [];
  const stepCol = STEP_COLUMNS.find((c) => columns!.includes(c));
  if (!stepCol) throw new RunLogError(`${file}: no step column (expected one of ${STEP_COLUMNS.join(', ')}); columns are ${columns.join(', ')}`);
  const metricCols = columns.filter((c) => c !== stepCol && !IGNORED.has(c) && !/__(MIN|MAX)$/.test(c) && !c.startsWith('_'));
  // A panel export prefixes every column with the run's name; one run per file, so it is stripped.
  const prefixes = new Set(metricCols.map((c) => (c.includes(' - ') ? c.slice(0, c.indexOf(' - ')) : '')));
  if (prefixes.size > 1 && !prefixes.has('')) {
    throw new RunLogError(`${file} holds ${prefixes.size} runs (${[...prefixes].join(', ')}); export one run per file and import each`);
  }
  const strip = prefixes.size === 1 && !prefixes.has('') ? [...prefixes][0]!.length + 3 : 0;
  const scalars: ScalarPoint[] = [];
  const bad = new Set<string>();
  const hasTime = columns.includes('_timestamp');
  for (const col of metricCols) {
    const points: ScalarPoint[] = [];
    for (const { pos, value } of rows) {
      const cell = String(value[col] ?? '').trim();
      if (cell === '') continue;
      const v = cell === 'NaN' || cell === 'nan' ? NaN : Number(cell);
      if (Number.isNaN(v) && cell.toLowerCase() !== 'nan') { bad.add(col); break; }
      const stepText = String(value[stepCol] ?? '').trim();
      const step = Number(stepText);
      if (stepText === '' || !Number.isInteger(step) || step < 0) {
        throw new RunLogError(`${file}: line ${pos}: ${stepCol} is "${stepText}"; expected a non-negative integer`);
      }
      const p: ScalarPoint = { tag: col.slice(strip), step, value: v };
      const t = hasTime ? Number(value._timestamp) : NaN;
      if (Number.isFinite(t)) p.wallTime = t;
      points.push(p);
    }
    if (!bad.has(col)) scalars.push(...points);
  }
  if (bad.size) warnings.push(`${file}: columns with text that is not a number were left out: ${[...bad].join(', ')}`);
  return { scalars, warnings };
}
