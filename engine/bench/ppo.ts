// The PPO-iteration benchmark: rollout (KV-cache sampling), policy/reference scoring, GAE and
// K epochs × M minibatches of the clipped PPO step, on a decoder of a given shape. The reward is a
// cheap fixed function (the fraction of one token), so the figure is the engine's own work.
// test/reference/bench_ppo.py runs the same iteration in PyTorch eager.

import { type Precision } from '../runtime/precision.js';
import { CausalLM } from '../models/model.js';
import { PpoTrainer } from '../rlhf/ppo.js';
import { withLora } from '../models/lora.js';
import { Rng } from '../runtime/params.js';
import { benchConfig, type LmShape } from './lm.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { ppoMemoryPlan, defaultLoraTargets } from '../models/memory.js';
import { METRIC } from '../../common/metrics.js';
import { PhaseMemory } from './phase-memory.js';

/** The PPO iteration's phases, named as the memory plan names them (engine/models/memory.ts MemoryPhase). */
type Phase = 'rollout' | 'score' | 'train';

export interface PpoBenchConfig extends LmShape {
  batch: number; promptLen: number; newTokens: number; epochs: number; miniBatches: number; iterations: number; warmup?: number; device?: DeviceRequest;
  /** LoRA rank: the policy trains adapters on the attention projections (c_attn, or q_proj + v_proj) and
   *  its reference is the base with adapters off; null: full fine-tuning against a cloned reference. */
  lora?: number | null;
  /** Recompute each layer in the update's backward pass (docs/engine.md § Gradient checkpointing). */
  gradientCheckpointing?: boolean;
  /** bf16 / fp16: the policy under autocast (docs/engine.md § Mixed precision). Default fp32. */
  precision?: Precision;
}

/** The attention projections a benchmark's LoRA adapts: the engine's defaults (what PEFT's examples target). */
export const benchLoraTargets = defaultLoraTargets;

/** `model`: a loaded policy (`rrlhf bench ppo --model DIR`) instead of a random one of the shape in `c`. */
export async function benchPpo(c: PpoBenchConfig, progress?: (i: number, n: number) => void, model?: CausalLM) {
  const base = model ?? CausalLM.init(benchConfig(c, c.promptLen + c.newTokens + 8), 0, c.device ?? 'cpu');
  const vocab = base.config.vocabSize;
  const policy = c.lora ? await withLora(base, { r: c.lora, alpha: 2 * c.lora, dropout: 0, targetModules: benchLoraTargets(base.config.arch), bias: 'none' }) : base;
  const ref = c.lora ? policy.withoutAdapters() : await base.clone();
  policy.precision = ref.precision = c.precision ?? 'fp32';
  const ppo = await PpoTrainer.create(policy, ref, {
    batchSize: c.batch, miniBatches: c.miniBatches, epochs: c.epochs, lr: 1e-4, maxNewTokens: c.newTokens, klCoef: 0.05,
    padId: 0, eosId: null, seed: 0, gradientCheckpointing: c.gradientCheckpointing ?? false,
  });
  const rng = new Rng(1);
  const prompts = Array.from({ length: c.batch }, () => Array.from({ length: c.promptLen }, () => rng.int(vocab)));
  const target = 7 % vocab;
  const reward = async (_p: number[][], rs: number[][]) => ({ scores: rs.map((r) => r.filter((t) => t === target).length / Math.max(r.length, 1)) });
  const probe = PhaseMemory.open<Phase>();
  const mem = probe instanceof PhaseMemory ? probe : null;
  if (mem) observePhases(ppo, mem);
  const step = async () => {
    mem?.iteration();
    mem?.begin('rollout');
    const r = await ppo.step(prompts, reward);
    mem?.end();
    const rec = mem?.iterations.at(-1);
    if (rec && !(rec.rollout && rec.score && rec.train)) throw new Error(`bench ppo: the per-phase memory probe saw only ${Object.keys(rec).join(', ')} of rollout, score, train (PpoTrainer.step no longer starts its phases where engine/bench/ppo.ts observePhases looks)`);
    return r;
  };
  const warmup = c.warmup ?? 1;
  for (let i = 0; i < warmup; i++) await step();
  const parts = { rollout: 0, score: 0, train: 0 };
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < c.iterations; i++) {
    const r = await step();
    parts.rollout += r.metrics[METRIC.timeRollout]!; parts.score += r.metrics[METRIC.timeScore]!; parts.train += r.metrics[METRIC.timeTrain]!;
    progress?.(i + 1, c.iterations);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / c.iterations;
  const n = c.iterations;
  return {
    name: 'ppo', impl: 'rrlhf-engine', device: policy.device, arch: policy.config.arch, params: policy.params.numel(),
    lora: c.lora ? { r: c.lora, alpha: 2 * c.lora, target_modules: benchLoraTargets(policy.config.arch), trainable_params: policy.trainableNames().reduce((a, n) => a + policy.params.shape(n).reduce((x, y) => x * y, 1), 0) } : null,
    config: { ...shapeOf(policy.config), batch: c.batch, prompt_len: c.promptLen, new_tokens: c.newTokens, epochs: c.epochs, mini_batches: c.miniBatches, iterations: n, gradient_checkpointing: c.gradientCheckpointing ?? false, precision: c.precision ?? 'fp32' },
    ms_per_step: ms, ms_per_iteration: ms,
    // Peak resident memory of the whole run (warm-up and model building included), Node and ONNX Runtime
    // included. On a GPU this is the host side only: no ONNX Runtime provider here reports device memory in use.
    peak_memory_mb: mem ? mem.overallMb() : process.resourceUsage().maxRSS / 1024,
    peak_memory_source: `${mem ? 'host RSS (/proc/self/status VmHWM, its maximum carried across the per-phase resets)' : 'host RSS (process.resourceUsage().maxRSS)'}${policy.device === 'cpu' ? '' : `; ${policy.device} memory in use is not reported by the provider`}`,
    // Each phase's peak RSS over every iteration, warm-up included (the first iteration is where ONNX
    // Runtime's arenas grow); per iteration also the RSS each phase started from.
    peak_memory_mb_by_phase: mem ? mem.peaks() as Record<Phase, number> : null,
    ...(mem ? { memory_mb_by_iteration: mem.iterations.map((rec, i) => ({ warmup: i < warmup, ...rec })) } : { peak_memory_by_phase_unavailable: (probe as { unavailable: string }).unavailable }),
    // What the memory plan says this iteration needs (docs/engine.md § Memory plan; the reward here is a
    // function, so no ensemble): on a GPU device memory, with the host copies beside it.
    ...plannedMemory(c, policy.config, policy.device, policy.config.arch),
    ms_rollout: (parts.rollout / n) * 1e3, ms_score: (parts.score / n) * 1e3, ms_train: (parts.train / n) * 1e3,
  };
}

