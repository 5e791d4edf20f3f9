// verl's logs as text: the file logger's JSON lines and the console logger's lines.
//
//   file (verl/utils/tracking.py FileLogger):        {"step": 3, "data": {"actor/pg_loss": 0.12, ...}}
//   console (verl/utils/logger/aggregate_logger.py): step:3 - actor/pg_loss:0.12 - critic/score/mean:0.5
//
// Flat objects ({"step": 3, "actor/pg_loss": 0.12}, or "_step" / "global_step" as W&B and OpenRLHF
// name it) are read too. orjson writes NaN as null, so null reads back as NaN. A malformed last line
// is what a trainer still writing leaves behind: it is skipped with a warning; a malformed line
// elsewhere is an error naming the file and line.
import { openJsonl } from '../data/readers/jsonl.js';
import { readLines, isBlank } from '../data/lines.js';
import { decodeUtf8 } from '../data/utf8.js';
import { isPlainObject } from '../data/readers/source.js';
import { RunLogError } from './tfrecord.js';

export interface ScalarPoint {
  tag: string;
  step: number;
  value: number;
  /** Seconds since the epoch when the writer recorded it, where the format says (TensorBoard, W&B). */
  wallTime?: number;
}

export interface ParsedLog {
  scalars: ScalarPoint[];
  warnings: string[];
}

const STEP_KEYS = ['step', '_step', 'global_step', 'train/global_step'] as const;

function stepOf(v: unknown, where: string): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new RunLogError(`${where}: the step is ${JSON.stringify(v)}; expected a non-negative integer`);
  }
  return n;
}

export async function readJsonlLog(file: string): Promise<ParsedLog> {
  const scalars: ScalarPoint[] = [];
  const warnings: string[] = [];
  const skipped = new Set<string>();
  let pending: { pos: number; error: string } | undefined; // a bad line; fatal unless it is the last
  for await (const rec of openJsonl(file).records) {
    if (pending) throw new RunLogError(`${file}: line ${pending.pos}: ${pending.error}`);
    if (rec.error !== undefined || !rec.value) { pending = { pos: rec.pos, error: rec.error ?? 'unreadable' }; continue; }
    const where = `${file}: line ${rec.pos}`;
    const obj = rec.value;
    const stepKey = STEP_KEYS.find((k) => k in obj);
    if (!stepKey) throw new RunLogError(`${where}: no "step" field; verl's file logger writes {"step": N, "data": {...}}`);
    const step = stepOf(obj[stepKey], where);
    const data = isPlainObject(obj.data) ? obj.data : Object.fromEntries(Object.entries(obj).filter(([k]) => !(STEP_KEYS as readonly string[]).includes(k)));
    for (const [tag, v] of Object.entries(data)) {
      if (typeof v === 'number') scalars.push({ tag, step, value: v });
      else if (v === null) scalars.push({ tag, step, value: NaN });
      else skipped.add(tag);
    }
  }
  if (pending) warnings.push(`${file}: line ${pending.pos} skipped (${pending.error}); the writer may still be running`);
  if (skipped.size) warnings.push(`${file}: fields that are not numbers were left out: ${[...skipped].sort().join(', ')}`);
  return { scalars, warnings };
}

const CONSOLE_LINE = /(?:^|\s)step:(\d+)((?: - [^\s:][^:]*:\S*)*)\s*$/;

/** Whether a text line looks like verl's console logger output. */
export const isConsoleLine = (line: string) => CONSOLE_LINE.test(line);

/** verl's console lines; every other line (warnings, tqdm bars, Ray prefixes before "step:") is ignored. */
export async function readConsoleLog(file: string): Promise<ParsedLog> {
  const scalars: ScalarPoint[] = [];
  const warnings: string[] = [];
  for await (const line of readLines(file)) {
    if (line.tooLong !== undefined || isBlank(line.bytes)) continue;
    const d = decodeUtf8(line.bytes);
    if (!d.ok) continue;
    const m = CONSOLE_LINE.exec(d.text);
    if (!m) continue;
    const step = Number(m[1]);
    for (const part of m[2]!.split(' - ').slice(1)) {
      const cut = part.lastIndexOf(':');
      const tag = part.slice(0, cut), text = part.slice(cut + 1);
      // pprint writes nan/inf for floats; anything else that is not a number is left out.
      const value = text === 'nan' ? NaN : text === 'inf' ? Infinity : text === '-inf' ? -Infinity : Number(text);
      if (text !== '' && (!Number.isNaN(value) || text === 'nan')) scalars.push({ tag, step, value });
    }
  }
  return { scalars, warnings };
}
