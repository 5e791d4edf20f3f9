// Stage 1 / the standard RLHF reward model (docs/method.md § BRME): a decoder trunk plus a scalar head
// ('score.weight', as transformers' *ForSequenceClassification with one label names it) on the hidden
// state of the last real token, trained with the Bradley–Terry loss
//
//     L = −log σ(r(x, y_w) − r(x, y_l)) = softplus(r(x, y_l) − r(x, y_w)),
//
// averaged over pairs (optionally weighted per pair, for bootstrap resampling). The trunk starts as a
// copy of a given CausalLM, usually the SFT policy.
//
// A training batch puts the b chosen sequences and then the b rejected ones (prompt + response each)
// into one left-padded [2b, L] batch with an attention mask, so the trunk runs once per step; the
// batch dim is the symbolic '2*P' (P read at run time from the pair-weight input [P]), so the graph
// reshapes the [2P] rewards to [2, P] to pair them. One compiled train graph and one compiled scoring graph.
//
// Saved as a Hugging Face style folder: config.json (the trunk's config with
// architectures = [*ForSequenceClassification], num_labels 1, pad_token_id), model.safetensors (trunk
// tensors under HF names + score.weight) and rrlhf.json (our metadata: kind, pad id, metrics).

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Graph, type Tensor, F } from '../graph/index.js';
import { Trainer } from '../runtime/optim.js';
import { ParamStore, Rng } from '../runtime/params.js';
import { compile, type CompiledGraph, type Feed, f32, i64 } from '../runtime/session.js';
import { readSafetensorsFolder } from '../runtime/safetensors.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { type Precision, DEFAULT_PRECISION } from '../runtime/precision.js';
import { CausalLM, architectureOf } from '../models/model.js';
import { type ModelConfig, parseHfConfig, toHfConfig, hfClassName, checkPositions } from '../models/config.js';
import { poolLast, poolLastNonPad, rewardHeadParams } from '../models/heads.js';
import { type PreferencePair } from '../worlds/world.js';
import { shuffled } from './sft.js';
import { folderSpecialTokens } from '../models/special-tokens.js';
import { LoraAdapters, type LoraConfig, addFreshAdapters, writePeftFolder, readPeftFolder } from '../models/lora.js';

// ---- shared helpers (also used by brme.ts, independent.ts and ensemble-quality.ts) ---------------

/** Declares every tensor of a store as a graph parameter. (CausalLM.paramInputs may declare only the
 *  decoder's own tensors; reward models also carry heads.) */
export function storeInputs(g: Graph, store: ParamStore, names: string[] = store.names()): Record<string, Tensor> {
  const p: Record<string, Tensor> = {};
  for (const n of names) p[n] = g.param(n, store.shape(n));
  return p;
}

/** Feeds for every tensor of a store (device copies where a GPU step left them). */
export function storeFeeds(store: ParamStore, names: string[] = store.names()): Record<string, Feed> {
  const f: Record<string, Feed> = {};
  for (const n of names) f[n] = store.feed(n);
  return f;
}

/** The decoder's parameter names for a config (HF names), without its LM head: what a reward model
 *  (transformers' *ForSequenceClassification: trunk + score) holds. */
export function trunkNames(config: ModelConfig): string[] {
  const arch = architectureOf(config);
  const head = new Set(arch.lmHeadParams(config));
  return arch.params(config).map((s) => s.name).filter((n) => !head.has(n));
}

/** A fresh store holding a copy of the decoder's tensors of `lm` (heads it may carry are left out). */
export async function cloneTrunk(lm: CausalLM): Promise<ParamStore> {
  await lm.params.sync();
  const s = new ParamStore();
  for (const n of trunkNames(lm.config)) { const p = lm.params.get(n); s.set(n, p.data.slice(), p.shape); }
  return s;
}

/** Rows left-padded to a common length: flat ids and mask [B, T]. */
export function padRows(rows: number[][], padId: number): { ids: number[]; mask: number[]; B: number; T: number } {
  if (rows.length === 0) throw new Error('no sequences');
  const T = Math.max(...rows.map((r) => r.length));
  const ids: number[] = [], mask: number[] = [];
  for (const r of rows) {
    if (r.length === 0) throw new Error('every sequence needs at least one token');
    for (let i = r.length; i < T; i++) { ids.push(padId); mask.push(0); }
    for (const t of r) { ids.push(t); mask.push(1); }
  }
  return { ids, mask, B: rows.length, T };
}

