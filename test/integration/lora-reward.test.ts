// LoRA reward models (Zhang et al. 2401.16635; docs/engine.md § LoRA): adapters on a frozen trunk the
// store shares with the policy, plus a scalar head. A zero B scores exactly what the base reward model
// with the same head scores; the Bradley–Terry step's adapter and head gradients agree with finite
// differences; one training run moves only adapters + head; the PEFT SEQ_CLS folder loads back with
// identical scores.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fixture } from '../util/paths.js';
import { CausalLM } from '../../engine/models/model.js';
import { type LoraConfig } from '../../engine/models/lora.js';
import { Graph } from '../../engine/graph/index.js';
import { grad } from '../../engine/autodiff/grad.js';
import { compile, f32, i64 } from '../../engine/runtime/session.js';
import { Rng } from '../../engine/runtime/params.js';
import { RewardModel, buildBtLoss, storeInputs, storeFeeds, padRows, pairRows, trainBradleyTerry } from '../../engine/rlhf/reward.js';
import type { PreferencePair } from '../../engine/worlds/world.js';

const CASES: { model: string; targets: string[] }[] = [
  { model: 'gpt2-tiny', targets: ['c_attn', 'mlp.c_proj'] },
  { model: 'llama-tiny-gqa', targets: ['q_proj', 'v_proj', 'down_proj'] },
];
const cfgOf = (targets: string[]): LoraConfig => ({ r: 4, alpha: 8, dropout: 0, targetModules: targets, bias: 'none' });
const PAIRS: PreferencePair[] = [
  { prompt: [3, 17, 42], chosen: [5, 88, 1], rejected: [60, 9] },
  { prompt: [70, 2], chosen: [2, 31, 14, 55], rejected: [8, 90, 7] },
  { prompt: [11, 12, 13, 14], chosen: [15], rejected: [16, 17] },
];
const SEQS = pairRows(PAIRS);

function randomise(rm: RewardModel, seed: number, std = 0.3) {
  const rng = new Rng(seed);
  for (const n of rm.lora!.paramNames()) if (n.endsWith('lora_B.weight')) { const p = rm.params.get(n); rm.params.set(n, Float32Array.from(p.data, () => std * rng.normal()), p.shape); }
}

for (const { model, targets } of CASES) {
  test(`LoRA reward model ${model}: zero B scores as the base reward model with the same head; the trunk is shared`, async () => {
    const base = await CausalLM.load(fixture('models', model));
    const plain = await RewardModel.fromPolicy(base, 0, 7);
    const rm = await RewardModel.fromPolicyLora(base, 0, cfgOf(targets), 7);
    rm.params.set('score.weight', plain.params.get('score.weight').data, plain.params.get('score.weight').shape);
    assert.deepEqual(await rm.score(SEQS), await plain.score(SEQS));
    for (const n of base.modelParamNames()) if (rm.params.has(n)) assert.equal(rm.params.get(n).data, base.params.get(n).data, `${n} is the policy's array, not a copy`);
    assert.deepEqual(rm.trainableNames().sort(), [...rm.lora!.paramNames(), 'score.weight'].sort());
    randomise(rm, 3);
    const moved = await rm.score(SEQS), before = await plain.score(SEQS);
    assert.ok(moved.some((r, i) => Math.abs(r - before[i]!) > 1e-4), 'a non-zero B changes the rewards');
  });

  test(`LoRA reward model ${model}: Bradley–Terry gradients of adapters and head match finite differences`, async () => {
    const base = await CausalLM.load(fixture('models', model));
    const rm = await RewardModel.fromPolicyLora(base, 0, cfgOf(targets), 11);
    randomise(rm, 12);
    const wrt = rm.trainableNames();
    const g = new Graph('bt_grad_check');
    const p = storeInputs(g, rm.params);
    const { loss } = buildBtLoss(rm, g, p);
    const grads = grad(loss, wrt.map((n) => p[n]!));
    g.output('loss', loss);
    wrt.forEach((n, i) => g.output(`grad:${n}`, grads[i]!));
    const c = await compile(g);
    const b = padRows(SEQS, 0);
    const data = { input_ids: i64(b.ids, [b.B, b.T]), attention_mask: i64(b.mask, [b.B, b.T]), pair_weight: f32([1, 2, 1], [PAIRS.length]) };
    const run = async () => c.run({ ...storeFeeds(rm.params), ...data });
    const r = await run();
    const h = 1e-2;
    let checked = 0;
    for (const n of wrt.filter((_, i) => i % 2 === 0 || wrt[i] === 'score.weight')) {
      const pr = rm.params.get(n);
      const gr = r[`grad:${n}`]!.data as Float32Array;
      let k = 0; gr.forEach((x, i) => { if (Math.abs(x) > Math.abs(gr[k]!)) k = i; });
      const at = async (d: number) => { const v = pr.data.slice(); v[k]! += d; rm.params.set(n, v, pr.shape); return (await run()).loss!.data[0] as number; };
      const fd = ((await at(h)) - (await at(-h))) / (2 * h);
      rm.params.set(n, pr.data, pr.shape);
      assert.ok(Math.abs(gr[k]!) > 1e-5, `${n}: a gradient to check`);
      assert.ok(Math.abs(fd - gr[k]!) <= 2e-2 * Math.abs(gr[k]!) + 2e-4, `${n}[${k}]: analytic ${gr[k]} vs finite difference ${fd}`);
      checked++;
    }
    assert.ok(checked >= 3);
  });

  test(`LoRA reward model ${model}: training moves only adapters + head; PEFT folder loads back with identical scores`, async () => {
    const base = await CausalLM.load(fixture('models', model));
    const before = new Map(base.modelParamNames().map((n) => [n, base.params.get(n).data.slice()]));
    const { model: rm } = await trainBradleyTerry(base, PAIRS, PAIRS, { epochs: 2, batchSize: 2, lora: cfgOf(targets), seed: 4 });
    for (const [n, v] of before) assert.deepEqual(base.params.get(n).data, v, `${n} unchanged`);
    const bNames = rm.lora!.paramNames().filter((n) => n.endsWith('lora_B.weight'));
    assert.ok(bNames.some((n) => rm.params.get(n).data.some((x) => x !== 0)), 'adapters trained');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-lora-rm-'));
    await rm.saveAdapters(dir, 'tiny-base');
    const cfg = JSON.parse(await readFile(path.join(dir, 'adapter_config.json'), 'utf8'));
    assert.equal(cfg.task_type, 'SEQ_CLS'); assert.deepEqual(cfg.modules_to_save, ['score']); assert.equal(cfg.r, 4);
    const back = await RewardModel.loadAdapters(dir, base.config, base.params);
    assert.deepEqual(await back.score(SEQS), await rm.score(SEQS));
  });
}

