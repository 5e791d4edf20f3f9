// Mixed precision (docs/engine.md § Mixed precision) on CPU, where ONNX Runtime runs float16 nodes: the
// autocast trace puts every matmul in float16 and norms, softmax, losses and reductions in float32; the
// loss and gradients of every family's tiny HF fixture stay within float16's rounding of float32's; a
// Trainer keeps float32 master weights; fp16's loss scaling skips an overflowing step without touching
// the weights or AdamW's step, halves the scale, and the next finite step applies. What the CPU cannot
// show: ONNX Runtime's CPU provider has no float16 MatMul on x86 and runs it in float32, removing the casts
// around it, so these tolerances bound float16's effect from above; the numerics of real 16-bit matmuls
// are checked on CUDA (scripts/gpu).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fixture, repoRoot } from '../util/paths.js';
import { openStore } from '../../engine/store/index.js';
import { metricsOf, killWhen } from '../util/run-metrics.js';
import { CausalLM } from '../../engine/models/model.js';
import { Graph, F, isHalf } from '../../engine/graph/index.js';
import { grad } from '../../engine/autodiff/grad.js';
import { compile, i64, f32 } from '../../engine/runtime/session.js';
import { Trainer } from '../../engine/runtime/optim.js';
import { ParamStore } from '../../engine/runtime/params.js';
import { LossScaler } from '../../engine/runtime/precision.js';
import { RewardModel, buildBtLoss, trainBradleyTerry, storeInputs } from '../../engine/rlhf/reward.js';
import { trainEnsemble } from '../../engine/rlhf/ensemble-train.js';
import { type BrmeEnsemble } from '../../engine/rlhf/brme.js';
import { type IndependentEnsemble } from '../../engine/rlhf/independent.js';
import { type PreferencePair } from '../../engine/worlds/world.js';

const IDS = [[3, 17, 42, 5, 88, 1, 60, 9], [70, 2, 2, 31, 14, 55, 8, 90]];
const MODELS = ['gpt2-tiny', 'llama-tiny-gqa', 'pythia-tiny', 'gemma2-tiny', 'qwen3-tiny'];

function lmGraph(m: CausalLM, half: 'float16' | null, recompute = false) {
  const g = new Graph(`lm_${half ?? 'fp32'}`);
  const p = m.paramInputs(g);
  const ids = g.input('input_ids', 'int64', ['B', 'T']), mask = g.input('attention_mask', 'int64', ['B', 'T']);
  m.precision = half ? 'fp16' : 'fp32'; // trace() puts the graph under the model's autocast
  const { hidden } = m.trace(g, p, ids, mask, { train: true });
  const loss = CausalLM.lmLoss(m.arch.lmHead(p, m.config, hidden), ids);
  g.autocast = null;
  g.output('loss', loss);
  const names = m.params.names();
  const forwardEnd = g.nodes.length;
  grad(loss, names.map((n) => p[n]!), { recompute }).forEach((t, i) => g.output(`grad:${names[i]}`, t));
  return { g, names, forwardEnd };
}

const FLOAT32_OPS = new Set(['layer_norm', 'rms_norm', 'softmax', 'log_softmax', 'softmax_cross_entropy', 'sum', 'mean']);

