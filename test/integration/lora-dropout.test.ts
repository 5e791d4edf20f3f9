// LoRA dropout (docs/engine.md § LoRA): PEFT's inverted nn.Dropout on each adapted module's input in
// training graphs only, its keep-masks fed as bool inputs drawn from the trainer's checkpointed RNG. With a
// fixed mask the loss and dA, dB match float64 PyTorch; the masks keep 1 − p of their elements (binomial
// bound) and differ between modules that read the same input; a p = 0 or eval graph has no mask inputs;
// PPO and Bradley–Terry training with p > 0 differ from p = 0 and repeat bit for bit for a seed; a PPO run
// restored from its state equals an uninterrupted one, in process and killed/resumed through the CLI;
// the spec refuses p outside [0, 1); the PEFT folder keeps lora_dropout; the memory plan counts the masks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fixture, repoRoot } from '../util/paths.js';
import { CausalLM } from '../../engine/models/model.js';
import { withLora, saveAdapter, loadAdapter, dropoutInput, type LoraConfig } from '../../engine/models/lora.js';
import { Graph, type Tensor } from '../../engine/graph/index.js';
import { grad } from '../../engine/autodiff/grad.js';
import { compile, i64 } from '../../engine/runtime/session.js';
import { Rng } from '../../engine/runtime/params.js';
import { PpoTrainer } from '../../engine/rlhf/ppo.js';
import { trainBradleyTerry } from '../../engine/rlhf/reward.js';
import { ppoMemoryPlan, ensembleTrainPlan } from '../../engine/models/memory.js';
import { parseSpec } from '../../engine/experiments/spec.js';
import { METRIC } from '../../common/metrics.js';
import { metricsOf, killWhen } from '../util/run-metrics.js';

const CASES: { model: string; targets: string[] }[] = [
  { model: 'gpt2-tiny', targets: ['c_attn', 'mlp.c_proj'] },
  { model: 'llama-tiny-gqa', targets: ['q_proj', 'v_proj', 'down_proj'] },
];
const cfgOf = (targets: string[], dropout: number): LoraConfig => ({ r: 4, alpha: 8, dropout, targetModules: targets, bias: 'none' });
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => { let w = 0; for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i]! - b[i]!)); return w; };

/** The LM loss and adapter gradients of a training-mode (or eval) graph of `m`. */
function lmGraph(m: CausalLM, train: boolean, recompute = false): Graph {
  const g = new Graph(`lora_dropout_${train ? 'train' : 'eval'}${recompute ? '_recompute' : ''}`);
  const p: Record<string, Tensor> = {};
  for (const n of m.feedNames()) p[n] = g.param(n, m.params.shape(n));
  const ids = g.input('input_ids', 'int64', ['B', 'T']), mask = g.input('attention_mask', 'int64', ['B', 'T']);
  const { hidden } = m.trace(g, p, ids, mask, { train });
  const loss = CausalLM.lmLoss(m.arch.lmHead(p, m.config, hidden), ids);
  g.output('loss', loss);
  const names = m.lora!.paramNames();
  grad(loss, names.map((n) => p[n]!), { recompute }).forEach((t, i) => g.output(`grad:${names[i]}`, t));
  return g;
}
const maskInputs = (g: Graph) => [...g.inputs.keys()].filter((n) => n.startsWith('lora_dropout:'));

