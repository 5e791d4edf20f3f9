// Tests for engine/store's repositories: datasets (staged imports committed at once), runs and checkpoints,
// metrics (series over step and √KL, seed bands), samples and alerts, artifacts, ensembles, experiments.
// Runs, metrics and samples are synthetic rows written here; the RLHF runner writes the real ones.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, configDiff, SampleQuerySchema, SeriesRequestSchema, RunFilterSchema, type Store, type NewDatasetRow } from '../../engine/store/index.js';

const dirs: string[] = [];
function fresh(): Store {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rrlhf-repos-'));
  dirs.push(d);
  return openStore({ dataDir: d });
}
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const row = (idx: number, prompt: string, chosen: string, rejected: string, orient: 0 | 1 = 0, hash = idx): NewDatasetRow => ({
  idx, split: 'train', prompt, chosen, rejected, source: idx + 1, pairHash: Buffer.alloc(16, hash), orient, meta: null,
});
const header = { name: 'd', sourcePath: '/x.jsonl', format: 'jsonl' as const, schema: 'trl_explicit', content: 'text' as const, mapping: {}, positions: 'line' as const };
const final = (rows: number) => ({
  sourceSha256: 'f'.repeat(64), rows, rejected: 1, setAside: { ties: 0 }, hash: 'a'.repeat(64), stats: { count: rows },
  split: { seed: 0, fractions: { train: 1, validation: 0, test: 0 }, counts: { train: rows, validation: 0, test: 0 } },
});

test('an import in progress does not hold the store\'s write lock: another connection writes meanwhile', () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rrlhf-repos-'));
  dirs.push(d);
  const importer = openStore({ dataDir: d });
  const study = openStore({ dataDir: d, busyTimeoutMs: 50 }); // a short wait: a held lock fails fast
  try {
    const w = importer.datasets.beginImport(header);
    w.addRows([row(0, 'p', 'a', 'b'), row(1, 'q', 'c', 'd', 0, 1)]);
    const r = study.runs.create({ objective: 'robust', seed: 0 });
    study.metrics.append(r.id, 0, { gold: 1 });
    assert.equal(study.datasets.list().length, 0, 'the import is still invisible');
    const ds = w.commit(final(2));
    assert.deepEqual(study.datasets.list().map((x) => x.id), [ds.id]);
    assert.equal(study.db.prepare('SELECT COUNT(*) FROM dataset_rows WHERE dataset_id = ?').pluck().get(ds.id), 2);
    const staging = () => fs.readdirSync(d).filter((n) => n.includes('.import-'));
    assert.deepEqual(staging(), [], 'the staging file goes with the import');
    // A killed importer's staging file (its pid no longer runs) is removed by the next import.
    fs.writeFileSync(path.join(d, 'studio.sqlite.import-999999999-dead'), 'x');
    const w2 = importer.datasets.beginImport({ ...header, name: 'later' });
    assert.equal(staging().length, 1, 'only the new import\'s own file');
    w2.rollback();
    assert.deepEqual(staging(), []);
  } finally {
    importer.close(); study.close();
  }
});

test('a dataset import is invisible until commit, and a rollback leaves no trace', () => {
  const s = fresh();
  try {
    const w = s.datasets.beginImport(header);
    w.addRows([row(0, 'p', 'a', 'b'), row(1, 'p', 'a', 'b', 0, 0), row(2, 'p', 'b', 'a', 1, 0), row(3, 'q', 'x', 'y', 0, 3)]);
    w.addErrors([{ line: 7, reason: 'missing field "chosen"' }]);
    assert.equal(w.hasPair(Buffer.alloc(16, 0), 0), true);
    assert.equal(w.hasPair(Buffer.alloc(16, 9), 0), false);
    // rows 0 and 1 are identical (one duplicate); row 2 reverses them (one contradicting pair)
    assert.deepEqual(w.pairStats(), { duplicates: 1, contradictions: 1 });
    const ds = w.commit(final(4));
    assert.equal(ds.rows, 4);
    assert.deepEqual(s.datasets.list(), [{ id: ds.id, name: 'd', rows: 4, hash: 'a'.repeat(64), created: ds.created }]);
    assert.deepEqual(s.datasets.rows(ds.id, { offset: 1, limit: 2 }).map((r) => r.idx), [1, 2]);
    assert.deepEqual([...s.datasets.iterate(ds.id, 'train')].map((r) => r.prompt), ['p', 'p', 'p', 'q']);
    assert.deepEqual(s.datasets.errors(ds.id), [{ line: 7, reason: 'missing field "chosen"' }]);
    assert.deepEqual(s.datasets.get(ds.id)!.setAside, { ties: 0 });

    const w2 = s.datasets.beginImport({ ...header, name: 'doomed' });
    w2.addRows([row(0, 'z', 'z1', 'z2')]);
    w2.rollback();
    assert.deepEqual(s.datasets.list().map((d) => d.name), ['d']);
    assert.equal(s.db.prepare('SELECT COUNT(*) FROM dataset_rows').pluck().get(), 4);
    assert.throws(() => w2.addRows([]), /already been committed or rolled back/);

    assert.equal(s.datasets.delete(ds.id), true);
    assert.equal(s.db.prepare('SELECT COUNT(*) FROM dataset_rows').pluck().get(), 0, 'rows go with their dataset');
    assert.equal(s.db.prepare('SELECT COUNT(*) FROM dataset_errors').pluck().get(), 0);
  } finally {
    s.close();
  }
});

