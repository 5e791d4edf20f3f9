// The experiment spec's defaults: written once next to the trainers (PPO_DEFAULTS, SFT_DEFAULTS), and
// the learning rates depend on the world (a pretrained model must not get the tiny decoders' 1e-3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec, PRETRAINED_DEFAULTS } from '../../engine/experiments/spec.js';
import { PPO_DEFAULTS } from '../../engine/rlhf/ppo.js';
import { SFT_DEFAULTS } from '../../engine/rlhf/sft.js';
import { resolveBootstrap } from '../../engine/rlhf/ensemble.js';

test('a built-in world takes the trainers\' own defaults', () => {
  const s = parseSpec({});
  for (const k of ['batchSize', 'miniBatches', 'epochs', 'lr', 'klCoef', 'temperature', 'clipRange', 'vfCoef', 'rewardClip'] as const) {
    assert.equal(s.ppo[k], PPO_DEFAULTS[k], `ppo.${k}`);
  }
  assert.deepEqual([s.sft.epochs, s.sft.batchSize, s.sft.lr, s.sft.skip], [SFT_DEFAULTS.epochs, SFT_DEFAULTS.batchSize, SFT_DEFAULTS.lr, false]);
  assert.equal(s.ensemble.rewardLr, null);
  assert.equal(s.ensemble.bootstrap, null);
  assert.equal(s.eval.every, 5);
});

test('a dataset world gets the pretrained learning rates; explicit values win', () => {
  const world = { name: 'dataset', datasetId: 1, modelDir: '/m' };
  const s = parseSpec({ world });
  assert.deepEqual([s.sft.lr, s.ppo.lr, s.ensemble.rewardLr, s.sft.skip], [PRETRAINED_DEFAULTS.sftLr, PRETRAINED_DEFAULTS.ppoLr, PRETRAINED_DEFAULTS.rewardLr, true]);
  assert.ok(s.ppo.lr < PPO_DEFAULTS.lr / 10);
  const t = parseSpec({ world, ppo: { lr: 3e-6 }, sft: { lr: 2e-6 }, ensemble: { rewardLr: 5e-6 } });
  assert.deepEqual([t.sft.lr, t.ppo.lr, t.ensemble.rewardLr], [2e-6, 3e-6, 5e-6]);
  // The stored spec records the resolved values, so parsing it again changes nothing.
  assert.deepEqual(parseSpec(JSON.parse(JSON.stringify(s))), s);
});

test('bootstrap left open is the method\'s default; an explicit value wins', () => {
  assert.equal(resolveBootstrap('independent', null), true);
  assert.equal(resolveBootstrap('brme', null), false);
  assert.equal(resolveBootstrap('independent', false), false);
  assert.equal(resolveBootstrap('brme', true), true);
});
