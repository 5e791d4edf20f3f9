// Parquet through hyparquet, one row group at a time, so memory is bounded by the largest row group
// rather than the file. Strings are decoded strictly: a cell with bad UTF-8 becomes an InvalidText
// value and its row is rejected. Positions are 0-based row indices.
import fs from 'node:fs';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema, type FileMetaData } from 'hyparquet';
import { DataFileError } from '../formats.js';
import { decodeUtf8, InvalidText } from '../utf8.js';
import type { RecordSource, SourceRecord } from './source.js';

const parsers = {
  stringFromBytes(bytes: Uint8Array | undefined): unknown {
    if (!bytes) return bytes;
    const d = decodeUtf8(bytes, 'value');
    return d.ok ? d.text : new InvalidText(d.reason);
  },
};

export async function openParquet(file: string): Promise<RecordSource> {
  const totalBytes = fs.statSync(file).size;
  const buffer = await asyncBufferFromFile(file);
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(buffer, { parsers });
  } catch (err) {
    throw new DataFileError(`${file} is not a readable Parquet file (${(err as Error).message}); check that it was written completely, or pass another --format`);
  }
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  const totalRows = Number(metadata.num_rows);
  let rowsDone = 0;

  async function* records(): AsyncGenerator<SourceRecord> {
    let start = 0;
    for (const [g, group] of metadata.row_groups.entries()) {
      const n = Number(group.num_rows);
      let rows: Record<string, unknown>[] | undefined, error = '';
      try {
        rows = await parquetReadObjects({ file: buffer, metadata, rowStart: start, rowEnd: start + n, parsers });
      } catch (err) {
        // A damaged row group costs its own rows; the other groups are still imported.
        error = `row group ${g} cannot be read (${(err as Error).message})`;
      }
      for (let i = 0; i < n; i++) yield rows ? { pos: start + i, value: rows[i]! } : { pos: start + i, error };
      start += n;
      rowsDone = start;
    }
  }

  return {
    format: 'parquet', positions: 'row', records: records(), totalBytes,
    bytesRead: () => (totalRows ? Math.round((rowsDone / totalRows) * totalBytes) : totalBytes),
    notes: { columns, rowGroups: metadata.row_groups.length, rows: totalRows },
  };
}
