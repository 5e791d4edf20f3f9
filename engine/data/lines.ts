// Reads a file as raw byte lines, streaming, with 1-based line numbers. Splitting happens on bytes
// (0x0A never occurs inside a multi-byte UTF-8 sequence), so each line can be decoded on its own and a
// bad byte only costs its own line. A trailing CR (Windows line ends) and a UTF-8 BOM at the very
// start are removed. A line longer than MAX_LINE_BYTES is not kept in memory: it comes back empty with
// its length in `tooLong`, so one enormous line (a file without newlines) cannot exhaust memory.
import fs from 'node:fs';

/** The longest line kept (no preference record comes close; a longer one is a broken or wrong file). */
export const MAX_LINE_BYTES = 16 << 20;

export interface ByteLine {
  no: number;
  bytes: Uint8Array;
  /** Set (to the line's length in bytes) when the line was longer than the limit; `bytes` is then empty. */
  tooLong?: number;
}

/** The reason a too-long line is rejected with. */
export const tooLongReason = (bytes: number, max = MAX_LINE_BYTES) =>
  `the line is ${(bytes / 2 ** 20).toFixed(1)} MiB long, over the ${max >> 20} MiB limit for one record (a file without line breaks, or not this format?); it was skipped`;

const CHUNK = 1 << 16;

/** Yields every line (blank ones too). `onBytes(n)` is told how many bytes each chunk held. */
export async function* readLines(file: string, onBytes?: (n: number) => void, maxLineBytes = MAX_LINE_BYTES): AsyncGenerator<ByteLine> {
  const stream = fs.createReadStream(file, { highWaterMark: CHUNK });
  let carry: Buffer[] = [];
  let carried = 0; // bytes of the unfinished line (kept in `carry` only while under the limit)
  let no = 0;
  let first = true;
  const finish = (tail: Buffer): ByteLine => {
    const length = carried + tail.length;
    carried = 0;
    no++;
    if (length > maxLineBytes) {
      carry = [];
      first = false;
      return { no, bytes: new Uint8Array(0), tooLong: length };
    }
    let line = carry.length ? Buffer.concat([...carry, tail]) : tail;
    carry = [];
    if (first) {
      first = false;
      if (line.length >= 3 && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf) line = line.subarray(3);
    }
    if (line.length && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    return { no, bytes: line };
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    onBytes?.(chunk.length);
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      yield finish(chunk.subarray(start, nl));
      start = nl + 1;
    }
    // Copy the unfinished tail so the 64 KiB chunk it came from can be freed; past the limit only its
    // length is counted.
    if (start < chunk.length) {
      carried += chunk.length - start;
      if (carried <= maxLineBytes) carry.push(Buffer.from(chunk.subarray(start)));
      else carry = [];
    }
  }
  if (carried || carry.length) yield finish(Buffer.alloc(0));
}

/** True for a line of only spaces and tabs (skipped without an error). */
export function isBlank(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  }
  return true;
}