test('runs: create, filter, status timestamps, config diff', () => {
  const s = fresh();
  try {
    const exp = s.experiments.create({ name: 'paired', spec: { steps: 100, ppo: { lr: 1e-5, epochs: 4 } } });
    const a = s.runs.create({ experimentId: exp.id, objective: 'single', seed: 0, config: { ppo: { lr: 1e-5, epochs: 4 }, steps: 100 } });
    const b = s.runs.create({ experimentId: exp.id, objective: 'robust', seed: 0, config: { ppo: { lr: 2e-5, epochs: 4 }, lambda: 0.4, steps: 100 } });
    s.runs.create({ objective: 'robust', seed: 1 });
    assert.equal(a.status, 'queued');
    assert.deepEqual(s.runs.list({ experimentId: exp.id }).map((r) => r.id), [a.id, b.id]);
    assert.deepEqual(s.runs.list({ objective: 'robust' }).length, 2);

    const running = s.runs.start(a.id, { device: 'cpu', versions: { app: '0.1.0' } });
    assert.equal(running.status, 'running');
    assert.equal(running.pid, process.pid);
    assert.ok(running.started && !running.finished);
    const done = s.runs.update(a.id, { status: 'finished' });
    assert.ok(done.finished);
    assert.equal(done.started, running.started, 'started is stamped once');
    s.runs.update(b.id, { status: 'failed', error: 'NaN loss at step 12' });
    assert.deepEqual(s.runs.list({ status: ['finished', 'failed'] }).map((r) => r.id), [a.id, b.id]);
    assert.equal(s.runs.list({ status: 'running' }).length, 0);

    assert.deepEqual(s.runs.configDiff(a.id, b.id), [
      { path: 'lambda', a: undefined, b: 0.4 },
      { path: 'objective', a: 'single', b: 'robust' },
      { path: 'ppo.lr', a: 1e-5, b: 2e-5 },
    ]);
    assert.deepEqual(configDiff({ x: [1, 2] }, { x: [1, 2] }), []);
    assert.throws(() => s.runs.configDiff(a.id, 999), /run 999 does not exist/);
  } finally {
    s.close();
  }
});

test('metrics: batched appends, NaN as null, last values, series over step and √KL', () => {
  const s = fresh();
  try {
    const r = s.runs.create({ objective: 'robust', seed: 0 });
    s.metrics.append(r.id, 0, { 'objective/kl': 0, gold: 1 });
    s.metrics.appendMany(r.id, [
      { step: 1, record: { 'objective/kl': 4, gold: 2, 'loss/value_avg': NaN } },
      { step: 2, record: { 'objective/kl': 9, gold: 1.5 } },
      { step: 3, record: { gold: 1.2 } }, // no KL at this step
    ]);
    s.metrics.append(r.id, 2, { gold: 1.6 }); // a redone step overwrites
    assert.deepEqual(s.metrics.keys(r.id), ['gold', 'loss/value_avg', 'objective/kl']);
    assert.deepEqual(s.metrics.last(r.id), {
      gold: { step: 3, value: 1.2 }, 'loss/value_avg': { step: 1, value: null }, 'objective/kl': { step: 2, value: 9 },
    });
    assert.equal(s.metrics.lastStep(r.id), 3);
    const [byStep] = s.metrics.series([r.id], 'gold');
    assert.deepEqual(byStep!.points.map((p) => [p.x, p.y]), [[0, 1], [1, 2], [2, 1.6], [3, 1.2]]);
    const [byKl] = s.metrics.series([r.id], 'gold', { x: 'sqrt_kl' });
    assert.deepEqual(byKl!.points.map((p) => [p.step, p.x, p.y]), [[0, 0, 1], [1, 2, 2], [2, 3, 1.6]]);
    assert.throws(() => s.metrics.append(r.id, -1, { a: 1 }), /non-negative integer/);
    assert.throws(() => s.metrics.append(r.id, 1, { a: '1' as unknown as number }), /expected a number/);
  } finally {
    s.close();
  }
});

