// The readers on their own: byte lines, strict UTF-8, CSV records across parse blocks, the streaming
// JSON skimmer, Parquet row groups, and format detection.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readLines } from '../../engine/data/lines.js';
import { decodeUtf8, firstInvalidUtf8 } from '../../engine/data/utf8.js';
import { openCsv, sniffDelimiter } from '../../engine/data/readers/csv.js';
import { openJson, arrayElements } from '../../engine/data/readers/json.js';
import { openParquet } from '../../engine/data/readers/parquet.js';
import { detectFormat } from '../../engine/data/formats.js';
import type { SourceRecord } from '../../engine/data/readers/source.js';
import { fixture } from '../util/paths.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrlhf-readers-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const put = (name: string, data: string | Buffer) => { const f = path.join(dir, name); fs.writeFileSync(f, data); return f; };
const collect = async (it: AsyncIterable<SourceRecord>) => { const out: SourceRecord[] = []; for await (const r of it) out.push(r); return out; };

/** Small deterministic PRNG (mulberry32) so generated inputs are the same on every run. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('byte lines: numbering, CRLF, a leading BOM, no final newline, lines longer than a read chunk', async () => {
  const long = 'x'.repeat(200_000);
  const f = put('lines.txt', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`a\r\n\r\n${long}\nlast`)]));
  const lines = [];
  let bytes = 0;
  for await (const l of readLines(f, (n) => { bytes += n; })) lines.push([l.no, Buffer.from(l.bytes).toString()]);
  assert.deepEqual(lines, [[1, 'a'], [2, ''], [3, long], [4, 'last']]);
  assert.equal(bytes, fs.statSync(f).size);
});

test('the UTF-8 validator agrees with a fatal TextDecoder and points at the first bad byte', () => {
  const td = new TextDecoder('utf-8', { fatal: true });
  const ok = (b: Uint8Array) => { try { td.decode(b); return true; } catch { return false; } };
  const next = rng(1);
  for (let i = 0; i < 3000; i++) {
    const b = Uint8Array.from({ length: 1 + Math.floor(next() * 8) }, () => (next() < 0.5 ? Math.floor(next() * 128) : 0x80 + Math.floor(next() * 128)));
    assert.equal(firstInvalidUtf8(b) === b.length, ok(b), `bytes ${[...b]}`);
  }
  assert.equal(firstInvalidUtf8(Buffer.from('héllo €𝄞')), Buffer.byteLength('héllo €𝄞'));
  assert.equal(firstInvalidUtf8(Uint8Array.from([0x61, 0xc0, 0x80])), 1, 'overlong');
  assert.equal(firstInvalidUtf8(Uint8Array.from([0xed, 0xa0, 0x80])), 0, 'surrogate');
  assert.equal(firstInvalidUtf8(Uint8Array.from([0x61, 0x62, 0xe2, 0x82])), 2, 'truncated');
  assert.deepEqual(decodeUtf8(Uint8Array.from([0x61, 0xff])), { ok: false, reason: 'invalid UTF-8 (0xFF at byte 1 of the line); re-save the file as UTF-8' });
});

test('CSV records spanning parse blocks keep exact start lines', async () => {
  // ~3000 records, some with quoted newlines, commas and quotes; several 64 KiB blocks.
  const next = rng(2);
  const word = () => Array.from({ length: 1 + Math.floor(next() * 60) }, () => 'abcdefgh ,"\n'[Math.floor(next() * 12)]).join('');
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  let text = 'prompt,chosen,rejected\n';
  let line = 2;
  const expected: [number, string[]][] = [];
  for (let i = 0; i < 3000; i++) {
    const fields = [`p${i}`, word() + 'c', word() + 'r'];
    expected.push([line, fields]);
    const rec = fields.map(quote).join(',') + '\n';
    text += rec;
    line += rec.split('\n').length - 1;
    if (i % 500 === 0) { text += '\n'; line++; } // blank lines are skipped but counted
  }
  assert.ok(text.length > 3 * 65536);
  const src = openCsv(put('blocks.csv', text));
  const recs = await collect(src.records);
  assert.equal(recs.length, 3000);
  assert.deepEqual(recs.map((r) => r.pos), expected.map(([l]) => l));
  assert.deepEqual(recs.map((r) => [r.value!.prompt, r.value!.chosen, r.value!.rejected]), expected.map(([, f]) => f));
});

test('the delimiter is sniffed from the header; .tsv means tab', async () => {
  assert.equal(sniffDelimiter('prompt,chosen,rejected'), ',');
  assert.equal(sniffDelimiter('prompt\tchosen\trejected'), '\t');
  assert.equal(sniffDelimiter('prompt;chosen;rejected'), ';');
  assert.equal(sniffDelimiter('"a;b",c'), ',', 'quoted delimiters do not count');
  assert.equal(sniffDelimiter('prompt|chosen|rejected'), '|');
  assert.equal((await detectFormat(put('x.tsv', 'a\tb\n1\t2\n'))).delimiter, '\t');
});

test('every CSV column is an own property of the record, even one named __proto__ or constructor', async () => {
  const recs = await collect(openCsv(put('proto.csv', '__proto__,constructor,chosen\np,c,x\n')).records);
  assert.deepEqual(Object.keys(recs[0]!.value!), ['__proto__', 'constructor', 'chosen']);
  assert.equal(recs[0]!.value!['__proto__'], 'p');
  assert.equal(recs[0]!.value!.constructor, 'c');
});

test('the JSON skimmer splits elements correctly around strings, escapes, nesting and chunk edges', async () => {
  const big = 'y'.repeat(150_000);
  const elems = [{ a: 'x]}[{,"' }, { a: 'back\\slash\\"' }, [1, [2, [3]]], 'str,ing', 42, null, { b: big }, { c: '\u00e9\u{1d11e}' }];
  const f = put('arr.json', `  [\n${elems.map((e) => JSON.stringify(e)).join(' ,\n\t')}\n]  \n`);
  const got = [];
  for await (const e of arrayElements(f, 2)) got.push(JSON.parse(Buffer.from(e.bytes!).toString()));
  assert.deepEqual(got, elems);
  const empty = put('empty.json', '[ ]');
  const src = await openJson(empty);
  assert.deepEqual(await collect(src.records), []);
  const trailing = await openJson(put('trail.json', '[{"a":1},]'));
  assert.deepEqual((await collect(trailing.records)).map((r) => r.error ?? 'ok'), ['ok', 'empty element (a comma before the closing bracket)']);
});

test('column-oriented JSON pairs the i-th elements of each list; rows under one key are found', async () => {
  const src = await openJson(put('cols.json', JSON.stringify({ meta: { v: 1 }, prompt: ['a', 'b'], chosen: [[{ role: 'assistant', content: 'x' }], 'y'], rejected: ['r', 'q'] })));
  assert.deepEqual(src.notes, { layout: 'columns', columns: ['prompt', 'chosen', 'rejected'] });
  assert.deepEqual((await collect(src.records)).map((r) => r.value), [
    { prompt: 'a', chosen: [{ role: 'assistant', content: 'x' }], rejected: 'r' },
    { prompt: 'b', chosen: 'y', rejected: 'q' },
  ]);
  await assert.rejects(openJson(put('noarr.json', '{"a": 1, "b": "x"}')), /JSON object without lists of rows or columns \(keys: a, b\)/);
  await assert.rejects(openJson(put('notjson.json', '{"a" 1}')), /is not valid JSON: expected ':' after key "a"/);
});

test('Parquet is read one row group at a time, with row indices across groups', async () => {
  const src = await openParquet(fixture('data', 'arena.parquet'));
  assert.equal(src.notes.rowGroups, 2);
  const recs = await collect(src.records);
  assert.deepEqual(recs.map((r) => r.pos), [0, 1, 2, 3, 4, 5]);
  assert.equal(recs[3]!.value!.prompt, 'Sky colour');
  assert.equal(src.bytesRead(), src.totalBytes);
});

test('format detection: --format, extension, then content', async () => {
  const jsonlNamedJson = put('hf.json', '{"prompt":"a","chosen":"b","rejected":"c"}\n{"prompt":"d","chosen":"e","rejected":"f"}\n');
  assert.deepEqual(await detectFormat(jsonlNamedJson), { format: 'jsonl', by: 'extension' });
  assert.deepEqual(await detectFormat(put('one.json', '{"prompt": ["a"], "chosen": ["b"], "rejected": ["c"]}')), { format: 'json', by: 'extension' });
  assert.deepEqual(await detectFormat(put('pretty.json', '{\n  "data": []\n}\n')), { format: 'json', by: 'extension' });
  assert.deepEqual(await detectFormat(put('noext', '[{"a":1}]')), { format: 'json', by: 'content' });
  assert.deepEqual(await detectFormat(put('noext2', '{"a":1}\n{"a":2}\n')), { format: 'jsonl', by: 'content' });
  assert.deepEqual(await detectFormat(put('data.txt', 'prompt,chosen,rejected\n')), { format: 'csv', by: 'content' });
  assert.deepEqual(await detectFormat(put('pq.bin', fs.readFileSync(fixture('data', 'arena.parquet')))), { format: 'parquet', by: 'content' });
  assert.deepEqual(await detectFormat(jsonlNamedJson, 'csv'), { format: 'csv', by: 'option' });
});