for (const model of MODELS) {
  test(`mixed precision ${model}: float16 matmuls, float32 norms and losses; loss and gradients within float16 rounding of float32`, async () => {
    const m = await CausalLM.load(fixture('models', model));
    const ref = lmGraph(m, null), mp = lmGraph(m, 'float16');
    const forward = mp.g.live().filter((n) => mp.g.nodes.indexOf(n) < mp.forwardEnd);
    const matmuls = forward.filter((n) => n.op.name === 'matmul');
    assert.ok(matmuls.length >= 4 * m.config.nLayer, `${model}: ${matmuls.length} matmuls`);
    for (const n of matmuls) assert.ok(n.inputs.every((x) => x.dtype === 'float16'), `${model}: a matmul reads ${n.inputs.map((x) => x.dtype).join(' × ')}`);
    for (const n of forward.filter((x) => FLOAT32_OPS.has(x.op.name))) assert.equal(n.inputs[0]!.dtype, 'float32', `${model}: ${n.op.name} runs in float32`);
    // The backward pass has half nodes too (the matmuls' gradients), and every parameter gradient is float32.
    assert.ok(mp.g.live().some((n) => mp.g.nodes.indexOf(n) >= mp.forwardEnd && n.op.name === 'matmul' && isHalf(n.outputs[0]!.dtype)));
    for (const n of mp.names) assert.equal(mp.g.outputs.get(`grad:${n}`)!.dtype, 'float32');

    const feeds = { ...m.paramFeeds(), input_ids: i64(IDS.flat(), [2, 8]), attention_mask: i64(IDS.flat().map(() => 1), [2, 8]) };
    const [a, b] = await Promise.all([compile(ref.g), compile(mp.g)]).then(([x, y]) => Promise.all([x.run(feeds), y.run(feeds)]));
    const la = a.loss!.data[0] as number, lb = b.loss!.data[0] as number;
    assert.ok(la !== lb, `${model}: float16 changes the loss at all (${la})`);
    assert.ok(Math.abs(la - lb) <= 5e-3 * Math.abs(la), `${model}: loss ${lb} vs float32 ${la}`);
    // Per tensor: the float16 gradient's error relative to that tensor's largest float32 entry.
    let worst = 0;
    for (const n of ref.names) {
      const ga = a[`grad:${n}`]!.data as Float32Array, gb = b[`grad:${n}`]!.data as Float32Array;
      let scale = 0, err = 0;
      for (let i = 0; i < ga.length; i++) { scale = Math.max(scale, Math.abs(ga[i]!)); err = Math.max(err, Math.abs(ga[i]! - gb[i]!)); }
      if (scale > 0) worst = Math.max(worst, err / scale);
    }
    assert.ok(worst > 0 && worst < 3e-2, `${model}: worst gradient error ${worst.toExponential(2)} of the tensor's largest entry`);
  });
}

test('mixed precision with gradient checkpointing: the recomputed layers give the same gradients as kept ones', async () => {
  const m = await CausalLM.load(fixture('models', 'llama-tiny-gqa'));
  const kept = lmGraph(m, 'float16'), ckpt = lmGraph(m, 'float16', true);
  const feeds = { ...m.paramFeeds(), input_ids: i64(IDS.flat(), [2, 8]), attention_mask: i64(IDS.flat().map(() => 1), [2, 8]) };
  const [a, b] = await Promise.all([compile(kept.g), compile(ckpt.g)]).then(([x, y]) => Promise.all([x.run(feeds), y.run(feeds)]));
  // ONNX Runtime optimises the two graphs differently, so equal up to float32 rounding, not bit for bit.
  assert.ok(Math.abs((a.loss!.data[0] as number) - (b.loss!.data[0] as number)) <= 1e-5 * (a.loss!.data[0] as number));
  for (const n of kept.names) {
    const ga = a[`grad:${n}`]!.data as Float32Array, gb = b[`grad:${n}`]!.data as Float32Array;
    let scale = 0, err = 0;
    for (let i = 0; i < ga.length; i++) { scale = Math.max(scale, Math.abs(ga[i]!)); err = Math.max(err, Math.abs(ga[i]! - gb[i]!)); }
    assert.ok(err <= 5e-3 * scale, `${n}: ${err} of ${scale}`); // float16 rounds at different points
  }
});

/** A linear regression y = x·W whose loss a fed factor multiplies (to force an overflow on purpose). */
function regression(precision: 'fp32' | 'fp16' | 'bf16') {
  const params = new ParamStore();
  const w = new Float32Array(8 * 4).map((_, i) => Math.sin(i) * 0.3);
  params.set('w', w, [8, 4]);
  return Trainer.create({
    params, precision, optimizer: { lr: 1e-2 },
    build: (g, p) => {
      const x = g.input('x', 'float32', ['B', 8]), y = g.input('y', 'float32', ['B', 4]), k = g.input('factor', 'float32', []);
      const d = F.sub(F.matmul(x, p.w!), y);
      return { loss: F.mul(F.mean(F.mul(d, d)), k) };
    },
  });
}
const X = f32(Array.from({ length: 16 * 8 }, (_, i) => Math.cos(i * 0.7)), [16, 8]);
const Y = f32(Array.from({ length: 16 * 4 }, (_, i) => Math.sin(i * 0.3)), [16, 4]);