/** Prompt + chosen rows then prompt + rejected rows: the [2b, L] batch of a pair step. */
export function pairRows(pairs: PreferencePair[]): number[][] {
  return [...pairs.map((p) => [...p.prompt, ...p.chosen]), ...pairs.map((p) => [...p.prompt, ...p.rejected])];
}

/** Traces the trunk (positions from the mask, as CausalLM.trace) and pools the last real token, or
 *  with `hfPad` transformers' last token that is not pad_token_id (poolLastNonPad). */
export function tracePooled(g: Graph, config: ModelConfig, p: Record<string, Tensor>, ids: Tensor, mask: Tensor, hfPad: number | null = null, precision: Precision = 'fp32'): Tensor {
  const lm = new CausalLM(config, new ParamStore());
  lm.precision = precision; // the trunk under autocast, as the policy's (docs/engine.md § Mixed precision)
  const hidden = lm.trace(g, p, ids, mask).hidden;
  return hfPad === null ? poolLast(g, hidden, mask) : poolLastNonPad(g, hidden, ids, mask, hfPad);
}

/** r = pooled · score.weightᵀ, one scalar per row [B]. */
export const scoreHead = (p: Record<string, Tensor>, pooled: Tensor): Tensor => F.squeeze(F.linearT(pooled, p['score.weight']!), -1);

/** Splits a [2P, ...] batch (chosen rows, then rejected rows) into its two [P, ...] halves. The batch dim
 *  must be the symbolic '2*P' (with P defined by another input), so that reshaping to [2, P, ...] is
 *  exact and its gradient reshapes back. */
export function splitPairs(x: Tensor): [Tensor, Tensor] {
  const rest = x.shape.slice(1);
  const two = F.reshape(x, [2, 'P', ...rest]);
  return [F.squeeze(F.slice(two, 0, 0, 1), 0), F.squeeze(F.slice(two, 0, 1, 2), 0)];
}

/** Bradley–Terry loss per pair from rewards of chosen and rejected [P]: softplus(r_l − r_w). */
export const btLoss = (rc: Tensor, rr: Tensor): Tensor => F.softplus(F.sub(rr, rc));

export const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** Reads a saved folder: config.json (HF), every tensor of model.safetensors (or shards), rrlhf.json. */
export async function readModelFolder(dir: string): Promise<{ config: ModelConfig; hf: Record<string, unknown>; store: ParamStore; meta: Record<string, unknown> }> {
  const root = path.resolve(dir);
  const hf = JSON.parse(await readFile(path.join(root, 'config.json'), 'utf8')) as Record<string, unknown>;
  const config = parseHfConfig(hf, path.join(root, 'config.json'));
  let meta: Record<string, unknown> = {};
  try { meta = JSON.parse(await readFile(path.join(root, 'rrlhf.json'), 'utf8')); } catch { /* a plain HF folder */ }
  const arch = architectureOf(config);
  const known = new Set(trunkNames(config));
  const store = new ParamStore();
  for (const [n, t] of await readSafetensorsFolder(root)) {
    // Head tensors keep their names; trunk names go through the architecture's canonical mapping.
    const name = known.has(n) || !arch.canonicalName || /^(score|brme)\./.test(n) ? n : arch.canonicalName(n);
    if (known.has(name) || /^(score|brme)\./.test(name)) store.set(name, t.data, t.shape);
  }
  const missing = [...known].filter((n) => !store.has(n));
  if (missing.length) throw new Error(`${root}: missing trunk tensors: ${missing.slice(0, 6).join(', ')}${missing.length > 6 ? ` and ${missing.length - 6} more` : ''}`);
  return { config, hf, store, meta };
}

/** Writes config.json (+ extra HF keys), model.safetensors (every tensor of the store) and rrlhf.json. */
export async function writeModelFolder(dir: string, config: ModelConfig, store: ParamStore, hfExtra: Record<string, unknown>, meta: Record<string, unknown>): Promise<void> {
  const root = path.resolve(dir);
  await mkdir(root, { recursive: true });
  await store.sync();
  await writeFile(path.join(root, 'config.json'), JSON.stringify({ ...toHfConfig(config), ...hfExtra }, null, 2) + '\n');
  await store.save(path.join(root, 'model.safetensors'), { format: 'pt' });
  await writeFile(path.join(root, 'rrlhf.json'), JSON.stringify(meta, null, 2) + '\n');
}


