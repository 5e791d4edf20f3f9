// Reads a file as raw byte lines, streaming, with 1-based line numbers. Splitting happens on bytes
// (0x0A never occurs inside a multi-byte UTF-8 sequence), so each line can be decoded on its own and a
// bad byte only costs its own line. A trailing CR (Windows line ends) and a UTF-8 BOM at the very
// start are removed.
import fs from 'node:fs';

export interface ByteLine {
  no: number;
  bytes: Uint8Array;
}

const CHUNK = 1 << 16;

/** Yields every line (blank ones too). `onBytes(n)` is told how many bytes each chunk held. */
export async function* readLines(file: string, onBytes?: (n: number) => void): AsyncGenerator<ByteLine> {
  const stream = fs.createReadStream(file, { highWaterMark: CHUNK });
  let carry: Buffer[] = [];
  let no = 0;
  let first = true;
  const finish = (tail: Buffer): Uint8Array => {
    let line = carry.length ? Buffer.concat([...carry, tail]) : tail;
    carry = [];
    if (first) {
      first = false;
      if (line.length >= 3 && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf) line = line.subarray(3);
    }
    if (line.length && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    return line;
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    onBytes?.(chunk.length);
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      yield { no: ++no, bytes: finish(chunk.subarray(start, nl)) };
      start = nl + 1;
    }
    // Copy the unfinished tail so the 64 KiB chunk it came from can be freed.
    if (start < chunk.length) carry.push(Buffer.from(chunk.subarray(start)));
  }
  if (carry.length) yield { no: ++no, bytes: finish(Buffer.alloc(0)) };
}

/** True for a line of only spaces and tabs (skipped without an error). */
export function isBlank(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  }
  return true;
}