test('fp16 trainer: float32 master weights follow the float32 trainer; an overflowing step is skipped and halves the loss scale', async () => {
  const [ref, mp] = await Promise.all([regression('fp32'), regression('fp16')]);
  assert.equal(mp.scaler!.scale, LossScaler.INIT);
  for (let s = 0; s < 5; s++) {
    const a = await ref.run({ x: X, y: Y, factor: f32([1], []) }), b = await mp.run({ x: X, y: Y, factor: f32([1], []) });
    await Promise.all([ref.spec.params.sync(), mp.spec.params.sync()]);
    assert.equal(b.skipped, false);
    assert.ok(Math.abs(a.loss - b.loss) <= 2e-3 * a.loss, `step ${s}: loss ${b.loss} vs ${a.loss}`);
  }
  assert.equal(mp.step, 5);
  const wa = ref.spec.params.get('w').data, wb = mp.spec.params.get('w').data;
  assert.ok(wb instanceof Float32Array, 'master weights stay float32');
  for (let i = 0; i < wa.length; i++) assert.ok(Math.abs(wa[i]! - wb[i]!) < 2e-4, `w[${i}] ${wb[i]} vs ${wa[i]}`);

  // factor 1e38 × scale 65536 overflows the backward pass (in float32: on the CPU, ONNX Runtime runs a
  // float16 MatMul in float32 and drops the Cast pair around it, so a float16-range overflow cannot be
  // provoked here; on CUDA it happens at 65504).
  const before = Float32Array.from(wb), m0 = (await mp.moments()).m;
  const bad = await mp.run({ x: X, y: Y, factor: f32([1e38], []) });
  await mp.spec.params.sync();
  assert.equal(bad.skipped, true);
  assert.equal(mp.step, 5, 'AdamW\'s step does not advance');
  assert.equal(mp.scaler!.scale, LossScaler.INIT / 2);
  assert.equal(mp.scaler!.skippedSteps, 1);
  assert.deepEqual(mp.spec.params.get('w').data, before, 'weights untouched');
  assert.deepEqual((await mp.moments()).m, m0, 'moments untouched');
  const good = await mp.run({ x: X, y: Y, factor: f32([1], []) });
  await mp.spec.params.sync();
  assert.equal(good.skipped, false);
  assert.equal(mp.step, 6);
  assert.notDeepEqual(mp.spec.params.get('w').data, before);
});

test('fp16 trainer with gradient accumulation: micro-batches scale and unscale the same way as one batch', async () => {
  const [one, acc] = await Promise.all([regression('fp16'), regression('fp16')]);
  const half = (t: typeof X, rows: number, cols: number, k: number) => f32(Array.from((t.data as Float32Array).subarray(k * rows * cols / 2, (k + 1) * rows * cols / 2)), [rows / 2, cols]);
  const a = await one.run({ x: X, y: Y, factor: f32([1], []) });
  const b = await acc.run([0, 1].map((k) => ({ x: half(X, 16, 8, k), y: half(Y, 16, 4, k), factor: f32([1], []) })));
  assert.equal(b.skipped, false);
  assert.ok(Math.abs(a.loss - b.loss) <= 1e-3 * a.loss, `${b.loss} vs ${a.loss}`);
  await Promise.all([one.spec.params.sync(), acc.spec.params.sync()]);
  const wa = one.spec.params.get('w').data, wb = acc.spec.params.get('w').data;
  for (let i = 0; i < wa.length; i++) assert.ok(Math.abs(wa[i]! - wb[i]!) < 1e-5, `w[${i}]`);
  const bad = await acc.run([0, 1].map((k) => ({ x: half(X, 16, 8, k), y: half(Y, 16, 4, k), factor: f32([1e38], []) })));
  assert.equal(bad.skipped, true);
  assert.equal(acc.scaler!.scale, LossScaler.INIT / 2);
});

test('bf16 is refused on the CPU with the reason and what to use instead', async () => {
  await assert.rejects(regression('bf16'), /precision bf16 needs a CUDA device.*use fp32/);
});

test('float16 and bfloat16 constants round to nearest even', () => {
  const g = new Graph('c');
  const bits = (v: number, d: 'float16' | 'bfloat16') => (g.scalar(v, d).node.attrs as { data: Uint16Array }).data[0];
  assert.equal(bits(1, 'float16'), 0x3c00);
  assert.equal(bits(-2, 'float16'), 0xc000);
  assert.equal(bits(65504, 'float16'), 0x7bff);
  assert.equal(bits(65520, 'float16'), 0x7c00, 'rounds up to inf');
  assert.equal(bits(2 ** -24, 'float16'), 0x0001, 'smallest subnormal');
  assert.equal(bits(1 + 2 ** -11, 'float16'), 0x3c00, 'tie to even (down)');
  assert.equal(bits(1 + 3 * 2 ** -11, 'float16'), 0x3c02, 'tie to even (up)');
  assert.equal(bits(1, 'bfloat16'), 0x3f80);
  assert.equal(bits(1 + 2 ** -8, 'bfloat16'), 0x3f80, 'tie to even');
  assert.equal(bits(0.1, 'bfloat16'), 0x3dcd);
});

