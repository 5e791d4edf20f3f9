import { PRECISIONS, type Precision } from '../../runtime/precision.js';
import { type Command, UsageError, parse, intOpt, nonNegIntOpt, deviceOpt, progress } from '../cli-kit.js';
import { benchMlp } from '../../bench/mlp.js';
import { benchLmTrain, benchGenerate, benchConfig, type LmShape } from '../../bench/lm.js';
import { benchPpo } from '../../bench/ppo.js';
import { benchGemm } from '../../bench/gemm.js';
import { CausalLM } from '../../models/model.js';

const MODEL_OPTS = {
  model: { type: 'string' }, arch: { type: 'string' }, layers: { type: 'string' }, d: { type: 'string' }, heads: { type: 'string' }, vocab: { type: 'string' },
  'kv-heads': { type: 'string' }, intermediate: { type: 'string' },
} as const;
const SHAPE_USAGE = '--model DIR | --arch gpt2|llama --layers L --d D --heads H [--kv-heads K] [--intermediate I] --vocab V';

type Values = Record<string, string | boolean | undefined>;

/** The shape flags (defaults differ per benchmark). */
function benchShape(v: Values, def: { layers: number; d: number; heads: number; vocab: number }): LmShape {
  const arch = (v.arch ?? 'gpt2') as string;
  if (arch !== 'gpt2' && arch !== 'llama') throw new UsageError(`--arch must be gpt2 or llama, got "${arch}"`);
  const shape: LmShape = {
    arch, layers: intOpt(v.layers as string, 'layers', def.layers), d: intOpt(v.d as string, 'd', def.d), heads: intOpt(v.heads as string, 'heads', def.heads), vocab: intOpt(v.vocab as string, 'vocab', def.vocab),
    ...(v['kv-heads'] !== undefined ? { kvHeads: intOpt(v['kv-heads'] as string, 'kv-heads', 0) } : {}),
    ...(v.intermediate !== undefined ? { intermediate: intOpt(v.intermediate as string, 'intermediate', 0) } : {}),
  };
  if (shape.d % shape.heads) throw new UsageError(`--d ${shape.d} is not divisible by --heads ${shape.heads}`);
  if (shape.kvHeads !== undefined && shape.heads % shape.kvHeads) throw new UsageError(`--heads ${shape.heads} is not divisible by --kv-heads ${shape.kvHeads}`);
  return shape;
}

/** A model from --model DIR, or a random one of the given shape (default: GPT-2, 6 layers, d 384, 6 heads, vocab 8192). */
async function benchModel(v: Values, positions: number) {
  const device = deviceOpt(v.device as string | undefined);
  if (typeof v.model === 'string') return CausalLM.load(v.model, device);
  return CausalLM.init(benchConfig(benchShape(v, { layers: 6, d: 384, heads: 6, vocab: 8192 }), Math.max(positions, 1024)), 0, device);
}

