// The memory plan of a PPO study or an ensemble training run (docs/engine.md § Memory plan): bytes per
// named term, from the model config and the study's shape alone (nothing is loaded or allocated), so a
// study that cannot fit is refused before it starts and the wizard and `rrlhf model info` can show why.
//
// The plan models what this engine holds: one training step is one graph whose new weights and AdamW
// moments are fresh buffers written while the old ones are still alive (on the CPU also copied into
// JavaScript buffers), the value head sits on the policy's trunk, a decode step writes its new KV cache
// beside the old one, the policy and the reference score a rollout batch at the same time, and every
// compiled graph keeps its own ONNX Runtime arena at its high-water mark, so the rollout, scoring and
// update phases add up instead of taking turns. With gradient checkpointing the update keeps each
// layer's input and one layer's activations at a time (docs/engine.md § Gradient checkpointing). Mixed
// precision here is autocast (docs/engine.md § Mixed precision): weights, caches and most activations stay
// float32 and each step adds 16-bit copies of the policy's weights, so a bf16 / fp16 plan is the fp32 plan
// plus those copies — the speed is the point, not memory. bf16 runs on CUDA only; reward-model training
// runs in float32 (its bf16/fp16 plans are not runnable).

import { type ModelConfig, hasPostNorms } from './config.js';
import { architectureOf } from './model.js';
import { LoraAdapters, LORA_DEFAULTS, projectionsOf } from './lora.js';
import { valueHeadParams, rewardHeadParams } from './heads.js';
import { keepsOutputsOnDevice } from '../runtime/devices.js';
import { type Precision } from '../runtime/precision.js';

export { PRECISIONS, type Precision } from '../runtime/precision.js';
/** Bytes per value of the 16-bit copies a mixed-precision step makes. */
const HALF_BYTES = 2;

/** What a PPO study asks of memory. `batch` rollouts of promptTokens + responseTokens; the update runs
 *  batch / miniBatches of them at once. */
export interface PpoShape {
  batch: number;
  miniBatches: number;
  promptTokens: number;
  responseTokens: number;
  /** LoRA on the policy (the value head trains too); null: full fine-tuning with a copied reference.
   *  dropout > 0 adds the update's keep-masks (absent: 0). */
  lora: { r: number; targetModules: string[]; dropout?: number } | null;
  /** The reward ensemble held during PPO; null: the reward comes from outside (a function, a server). */
  ensemble: { method: 'brme' | 'independent' | 'lora'; heads: number; unfreezeLastLayers?: number; lora?: { r: number; targetModules: string[] } } | null;
  /** Parameters of a gold reward model held during the study (a dataset world's judge), else 0. */
  goldParams?: number;
  /** Activations recomputed per layer in the backward pass (spec key memory.gradientCheckpointing). */
  checkpointing?: boolean;
}

/** A PPO study the plan assumes when none is given (`rrlhf model info`): the spec's defaults for a
 *  dataset world (experiments/spec.ts), with LoRA r 8 on the attention projections. */
export const DEFAULT_PPO_SHAPE: Readonly<Omit<PpoShape, 'lora' | 'ensemble'> & { ensemble: NonNullable<PpoShape['ensemble']> }> = Object.freeze({
  batch: 64, miniBatches: 2, promptTokens: 128, responseTokens: 64, ensemble: { method: 'brme' as const, heads: 5 },
});

export interface MemoryTerm {
  /** What the bytes hold, e.g. "policy weights". */
  name: string;
  bytes: number;
  /** How they were counted, in symbols and with the numbers. */
  formula: string;
}

export interface MemoryPhase { name: 'rollout' | 'score' | 'train'; bytes: number; terms: MemoryTerm[] }

/** Where the plan's bytes live: host memory (cpu), or a GPU's memory with host copies of the weights
 *  beside it (cuda, webgpu, dml, coreml keep outputs on the device). */
export type PlanDevice = 'cpu' | 'gpu';

