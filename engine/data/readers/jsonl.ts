// JSON Lines: one JSON object per line. Blank lines are skipped; every other line is a record or an
// error with its 1-based line number.
import fs from 'node:fs';
import { readLines, isBlank, tooLongReason } from '../lines.js';
import { decodeUtf8 } from '../utf8.js';
import { describe, isPlainObject, type RecordSource, type SourceRecord } from './source.js';

export function openJsonl(file: string): RecordSource {
  let bytes = 0;
  async function* records(): AsyncGenerator<SourceRecord> {
    for await (const line of readLines(file, (n) => { bytes += n; })) {
      if (line.tooLong !== undefined) { yield { pos: line.no, error: tooLongReason(line.tooLong) }; continue; }
      if (isBlank(line.bytes)) continue;
      const d = decodeUtf8(line.bytes);
      if (!d.ok) { yield { pos: line.no, error: d.reason }; continue; }
      let v: unknown;
      try {
        v = JSON.parse(d.text);
      } catch (err) {
        yield { pos: line.no, error: `malformed JSON: ${(err as Error).message}` };
        continue;
      }
      if (!isPlainObject(v)) { yield { pos: line.no, error: `expected a JSON object on each line, found ${describe(v)}` }; continue; }
      yield { pos: line.no, value: v };
    }
  }
  return { format: 'jsonl', positions: 'line', records: records(), bytesRead: () => bytes, totalBytes: fs.statSync(file).size, notes: {} };
}