test('LoRA ensemble: K members on one shared trunk train, save as trunk/ + PEFT member folders, and load back with identical scores', async () => {
  const { makeWorld } = await import('../../engine/worlds/index.js');
  const { trainEnsemble, loadEnsemble } = await import('../../engine/rlhf/ensemble-train.js');
  const world = makeWorld('goodhart-lab', {}, 0);
  const base = CausalLM.init(world.modelConfig(), 0);
  const rng = new Rng(5);
  const train = world.preferencePairs(64, rng), val = world.preferencePairs(32, rng);
  const r = await trainEnsemble(base, train, val, { method: 'lora', heads: 3, lora: { r: 2 }, reward: { epochs: 1, batchSize: 16, padId: world.padId } });
  assert.equal(r.ensemble.kind, 'lora');
  assert.equal(r.ensemble.K, 3);
  assert.equal(r.report!.accuracy.per_head.length, 3);
  assert.ok(r.report!.disagreement > 0);
  const seqs = pairRows(val.slice(0, 8));
  const want = await r.ensemble.score(seqs);
  // Members differ (own seed, own bootstrap resample) and share the trunk arrays of π₀.
  assert.ok(want.mu.some((row) => Math.abs(row[0]! - row[1]!) > 1e-6));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-lora-ens-'));
  await r.ensemble.save(dir);
  const meta = JSON.parse(await readFile(path.join(dir, 'rrlhf.json'), 'utf8'));
  assert.equal(meta.kind, 'lora'); assert.equal(meta.lora.r, 2); assert.deepEqual(meta.lora.targetModules, ['c_attn'], 'the family default (gpt2: c_attn)');
  const back = await loadEnsemble(dir);
  assert.equal(back.kind, 'lora');
  assert.deepEqual(await back.score(seqs), want);
});

test('spec ensemble.method lora: ensemble.lora defaults from the engine; the memory plan counts the same keys', async () => {
  const { parseSpec } = await import('../../engine/experiments/spec.js');
  const { DEFAULT_LORA_RANK } = await import('../../engine/models/memory.js');
  const { LORA_DEFAULTS } = await import('../../engine/models/lora.js');
  const s = parseSpec({ ensemble: { method: 'lora', heads: 3, lora: {} } });
  assert.deepEqual(s.ensemble.lora, { r: DEFAULT_LORA_RANK, alpha: LORA_DEFAULTS.alpha, dropout: LORA_DEFAULTS.dropout });
  assert.throws(() => parseSpec({ ensemble: { method: 'lora', lora: { rank: 2 } } }), /ensemble\.lora/);
});

