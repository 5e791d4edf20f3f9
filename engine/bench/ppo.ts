// The PPO-iteration benchmark: rollout (KV-cache sampling), policy/reference scoring, GAE and
// K epochs × M minibatches of the clipped PPO step, on a decoder of a given shape. The reward is a
// cheap fixed function (the fraction of one token), so the figure is the engine's own work.
// test/reference/bench_ppo.py runs the same iteration in PyTorch eager.

import { CausalLM } from '../models/model.js';
import { PpoTrainer } from '../rlhf/ppo.js';
import { withLora } from '../models/lora.js';
import { Rng } from '../runtime/params.js';
import { benchConfig, type LmShape } from './lm.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { ppoMemoryPlan } from '../models/memory.js';
import { METRIC } from '../../common/metrics.js';

export interface PpoBenchConfig extends LmShape {
  batch: number; promptLen: number; newTokens: number; epochs: number; miniBatches: number; iterations: number; warmup?: number; device?: DeviceRequest;
  /** LoRA rank: the policy trains adapters on the attention projections (c_attn, or q_proj + v_proj) and
   *  its reference is the base with adapters off; null: full fine-tuning against a cloned reference. */
  lora?: number | null;
}

/** The attention projections a benchmark's LoRA adapts (what PEFT's examples target by default). */
export const benchLoraTargets = (arch: string) => (arch === 'gpt2' ? ['c_attn'] : ['q_proj', 'v_proj']);

export async function benchPpo(c: PpoBenchConfig, progress?: (i: number, n: number) => void) {
  const base = CausalLM.init(benchConfig(c, c.promptLen + c.newTokens + 8), 0, c.device ?? 'cpu');
  const policy = c.lora ? await withLora(base, { r: c.lora, alpha: 2 * c.lora, dropout: 0, targetModules: benchLoraTargets(c.arch), bias: 'none' }) : base;
  const ref = c.lora ? policy.withoutAdapters() : await base.clone();
  const ppo = await PpoTrainer.create(policy, ref, {
    batchSize: c.batch, miniBatches: c.miniBatches, epochs: c.epochs, lr: 1e-4, maxNewTokens: c.newTokens, klCoef: 0.05,
    padId: 0, eosId: null, seed: 0,
  });
  const rng = new Rng(1);
  const prompts = Array.from({ length: c.batch }, () => Array.from({ length: c.promptLen }, () => rng.int(c.vocab)));
  const target = 7 % c.vocab;
  const reward = async (_p: number[][], rs: number[][]) => ({ scores: rs.map((r) => r.filter((t) => t === target).length / Math.max(r.length, 1)) });
  for (let i = 0; i < (c.warmup ?? 1); i++) await ppo.step(prompts, reward);
  const parts = { rollout: 0, score: 0, train: 0 };
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < c.iterations; i++) {
    const r = await ppo.step(prompts, reward);
    parts.rollout += r.metrics[METRIC.timeRollout]!; parts.score += r.metrics[METRIC.timeScore]!; parts.train += r.metrics[METRIC.timeTrain]!;
    progress?.(i + 1, c.iterations);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / c.iterations;
  const n = c.iterations;
  return {
    name: 'ppo', impl: 'rrlhf-engine', device: policy.device, arch: c.arch, params: policy.params.numel(),
    lora: c.lora ? { r: c.lora, target_modules: benchLoraTargets(c.arch), trainable_params: policy.trainableNames().reduce((a, n) => a + policy.params.get(n).data.length, 0) } : null,
    config: { layers: c.layers, d: c.d, heads: c.heads, vocab: c.vocab, batch: c.batch, prompt_len: c.promptLen, new_tokens: c.newTokens, epochs: c.epochs, mini_batches: c.miniBatches, iterations: n },
    ms_per_step: ms, ms_per_iteration: ms,
    // Peak resident memory of the process so far (maxRSS is in kilobytes), Node and ONNX Runtime included.
    peak_memory_mb: process.resourceUsage().maxRSS / 1024,
    // What the memory plan says this iteration needs (docs/engine.md § Memory plan; the reward here is a
    // function, so no ensemble): on a GPU device memory, with the host copies beside it.
    ...plannedMemory(c, policy.config, policy.device),
    ms_rollout: (parts.rollout / n) * 1e3, ms_score: (parts.score / n) * 1e3, ms_train: (parts.train / n) * 1e3,
  };
}

function plannedMemory(c: PpoBenchConfig, config: CausalLM['config'], device: DeviceRequest) {
  const plan = ppoMemoryPlan(config, {
    batch: c.batch, miniBatches: c.miniBatches, promptTokens: c.promptLen, responseTokens: c.newTokens,
    lora: c.lora ? { r: c.lora, targetModules: benchLoraTargets(c.arch) } : null, ensemble: null,
  }, 'fp32', device === 'cpu' ? 'cpu' : 'gpu');
  return { planned_memory_mb: plan.totalBytes / 2 ** 20, planned_host_memory_mb: plan.hostBytes / 2 ** 20 };
}
