// `rrlhf model eval|generate|info`: run a Hugging Face model folder from the command line.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Command, UsageError, parse, intOpt, nonNegIntOpt, deviceOpt } from '../cli-kit.js';
import { CausalLM, gradSums } from '../../models/model.js';
import { generate } from '../../models/sampler.js';
import { loadTokenizer } from '../../models/tokenizer.js';
import { toHfConfig } from '../../models/config.js';

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
    'model info DIR                  architecture, sizes and parameter count',
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
      const { positionals } = parse(rest, {}, true);
      if (positionals.length !== 1) throw new UsageError('usage: rrlhf model info DIR');
      const m = await CausalLM.load(positionals[0]!);
      const res = { config: toHfConfig(m.config), parameters: m.params.numel(), tensors: m.params.size, unused_tensors: m.unusedTensors };
      out(res, () => `${m.config.arch}: ${(res.parameters / 1e6).toFixed(2)}M parameters in ${res.tensors} tensors${m.unusedTensors.length ? `; unused in checkpoint: ${m.unusedTensors.join(', ')}` : ''}`);
    } else {
      throw new UsageError(`unknown subcommand "model ${sub ?? ''}"; available: eval, generate, info`);
    }
  },
};