// ---- the reward model ----------------------------------------------------------------------------

/** Default batch of the scoring graph (sequences per run). */
export const SCORE_BATCH = 256;

export class RewardModel {
  private scorer?: Promise<CompiledGraph>;
  private featurer?: Promise<CompiledGraph>;

  constructor(
    readonly config: ModelConfig,
    /** Trunk tensors (HF names) and 'score.weight'. */
    readonly params: ParamStore,
    readonly padId: number,
    public device: DeviceRequest = 'cpu',
    /** Training metrics and provenance, saved in rrlhf.json. */
    public info: Record<string, unknown> = {},
    /** LoRA adapters on the trunk's projections (Zhang et al. 2401.16635), read through decoder.proj's
     *  adapter hook; the trunk tensors are then a frozen base, usually shared with other members. */
    readonly lora: LoraAdapters | null = null,
    /** An imported HF reward model's pad_token_id: rewards are then pooled as transformers pools them,
     *  at the rightmost token whose id is not this one (docs/engine.md § Model configs). null: the last
     *  real token, as the lab trains its own reward models (and HF scores one unpadded row without a pad id). */
    readonly hfPad: number | null = null,
  ) {
    if (!params.has('score.weight')) throw new Error('a reward model needs a score.weight tensor');
  }

  /** bf16 / fp16: the trunk and head trace under autocast (rewards come out float32). Set before the
   *  first score; training sets it from RewardTrainConfig.precision. */
  precision: Precision = 'fp32';

  /** A LoRA reward model on `init`'s trunk: the store holds init's own trunk arrays (no copy; stores
   *  replace values, never mutate them), fresh adapters (B zero, so it starts as the base trunk) and a
   *  fresh head. Only adapters + head are meant to train (trainableNames). */
  static async fromPolicyLora(init: CausalLM, padId: number, cfg: LoraConfig, seed = 0): Promise<RewardModel> {
    await init.params.sync();
    const store = new ParamStore();
    for (const n of trunkNames(init.config)) { const p = init.params.get(n); store.set(n, p.data, p.shape); }
    return RewardModel.withHead(init.config, store, padId, init.device, LoraAdapters.resolve(init, cfg, 'ensemble.lora'), seed);
  }

  /** Fresh adapters (seeded) and head on a store that already holds the trunk. */
  static withHead(config: ModelConfig, store: ParamStore, padId: number, device: DeviceRequest, lora: LoraAdapters, seed: number): RewardModel {
    const rng = new Rng(seed);
    addFreshAdapters(store, lora, rng.nextU32());
    for (const s of rewardHeadParams(config.d)) store.add(s.name, s.shape, s.init, rng);
    return new RewardModel(config, store, padId, device, {}, lora);
  }

  /** What trains: adapters + head with LoRA, else every tensor (or the head alone when the trunk is frozen). */
  trainableNames(trainTrunk = true): string[] {
    if (this.lora) return [...this.lora.paramNames(), 'score.weight'];
    return trainTrunk ? this.params.names() : ['score.weight'];
  }

  /** A new reward model whose trunk is a copy of `init` and whose head is freshly initialised. */
  static async fromPolicy(init: CausalLM, padId: number, seed = 0): Promise<RewardModel> {
    const store = await cloneTrunk(init);
    const rng = new Rng(seed);
    for (const s of rewardHeadParams(init.config.d)) store.add(s.name, s.shape, s.init, rng);
    return new RewardModel(init.config, store, padId, init.device);
  }

  /** Traces rewards [B] for ids/mask [B, T] (also returns the pooled trunk state [B, d]). */
  trace(g: Graph, p: Record<string, Tensor>, ids: Tensor, mask: Tensor, train = false): { pooled: Tensor; reward: Tensor } {
    const pooled = tracePooled(g, this.config, this.lora ? this.lora.attach(p, train) : p, ids, mask, this.hfPad, this.precision);
    // Outputs in float32 whatever the autocast (the loss and the host read them as such).
    return { pooled: F.cast(pooled, 'float32'), reward: F.cast(scoreHead(p, pooled), 'float32') };
  }

