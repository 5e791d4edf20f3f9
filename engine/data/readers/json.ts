// JSON documents, read without loading the whole file:
//   [ {...}, {...} ]                          rows: an array of objects
//   { "data": [ {...}, {...} ] }              rows under a single key
//   { "prompt": [...], "chosen": [...], ... } columns: parallel arrays, row i = i-th element of each
// A byte-level skimmer finds where each array element starts and ends (tracking only strings and
// brackets); each element is then decoded and parsed on its own, so a malformed or badly encoded
// element costs only its row. Positions are 0-based row indices.
import fs from 'node:fs';
import { DataFileError } from '../formats.js';
import { decodeUtf8 } from '../utf8.js';
import { MAX_LINE_BYTES } from '../lines.js';
import { describe, isPlainObject, type RecordSource, type SourceRecord } from './source.js';

const CHUNK = 1 << 16;
/** A top-level key longer than this is a broken file (an unclosed quote), not a column name. */
const MAX_KEY_BYTES = 1 << 16;
const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

interface Element {
  index: number;
  bytes?: Uint8Array;
  error?: string;
}

/**
 * The elements of the JSON array whose '[' is at byte `start`, as raw bytes. Ends at the matching ']'.
 * A file that ends inside the array yields one error element.
 */
export async function* arrayElements(file: string, start: number, onBytes?: (n: number) => void, maxElementBytes = MAX_LINE_BYTES): AsyncGenerator<Element> {
  const stream = fs.createReadStream(file, { start, highWaterMark: CHUNK });
  let opened = false, depth = 0, inStr = false, esc = false, has = false, index = 0;
  let parts: Uint8Array[] = [];
  // Bytes of the element in progress held in `parts`; past the limit they are dropped and only counted
  // (one enormous element must not exhaust memory), and the element becomes an error.
  let held = 0;
  const element = (last: Uint8Array): Element => {
    const size = held + last.length;
    held = 0;
    if (size > maxElementBytes) {
      parts = [];
      return { index: index++, error: `the element is ${(size / 2 ** 20).toFixed(1)} MiB long, over the ${maxElementBytes >> 20} MiB limit for one record; it was skipped` };
    }
    return { index: index++, bytes: take(parts, last) };
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      onBytes?.(chunk.length);
      let seg = 0;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (inStr) {
          if (esc) esc = false;
          else if (b === 0x5c) esc = true;
          else if (b === 0x22) inStr = false;
          continue;
        }
        if (!opened) {
          if (isSpace(b)) continue;
          if (b !== 0x5b) throw new DataFileError(`expected '[' at byte ${start + i} of ${file}`);
          opened = true; seg = i + 1;
          continue;
        }
        if (b === 0x22) { inStr = true; has = true; }
        else if (b === 0x7b || b === 0x5b) { depth++; has = true; }
        else if (b === 0x7d || b === 0x5d) {
          if (depth > 0) { depth--; continue; }
          // The array's own closing bracket.
          if (has) yield element(chunk.subarray(seg, i));
          else if (index > 0) yield { index: index++, error: 'empty element (a comma before the closing bracket)' };
          return;
        } else if (b === 0x2c && depth === 0) {
          yield has ? element(chunk.subarray(seg, i)) : { index: index++, error: 'empty element (two commas in a row?)' };
          parts = []; held = 0; has = false; seg = i + 1;
        } else if (!isSpace(b)) has = true;
      }
      // The element in progress continues in the next chunk: keep a copy of its bytes.
      if (opened && seg < chunk.length) {
        held += chunk.length - seg;
        if (held <= maxElementBytes) parts.push(Buffer.from(chunk.subarray(seg)));
        else parts = [];
      }
    }
    yield { index, error: 'the file ends inside this element: the JSON is truncated' };
  } finally {
    stream.destroy();
  }
}

function take(parts: Uint8Array[], last: Uint8Array): Uint8Array {
  if (!parts.length) return last;
  const out = Buffer.concat([...parts, last]);
  parts.length = 0;
  return out;
}

interface Member { key: string; start: number; isArray: boolean }

