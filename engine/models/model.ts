// A causal language model: a config, its parameters (HF names), and compiled graphs for evaluation.
// Loads and saves Hugging Face folders (config.json + model.safetensors or a sharded index) so a
// checkpoint moves between this app and transformers without conversion.

import { copyFile, mkdir, readFile, writeFile, access } from 'node:fs/promises';
import path from 'node:path';
import { Graph, type Tensor, F } from '../graph/index.js';
import { grad } from '../autodiff/grad.js';
import { compile, type CompiledGraph, type HostTensor, type Feed, i64 } from '../runtime/session.js';
import { ParamStore, Rng } from '../runtime/params.js';
import { readSafetensorsFolder } from '../runtime/safetensors.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { HALF_DTYPE, type Precision } from '../runtime/precision.js';
import { type ModelConfig, parseHfConfig, toHfConfig, ConfigError, slidingWindowOf, layerWindowOf, checkPositions, GEMMA_ARCHS } from './config.js';
import { type Architecture, type ParamSpec, attentionBias, type TrunkOutputs, ADAPTERS } from './decoder.js';
import { gpt2 } from './gpt2.js';
import type { LoraAdapters } from './lora.js';
import { llama } from './llama.js';
import { neox } from './neox.js';
import { gemma } from './gemma.js';
import { type SpecialTokens, configSpecialTokens, folderSpecialTokens } from './special-tokens.js';

export function architectureOf(cfg: ModelConfig): Architecture<ModelConfig> {
  const arch = cfg.arch === 'gpt2' ? gpt2 : cfg.arch === 'gpt_neox' ? neox : GEMMA_ARCHS.includes(cfg.arch) ? gemma : llama;
  return arch as Architecture<ModelConfig>;
}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'generation_config.json', 'vocab.json', 'merges.txt'];

export interface EvalResult { logits: HostTensor; loss: number; grads?: Record<string, Float32Array> }

/** Sum and sum of absolute values of each gradient (float64 accumulation), as the CLI reports them. */
export function gradSums(grads: Record<string, Float32Array>): Record<string, { sum: number; abs_sum: number }> {
  const out: Record<string, { sum: number; abs_sum: number }> = {};
  for (const [n, g] of Object.entries(grads)) {
    let s = 0, a = 0;
    for (const x of g) { s += x; a += Math.abs(x); }
    out[n] = { sum: s, abs_sum: a };
  }
  return out;
}

/** A model folder's config.json, parsed, with the loader's messages (the memory plan reads it too,
 *  before any weights: experiments/memory.ts). */
export async function readModelConfig(dir: string): Promise<{ config: ModelConfig; json: Record<string, unknown> }> {
  const cfgFile = path.join(path.resolve(dir), 'config.json');
  let raw: string;
  try { raw = await readFile(cfgFile, 'utf8'); } catch { throw new ConfigError(cfgFile, 'not found; a model folder needs config.json and model.safetensors (or model.safetensors.index.json)'); }
  let json: Record<string, unknown>;
  try { json = JSON.parse(raw); } catch (e) { throw new ConfigError(cfgFile, `invalid JSON: ${(e as Error).message}`); }
  return { config: parseHfConfig(json, cfgFile), json };
}

export class CausalLM {
  /** Checkpoint tensors that were present but unused (reported, not fatal). */
  unusedTensors: string[] = [];
  private graphs = new Map<string, Promise<CompiledGraph>>();
  /** LoRA adapters read through decoder.proj (models/lora.ts), or none: the base model. */
  lora: LoraAdapters | null = null;
  /** BOS / EOS / pad as generation and padding use them (models/special-tokens.ts): the folder's
   *  generation_config.json, config.json and tokenizer when loaded, else the config's ids. */
  specialTokens: SpecialTokens;
  /** fp32, or bf16 / fp16 mixed precision: every graph the model is traced into from trace() on runs
   *  under autocast, and trainers of it keep float32 master weights (docs/engine.md § Mixed precision).
   *  Set before the model's first run: compiled graphs are kept. */
  precision: Precision = 'fp32';

  constructor(readonly config: ModelConfig, readonly params: ParamStore, public device: DeviceRequest = 'cpu', readonly sourceDir?: string) {
    this.specialTokens = configSpecialTokens(config);
  }

  /** Another model over the same folder: carries its special tokens along. */
  sibling(params: ParamStore): CausalLM {
    const m = new CausalLM(this.config, params, this.device, this.sourceDir);
    m.specialTokens = this.specialTokens;
    m.precision = this.precision;
    return m;
  }

  get arch(): Architecture<ModelConfig> { return architectureOf(this.config); }
  paramSpecs(): ParamSpec[] { return this.arch.params(this.config); }

  /** A randomly initialised model (seeded), e.g. for the built-in worlds. */
  static init(config: ModelConfig, seed = 0, device: DeviceRequest = 'cpu'): CausalLM {
    const rng = new Rng(seed);
    const store = new ParamStore();
    for (const s of architectureOf(config).params(config)) store.add(s.name, s.shape, s.init, rng);
    return new CausalLM(config, store, device);
  }

