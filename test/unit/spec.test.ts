// The experiment spec's defaults: written once next to the trainers (PPO_DEFAULTS, SFT_DEFAULTS), and
// the learning rates depend on the world (a pretrained model must not get the tiny decoders' 1e-3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec, PRETRAINED_DEFAULTS, sftConfig, ensembleTrainOptions, ppoConfig } from '../../engine/experiments/spec.js';
import { PPO_DEFAULTS } from '../../engine/rlhf/ppo.js';
import { SFT_DEFAULTS } from '../../engine/rlhf/sft.js';
import { REWARD_DEFAULTS } from '../../engine/rlhf/reward.js';
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

test('the spec becomes each trainer\'s configuration in one place: what the spec says, the rest from the trainers\' defaults', () => {
  const s = parseSpec({
    world: { seed: 3 }, sft: { epochs: 2, batchSize: 8, lr: 0.01 }, ppo: { lr: 0.002, klCoef: 0.3, miniBatches: 4, rewardClip: 5 },
    ensemble: { method: 'independent', heads: 3, bootstrap: false, tau: 7, alpha: 4 },
  });
  assert.deepEqual(sftConfig(s, 9), { ...SFT_DEFAULTS, epochs: 2, batchSize: 8, lr: 0.01, seed: 3, padId: 9 });
  const p = ppoConfig(s);
  assert.deepEqual([p.lr, p.klCoef, p.miniBatches, p.rewardClip, p.batchSize], [0.002, 0.3, 4, 5, PPO_DEFAULTS.batchSize]);
  for (const k of ['gamma', 'lam', 'clipRangeValue', 'maxGradNorm', 'weightDecay', 'whitenAdvantages'] as const) assert.equal(p[k], PPO_DEFAULTS[k], k);
  assert.ok(!('seed' in p) && !('maxNewTokens' in p), 'the run and the world supply seed and maxNewTokens');
  // An explicit bootstrap reaches the trainer (the runner once dropped it, so members always bootstrapped).
  const e = ensembleTrainOptions(s.ensemble, { seed: 5, padId: 1, pretrained: false });
  assert.deepEqual(e, {
    method: 'independent', heads: 3, bootstrap: false, lora: null, reward: { seed: 5, padId: 1 },
    brme: { tau: 7, alpha: 4, stage2Loss: 'mse', bootstrap: false, anchor: 0, unfreezeLastLayers: 0, seed: 5 },
  });
  assert.equal(ensembleTrainOptions({ ...s.ensemble, bootstrap: null }, { seed: 0, padId: 0, pretrained: false }).bootstrap, true);
  // A pretrained trunk gets the study's small reward lr unless one is given; absent τ/α are left to the trainer.
  const q = ensembleTrainOptions({ method: 'brme', heads: 2, stage2Loss: 'mse', bootstrap: null, anchor: 0, unfreezeLastLayers: 0 }, { seed: 0, padId: 0, pretrained: true });
  assert.equal(q.reward.lr, PRETRAINED_DEFAULTS.rewardLr);
  assert.equal(q.bootstrap, false);
  assert.ok(!('tau' in q.brme) && !('alpha' in q.brme));
  assert.equal(ensembleTrainOptions({ ...s.ensemble, rewardLr: 0.5 }, { seed: 0, padId: 0, pretrained: true }).reward.lr, 0.5);
  assert.notEqual(REWARD_DEFAULTS.lr, PRETRAINED_DEFAULTS.rewardLr);
});

test('ensemble.trunks: shared by default; per-member for independent members of a built-in world; refusals name the key and the way out', () => {
  assert.equal(parseSpec({}).ensemble.trunks, 'shared');
  assert.equal(parseSpec({ ensemble: { method: 'independent', trunks: 'per-member' } }).ensemble.trunks, 'per-member');
  assert.equal(parseSpec({ world: { name: 'text-reviews' }, ensemble: { method: 'independent', trunks: 'per-member' } }).ensemble.trunks, 'per-member');
  assert.throws(() => parseSpec({ ensemble: { method: 'independent', trunks: 'each' } }), /ensemble\.trunks: must be one of 'shared', 'per-member'/);
  assert.throws(() => parseSpec({ ensemble: { trunks: 'per-member' } }), /ensemble\.trunks: per-member trunks need independent members .*BRME heads share one trunk.*ensemble\.method to 'independent'/);
  assert.throws(() => parseSpec({ ensemble: { method: 'lora', trunks: 'per-member' } }), /ensemble\.trunks: .*LoRA members adapt one frozen trunk/);
  assert.throws(() => parseSpec({ world: { name: 'dataset', datasetId: 1, modelDir: '/m' }, ensemble: { method: 'independent', trunks: 'per-member' } }),
    /ensemble\.trunks: .*a dataset world has one pretrained model, so set ensemble\.trunks to 'shared' \(or ensemble\.method to 'lora'/);
  // 'shared' with any method is accepted, and a stored spec parses to itself.
  for (const method of ['brme', 'independent', 'lora'] as const) assert.equal(parseSpec({ ensemble: { method, trunks: 'shared' } }).ensemble.trunks, 'shared');
  const s = parseSpec({ ensemble: { method: 'independent', trunks: 'per-member' } });
  assert.deepEqual(parseSpec(JSON.parse(JSON.stringify(s))), s);
});

test('memory.gradientCheckpointing: default false (a stored spec without the key reads as before), reaches PPO and the memory plan; other memory keys are refused by name with their line', () => {
  assert.equal(parseSpec({}).memory.gradientCheckpointing, false);
  const on = parseSpec({ memory: { gradientCheckpointing: true } });
  assert.equal(on.memory.gradientCheckpointing, true);
  assert.equal(ppoConfig(on).gradientCheckpointing, true);
  assert.equal(ppoConfig(parseSpec({})).gradientCheckpointing, false);
  const e = parseSpec({}).ensemble;
  assert.equal(ensembleTrainOptions(e, { seed: 0, padId: 0, pretrained: false, gradientCheckpointing: true }).reward.gradientCheckpointing, true, 'reward-model training recomputes too');
  assert.equal(ensembleTrainOptions(e, { seed: 0, padId: 0, pretrained: false }).reward.gradientCheckpointing, undefined, 'absent: the trainer default (off)');
  assert.deepEqual(parseSpec(JSON.parse(JSON.stringify(on))), on);
  assert.throws(() => parseSpec({ memory: { gradientCheckpointing: 'yes' } }), /memory\.gradientCheckpointing: Invalid input: expected boolean/);
  assert.throws(() => parseSpec({ memory: { offload: true } }, 'spec', (at) => (at.join('.') === 'memory.offload' ? 7 : null)), /line 7: memory: Unrecognized key: "offload"/);
  // precision (docs/engine.md § Mixed precision): fp32 by default, one of the three, kept through a round trip.
  assert.equal(parseSpec({}).memory.precision, 'fp32');
  assert.equal(parseSpec({ memory: { precision: 'bf16' } }).memory.precision, 'bf16');
  assert.throws(() => parseSpec({ memory: { precision: 'fp8' } }), /memory\.precision: Invalid option: expected one of "fp32"\|"bf16"\|"fp16"/);
});
