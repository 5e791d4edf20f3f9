// Import behaviour beyond single records: one transaction (a failure midway, an abort, or a concurrent
// reader), content hashes, deterministic splits, duplicate handling and statistics.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../engine/store/index.js';
import { importDataset, splitOf } from '../../engine/data/index.js';
import { distribution, quantile } from '../../engine/data/stats.js';
import { fixture } from '../util/paths.js';

let store: Store;
let dir: string;
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrlhf-import-')); store = openStore({ dataDir: dir }); });
after(() => { store.close(); fs.rmSync(dir, { recursive: true, force: true }); });

function writeJsonl(name: string, n: number, f = (i: number) => ({ prompt: `prompt ${i % 50}`, chosen: `good answer ${i}`, rejected: `bad ${i}` })): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Array.from({ length: n }, (_, i) => JSON.stringify(f(i))).join('\n') + '\n');
  return file;
}
const tableCounts = () => store.db.prepare('SELECT (SELECT COUNT(*) FROM datasets), (SELECT COUNT(*) FROM dataset_rows), (SELECT COUNT(*) FROM dataset_errors)').raw().get();

test('an import that fails midway leaves earlier datasets and row counts exactly as they were', async () => {
  const first = await importDataset(store, writeJsonl('first.jsonl', 300), { batchSize: 100 });
  const before = tableCounts();
  const big = writeJsonl('big.jsonl', 2500);
  let batches = 0;
  await assert.rejects(importDataset(store, big, {
    batchSize: 200,
    onBatch: () => { if (++batches === 3) throw new Error('injected failure after 600 rows'); },
  }), /injected failure after 600 rows/);
  assert.equal(batches, 3);
  assert.deepEqual(tableCounts(), before, 'no dataset row, no orphan rows, no errors left behind');
  assert.deepEqual(store.datasets.list().map((d) => [d.id, d.rows]), [[first.id, 300]]);
  // The store is usable afterwards, and ids continue.
  const again = await importDataset(store, big, { batchSize: 1000 });
  assert.equal(again.accepted, 2500);
});

test('an aborted import rolls back too', async () => {
  const before = tableCounts();
  const ctl = new AbortController();
  await assert.rejects(importDataset(store, writeJsonl('abort.jsonl', 1000), { batchSize: 100, signal: ctl.signal, onBatch: (n) => { if (n >= 300) ctl.abort(); } }), /abort/i);
  assert.deepEqual(tableCounts(), before);
});

test('a long run of rejected records still reports progress and can be stopped', async () => {
  const before = tableCounts();
  // 50 good records (the schema is detected from them), then thousands of records that are all rejected.
  const file = writeJsonl('mostly_bad.jsonl', 6000, (i) => (i < 50 ? { prompt: `p ${i}`, chosen: `good ${i}`, rejected: `bad ${i}` } : { prompt: `p ${i}`, chosen: 'same', rejected: 'same' }));
  const total = fs.statSync(file).size;
  const ctl = new AbortController();
  const during: number[] = [];
  await assert.rejects(importDataset(store, file, {
    batchSize: 100, signal: ctl.signal,
    onProgress: (done) => { if (done < total) { during.push(done); ctl.abort(); } },
  }), /abort/i);
  assert.ok(during.length >= 1, 'progress was reported before the end of the file, and stopping took effect there');
  assert.deepEqual(tableCounts(), before);
});

test('other connections do not see an import until it commits', async () => {
  const reader = openStore({ file: store.file });
  try {
    const names = () => reader.datasets.list().map((d) => d.name);
    const seenDuring: string[][] = [];
    const r = await importDataset(store, writeJsonl('visible.jsonl', 500), { batchSize: 100, onBatch: () => { seenDuring.push(names()); } });
    assert.equal(seenDuring.length, 5);
    assert.ok(seenDuring.every((n) => !n.includes('visible')), 'invisible while importing');
    assert.ok(names().includes('visible') && r.accepted === 500, 'visible after commit');
  } finally {
    reader.close();
  }
});