const cli = path.join(repoRoot, 'bin/rrlhf.js');

// Reward models under autocast (RewardTrainConfig.precision; a study's memory.precision).
function pairsOf(n: number, seed: number): PreferencePair[] {
  let x = seed;
  const tok = () => { x = (x * 1103515245 + 12345) % 2 ** 31; return 1 + (x % 90); };
  return Array.from({ length: n }, () => ({ prompt: [tok(), tok(), tok()], chosen: [tok(), tok(), 7], rejected: [tok(), 9, tok(), tok()] }));
}

test('reward models under fp16: float16 trunk and head matmuls, float32 rewards and loss; training and scoring stay within float16 rounding of fp32', async () => {
  const init = await CausalLM.load(fixture('models', 'llama-tiny-gqa'));
  const rm = await RewardModel.fromPolicy(init, 0, 1);
  rm.precision = 'fp16';
  const g = new Graph('bt_fp16');
  const p = storeInputs(g, rm.params);
  const { loss } = buildBtLoss(rm, g, p);
  g.output('loss', loss);
  const matmuls = g.live().filter((n) => n.op.name === 'matmul');
  assert.ok(matmuls.length >= 4 * init.config.nLayer + 1, `${matmuls.length} matmuls`);
  for (const n of matmuls) assert.ok(n.inputs.every((x) => x.dtype === 'float16'), `a matmul reads ${n.inputs.map((x) => x.dtype).join(' × ')}`);
  assert.equal(loss.dtype, 'float32');

  const train = pairsOf(24, 3), val = pairsOf(8, 4);
  const cfg = { epochs: 2, batchSize: 8, lr: 1e-3, seed: 5, padId: 0 };
  const [a, b] = [await trainBradleyTerry(init, train, val, cfg), await trainBradleyTerry(init, train, val, { ...cfg, precision: 'fp16' })];
  assert.equal(b.model.precision, 'fp16');
  assert.equal((b.model.info.config as { precision: string }).precision, 'fp16', 'the saved provenance names the precision');
  assert.notDeepEqual(b.metrics.loss, a.metrics.loss, 'fp16 changes the losses at all');
  a.metrics.loss.forEach((l, i) => assert.ok(Math.abs(l - b.metrics.loss[i]!) <= 5e-3 * Math.max(1, Math.abs(l)), `step ${i}: loss ${b.metrics.loss[i]} vs fp32 ${l}`));
  const seqs = val.map((q) => [...q.prompt, ...q.chosen]);
  const [ra, rb] = [await a.model.score(seqs), await b.model.score(seqs)];
  ra.forEach((r, i) => assert.ok(Math.abs(r - rb[i]!) <= 2e-2 * Math.max(1, Math.abs(r)), `reward ${i}: ${rb[i]} vs fp32 ${r}`));
});

test('ensembles under fp16: BRME (stage 2 through an unfrozen trunk layer) and LoRA members train and score mixed, close to fp32', async () => {
  const init = await CausalLM.load(fixture('models', 'gpt2-tiny'));
  const train = pairsOf(24, 7), val = pairsOf(8, 8);
  const seqs = val.map((q) => [...q.prompt, ...q.rejected]);
  for (const method of ['brme', 'lora'] as const) {
    const opts = { method, heads: 2, reward: { epochs: 1, batchSize: 8, seed: 2, padId: 0 }, brme: { epochs: 2, unfreezeLastLayers: 1 } };
    const a = await trainEnsemble(init, train, val, opts);
    const b = await trainEnsemble(init, train, val, { ...opts, reward: { ...opts.reward, precision: 'fp16' } });
    assert.equal(b.ensemble.precision, 'fp16', `${method}: the trained ensemble scores as it trained`);
    if (method === 'lora') assert.ok((b.ensemble as IndependentEnsemble).members.every((m) => m.precision === 'fp16'));
    else assert.equal((b.ensemble as BrmeEnsemble).stage1().precision, 'fp16');
    const [sa, sb] = [await a.ensemble.score(seqs), await b.ensemble.score(seqs)];
    assert.notDeepEqual(sb.mu, sa.mu, `${method}: fp16 changes the scores at all`);
    sa.mu.forEach((row, i) => row.forEach((x, k) => assert.ok(Math.abs(x - sb.mu[i]![k]!) <= 5e-2 * Math.max(1, Math.abs(x)), `${method} μ[${i}][${k}] ${sb.mu[i]![k]} vs fp32 ${x}`)));
  }
});

