// The memory check before a study or an ensemble training starts (docs/engine.md § Memory plan): the
// service's experiments.memory gives the wizard the plan, the device's memory and the alternatives;
// a study that will not fit is refused by experiments.start and by `rrlhf experiment run` with the
// numbers and what to change, before anything is recorded; `rrlhf ensemble train` likewise.
// RRLHF_MEMORY_MB stands in for a small machine.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../util/paths.js';
import { Service } from '../../engine/service/api.js';
import { openStore } from '../../engine/store/index.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => { const d = mkdtempSync(path.join(os.tmpdir(), 'rrlhf-memory-')); dirs.push(d); return d; };
const bin = path.join(repoRoot, 'bin', 'rrlhf.js');
const rrlhf = (env: Record<string, string>, ...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
const SPEC = { name: 'memory check', seeds: [0], ppo: { iterations: 1 } };
const REFUSAL = /study "memory check" needs [\d.]+ MiB of cpu memory \(fp32\) but 1\.0 MiB is available \(1\.0 MiB in all\); largest terms: .+\. To change: policy\.lora: \{ r: 8, targetModules: \[c_attn\] \}.+ → [\d.]+ MiB; ppo\.miniBatches: 4 .+; ppo\.batchSize: 32 → [\d.]+ MiB; .*memory\.gradientCheckpointing: true .*; no single change fits/;

test('experiments.memory plans the study on its device; experiments.start refuses one that does not fit', async () => {
  const dataDir = tmp();
  const service = Service.open({ dataDir });
  const before = process.env.RRLHF_MEMORY_MB;
  try {
    const r = await service.call('experiments.memory', { spec: SPEC });
    assert.equal(r.ok, true, JSON.stringify(r));
    const m = (r as { result: { device: string; fits: boolean | null; memory: { availableBytes: number | null }; plans: { precision: string; totalBytes: number; runnable: boolean }[]; alternatives: { change: string }[] } }).result;
    assert.equal(m.device, 'cpu');
    assert.deepEqual(m.plans.map((p) => [p.precision, p.runnable]), [['fp32', true], ['bf16', false], ['fp16', true]]);
    assert.ok(m.memory.availableBytes! > 0);
    assert.equal(m.fits, m.plans[0]!.totalBytes <= m.memory.availableBytes!);
    assert.ok(m.alternatives.some((a) => a.change.startsWith('policy.lora')));
    assert.ok(!m.alternatives.some((a) => a.change.startsWith('world.maxResponseTokens')), 'a built-in world\'s response length is not a spec key');

    process.env.RRLHF_MEMORY_MB = '1';
    const small = await service.call('experiments.memory', { spec: SPEC });
    assert.equal(small.ok && (small as { result: { fits: boolean } }).result.fits, false);
    const start = await service.call('experiments.start', { spec: SPEC });
    assert.equal(start.ok, false);
    assert.equal(!start.ok && start.status, 400);
    assert.match(!start.ok ? start.error : '', REFUSAL);
    assert.equal(service.ctx.store.experiments.list().length, 0, 'nothing queued or recorded');
  } finally {
    if (before === undefined) delete process.env.RRLHF_MEMORY_MB; else process.env.RRLHF_MEMORY_MB = before;
    await service.close();
  }
});

test('rrlhf experiment run and ensemble train refuse what does not fit, before anything is recorded', () => {
  const dataDir = tmp();
  const spec = path.join(dataDir, 'spec.json');
  writeFileSync(spec, JSON.stringify(SPEC));
  const run = rrlhf({ RRLHF_MEMORY_MB: '1' }, 'experiment', 'run', spec, '--data-dir', dataDir);
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, REFUSAL);
  const ens = rrlhf({ RRLHF_MEMORY_MB: '1' }, 'ensemble', 'train', '--world', 'goodhart-lab', '--method', 'independent', '--heads', '3', '--data-dir', dataDir);
  assert.equal(ens.status, 1, ens.stderr);
  assert.match(ens.stderr, /training an independent ensemble \(K 3\) needs [\d.]+ MiB of cpu memory \(fp32\) but 1\.0 MiB is available.+To change: method: brme \(one trunk instead of K\) → [\d.]+ MiB/);
  const store = openStore({ dataDir });
  try {
    assert.equal(store.experiments.list().length, 0);
    assert.equal(store.ensembles.list().length, 0);
  } finally { store.close(); }
  const bad = rrlhf({ RRLHF_MEMORY_MB: 'lots' }, 'experiment', 'run', spec, '--data-dir', dataDir);
  assert.match(bad.stderr, /RRLHF_MEMORY_MB must be a positive number of MiB, got "lots"/);
});
