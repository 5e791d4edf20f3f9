// The best-of-n time estimate (engine/service/presets.ts estimateBon, API bon.estimate): its structure is
// checked exactly, and a tiny best-of-n is timed per phase the estimate names — setup (π₀'s SFT and one
// ensemble per seed) and sampling (n × prompts per seed) — from the runner's own progress messages. The
// times are printed as a diagnostic beside the estimate, not asserted: speed is never a test here (a
// shared or slower machine would fail it); how close the estimate is belongs in the notes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../engine/store/index.js';
import { executeBon, BonRequestSchema } from '../../engine/service/bon.js';
import { estimateBon, DEFAULT_CALIBRATION } from '../../engine/service/presets.js';
import { writeFile } from 'node:fs/promises';
import { SettingsFile, SETTINGS_FILE } from '../../engine/service/settings.js';

test('best-of-n estimate: setup and sampling against a measured tiny run', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-bon-est-'));
  const store = openStore({ dataDir: dir });
  try {
    const req = BonRequestSchema.parse({ source: { kind: 'world', name: 'goodhart-lab', ensemble: { heads: 3, pairs: 256, valPairs: 64 } }, n: 256, prompts: 8, seeds: [0, 1] });
    const est = estimateBon(req);
    assert.equal(est.samples, 2 * 256 * 8);
    assert.ok(est.seconds !== null && Math.abs(est.seconds - est.parts.setup - est.parts.sampling) < 1e-12);
    assert.ok(Math.abs(est.parts.sampling - est.samples * DEFAULT_CALIBRATION.bonPerSample) < 1e-12);
    // Timed phases: a seed samples from its "N samples × P prompts" message to the runner's next own
    // message (drawScored's progress carries `done`), or to the end; everything else is setup.
    const marks: { t: number; message: string; inner: boolean }[] = [];
    const t0 = performance.now();
    await executeBon(req, { store, dataDir: dir, onProgress: (e) => marks.push({ t: performance.now(), message: e.message, inner: e.done !== undefined }) });
    const end = performance.now();
    const top = marks.filter((m) => !m.inner);
    let sampling = 0;
    top.forEach((m, i) => { if (/samples ×/.test(m.message)) sampling += ((top[i + 1]?.t ?? end) - m.t) / 1000; });
    const total = (end - t0) / 1000;
    assert.equal(top.filter((m) => /samples ×/.test(m.message)).length, 2, 'one sampling phase per seed');
    assert.ok(sampling > 0 && total > sampling);
    t.diagnostic(`sampling: measured ${sampling.toFixed(2)} s, estimated ${est.parts.sampling.toFixed(2)} s; setup (SFT + 2 ensembles): measured ${(total - sampling).toFixed(2)} s, estimated ${est.parts.setup.toFixed(2)} s`);
  } finally {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('best-of-n estimate: what scales, and what cannot be told up front', async () => {
  const world = { kind: 'world' as const, name: 'goodhart-lab', seed: 0, settings: {}, ensemble: {} };
  const a = estimateBon({ source: world, n: 64, prompts: 8, seeds: [0, 1] });
  const b = estimateBon({ source: world, n: 128, prompts: 8, seeds: [0, 1] });
  assert.ok(Math.abs(b.parts.sampling - 2 * a.parts.sampling) < 1e-12 && b.parts.setup === a.parts.setup, 'n scales sampling only');
  const c = estimateBon({ source: world, n: 64, prompts: 8, seeds: [0, 1, 2, 3] });
  const sft = (a.parts.setup * 2 - c.parts.setup); // setup = SFT + seeds × ensemble
  assert.ok(sft > 0 && Math.abs(c.parts.setup - sft - 2 * (a.parts.setup - sft)) < 1e-9, 'one ensemble per seed, one SFT');
  const ind = estimateBon({ source: { ...world, ensemble: { method: 'independent', heads: 4 } }, n: 64, prompts: 8, seeds: [0] });
  const brme = estimateBon({ source: { ...world, ensemble: { method: 'brme', heads: 4 } }, n: 64, prompts: 8, seeds: [0] });
  assert.ok(ind.parts.setup > brme.parts.setup, 'independent members are trained one by one');
  // A run's policy on a built-in world has no setup; a model folder, or a dataset world's run, is unknown.
  const run = estimateBon({ source: { kind: 'run' }, n: 64, prompts: 8, seeds: [0] }, DEFAULT_CALIBRATION, 'defaults', true);
  assert.deepEqual([run.parts.setup, run.seconds], [0, 64 * 8 * DEFAULT_CALIBRATION.bonPerSample]);
  assert.equal(estimateBon({ source: { kind: 'model' }, n: 64, prompts: 8, seeds: [0] }).seconds, null);
  assert.equal(estimateBon({ source: { kind: 'run' }, n: 64, prompts: 8, seeds: [0] }, DEFAULT_CALIBRATION, 'defaults', false).basis, 'unknown');
  assert.throws(() => estimateBon({ source: { ...world, name: 'no-such-world' }, n: 1, prompts: 1, seeds: [0] }));
  // A calibration measured before bonPerSample existed reads the default for it, and a first measurement replaces it.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-bon-cal-'));
  try {
    const old = { sft: 0.001, rewardPerPair: 0.002, ppoPerSample: 0.003, evalPerSample: 0.004 };
    await writeFile(path.join(dir, SETTINGS_FILE), JSON.stringify({ calibration: old }));
    const f = new SettingsFile(dir);
    assert.equal(f.problem, null);
    assert.deepEqual(f.calibration(), { cal: { ...old, bonPerSample: DEFAULT_CALIBRATION.bonPerSample }, basis: 'measured' });
    f.measured({ bonPerSample: 0.001, sft: 0.003 });
    assert.equal(f.calibration().cal.bonPerSample, 0.001, 'never measured here: replaced');
    assert.equal(f.calibration().cal.sft, 0.002, 'measured before: blended');
  } finally { await rm(dir, { recursive: true, force: true }); }
});