for (const { model } of CASES) {
  test(`LoRA dropout ${model}: with PyTorch's fixed keep-masks, the training loss and dA, dB match float64 PEFT-style dropout (with and without gradient checkpointing)`, async () => {
    // test/reference/lora_reference.py wrote the folder (lora_dropout 0.25), the masks and the gradients.
    const dir = fixture('lora', `${model}-dropout`);
    const exp = JSON.parse(await readFile(path.join(dir, 'expected.json'), 'utf8')) as { input_ids: number[][]; dropout: number; loss: number; eval_loss: number; masks: Record<string, number[]>; grads: Record<string, number[]> };
    const m = await loadAdapter(await CausalLM.load(fixture('models', model)), dir);
    assert.equal(m.lora!.config.dropout, 0.25, 'lora_dropout read from adapter_config.json');
    const B = exp.input_ids.length, T = exp.input_ids[0]!.length;
    const feeds: Record<string, ReturnType<typeof i64>> = { ...m.paramFeeds() as Record<string, ReturnType<typeof i64>>, input_ids: i64(exp.input_ids.flat(), [B, T]), attention_mask: i64(new Array(B * T).fill(1), [B, T]) };
    for (const mod of m.lora!.modules) feeds[dropoutInput(mod.name)] = { dtype: 'bool', shape: [B, T, mod.in], data: Uint8Array.from(exp.masks[mod.name]!) };
    assert.ok(Math.abs(exp.loss - exp.eval_loss) > 1e-2, 'the masks change the loss (the test would see a missing dropout)');
    const ev = await m.evaluate(exp.input_ids);
    assert.ok(Math.abs(ev.loss - exp.eval_loss) <= 1e-5 * exp.eval_loss, `eval (no dropout) loss ${ev.loss} vs ${exp.eval_loss}`);
    assert.deepEqual(Object.keys(exp.grads).sort(), m.lora!.paramNames().sort());
    // Recomputed layers read the same fed masks (inputs are leaves, shared by the copy).
    for (const recompute of [false, true]) {
      const g = lmGraph(m, true, recompute);
      assert.deepEqual(maskInputs(g).sort(), m.lora!.modules.map((x) => dropoutInput(x.name)).sort(), 'one mask input per adapted module');
      const r = await (await compile(g)).run(feeds);
      const loss = Number(r.loss!.data[0]);
      assert.ok(Math.abs(loss - exp.loss) <= 1e-5 * exp.loss, `recompute ${recompute}: loss ${loss} vs ${exp.loss}`);
      for (const [n, want] of Object.entries(exp.grads)) {
        const scale = Math.max(...want.map(Math.abs));
        const e = maxDiff(r[`grad:${n}`]!.data as Float32Array, want);
        assert.ok(e <= 1e-3 * scale + 1e-7, `recompute ${recompute}: ${n}: max |grad − reference| = ${e} (max |grad| ${scale})`);
      }
    }
  });
}

test('LoRA dropout: p = 0 and eval graphs read no masks; masks keep 1 − p within a binomial bound, independently per module, from one draw of the caller\'s RNG', async () => {
  const base = await CausalLM.load(fixture('models', 'llama-tiny-gqa'));
  const none = await withLora(base, cfgOf(['q_proj', 'v_proj'], 0), 1);
  assert.deepEqual(maskInputs(lmGraph(none, true)), [], 'a p = 0 training graph is today\'s: no mask inputs');
  const rng0 = new Rng(5), before = rng0.getState();
  assert.deepEqual(none.lora!.dropoutMasks(4, 8, rng0), {});
  assert.deepEqual(rng0.getState(), before, 'p = 0 draws nothing from the trainer\'s RNG');
  for (const p of [0.1, 0.5]) {
    const m = await withLora(base, cfgOf(['q_proj', 'v_proj'], p), 1);
    assert.deepEqual(maskInputs(lmGraph(m, false)), [], 'eval graphs (scoring, sampling) have no dropout');
    const rng = new Rng(9);
    const masks = m.lora!.dropoutMasks(16, 32, rng);
    const ref = new Rng(9); ref.nextU32();
    assert.deepEqual(rng.getState(), ref.getState(), 'one draw of the caller\'s RNG per step');
    assert.deepEqual(Object.keys(masks).sort(), m.lora!.modules.map((x) => dropoutInput(x.name)).sort());
    let kept = 0, total = 0;
    for (const mod of m.lora!.modules) {
      const t = masks[dropoutInput(mod.name)]!;
      assert.deepEqual([t.dtype, t.shape], ['bool', [16, 32, mod.in]]);
      const data = t.data as Uint8Array;
      const k = data.reduce((a, b) => a + b, 0);
      // 5 standard deviations of Binomial(n, 1 − p): a correct mask fails with probability < 1e-6.
      const bound = 5 * Math.sqrt(p * (1 - p) / data.length);
      assert.ok(Math.abs(k / data.length - (1 - p)) <= bound, `${mod.name}: kept ${k / data.length} of ${data.length}, expected ${1 - p} ± ${bound}`);
      assert.ok(data.every((v) => v === 0 || v === 1));
      kept += k; total += data.length;
    }
    assert.ok(Math.abs(kept / total - (1 - p)) <= 5 * Math.sqrt(p * (1 - p) / total), `all modules: kept ${kept / total}`);
    // q_proj and v_proj read the same normed input but drop independently (PEFT: one nn.Dropout each).
    const q = masks[dropoutInput('model.layers.0.self_attn.q_proj')]!.data as Uint8Array, v = masks[dropoutInput('model.layers.0.self_attn.v_proj')]!.data as Uint8Array;
    const agree = q.reduce((a, x, i) => a + (x === v[i] ? 1 : 0), 0) / q.length;
    const want = p * p + (1 - p) * (1 - p);
    assert.ok(Math.abs(agree - want) <= 5 * Math.sqrt(want * (1 - want) / q.length), `q/v masks agree on ${agree} of elements, independent masks ${want}`);
    assert.deepEqual(m.lora!.dropoutMasks(16, 32, new Rng(9)), masks, 'the same RNG state gives the same masks');
    // The inlined generator is Rng's own stream (forked once off the caller's RNG).
    const fork = new Rng(9).fork(), first = m.lora!.modules[0]!;
    const want0 = Uint8Array.from({ length: 16 * 32 * first.in }, () => (fork.nextU32() < (1 - p) * 2 ** 32 ? 1 : 0));
    assert.deepEqual(masks[dropoutInput(first.name)]!.data, want0);
  }
});