  /** An independent copy (e.g. the frozen reference policy, or a reward-model trunk initialised from it). */
  async clone(): Promise<CausalLM> {
    await this.params.sync();
    const store = new ParamStore();
    for (const n of this.modelParamNames()) { const p = this.params.get(n); store.set(n, p.data.slice(), p.shape); }
    return this.sibling(store);
  }

  /** Loads a Hugging Face model folder. Missing or mis-shaped tensors are named. */
  static async load(dir: string, device: DeviceRequest = 'cpu'): Promise<CausalLM> {
    const root = path.resolve(dir);
    const { config, json } = await readModelConfig(root);
    const arch = architectureOf(config);
    const tensors = await readSafetensorsFolder(root);
    const byName = new Map<string, { shape: number[]; data: Float32Array }>();
    const unused: string[] = [];
    for (const [n, t] of tensors) {
      const name = arch.canonicalName ? arch.canonicalName(n) : n;
      byName.set(name, t);
    }
    const store = new ParamStore();
    const missing: string[] = [], misShaped: string[] = [];
    const specs = arch.params(config);
    for (const s of specs) {
      const t = byName.get(s.name);
      if (!t) { missing.push(s.name); continue; }
      if (t.shape.join() !== s.shape.join()) { misShaped.push(`${s.name} is [${t.shape}], expected [${s.shape}]`); continue; }
      store.set(s.name, t.data, s.shape);
    }
    const known = new Set(specs.map((s) => s.name));
    for (const n of byName.keys()) if (!known.has(n) && !(arch.ignoredNames?.test(n))) unused.push(n);
    if (missing.length || misShaped.length) {
      const parts = [];
      if (missing.length) parts.push(`missing tensors: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ` and ${missing.length - 8} more` : ''}`);
      if (misShaped.length) parts.push(`mis-shaped tensors: ${misShaped.slice(0, 8).join('; ')}`);
      throw new Error(`${root}: weights do not match config.json (${config.arch}): ${parts.join('; ')}`);
    }
    const m = new CausalLM(config, store, device, root);
    m.specialTokens = await folderSpecialTokens(root, config.vocabSize, json);
    m.unusedTensors = unused;
    return m;
  }

  /** Writes config.json and model.safetensors under HF names (and copies tokenizer files it came with). */
  async save(dir: string): Promise<void> {
    const root = path.resolve(dir);
    await mkdir(root, { recursive: true });
    await writeFile(path.join(root, 'config.json'), JSON.stringify(toHfConfig(this.config), null, 2) + '\n');
    await this.params.sync();
    const own = new ParamStore();
    for (const n of this.modelParamNames()) { const p = this.params.get(n); own.set(n, p.data, p.shape); }
    await own.save(path.join(root, 'model.safetensors'), { format: 'pt' });
    if (this.sourceDir && this.sourceDir !== root) {
      for (const f of TOKENIZER_FILES) {
        const src = path.join(this.sourceDir, f);
        try { await access(src); } catch { continue; }
        await copyFile(src, path.join(root, f));
      }
    }
  }

  /** Names of the decoder's own parameters. The store may also hold heads trained with it (a PPO
   *  value head, say); those are not part of the model folder and not fed to LM-only graphs. */
  modelParamNames(): string[] {
    return (this.specNames ??= this.paramSpecs().map((s) => s.name));
  }
  private specNames?: string[];

  /** What LM graphs read: the decoder's weights and its adapters' (when it has any). */
  feedNames(): string[] { return this.lora ? [...this.modelParamNames(), ...this.lora.paramNames()] : this.modelParamNames(); }

  /** Names a trainer updates: the adapters and any heads in the store when the model has LoRA (the base
   *  weights stay frozen), else everything. */
  trainableNames(): string[] {
    if (!this.lora) return this.params.names();
    const base = new Set(this.modelParamNames());
    return this.params.names().filter((n) => !base.has(n));
  }

  /** The same weights (the same store, no copy) read without the adapters: the base model. */
  withoutAdapters(): CausalLM {
    return this.sibling(this.params);
  }

  /** Declares the weights the model reads as graph inputs (adapters attached). */
  paramInputs(g: Graph): Record<string, Tensor> {
    const p: Record<string, Tensor> = {};
    for (const name of this.feedNames()) p[name] = g.param(name, this.params.shape(name));
    return this.adapt(p);
  }

  /** `p` with this model's adapters hooked into its projections (`train`: training-mode dropout). */
  adapt(p: Record<string, Tensor>, train = false): Record<string, Tensor> {
    return this.lora ? this.lora.attach(p, train) : p;
  }

  /** Weights as graph feeds: device-resident tensors when a GPU step left them there, else host arrays. */
  paramFeeds(): Record<string, Feed> {
    const f: Record<string, Feed> = {};
    for (const name of this.feedNames()) f[name] = this.params.feed(name);
    return f;
  }