export interface MemoryPlan {
  precision: Precision;
  deviceKind: PlanDevice;
  /** False for what this engine cannot run (bf16/fp16). */
  runnable: boolean;
  checkpointing: boolean;
  parameters: { policy: number; trainable: number; lora: number; valueHead: number; rewardTrunk: number; ensemble: number; gold: number };
  /** Held for the whole study: weights and optimizer state. */
  resident: MemoryTerm[];
  residentBytes: number;
  /** What each phase of an iteration adds on top. Each phase's graphs keep their arenas, so the peak
   *  is the resident bytes plus every phase's. */
  phases: MemoryPhase[];
  /** On the plan's device. */
  totalBytes: number;
  /** Host memory a GPU plan also needs (the weights' host copies); 0 for a CPU plan (all in totalBytes). */
  hostBytes: number;
  notes: string[];
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const n = (x: number) => x.toLocaleString('en-US');

/** Parameter counts from the config alone: the whole model and its trunk (the LM head left out, as a
 *  reward model's trunk leaves it out; a tied head costs nothing). */
export function parameterCounts(config: ModelConfig): { total: number; trunk: number; perLayer: number } {
  const arch = architectureOf(config);
  const specs = arch.params(config);
  const head = new Set(arch.lmHeadParams(config));
  const total = sum(specs.map((s) => numel(s.shape)));
  const trunk = sum(specs.filter((s) => !head.has(s.name)).map((s) => numel(s.shape)));
  const layer0 = specs.filter((s) => /(?:^|\.)(?:h|layers)\.0\./.test(s.name));
  return { total, trunk, perLayer: sum(layer0.map((s) => numel(s.shape))) };
}

/** The attention and width a config's layers have, for activations and the KV cache. */
function dims(c: ModelConfig) {
  const heads = c.nHead;
  const headDim = c.arch === 'gpt2' ? c.d / c.nHead : c.headDim;
  const kvHeads = c.arch === 'gpt2' || c.arch === 'gpt_neox' ? c.nHead : c.nKvHead;
  const inner = c.arch === 'gpt2' ? (c.nInner ?? 4 * c.d) : c.intermediate;
  const gated = c.arch !== 'gpt2' && c.arch !== 'gpt_neox';
  return { d: c.d, heads, headDim, kvHeads, inner, gated, layers: c.nLayer, vocab: c.vocabSize };
}

/**
 * Values one layer keeps per token for the backward pass, with `keys` positions attended:
 *   4d (layer input, attention-norm output, residual after attention, MLP-norm output; Gemma 2 and 3 add 2d
 *   for their post-norms), 2·H·hd + 2·Hkv·hd + Hkv·hd (q and k before and after RoPE, v), H·hd (attention
 *   output before o_proj), 2·H·keys (scores and softmax probabilities), and the MLP: 4·I when gated
 *   (gate, up, act(gate), act(gate)·up), else 2·I (fc output and its GELU).
 */
export function activationValuesPerToken(c: ModelConfig, keys: number): { values: number; formula: string } {
  const x = dims(c);
  const norms = hasPostNorms(c) ? 6 : 4;
  const attn = 2 * x.heads * x.headDim + 3 * x.kvHeads * x.headDim + x.heads * x.headDim;
  const scores = 2 * x.heads * keys;
  const mlp = (x.gated ? 4 : 2) * x.inner;
  return {
    values: norms * x.d + attn + scores + mlp,
    formula: `${norms}d + 3H·hd + 3Hkv·hd + 2H·T + ${x.gated ? 4 : 2}I = ${norms}·${x.d} + ${3 * x.heads * x.headDim} + ${3 * x.kvHeads * x.headDim} + 2·${x.heads}·${keys} + ${x.gated ? 4 : 2}·${x.inner}`,
  };
}

/** Trainable parameters of a LoRA on this config: r·(in + out) per targeted projection. */
export function loraParameters(config: ModelConfig, lora: { r: number; targetModules: string[] }): number {
  // The adapters' own resolution: the same modules, and the same refusal of a target that matches none.
  const mods = LoraAdapters.resolve({ config }, { r: lora.r, alpha: LORA_DEFAULTS.alpha, dropout: 0, targetModules: lora.targetModules, bias: 'none' }).modules;
  return sum(mods.map((m) => lora.r * (m.in + m.out)));
}

/** Values of the LoRA dropout keep-masks one training step of `tokens` tokens reads: tokens × Σ in over
 *  the adapted modules (one mask per module, the shape of its input); 0 without dropout. */
function dropoutMaskValues(config: ModelConfig, lora: { r: number; targetModules: string[]; dropout?: number } | null | undefined, tokens: number): number {
  if (!lora || !(lora.dropout! > 0)) return 0;
  const mods = LoraAdapters.resolve({ config }, { r: lora.r, alpha: LORA_DEFAULTS.alpha, dropout: lora.dropout!, targetModules: lora.targetModules, bias: 'none' }).modules;
  return tokens * sum(mods.map((m) => m.in));
}

/** The training-phase term of LoRA dropout: each mask is fed as bool (1 B a value), and the graph keeps
 *  the scaled float mask (for the input's gradient) and the dropped input (for dA) until the backward
 *  pass — every layer's, or with gradient checkpointing one layer's at a time (the recomputed copy reads
 *  the same fed masks; the bool masks of all layers stay fed). */
function dropoutTerm(values: number, wb: number, rows: string, checkpointedLayers: number | null): MemoryTerm[] {
  if (!values) return [];
  const kept = checkpointedLayers ? Math.ceil(values / checkpointedLayers) : values;
  return [{
    name: 'LoRA dropout masks and dropped inputs', bytes: values + kept * 2 * wb,
    formula: checkpointedLayers
      ? `${rows} × Σ in over the adapted modules × 1 B bool mask fed + one layer's share (checkpointed) × (${wb} B scaled mask + ${wb} B dropped input) = ${n(values)} + ${n(kept)} × ${2 * wb}`
      : `${rows} × Σ in over the adapted modules × (1 B bool mask fed + ${wb} B scaled mask + ${wb} B dropped input) = ${n(values)} × ${1 + 2 * wb}`,
  }];
}

/** The rank a default plan (and a form's LoRA) starts from. */
export const DEFAULT_LORA_RANK = 8;

/** The attention projections a default plan adapts (what PEFT's examples target). */
export const defaultLoraTargets = (arch: string) => (arch === 'gpt2' ? ['c_attn'] : arch === 'gpt_neox' ? ['query_key_value'] : arch === 'phi3' ? ['qkv_proj'] : ['q_proj', 'v_proj']);

/** What a form offers as LoRA targets for a model: the module names its trunk has (found by tracing it,
 *  as the adapters find them) and the attention projections a plan adapts by default. */
export function loraChoices(config: ModelConfig): { modules: string[]; defaults: string[]; r: number } {
  return { modules: [...new Set(projectionsOf(config).map((p) => p.name.split('.').pop()!))], defaults: defaultLoraTargets(config.arch), r: DEFAULT_LORA_RANK };
}

/** The memory a PPO study needs at one precision. */
export function ppoMemoryPlan(config: ModelConfig, shape: PpoShape, precision: Precision = 'fp32', device: PlanDevice = 'cpu'): MemoryPlan {
  for (const [k, v] of [['batch', shape.batch], ['miniBatches', shape.miniBatches], ['promptTokens', shape.promptTokens], ['responseTokens', shape.responseTokens], ...(shape.ensemble ? [['ensemble.heads', shape.ensemble.heads] as const] : [])] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`memory plan: ${k} must be a positive integer, got ${v}`);
  }
  // Everything the engine holds is float32 at every precision (autocast: module comment).
  const wb = 4;
  const mixed = precision !== 'fp32';
  const checkpointing = shape.checkpointing ?? false;
  const x = dims(config);
  const counts = parameterCounts(config);
  const ens = shape.ensemble;
  const K = ens?.heads ?? 0;
  const P = counts.total;
  const valueHead = sum(valueHeadParams(x.d).map((s) => numel(s.shape)));
  const lora = shape.lora ? loraParameters(config, shape.lora) : 0;
  const trainable = (shape.lora ? lora : P) + valueHead;
  // The reward ensemble, frozen during PPO: BRME is the stage-1 trunk with its score head, a shared
  // d×d layer and K (μ, log σ) heads, plus copies of unfrozen layers; independent is K trunks, each
  // with a score head.
  const scoreHead = sum(rewardHeadParams(x.d).map((s) => numel(s.shape)));
  const unfrozen = ens?.method === 'brme' ? (ens.unfreezeLastLayers ?? 0) : 0;
  const brmeHeads = x.d * x.d + x.d + 2 * (K * x.d + K);
  // A LoRA ensemble (Zhang et al. 2401.16635) holds the trunk once and K adapters, each with its head.
  const memberAdapters = ens?.method === 'lora' ? loraEnsembleAdapters(config, ens.lora) : 0;
  const ensemble = !ens ? 0 : ens.method === 'brme'
    ? counts.trunk + scoreHead + brmeHeads + unfrozen * counts.perLayer
    : ens.method === 'lora'
      ? counts.trunk + K * (memberAdapters + scoreHead)
      : K * (counts.trunk + scoreHead);
  const gold = shape.goldParams ?? 0;