// ---- training -----------------------------------------------------------------------------------

const PROMPTS = [[3, 17, 42], [70, 2, 5], [9, 9, 1], [44, 12, 8]];
const evenTokens = async (_p: number[][], rs: number[][]) => ({ scores: rs.map((r) => r.filter((t) => t % 2 === 0).length) });

/** A LoRA PPO run of `iters` iterations on the tiny Llama; `resumeAt`: stop there, rebuild everything
 *  from the checkpointed state (trainables, optimizer, RNG; JSON round trip as the runner's state.json)
 *  and finish in a fresh trainer. Returns the trainables and every iteration's metrics. */
async function ppoRun(dropout: number, iters: number, resumeAt?: number) {
  const base = await CausalLM.load(fixture('models', 'llama-tiny-gqa'));
  const cfg = { batchSize: 4, miniBatches: 2, epochs: 2, lr: 1e-2, maxNewTokens: 4, padId: 0, eosId: null, seed: 3 };
  let policy = await withLora(base, cfgOf(['q_proj', 'v_proj', 'down_proj'], dropout), 7);
  let ppo = await PpoTrainer.create(policy, policy.withoutAdapters(), cfg);
  const metrics: Record<string, number>[] = [];
  for (let i = 0; i < iters; i++) {
    if (i === resumeAt) {
      await policy.params.sync();
      const saved = new Map(policy.trainableNames().map((n) => [n, policy.params.get(n).data.slice()]));
      const st = await ppo.state();
      const json = JSON.parse(JSON.stringify({ ...st, m: undefined, v: undefined }));
      policy = await withLora(base, cfgOf(['q_proj', 'v_proj', 'down_proj'], dropout), 7);
      ppo = await PpoTrainer.create(policy, policy.withoutAdapters(), cfg);
      for (const [n, d] of saved) policy.params.set(n, d, policy.params.get(n).shape);
      ppo.restore({ ...json, m: st.m, v: st.v });
    }
    const { metrics: mt } = await ppo.step(PROMPTS, evenTokens);
    metrics.push(Object.fromEntries(Object.entries(mt).filter(([k]) => !k.startsWith('time/'))));
  }
  await policy.params.sync();
  return { weights: new Map(policy.trainableNames().map((n) => [n, Array.from(policy.params.get(n).data)])), metrics };
}

test('LoRA dropout in PPO: p > 0 trains differently from p = 0, repeats bit for bit for a seed, and a run restored from its state equals an uninterrupted one', async () => {
  const plain = await ppoRun(0, 3);
  const a = await ppoRun(0.3, 3), b = await ppoRun(0.3, 3);
  assert.deepEqual(a.weights, b.weights, 'same seed, same adapters and value head, bit for bit');
  assert.deepEqual(a.metrics, b.metrics);
  const moved = [...a.weights].some(([n, w]) => maxDiff(w, plain.weights.get(n)!) > 1e-6);
  assert.ok(moved, 'dropout changes the trained adapters');
  // The rollouts of iteration 1 come before any update: the same for both (dropout is training-only).
  assert.equal(a.metrics[0]![METRIC.objectiveScores], plain.metrics[0]![METRIC.objectiveScores]);
  const resumed = await ppoRun(0.3, 3, 2);
  assert.deepEqual(resumed.weights, a.weights, 'resumed = uninterrupted, bit for bit');
  assert.deepEqual(resumed.metrics, a.metrics);
});

test('LoRA dropout in Bradley–Terry training (LoRA reward members): p > 0 differs from p = 0 and repeats for a seed', async () => {
  const base = await CausalLM.load(fixture('models', 'gpt2-tiny'));
  const pairs = [
    { prompt: [3, 17, 42], chosen: [5, 88, 1], rejected: [60, 9] },
    { prompt: [70, 2], chosen: [2, 31, 14, 55], rejected: [8, 90, 7] },
    { prompt: [11, 12, 13, 14], chosen: [15], rejected: [16, 17] },
    { prompt: [20, 21], chosen: [22, 24], rejected: [23] },
  ];
  const run = async (p: number) => {
    const { model, metrics } = await trainBradleyTerry(base, pairs, [], { epochs: 2, batchSize: 2, lora: cfgOf(['c_attn'], p), seed: 4 });
    await model.params.sync();
    return { loss: metrics.loss, w: model.trainableNames(true).map((n) => Array.from(model.params.get(n).data)) };
  };
  const plain = await run(0), a = await run(0.4), b = await run(0.4);
  assert.deepEqual(a, b, 'same seed, same run');
  assert.notDeepEqual(a.loss, plain.loss, 'dropout changes the training losses');
});

