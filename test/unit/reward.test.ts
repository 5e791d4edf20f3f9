// Bradley–Terry reward models: the loss and its gradient against hand values, the pairing of the
// [2b, L] batch, learning a simple synthetic preference, save/load, determinism, and the SFT helper.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Graph, F } from '../../engine/graph/index.js';
import { grad } from '../../engine/autodiff/grad.js';
import { compile, f32, i64 } from '../../engine/runtime/session.js';
import { Rng } from '../../engine/runtime/params.js';
import { Trainer } from '../../engine/runtime/optim.js';
import { CausalLM } from '../../engine/models/model.js';
import { type Gpt2Config } from '../../engine/models/config.js';
import { type PreferencePair } from '../../engine/worlds/world.js';
import { RewardModel, trainBradleyTerry, btLoss, padRows, pairRows, storeInputs, splitPairs } from '../../engine/rlhf/reward.js';
import { sft, sftBatch } from '../../engine/rlhf/sft.js';

// A synthetic world: content tokens 0..7, prompts 8..9, BOS 10, EOS 11. Gold = count of token 3.
const BOS = 10, EOS = 11;
const cfg: Gpt2Config = { arch: 'gpt2', vocabSize: 12, nPositions: 16, d: 32, nLayer: 1, nHead: 2, eps: 1e-5, activation: 'gelu_new', bosTokenId: BOS, eosTokenId: EOS };
const response = (rng: Rng) => [...Array.from({ length: 6 }, () => (rng.uniform() < 0.25 ? 3 : rng.int(8))), EOS];
const gold = (r: number[]) => r.filter((t) => t === 3).length;
function pairs(n: number, rng: Rng): PreferencePair[] {
  const out: PreferencePair[] = [];
  while (out.length < n) {
    const prompt = [BOS, 8 + rng.int(2)], a = response(rng), b = response(rng);
    if (gold(a) === gold(b)) continue;
    out.push(gold(a) > gold(b) ? { prompt, chosen: a, rejected: b } : { prompt, chosen: b, rejected: a });
  }
  return out;
}
const dataRng = new Rng(1);
const TRAIN = pairs(300, dataRng), VAL = pairs(200, dataRng);
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const near = (a: number, b: number, tol: number, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

test('Bradley–Terry loss and gradient of a tiny case match hand values', async () => {
  const g = new Graph('bt');
  const rc = g.input('rc', 'float32', [3]), rr = g.input('rr', 'float32', [3]);
  const loss = F.mean(btLoss(rc, rr));
  const [gc, gr] = grad(loss, [rc, rr]);
  g.output('loss', loss); g.output('gc', gc!); g.output('gr', gr!);
  const c = await compile(g);
  const vc = [2, 0, -1], vr = [1, 0.5, 3];
  const r = await c.run({ rc: f32(vc, [3]), rr: f32(vr, [3]) });
  // −log σ(Δ) with Δ = 1, −0.5, −4; dL/dr_c = −σ(−Δ)/3, dL/dr_r = +σ(−Δ)/3.
  const d = vc.map((x, i) => x - vr[i]!);
  near(Number(r.loss!.data[0]), d.reduce((a, x) => a - Math.log(sigmoid(x)), 0) / 3, 1e-6, 'loss');
  d.forEach((x, i) => {
    near((r.gc!.data as Float32Array)[i]!, -sigmoid(-x) / 3, 1e-6, `gc[${i}]`);
    near((r.gr!.data as Float32Array)[i]!, sigmoid(-x) / 3, 1e-6, `gr[${i}]`);
  });
  // Large margins stay finite (softplus is computed stably).
  const big = await c.run({ rc: f32([100, -100, 0], [3]), rr: f32([-100, 100, 0], [3]) });
  near(Number(big.loss!.data[0]), (0 + 200 + Math.log(2)) / 3, 1e-4, 'stable loss');
});

test('the pair batch: chosen rows then rejected rows, left-padded, paired by the graph', async () => {
  const prs: PreferencePair[] = [{ prompt: [BOS, 8], chosen: [1, EOS], rejected: [2, 3, 4, EOS] }, { prompt: [BOS, 9], chosen: [5, 6, EOS], rejected: [7, EOS] }];
  const rows = pairRows(prs);
  assert.deepEqual(rows, [[BOS, 8, 1, EOS], [BOS, 9, 5, 6, EOS], [BOS, 8, 2, 3, 4, EOS], [BOS, 9, 7, EOS]]);
  const b = padRows(rows, EOS);
  assert.equal(b.T, 6);
  assert.deepEqual(b.ids.slice(0, 6), [EOS, EOS, BOS, 8, 1, EOS]);
  assert.deepEqual(b.mask.slice(0, 6), [0, 0, 1, 1, 1, 1]);

  // The trainer's first loss (before its update) equals the weighted BT loss computed by hand from the
  // model's own scores, and its gradient norm (head only) equals the hand gradient ‖Σ w·(−σ(−Δ))(h_c − h_r)‖/Σw.
  const rm = await RewardModel.fromPolicy(CausalLM.init(cfg, 3), EOS, 4);
  const w = [1, 3];
  const { reward, pooled } = await rm.features(rows);
  const d = cfg.d;
  const delta = [reward[0]! - reward[2]!, reward[1]! - reward[3]!];
  const hand = (w[0]! * -Math.log(sigmoid(delta[0]!)) + w[1]! * -Math.log(sigmoid(delta[1]!))) / 4;
  const gw = new Array<number>(d).fill(0);
  for (let i = 0; i < 2; i++) for (let j = 0; j < d; j++) gw[j]! += (w[i]! * -sigmoid(-delta[i]!) * (pooled[i * d + j]! - pooled[(i + 2) * d + j]!)) / 4;
  const t = await Trainer.create({
    params: rm.params, trainable: ['score.weight'], optimizer: { lr: 1e-3 },
    build: (g, p) => {
      const wt = g.input('pair_weight', 'float32', ['P']);
      const ids = g.input('input_ids', 'int64', ['2*P', 'T']);
      const mask = g.input('attention_mask', 'int64', ['2*P', 'T']);
      const r = rm.trace(g, p, ids, mask).reward;
      const [rc, rr] = splitPairs(r);
      const l = btLoss(rc, rr);
      return { loss: F.div(F.sum(F.mul(l, wt)), F.sum(wt)) };
    },
  });
  const step = await t.run({ input_ids: i64(b.ids, [4, b.T]), attention_mask: i64(b.mask, [4, b.T]), pair_weight: f32(w, [2]) });
  near(step.loss, hand, 1e-5, 'first-step loss');
  near(step.gradNorm, Math.hypot(...gw), 1e-5, 'head gradient norm');
});

test('a BT reward model learns a simple preference (count of a token) to > 85% held-out accuracy', async () => {
  const t0 = Date.now();
  const { model, metrics } = await trainBradleyTerry(CausalLM.init(cfg, 0), TRAIN, VAL, { epochs: 3, lr: 3e-3, seed: 0 });
  const secs = (Date.now() - t0) / 1000;
  console.log(`BT: val accuracy by epoch ${metrics.valAccuracyByEpoch.map((a) => a.toFixed(3)).join(', ')}; train ${metrics.trainAccuracy.toFixed(3)}; loss ${metrics.loss[0]!.toFixed(3)} → ${metrics.loss.at(-1)!.toFixed(3)}; ${secs.toFixed(1)} s`);
  assert.ok(metrics.valAccuracy > 0.85, `held-out accuracy ${metrics.valAccuracy}`);
  assert.equal(metrics.loss.length, metrics.steps);
  assert.equal(metrics.steps, 3 * Math.ceil(TRAIN.length / 32));
  assert.ok(metrics.loss.at(-1)! < metrics.loss[0]!);
  // More copies of token 3 score higher.
  const s = await model.score([[BOS, 8, 0, 1, 2, 4, 5, 6, EOS], [BOS, 8, 3, 1, 2, 4, 5, 6, EOS], [BOS, 8, 3, 1, 3, 4, 3, 6, EOS]]);
  assert.ok(s[0]! < s[1]! && s[1]! < s[2]!, `scores ${s}`);
  // Scoring does not depend on the batch split or on padding.
  const seqs = pairRows(VAL.slice(0, 20));
  const a = await model.score(seqs), b = await model.score(seqs, 7);
  a.forEach((x, i) => near(x, b[i]!, 1e-5, `score ${i}`));

  // save → load gives the same scores; the folder is a HF sequence-classification folder.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-rm-'));
  try {
    await model.save(dir);
    const hf = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(hf.architectures, ['GPT2ForSequenceClassification']);
    assert.equal(hf.num_labels, 1);
    const back = await RewardModel.load(dir);
    assert.equal(back.padId, EOS);
    assert.deepEqual(await back.score(seqs), a);
    assert.equal((back.info as { valAccuracy: number }).valAccuracy, metrics.valAccuracy);
    // A plain CausalLM load of the folder sees the trunk and leaves the head aside.
    const lm = await CausalLM.load(dir);
    assert.ok(lm.unusedTensors.some((n) => n.endsWith('score.weight')), String(lm.unusedTensors));
  } finally { await rm(dir, { recursive: true, force: true }); }
});

test('training is deterministic for a seed; another seed gives another model', async () => {
  const small = TRAIN.slice(0, 64), val = VAL.slice(0, 32);
  const opts = { epochs: 1, batchSize: 16, lr: 3e-3 };
  const init = CausalLM.init(cfg, 7);
  const a = await trainBradleyTerry(init, small, val, { ...opts, seed: 5 });
  const b = await trainBradleyTerry(init, small, val, { ...opts, seed: 5 });
  const c = await trainBradleyTerry(init, small, val, { ...opts, seed: 6 });
  assert.deepEqual(a.metrics.loss, b.metrics.loss);
  const seqs = pairRows(val);
  const sa = await a.model.score(seqs), sb = await b.model.score(seqs), sc = await c.model.score(seqs);
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
  // The starting policy is copied, not trained in place.
  assert.deepEqual(init.params.get('transformer.h.0.attn.c_attn.weight').data, CausalLM.init(cfg, 7).params.get('transformer.h.0.attn.c_attn.weight').data);
  // trainTrunk: false trains only the head.
  const h = await trainBradleyTerry(init, small, val, { ...opts, seed: 5, trainTrunk: false });
  assert.deepEqual(h.model.params.get('transformer.wte.weight').data, init.params.get('transformer.wte.weight').data);
  assert.notDeepEqual(h.model.params.get('score.weight').data, (await RewardModel.fromPolicy(init, EOS, new Rng(5).nextU32())).params.get('score.weight').data);
});

test('sft: response-only loss mask, and the loss falls', async () => {
  const b = sftBatch([{ prompt: [BOS, 8], response: [1, EOS] }, { prompt: [BOS, 9], response: [2, 3, EOS] }], EOS);
  assert.equal(b.T, 5);
  assert.deepEqual(b.ids, [EOS, BOS, 8, 1, EOS, BOS, 9, 2, 3, EOS]);
  assert.deepEqual(b.mask, [0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(b.lossMask, [0, 0, 0, 1, 1, 0, 0, 1, 1, 1]);
  // A deterministic behaviour per prompt: prompt 8 → 1 2 3 4 5 6, prompt 9 → 6 5 4 3 2 1.
  const samples = Array.from({ length: 64 }, (_, i) => ({ prompt: [BOS, 8 + (i % 2)], response: [...(i % 2 ? [6, 5, 4, 3, 2, 1] : [1, 2, 3, 4, 5, 6]), EOS] }));
  const m = CausalLM.init(cfg, 2);
  const r = await sft(m, samples, { epochs: 10, batchSize: 16, lr: 1e-2 });
  assert.equal(r.losses.length, 40);
  assert.ok(r.losses[0]! > 2 && r.finalLoss < 0.1, `sft loss ${r.losses[0]} → ${r.finalLoss}`);
  // Greedy continuation reproduces the behaviour (the LM head was trained through the trunk).
  const g = new Graph('next');
  const p = storeInputs(g, m.params);
  const ids = g.input('ids', 'int64', ['B', 'T']), mask = g.input('mask', 'int64', ['B', 'T']);
  g.output('next', F.argmax(m.arch.lmHead(p, m.config, m.trace(g, p, ids, mask).hidden), -1));
  const c = await compile(g);
  const feeds: Record<string, ReturnType<typeof f32>> = {};
  for (const [n, prm] of m.params.entries()) feeds[n] = f32(prm.data, prm.shape);
  const out = await c.run({ ...feeds, ids: i64([BOS, 9, 6, 5], [1, 4]), mask: i64([1, 1, 1, 1], [1, 4]) });
  // Position 0 (BOS → prompt id) is never a target; positions 1..3 continue the behaviour.
  assert.deepEqual(Array.from(out.next!.data as BigInt64Array, Number).slice(1), [6, 5, 4]);
});