test('a study with ensemble method lora runs end to end: every objective trains PPO on the members\' rewards', async () => {
  const { openStore } = await import('../../engine/store/index.js');
  const { parseSpec } = await import('../../engine/experiments/spec.js');
  const { runExperiment } = await import('../../engine/experiments/runner.js');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-lora-study-'));
  const store = openStore({ dataDir });
  try {
    const spec = parseSpec({
      sft: { samples: 256, epochs: 1, batchSize: 64 },
      ensemble: { method: 'lora', heads: 3, pairs: 256, valPairs: 64, lora: { r: 2 } },
      objectives: [{ name: 'standard', kind: 'single' }, { name: 'robust', kind: 'robust', lambda: 0.4 }, { name: 'wco', kind: 'wco' }],
      seeds: [0], ppo: { iterations: 4, batchSize: 16, miniBatches: 2, epochs: 2 }, eval: { every: 2, samples: 16 },
    }, 'test');
    const r = await runExperiment(spec, { store, dataDir });
    assert.deepEqual(r.runs.map((x) => [x.objective, x.status]), [['standard', 'finished'], ['robust', 'finished'], ['wco', 'finished']]);
    for (const x of r.runs) assert.ok(Number.isFinite(x.final.gold) && Number.isFinite(x.final.kl), JSON.stringify(x));
    const acc = (r.ensemble as { accuracy: { per_head: number[] } }).accuracy;
    assert.equal(acc.per_head.length, 3);
    // The objectives saw different rewards: the worst case is not the single member's.
    assert.notDeepEqual(r.runs[0]!.final, r.runs[2]!.final);
  } finally { store.close(); }
});

for (const { model } of CASES) {
  test(`LoRA reward model ${model}: one Bradley–Terry step's rewards, loss and adapter + score-head gradients match float64 PyTorch`, async () => {
    // test/reference/lora_reference.py wrote the PEFT SEQ_CLS folder (non-zero A, B and head) and expected.json.
    const dir = fixture('lora', `${model}-reward`);
    const exp = JSON.parse(await readFile(path.join(dir, 'expected.json'), 'utf8')) as { rows: number[][]; pad_id: number; pair_weight: number[]; rewards: number[]; loss: number; grads: Record<string, number[]> };
    const base = await CausalLM.load(fixture('models', model));
    const rm = await RewardModel.loadAdapters(dir, base.config, base.params);
    assert.deepEqual(Object.keys(exp.grads).sort(), rm.trainableNames().sort(), 'the reference covers every trainable tensor: A, B and the head');
    const wrt = rm.trainableNames();
    const g = new Graph('bt_step_parity');
    const p = storeInputs(g, rm.params);
    const { loss } = buildBtLoss(rm, g, p);
    const grads = grad(loss, wrt.map((n) => p[n]!));
    g.output('loss', loss);
    wrt.forEach((n, i) => g.output(`grad:${n}`, grads[i]!));
    const b = padRows(exp.rows, exp.pad_id);
    const r = await (await compile(g)).run({ ...storeFeeds(rm.params), input_ids: i64(b.ids, [b.B, b.T]), attention_mask: i64(b.mask, [b.B, b.T]), pair_weight: f32(exp.pair_weight, [exp.pair_weight.length]) });
    const maxDiff = (a: ArrayLike<number>, w: number[]) => w.reduce((m, x, i) => Math.max(m, Math.abs(a[i]! - x)), 0);
    const rewardErr = maxDiff(await rm.score(exp.rows), exp.rewards);
    assert.ok(rewardErr <= 1e-5, `max |reward − reference| = ${rewardErr}`);
    const l = r.loss!.data[0] as number;
    assert.ok(Math.abs(l - exp.loss) <= 1e-5 * exp.loss, `loss ${l} vs ${exp.loss}`);
    for (const [n, want] of Object.entries(exp.grads)) {
      const got = r[`grad:${n}`]!.data as Float32Array;
      const scale = Math.max(...want.map(Math.abs));
      const e = maxDiff(got, want);
      const sum = want.reduce((a, x) => a + Math.abs(x), 0), gotSum = got.reduce((a, x) => a + Math.abs(x), 0);
      assert.ok(scale > 1e-6, `${n}: the reference gradient is not trivially zero`);
      assert.ok(e <= 1e-4 * scale + 1e-8, `${n}: max |grad − reference| = ${e} (max |grad| ${scale})`);
      assert.ok(Math.abs(gotSum - sum) <= 1e-3 * sum, `${n}: Σ|grad| ${gotSum} vs ${sum}`);
    }
  });
}
