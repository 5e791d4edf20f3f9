// Importing another engine's run end to end: a tiny real study run here, then OpenRLHF's TensorBoard
// folder and verl's JSON lines imported through the CLI and the service API into that study's history;
// the runs list, the study view and the report (HTML) show them beside the local runs, and the
// refusals (re-import, a missing path) say what happened.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../util/paths.js';
import { openStore } from '../../engine/store/index.js';
import { parseSpec } from '../../engine/experiments/spec.js';
import { runExperiment } from '../../engine/experiments/runner.js';
import { exportReport } from '../../engine/report/index.js';
import { studyView } from '../../engine/service/summary.js';
import { Service } from '../../engine/service/api.js';

const cli = path.join(repoRoot, 'bin/rrlhf.js');
const FIX = path.join(repoRoot, 'test/fixtures/runlogs');
const spec = parseSpec({
  name: 'import target',
  sft: { samples: 128, epochs: 1, batchSize: 64 },
  ensemble: { heads: 3, pairs: 128, valPairs: 32 },
  objectives: [{ name: 'single', kind: 'single' }, { name: 'robust', kind: 'robust', lambda: 0.4 }],
  seeds: [0],
  ppo: { iterations: 4, batchSize: 16, miniBatches: 2, epochs: 1 },
  eval: { every: 2, samples: 16 },
});

let tmp: string, dataDir: string, experimentId: number;

const rrlhf = (...args: string[]) => spawnSync(process.execPath, [cli, ...args, '--data-dir', dataDir], { encoding: 'utf8' });

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-import-'));
  dataDir = path.join(tmp, 'data');
  const store = openStore({ dataDir });
  try {
    experimentId = (await runExperiment(spec, { store, dataDir })).experiment;
  } finally {
    store.close();
  }
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('rrlhf runs import --json: the run, mapped and kept metrics, steps and source; a re-import is refused naming the run', () => {
  const r = rrlhf('runs', 'import', path.join(FIX, 'openrlhf-tb'), '--experiment', String(experimentId), '--objective', 'single', '--seed', '1', '--json');
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { run: { id: number; status: string; experimentId: number; objective: string; seed: number }; metrics: { mapped: { from: string; to: string }[]; kept: string[] }; steps: { count: number; first: number; last: number }; source: { engine: string; format: string; files: unknown[] } };
  assert.deepEqual([doc.run.status, doc.run.experimentId, doc.run.objective, doc.run.seed], ['imported', experimentId, 'single', 1]);
  assert.ok(doc.metrics.mapped.some((m) => m.from === 'train/reward' && m.to === 'reward/proxy'));
  assert.deepEqual(doc.metrics.kept, ['eval/gold', 'train/custom_thing']);
  assert.deepEqual(doc.steps, { count: 7, first: 1, last: 7 });
  assert.deepEqual([doc.source.engine, doc.source.format, doc.source.files.length], ['openrlhf', 'tensorboard', 2]);
  assert.equal(r.stderr, '', 'no warnings: the objective is one of the study\'s');

  const again = rrlhf('runs', 'import', path.join(FIX, 'openrlhf-tb'), '--experiment', String(experimentId), '--objective', 'single', '--seed', '1', '--json');
  assert.equal(again.status, 1);
  assert.equal(again.stdout, '');
  assert.match(again.stderr, new RegExp(`already imported into experiment ${experimentId} as run ${doc.run.id} `));

  const list = rrlhf('runs', 'list', '--experiment', String(experimentId), '--status', 'imported', '--json');
  assert.equal(list.status, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as { id: number; status: string; last_step: number }[]).map((x) => [x.id, x.status, x.last_step]), [[doc.run.id, 'imported', 7]]);

  const bad = rrlhf('runs', 'import', path.join(FIX, 'verl.jsonl'), '--experiment', String(experimentId), '--objective', 'robust', '--seed', 'x');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--seed must be a non-negative integer/);
});

test('runs.import through the service API: validated input, the path checked, duplicates 409', async () => {
  const service = Service.open({ dataDir });
  try {
    const ok = await service.call('runs.import', { path: path.join(FIX, 'verl.jsonl'), experimentId, objective: 'robust', seed: 1 });
    assert.equal(ok.ok, true, JSON.stringify(ok));
    const res = (ok as { result: { run: { status: string; lastStep: number }; engine: string; metrics: { mapped: { to: string }[] } } }).result;
    assert.deepEqual([res.run.status, res.run.lastStep, res.engine], ['imported', 3, 'verl']);
    assert.ok(res.metrics.mapped.some((m) => m.to === 'response/length'));
    const dup = await service.call('runs.import', { path: path.join(FIX, 'verl.jsonl'), experimentId, objective: 'robust', seed: 1 });
    assert.deepEqual([dup.ok, (dup as { status: number }).status], [false, 409]);
    const missing = await service.call('runs.import', { path: path.join(tmp, 'nope'), experimentId, objective: 'robust', seed: 1 });
    assert.equal(missing.ok, false);
    assert.match((missing as { error: string }).error, /nope does not exist/);
    const invalid = await service.call('runs.import', { path: 'x', experimentId, objective: 'robust', seed: -1, extra: 1 });
    assert.deepEqual([invalid.ok, (invalid as { status: number }).status], [false, 400]);
    const noStudy = await service.call('runs.import', { path: path.join(FIX, 'verl.jsonl'), experimentId: 999, objective: 'robust', seed: 1 });
    assert.equal((noStudy as { status: number }).status, 404);
  } finally {
    await service.close();
  }
});

test('imported runs sit beside local ones in the study view and the report, without breaking them', async () => {
  const store = openStore({ dataDir });
  try {
    const exp = store.experiments.get(experimentId)!;
    const view = studyView(store, exp);
    assert.equal(view.status, 'finished');
    assert.ok(view.verdict, 'the verdict still comes from the local runs');
    assert.deepEqual(view.runs.map((r) => r.status).sort(), ['finished', 'finished', 'imported', 'imported']);
    assert.equal(view.objectives.find((o) => o.name === 'single')!.runIds.length, 2);
    assert.equal(view.comparisons.length, 1);
    assert.equal(view.comparisons[0]!.seeds, 1, 'the paired comparison uses the seed both local runs have');

    const out = path.join(tmp, 'r.html');
    const e = await exportReport({ store, dataDir, experimentId, out: { html: out } });
    const html = await readFile(out, 'utf8');
    const imported = store.runs.list({ experimentId, status: 'imported' });
    for (const r of imported) assert.ok(e.model.runs.some((x) => x.id === r.id), `run ${r.id} in the report`);
    assert.ok(!e.model.caveats.some((c) => /not finished/.test(c)), 'imported runs are not "unfinished"');
    assert.ok(e.model.caveats.some((c) => /imported from another engine/.test(c)), e.model.caveats.join('\n'));
    assert.match(html, /imported from another engine/);
    // The imported OpenRLHF run's reward/proxy joins the local runs' curve of its objective.
    assert.ok(e.model.curves.train['reward/proxy']!.some((b) => b.objective === 'single' && b.points.some((p) => p.n === 2)));
  } finally {
    store.close();
  }
});
