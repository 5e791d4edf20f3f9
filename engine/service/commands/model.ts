// `rrlhf model eval|generate|info`: run a Hugging Face model folder from the command line.
import { PRECISIONS } from '../../runtime/precision.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Command, UsageError, parse, intOpt, nonNegIntOpt, deviceOpt } from '../cli-kit.js';
import { CausalLM, gradSums } from '../../models/model.js';
import { generate } from '../../models/sampler.js';
import { loadTokenizer } from '../../models/tokenizer.js';
import { toHfConfig, configNotes } from '../../models/config.js';
import { modelSummary, type ModelSummary, type SummaryStudy } from '../models.js';
import { DEFAULT_PPO_SHAPE } from '../../models/memory.js';
import { ENSEMBLE_METHODS, type EnsembleMethod } from '../../../common/ensemble-methods.js';
import { bytes } from '../../../common/format.js';

/** Reads [[ids...], ...] from a JSON file; errors name the file and what is wrong. */
async function readIds(file: string): Promise<number[][]> {
  const abs = path.resolve(file);
  let text: string;
  try { text = await readFile(abs, 'utf8'); } catch { throw new UsageError(`${abs}: cannot read the --input-ids file`); }
  let v: unknown;
  try { v = JSON.parse(text); } catch (e) { throw new UsageError(`${abs}: invalid JSON (${(e as Error).message})`); }
  if (!Array.isArray(v) || v.length === 0 || !v.every((r) => Array.isArray(r) && r.every((x) => Number.isInteger(x) && x >= 0))) {
    throw new UsageError(`${abs}: expected a non-empty JSON array of rows of non-negative integer token ids, e.g. [[15496, 995]]`);
  }
  return v as number[][];
}

function flat3(data: Float32Array, shape: number[]): number[][][] {
  const [B, T, V] = shape as [number, number, number];
  return Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => Array.from(data.subarray((b * T + t) * V, (b * T + t + 1) * V))));
}

const float = (v: string | undefined, name: string, dflt: number) => {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a non-negative number, got "${v}"`);
  return n;
};

export const model: Command = {
  usage: [
    'model eval DIR --input-ids FILE [--grads]   logits, LM loss (HF labels=input_ids) and gradient sums under HF names',
    'model generate DIR --prompt P [--max-new N] [--seed S] [--temperature T] [--top-k K] [--top-p P]',
    'model info DIR [--batch B] [--mini-batches M] [--prompt-tokens P] [--response-tokens R] [--lora R] [--lora-targets q_proj,v_proj]',
    '               [--ensemble brme|independent|lora] [--heads K] [--gradient-checkpointing]',
    '                                family, RoPE, parameter count and the memory plan of a PPO study of that shape (full',
    '                                fine-tuning and LoRA) on each device and precision',
  ],
  async run(args, out) {
    const [sub, ...rest] = args;
    if (sub === 'eval') {
      const { values, positionals } = parse(rest, { 'input-ids': { type: 'string' }, grads: { type: 'boolean' } }, true);
      if (positionals.length !== 1 || !values['input-ids']) throw new UsageError('usage: rrlhf model eval DIR --input-ids FILE [--grads]');
      const ids = await readIds(values['input-ids']);
      const m = await CausalLM.load(positionals[0]!, deviceOpt(values.device));
      const r = await m.evaluate(ids, { grads: !!values.grads });
      const res = { logits: flat3(r.logits.data as Float32Array, r.logits.shape), loss: r.loss, ...(r.grads ? { grads: gradSums(r.grads) } : {}) };
      out(res, () => `loss ${r.loss.toFixed(6)} over ${ids.length}×${ids[0]!.length} tokens; logits [${r.logits.shape.join(', ')}]`);
    } else if (sub === 'generate') {
      const { values, positionals } = parse(rest, {
        prompt: { type: 'string' }, 'max-new': { type: 'string' }, seed: { type: 'string' }, temperature: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' },
      }, true);
      if (positionals.length !== 1 || values.prompt === undefined) throw new UsageError('usage: rrlhf model generate DIR --prompt P [--max-new N] [--seed S]');
      const dir = positionals[0]!;
      const m = await CausalLM.load(dir, deviceOpt(values.device));
      const tok = await loadTokenizer(dir);
      const prompt = tok.encode(values.prompt);
      if (prompt.length === 0) throw new UsageError('the prompt encodes to no tokens');
      const outside = prompt.find((t) => t >= m.config.vocabSize);
      if (outside !== undefined) throw new Error(`${dir}: the tokenizer gives token id ${outside} but the model's vocab_size is ${m.config.vocabSize}; the tokenizer.json does not belong to this model`);
      const g = await generate(m, [prompt], {
        maxNewTokens: intOpt(values['max-new'], 'max-new', 32), seed: nonNegIntOpt(values.seed, 'seed', 0),
        temperature: float(values.temperature, 'temperature', 1), topK: values['top-k'] ? intOpt(values['top-k'], 'top-k', 0) : 0, topP: float(values['top-p'], 'top-p', 1),
        eosId: m.specialTokens.eosIds, // generation_config.json's, then config.json's, then the tokenizer's (models/special-tokens.ts)
      });
      const ids = g.tokens[0]!;
      const res = { prompt: values.prompt, prompt_ids: prompt, ids, text: tok.decode(ids, { skipSpecialTokens: true }), logprobs: g.logprobs[0], finished: g.finished[0] };
      out(res, () => `${values.prompt}${res.text}`);
    } else if (sub === 'info') {
      const { values, positionals } = parse(rest, {
        batch: { type: 'string' }, 'mini-batches': { type: 'string' }, 'prompt-tokens': { type: 'string' }, 'response-tokens': { type: 'string' },
        lora: { type: 'string' }, 'lora-targets': { type: 'string' }, ensemble: { type: 'string' }, heads: { type: 'string' }, 'gradient-checkpointing': { type: 'boolean' },
      }, true);
      if (positionals.length !== 1) throw new UsageError('usage: rrlhf model info DIR [--json]');
      const study = studyFlags(values);
      const m = await CausalLM.load(positionals[0]!);
      // The summary is models.inspect's (service/models.ts); the checkpoint's own tensors are added here.
      const summary = await modelSummary(m.config, configNotes(JSON.parse(await readFile(path.join(positionals[0]!, 'config.json'), 'utf8')) as Record<string, unknown>), study);
      const res = { ...summary, config: toHfConfig(m.config), tensors: m.params.size, unused_tensors: m.unusedTensors };
      out(res, () => describeSummary(summary, m.unusedTensors));
    } else {
      throw new UsageError(`unknown subcommand "model ${sub ?? ''}"; available: eval, generate, info`);
    }
  },
};

