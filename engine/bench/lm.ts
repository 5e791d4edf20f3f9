// Language-model benchmarks: a train step (forward, cross-entropy, backward, AdamW in one graph) and
// batched generation with the KV cache. test/reference/bench_lm.py and bench_generate.py run the same
// work in PyTorch (npm run bench).

import { Trainer } from '../runtime/optim.js';
import { Rng } from '../runtime/params.js';
import { i64 } from '../runtime/session.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { CausalLM } from '../models/model.js';
import { type ModelConfig } from '../models/config.js';
import { generate } from '../models/sampler.js';

export interface LmShape {
  arch: 'gpt2' | 'llama'; layers: number; d: number; heads: number; vocab: number;
  /** Llama only: key/value heads (grouped-query attention; default: heads). */
  kvHeads?: number;
  /** MLP width (default: 4·d for GPT-2, 8·d/3 rounded to a multiple of 64 for Llama). */
  intermediate?: number;
}

export function benchConfig(s: LmShape, maxPositions = 1024): ModelConfig {
  if (s.arch === 'gpt2') {
    if (s.kvHeads !== undefined && s.kvHeads !== s.heads) throw new Error(`kv heads: GPT-2 has one key/value head per attention head (${s.heads}), got ${s.kvHeads}`);
    return { arch: 'gpt2', vocabSize: s.vocab, nPositions: maxPositions, d: s.d, nLayer: s.layers, nHead: s.heads, eps: 1e-5, activation: 'gelu_new', bosTokenId: null, eosTokenId: null, ...(s.intermediate !== undefined ? { nInner: s.intermediate } : {}) };
  }
  return { arch: 'llama', vocabSize: s.vocab, d: s.d, intermediate: s.intermediate ?? Math.round((8 * s.d) / 3 / 64) * 64, nLayer: s.layers, nHead: s.heads, nKvHead: s.kvHeads ?? s.heads, headDim: s.d / s.heads, eps: 1e-6, ropeTheta: 10000, rope: null, slidingWindow: null, qkNorm: false, fused: false, maxPositions, tied: false, qkvBias: false, oBias: false, mlpBias: false, bosTokenId: null, eosTokenId: null };
}

/** Matmul FLOPs of one forward pass over B×T tokens (weights, attention scores and values, LM head). */
export function forwardFlops(m: CausalLM, B: number, T: number): number {
  const c = m.config;
  let weights = 0;
  for (const name of m.modelParamNames()) {
    const shape = m.params.shape(name);
    if (shape.length === 2 && !/wte|wpe|embed_tokens/.test(name)) weights += shape[0]! * shape[1]!;
  }
  const head = c.vocabSize * c.d; // tied or not, the LM head is one [d, V] product per token
  const attn = 2 * c.nLayer * T * c.d; // q·kᵀ and p·v per token, T keys each
  return 2 * B * T * (weights + head + attn);
}

/** Matmul FLOPs of a greedy generation: the prompt's forward pass (it yields the first new token), then
 *  one decode step per further token, B tokens each attending to the P + k cached positions. */
export function generateFlops(m: CausalLM, B: number, P: number, N: number): number {
  const perToken = forwardFlops(m, 1, 1) - 2 * 2 * m.config.nLayer * m.config.d; // weights and head, no attention
  let flops = forwardFlops(m, B, P);
  for (let k = 1; k < N; k++) flops += B * (perToken + 2 * 2 * m.config.nLayer * m.config.d * (P + k));
  return flops;
}

export async function benchLmTrain(m: CausalLM, o: { batch: number; seq: number; steps: number; warmup?: number }, progress?: (i: number, n: number) => void) {
  const rng = new Rng(0);
  const trainer = await Trainer.create({
    name: 'lm', params: m.params, device: m.device, optimizer: { lr: 1e-4, weightDecay: 0.0 },
    build: (g, p) => {
      const ids = g.input('input_ids', 'int64', ['B', 'T']);
      const mask = g.input('attention_mask', 'int64', ['B', 'T']);
      return { loss: m.lmLossFromHidden(p, m.trace(g, p, ids, mask).hidden, ids) };
    },
  });
  const n = o.batch * o.seq;
  const batch = { input_ids: i64(Array.from({ length: n }, () => rng.int(m.config.vocabSize)), [o.batch, o.seq]), attention_mask: i64(new Array(n).fill(1), [o.batch, o.seq]) };
  for (let i = 0; i < (o.warmup ?? 2); i++) await trainer.run(batch);
  const t0 = process.hrtime.bigint();
  let loss = 0;
  for (let i = 0; i < o.steps; i++) { loss = (await trainer.run(batch)).loss; progress?.(i + 1, o.steps); }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / o.steps;
  const flops = 3 * forwardFlops(m, o.batch, o.seq);
  return {
    name: 'lm-train', impl: 'rrlhf-engine', device: m.device, arch: m.config.arch, params: m.params.numel(),
    config: { batch: o.batch, seq: o.seq, steps: o.steps }, ms_per_step: ms, tokens_per_s: n / (ms / 1e3), gflops: flops / (ms / 1e3) / 1e9, final_loss: loss,
  };
}

export async function benchGenerate(m: CausalLM, o: { batch: number; promptLen: number; newTokens: number; repeats?: number }) {
  const rng = new Rng(1);
  const prompts = Array.from({ length: o.batch }, () => Array.from({ length: o.promptLen }, () => rng.int(m.config.vocabSize)));
  const opts = { maxNewTokens: o.newTokens, temperature: 0, stopAtEos: false };
  await generate(m, prompts, { ...opts, maxNewTokens: 2 }); // compile both graphs
  const reps = o.repeats ?? 3;
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    await generate(m, prompts, opts);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return {
    name: 'generate', impl: 'rrlhf-engine', device: m.device, arch: m.config.arch,
    config: { batch: o.batch, prompt_len: o.promptLen, new_tokens: o.newTokens }, ms_total: best, tokens_per_s: (o.batch * o.newTokens) / (best / 1e3),
    gflops: generateFlops(m, o.batch, o.promptLen, o.newTokens) / (best / 1e3) / 1e9,
  };
}