  const resident: MemoryTerm[] = [
    { name: 'policy weights', bytes: P * wb, formula: `P × ${wb} B = ${n(P)} × ${wb}` },
    { name: 'value head', bytes: valueHead * wb, formula: `(d + 1) × ${wb} B on the policy's trunk (no second trunk)` },
    shape.lora
      ? { name: 'reference policy', bytes: 0, formula: 'the base with adapters off: no copy' }
      : { name: 'reference policy', bytes: P * wb, formula: `a full copy: P × ${wb} B` },
    ...(shape.lora ? [{ name: 'LoRA adapters', bytes: lora * wb, formula: `Σ r·(in + out) over ${shape.lora.targetModules.join(', ')} = ${n(lora)} × ${wb} B` }] : []),
    ...(!ens ? [] : [ens.method === 'brme'
      ? { name: `reward ensemble (BRME, K ${K})`, bytes: ensemble * wb, formula: `one trunk ${n(counts.trunk)} + score head + shared d² + 2K(d + 1)${unfrozen ? ` + ${unfrozen} unfrozen layer copies` : ''} = ${n(ensemble)} × ${wb} B` }
      : ens.method === 'lora'
        ? { name: `reward ensemble (LoRA, K ${K})`, bytes: ensemble * wb, formula: `one trunk ${n(counts.trunk)} + K × (adapters + score head) = ${n(counts.trunk)} + ${K} × ${n(memberAdapters + scoreHead)} = ${n(ensemble)} × ${wb} B` }
        : { name: `reward ensemble (independent, K ${K})`, bytes: ensemble * wb, formula: `K × (trunk + score head) = ${K} × ${n(counts.trunk + scoreHead)} × ${wb} B` }]),
    ...(gold ? [{ name: 'gold reward model', bytes: gold * wb, formula: `${n(gold)} × ${wb} B` }] : []),
    { name: 'AdamW moments (m, v)', bytes: trainable * 8, formula: `trainable × 2 × 4 B = ${n(trainable)} × 8` },
  ];

