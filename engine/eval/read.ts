// Reading a benchmark: one file (JSONL, JSON, CSV or Parquet, through the dataset readers of engine/data,
// so malformed lines are reported the same way) or a Hugging Face dataset folder (split files such as
// test-00000-of-00001.parquet, or test/ and validation/ subfolders). Each record becomes an EvalDoc of
// the detected (or given) format, or a rejection naming the file, the line (row for JSON/Parquet) and why.
import fs from 'node:fs';
import path from 'node:path';
import { detectFormat, DataFileError } from '../data/formats.js';
import { openSource } from '../data/import.js';
import { RowRejected } from '../data/schemas.js';
import { detectEvalFormat, EVAL_FORMATS, FORMAT_DEFS, type EvalDoc, type EvalFormat } from './formats.js';

export interface ReadDoc { doc: EvalDoc; file: string; line: number; positions: 'line' | 'row' }
export interface Rejection { file: string; line: number; positions: 'line' | 'row'; reason: string }

export interface Benchmark {
  format: EvalFormat;
  /** How the format was chosen. */
  formatBy: 'option' | 'columns';
  files: string[];
  /** The split read from a dataset folder (null for a single file). */
  split: string | null;
  docs: ReadDoc[];
  rejected: Rejection[];
}

/** A whole benchmark that cannot be read (no usable file, unknown layout); nothing is scored. */
export class BenchmarkError extends Error {}

/** "file:12: reason" for a line, "file row 12: reason" for a JSON/Parquet row. */
export const describeRejection = (r: Rejection) => `${r.file}${r.positions === 'line' ? `:${r.line}` : ` row ${r.line}`}: ${r.reason}`;

const DATA_EXT = /\.(parquet|pq|jsonl|ndjson|json|csv|tsv)$/i;
const SPLITS = ['test', 'validation', 'dev', 'train'];

/** The split a file of a dataset folder belongs to: its name (test-0000-of-0001.parquet) or its folder (test/...). */
function splitOf(root: string, file: string): string | null {
  const rel = path.relative(root, file).split(path.sep);
  const base = rel[rel.length - 1]!.toLowerCase();
  for (const s of SPLITS) if (base === s || base.startsWith(`${s}-`) || base.startsWith(`${s}.`) || base.startsWith(`${s}_`)) return s;
  for (const dir of rel.slice(0, -1).reverse()) if (SPLITS.includes(dir.toLowerCase())) return dir.toLowerCase();
  return null;
}

function listData(dir: string, depth = 0): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory() && depth < 3) out.push(...listData(p, depth + 1));
    else if (e.isFile() && DATA_EXT.test(e.name)) out.push(p);
  }
  return out;
}

/** The files of `split` in a dataset folder; without a split, the first of test, validation, dev present. */
export function splitFiles(dir: string, split?: string): { files: string[]; split: string | null } {
  const all = listData(dir);
  if (!all.length) throw new BenchmarkError(`${dir} holds no .parquet, .jsonl, .json or .csv files; pass a benchmark file or a Hugging Face dataset folder`);
  const by = new Map<string, string[]>();
  for (const f of all) { const s = splitOf(dir, f); if (s) by.set(s, [...(by.get(s) ?? []), f]); }
  if (split !== undefined) {
    const files = by.get(split);
    if (!files) throw new BenchmarkError(`${dir} has no "${split}" split (found: ${[...by.keys()].join(', ') || 'no split-named files'})`);
    return { files, split };
  }
  for (const s of ['test', 'validation', 'dev']) { const files = by.get(s); if (files) return { files, split: s }; }
  if (by.size) throw new BenchmarkError(`${dir} has only the ${[...by.keys()].join(', ')} split; pass --split to evaluate it`);
  return { files: all, split: null };
}

export interface ReadOptions {
  format?: EvalFormat | 'auto';
  split?: string;
  /** A manual mapping, field the layout expects → column of the file (e.g. {question: 'stem'}), for files
   *  whose columns are named otherwise; applied to every record before detection and parsing. */
  mapping?: Record<string, string>;
}

/** Parses `field=column,field=column` (the CLI's --map). */
export function parseMapping(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = /^([A-Za-z_][\w.]*)=(.+)$/.exec(part);
    if (!m) throw new BenchmarkError(`--map expects field=column pairs separated by commas (e.g. question=stem,answer=label); "${part}" is not one`);
    out[m[1]!] = m[2]!.trim();
  }
  return out;
}

function applyMapping(value: Record<string, unknown>, mapping: Record<string, string>, reject: (r: string) => void): Record<string, unknown> | null {
  const out = { ...value };
  for (const [field, column] of Object.entries(mapping)) {
    if (!(column in value)) { reject(`--map ${field}=${column}: the record has no column "${column}" (it has ${Object.keys(value).map((k) => `"${k}"`).join(', ')})`); return null; }
    out[field] = value[column];
  }
  return out;
}

export async function readBenchmark(where: string, opts: ReadOptions = {}): Promise<Benchmark> {
  const abs = path.resolve(where);
  let st: fs.Stats;
  try { st = fs.statSync(abs); } catch { throw new BenchmarkError(`${abs} does not exist; pass a benchmark file (.jsonl, .json, .csv, .parquet) or a dataset folder`); }
  let files: string[], split: string | null = null;
  if (st.isDirectory()) ({ files, split } = splitFiles(abs, opts.split));
  else {
    if (opts.split !== undefined) throw new BenchmarkError(`--split picks a split of a dataset folder; ${abs} is a single file`);
    files = [abs];
  }
  let format: EvalFormat | null = opts.format && opts.format !== 'auto' ? opts.format : null;
  const formatBy = format ? 'option' : 'columns';
  const docs: ReadDoc[] = [], rejected: Rejection[] = [];
  for (const file of files) {
    let guess;
    try { guess = await detectFormat(file); } catch (e) { throw new BenchmarkError((e as Error).message); }
    let src;
    try { src = await openSource(file, guess.format, guess.delimiter); } catch (e) { throw new BenchmarkError((e as Error).message); }
    try {
      for await (const rec of src.records) {
        const reject = (reason: string) => rejected.push({ file, line: rec.pos, positions: src.positions, reason });
        if (rec.error !== undefined || !rec.value) { reject(rec.error ?? 'unreadable record'); continue; }
        const value = opts.mapping ? applyMapping(rec.value, opts.mapping, reject) : rec.value;
        if (!value) continue;
        if (!format) {
          format = detectEvalFormat(Object.keys(value));
          if (!format) {
            throw new BenchmarkError(`${file}: cannot tell the benchmark from the columns ${Object.keys(value).map((k) => `"${k}"`).join(', ')}; `
              + `expected one of mmlu (question, choices, answer), arc (question, choices{text,label}, answerKey), hellaswag (ctx_a/ctx_b or ctx, endings, label), `
              + `truthfulqa (question, mc1_targets), gsm8k (question, answer), or pass --format ${EVAL_FORMATS.join('|')} (and --map field=column for columns named otherwise)`);
          }
        }
        try {
          docs.push({ doc: FORMAT_DEFS[format].parse(value), file, line: rec.pos, positions: src.positions });
        } catch (e) {
          if (!(e instanceof RowRejected)) throw e;
          reject(e.message);
        }
      }
    } catch (e) {
      if (e instanceof DataFileError) throw new BenchmarkError(e.message);
      throw e;
    }
  }
  if (!format) throw new BenchmarkError(`${files.join(', ')}: no readable record${rejected.length ? ` (first problem: ${describeRejection(rejected[0]!)})` : ''}`);
  return { format, formatBy, files, split, docs, rejected };
}