/** The shape a result reports (the flags that rebuild it, or what a loaded folder has). */
function shapeOf(m: CausalLM['config']) {
  return {
    arch: m.arch, layers: m.nLayer, d: m.d, heads: m.nHead, kv_heads: 'nKvHead' in m ? m.nKvHead : m.nHead,
    intermediate: 'intermediate' in m ? m.intermediate : m.arch === 'gpt2' ? m.nInner ?? 4 * m.d : null, vocab: m.vocabSize,
  };
}

function plannedMemory(c: PpoBenchConfig, config: CausalLM['config'], device: DeviceRequest, arch: string) {
  const plan = ppoMemoryPlan(config, {
    batch: c.batch, miniBatches: c.miniBatches, promptTokens: c.promptLen, responseTokens: c.newTokens,
    lora: c.lora ? { r: c.lora, targetModules: benchLoraTargets(arch) } : null, ensemble: null, checkpointing: c.gradientCheckpointing ?? false,
  }, c.precision ?? 'fp32', device === 'cpu' ? 'cpu' : 'gpu');
  const mb = (b: number) => b / 2 ** 20;
  return {
    planned_memory_mb: mb(plan.totalBytes), planned_host_memory_mb: mb(plan.hostBytes),
    planned_memory_mb_by_phase: { resident: mb(plan.residentBytes), ...Object.fromEntries(plan.phases.map((p) => [p.name, mb(p.bytes)])) as Record<Phase, number> },
  };
}

/** Starts the probe's score and train phases where PpoTrainer.step starts them: its first read of the
 *  reference's parameter names (the upload before scoring; the rollout samples from the policy only) and
 *  its first update step. PpoTrainer has no phase hook, so the bench wraps these two calls on its own
 *  instances; a phase these calls stop marking is reported by `step` above rather than mismeasured. */
function observePhases(ppo: PpoTrainer, mem: PhaseMemory<Phase>): void {
  const ref = ppo.ref;
  const names = ref.modelParamNames.bind(ref);
  ref.modelParamNames = () => { if (mem.phase === 'rollout') mem.begin('score'); return names(); };
  const trainer = (ppo as unknown as { trainer: { run: (...a: unknown[]) => unknown } }).trainer;
  const run = trainer.run.bind(trainer);
  trainer.run = (...a: unknown[]) => { if (mem.phase === 'score') mem.begin('train'); return run(...a); };
}