  const L = shape.promptTokens + shape.responseTokens;
  const kvPerToken = x.layers * 2 * x.kvHeads * x.headDim;
  const kvb = mixed ? HALF_BYTES : wb; // the cache is kept in the half dtype
  const kv = shape.batch * kvPerToken * L * kvb;
  // Forward-only passes keep about two of a layer's widest tensors alive at once.
  const inferLayer = (rows: number, keys: number) => rows * keys * 2 * Math.max(x.inner, x.heads * keys, x.d);
  const rollout: MemoryTerm[] = [
    { name: 'KV cache', bytes: kv, formula: `B × layers × 2 × Hkv × hd × (prompt + response) × ${kvb} B = ${shape.batch} × ${x.layers} × 2 × ${x.kvHeads} × ${x.headDim} × ${L} × ${kvb}` },
    { name: 'KV cache being written', bytes: kv, formula: 'a decode step writes the grown cache beside the old one (both alive until the step returns)' },
    { name: 'prefill activations', bytes: inferLayer(shape.batch, shape.promptTokens) * wb, formula: `B × prompt × 2 × max(I, H·prompt, d) × ${wb} B` },
  ];
  // The LM head projects only the response positions (engine/rlhf/ppo.ts): prompt positions never enter a PPO loss.
  const R = shape.responseTokens;
  const scoreLogits = shape.batch * R * x.vocab * 2 * wb;
  const rewardPasses = !ens ? 0 : 1 + (unfrozen ? 1 : 0); // independent and LoRA members score one after another
  const scoring: MemoryTerm[] = [
    { name: 'policy scoring: logits and log-softmax', bytes: scoreLogits, formula: `B × response × V × 2 × ${wb} B = ${shape.batch} × ${R} × ${x.vocab} × 2 × ${wb}` },
    { name: 'reference scoring: logits and log-softmax', bytes: scoreLogits, formula: 'the same, run at the same time as the policy\'s' },
    { name: 'scoring activations (policy, reference, reward)', bytes: (2 + rewardPasses) * inferLayer(shape.batch, L) * wb, formula: `${2 + rewardPasses} passes × B × L × 2 × max(I, H·L, d) × ${wb} B` },
  ];
  const rows = Math.max(1, Math.floor(shape.batch / shape.miniBatches));
  const perTok = activationValuesPerToken(config, L);
  const tokens = rows * L;
  const layerActs = checkpointing
    ? tokens * (x.layers * x.d + perTok.values)
    : tokens * x.layers * perTok.values;
  const headActs = rows * R * x.vocab * 5;
  const masks = dropoutMaskValues(config, shape.lora, tokens);
  const train: MemoryTerm[] = [
    {
      name: checkpointing ? 'activations (checkpointed: layer inputs + one layer)' : 'activations',
      bytes: layerActs * wb,
      formula: checkpointing
        ? `(B/M) × L × (layers × d + per-layer) × ${wb} B, per layer per token ${perTok.formula}`
        : `(B/M) × L × layers × per-layer × ${wb} B = ${rows} × ${L} × ${x.layers} × ${n(perTok.values)} × ${wb}; per layer per token ${perTok.formula}`,
    },
    { name: 'LM head: logits, log-probabilities, their gradient, the entropy\'s log-softmax and probabilities', bytes: headActs * wb, formula: `(B/M) × response × V × 5 × ${wb} B = ${rows} × ${R} × ${x.vocab} × 5 × ${wb}` },
    ...dropoutTerm(masks, wb, '(B/M) × L', checkpointing ? x.layers : null),
    ...(mixed ? [{ name: `${precision} copies of the policy's weights`, bytes: P * HALF_BYTES, formula: `P × ${HALF_BYTES} B = ${n(P)} × ${HALF_BYTES}: autocast's casts, read again by the backward pass` }] : []),
    { name: 'gradients', bytes: trainable * wb, formula: `trainable × ${wb} B = ${n(trainable)} × ${wb}` },
    ...stepOutputs(trainable, wb, device),
  ];
  const phases = ([['rollout', rollout], ['score', scoring], ['train', train]] as const).map(([name, terms]) => phase(name, terms));
  const residentBytes = sum(resident.map((t) => t.bytes));
  const weights = P + valueHead + (shape.lora ? lora : P) + ensemble + gold;
  const notes: string[] = [];
  if (mixed) notes.push(`${precision}: autocast — matmuls in 16 bits, float32 master weights, moments, caches and most activations, plus 16-bit copies of the policy's weights per step (faster on GPUs, not smaller; a trainer storing ${precision} weights, e.g. OpenRLHF or verl with ZeRO, needs less)`);
  const runnable = precision !== 'bf16' || device === 'gpu';
  if (!runnable) notes.push('bf16 needs a CUDA device: ONNX Runtime\'s CPU provider has no bfloat16 kernels');
  if (checkpointing) notes.push('gradient checkpointing: each layer is recomputed in the update\'s backward pass, so only the layers\' inputs and one layer\'s activations are held (about one more forward pass of compute per update)');
  return {
    precision, deviceKind: device, runnable, checkpointing,
    parameters: { policy: P, trainable, lora, valueHead, rewardTrunk: counts.trunk, ensemble, gold },
    resident, residentBytes, phases, totalBytes: residentBytes + sum(phases.map((p) => p.bytes)),
    // A GPU plan's masks are also drawn in host memory each step before they are uploaded.
    hostBytes: device === 'gpu' ? weights * 4 + masks : 0, notes,
  };
}

