// Reward-model ensembles: the stage-2 losses against hand values, BRME scoring (shapes, `single` equal
// to the stage-1 model), the known weakness of the plain MSE stage and what the diversity options do,
// independent ensembles, save/load round trips, determinism, and the quality report.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Graph, F } from '../../engine/graph/index.js';
import { compile, f32, i64 } from '../../engine/runtime/session.js';
import { ParamStore, Rng } from '../../engine/runtime/params.js';
import { CausalLM } from '../../engine/models/model.js';
import { type Gpt2Config } from '../../engine/models/config.js';
import { brmeHead, brmeHeadParams } from '../../engine/models/heads.js';
import { type PreferencePair } from '../../engine/worlds/world.js';
import { trainBradleyTerry, pairRows, storeInputs } from '../../engine/rlhf/reward.js';
import { type EnsembleScores } from '../../engine/rlhf/ensemble.js';
import { stage2PairLoss, stage2Targets, brmeFromPooled, trainBrme, bootstrapWeights, lastLayerNames, BrmeEnsemble, type Stage2Loss } from '../../engine/rlhf/brme.js';
import { trainIndependent, IndependentEnsemble } from '../../engine/rlhf/independent.js';
import { trainEnsemble, loadEnsemble } from '../../engine/rlhf/ensemble-train.js';
import { evaluateEnsemble, reportFromScores } from '../../engine/rlhf/ensemble-quality.js';
import { memberStd } from '../../engine/rlhf/aggregate.js';

// The synthetic world of reward.test.ts (gold = count of token 3), with 15% of labels flipped so that
// the models make errors for the report to correlate with.
const BOS = 10, EOS = 11;
const cfg: Gpt2Config = { arch: 'gpt2', vocabSize: 12, nPositions: 16, d: 32, nLayer: 1, nHead: 2, eps: 1e-5, activation: 'gelu_new', bosTokenId: BOS, eosTokenId: EOS };
const response = (rng: Rng) => [...Array.from({ length: 6 }, () => (rng.uniform() < 0.25 ? 3 : rng.int(8))), EOS];
const gold = (r: number[]) => r.filter((t) => t === 3).length;
function pairs(n: number, rng: Rng, flip: number): PreferencePair[] {
  const out: PreferencePair[] = [];
  while (out.length < n) {
    const prompt = [BOS, 8 + rng.int(2)], a = response(rng), b = response(rng);
    if (gold(a) === gold(b)) continue;
    const aWins = (gold(a) > gold(b)) !== (rng.uniform() < flip);
    out.push(aWins ? { prompt, chosen: a, rejected: b } : { prompt, chosen: b, rejected: a });
  }
  return out;
}
const dataRng = new Rng(2);
const TRAIN = pairs(300, dataRng, 0.15), VAL = pairs(200, dataRng, 0);
const INIT = CausalLM.init(cfg, 0);
const STAGE1 = (await trainBradleyTerry(INIT, TRAIN, VAL, { epochs: 3, lr: 3e-3, seed: 0 })).model;

