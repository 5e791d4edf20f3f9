// What every reader produces: a stream of records (plain objects keyed by field/column name), each with
// its position in the file, or an error for a record that could not be read. Readers never throw for a
// bad record, only for a file that cannot be read at all (DataFileError).
import type { Format } from '../formats.js';

export interface SourceRecord {
  /** 1-based line where the record starts (JSONL, CSV) or 0-based row index (JSON arrays, Parquet). */
  pos: number;
  value?: Record<string, unknown>;
  /** Why the record could not be read (malformed JSON, bad UTF-8, wrong field count, ...). */
  error?: string;
}

export interface RecordSource {
  format: Format;
  positions: 'line' | 'row';
  records: AsyncIterable<SourceRecord>;
  /** Bytes consumed so far (for progress), and the file size. */
  bytesRead(): number;
  totalBytes: number;
  /** How the file was read: delimiter, layout, row groups ... (reported with the import). */
  notes: Record<string, unknown>;
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** "a number", "an array", "null": for messages about a value of the wrong kind. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  const t = typeof v;
  return t === 'object' ? 'an object' : t === 'undefined' ? 'nothing' : `a ${t === 'bigint' ? 'number' : t}`;
}