/** A phase's terms with the arena slack its graphs add: ONNX Runtime's BFC arena (one per session,
 *  CPU and CUDA alike) grows by regions that double in size and keeps them, so it can hold up to twice
 *  what the phase's tensors need. JavaScript copies are outside the arena. */
function phase(name: MemoryPhase['name'], terms: readonly MemoryTerm[]): MemoryPhase {
  const inArena = sum(terms.filter((t) => !t.name.includes('JavaScript')).map((t) => t.bytes));
  const all = [...terms, { name: `ONNX Runtime arena growth (${name})`, bytes: inArena, formula: 'up to the phase\'s own tensors again: arena regions double as they grow and are kept' }];
  return { name, terms: all, bytes: sum(all.map((t) => t.bytes)) };
}

/** A training step's outputs: new weights and moments, written while the inputs are alive; on the CPU
 *  onnxruntime-node then copies them into JavaScript buffers before ONNX Runtime's are released, while
 *  the native binding keeps them in ONNX Runtime's memory and only the store's host arrays from before
 *  the first step stay beside them (until a sync replaces them). */
function stepOutputs(trainable: number, wb: number, device: PlanDevice): MemoryTerm[] {
  const per = wb + 8;
  const f = `trainable × (${wb} + 8) B = ${n(trainable)} × ${per}`;
  return [
    { name: 'new weights and moments of the step', bytes: trainable * per, formula: `${f}: written before the step's inputs are released` },
    ...(device !== 'cpu' ? [] : keepsOutputsOnDevice('cpu')
      ? [{ name: 'the weights\' JavaScript buffers from before the first step', bytes: trainable * wb, formula: `trainable × ${wb} B = ${n(trainable)} × ${wb}: the native binding keeps CPU outputs in ONNX Runtime's memory; the host arrays stay until synced` }]
      : [{ name: 'their copies in JavaScript buffers', bytes: trainable * per, formula: `${f}: onnxruntime-node copies CPU outputs out of ONNX Runtime's buffers` }]),
  ];
}

