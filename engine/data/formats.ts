// Which reader a file needs: the --format the user gave, else the extension, else the first bytes.
// Problems that make a whole file unreadable (empty, binary, UTF-16, not Parquet) raise DataFileError:
// nothing is imported and the message says what to do.
import fs from 'node:fs';
import path from 'node:path';

export const FORMATS = ['jsonl', 'json', 'csv', 'parquet'] as const;
export type Format = (typeof FORMATS)[number];

/** A file that cannot be imported at all; the store is left unchanged. */
export class DataFileError extends Error {}

export interface FormatGuess {
  format: Format;
  /** How it was decided, for the import summary. */
  by: 'option' | 'extension' | 'content';
  /** A delimiter implied by the extension (.tsv → tab). */
  delimiter?: string;
}

const HEAD_BYTES = 1 << 16;

async function readHead(file: string): Promise<{ head: Buffer; size: number }> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(Math.min(size, HEAD_BYTES));
    await fh.read(head, 0, head.length, 0);
    return { head, size };
  } finally {
    await fh.close();
  }
}

export async function detectFormat(file: string, requested: Format | 'auto' = 'auto'): Promise<FormatGuess> {
  const { head, size } = await readHead(file);
  if (size === 0) throw new DataFileError(`${file} is empty; nothing to import`);
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    throw new DataFileError(`${file} is UTF-16 encoded; save it as UTF-8 and import it again`);
  }
  const isParquet = head.subarray(0, 4).toString('latin1') === 'PAR1';
  if (requested !== 'auto') {
    return { format: requested, by: 'option', ...(path.extname(file).toLowerCase() === '.tsv' ? { delimiter: '\t' } : {}) };
  }
  const ext = path.extname(file).toLowerCase();
  switch (ext) {
    case '.jsonl': case '.ndjson': return { format: 'jsonl', by: 'extension' };
    case '.csv': return { format: 'csv', by: 'extension' };
    case '.tsv': case '.tab': return { format: 'csv', by: 'extension', delimiter: '\t' };
    case '.parquet': case '.pq': return { format: 'parquet', by: 'extension' };
    // Hugging Face's Dataset.to_json writes JSON Lines under a .json name, so look inside.
    case '.json': return { format: looksLikeJsonLines(head) ? 'jsonl' : 'json', by: 'extension' };
  }
  if (isParquet) return { format: 'parquet', by: 'content' };
  if (head.includes(0)) {
    throw new DataFileError(`${file} looks like a binary file, not a dataset; import a .jsonl, .json, .csv/.tsv or .parquet file (or pass --format)`);
  }
  const first = firstNonSpace(head);
  if (first === '[') return { format: 'json', by: 'content' };
  if (first === '{') return { format: looksLikeJsonLines(head) ? 'jsonl' : 'json', by: 'content' };
  return { format: 'csv', by: 'content' };
}

function firstNonSpace(b: Buffer): string | undefined {
  let i = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  return i < b.length ? String.fromCharCode(b[i]!) : undefined;
}

/**
 * JSON Lines if the first non-blank line is a complete JSON object on its own and another line
 * follows; a single-line file is read as one JSON document (e.g. {"prompt": [...], ...}).
 */
function looksLikeJsonLines(head: Buffer): boolean {
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2 || !lines[0]!.trim().startsWith('{')) return false;
  try {
    JSON.parse(lines[0]!);
    return true;
  } catch {
    // A pretty-printed document, or a first line longer than the head (then --format jsonl says so).
    return false;
  }
}
