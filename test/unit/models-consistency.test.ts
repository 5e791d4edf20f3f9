// Self-consistency of the decoders (no fixtures needed): the KV-cache path equals recomputing the whole
// sequence; left-padded rows give the same logits as the unpadded rows; save → load round-trips.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CausalLM } from '../../engine/models/model.js';
import { generate, scoreLogprobs, mergeDue } from '../../engine/models/sampler.js';
import { type ModelConfig } from '../../engine/models/config.js';
import { sft } from '../../engine/rlhf/sft.js';

const configs: ModelConfig[] = [
  { arch: 'gpt2', vocabSize: 40, nPositions: 32, d: 16, nLayer: 2, nHead: 2, eps: 1e-5, activation: 'gelu_new', bosTokenId: null, eosTokenId: 39 },
  { arch: 'llama', vocabSize: 40, d: 16, intermediate: 24, nLayer: 2, nHead: 4, nKvHead: 2, headDim: 4, eps: 1e-6, ropeTheta: 10000, rope: null, slidingWindow: null, qkNorm: false, fused: false, maxPositions: 64, tied: false, qkvBias: false, oBias: false, mlpBias: false, bosTokenId: null, eosTokenId: 39 },
  { arch: 'qwen2', vocabSize: 40, d: 16, intermediate: 24, nLayer: 2, nHead: 4, nKvHead: 1, headDim: 4, eps: 1e-6, ropeTheta: 1e6, rope: null, slidingWindow: null, qkNorm: false, fused: false, maxPositions: 64, tied: true, qkvBias: true, oBias: false, mlpBias: false, bosTokenId: null, eosTokenId: 39 },
  // A window of 3 is shorter than every generated row, so the cache path must apply it too.
  { arch: 'mistral', vocabSize: 40, d: 16, intermediate: 24, nLayer: 2, nHead: 4, nKvHead: 2, headDim: 4, eps: 1e-5, ropeTheta: 10000, rope: null, slidingWindow: 3, qkNorm: false, fused: false, maxPositions: 64, tied: false, qkvBias: false, oBias: false, mlpBias: false, bosTokenId: null, eosTokenId: 39 },
  { arch: 'qwen3', vocabSize: 40, d: 16, intermediate: 24, nLayer: 2, nHead: 4, nKvHead: 2, headDim: 8, eps: 1e-6, ropeTheta: 1e6, rope: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 32 }, slidingWindow: null, qkNorm: true, fused: false, maxPositions: 64, tied: true, qkvBias: false, oBias: false, mlpBias: false, bosTokenId: null, eosTokenId: 39 },
  { arch: 'phi3', vocabSize: 40, d: 16, intermediate: 24, nLayer: 2, nHead: 4, nKvHead: 2, headDim: 4, eps: 1e-5, ropeTheta: 10000, rope: null, slidingWindow: 4, qkNorm: false, fused: true, maxPositions: 64, tied: false, qkvBias: false, oBias: false, mlpBias: false, bosTokenId: null, eosTokenId: 39 },
  // Gemma 2 with windowed and full layers: the cache path must pick each layer's mask.
  { arch: 'gemma2', vocabSize: 40, d: 16, intermediate: 24, nLayer: 3, nHead: 4, nKvHead: 2, headDim: 8, eps: 1e-6, ropeTheta: 10000, rope: null, maxPositions: 64, tied: true, attentionBias: false, queryPreAttnScalar: 8, slidingWindow: 3, slidingLayers: [true, false, true], attnSoftcap: 5, finalSoftcap: 4, activation: 'gelu_pytorch_tanh', localRopeTheta: null, bosTokenId: null, eosTokenId: 39 },
  // RoPE with an attention factor: yarn on Qwen2; longrope with Phi-3's partial rotary (6 of 8 dims), its
  // original length 32 above every row here.
  { arch: 'qwen2', vocabSize: 40, d: 16, intermediate: 24, nLayer: 2, nHead: 4, nKvHead: 2, headDim: 4, eps: 1e-6, ropeTheta: 1e4, rope: { type: 'yarn', factor: 4, originalMaxPositions: 16, attentionFactor: null, mscale: null, mscaleAllDim: null, betaFast: null, betaSlow: null, truncate: null }, slidingWindow: null, qkNorm: false, fused: false, maxPositions: 64, tied: true, qkvBias: true, oBias: false, mlpBias: false, bosTokenId: null, eosTokenId: 39 },
  { arch: 'phi3', vocabSize: 40, d: 16, intermediate: 24, nLayer: 2, nHead: 2, nKvHead: 1, headDim: 8, rotaryDim: 6, eps: 1e-5, ropeTheta: 10000, rope: { type: 'longrope', shortFactor: [1, 1.5, 3], longFactor: [2, 4, 8], originalMaxPositions: 32, factor: null, attentionFactor: null }, slidingWindow: null, qkNorm: false, fused: true, maxPositions: 128, tied: true, qkvBias: false, oBias: false, mlpBias: false, bosTokenId: null, eosTokenId: 39 },
  // Gemma 3 (q/k norms, a local rope for the sliding layers, linear-scaled global rope) and Gemma 1.
  { arch: 'gemma3_text', vocabSize: 40, d: 16, intermediate: 24, nLayer: 3, nHead: 4, nKvHead: 2, headDim: 8, eps: 1e-6, ropeTheta: 1e6, rope: { type: 'linear', factor: 8 }, localRopeTheta: 10000, maxPositions: 64, tied: true, attentionBias: false, queryPreAttnScalar: 8, slidingWindow: 3, slidingLayers: [true, true, false], attnSoftcap: null, finalSoftcap: null, activation: 'gelu_pytorch_tanh', bosTokenId: null, eosTokenId: 39 },
  // Qwen's sliding layers: window 3 on layer 1 only (use_sliding_window, max_window_layers 1)
  { arch: 'qwen2', vocabSize: 40, d: 16, intermediate: 24, nLayer: 2, nHead: 4, nKvHead: 2, headDim: 4, eps: 1e-6, ropeTheta: 1e6, rope: null, slidingWindow: 3, slidingLayers: [false, true], qkNorm: false, fused: false, maxPositions: 64, tied: true, qkvBias: true, oBias: false, mlpBias: false, bosTokenId: null, eosTokenId: 39 },
  { arch: 'qwen3', vocabSize: 40, d: 16, intermediate: 24, nLayer: 3, nHead: 4, nKvHead: 2, headDim: 8, eps: 1e-6, ropeTheta: 1e6, rope: null, slidingWindow: 2, slidingLayers: [true, false, true], qkNorm: true, fused: false, maxPositions: 64, tied: true, qkvBias: false, oBias: false, mlpBias: false, bosTokenId: null, eosTokenId: 39 },
  { arch: 'gemma', vocabSize: 40, d: 16, intermediate: 24, nLayer: 2, nHead: 4, nKvHead: 1, headDim: 8, eps: 1e-6, ropeTheta: 10000, rope: null, localRopeTheta: null, maxPositions: 64, tied: true, attentionBias: false, queryPreAttnScalar: 8, slidingWindow: null, slidingLayers: [false, false], attnSoftcap: null, finalSoftcap: null, activation: 'gelu', bosTokenId: null, eosTokenId: 39 },
  // GPT-NeoX with partial rotary (4 of 8 dims) in both residual forms and with a dynamic-rope cap.
  { arch: 'gpt_neox', vocabSize: 40, d: 16, intermediate: 32, nLayer: 2, nHead: 2, headDim: 8, rotaryDim: 4, ropeTheta: 10000, rope: null, maxPositions: 64, eps: 1e-5, parallelResidual: true, attentionBias: true, tied: false, activation: 'gelu', bosTokenId: 0, eosTokenId: 39 },
  { arch: 'gpt_neox', vocabSize: 40, d: 16, intermediate: 32, nLayer: 2, nHead: 2, headDim: 8, rotaryDim: 4, ropeTheta: 500, rope: { type: 'linear', factor: 2 }, maxPositions: 64, eps: 1e-5, parallelResidual: false, attentionBias: false, tied: true, activation: 'gelu_new', bosTokenId: 0, eosTokenId: 39 },
  // yarn over NeoX's partial rotary (its ramp and attention factor on the 4 rotary dims only)
  { arch: 'gpt_neox', vocabSize: 40, d: 16, intermediate: 32, nLayer: 2, nHead: 2, headDim: 8, rotaryDim: 4, ropeTheta: 10000, rope: { type: 'yarn', factor: 4, originalMaxPositions: 16, attentionFactor: null, mscale: null, mscaleAllDim: null, betaFast: 8, betaSlow: null, truncate: false }, maxPositions: 64, eps: 1e-5, parallelResidual: true, attentionBias: true, tied: false, activation: 'gelu', bosTokenId: 0, eosTokenId: 39 },
];