/** Ensemble training (stage-1 Bradley–Terry or one independent member at a time): the base model,
 *  the members trained so far, and one reward model with its gradients, moments and activations. */
export interface EnsembleShape { method: 'brme' | 'independent' | 'lora'; heads: number; batchPairs: number; tokens: number; lora?: { r: number; targetModules: string[]; dropout?: number }; checkpointing?: boolean }

/** One LoRA-ensemble member's adapter parameters: r 8 on the family's attention projections unless given. */
function loraEnsembleAdapters(config: ModelConfig, lora: { r: number; targetModules: string[] } | undefined): number {
  return loraParameters(config, lora ?? { r: DEFAULT_LORA_RANK, targetModules: defaultLoraTargets(config.arch) });
}

export function ensembleTrainPlan(config: ModelConfig, shape: EnsembleShape, precision: Precision = 'fp32', device: PlanDevice = 'cpu'): MemoryPlan {
  // A mixed-precision plan here is what a trainer storing 16-bit weights would need: the engine trains
  // reward models in float32 (not runnable).
  const wb = precision === 'fp32' ? 4 : HALF_BYTES;
  const mixed = precision !== 'fp32';
  const counts = parameterCounts(config);
  const x = dims(config);
  const P = counts.total;
  const head = sum(rewardHeadParams(x.d).map((s) => numel(s.shape)));
  // A LoRA member trains adapters + head on the base's own frozen trunk: no trunk copy per member.
  const lora = shape.method === 'lora';
  const member = lora ? loraEnsembleAdapters(config, shape.lora) + head : counts.trunk + head;
  const done = shape.method === 'brme' ? 0 : shape.heads - 1;
  const resident: MemoryTerm[] = [
    { name: 'base model (π₀)', bytes: P * wb, formula: `P × ${wb} B = ${n(P)} × ${wb}${lora ? ' (the frozen trunk every member adapts, held once)' : ''}` },
    { name: 'reward model in training', bytes: member * wb, formula: lora ? `adapters + score head = ${n(member)} × ${wb} B` : `trunk + score head = ${n(member)} × ${wb} B` },
    ...(done ? [{ name: 'members already trained', bytes: done * member * wb, formula: `(K − 1) × ${n(member)} × ${wb} B` }] : []),
    ...(mixed ? [{ name: 'fp32 master weights', bytes: member * 4, formula: `${n(member)} × 4 B` }] : []),
    { name: 'AdamW moments (m, v)', bytes: member * 8, formula: `${n(member)} × 8 B` },
  ];
  const tokens = 2 * shape.batchPairs * shape.tokens; // chosen and rejected rows
  const perTok = activationValuesPerToken(config, shape.tokens);
  const masks = lora ? dropoutMaskValues(config, shape.lora, tokens) : 0;
  const train: MemoryTerm[] = [
    shape.checkpointing
      ? { name: 'activations (checkpointed: layer inputs + one layer)', bytes: tokens * (x.layers * x.d + perTok.values) * wb, formula: `2 × pairs × T × (layers × d + per-layer) × ${wb} B, per layer per token ${perTok.formula}` }
      : { name: 'activations', bytes: tokens * x.layers * perTok.values * wb, formula: `2 × pairs × T × layers × per-layer × ${wb} B = ${tokens} × ${x.layers} × ${n(perTok.values)} × ${wb}; per layer per token ${perTok.formula}` },
    ...dropoutTerm(masks, wb, '2 × pairs × T', shape.checkpointing ? x.layers : null),
    { name: 'gradients', bytes: member * wb, formula: `${n(member)} × ${wb} B` },
    ...stepOutputs(member, wb, device),
  ];
  const residentBytes = sum(resident.map((t) => t.bytes));
  const trainPhase = phase('train', train);
  return {
    precision, deviceKind: device, runnable: !mixed, checkpointing: shape.checkpointing ?? false,
    parameters: { policy: P, trainable: member, lora: 0, valueHead: 0, rewardTrunk: counts.trunk, ensemble: (done + 1) * member, gold: 0 },
    resident, residentBytes, phases: [trainPhase], totalBytes: residentBytes + trainPhase.bytes, hostBytes: device === 'gpu' ? (P + (done + 1) * member) * 4 + masks : 0,
    notes: mixed ? [`${precision}: the engine trains reward models in float32; this is what a trainer storing ${precision} weights would need`] : [],
  };
}