// ---- spec, PEFT folder, memory plan -------------------------------------------------------------

test('LoRA dropout spec keys: policy.lora.dropout and ensemble.lora.dropout accept [0, 1) and refuse the rest by key', () => {
  assert.equal(parseSpec({ policy: { lora: { r: 8, dropout: 0.1, targetModules: ['c_attn'] } } }).policy.lora!.dropout, 0.1);
  assert.equal(parseSpec({ ensemble: { method: 'lora', lora: { dropout: 0.05 } } }).ensemble.lora!.dropout, 0.05);
  assert.equal(parseSpec({ ensemble: { method: 'lora', lora: { r: 4 } } }).ensemble.lora!.dropout, 0);
  for (const bad of [1, 1.5, -0.1]) {
    assert.throws(() => parseSpec({ policy: { lora: { r: 8, dropout: bad, targetModules: ['c_attn'] } } }), /policy\.lora\.dropout: must be in \[0, 1\)/, `policy ${bad}`);
    assert.throws(() => parseSpec({ ensemble: { method: 'lora', lora: { dropout: bad } } }), /ensemble\.lora\.dropout: must be in \[0, 1\)/, `ensemble ${bad}`);
  }
});

test('LoRA dropout: saveAdapter writes a non-zero lora_dropout and loadAdapter reads it back', async () => {
  const base = await CausalLM.load(fixture('models', 'gpt2-tiny'));
  const m = await withLora(base, cfgOf(['c_attn'], 0.15), 2);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-lora-dropout-'));
  await saveAdapter(m, dir, 'tiny');
  assert.equal(JSON.parse(await readFile(path.join(dir, 'adapter_config.json'), 'utf8')).lora_dropout, 0.15);
  assert.equal((await loadAdapter(base, dir)).lora!.config.dropout, 0.15);
});

test('LoRA dropout memory plan: the training phase counts each adapted module\'s mask (1 B) and its scaled mask and dropped input', async () => {
  const { config } = await CausalLM.load(fixture('models', 'llama-tiny-gqa'));
  const shape = { batch: 8, miniBatches: 2, promptTokens: 6, responseTokens: 4, ensemble: null };
  const lora = { r: 4, targetModules: ['q_proj', 'down_proj'] };
  const term = (plan: ReturnType<typeof ppoMemoryPlan>) => plan.phases.find((p) => p.name === 'train')!.terms.find((t) => t.name.startsWith('LoRA dropout'));
  assert.equal(term(ppoMemoryPlan(config, { ...shape, lora })), undefined, 'no dropout, no term');
  const off = ppoMemoryPlan(config, { ...shape, lora }), on = ppoMemoryPlan(config, { ...shape, lora: { ...lora, dropout: 0.1 } });
  // 2 layers × (q_proj in d 32 + down_proj in I): rows 4 × L 10 tokens.
  const perToken = config.nLayer * (config.d + (config as { intermediate: number }).intermediate);
  assert.equal(term(on)!.bytes, 4 * 10 * perToken * (1 + 2 * 4));
  // The arena slack doubles the phase's tensors (models/memory.ts phase()).
  assert.equal(on.totalBytes - off.totalBytes, 2 * term(on)!.bytes);
  assert.equal(ppoMemoryPlan(config, { ...shape, lora: { ...lora, dropout: 0.1 } }, 'fp32', 'gpu').hostBytes - ppoMemoryPlan(config, { ...shape, lora }, 'fp32', 'gpu').hostBytes, 4 * 10 * perToken);
  const ens = ensembleTrainPlan(config, { method: 'lora', heads: 2, batchPairs: 3, tokens: 5, lora: { ...lora, dropout: 0.2 } });
  assert.equal(ens.phases[0]!.terms.find((t) => t.name.startsWith('LoRA dropout'))!.bytes, 2 * 3 * 5 * perToken * 9);
  // Checkpointed: every layer's bool masks stay fed, the float copies are one layer's at a time.
  const ck = ppoMemoryPlan(config, { ...shape, lora: { ...lora, dropout: 0.1 }, checkpointing: true });
  assert.equal(term(ck)!.bytes, 4 * 10 * perToken + (4 * 10 * perToken / config.nLayer) * 8);
});

