import { test } from 'node:test';
import assert from 'node:assert/strict';
import { presetSpec, estimate, PRESET_NAMES, PRESET_LABELS, DEFAULT_CALIBRATION } from '../../engine/service/presets.js';
import { parseSpec } from '../../engine/experiments/spec.js';

test('every preset is a valid spec with a label, and re-parses to itself', () => {
  for (const name of PRESET_NAMES) {
    const s = presetSpec(name);
    assert.ok(PRESET_LABELS[name].label && PRESET_LABELS[name].summary, name);
    assert.deepEqual(parseSpec(s, name), s, `${name} re-parses unchanged (rrlhf quickstart re-parses the Quick preset)`);
    assert.equal(s.objectives[0]!.kind, 'single', `${name} compares against standard RLHF first`);
  }
});

test('Quick runs the robust objective over independent members; the paper-exact BRME is its own preset', () => {
  const q = presetSpec('quick'), p = presetSpec('paper');
  assert.equal(q.ensemble.method, 'independent');
  assert.ok(q.objectives.some((o) => o.kind === 'robust' && o.lambda === 0.4));
  assert.equal(p.ensemble.method, 'brme');
  assert.equal(p.ensemble.stage2Loss, 'mse');
});

test('the estimate counts every independent member and every run', () => {
  const q = presetSpec('quick');
  const brme = { ...q, ensemble: { ...q.ensemble, method: 'brme' as const } };
  const e = estimate(q), b = estimate(brme);
  assert.equal(e.runs, q.seeds.length * q.objectives.length);
  const perPair = q.ensemble.pairs * DEFAULT_CALIBRATION.rewardPerPair;
  assert.ok(Math.abs((e.parts.setup - b.parts.setup) - perPair * (q.ensemble.heads - 1)) < 1e-9);
  assert.ok(e.seconds! > b.parts.setup);
});

test('per-member trunks add K − 1 SFT runs to the study estimate and per seed to best-of-n\'s; shared or absent add none', async () => {
  const { estimateBon } = await import('../../engine/service/presets.js');
  const q = presetSpec('quick');
  assert.equal(q.ensemble.method, 'independent');
  const own = { ...q, ensemble: { ...q.ensemble, trunks: 'per-member' as const } };
  const sftRun = q.sft.samples * q.sft.epochs * DEFAULT_CALIBRATION.sft;
  assert.ok(Math.abs((estimate(own).parts.setup - estimate(q).parts.setup) - (q.ensemble.heads - 1) * sftRun) < 1e-9);
  // A spec stored before the setting existed (no key) is estimated as shared.
  const { trunks: _t, ...old } = q.ensemble;
  assert.equal(estimate({ ...q, ensemble: old as typeof q.ensemble }).seconds, estimate(q).seconds);
  const req = (trunks: string) => ({ n: 16, prompts: 8, seeds: [0, 1, 2], source: { kind: 'world' as const, name: 'goodhart-lab', seed: 0, settings: {}, ensemble: { method: 'independent', heads: 5, trunks } } });
  const b = estimateBon(req('shared')), bo = estimateBon(req('per-member'));
  const st = parseSpec({});
  assert.ok(Math.abs((bo.parts.setup - b.parts.setup) - 3 * 4 * st.sft.samples * st.sft.epochs * DEFAULT_CALIBRATION.sft) < 1e-9);
});