function bigInit(m: CausalLM) {
  // Larger weights than the default init so differences would show up in the logits.
  for (const [name, p] of m.params.entries()) {
    if (name.includes('norm') || name.includes('ln_')) continue;
    m.params.set(name, p.data.map((x, i) => x * 10 + 0.01 * Math.sin(i)));
  }
}

test('the KV cache folds its recent segment into the older one at about √(2·older) positions', () => {
  const merges = (prompt: number, tokens: number) => {
    let o = prompt, r = 0;
    const at: number[] = [];
    for (let t = 0; t < tokens; t++) { if (mergeDue(o, r)) { at.push(t); o += r; r = 0; } r += 1; }
    return at;
  };
  assert.deepEqual(merges(5, 12), [4, 9]); // the generation tests below merge twice
  // 16 + 64 (the bench's shape): ~7 merges, each recent segment at most ceil(√(2·older)) long.
  const at = merges(16, 64);
  assert.ok(at.length >= 5 && at.length <= 9, `merges at ${at}`);
  assert.equal(mergeDue(100, 14), false);
  assert.equal(mergeDue(100, 15), true);
});

for (const cfg of configs) {
  const name = cfg.arch === 'gpt_neox' && !cfg.parallelResidual ? 'gpt_neox (sequential residual, tied, linear rope)'
    : cfg.arch === 'gpt_neox' && cfg.rope ? `gpt_neox (${cfg.rope.type} rope on the rotary dims)`
    : cfg.arch !== 'gpt2' && cfg.rope ? `${cfg.arch} (${cfg.rope.type} rope)`
    : (cfg.arch === 'qwen2' || cfg.arch === 'qwen3') && cfg.slidingLayers ? `${cfg.arch} (sliding layers ${cfg.slidingLayers.map(Number).join('')}, window ${cfg.slidingWindow})` : cfg.arch;
  test(`${name}: KV-cache generation equals full recomputation; padded rows equal unpadded`, async () => {
    const m = CausalLM.init(cfg, 1);
    bigInit(m);
    const prompts = [[1, 2, 3, 4, 5], [7, 8], [9, 10, 11]];
    // 12 tokens after a 5-token prompt: the two-segment cache merges twice (after 4 and 5 more tokens).
    const gen = await generate(m, prompts, { maxNewTokens: 12, temperature: 1, seed: 3, stopAtEos: false });
    // Recompute each full sequence without a cache: log-probs of the generated tokens must agree.
    for (let b = 0; b < prompts.length; b++) {
      const seq = [...prompts[b]!, ...gen.tokens[b]!];
      const lp = (await scoreLogprobs(m, [seq]))[0]!;
      const tail = lp.slice(prompts[b]!.length - 1);
      tail.forEach((x, i) => assert.ok(Math.abs(x - gen.logprobs[b]![i]!) < 1e-4, `row ${b} token ${i}: cache ${gen.logprobs[b]![i]} vs full ${x}`));
    }
    // Padded batch scoring equals per-row scoring at the real positions.
    const rows = prompts.map((p, b) => [...p, ...gen.tokens[b]!]);
    const batched = await scoreLogprobs(m, rows);
    const T = Math.max(...rows.map((r) => r.length));
    for (let b = 0; b < rows.length; b++) {
      const single = (await scoreLogprobs(m, [rows[b]!]))[0]!;
      const off = T - rows[b]!.length;
      single.forEach((x, i) => assert.ok(Math.abs(x - batched[b]![off + i]!) < 1e-4, `row ${b} pos ${i}: padded ${batched[b]![off + i]} vs alone ${x}`));
    }
    // Same seed → same samples; another seed → (almost surely) different ones.
    const again = await generate(m, prompts, { maxNewTokens: 12, temperature: 1, seed: 3, stopAtEos: false });
    assert.deepEqual(again.tokens, gen.tokens);
    // The one-segment cache (GPUs' default) samples the same tokens with the same log-probs.
    const single = await generate(m, prompts, { maxNewTokens: 12, temperature: 1, seed: 3, stopAtEos: false, kvCache: 'single' });
    assert.deepEqual(single.tokens, gen.tokens);
    single.logprobs.forEach((row, b) => row.forEach((x, i) => assert.ok(Math.abs(x - gen.logprobs[b]![i]!) < 1e-4, `row ${b} token ${i}: one segment ${x} vs two ${gen.logprobs[b]![i]}`)));
    const other = await generate(m, prompts, { maxNewTokens: 12, temperature: 1, seed: 4, stopAtEos: false });
    assert.notDeepEqual(other.tokens, gen.tokens);
  });

  test(`${name}: save → load round-trips weights and logits`, async () => {
    const m = CausalLM.init(cfg, 2);
    const dir = await mkdtemp(path.join(os.tmpdir(), `rrlhf-${cfg.arch}-`));
    await m.save(dir);
    const back = await CausalLM.load(dir);
    assert.deepEqual(back.config, m.config);
    const ids = [[1, 2, 3, 4], [5, 6, 7, 8]];
    const a = await m.evaluate(ids), b = await back.evaluate(ids);
    assert.deepEqual(b.logits.data, a.logits.data);
    assert.equal(a.loss, b.loss);
  });
}

test('every family trains: SFT steps on a fixed set lower its loss (each config above)', async () => {
  const samples = [{ prompt: [1, 2, 3], response: [4, 5, 6, 7] }, { prompt: [9, 8], response: [7, 6, 5] }, { prompt: [11], response: [12, 13, 14, 15] }];
  for (const cfg of configs) {
    const m = CausalLM.init(cfg, 5);
    const r = await sft(m, samples, { epochs: 8, batchSize: 3, lr: 1e-2, padId: 0 });
    assert.ok(r.losses.every(Number.isFinite) && r.losses.at(-1)! < r.losses[0]!, `${cfg.arch}: losses ${r.losses.map((x) => x.toFixed(3)).join(' ')}`);
  }
});
