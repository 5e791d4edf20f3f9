// Crash and concurrency safety of the store: a process writing a run's metrics is killed with SIGKILL
// mid-write; the database must open, pass SQLite's integrity check, hold every committed step whole,
// and the run must be recoverable from its last checkpoint. Readers on other connections (and
// processes) read while the writer writes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { openStore } from '../../engine/store/index.js';
import { repoRoot } from '../util/paths.js';

const dirs: string[] = [];
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rrlhf-crash-')); dirs.push(d); return d; };
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const storeUrl = pathToFileURL(path.join(repoRoot, 'dist', 'engine', 'store', 'index.js')).href;

// The writer: marks the run running, then appends three metrics per step (one transaction per step)
// and a checkpoint every 10 steps, as fast as it can, until killed.
const WRITER = `
import { openStore } from ${JSON.stringify(storeUrl)};
const store = openStore({ dataDir: process.env.DATA_DIR });
const runId = Number(process.env.RUN_ID);
store.runs.start(runId, { device: 'cpu' });
for (let step = 0; ; step++) {
  store.metrics.append(runId, step, { gold: step, 'objective/kl': step / 10, 'loss/policy_avg': 1 / (step + 1) });
  if (step % 10 === 0) store.runs.addCheckpoint({ runId, step, path: '/ck/' + step, sha256: '0'.repeat(64) });
  if (step % 25 === 0) process.stdout.write(step + '\\n');
}
`;

test('a writer killed with SIGKILL leaves a sound database and a resumable run', async () => {
  const dataDir = tmp();
  const setup = openStore({ dataDir });
  const run = setup.runs.create({ objective: 'robust', seed: 0 });
  setup.close();

  const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER], {
    env: { ...process.env, DATA_DIR: dataDir, RUN_ID: String(run.id) }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));

  // Read from a second connection while the child writes: reads never fail and see progress.
  const reader = openStore({ dataDir });
  const seen: number[] = [];
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const last = reader.metrics.lastStep(run.id);
    if (last !== null) seen.push(last);
    if (last !== null && last >= 400 && seen.length >= 5) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  reader.close();
  assert.ok(seen.length >= 5, `the reader saw the writer's progress (child stderr: ${stderr})`);
  assert.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]!), 'committed steps only grow');

  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');

  const store = openStore({ dataDir });
  try {
    assert.deepEqual(store.integrityCheck(), ['ok']);
    const last = store.metrics.lastStep(run.id)!;
    assert.ok(last >= 400);
    // Every committed step is whole: the three metrics of a step were one transaction.
    const perStep = store.db.prepare('SELECT step, COUNT(*) AS n FROM metrics WHERE run_id = ? GROUP BY step ORDER BY step').all(run.id) as { step: number; n: number }[];
    assert.equal(perStep.length, last + 1);
    assert.ok(perStep.every((r, i) => r.step === i && r.n === 3), 'no step is half written');
    assert.deepEqual(store.metrics.series([run.id], 'gold')[0]!.points.slice(0, 3).map((p) => p.y), [0, 1, 2]);

    const before = store.runs.get(run.id)!;
    assert.equal(before.status, 'running', 'the killed process could not mark its run');
    const [recovered] = store.runs.recoverInterrupted();
    assert.equal(recovered!.id, run.id);
    assert.equal(recovered!.status, 'paused');
    const ck = store.runs.latestCheckpoint(run.id)!;
    assert.ok(ck.step <= last && last - ck.step < 10 + 1);
    assert.match(recovered!.error!, new RegExp(`resumable from the checkpoint at step ${ck.step}`));
    const { checkpoint } = store.runs.resume(run.id);
    assert.equal(checkpoint!.step, ck.step);
    assert.equal(store.metrics.lastStep(run.id), ck.step, 'steps after the checkpoint are dropped, to be recomputed');
    assert.equal(store.runs.get(run.id)!.status, 'queued');
  } finally {
    store.close();
  }
});

test('readers read committed data while another connection holds the write lock; writers wait', () => {
  const dataDir = tmp();
  const writer = openStore({ dataDir });
  const reader = openStore({ dataDir });
  const impatient = openStore({ dataDir, busyTimeoutMs: 50 });
  try {
    const run = writer.runs.create({ objective: 'single', seed: 0 });
    writer.metrics.append(run.id, 0, { gold: 1 });
    writer.db.exec('BEGIN IMMEDIATE');
    writer.metrics.append(run.id, 1, { gold: 2 }); // a savepoint inside the open transaction
    // The reader is not blocked and sees only what was committed.
    assert.equal(reader.metrics.lastStep(run.id), 0);
    assert.deepEqual(reader.runs.list().map((r) => r.id), [run.id]);
    // A second writer waits for the lock, then gives up with SQLITE_BUSY after its timeout.
    assert.throws(() => impatient.metrics.append(run.id, 2, { gold: 3 }), (e: Error & { code?: string }) => e.code === 'SQLITE_BUSY');
    writer.db.exec('COMMIT');
    assert.equal(reader.metrics.lastStep(run.id), 1);
    impatient.metrics.append(run.id, 2, { gold: 3 });
    assert.equal(reader.metrics.lastStep(run.id), 2);
  } finally {
    writer.close();
    reader.close();
    impatient.close();
  }
});