test('seed bands: mean ± sample std across the runs of each objective', () => {
  const s = fresh();
  try {
    const ids: number[] = [];
    const gold: Record<string, number[][]> = { single: [[1, 3], [3, 1]], robust: [[2, 2], [4, 4], [3, 6]] };
    for (const [objective, seeds] of Object.entries(gold)) {
      seeds.forEach((vals, seed) => {
        const r = s.runs.create({ objective, seed });
        ids.push(r.id);
        vals.forEach((v, step) => s.metrics.append(r.id, step, { gold: v }));
      });
    }
    const bands = s.metrics.bands(ids, 'gold');
    assert.deepEqual(bands.map((b) => [b.objective, b.runIds.length]), [['single', 2], ['robust', 3]]);
    const single = bands[0]!.points, robust = bands[1]!.points;
    assert.deepEqual(single[0], { step: 0, mean: 2, std: Math.SQRT2, n: 2, min: 1, max: 3 });
    assert.deepEqual(robust[0], { step: 0, mean: 3, std: 1, n: 3, min: 2, max: 4 });
    assert.deepEqual(robust[1], { step: 1, mean: 4, std: 2, n: 3, min: 2, max: 6 });
    assert.deepEqual(s.metrics.bands([], 'gold'), []);
  } finally {
    s.close();
  }
});

test('samples sort by ensemble std, nominal−min gap and proxy−gold gap; alerts carry their samples', () => {
  const s = fresh();
  try {
    const r = s.runs.create({ objective: 'robust', seed: 0 });
    const ids = s.samples.add(r.id, [
      { step: 5, prompt: 'p', response: 'calm', rewards: [1, 1.1, 0.9], nominal: 1, min: 0.9, mean: 1, std: 0.1, proxy: 1, gold: 0.9 },
      { step: 5, prompt: 'p', response: 'great great great', rewards: [3, 0, 1.5], nominal: 3, min: 0, mean: 1.5, std: 1.5, proxy: 2.5, gold: -1 },
      { step: 6, prompt: 'p', response: 'ok', rewards: [1, 0.5, 0.7], nominal: 1, min: 0.5, mean: 0.73, std: 0.25, proxy: 0.8, gold: 0.6 },
      { step: 6, prompt: 'p', response: 'unscored' },
    ]);
    const order = (sort: 'ensemble_std' | 'nominal_min_gap' | 'proxy_gold_gap') => s.samples.query({ runIds: [r.id], sort }).map((x) => x.response);
    assert.deepEqual(order('ensemble_std'), ['great great great', 'ok', 'calm', 'unscored']);
    assert.deepEqual(order('nominal_min_gap'), ['great great great', 'ok', 'calm', 'unscored']);
    assert.deepEqual(order('proxy_gold_gap'), ['great great great', 'ok', 'calm', 'unscored']);
    const top = s.samples.query({ runIds: [r.id], sort: 'proxy_gold_gap', limit: 1 })[0]!;
    assert.equal(top.proxyGoldGap, 3.5);
    assert.equal(top.nominalMinGap, 3);
    assert.deepEqual(top.rewards, [3, 0, 1.5]);
    assert.deepEqual(s.samples.query({ runIds: [r.id], step: 6 }).map((x) => x.id), [ids[2], ids[3]]);
    assert.deepEqual(s.samples.query({ runIds: [r.id], sort: 'ensemble_std', order: 'asc', limit: 2, offset: 1 }).map((x) => x.response), ['ok', 'great great great']);

    const alert = s.alerts.add({ runId: r.id, step: 5, kind: 'proxy_up_gold_down', message: 'proxy rose 0.4 while gold fell 0.3', sampleIds: [ids[1]!] });
    assert.deepEqual(alert.sampleIds, [ids[1]]);
    assert.deepEqual(s.alerts.list(r.id).map((a) => a.kind), ['proxy_up_gold_down']);
    assert.equal(s.alerts.withSamples(alert.id)!.samples[0]!.response, 'great great great');
  } finally {
    s.close();
  }
});