test('the content hash depends on the accepted rows and their order, not the file format', async () => {
  const rows = [{ prompt: 'a', chosen: 'b', rejected: 'c' }, { prompt: 'd', chosen: 'e, "quoted"', rejected: 'f' }];
  const jl = path.join(dir, 'h.jsonl');
  fs.writeFileSync(jl, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const js = path.join(dir, 'h.json');
  fs.writeFileSync(js, JSON.stringify(rows, null, 2));
  const csv = path.join(dir, 'h.csv');
  fs.writeFileSync(csv, 'prompt,chosen,rejected\na,b,c\nd,"e, ""quoted""",f\n');
  const withJunk = path.join(dir, 'h2.jsonl');
  fs.writeFileSync(withJunk, [JSON.stringify(rows[0]), '{broken', JSON.stringify(rows[1])].join('\n'));
  const reversed = path.join(dir, 'h3.jsonl');
  fs.writeFileSync(reversed, [...rows].reverse().map((r) => JSON.stringify(r)).join('\n'));
  const [a, b, c, d, e] = await Promise.all([jl, js, csv, withJunk, reversed].map((f) => importDataset(store, f)));
  assert.equal(a!.hash, b!.hash);
  assert.equal(a!.hash, c!.hash);
  assert.equal(a!.hash, d!.hash, 'rejected records do not change the hash');
  assert.notEqual(a!.hash, e!.hash);
  assert.notEqual(a!.source_sha256, b!.source_sha256, 'the source file hash is recorded separately');
  assert.match(a!.hash, /^[0-9a-f]{64}$/);
});

test('splits are deterministic per seed, follow the fractions, and keep a prompt in one split', async () => {
  const file = writeJsonl('split.jsonl', 2000, (i) => ({ prompt: `p${i % 400}`, chosen: `c${i}`, rejected: `r${i}` }));
  const spec = { seed: 7, validation: 0.1, test: 0.2 };
  const a = await importDataset(store, file, { split: spec });
  const b = await importDataset(store, file, { split: spec });
  const c = await importDataset(store, file, { split: { ...spec, seed: 8 } });
  const splits = (id: number) => store.datasets.rows(id, { limit: 5000 }).map((r) => r.split);
  assert.deepEqual(splits(a.id), splits(b.id));
  assert.notDeepEqual(splits(a.id), splits(c.id));
  assert.deepEqual(a.split.fractions, { train: 0.7, validation: 0.1, test: 0.2 });
  const { train, validation, test: tst } = a.split.counts;
  assert.equal(train + validation + tst, 2000);
  // 400 prompts × 5 rows: counts are multiples of 5 and near the fractions.
  assert.ok(tst % 5 === 0 && Math.abs(tst / 2000 - 0.2) < 0.06, `test ${tst}`);
  assert.ok(validation % 5 === 0 && Math.abs(validation / 2000 - 0.1) < 0.05, `validation ${validation}`);
  const byPrompt = new Map<string, Set<string>>();
  for (const r of store.datasets.rows(a.id, { limit: 5000 })) byPrompt.set(r.prompt, (byPrompt.get(r.prompt) ?? new Set()).add(r.split));
  assert.ok([...byPrompt.values()].every((s) => s.size === 1));
  assert.equal(store.datasets.rows(a.id, { split: 'test', limit: 5000 }).length, tst);
  assert.equal(splitOf('p1', spec), splitOf('p1', spec));
});

test('duplicates and contradicting pairs are counted and kept, or dropped on request', async () => {
  const kept = await importDataset(store, fixture('data', 'duplicates.jsonl'));
  assert.equal(kept.accepted, 4);
  assert.equal(kept.stats.duplicates, 1);
  assert.equal(kept.stats.contradictions, 1);
  const dropped = await importDataset(store, fixture('data', 'duplicates.jsonl'), { dropDuplicates: true });
  assert.equal(dropped.accepted, 3);
  assert.deepEqual(dropped.set_aside, { ties: 0, duplicates: 1 });
  assert.equal(dropped.stats.duplicates, 0);
  assert.equal(dropped.stats.contradictions, 1, 'a reversed pair is a contradiction, not a duplicate');
  // Duplicates across batch boundaries are caught too.
  const file = writeJsonl('dups.jsonl', 250, (i) => ({ prompt: 'p', chosen: `c${i % 100}`, rejected: 'r' }));
  const r = await importDataset(store, file, { dropDuplicates: true, batchSize: 30 });
  assert.equal(r.accepted, 100);
  assert.equal(r.set_aside.duplicates, 150);
});

test('statistics: length distributions and how often chosen is longer', async () => {
  const r = await importDataset(store, fixture('data', 'trl_explicit.jsonl'));
  const s = r.stats;
  assert.equal(s.count, 4);
  assert.equal(s.chosen_longer_share, 0.5); // rows 1 and 2; in rows 3 and 4 chosen is the shorter one
  assert.equal(s.equal_length_share, 0);
  assert.deepEqual([s.chosen.min, s.chosen.max], [4, 21]);
  assert.equal(s.chosen.mean, (21 + 6 + 4 + 20) / 4);
  assert.equal(s.unit, 'characters');
  assert.deepEqual(store.datasets.get(r.id)!.stats, JSON.parse(JSON.stringify(s)), 'stored with the dataset');

  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  const d = distribution(Uint32Array.from([0, 1, 2, 3, 4, 100]));
  assert.deepEqual(d.histogram.map((h) => [h.lo, h.hi, h.count]), [[0, 1, 1], [1, 2, 1], [2, 4, 2], [4, 8, 1], [8, 16, 0], [16, 32, 0], [32, 64, 0], [64, 128, 1]]);
  assert.equal(d.quantiles.p50, 2.5);
});

test('messages datasets measure the text of their messages', async () => {
  const r = await importDataset(store, fixture('data', 'trl_explicit_conversational.jsonl'));
  assert.equal(r.content, 'messages');
  assert.deepEqual([r.stats.prompt.min, r.stats.prompt.max], [3, 17]); // "Hi!"; "Capital of Italy?"
});