  /** Traces the trunk for ids [B, T] and a key mask [B, T] (1 = token, 0 = left padding). Positions
   *  count real tokens, as HF generate() derives them from the attention mask. */
  trace(g: Graph, p: Record<string, Tensor>, ids: Tensor, mask: Tensor, opts: { train?: boolean } = {}): TrunkOutputs {
    if (!(ADAPTERS in p)) p = this.adapt(p, opts.train);
    this.autocast(g);
    const positions = F.maximum(F.sub(F.cumsum(mask, 1), 1), 0);
    return this.arch.trunk(g, p, this.config, { ids, positions, ...this.attentionBiases(g, mask, ids.shape[1]!) });
  }

  /** Puts `g` under this model's autocast (a no-op in fp32); trainers clear it before the backward pass. */
  autocast(g: Graph): void { g.autocast = HALF_DTYPE[this.precision]; }

  /** The additive attention biases for Tq queries over a key mask [B, Tk]: every layer's (with the
   *  model's sliding window), and the sliding layers' when only some layers slide (Gemma 2). */
  attentionBiases(g: Graph, keyMask: Tensor, tq: number | string): { attnBias: Tensor; slidingBias?: Tensor } {
    const attnBias = attentionBias(g, keyMask, tq, slidingWindowOf(this.config));
    const w = layerWindowOf(this.config);
    return w === null ? { attnBias } : { attnBias, slidingBias: attentionBias(g, keyMask, tq, w) };
  }

  /** Mean next-token cross-entropy over positions 0..T−2 (HF labels = input_ids), optionally weighted
   *  by a mask, from logits [B, T, V]. */
  static lmLoss(logits: Tensor, ids: Tensor, lossMask?: Tensor): Tensor {
    return CausalLM.nextTokenLoss(F.slice(logits, 1, 0, -1), ids, lossMask);
  }

  /** The same loss from hidden states: the LM head runs on positions 0..T−2 only, so the [B, T, V]
   *  logits are never materialised and then sliced (the biggest tensor of a small-model train step). */
  lmLossFromHidden(p: Record<string, Tensor>, hidden: Tensor, ids: Tensor, lossMask?: Tensor): Tensor {
    return CausalLM.nextTokenLoss(this.arch.lmHead(p, this.config, F.slice(hidden, 1, 0, -1)), ids, lossMask);
  }

  /** logitsShifted [B, T−1, V] predict ids[:, 1:]. */
  private static nextTokenLoss(logitsShifted: Tensor, ids: Tensor, lossMask?: Tensor): Tensor {
    const nll = F.softmaxCrossEntropy(logitsShifted, F.slice(ids, 1, 1, null));
    if (!lossMask) return F.mean(nll);
    const w = F.cast(F.slice(lossMask, 1, 1, null), 'float32');
    return F.div(F.sum(F.mul(nll, w)), F.maximum(F.sum(w), 1));
  }

  private compiled(key: string, build: (g: Graph) => void): Promise<CompiledGraph> {
    let c = this.graphs.get(key);
    if (!c) {
      const g = new Graph(`${this.config.arch}_${key}`);
      build(g);
      c = compile(g, { device: this.device });
      this.graphs.set(key, c);
      c.catch(() => this.graphs.delete(key));
    }
    return c;
  }

  /** Logits, LM loss and (optionally) per-parameter gradient sums for a batch of equal-length rows. */
  async evaluate(ids: number[][], opts: { grads?: boolean; attentionMask?: number[][] } = {}): Promise<EvalResult> {
    const B = ids.length, T = ids[0]?.length ?? 0;
    if (B === 0 || T < 2) throw new Error('input ids must be a non-empty [[...], ...] with at least 2 tokens per row');
    if (ids.some((r) => r.length !== T)) throw new Error('every row of input ids must have the same length (left-pad and pass an attention mask)');
    for (const r of ids) for (const t of r) if (!Number.isInteger(t) || t < 0 || t >= this.config.vocabSize) throw new Error(`token id ${t} is outside the vocabulary [0, ${this.config.vocabSize})`);
    checkPositions(this.config, T);
    const c = await this.compiled(opts.grads ? 'eval_grads' : 'eval', (g) => {
      const p = this.paramInputs(g);
      const idsT = g.input('input_ids', 'int64', ['B', 'T']);
      const mask = g.input('attention_mask', 'int64', ['B', 'T']);
      const { hidden } = this.trace(g, p, idsT, mask);
      const logits = this.arch.lmHead(p, this.config, hidden);
      const loss = CausalLM.lmLoss(logits, idsT);
      g.output('logits', logits);
      g.output('loss', loss);
      if (opts.grads) {
        const names = this.params.names();
        grad(loss, names.map((n) => p[n]!)).forEach((gr, i) => g.output(`grad:${names[i]}`, gr));
      }
    });
    const mask = opts.attentionMask ?? ids.map((r) => r.map(() => 1));
    const r = await c.run({ ...this.paramFeeds(), input_ids: i64(ids.flat(), [B, T]), attention_mask: i64(mask.flat(), [B, T]) });
    const out: EvalResult = { logits: r.logits!, loss: Number(r.loss!.data[0]) };
    if (opts.grads) {
      out.grads = {};
      for (const n of this.params.names()) out.grads[n] = r[`grad:${n}`]!.data as Float32Array;
    }
    return out;
  }
}