const near = (a: number, b: number, tol: number, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
const softplus = (x: number) => Math.log1p(Math.exp(x));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('stage-2 losses for fixed μ, σ, ε, t equal the hand formulas', async () => {
  const P = 2, K = 2;
  const v = {
    muC: [0.5, -1, 2, 0.25], lsC: [0.1, -0.3, 0.2, 0], muR: [-0.5, 1.5, 0, 0.75], lsR: [-0.2, 0.4, 0, 0.3],
    tc: [2, -1], tr: [-2, 1], ec: [0.3, -1.2, 0.7, 0.1], er: [-0.4, 0.9, 0, -2],
  };
  const g = new Graph('s2');
  const inp = (n: keyof typeof v, shape: (number)[]) => g.input(n, 'float32', shape);
  const hc = { mu: inp('muC', [P, K]), logStd: inp('lsC', [P, K]) }, hr = { mu: inp('muR', [P, K]), logStd: inp('lsR', [P, K]) };
  const s = { tc: inp('tc', [P]), tr: inp('tr', [P]), ec: inp('ec', [P, K]), er: inp('er', [P, K]) };
  for (const k of ['mse', 'gaussian_nll', 'bt_gaussian', 'bt_per_head'] as Stage2Loss[]) g.output(k, stage2PairLoss(k, hc, hr, s));
  g.output('bt_gaussian_probit', stage2PairLoss('bt_gaussian', hc, hr, s, 'probit'));
  const c = await compile(g);
  const feeds: Record<string, ReturnType<typeof f32>> = {};
  for (const [n, a] of Object.entries(v)) feeds[n] = f32(a, n.startsWith('t') ? [P] : [P, K]);
  const r = await c.run(feeds);
  for (let i = 0; i < P; i++) for (let k = 0; k < K; k++) {
    const j = i * K + k;
    const mc = v.muC[j]!, mr = v.muR[j]!, sc = Math.exp(v.lsC[j]!), sr = Math.exp(v.lsR[j]!), tc = v.tc[i]!, tr = v.tr[i]!;
    const mse = (mc + sc * v.ec[j]! - tc) ** 2 + (mr + sr * v.er[j]! - tr) ** 2;
    const nll = 0.5 * Math.log(sc ** 2) + (tc - mc) ** 2 / (2 * sc ** 2) + 0.5 * Math.log(sr ** 2) + (tr - mr) ** 2 / (2 * sr ** 2);
    const z = mc - mr + Math.sqrt(sc ** 2 + sr ** 2) * v.ec[j]!;
    const probit = softplus(-(mc - mr) / Math.sqrt(1 + (Math.PI * (sc ** 2 + sr ** 2)) / 8));
    near((r.mse!.data as Float32Array)[j]!, mse, 1e-5, `mse[${i},${k}]`);
    near((r.gaussian_nll!.data as Float32Array)[j]!, nll, 1e-5, `nll[${i},${k}]`);
    near((r.bt_gaussian!.data as Float32Array)[j]!, softplus(-z), 1e-5, `bt_gaussian[${i},${k}]`);
    near((r.bt_gaussian_probit!.data as Float32Array)[j]!, probit, 1e-5, `probit[${i},${k}]`);
    near((r.bt_per_head!.data as Float32Array)[j]!, softplus(-(mc - mr)) + probit, 1e-5, `bt_per_head[${i},${k}]`);
  }
  // Targets: p = σ(r_c − r_r), t_c = α(p − ½), t_r = α((1 − p) − ½).
  const t = stage2Targets(1.2, 0.2, 10), p = 1 / (1 + Math.exp(-1));
  near(t.tc, 10 * (p - 0.5), 1e-12, 't_c'); near(t.tr, 10 * (0.5 - p), 1e-12, 't_r');
});

test('the BRME head on pooled states equals models/heads.ts brmeHead', async () => {
  const rng = new Rng(3), store = new ParamStore();
  const hc = { heads: 3, width: 4, tau: 10, activation: 'tanh' as const };
  for (const s of brmeHeadParams(5, hc)) store.add(s.name, s.shape, s.init, rng);
  store.set('brme.log_std.bias', Float32Array.from([0.5, -1, 2]));
  const g = new Graph('heads');
  const p = storeInputs(g, store);
  const h = g.input('h', 'float32', ['B', 'T', 5]), m = g.input('m', 'int64', ['B', 'T']);
  const ref = brmeHead(g, p, h, m, hc);
  const pooled = F.squeeze(F.slice(h, 1, -1, null), 1);
  const ours = brmeFromPooled(p, pooled, hc);
  g.output('mu_ref', ref.mu); g.output('sigma_ref', ref.sigma); g.output('mu', ours.mu); g.output('sigma', ours.sigma);
  const c = await compile(g);
  const feeds: Record<string, ReturnType<typeof f32>> = {};
  for (const [n, prm] of store.entries()) feeds[n] = f32(prm.data, prm.shape);
  const r = await c.run({ ...feeds, h: f32(Array.from({ length: 2 * 3 * 5 }, () => rng.normal()), [2, 3, 5]), m: i64([1, 1, 1, 1, 1, 1], [2, 3]) });
  assert.deepEqual(r.mu!.data, r.mu_ref!.data);
  assert.deepEqual(r.sigma!.data, r.sigma_ref!.data);
});

test('BRME: score shapes, σ > 0, and `single` is the stage-1 model\'s own reward', async () => {
  const { ensemble, metrics } = await trainBrme(STAGE1, TRAIN, VAL, { heads: 4, epochs: 5, seed: 1 });
  assert.equal(ensemble.K, 4);
  assert.equal(metrics.loss.length, 5 * Math.ceil(TRAIN.length / 64));
  const seqs = pairRows(VAL.slice(0, 25)); // 50 sequences
  const s = await ensemble.score(seqs, 16);
  assert.equal(s.mu.length, 50); assert.equal(s.sigma!.length, 50); assert.equal(s.single.length, 50);
  s.mu.forEach((row) => assert.equal(row.length, 4));
  s.sigma!.flat().forEach((x) => assert.ok(x > 0));
  const r1 = await STAGE1.score(seqs);
  s.single.forEach((x, i) => near(x, r1[i]!, 1e-5, `single[${i}]`));
  // The stage-1 view shares the tensors and scores the same.
  assert.deepEqual(await ensemble.stage1().score(seqs), r1);
  // Heads are centred over the training sequences (normalizeHeads 'center', folded into the biases).
  const onTrain = await ensemble.score(pairRows(TRAIN));
  for (let k = 0; k < 4; k++) near(mean(onTrain.mu.map((r) => r[k]!)), 0, 1e-3, `train mean of head ${k}`);
  // 'standardize' also gives each head unit std there, and σ scales with μ.
  const st = await trainBrme(STAGE1, TRAIN, [], { heads: 4, epochs: 5, seed: 1, normalizeHeads: 'standardize' });
  const raw = await trainBrme(STAGE1, TRAIN, [], { heads: 4, epochs: 5, seed: 1, normalizeHeads: 'none' });
  const a = await st.ensemble.score(pairRows(TRAIN)), b = await raw.ensemble.score(pairRows(TRAIN));
  for (let k = 0; k < 4; k++) {
    const col = a.mu.map((r) => r[k]!), colRaw = b.mu.map((r) => r[k]!);
    near(mean(col), 0, 1e-3, `standardized mean ${k}`);
    const sd = Math.sqrt(mean(col.map((x) => x * x))), sdRaw = Math.sqrt(mean(colRaw.map((x) => (x - mean(colRaw)) ** 2)));
    near(sd, 1, 1e-3, `standardized std ${k}`);
    near(a.sigma![0]![k]!, b.sigma![0]![k]! / sdRaw, 1e-4, `σ scaled ${k}`);
  }
  // The report came with training, on the held-out pairs.
  const rep = metrics.report!;
  assert.equal(rep.pairs, VAL.length);
  assert.equal(rep.accuracy.per_head.length, 4);
  assert.ok(rep.accuracy.single > 0.85, `stage-1 held-out accuracy ${rep.accuracy.single}`);
  assert.ok(rep.accuracy.mean > 0.8, `mean-head accuracy ${rep.accuracy.mean}`);
});

test('known weakness: with the plain MSE stage σ shrinks and the heads stay close; bootstrap + anchor + per-head BT spread them', async () => {
  const base = { heads: 5, seed: 0 };
  const plain = await trainBrme(STAGE1, TRAIN, VAL, { ...base, stage2Loss: 'mse' });
  const diverse = await trainBrme(STAGE1, TRAIN, VAL, { ...base, stage2Loss: 'bt_per_head', bootstrap: true, anchor: 0.1 });
  const a = plain.metrics, b = diverse.metrics;
  const line = (n: string, m: typeof a) => `${n}: σ ${m.sigmaMean[0]!.toFixed(3)} → ${m.report!.sigma!.mean.toFixed(3)} (min ${m.report!.sigma!.min.toFixed(3)}), disagreement ${m.report!.disagreement.toFixed(4)} (relative ${m.report!.relative_disagreement.toFixed(4)}), pair disagreement ${m.report!.pair_disagreement.toFixed(4)}, accuracy mean ${m.report!.accuracy.mean.toFixed(3)} nominal ${m.report!.accuracy.nominal.toFixed(3)} min ${m.report!.accuracy.min.toFixed(3)}`;
  console.log(line('plain MSE', a));
  console.log(line('bt_per_head + bootstrap + anchor 0.1', b));
  // σ shrinks under MSE (E[(μ + σε − t)²] = (μ − t)² + σ²).
  assert.ok(a.report!.sigma!.mean < 0.5 * a.sigmaMean[0]!, `σ ${a.sigmaMean[0]} → ${a.report!.sigma!.mean}`);
  assert.ok(mean(a.sigmaMean.slice(-5)) < mean(a.sigmaMean.slice(0, 5)));
  // Heads stay close under MSE (relative to the reward's scale) and disagree clearly more with the options.
  assert.ok(a.report!.relative_disagreement < 0.05, `plain relative disagreement ${a.report!.relative_disagreement}`);
  assert.ok(b.report!.relative_disagreement > 3 * a.report!.relative_disagreement, `ratio ${b.report!.relative_disagreement / a.report!.relative_disagreement}`);
  // Gaussian NLL keeps σ away from 0 (σ² fits the squared residual).
  const nll = await trainBrme(STAGE1, TRAIN, [], { ...base, stage2Loss: 'gaussian_nll', epochs: 10 });
  assert.ok(nll.metrics.sigmaMean.at(-1)! > a.sigmaMean.at(-1)!, `nll σ ${nll.metrics.sigmaMean.at(-1)} vs mse σ ${a.sigmaMean.at(-1)}`);
});

test('BRME with the last trunk layer unfrozen trains copies of it; the stage-1 trunk and `single` are untouched', async () => {
  assert.deepEqual(lastLayerNames(cfg, 1), [
    'transformer.h.0.ln_1.weight', 'transformer.h.0.ln_1.bias', 'transformer.h.0.attn.c_attn.weight', 'transformer.h.0.attn.c_attn.bias',
    'transformer.h.0.attn.c_proj.weight', 'transformer.h.0.attn.c_proj.bias', 'transformer.h.0.ln_2.weight', 'transformer.h.0.ln_2.bias',
    'transformer.h.0.mlp.c_fc.weight', 'transformer.h.0.mlp.c_fc.bias', 'transformer.h.0.mlp.c_proj.weight', 'transformer.h.0.mlp.c_proj.bias',
    'transformer.ln_f.weight', 'transformer.ln_f.bias',
  ]);
  const before = STAGE1.params.get('transformer.h.0.attn.c_attn.weight').data.slice();
  const { ensemble, metrics } = await trainBrme(STAGE1, TRAIN.slice(0, 128), [], { heads: 3, unfreezeLastLayers: 1, epochs: 2, batchSize: 32, seed: 2 });
  assert.equal(metrics.loss.length, 8);
  assert.ok(metrics.loss.at(-1)! < metrics.loss[0]!, `loss ${metrics.loss[0]} → ${metrics.loss.at(-1)}`);
  assert.deepEqual(STAGE1.params.get('transformer.h.0.attn.c_attn.weight').data, before);
  assert.notDeepEqual(ensemble.params.get('brme.trunk.transformer.h.0.attn.c_attn.weight').data, before);
  const seqs = pairRows(VAL.slice(0, 10));
  const s = await ensemble.score(seqs);
  const r1 = await STAGE1.score(seqs);
  s.single.forEach((x, i) => near(x, r1[i]!, 1e-5, `single[${i}]`));
  // save → load keeps the copies.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-brme-u-'));
  try {
    await ensemble.save(dir);
    const back = await loadEnsemble(dir);
    assert.deepEqual(await back.score(seqs), s);
  } finally { await rm(dir, { recursive: true, force: true }); }
});

test('independent ensemble: K members, no σ, single = the nominal member; save → load round trip', async () => {
  const small = TRAIN.slice(0, 96), val = VAL.slice(0, 40);
  const { ensemble, metrics } = await trainIndependent(INIT, small, val, 3, { epochs: 2, lr: 3e-3, seed: 4 });
  assert.equal(ensemble.kind, 'independent');
  assert.equal(ensemble.K, 3);
  assert.equal(metrics.members.length, 3);
  const seqs = pairRows(val.slice(0, 8));
  const s = await ensemble.score(seqs);
  assert.equal(s.sigma, undefined);
  s.mu.forEach((row) => assert.equal(row.length, 3));
  assert.deepEqual(s.single, await ensemble.members[0]!.score(seqs));
  // μ_k is member k's reward centred over the training sequences (normalizeMembers 'center').
  const raw2 = await ensemble.members[2]!.score(seqs);
  s.mu.forEach((r, i) => near(r[2]!, raw2[i]! - ensemble.normalization.shift[2]!, 1e-9, `μ[${i}][2]`));
  assert.deepEqual(ensemble.normalization.scale, [1, 1, 1]);
  const onTrain = await ensemble.score(pairRows(small));
  for (let k = 0; k < 3; k++) near(mean(onTrain.mu.map((r) => r[k]!)), 0, 1e-4, `train mean of member ${k}`);
  // Members differ (seeds and bootstrap resamples).
  assert.notDeepEqual(s.mu.map((r) => r[0]), s.mu.map((r) => r[1]));
  // eval/member_std is the members' spread on what they score: nonzero for these members, 0 for a copy of one member.
  assert.ok(memberStd(s.mu) > 1e-6, `member std ${memberStd(s.mu)}`);
  const twins = new IndependentEnsemble([ensemble.members[1]!, ensemble.members[1]!]);
  assert.equal(memberStd((await twins.score(seqs)).mu), 0, 'identical members');
  const rep = metrics.report!;
  assert.equal(rep.sigma, null);
  assert.equal(rep.accuracy.nominal, rep.accuracy.per_head[0]);
  assert.equal(rep.accuracy.single, rep.accuracy.per_head[0]);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-ind-'));
  try {
    await ensemble.save(dir);
    const back = await loadEnsemble(dir);
    assert.ok(back instanceof IndependentEnsemble);
    assert.deepEqual(await back.score(seqs), s);
    // A single reward-model folder loads as a one-member ensemble.
    const one = await loadEnsemble(path.join(dir, 'member-1'));
    assert.equal(one.K, 1);
    assert.deepEqual((await one.score(seqs)).single, await ensemble.members[1]!.score(seqs));
    // rrlhf.json may only name member folders inside the ensemble's folder.
    const meta = JSON.parse(await readFile(path.join(dir, 'rrlhf.json'), 'utf8'));
    for (const members of [['../elsewhere'], [path.join(dir, 'member-0')], [], 'member-0', [3]]) {
      await writeFile(path.join(dir, 'rrlhf.json'), JSON.stringify({ ...meta, members }));
      await assert.rejects(IndependentEnsemble.load(dir), /rrlhf\.json: "members" must name the ensemble's member folders inside it/, JSON.stringify(members));
    }
  } finally { await rm(dir, { recursive: true, force: true }); }
});

test('BRME save → load gives identical scores; training is deterministic for a seed', async () => {
  const opts = { heads: 3, epochs: 3, stage2Loss: 'bt_gaussian' as const, bootstrap: true, anchor: 0.05 };
  const a = await trainBrme(STAGE1, TRAIN, [], { ...opts, seed: 9 });
  const b = await trainBrme(STAGE1, TRAIN, [], { ...opts, seed: 9 });
  const c = await trainBrme(STAGE1, TRAIN, [], { ...opts, seed: 10 });
  assert.deepEqual(a.metrics.loss, b.metrics.loss);
  const seqs = pairRows(VAL.slice(0, 12));
  const sa = await a.ensemble.score(seqs);
  assert.deepEqual(await b.ensemble.score(seqs), sa);
  assert.notDeepEqual((await c.ensemble.score(seqs)).mu, sa.mu);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-brme-'));
  try {
    await a.ensemble.save(dir);
    const back = await loadEnsemble(dir);
    assert.ok(back instanceof BrmeEnsemble);
    assert.equal(back.K, 3);
    assert.deepEqual(await back.score(seqs), sa);
    assert.deepEqual((back.info.config as { stage2Loss: string }).stage2Loss, 'bt_gaussian');
  } finally { await rm(dir, { recursive: true, force: true }); }
});

test('trainEnsemble runs stage 1 then stage 2 from a policy', async () => {
  const r = await trainEnsemble(INIT, TRAIN.slice(0, 64), VAL.slice(0, 32), { method: 'brme', heads: 2, reward: { epochs: 1, lr: 3e-3 }, brme: { epochs: 2 } });
  assert.equal(r.ensemble.kind, 'brme');
  assert.equal(r.ensemble.K, 2);
  assert.equal(r.report!.pairs, 32);
  assert.equal(r.stage1!.steps, 2);
  const seqs = pairRows(VAL.slice(0, 4));
  assert.deepEqual((await r.ensemble.score(seqs)).single, await r.single.score(seqs));
});

test('report: accuracies, nominal by argmin σ, disagreement, calibration and ECE on hand-made scores', () => {
  // Two pairs, two heads. Pair 0: head 0 right (2 > 1), head 1 wrong (0 < 3). Pair 1: both right.
  const c: EnsembleScores = { mu: [[2, 0], [1, 4]], sigma: [[0.1, 0.5], [0.9, 0.2]], single: [5, 1] };
  const r: EnsembleScores = { mu: [[1, 3], [0, 2]], sigma: [[0.3, 0.2], [0.4, 0.4]], single: [4, 1] };
  const rep = reportFromScores(c, r, { bins: 2 });
  assert.deepEqual(rep.accuracy.per_head, [1, 0.5]);
  assert.equal(rep.accuracy.single, 0.75); // pair 1 is a tie (½)
  // mean margins: pair 0: 1 − 2 = −1 (wrong); pair 1: 2.5 − 1 = 1.5 (right)
  assert.equal(rep.accuracy.mean, 0.5);
  // nominal: pair 0 chosen → head 0 (σ 0.1) = 2, rejected → head 1 (σ 0.2) = 3 → wrong; pair 1: 4 vs 0 (tie on σ → head 0) → right
  assert.equal(rep.accuracy.nominal, 0.5);
  // min: pair 0: 0 vs 1 wrong; pair 1: 1 vs 0 right
  assert.equal(rep.accuracy.min, 0.5);
  near(rep.disagreement, mean([1, 1.5, 1, 1]), 1e-12, 'disagreement');
  near(rep.pair_disagreement, mean([2, 0.5]), 1e-12, 'pair disagreement');
  near(rep.sigma!.mean, mean([0.1, 0.5, 0.3, 0.2, 0.9, 0.2, 0.4, 0.4]), 1e-12, 'σ mean');
  assert.equal(rep.sigma!.min, 0.1); assert.equal(rep.sigma!.max, 0.9);
  // Calibration, both orders: p = σ(−1) with y = 1, 1 − p with y = 0, σ(1.5) with 1, 1 − σ(1.5) with 0.
  const p0 = 1 / (1 + Math.exp(1)), p1 = 1 / (1 + Math.exp(-1.5));
  const [lo, hi] = rep.calibration.bins;
  assert.equal(lo!.count, 2); assert.equal(hi!.count, 2);
  near(lo!.predicted, (p0 + (1 - p1)) / 2, 1e-12, 'low bin'); near(lo!.empirical, 0.5, 1e-12, 'low bin rate');
  near(rep.calibration.ece, 0.5 * Math.abs((p0 + 1 - p1) / 2 - 0.5) + 0.5 * Math.abs((1 - p0 + p1) / 2 - 0.5), 1e-12, 'ECE');
  // The wrong pair (0) has the larger margin std (2 vs 0.5): correlation +1 with two points.
  near(rep.std_error_correlation!, 1, 1e-12, 'std/error correlation');
  // Soft targets (e.g. gold preference probabilities) replace the hard labels in calibration.
  const soft = reportFromScores(c, r, { bins: 2, targets: [0.3, 0.8] });
  near(soft.calibration.bins[0]!.empirical, (0.3 + 0.2) / 2, 1e-12, 'soft rate');
});

test('evaluateEnsemble on other labelled pairs (out of distribution) and bootstrap weights', async () => {
  const ens = new IndependentEnsemble([STAGE1]);
  // Policy-like samples that repeat token 3 beyond anything in the data, labelled by gold.
  const ood: PreferencePair[] = [
    { prompt: [BOS, 8], chosen: [3, 3, 3, 3, 3, 3, EOS], rejected: [0, 1, 2, 4, 5, 6, EOS] },
    { prompt: [BOS, 9], chosen: [3, 3, 1, 3, 3, 2, EOS], rejected: [3, 1, 2, 4, 5, 6, EOS] },
  ];
  const rep = await evaluateEnsemble(ens, ood);
  assert.equal(rep.pairs, 2);
  assert.equal(rep.accuracy.single, 1);
  // Poisson(1) weights have mean ≈ 1; multinomial counts sum to N per head.
  const w = bootstrapWeights(2000, 3, 'poisson', new Rng(1));
  near(mean(Array.from(w)), 1, 0.05, 'poisson mean');
  const mw = bootstrapWeights(100, 4, 'multinomial', new Rng(1));
  for (let k = 0; k < 4; k++) { let s = 0; for (let i = 0; i < 100; i++) s += mw[i * 4 + k]!; assert.equal(s, 100); }
});