test('a run whose process died is paused at its last checkpoint and resumes from there', () => {
  const s = fresh();
  try {
    const r = s.runs.create({ objective: 'robust', seed: 0 });
    s.runs.update(r.id, { status: 'running', pid: 999_999, host: os.hostname() });
    for (let step = 0; step < 10; step++) s.metrics.append(r.id, step, { gold: step });
    s.samples.add(r.id, [{ step: 3, prompt: 'p', response: 'a' }, { step: 8, prompt: 'p', response: 'b' }]);
    s.alerts.add({ runId: r.id, step: 9, kind: 'kl_acceleration', message: 'KL grows faster' });
    s.runs.addCheckpoint({ runId: r.id, step: 4, path: '/ck/4', sha256: '1'.repeat(64) });
    s.runs.addCheckpoint({ runId: r.id, step: 6, path: '/ck/6', sha256: '2'.repeat(64), meta: { rng: 'state' } });

    // A live process is left alone.
    assert.deepEqual(s.runs.recoverInterrupted(() => true), []);
    const [recovered] = s.runs.recoverInterrupted(() => false);
    assert.equal(recovered!.status, 'paused');
    assert.match(recovered!.error!, /resumable from the checkpoint at step 6/);

    const { checkpoint, discarded } = s.runs.resume(r.id);
    assert.equal(checkpoint!.path, '/ck/6');
    assert.deepEqual(checkpoint!.meta, { rng: 'state' });
    assert.deepEqual(discarded, { metrics: 3, samples: 1, alerts: 1 });
    assert.equal(s.metrics.lastStep(r.id), 6);
    assert.equal(s.runs.get(r.id)!.status, 'queued');

    // Without a checkpoint the run failed: nothing to resume from.
    const r2 = s.runs.create({ objective: 'single', seed: 0 });
    s.runs.update(r2.id, { status: 'running', pid: 999_998, host: os.hostname() });
    assert.equal(s.runs.recoverInterrupted(() => false)[0]!.status, 'failed');
    assert.throws(() => s.runs.resume(s.runs.update(r2.id, { status: 'finished' }).id), /only a paused, failed, cancelled or queued run can resume/);
  } finally {
    s.close();
  }
});

test('artifacts, ensembles and experiments', () => {
  const s = fresh();
  try {
    const base = s.artifacts.add({ kind: 'model', name: 'gpt2-tiny', path: '/models/gpt2', sha256: 'b'.repeat(64), bytes: 123 });
    assert.equal(s.artifacts.findBySha256('model', 'b'.repeat(64))!.id, base.id);
    assert.deepEqual(s.artifacts.list('model').map((a) => a.name), ['gpt2-tiny']);
    const e = s.ensembles.add({ name: 'brme-5', heads: 5, method: 'brme', baseModelId: base.id, config: { tau: 10 } });
    const weights = s.artifacts.add({ kind: 'ensemble', name: 'brme-5 weights', path: '/w', meta: { heads: 5 } });
    s.ensembles.complete(e.id, weights.id, { accuracy: { nominal: 0.7 } });
    assert.deepEqual(s.ensembles.get(e.id)!.metrics, { accuracy: { nominal: 0.7 } });
    assert.equal(s.ensembles.get(e.id)!.artifactId, weights.id);
    assert.throws(() => s.ensembles.add({ name: 'bad', heads: 1, method: 'brme', datasetId: 42 }), /FOREIGN KEY/);
    const w = s.datasets.beginImport(header);
    w.addRows([row(0, 'p', 'a', 'b')]);
    const ds = w.commit(final(1));
    s.ensembles.add({ name: 'trained on it', heads: 2, method: 'independent', datasetId: ds.id });
    assert.throws(() => s.datasets.delete(ds.id), /used to train ensemble \d+; it is kept/);

    const x = s.experiments.create({ name: 'a', spec: { b: 1, a: { d: 2, c: 3 } } });
    const y = s.experiments.create({ name: 'b', spec: { a: { c: 3, d: 2 }, b: 1 } });
    assert.equal(x.specHash, y.specHash, 'the hash ignores key order');
    assert.deepEqual(s.experiments.findBySpec({ b: 1, a: { c: 3, d: 2 } }).map((z) => z.id), [x.id, y.id]);
  } finally {
    s.close();
  }
});

test('request schemas validate queries from the UI and CLI before they reach SQL', () => {
  assert.deepEqual(SeriesRequestSchema.parse({ runIds: [1, 2], key: 'gold' }), { runIds: [1, 2], key: 'gold', x: 'step' });
  assert.equal(SeriesRequestSchema.safeParse({ runIds: [], key: 'gold' }).success, false);
  assert.equal(SeriesRequestSchema.safeParse({ runIds: [1], key: 'gold', x: 'kl' }).success, false);
  assert.deepEqual(SampleQuerySchema.parse({ runIds: [3], sort: 'proxy_gold_gap' }), { runIds: [3], sort: 'proxy_gold_gap', limit: 50, offset: 0 });
  assert.equal(SampleQuerySchema.safeParse({ runIds: [3], sort: 'id; DROP TABLE runs' }).success, false);
  assert.equal(RunFilterSchema.safeParse({ status: ['running', 'exploded'] }).success, false);
  assert.equal(RunFilterSchema.safeParse({ status: 'paused', extra: 1 }).success, false);
});