test('rrlhf ensemble train --precision: refused when unknown or (bf16) not runnable on the CPU, naming what to use', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-ens-prec-'));
  const run = (p: string) => spawnSync(process.execPath, [cli, 'ensemble', 'train', '--precision', p, '--pairs', '16', '--val-pairs', '16', '--sft-samples', '16', '--data-dir', tmp, '--json'], { encoding: 'utf8' });
  const bad = run('fp8');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--precision must be one of fp32, bf16, fp16, got "fp8"/);
  const bf16 = run('bf16');
  assert.notEqual(bf16.status, 0);
  assert.match(bf16.stderr, /bf16 needs a CUDA device/);
});

const STUDY = {
  name: 'fp16 study',
  sft: { samples: 128, epochs: 1, batchSize: 64 },
  ensemble: { heads: 3, pairs: 128, valPairs: 32 },
  objectives: [{ name: 'robust', kind: 'robust', lambda: 0.4 }],
  seeds: [1],
  ppo: { iterations: 4, batchSize: 16, miniBatches: 2, epochs: 1 },
  eval: { every: 2, samples: 16 },
  checkpointEvery: 2,
};

test('rrlhf experiment run --precision fp16: the study runs mixed, checkpoints the loss scaler, and a SIGKILLed run resumes to the same metrics', { timeout: 240_000 }, async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-fp16-'));
  const specFile = path.join(tmp, 'spec.json');
  await writeFile(specFile, JSON.stringify(STUDY));
  const a = path.join(tmp, 'a'), b = path.join(tmp, 'b');
  const bad = spawnSync(process.execPath, [cli, 'experiment', 'run', specFile, '--precision', 'fp8', '--data-dir', a, '--json'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--precision.*memory\.precision: Invalid option: expected one of "fp32"\|"bf16"\|"fp16"/);
  const cpuBf16 = spawnSync(process.execPath, [cli, 'experiment', 'run', specFile, '--precision', 'bf16', '--data-dir', a, '--json'], { encoding: 'utf8' });
  assert.notEqual(cpuBf16.status, 0);
  assert.match(cpuBf16.stderr, /memory\.precision bf16 cannot run on cpu: bf16 needs a CUDA device/);

  const full = spawnSync(process.execPath, [cli, 'experiment', 'run', specFile, '--precision', 'fp16', '--data-dir', a, '--json'], { encoding: 'utf8' });
  assert.equal(full.status, 0, full.stderr);
  const st = openStore({ dataDir: a });
  try {
    const run = st.runs.list({})[0]!;
    const ckpt = st.runs.latestCheckpoint(run.id)!;
    const state = JSON.parse(await readFile(path.join(ckpt.path, 'state.json'), 'utf8')) as { ppo: { scaler?: { scale: number; skippedSteps: number } } };
    assert.ok(state.ppo.scaler, 'an fp16 run checkpoints its loss scaler');
    const logged = (key: string) => st.metrics.series([run.id], key)[0]!.points.map((p) => p.y);
    assert.equal(logged('train/skipped_frac').length, STUDY.ppo.iterations, 'the skipped fraction is logged per iteration');
    assert.ok(logged('train/loss_scale').every((y) => y !== null && y > 1 && y <= 2 ** 16), 'and the loss scale');
    assert.equal(state.ppo.scaler.scale * 2 ** state.ppo.scaler.skippedSteps, 2 ** 16, 'halved once per skipped step');
    // The study's reward models trained under the same precision (BRME's stage 1 records its config).
    const ens = JSON.parse(await readFile(path.join(st.artifacts.get(st.ensembles.list()[0]!.artifactId!)!.path, 'rrlhf.json'), 'utf8')) as { info: { stage1: { config: { precision: string } } } };
    assert.equal(ens.info.stage1.config.precision, 'fp16');
  } finally { st.close(); }

  const { killed, stderr } = await killWhen(['experiment', 'run', specFile, '--precision', 'fp16', '--data-dir', b, '--json'], /iteration 3\/4/);
  assert.ok(killed, `killed mid-way; stderr:\n${stderr}`);
  const resumed = spawnSync(process.execPath, [cli, 'experiment', 'resume', '1', '--data-dir', b, '--json'], { encoding: 'utf8' });
  assert.equal(resumed.status, 0, resumed.stderr);
  const ma = metricsOf(a), mb = metricsOf(b);
  assert.deepEqual([...mb.keys()].sort(), [...ma.keys()].sort());
  for (const [k, v] of ma) assert.ok(Object.is(v, mb.get(k)) || Math.abs(v - mb.get(k)!) <= 1e-9 * Math.max(1, Math.abs(v)), `${k}: uninterrupted ${v}, resumed ${mb.get(k)}`);
});