  private graph(which: 'score' | 'features'): Promise<CompiledGraph> {
    const make = () => {
      const g = new Graph(`reward_${which}`);
      const p = storeInputs(g, this.params);
      const ids = g.input('input_ids', 'int64', ['B', 'T']);
      const mask = g.input('attention_mask', 'int64', ['B', 'T']);
      const { pooled, reward } = this.trace(g, p, ids, mask);
      g.output('reward', reward);
      if (which === 'features') g.output('pooled', pooled);
      return compile(g, { device: this.device });
    };
    if (which === 'score') return (this.scorer ??= make());
    return (this.featurer ??= make());
  }

  /** Rewards of full sequences (prompt + response token ids), batched through one compiled graph. */
  async score(sequences: number[][], batchSize = SCORE_BATCH): Promise<number[]> {
    return (await this.run('score', sequences, batchSize)).reward;
  }

  /** Rewards and the pooled last-token trunk states [N][d] (stage 2 trains on these when the trunk is frozen). */
  async features(sequences: number[][], batchSize = SCORE_BATCH): Promise<{ reward: number[]; pooled: Float32Array }> {
    const r = await this.run('features', sequences, batchSize);
    return { reward: r.reward, pooled: r.pooled! };
  }

  private async run(which: 'score' | 'features', sequences: number[][], batchSize: number) {
    const c = await this.graph(which);
    const d = this.config.d;
    const reward: number[] = [];
    const pooled = which === 'features' ? new Float32Array(sequences.length * d) : undefined;
    const weights = storeFeeds(this.params);
    for (let s = 0; s < sequences.length; s += batchSize) {
      const rows = sequences.slice(s, s + batchSize);
      const b = padRows(rows, this.padId);
      checkPositions(this.config, b.T);
      const r = await c.run({ ...weights, input_ids: i64(b.ids, [b.B, b.T]), attention_mask: i64(b.mask, [b.B, b.T]) });
      reward.push(...(r.reward!.data as Float32Array));
      if (pooled) pooled.set(r.pooled!.data as Float32Array, s * d);
    }
    return { reward, pooled };
  }

  /** Fraction of pairs whose chosen response scores higher than the rejected one. */
  async accuracy(pairs: PreferencePair[]): Promise<number> {
    if (pairs.length === 0) return NaN;
    const r = await this.score(pairRows(pairs));
    let ok = 0;
    for (let i = 0; i < pairs.length; i++) if (r[i]! > r[i + pairs.length]!) ok++;
    return ok / pairs.length;
  }

  async save(dir: string): Promise<void> {
    if (this.lora) throw new Error('a LoRA reward model is saved as its adapters (saveAdapters) beside its trunk, as a LoRA ensemble does');
    await writeModelFolder(dir, this.config, this.params,
      { architectures: [hfClassName(this.config.arch, 'SequenceClassification')], num_labels: 1, pad_token_id: this.hfPad ?? this.padId },
      { kind: 'reward_model', format: 1, head: 'score.weight', pad_id: this.padId, ...(this.hfPad !== null ? { hf_pad: this.hfPad } : {}), info: this.info });
  }

  /** A LoRA reward model's own tensors as a PEFT SEQ_CLS adapter folder (the head as modules_to_save
   *  `score`, as PEFT writes a sequence-classification LoRA), plus rrlhf.json (pad, info). */
  async saveAdapters(dir: string, baseModelNameOrPath: string | null): Promise<void> {
    if (!this.lora) throw new Error('this reward model has no LoRA adapters');
    await writePeftFolder(dir, this.lora, this.params, baseModelNameOrPath, 'SEQ_CLS', ['score']);
    await writeFile(path.join(path.resolve(dir), 'rrlhf.json'), JSON.stringify({ kind: 'reward_lora', format: 1, pad_id: this.padId, info: this.info }, null, 2) + '\n');
  }

  /** Reads saveAdapters' folder onto a trunk store (whose arrays it shares, not copies). */
  static async loadAdapters(dir: string, config: ModelConfig, trunk: ParamStore, device: DeviceRequest = 'cpu'): Promise<RewardModel> {
    const store = new ParamStore();
    for (const n of trunkNames(config)) { const p = trunk.get(n); store.set(n, p.data, p.shape); }
    const lora = await readPeftFolder(dir, config, store, ['score']);
    const meta = JSON.parse(await readFile(path.join(path.resolve(dir), 'rrlhf.json'), 'utf8')) as { pad_id: number; info?: Record<string, unknown> };
    return new RewardModel(config, store, meta.pad_id, device, meta.info ?? {}, lora);
  }