/** `model info`'s study flags; absent ones keep DEFAULT_PPO_SHAPE's values. */
function studyFlags(v: Record<string, string | boolean | undefined>): SummaryStudy {
  const int = (name: string) => (v[name] === undefined ? undefined : intOpt(v[name] as string, name, 1));
  const method = v.ensemble as string | undefined;
  if (method !== undefined && !(ENSEMBLE_METHODS as readonly string[]).includes(method)) throw new UsageError(`--ensemble must be one of ${ENSEMBLE_METHODS.join(', ')}, got "${method}"`);
  const heads = int('heads');
  if (heads !== undefined && method === undefined) throw new UsageError('--heads K needs --ensemble METHOD');
  const targets = typeof v['lora-targets'] === 'string' ? v['lora-targets'].split(',').map((t) => t.trim()).filter(Boolean) : undefined;
  const batch = int('batch'), miniBatches = int('mini-batches');
  if (batch !== undefined && miniBatches !== undefined && batch % miniBatches !== 0) throw new UsageError(`--batch ${batch} is not a multiple of --mini-batches ${miniBatches}`);
  return {
    batch, miniBatches, promptTokens: int('prompt-tokens'), responseTokens: int('response-tokens'),
    lora: { r: int('lora'), targetModules: targets },
    ...(method !== undefined ? { ensemble: { method: method as EnsembleMethod, heads: heads ?? DEFAULT_PPO_SHAPE.ensemble.heads } } : {}),
    ...(v['gradient-checkpointing'] === true ? { checkpointing: true } : {}),
  };
}

/** The human rendering of a model summary: what it is, then the plan as a table (docs/engine.md § Memory plan). */
function describeSummary(s: ModelSummary, unused: string[]): string {
  const st = s.memory.study;
  const M = (n: number) => `${(n / 1e6).toFixed(2)}M`;
  const lines = [
    `${s.family.causalLM} (${s.family.arch}); positions: ${s.rope.type === 'default' || s.rope.theta !== null ? `RoPE ${s.rope.type}, θ ${s.rope.theta}${s.rope.localTheta !== null ? ` (sliding layers: default, θ ${s.rope.localTheta})` : ''}, ${s.rope.rotaryDims} rotary dims per head` : s.rope.type}`,
    `${M(s.parameters.total)} parameters (${M(s.parameters.trunk)} without the LM head)${unused.length ? `; unused in checkpoint: ${unused.join(', ')}` : ''}`,
    ...s.notes.map((n) => `Note: ${n}`),
    `Memory of a PPO study: ${st.batch} rollouts of ${st.promptTokens} + ${st.responseTokens} tokens, ${st.miniBatches} minibatches, ${st.ensemble.method.toUpperCase()} ensemble K ${st.ensemble.heads}; LoRA r ${st.lora.r} on ${st.lora.targetModules.join(', ')}${st.checkpointing ? '; gradient checkpointing' : ''} (flags --batch, --lora, ... change it)`,
    `  ${'device'.padEnd(8)}${'precision'.padEnd(11)}${'full fine-tuning'.padEnd(19)}${'LoRA'.padEnd(13)}available`,
  ];
  for (const d of s.memory.devices) {
    for (const p of PRECISIONS) {
      const row = (ft: 'full' | 'lora') => s.memory.plans.find((x) => x.device === d.device && x.precision === p && x.fineTuning === ft)!;
      const cell = (ft: 'full' | 'lora') => { const r = row(ft); return `${bytes(r.totalBytes)}${r.fits === false ? ' ✗' : ''}`; };
      lines.push(`  ${d.device.padEnd(8)}${(p + (row('full').runnable ? '' : '*')).padEnd(11)}${cell('full').padEnd(19)}${cell('lora').padEnd(13)}${d.availableBytes === null ? 'not reported' : `${bytes(d.availableBytes)} of ${bytes(d.totalBytes!)}`}`);
    }
  }
  const full = s.memory.plans.find((x) => x.precision === 'fp32' && x.fineTuning === 'full')!;
  const top = [...full.resident, ...full.phases.flatMap((p) => p.terms)].sort((a, b) => b.bytes - a.bytes).slice(0, 5);
  lines.push('  * not runnable on this device (bf16 needs CUDA); bf16/fp16 are autocast: float32 weights plus 16-bit copies; ✗ more than is available');
  lines.push(`Largest terms (${full.device}, fp32, full fine-tuning): ${top.map((t) => `${t.name} ${bytes(t.bytes)}`).join(', ')}; --json lists every term with its formula`);
  return lines.join('\n');
}
