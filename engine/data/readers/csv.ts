// CSV and TSV through papaparse's parser, streamed: lines are decoded one by one (so a bad byte is
// pinned to its line), joined into ~64 KiB blocks and parsed; a record cut by the block's end is
// carried into the next block. The first record is the header. Each record's position is the line it
// starts on, counted from the newlines inside its quoted fields, so records with embedded newlines
// still report the right line. Line ends are normalised to \n.
import fs from 'node:fs';
import Papa from 'papaparse';
import { readLines, tooLongReason } from '../lines.js';
import { decodeLenient, decodeUtf8 } from '../utf8.js';
import { DataFileError } from '../formats.js';
import type { RecordSource, SourceRecord } from './source.js';

const BLOCK_CHARS = 1 << 16;
/** A record longer than this is taken to be an unbalanced quote swallowing the rest of the file. */
const MAX_RECORD_CHARS = 16 << 20;
const DELIMITERS = [',', '\t', ';', '|'] as const;

/** The candidate delimiter that occurs most often (outside quotes) in the header line; ',' on a tie. */
export function sniffDelimiter(headerLine: string): string {
  let best: string = ',', bestCount = 0;
  for (const d of DELIMITERS) {
    let count = 0, quoted = false;
    for (const ch of headerLine) {
      if (ch === '"') quoted = !quoted;
      else if (ch === d && !quoted) count++;
    }
    if (count > bestCount) { best = d; bestCount = count; }
  }
  return best;
}

const countNewlines = (row: readonly string[]) => row.reduce((n, f) => {
  for (let i = f.indexOf('\n'); i !== -1; i = f.indexOf('\n', i + 1)) n++;
  return n;
}, 0);

export function openCsv(file: string, opts: { delimiter?: string } = {}): RecordSource {
  let bytes = 0;
  const notes: Record<string, unknown> = {};

  async function* records(): AsyncGenerator<SourceRecord> {
    const lines = readLines(file, (n) => { bytes += n; })[Symbol.asyncIterator]();
    // Lines with bad bytes: line number → reason. The text still goes to the parser (with U+FFFD) so
    // record boundaries stay right; the record that covers such a line is rejected.
    const badLines = new Map<number, string>();
    let parser: InstanceType<typeof Papa.Parser> | undefined;
    let header: string[] | undefined;
    let buf = '';
    let line = 1; // the line where `buf` starts

    const rowsOf = (final: boolean): { rows: string[][]; errors: { row: number; code: string; message: string }[] } => {
      if (!parser) {
        const delimiter = opts.delimiter ?? sniffDelimiter(buf.slice(0, buf.indexOf('\n') === -1 ? undefined : buf.indexOf('\n')));
        notes.delimiter = delimiter;
        parser = new Papa.Parser({ delimiter, newline: '\n', quoteChar: '"' });
      }
      const r = parser.parse(buf, 0, !final) as { data: string[][]; errors: { row: number; code: string; message: string }[]; meta: { cursor: number } };
      buf = final ? '' : buf.slice(r.meta.cursor);
      return { rows: r.data, errors: r.errors };
    };

    function* emit(rows: string[][], errors: { row: number; code: string; message: string }[]): Generator<SourceRecord> {
      const errByRow = new Map<number, string>();
      for (const e of errors) {
        const why = e.code === 'MissingQuotes'
          ? 'unbalanced quote: this record opens a quoted field that never closes, so the rest of the file was read into it'
          : `malformed quotes (${e.message})`;
        if (!errByRow.has(e.row)) errByRow.set(e.row, why);
      }
      for (let k = 0; k < rows.length; k++) {
        const row = rows[k]!;
        const start = line, span = 1 + countNewlines(row);
        line += span;
        let bad: string | undefined;
        for (let l = start; l < start + span && !bad; l++) bad = badLines.get(l);
        for (let l = start; l < start + span; l++) badLines.delete(l);
        const problem = bad ?? errByRow.get(k);
        if (!header && problem) throw new DataFileError(`${file}: the header (line ${start}) cannot be read: ${problem}`);
        if (problem) { yield { pos: start, error: problem }; continue; }
        if (row.length === 1 && row[0] === '' && span === 1) continue; // blank line
        if (!header) {
          header = row.map((h, i) => h.trim() || `column_${i + 1}`);
          const dup = header.find((h, i) => header!.indexOf(h) !== i);
          if (dup !== undefined) throw new DataFileError(`${file}: the header (line ${start}) names column "${dup}" twice; rename one and import again`);
          notes.columns = header;
          continue;
        }
        if (row.length !== header.length) {
          yield { pos: start, error: `has ${row.length} fields but the header has ${header.length}; check the delimiter (${JSON.stringify(notes.delimiter)}) and quotes on this line` };
          continue;
        }
        // fromEntries defines own properties: a column named "__proto__" stays a column instead of vanishing.
        const value: Record<string, unknown> = Object.fromEntries(header.map((h, i) => [h, row[i]]));
        yield { pos: start, value };
      }
    }

    for (let next = await lines.next(); !next.done; next = await lines.next()) {
      const { no, bytes: raw, tooLong } = next.value;
      // A line over the limit arrives empty: the record that covers it is rejected with the reason.
      const d = tooLong !== undefined ? { ok: false as const, reason: tooLongReason(tooLong) } : decodeUtf8(raw);
      if (!d.ok) badLines.set(no, d.reason);
      buf += (d.ok ? d.text : decodeLenient(raw)) + '\n';
      if (buf.length < BLOCK_CHARS) continue;
      const { rows, errors } = rowsOf(false);
      yield* emit(rows, errors);
      if (buf.length > MAX_RECORD_CHARS) {
        yield { pos: line, error: `a quoted field starting here runs on for more than ${MAX_RECORD_CHARS >> 20} MB: an unbalanced quote; the rest of the file was not read` };
        await lines.return?.(undefined);
        return;
      }
    }
    if (buf) {
      const { rows, errors } = rowsOf(true);
      yield* emit(rows, errors);
    }
    if (!header) throw new DataFileError(`${file} has no header line`);
  }

  return { format: 'csv', positions: 'line', records: records(), bytesRead: () => bytes, totalBytes: fs.statSync(file).size, notes };
}