  static async load(dir: string, device: DeviceRequest = 'cpu'): Promise<RewardModel> {
    const { config, hf, store, meta } = await readModelFolder(dir);
    if (!store.has('score.weight')) throw new Error(`${path.resolve(dir)}: no score.weight tensor; not a reward model folder`);
    // rrlhf.json's pad (written by this lab), else the folder's pad as models/special-tokens.ts resolves it
    // (an HF reward model's pad_token_id may lie outside its embedding; left padding makes any usable id do).
    const pad = typeof meta.pad_id === 'number' && meta.pad_id < config.vocabSize ? meta.pad_id : (await folderSpecialTokens(dir, config.vocabSize, hf)).pad ?? 0;
    for (const n of store.names()) if (n.startsWith('brme.')) throw new Error(`${path.resolve(dir)}: holds BRME heads; load it with loadEnsemble()`);
    // A folder this lab did not write scores as transformers' *ForSequenceClassification does: at the
    // last token that is not config.json's pad_token_id. Without a pad id HF scores one row at its last
    // token (and refuses batches), which is the last real token here.
    // (rrlhf.json's hf_pad keeps that pooling when the lab saves such a model again.)
    const imported = meta.kind !== 'reward_model';
    const hfPadOf = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : null);
    const hfPad = imported ? hfPadOf(hf.pad_token_id) : hfPadOf(meta.hf_pad);
    return new RewardModel(config, store, pad, device, (meta.info as Record<string, unknown>) ?? {}, null, hfPad);
  }
}

// ---- Bradley–Terry training ----------------------------------------------------------------------

export interface RewardTrainConfig {
  /** Passes over the training pairs. Default 3: a reward model overfits preference data quickly (one
   *  to a few epochs is the usual choice: InstructGPT trains 1 epoch, TRL's examples 1–3). */
  epochs: number;
  /** Pairs per optimizer step (the batch holds 2× as many sequences). Default 32. */
  batchSize: number;
  /** AdamW learning rate. Default 1e-3, for the built-in worlds' small decoders; a pretrained HF
   *  model wants 1e-5 to 5e-5. */
  lr: number;
  /** AdamW weight decay on matrices. Default 0.01, a light regulariser (torch's AdamW default). */
  weightDecay: number;
  /** Global gradient-norm clip. Default 1.0 (TRL's RewardTrainer / HF Trainer default). */
  maxGradNorm: number | null;
  /** Seeds the head initialisation, shuffling and any resampling. Default 0. */
  seed: number;
  /** Train the trunk too (default true: the full reward model is fine-tuned, as in InstructGPT).
   *  false trains only the score head on the frozen trunk. */
  trainTrunk: boolean;
  /** Padding id. Default: the model's EOS id, else 0. */
  padId?: number;
  /** Optional per-pair weights (e.g. bootstrap counts); length = train.length. Default: all 1. */
  pairWeights?: number[];
  /** Train LoRA adapters + head on init's frozen trunk (shared, not copied) instead of a trunk copy;
   *  trainTrunk is then moot. Default none. */
  lora?: LoraConfig | null;
  /** Recompute each trunk layer in the backward pass instead of keeping its activations (docs/engine.md
   *  § Gradient checkpointing). Default false. */
  gradientCheckpointing: boolean;
  /** bf16 / fp16 autocast with float32 master weights (docs/engine.md § Mixed precision); the trained
   *  model scores under it too. Default DEFAULT_PRECISION. */
  precision: Precision;
}

export const REWARD_DEFAULTS: RewardTrainConfig = { epochs: 3, batchSize: 32, lr: 1e-3, weightDecay: 0.01, maxGradNorm: 1, seed: 0, trainTrunk: true, gradientCheckpointing: false, precision: DEFAULT_PRECISION };

export interface RewardProgress { epoch: number; step: number; steps: number; loss: number; accuracy: number; valAccuracy?: number }

export interface RewardTrainMetrics {
  /** Loss per optimizer step. */
  loss: number[];
  /** Batch accuracy per step (chosen scored above rejected). */
  batchAccuracy: number[];
  /** Held-out accuracy after each epoch. */
  valAccuracyByEpoch: number[];
  trainAccuracy: number;
  valAccuracy: number;
  steps: number;
  seconds: number;
}