/** The top level: an array (its offset), or an object's members with the offsets of their values. */
async function outline(file: string): Promise<{ kind: 'array'; start: number } | { kind: 'object'; members: Member[] }> {
  const stream = fs.createReadStream(file, { highWaterMark: CHUNK });
  type State = 'start' | 'key?' | 'key' | 'colon' | 'value?' | 'value' | 'after';
  let state: State = 'start', depth = 0, inStr = false, esc = false, off = 0;
  let keyBytes: number[] = [];
  let key = '';
  const members: Member[] = [];
  const bad = (what: string, at: number) => new DataFileError(`${file} is not valid JSON: ${what} at byte ${at}; check the file, or pass --format jsonl/csv if it is not a JSON document`);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i]!, at = off + i;
        if (i === 0 && off === 0 && b === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) { i += 2; continue; }
        switch (state) {
          case 'start':
            if (isSpace(b)) continue;
            if (b === 0x5b) return { kind: 'array', start: at };
            if (b !== 0x7b) throw bad(`expected '[' or '{', found '${String.fromCharCode(b)}'`, at);
            state = 'key?';
            continue;
          case 'key?':
            if (isSpace(b)) continue;
            if (b === 0x7d && !members.length) return { kind: 'object', members };
            if (b !== 0x22) throw bad('expected a quoted key', at);
            state = 'key'; keyBytes = [];
            continue;
          case 'key':
            if (esc) { esc = false; keyBytes.push(b); continue; }
            if (b === 0x5c) { esc = true; keyBytes.push(b); continue; }
            if (b !== 0x22) {
              if (keyBytes.length >= MAX_KEY_BYTES) throw bad(`a key longer than ${MAX_KEY_BYTES >> 10} KiB (a missing closing quote?)`, at);
              keyBytes.push(b);
              continue;
            }
            try {
              key = JSON.parse(`"${Buffer.from(keyBytes).toString('utf8')}"`) as string;
            } catch {
              throw bad('a malformed key', at);
            }
            state = 'colon';
            continue;
          case 'colon':
            if (isSpace(b)) continue;
            if (b !== 0x3a) throw bad(`expected ':' after key "${key}"`, at);
            state = 'value?';
            continue;
          case 'value?':
            if (isSpace(b)) continue;
            members.push({ key, start: at, isArray: b === 0x5b });
            state = 'value'; depth = 0;
            if (b === 0x22) inStr = true;
            else if (b === 0x5b || b === 0x7b) depth = 1;
            continue;
          case 'value':
            if (inStr) {
              if (esc) esc = false;
              else if (b === 0x5c) esc = true;
              else if (b === 0x22) { inStr = false; if (depth === 0) state = 'after'; }
              continue;
            }
            if (b === 0x22) inStr = true;
            else if (b === 0x5b || b === 0x7b) depth++;
            else if (b === 0x5d || b === 0x7d) {
              depth--;
              if (depth === 0) state = 'after';
              if (depth < 0) return { kind: 'object', members }; // '}' right after a number/true/null
            } else if (b === 0x2c && depth === 0) state = 'key?';
            continue;
          case 'after':
            if (isSpace(b)) continue;
            if (b === 0x2c) { state = 'key?'; continue; }
            if (b === 0x7d) return { kind: 'object', members };
            throw bad(`expected ',' or '}' after the value of "${key}"`, at);
        }
      }
      off += chunk.length;
    }
  } finally {
    stream.destroy();
  }
  throw new DataFileError(`${file} ends before its top-level JSON value closes: the file is truncated`);
}

function parseElement(e: Element, what: string): { value?: unknown; error?: string } {
  if (e.error) return { error: e.error };
  const d = decodeUtf8(e.bytes!, what);
  if (!d.ok) return { error: d.reason };
  try {
    return { value: JSON.parse(d.text) };
  } catch (err) {
    return { error: `malformed JSON: ${(err as Error).message}` };
  }
}

export async function openJson(file: string): Promise<RecordSource> {
  const totalBytes = fs.statSync(file).size;
  let bytes = 0;
  const top = await outline(file);
  const notes: Record<string, unknown> = {};

  async function* rows(start: number): AsyncGenerator<SourceRecord> {
    for await (const e of arrayElements(file, start, (n) => { bytes += n; })) {
      const p = parseElement(e, 'row');
      if (p.error) yield { pos: e.index, error: p.error };
      else if (!isPlainObject(p.value)) yield { pos: e.index, error: `expected an object for each row, found ${describe(p.value)}` };
      else yield { pos: e.index, value: p.value };
    }
  }

  async function* columns(cols: Member[]): AsyncGenerator<SourceRecord> {
    const its = cols.map((c) => arrayElements(file, c.start, (n) => { bytes += n; })[Symbol.asyncIterator]());
    const done = cols.map(() => false);
    try {
      for (let i = 0; ; i++) {
        const next = await Promise.all(its.map((it, k) => (done[k] ? Promise.resolve({ done: true as const, value: undefined }) : it.next())));
        next.forEach((n, k) => { if (n.done) done[k] = true; });
        if (done.every(Boolean)) return;
        const value: Record<string, unknown> = {};
        const errors: string[] = [];
        cols.forEach((c, k) => {
          const n = next[k]!;
          if (n.done) { errors.push(`column "${c.key}" has no value for this row (its list is shorter)`); return; }
          const p = parseElement(n.value, `value in column "${c.key}"`);
          if (p.error) errors.push(`column "${c.key}": ${p.error}`);
          else value[c.key] = p.value;
        });
        yield errors.length ? { pos: i, error: errors.join('; ') } : { pos: i, value };
      }
    } finally {
      await Promise.all(its.map((it) => it.return?.(undefined)));
    }
  }

  let records: AsyncIterable<SourceRecord>;
  if (top.kind === 'array') {
    notes.layout = 'rows';
    records = rows(top.start);
  } else {
    const arrays = top.members.filter((m) => m.isArray);
    if (arrays.length === 0) {
      const keys = top.members.map((m) => m.key).join(', ') || 'none';
      throw new DataFileError(`${file} is a JSON object without lists of rows or columns (keys: ${keys}); expected [ {...}, ... ] or {"prompt": [...], "chosen": [...], ...} (for one object per line, pass --format jsonl)`);
    }
    if (arrays.length === 1) {
      notes.layout = 'rows';
      notes.key = arrays[0]!.key;
      records = rows(arrays[0]!.start);
    } else {
      notes.layout = 'columns';
      notes.columns = arrays.map((a) => a.key);
      records = columns(arrays);
    }
  }
  return { format: 'json', positions: 'row', records, bytesRead: () => Math.min(bytes, totalBytes), totalBytes, notes };
}
