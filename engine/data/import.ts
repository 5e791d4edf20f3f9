// Importing a preference dataset into the store, streaming:
//
//   file ─ reader (jsonl | json | csv | parquet) ─ records ─ schema (detected or mapped) ─ pairs
//        ─ validation ─ batches of rows ─ one SQLite transaction ─ commit with stats and hashes
//
// Only a batch of rows (and 12 bytes of lengths per row) is in memory at any time. Every record is
// either accepted, rejected with its position and a reason, or set aside (an arena tie, or a duplicate
// when the user asked to drop them). If nothing is accepted, the file is unreadable, or anything throws
// (including the `onBatch` hook and an abort signal), the transaction rolls back and the store is
// exactly as it was.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../store/index.js';
import { checkInputFile } from '../store/paths.js';
import type { Dataset, DatasetImport, NewDatasetRow, Split } from '../store/datasets.js';
import { DataFileError, detectFormat, type Format } from './formats.js';
import type { RecordSource, SourceRecord } from './readers/source.js';
import { openJsonl } from './readers/jsonl.js';
import { openJson } from './readers/json.js';
import { openCsv } from './readers/csv.js';
import { openParquet } from './readers/parquet.js';
import { customSchema, detectSchema, leftoverFields, RowRejected, schemaById, SCHEMAS, type Content, type Mapping, type Schema } from './schemas.js';
import { StatsCollector, type DatasetStats } from './stats.js';
import { DEFAULT_SPLIT, splitOf, type SplitSpec } from './split.js';

export interface ImportOptions {
  /** Dataset name; default: the file name without its extension. */
  name?: string;
  format?: Format | 'auto';
  /** Force a schema instead of detecting one. */
  schema?: string;
  /** Manual column mapping; overrides detection and `schema`. */
  mapping?: Mapping;
  split?: SplitSpec;
  /** Keep only the first of identical (prompt, chosen, rejected) rows; the rest are set aside and counted. */
  dropDuplicates?: boolean;
  /** Rows per write (default 1000). */
  batchSize?: number;
  /** How many errors the result lists (default 100); all are counted, up to 10 000 are stored. */
  maxErrorsListed?: number;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** Called after each batch is written, inside the transaction; throwing aborts the import. */
  onBatch?: (rowsWritten: number) => void;
  signal?: AbortSignal;
}

export interface ImportResult {
  id: number;
  name: string;
  format: Format;
  schema: string;
  content: 'text' | 'messages';
  /** What `errors[].line` counts: 1-based file lines (jsonl, csv) or 0-based row indices (json, parquet). */
  positions: 'line' | 'row';
  accepted: number;
  rejected: number;
  set_aside: { ties: number; duplicates: number };
  errors: { line: number; reason: string }[];
  /** Errors beyond those listed. */
  errors_truncated: number;
  hash: string;
  source_sha256: string;
  split: Dataset['split'];
  stats: DatasetStats;
  notes: Record<string, unknown>;
}

const DETECT_SAMPLES = 50;
const MAX_STORED_ERRORS = 10_000;