export const bench: Command = {
  usage: [
    'bench mlp [--batch B] [--in D] [--hidden H] [--steps N] [--warmup W]    Linear-ReLU-Linear MSE train step with Adam',
    `bench lm-train [${SHAPE_USAGE}] [--batch B] [--seq T] [--steps N]`,
    '                                 forward + cross-entropy + backward + AdamW of a decoder LM',
    'bench generate [--model DIR | shape options] [--batch B] [--prompt-len P] [--new-tokens N]   KV-cache generation',
    'bench gemm [--n N] [--reps R]   one fp32 [N, N] @ [N, N] MatMul in ORT: this machine\'s GEMM rate (median)',
    `bench ppo [${SHAPE_USAGE}] [--batch B] [--prompt-len P] [--new-tokens N] [--epochs K] [--mini-batches M] [--iterations N] [--lora R] [--gradient-checkpointing] [--precision fp32|bf16|fp16]`,
    '                                 one PPO iteration: rollout, scoring, GAE, K×M clipped updates (default: the Goodhart-lab policy shape)',
  ],
  async run(args, out) {
    const [name, ...rest] = args;
    if (name === 'mlp') {
      const { values } = parse(rest, { batch: { type: 'string' }, in: { type: 'string' }, hidden: { type: 'string' }, steps: { type: 'string' }, warmup: { type: 'string' } });
      const cfg = {
        batch: intOpt(values.batch, 'batch', 256), in: intOpt(values.in, 'in', 512), hidden: intOpt(values.hidden, 'hidden', 2048),
        steps: intOpt(values.steps, 'steps', 20), warmup: nonNegIntOpt(values.warmup, 'warmup', 5), device: deviceOpt(values.device),
      };
      const r = await benchMlp(cfg, progress('bench mlp'));
      out(r, () => `mlp B${cfg.batch} D${cfg.in} H${cfg.hidden} on ${r.device}: ${r.ms_per_step.toFixed(3)} ms/step, ${r.gflops.toFixed(1)} GFLOP/s`);
    } else if (name === 'lm-train') {
      const { values } = parse(rest, { ...MODEL_OPTS, batch: { type: 'string' }, seq: { type: 'string' }, steps: { type: 'string' } });
      const seq = intOpt(values.seq, 'seq', 128);
      const m = await benchModel(values, seq);
      const r = await benchLmTrain(m, { batch: intOpt(values.batch, 'batch', 16), seq, steps: intOpt(values.steps, 'steps', 5) }, progress('bench lm-train'));
      out(r, () => `lm-train ${r.arch} (${(r.params / 1e6).toFixed(1)}M params) B${r.config.batch}×T${r.config.seq} on ${r.device}: ${r.ms_per_step.toFixed(1)} ms/step, ${r.tokens_per_s.toFixed(0)} tok/s, ${r.gflops.toFixed(1)} GFLOP/s`);
    } else if (name === 'generate') {
      const { values } = parse(rest, { ...MODEL_OPTS, batch: { type: 'string' }, 'prompt-len': { type: 'string' }, 'new-tokens': { type: 'string' } });
      const promptLen = intOpt(values['prompt-len'], 'prompt-len', 16), newTokens = intOpt(values['new-tokens'], 'new-tokens', 64);
      const m = await benchModel(values, promptLen + newTokens);
      const r = await benchGenerate(m, { batch: intOpt(values.batch, 'batch', 8), promptLen, newTokens });
      out(r, () => `generate ${r.arch} B${r.config.batch} prompt ${promptLen} + ${newTokens} new on ${r.device}: ${r.tokens_per_s.toFixed(0)} tok/s (${r.ms_total.toFixed(0)} ms)`);
    } else if (name === 'gemm') {
      const { values } = parse(rest, { n: { type: 'string' }, reps: { type: 'string' } });
      const r = await benchGemm({ n: intOpt(values.n, 'n', 1024), reps: intOpt(values.reps, 'reps', 15), device: deviceOpt(values.device) });
      out(r, () => `gemm ${r.n}³ fp32: ${r.ms_median.toFixed(2)} ms, ${r.gflops.toFixed(1)} GFLOP/s`);
    } else if (name === 'ppo') {
      const { values } = parse(rest, { ...MODEL_OPTS, batch: { type: 'string' }, 'prompt-len': { type: 'string' }, 'new-tokens': { type: 'string' }, epochs: { type: 'string' }, 'mini-batches': { type: 'string' }, iterations: { type: 'string' }, lora: { type: 'string' }, 'gradient-checkpointing': { type: 'boolean' }, precision: { type: 'string' } });
      if (values.precision !== undefined && !(PRECISIONS as readonly string[]).includes(values.precision)) throw new UsageError(`--precision must be one of ${PRECISIONS.join(', ')}, got "${values.precision}"`);
      const shape = benchShape(values, { layers: 2, d: 64, heads: 4, vocab: 26 });
      const device = deviceOpt(values.device);
      const promptLen = intOpt(values['prompt-len'], 'prompt-len', 2), newTokens = intOpt(values['new-tokens'], 'new-tokens', 13);
      const model = typeof values.model === 'string' ? await CausalLM.load(values.model, device) : undefined;
      const r = await benchPpo({
        ...shape,
        batch: intOpt(values.batch, 'batch', 64), promptLen, newTokens,
        epochs: intOpt(values.epochs, 'epochs', 4), miniBatches: intOpt(values['mini-batches'], 'mini-batches', 2), iterations: intOpt(values.iterations, 'iterations', 5),
        device, lora: values.lora === undefined ? null : intOpt(values.lora, 'lora', 8), gradientCheckpointing: values['gradient-checkpointing'] === true,
        ...(values.precision !== undefined ? { precision: values.precision as Precision } : {}),
      }, progress('bench ppo'), model);
      out(r, () => `ppo ${r.arch} (${(r.params / 1e6).toFixed(2)}M params) B${r.config.batch} on ${r.device}: ${r.ms_per_step.toFixed(0)} ms/iteration${r.lora ? ` LoRA r ${r.lora.r}` : ''}${r.config.gradient_checkpointing ? ', checkpointed' : ''}${r.config.precision !== 'fp32' ? `, ${r.config.precision}` : ''}, peak ${r.peak_memory_mb.toFixed(0)} MB${r.peak_memory_mb_by_phase ? ` (by phase: ${Object.entries(r.peak_memory_mb_by_phase).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')})` : ''}; ms rollout ${r.ms_rollout.toFixed(0)}, score ${r.ms_score.toFixed(0)}, train ${r.ms_train.toFixed(0)}`);
    } else {
      throw new UsageError(`unknown benchmark "${name ?? ''}"; available: mlp, lm-train, generate, ppo, gemm`);
    }
  },
};
