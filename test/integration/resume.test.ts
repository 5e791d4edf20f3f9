// A run killed with SIGKILL and resumed logs exactly the metrics of an uninterrupted run (same seed):
// weights, optimizer moments, RNG streams, KL controller and reward normaliser all come back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../util/paths.js';
import { openStore } from '../../engine/store/index.js';
import { metricsOf } from '../util/run-metrics.js';

const spec = {
  name: 'resume test',
  sft: { samples: 256, epochs: 1, batchSize: 64 },
  ensemble: { heads: 3, pairs: 256, valPairs: 64 },
  objectives: [{ name: 'robust', kind: 'robust', lambda: 0.4 }],
  seeds: [3],
  ppo: { iterations: 8, batchSize: 16, miniBatches: 2, epochs: 2 },
  eval: { every: 2, samples: 16 },
  checkpointEvery: 2,
};
const cli = path.join(repoRoot, 'bin/rrlhf.js');


test('kill -9 mid-run, resume (interrupted once more by Ctrl+C, resumed again), and the metrics equal an uninterrupted run', { timeout: 240_000 }, async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-resume-'));
  const specFile = path.join(tmp, 'spec.json');
  await writeFile(specFile, JSON.stringify(spec));
  const a = path.join(tmp, 'a'), b = path.join(tmp, 'b');

  const full = spawnSync(process.execPath, [cli, 'experiment', 'run', specFile, '--data-dir', a, '--json'], { encoding: 'utf8' });
  assert.equal(full.status, 0, full.stderr);

  // Same study in another data dir; kill it hard once iteration 5 is under way (checkpoint at 4 done).
  const child = spawn(process.execPath, [cli, 'experiment', 'run', specFile, '--data-dir', b, '--json'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const killed = await new Promise<boolean>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (/iteration 5\/8/.test(err) && child.exitCode === null) { child.kill('SIGKILL'); }
    });
    child.on('exit', (_code, signal) => resolve(signal === 'SIGKILL'));
  });
  assert.ok(killed, `the run should have been killed mid-way; stderr:\n${err}`);
  const partial = metricsOf(b);
  assert.ok(partial.size > 0 && partial.size < metricsOf(a).size, 'the killed run stopped part-way');

  // Ctrl+C during the resume stops it after the current iteration (status cancelled, resumable).
  const again = spawn(process.execPath, [cli, 'experiment', 'resume', '1', '--data-dir', b, '--json'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err2 = '';
  const code = await new Promise<number | null>((resolve) => {
    let sent = false;
    again.stderr.on('data', (d: Buffer) => {
      err2 += d.toString();
      if (!sent && /iteration 6\/8/.test(err2)) { sent = true; again.kill('SIGINT'); }
    });
    again.on('exit', (c) => resolve(c));
  });
  assert.match(err2, /stopping after the current iteration \(the run can be resumed\)/);
  assert.equal(code, 1, err2);
  const st = openStore({ dataDir: b });
  try { assert.equal(st.runs.list({})[0]!.status, 'cancelled'); } finally { st.close(); }

  const resumed = spawnSync(process.execPath, [cli, 'experiment', 'resume', '1', '--data-dir', b, '--json'], { encoding: 'utf8' });
  assert.equal(resumed.status, 0, resumed.stderr);
  const result = JSON.parse(resumed.stdout) as { runs: { status: string; final: { gold: number } }[] };
  assert.equal(result.runs[0]!.status, 'finished');

  const ma = metricsOf(a), mb = metricsOf(b);
  assert.deepEqual([...mb.keys()].sort(), [...ma.keys()].sort(), 'the same metrics at the same steps');
  for (const [k, v] of ma) assert.ok(Object.is(v, mb.get(k)) || Math.abs(v - mb.get(k)!) <= 1e-9 * Math.max(1, Math.abs(v)), `${k}: uninterrupted ${v}, resumed ${mb.get(k)}`);
});