/** The record reader for a detected format (also used by the app's file preview). */
export function openSource(file: string, format: Format, delimiter?: string): Promise<RecordSource> | RecordSource {
  switch (format) {
    case 'jsonl': return openJsonl(file);
    case 'json': return openJson(file);
    case 'csv': return openCsv(file, delimiter ? { delimiter } : {});
    case 'parquet': return openParquet(file);
  }
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

const serialise = (c: Content) => (typeof c === 'string' ? c : JSON.stringify(c));
const textLength = (c: Content) => (typeof c === 'string' ? c.length : c.reduce((n, m) => n + m.content.length, 0));
const isEmpty = (c: Content) => (typeof c === 'string' ? c.trim() === '' : c.length === 0 || c.every((m) => m.content.trim() === ''));

/** 16 bytes identifying (prompt, {chosen, rejected}) regardless of order, and which order this row has. */
export function pairKey(prompt: string, chosen: string, rejected: string): { pairHash: Buffer; orient: 0 | 1 } {
  const [lo, hi, orient] = chosen < rejected ? [chosen, rejected, 0 as const] : [rejected, chosen, 1 as const];
  return { pairHash: createHash('sha256').update(JSON.stringify([prompt, lo, hi])).digest().subarray(0, 16), orient };
}

/** Chooses the schema: a manual mapping, a named schema, or detection from the first records. */
function chooseSchema(file: string, samples: Record<string, unknown>[], opts: ImportOptions): Schema {
  const fields = [...new Set(samples.flatMap((s) => Object.keys(s)))];
  if (opts.mapping) {
    const missing = Object.entries(opts.mapping).filter(([, col]) => col !== undefined && !fields.includes(col));
    if (missing.length) {
      const [role, col] = missing[0]!;
      throw new DataFileError(`--map ${role}=${col}: ${file} has no field "${col}"; its fields are ${fields.join(', ')}`);
    }
    return customSchema(opts.mapping, samples);
  }
  if (opts.schema) {
    const s = schemaById(opts.schema);
    if (!s) throw new DataFileError(`unknown schema "${opts.schema}"; known: ${Object.keys(SCHEMAS).join(', ')}`);
    return s;
  }
  const s = detectSchema(samples);
  if (!s) {
    throw new DataFileError(
      `no preference-data layout recognised in ${file}: its fields are ${fields.join(', ') || 'none'}; ` +
        'expected e.g. prompt/chosen/rejected, chosen/rejected, HH-RLHF transcripts, text/rejected_text, ' +
        'instruction/chosen/rejected, conversations/chosen/rejected, chosen_response/rejected_response or ' +
        'response_a/response_b/winner; or pass --map prompt=COLUMN,chosen=COLUMN,rejected=COLUMN',
    );
  }
  return s;
}

export async function importDataset(store: Store, file: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const abs = checkInputFile(file);
  const guess = await detectFormat(abs, opts.format ?? 'auto');
  const source = await openSource(abs, guess.format, guess.delimiter);
  const it = source.records[Symbol.asyncIterator]();
  let writer: DatasetImport | undefined;
  try {
    // Read ahead a few records to recognise the schema; they are processed like the rest below.
    const head: SourceRecord[] = [];
    for (let parsed = 0; parsed < DETECT_SAMPLES;) {
      const n = await it.next();
      if (n.done) break;
      head.push(n.value);
      if (n.value.value) parsed++;
    }
    const samples = head.flatMap((r) => (r.value ? [r.value] : []));
    if (!head.length) throw new DataFileError(`${abs} holds no records (only blank lines, or a header without rows)`);
    if (!samples.length) {
      const e = head[0]!;
      throw new DataFileError(`nothing in ${abs} could be read as a record; ${source.positions} ${e.pos}: ${e.error}`);
    }
    const schema = chooseSchema(abs, samples, opts);
    const split = opts.split ?? DEFAULT_SPLIT;
    const batchSize = opts.batchSize ?? 1000;
    const maxListed = opts.maxErrorsListed ?? 100;
    const name = opts.name ?? path.basename(abs, path.extname(abs));

    const sourceSha256 = await sha256File(abs);
    writer = store.datasets.beginImport({
      name, sourcePath: abs, format: guess.format, schema: schema.id, content: schema.content,
      mapping: schema.mapping, positions: source.positions,
    });

    const stats = new StatsCollector();
    const content = createHash('sha256');
    const counts: Record<Split, number> = { train: 0, validation: 0, test: 0 };
    const setAside = { ties: 0, duplicates: 0 };
    const listed: { line: number; reason: string }[] = [];
    let rejected = 0, accepted = 0;
    let rows: NewDatasetRow[] = [];
    let errs: { line: number; reason: string }[] = [];
    const batchPairs = new Set<string>(); // pairs in the unwritten batch, for dropDuplicates

    const flush = () => {
      if (rows.length || errs.length) {
        writer!.addRows(rows);
        writer!.addErrors(errs);
        rows = []; errs = [];
        batchPairs.clear();
        opts.onBatch?.(accepted);
      }
      opts.onProgress?.(source.bytesRead(), source.totalBytes);
      opts.signal?.throwIfAborted();
    };
    const rejectRow = (line: number, reason: string) => {
      rejected++;
      if (listed.length < maxListed) listed.push({ line, reason });
      if (rejected <= MAX_STORED_ERRORS) errs.push({ line, reason });
    };

    // Every batchSize records (accepted or not) the batch is written, progress reported and the abort
    // signal checked, so a long run of rejected records can still be followed and stopped.
    let pending = 0;
    const handle = (rec: SourceRecord) => {
      handleOne(rec);
      if (++pending >= batchSize) { pending = 0; flush(); }
    };
    const handleOne = (rec: SourceRecord) => {
      if (rec.error !== undefined) return rejectRow(rec.pos, rec.error);
      let pair;
      try {
        const out = schema.extract(rec.value!);
        if (out.kind === 'set_aside') { setAside.ties++; return; }
        pair = out.pair;
        if (isEmpty(pair.chosen)) throw new RowRejected('chosen is empty');
        if (isEmpty(pair.rejected)) throw new RowRejected('rejected is empty');
      } catch (err) {
        if (err instanceof RowRejected) return rejectRow(rec.pos, err.message);
        throw err;
      }
      const prompt = serialise(pair.prompt), chosen = serialise(pair.chosen), rej = serialise(pair.rejected);
      if (chosen === rej) return rejectRow(rec.pos, 'chosen is identical to rejected');
      const { pairHash, orient } = pairKey(prompt, chosen, rej);
      if (opts.dropDuplicates) {
        const k = pairHash.toString('hex') + orient;
        if (batchPairs.has(k) || writer!.hasPair(pairHash, orient)) { setAside.duplicates++; return; }
        batchPairs.add(k);
      }
      const s = splitOf(prompt, split);
      counts[s]++;
      const meta = leftoverFields(rec.value!, schema.fields);
      rows.push({ idx: accepted++, split: s, prompt, chosen, rejected: rej, source: rec.pos, pairHash, orient, meta: meta && JSON.stringify(meta) });
      content.update(JSON.stringify([prompt, chosen, rej]) + '\n');
      stats.add(textLength(pair.prompt), textLength(pair.chosen), textLength(pair.rejected));
    };

    for (const rec of head) handle(rec);
    for (let n = await it.next(); !n.done; n = await it.next()) handle(n.value);
    flush();

    if (accepted === 0) {
      const why = listed.length ? `; first: ${source.positions} ${listed[0]!.line}: ${listed[0]!.reason}` : setAside.ties ? ' (every comparison was a tie)' : '';
      throw new DataFileError(`nothing imported from ${abs}: all ${rejected + setAside.ties + setAside.duplicates} records were rejected or set aside${why}`);
    }
    const fractions = { train: Math.round((1 - split.validation - split.test) * 1e9) / 1e9, validation: split.validation, test: split.test };
    const summary = stats.summary(writer.pairStats());
    const hash = content.digest('hex');
    const ds = writer.commit({
      sourceSha256, rows: accepted, rejected, setAside, split: { seed: split.seed, fractions, counts },
      stats: summary as unknown as Record<string, unknown>, hash,
    });
    return {
      id: ds.id, name: ds.name, format: guess.format, schema: schema.id, content: schema.content, positions: source.positions,
      accepted, rejected, set_aside: setAside, errors: listed, errors_truncated: rejected - listed.length,
      hash, source_sha256: sourceSha256, split: ds.split, stats: summary,
      notes: { format_by: guess.by, ...source.notes },
    };
  } catch (err) {
    writer?.rollback();
    throw err;
  } finally {
    await it.return?.(undefined);
  }
}