/** The pair step's loss graph: rewards of [2P, T] rows, split into chosen/rejected, weighted BT loss. */
export function buildBtLoss(rm: RewardModel, g: Graph, p: Record<string, Tensor>) {
  const w = g.input('pair_weight', 'float32', ['P']);
  const ids = g.input('input_ids', 'int64', ['2*P', 'T']);
  const mask = g.input('attention_mask', 'int64', ['2*P', 'T']);
  const { reward } = rm.trace(g, p, ids, mask, true);
  const [rc, rr] = splitPairs(reward);
  const loss = F.div(F.sum(F.mul(btLoss(rc, rr), w)), F.maximum(F.sum(w), 1e-6));
  const acc = F.mean(F.cast(F.greater(rc, rr), 'float32'));
  return { loss, metrics: { accuracy: acc, margin: F.mean(F.sub(rc, rr)) } };
}

/** Trains a Bradley–Terry reward model whose trunk starts as a copy of `init`. Deterministic for a
 *  seed on a given device (ORT's CPU kernels are deterministic at a fixed thread count). */
export async function trainBradleyTerry(
  init: CausalLM, train: PreferencePair[], val: PreferencePair[], config: Partial<RewardTrainConfig> = {},
  onProgress?: (p: RewardProgress) => void,
): Promise<{ model: RewardModel; metrics: RewardTrainMetrics }> {
  const c: RewardTrainConfig = { ...REWARD_DEFAULTS, ...config };
  if (train.length === 0) throw new Error('trainBradleyTerry: no training pairs');
  if (c.pairWeights && c.pairWeights.length !== train.length) throw new Error(`pairWeights has ${c.pairWeights.length} entries for ${train.length} pairs`);
  const t0 = Date.now();
  const rng = new Rng(c.seed);
  const pad = c.padId ?? init.specialTokens.pad ?? 0;
  const rm = c.lora ? await RewardModel.fromPolicyLora(init, pad, c.lora, rng.nextU32()) : await RewardModel.fromPolicy(init, pad, rng.nextU32());
  rm.precision = c.precision;
  const trainable = rm.trainableNames(c.trainTrunk);
  const trainer = await Trainer.create({
    name: 'reward_bt', params: rm.params, device: rm.device, trainable,
    optimizer: { lr: c.lr, weightDecay: c.weightDecay, maxGradNorm: c.maxGradNorm },
    build: (g, p) => buildBtLoss(rm, g, p), recompute: c.gradientCheckpointing, precision: c.precision,
  });
  const perEpoch = Math.ceil(train.length / c.batchSize);
  const steps = perEpoch * c.epochs;
  const m: RewardTrainMetrics = { loss: [], batchAccuracy: [], valAccuracyByEpoch: [], trainAccuracy: NaN, valAccuracy: NaN, steps, seconds: 0 };
  for (let e = 0; e < c.epochs; e++) {
    const order = shuffled(train.length, rng);
    for (let s = 0; s < perEpoch; s++) {
      const idx = order.slice(s * c.batchSize, (s + 1) * c.batchSize);
      const b = padRows(pairRows(idx.map((i) => train[i]!)), rm.padId);
      const w = idx.map((i) => c.pairWeights?.[i] ?? 1);
      const r = await trainer.run({ input_ids: i64(b.ids, [b.B, b.T]), attention_mask: i64(b.mask, [b.B, b.T]), pair_weight: f32(w, [idx.length]), ...rm.lora?.dropoutMasks(b.B, b.T, rng) });
      m.loss.push(r.loss);
      m.batchAccuracy.push(r.metrics.accuracy!);
      onProgress?.({ epoch: e, step: m.loss.length, steps, loss: r.loss, accuracy: r.metrics.accuracy! });
    }
    if (val.length) {
      const acc = await rm.accuracy(val);
      m.valAccuracyByEpoch.push(acc);
      onProgress?.({ epoch: e, step: m.loss.length, steps, loss: m.loss[m.loss.length - 1]!, accuracy: m.batchAccuracy[m.batchAccuracy.length - 1]!, valAccuracy: acc });
    }
  }
  await rm.params.sync();
  m.trainAccuracy = await rm.accuracy(train);
  m.valAccuracy = val.length ? m.valAccuracyByEpoch[m.valAccuracyByEpoch.length - 1]! : NaN;
  m.seconds = (Date.now() - t0) / 1000;
  rm.info = { method: 'bradley-terry', config: { ...c, pairWeights: c.pairWeights ? 'given' : undefined }, trainPairs: train.length, valPairs: val.length, trainAccuracy: m.trainAccuracy, valAccuracy: m.valAccuracy, steps };
  return { model: rm, metrics: m };
}
