// The malformed corpus (test/fixtures/data/malformed/): every bad record is rejected with its exact
// line (JSONL, CSV) or row index (JSON, Parquet) and a reason, the good records around it are kept, and
// a file that cannot be imported at all leaves the store exactly as it was.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../engine/store/index.js';
import { importDataset, DataFileError } from '../../engine/data/index.js';
import { fixture } from '../util/paths.js';

let store: Store;
let dir: string;
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrlhf-malformed-')); store = openStore({ dataDir: dir }); });
after(() => { store.close(); fs.rmSync(dir, { recursive: true, force: true }); });

const load = (name: string) => importDataset(store, fixture('data', 'malformed', name));
const counts = () => store.db.prepare('SELECT (SELECT COUNT(*) FROM datasets), (SELECT COUNT(*) FROM dataset_rows), (SELECT COUNT(*) FROM dataset_errors)').raw().get();

test('JSON Lines: each problem on its own line, with the line number and reason', async () => {
  const r = await load('bad_lines.jsonl');
  assert.equal(r.accepted, 2);
  assert.equal(r.rejected, 8);
  assert.deepEqual(r.errors.map((e) => e.line), [2, 3, 4, 5, 6, 7, 10, 11]);
  const reasons = r.errors.map((e) => e.reason);
  assert.match(reasons[0]!, /^malformed JSON: /);
  assert.equal(reasons[1], 'missing field "rejected"');
  assert.equal(reasons[2], 'field "chosen" is a number, expected text');
  assert.equal(reasons[3], 'chosen is identical to rejected');
  assert.equal(reasons[4], 'invalid UTF-8 (0xFF at byte 29 of the line); re-save the file as UTF-8');
  assert.equal(reasons[5], 'expected a JSON object on each line, found an array');
  assert.equal(reasons[6], 'field "prompt" is null');
  assert.equal(reasons[7], 'chosen is empty');
  assert.deepEqual(store.datasets.rows(r.id).map((x) => x.source), [1, 9]);
  assert.deepEqual(store.datasets.errors(r.id), r.errors, 'the errors are stored with the dataset');
});

test('CSV: wrong field count, bad bytes and an unbalanced quote, at the line each record starts', async () => {
  const r = await load('bad_quote.csv');
  assert.equal(r.accepted, 3);
  assert.equal(r.rejected, 3);
  assert.deepEqual(r.errors.map((e) => e.line), [5, 6, 8]);
  assert.match(r.errors[0]!.reason, /has 4 fields but the header has 3/);
  assert.match(r.errors[1]!.reason, /invalid UTF-8 \(0xFF at byte 5 of the line\)/);
  assert.match(r.errors[2]!.reason, /unbalanced quote/);
  assert.deepEqual(store.datasets.rows(r.id).map((x) => [x.source, x.chosen]), [[2, 'good'], [3, 'two\nlines'], [7, 'fine']]);
});

test('JSON arrays: malformed, badly encoded and non-object elements by row index; a truncated file keeps its complete rows', async () => {
  const r = await load('bad_elements.json');
  assert.equal(r.accepted, 2);
  assert.deepEqual(r.errors.map((e) => e.line), [1, 2, 3]);
  assert.match(r.errors[0]!.reason, /^malformed JSON/);
  assert.match(r.errors[1]!.reason, /invalid UTF-8 \(0xFF at byte \d+ of the row\)/);
  assert.equal(r.errors[2]!.reason, 'expected an object for each row, found a string');
  const t = await load('truncated.json');
  assert.equal(t.accepted, 2);
  assert.deepEqual(t.errors, [{ line: 2, reason: 'the file ends inside this element: the JSON is truncated' }]);
});

test('Parquet: a null cell and a cell with invalid UTF-8 reject their rows by index', async () => {
  const r = await load('bad_cells.parquet');
  assert.equal(r.accepted, 2);
  assert.deepEqual(r.errors, [
    { line: 1, reason: 'field "rejected" is null' },
    { line: 2, reason: 'field "chosen": invalid UTF-8 (0xFF at byte 2 of the value); re-save the file as UTF-8' },
  ]);
});

const FAILURES: [string, RegExp][] = [
  ['empty.jsonl', /empty\.jsonl is empty; nothing to import/],
  ['blank.jsonl', /holds no records/],
  ['header_only.csv', /holds no records/],
  ['not_a_dataset.png', /looks like a binary file, not a dataset/],
  ['not_preference.jsonl', /no preference-data layout recognised .* its fields are id, text/],
  ['all_rejected.jsonl', /nothing imported from .*all_rejected\.jsonl: all 2 records were rejected or set aside; first: line 1: chosen is identical to rejected/],
  ['utf16.jsonl', /is UTF-16 encoded; save it as UTF-8/],
  ['corrupt.parquet', /is not a readable Parquet file/],
];

for (const [file, message] of FAILURES) {
  test(`${file} imports nothing, says why, and leaves the store unchanged`, async () => {
    const before = counts();
    await assert.rejects(load(file), (e: Error) => e instanceof DataFileError && message.test(e.message));
    assert.deepEqual(counts(), before);
  });
}

test('a missing file, or a folder, is refused before anything is read', async () => {
  await assert.rejects(importDataset(store, path.join(dir, 'nope.jsonl')), /nope\.jsonl does not exist/);
  await assert.rejects(importDataset(store, dir), /is a folder/);
});

test('a line or JSON element over 16 MiB (a file without line breaks) is rejected by position, not read into memory', async () => {
  const huge = 'x'.repeat(17 << 20);
  const row = (p: string) => ({ prompt: p, chosen: 'good answer', rejected: 'bad answer' });
  const cases: [string, string, number, RegExp][] = [
    ['long.jsonl', `${JSON.stringify(row('a'))}\n${huge}\n${JSON.stringify(row('b'))}\n`, 2, /^the line is 17\.0 MiB long, over the 16 MiB limit/],
    ['long.csv', `prompt,chosen,rejected\na,good answer,bad answer\n${huge}\nb,good answer,bad answer\n`, 3, /^the line is 17\.0 MiB long, over the 16 MiB limit/],
    ['long.json', `[${JSON.stringify(row('a'))},\n"${huge}",\n${JSON.stringify(row('b'))}]`, 1, /^the element is 17\.0 MiB long, over the 16 MiB limit/],
  ];
  for (const [name, text, pos, reason] of cases) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    const r = await importDataset(store, file);
    assert.equal(r.accepted, 2, name);
    assert.equal(r.rejected, 1, name);
    assert.equal(r.errors[0]!.line, pos, name);
    assert.match(r.errors[0]!.reason, reason, name);
    fs.rmSync(file);
  }
});