// ---- kill and resume through the CLI ------------------------------------------------------------


test('LoRA dropout study killed with SIGKILL after a checkpoint and resumed logs the metrics of an uninterrupted run (run with --lora-dropout)', { timeout: 240_000 }, async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-lora-dropout-resume-'));
  const spec = { name: 'lora dropout resume', sft: { samples: 128, epochs: 1 }, ensemble: { heads: 2, pairs: 128, valPairs: 32 }, objectives: [{ name: 'single', kind: 'single' }], seeds: [1], policy: { lora: { r: 4, dropout: 0.2, targetModules: ['c_attn'] } }, ppo: { iterations: 4, batchSize: 8, miniBatches: 2, epochs: 1 }, eval: { every: 2, samples: 8 }, checkpointEvery: 2 };
  const specFile = path.join(tmp, 'spec.json');
  await writeFile(specFile, JSON.stringify(spec));
  const cli = path.join(repoRoot, 'bin/rrlhf.js');
  const a = path.join(tmp, 'a'), b = path.join(tmp, 'b');
  const bad = spawnSync(process.execPath, [cli, 'experiment', 'run', specFile, '--lora', '4', '--lora-targets', 'c_attn', '--lora-dropout', '1', '--data-dir', path.join(tmp, 'bad'), '--json'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /policy\.lora\.dropout: must be in \[0, 1\)/);
  // The uninterrupted run sets the policy LoRA by flags, the killed one by the spec key: the same study.
  const { policy: _policy, ...noLora } = spec;
  await writeFile(path.join(tmp, 'plain.json'), JSON.stringify(noLora));
  const full = spawnSync(process.execPath, [cli, 'experiment', 'run', path.join(tmp, 'plain.json'), '--lora', '4', '--lora-targets', 'c_attn', '--lora-dropout', '0.2', '--data-dir', a, '--json'], { encoding: 'utf8' });
  assert.equal(full.status, 0, full.stderr);
  const { killed, stderr } = await killWhen(['experiment', 'run', specFile, '--data-dir', b, '--json'], /iteration 3\/4/);
  assert.ok(killed, `the run should have been killed after its checkpoint at 2; stderr:\n${stderr}`);
  assert.ok(metricsOf(b).size < metricsOf(a).size, 'the killed run stopped part-way');
  const resumed = spawnSync(process.execPath, [cli, 'experiment', 'resume', '1', '--data-dir', b, '--json'], { encoding: 'utf8' });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.deepEqual(metricsOf(b), metricsOf(a));
});

test('rrlhf ensemble train --method lora --lora-dropout P: members train with dropout, save it in PEFT\'s adapter_config.json; misuse is refused', { timeout: 120_000 }, async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-lora-ens-dropout-'));
  const cli = path.join(repoRoot, 'bin/rrlhf.js');
  const train = (p: string, out: string) => spawnSync(process.execPath, [cli, 'ensemble', 'train', '--method', 'lora', '--lora', '4', '--lora-dropout', p, '--heads', '2', '--pairs', '64', '--val-pairs', '16', '--sft-samples', '64', '--rm-epochs', '1', '--data-dir', path.join(tmp, `d-${out}`), '--out', path.join(tmp, out), '--json'], { encoding: 'utf8' });
  for (const [p, out] of [['0.1', 'with'], ['0', 'without']] as const) assert.equal(train(p, out).status, 0);
  const cfg = JSON.parse(await readFile(path.join(tmp, 'with', 'member-0', 'adapter_config.json'), 'utf8')) as { lora_dropout: number };
  assert.equal(cfg.lora_dropout, 0.1);
  const weights = (out: string) => readFile(path.join(tmp, out, 'member-0', 'adapter_model.safetensors'));
  assert.notDeepEqual(await weights('with'), await weights('without'), 'dropout changes what the member learns (same seed)');
  const brme = spawnSync(process.execPath, [cli, 'ensemble', 'train', '--method', 'brme', '--lora-dropout', '0.1', '--data-dir', path.join(tmp, 'bad')], { encoding: 'utf8' });
  assert.match(brme.stderr, /--lora R and --lora-dropout P apply to --method lora only/);
  const tooBig = spawnSync(process.execPath, [cli, 'ensemble', 'train', '--method', 'lora', '--lora-dropout', '1', '--data-dir', path.join(tmp, 'bad')], { encoding: 'utf8' });
  assert.match(tooBig.stderr, /loraDropout: Too big: expected number to be <1/);
});
