// Model configurations, read from and written to Hugging Face `config.json`. One small typed object per
// architecture family; everything the forward pass needs is here, named as HF names it where possible.
//
// The parser never ignores a key that changes the math (docs/engine.md § Model configs): it reads the
// key, or refuses the folder naming the key, its value and what is supported. Both config layouts are
// read: transformers 4.x (`rope_theta`, `rope_scaling`, `torch_dtype`) and 5.x (`rope_parameters`,
// `dtype`, `layer_types`). Defaults for absent keys are each family's own (`tie_word_embeddings`,
// `head_dim` and `rope_theta` differ between families), as its transformers config class sets them.

import { type RopeScaling, ROPE_TYPES } from './rope.js';

export const SUPPORTED_ARCHITECTURES = ['gpt2', 'llama', 'mistral', 'qwen2', 'qwen3', 'phi3', 'gemma', 'gemma2', 'gemma3_text', 'gpt_neox'] as const;
export type Arch = (typeof SUPPORTED_ARCHITECTURES)[number];

export interface Gpt2Config {
  arch: 'gpt2';
  vocabSize: number;
  nPositions: number;
  d: number;
  /** MLP width (`n_inner`; 4·d when null). */
  nInner?: number;
  nLayer: number;
  nHead: number;
  eps: number;
  /** GPT-2 uses the tanh approximation ("gelu_new"); "gelu" is the exact erf form. */
  activation: 'gelu_new' | 'gelu' | 'gelu_pytorch_tanh';
  bosTokenId: number | null;
  eosTokenId: number | null;
}

/** Llama and the families that are Llama with a difference: Mistral (sliding window), Qwen2 (q/k/v
 *  biases), Qwen3 (per-head RMSNorm of q and k), Phi-3 (fused qkv_proj and gate_up_proj, a sliding
 *  window like Mistral's). */
export interface LlamaConfig {
  arch: 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'phi3';
  vocabSize: number;
  d: number;
  intermediate: number;
  nLayer: number;
  nHead: number;
  nKvHead: number;
  headDim: number;
  eps: number;
  ropeTheta: number;
  /** rope_scaling / rope_parameters beyond the default rope (models/rope.ts); absent = default. */
  rope: RopeScaling | null;
  maxPositions: number;
  tied: boolean;
  /** Bias on q/k/v projections (always on for Qwen2; `attention_bias` for Llama, which also biases o_proj). */
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  /** Keys `slidingWindow` or more positions back are masked in every layer (Mistral, Phi-3), or in the
   *  layers `slidingLayers` marks (Qwen2/Qwen3); null = full attention. */
  slidingWindow: number | null;
  /** Qwen2/Qwen3 with use_sliding_window: per layer, true when it uses the window (`layer_types[i]` is
   *  "sliding_attention", or i ≥ max_window_layers). Absent when every layer attends to everything. */
  slidingLayers?: boolean[];
  /** Qwen3: RMSNorm over each head's queries and keys before RoPE (`q_norm`, `k_norm`). */
  qkNorm: boolean;
  /** Phi-3: q, k, v in one `qkv_proj` ([q | k | v] rows) and gate, up in one `gate_up_proj` ([gate | up]). */
  fused: boolean;
  /** Phi-3's partial rotary: RoPE on the first `rotaryDim` dims of each head; absent = the whole head. */
  rotaryDim?: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
}

/** GPT-NeoX / Pythia: fused per-head q/k/v, rotary embeddings on the first `rotaryDim` dims of each
 *  head only, LayerNorm with biases, GELU MLP, and (by default) the parallel residual
 *  x + attn(ln₁x) + mlp(ln₂x). */
export interface NeoxConfig {
  arch: 'gpt_neox';
  vocabSize: number;
  d: number;
  intermediate: number;
  nLayer: number;
  nHead: number;
  /** d / nHead (GPT-NeoX has no head_dim key). */
  headDim: number;
  /** int(headDim · partial_rotary_factor) — `rotary_pct` in transformers 4.x, 0.25 by default. */
  rotaryDim: number;
  ropeTheta: number;
  rope: RopeScaling | null;
  maxPositions: number;
  eps: number;
  parallelResidual: boolean;
  /** Biases on query_key_value and dense (`attention_bias`, true by default); the MLP always has them. */
  attentionBias: boolean;
  tied: boolean;
  activation: 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh';
  bosTokenId: number | null;
  eosTokenId: number | null;
}

/** The Gemma family (models/gemma.ts): (1 + w) RMSNorms, embeddings scaled by √d, GeGLU, a tied head by
 *  default. Gemma 1 is otherwise Llama (a norm before attention and before the MLP; scores × head_dim^−½).
 *  Gemma 2 adds norms after attention and MLP too, scores × query_pre_attn_scalar^−½, tanh soft-capping
 *  of scores and logits, and a sliding window on the layers `layer_types` marks. Gemma 3 (text) adds
 *  q/k RMSNorms per head and a rope of its own for the sliding layers; its soft-caps are off by default. */
export interface GemmaConfig {
  arch: 'gemma' | 'gemma2' | 'gemma3_text';
  vocabSize: number;
  d: number;
  intermediate: number;
  nLayer: number;
  nHead: number;
  nKvHead: number;
  headDim: number;
  eps: number;
  /** The rope of the full-attention layers (all layers before Gemma 3). */
  ropeTheta: number;
  rope: RopeScaling | null;
  /** Gemma 3: θ of the sliding layers' default rope (rope_local_base_freq); null: the same rope everywhere. */
  localRopeTheta: number | null;
  maxPositions: number;
  tied: boolean;
  attentionBias: boolean;
  /** Scores are scaled by queryPreAttnScalar^−½ (Gemma 1: head_dim). */
  queryPreAttnScalar: number;
  /** Window of the layers marked sliding (null: they attend to everything). */
  slidingWindow: number | null;
  /** Per layer: true when `layer_types[i]` is "sliding_attention" (all false for Gemma 1). */
  slidingLayers: boolean[];
  attnSoftcap: number | null;
  finalSoftcap: number | null;
  activation: 'gelu_pytorch_tanh' | 'gelu_new' | 'gelu';
  bosTokenId: number | null;
  eosTokenId: number | null;
}

export const GEMMA_ARCHS: readonly string[] = ['gemma', 'gemma2', 'gemma3_text'] satisfies GemmaConfig['arch'][];
const isGemma = (c: ModelConfig): c is GemmaConfig => GEMMA_ARCHS.includes(c.arch);
/** Gemma 2 and 3 normalise the attention and MLP outputs too (post_attention / pre_ / post_feedforward_layernorm). */
export const hasPostNorms = (c: ModelConfig): boolean => c.arch === 'gemma2' || c.arch === 'gemma3_text';

export type ModelConfig = Gpt2Config | LlamaConfig | NeoxConfig | GemmaConfig;

export class ConfigError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Json = Record<string, unknown>;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const tokenId = (v: unknown): number | null => (isNum(v) ? v : Array.isArray(v) && isNum(v[0]) ? v[0] : null);

/** Reads one config's keys; every refusal names the key, its value and what would be accepted. */
class Keys {
  constructor(readonly j: Json, readonly file: string, readonly family: string) {}
  refuse(key: string, why: string, value: unknown = this.j[key]): never {
    throw new ConfigError(this.file, `${key} = ${JSON.stringify(value ?? null)}: ${why}`);
  }
  has(k: string): boolean { return this.j[k] !== undefined && this.j[k] !== null; }
  int(k: string, fallback?: number): number {
    const v = this.j[k];
    if (v === undefined || v === null) {
      if (fallback === undefined) throw new ConfigError(this.file, `missing numeric field "${k}" (a ${this.family} config needs it)`);
      return fallback;
    }
    if (!isNum(v) || !Number.isInteger(v) || v < 0) this.refuse(k, 'expected a non-negative integer');
    return v;
  }
  num(k: string, fallback: number): number {
    const v = this.j[k];
    if (v === undefined || v === null) return fallback;
    if (!isNum(v)) this.refuse(k, 'expected a number');
    return v;
  }
  bool(k: string, fallback: boolean): boolean {
    const v = this.j[k];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.refuse(k, 'expected true or false');
    return v;
  }
  /** A key the lab does not implement: fine when absent or at the value that leaves the math unchanged. */
  only(k: string, neutral: (v: unknown) => boolean, supported: string): void {
    const v = this.j[k];
    if (v !== undefined && v !== null && !neutral(v)) this.refuse(k, `not supported (${supported})`);
  }
  /** bos/eos ids inside the embedding, else null. An id at or past vocab_size is not refused here: the
   *  folder's generation_config.json or tokenizer may name a usable one, which models/special-tokens.ts
   *  resolves and checks (docs/engine.md § Special tokens). */
  tokenIds(vocab: number): { bos: number | null; eos: number | null } {
    for (const k of ['bos_token_id', 'eos_token_id', 'pad_token_id']) {
      const ids = Array.isArray(this.j[k]) ? (this.j[k] as unknown[]) : [this.j[k]];
      for (const id of ids) {
        if (id === undefined || id === null) continue;
        if (!isNum(id) || !Number.isInteger(id) || id < 0) this.refuse(k, 'a token id must be a non-negative integer');
      }
    }
    const inside = (v: unknown) => { const ids = (Array.isArray(v) ? v : [v]).filter((x): x is number => isNum(x) && x < vocab); return ids.length ? ids[0]! : null; };
    return { bos: inside(this.j.bos_token_id), eos: inside(this.j.eos_token_id) };
  }
}

/** Keys no family here implements; each is refused unless it is at its no-op value. */
function commonRefusals(k: Keys, softcapping = false): void {
  if (k.has('quantization_config')) {
    const q = k.j.quantization_config as Json;
    k.refuse('quantization_config', `quantised checkpoints (${String(q?.quant_method ?? 'unknown method')}) are not supported; use the unquantised float16/bfloat16/float32 weights`);
  }
  k.only('auto_map', () => false, 'the model needs its own code (trust_remote_code); only the built-in transformers families load');
  if (!softcapping) for (const s of ['final_logit_softcapping', 'attn_logit_softcapping']) k.only(s, () => false, `logit soft-capping is not part of ${k.family}`);
  // Dropout keys (attention_dropout, resid_pdrop, ...) are read as 0: every trainer here runs without
  // dropout, as TRL's PPO does (disable_dropout), and HF's eval mode is what parity compares against.
}

/** The rope of a config: θ and the scaling, from either layout. `rotaryDim` is the number of dims each
 *  head rotates (longrope's factor lists have half as many entries); `aliases` maps a family's legacy
 *  rope type names (Phi3Config reads "su" and "yarn" as longrope); `originalMax` is the family's default
 *  for a top-level original_max_position_embeddings (Phi3Config: 4096). */
function parseRope(
  k: Keys, maxPositions: number,
  opts: {
    thetaKeys?: string[]; extraParams?: string[]; rotaryDim: number; aliases?: Record<string, string>; originalMax?: number;
    /** θ when no key gives it (10000 but for Gemma 3's global rope); `nested`: the layer type whose
     *  rope_parameters entry to read (Gemma 3 in the 5.x layout). */
    defaultTheta?: number; nested?: string;
  },
): { theta: number; rope: RopeScaling | null; maxPositions: number } {
  const thetaKeys = opts.thetaKeys ?? ['rope_theta'];
  const outer = k.j.rope_parameters as Json | null | undefined;
  const params = (opts.nested ? outer?.[opts.nested] : outer) as Json | null | undefined;
  const paramsKey = opts.nested ? `rope_parameters.${opts.nested}` : 'rope_parameters';
  const refuseParams: (why: string) => never = (why) => k.refuse(paramsKey, why, params);
  const scaling = k.j.rope_scaling as Json | null | undefined;
  if (params !== undefined && params !== null && (typeof params !== 'object' || Array.isArray(params))) refuseParams('expected an object');
  if (params && Object.values(params).some((v) => v && typeof v === 'object' && !Array.isArray(v))) {
    refuseParams('per-layer-type rope parameters are not supported by this family');
  }
  if (scaling !== undefined && scaling !== null && (typeof scaling !== 'object' || Array.isArray(scaling))) k.refuse('rope_scaling', 'expected an object or null');
  // transformers 5 keeps θ in rope_parameters; 4.x at the top level. Both present must agree.
  // GPT-NeoX 4.x configs name it rotary_emb_base (and some also carry rope_theta).
  const inner = params && params.rope_theta !== undefined ? Number(params.rope_theta) : undefined;
  if (inner !== undefined && !isNum(inner)) refuseParams(`${paramsKey}.rope_theta must be a number`);
  let theta = inner;
  for (const tk of thetaKeys) {
    if (!k.has(tk)) continue;
    const v = k.num(tk, 10000);
    if (theta !== undefined && v !== theta) k.refuse(tk, `disagrees with ${inner !== undefined ? `${paramsKey}.rope_theta` : thetaKeys[0]} = ${theta}`);
    theta = v;
  }
  theta ??= opts.defaultTheta ?? 10000;
  const key = params ? paramsKey : 'rope_scaling';
  const refuseRope: (why: string) => never = (why) => k.refuse(key, why, params ?? scaling);
  const typeOf = (o: Json) => { const t = String(o.rope_type ?? o.type ?? 'default'); return opts.aliases?.[t] ?? t; };
  if (params && scaling && typeOf(params) !== typeOf(scaling)) {
    k.refuse('rope_scaling', `disagrees with ${paramsKey} (rope type "${typeOf(scaling)}" vs "${typeOf(params)}")`);
  }
  const s = (params ?? scaling ?? {}) as Json;
  const type = typeOf(s);
  const need = (f: string): number => {
    const v = s[f];
    if (!isNum(v)) refuseRope(`rope type "${type}" needs a numeric "${f}"`);
    return v;
  };
  const opt = (f: string): number | null => {
    if (s[f] === undefined || s[f] === null) return null;
    if (!isNum(s[f])) refuseRope(`"${f}" of rope type "${type}" must be a number`);
    return s[f] as number;
  };
  const allowed: Record<string, string[]> = {
    default: [], linear: ['factor'], dynamic: ['factor', 'original_max_position_embeddings'],
    llama3: ['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings'],
    yarn: ['factor', 'original_max_position_embeddings', 'attention_factor', 'beta_fast', 'beta_slow', 'mscale', 'mscale_all_dim', 'truncate'],
    longrope: ['short_factor', 'long_factor', 'factor', 'original_max_position_embeddings', 'attention_factor'],
  };
  if (!(type in allowed)) refuseRope(`rope type "${type}" is not supported (supported: ${ROPE_TYPES.join(', ')})`);
  for (const f of Object.keys(s)) {
    if (['rope_type', 'type', 'rope_theta', ...(opts.extraParams ?? [])].includes(f) || allowed[type]!.includes(f)) continue;
    refuseRope(`"${f}" is not a parameter of rope type "${type}" that the lab implements`);
  }
  if (type === 'default') return { theta, rope: null, maxPositions };
  if (type === 'linear') return { theta, rope: { type, factor: need('factor') }, maxPositions };
  if (type === 'llama3') {
    return {
      theta, maxPositions,
      rope: { type, factor: need('factor'), lowFreqFactor: need('low_freq_factor'), highFreqFactor: need('high_freq_factor'), originalMaxPositions: need('original_max_position_embeddings') },
    };
  }
  // original_max_position_embeddings at the top level (Phi-3 writes it there): transformers 5 gives it
  // priority over the one in the rope parameters; 4.x reads it for longrope only.
  const top = k.has('original_max_position_embeddings') ? k.int('original_max_position_embeddings') : opts.originalMax;
  if (type === 'yarn') {
    const original = opt('original_max_position_embeddings');
    if (k.has('original_max_position_embeddings') && top !== (original ?? maxPositions)) {
      k.refuse('original_max_position_embeddings', `transformers 5 reads it for yarn instead of ${key}.original_max_position_embeddings (${original ?? `absent, i.e. max_position_embeddings ${maxPositions}`}) and 4.x does not; make them agree`);
    }
    const truncate = s.truncate === undefined || s.truncate === null ? null : s.truncate;
    if (truncate !== null && typeof truncate !== 'boolean') refuseRope('"truncate" of rope type "yarn" must be true or false');
    return {
      theta, maxPositions,
      rope: {
        type, factor: need('factor'), originalMaxPositions: original, attentionFactor: opt('attention_factor'),
        mscale: opt('mscale'), mscaleAllDim: opt('mscale_all_dim'), betaFast: opt('beta_fast'), betaSlow: opt('beta_slow'), truncate,
      },
    };
  }
  if (type === 'longrope') {
    const list = (f: string): number[] => {
      const v = s[f];
      if (!Array.isArray(v) || v.length !== opts.rotaryDim / 2 || !v.every(isNum)) {
        refuseRope(`longrope "${f}" must list ${opts.rotaryDim / 2} numbers (one per rotary frequency: ${opts.rotaryDim} rotary dims / 2)`);
      }
      return v as number[];
    };
    const shortFactor = list('short_factor'), longFactor = list('long_factor');
    if (top === undefined) {
      refuseRope('longrope needs original_max_position_embeddings at the top level of config.json, as Phi-3 writes it (transformers 4.x reads only that key for longrope)');
    }
    const inParams = opt('original_max_position_embeddings');
    if (inParams !== null && inParams !== top) refuseRope(`original_max_position_embeddings ${inParams} disagrees with the top-level original_max_position_embeddings (${top}), which transformers reads first`);
    const factor = opt('factor');
    if (factor !== null && factor !== maxPositions / top) {
      refuseRope(`longrope factor ${factor} disagrees with max_position_embeddings / original_max_position_embeddings = ${maxPositions / top}; transformers 4.x uses the ratio, 5.x the factor`);
    }
    // The long factors apply once a sequence passes the original length; the lab stops there (maxPositionsOf).
    return {
      theta, maxPositions,
      rope: { type, shortFactor, longFactor, originalMaxPositions: top, factor, attentionFactor: opt('attention_factor') },
    };
  }
  // dynamic NTK recomputes its table once a sequence passes its original length; below it the table is
  // the default one. The lab caps sequences there, so the model computes exactly what HF does.
  const original = isNum(s.original_max_position_embeddings) ? s.original_max_position_embeddings : null;
  return { theta, rope: { type: 'dynamic', factor: need('factor'), originalMaxPositions: original }, maxPositions: Math.min(maxPositions, original ?? maxPositions) };
}

/** The per-family differences from Llama, with each family's defaults (its transformers config class). */
const LLAMA_FAMILIES: Record<LlamaConfig['arch'], { headDim: (d: number, h: number) => number; maxPositions: number; slidingWindow: number | null; eps: number }> = {
  llama: { headDim: (d, h) => d / h, maxPositions: 2048, slidingWindow: null, eps: 1e-6 },
  mistral: { headDim: (d, h) => d / h, maxPositions: 4096 * 32, slidingWindow: 4096, eps: 1e-6 },
  qwen2: { headDim: (d, h) => d / h, maxPositions: 32768, slidingWindow: null, eps: 1e-6 },
  qwen3: { headDim: () => 128, maxPositions: 32768, slidingWindow: null, eps: 1e-6 },
  phi3: { headDim: (d, h) => d / h, maxPositions: 4096, slidingWindow: null, eps: 1e-5 },
};
/** Families whose every layer uses `sliding_window` when it is set (Mistral; Phi-3 through Mistral's mask). */
const WINDOWED: LlamaConfig['arch'][] = ['mistral', 'phi3'];

/** Qwen2Config / Qwen3Config: sliding_window counts only when use_sliding_window is true (4096 by
 *  default); the layers that use it are `layer_types` as written, else those from max_window_layers (28)
 *  on. A layer typed "sliding_attention" with no window is refused: transformers cannot build its mask. */
function qwenWindows(k: Keys, nLayer: number): { slidingWindow: number | null; slidingLayers?: boolean[] } {
  const use = k.bool('use_sliding_window', false);
  const window = !use ? null : k.j.sliding_window === undefined ? 4096 : k.j.sliding_window === null ? null : k.int('sliding_window');
  if (window === 0) k.refuse('sliding_window', 'expected a positive window (or null for none)');
  let layers: boolean[];
  if (k.has('layer_types')) {
    const lt = k.j.layer_types;
    if (!Array.isArray(lt) || lt.length !== nLayer || lt.some((t) => t !== 'sliding_attention' && t !== 'full_attention')) {
      k.refuse('layer_types', `expected ${nLayer} entries (num_hidden_layers), each "sliding_attention" or "full_attention"`);
    }
    layers = (lt as string[]).map((t) => t === 'sliding_attention');
    if (window === null && layers.some(Boolean)) {
      k.refuse('layer_types', `marks sliding_attention layers but ${use ? 'sliding_window is null' : 'use_sliding_window is false'}, so transformers has no window for them; set use_sliding_window true with a sliding_window, or make those layers "full_attention"`);
    }
  } else {
    const from = k.int('max_window_layers', 28);
    layers = Array.from({ length: nLayer }, (_, i) => window !== null && i >= from);
  }
  return layers.some(Boolean) ? { slidingWindow: window, slidingLayers: layers } : { slidingWindow: null };
}

function parseLlamaFamily(k: Keys, arch: LlamaConfig['arch']): LlamaConfig {
  const fam = LLAMA_FAMILIES[arch];
  const nHead = k.int('num_attention_heads');
  const d = k.int('hidden_size');
  const vocabSize = k.int('vocab_size');
  const headDim = k.int('head_dim', fam.headDim(d, nHead));
  k.only('hidden_act', (v) => v === 'silu', 'silu');
  if (arch !== 'phi3') k.only('partial_rotary_factor', (v) => v === 1, `${arch} rotates the whole head (1.0)`);
  k.only('pretraining_tp', (v) => isNum(v) && v >= 1, 'an integer ≥ 1 (it only splits the matmuls)');
  // Sliding windows: Mistral and Phi-3 mask every layer when sliding_window is set; Qwen2/Qwen3 some layers.
  let slidingWindow: number | null = null, slidingLayers: boolean[] | undefined;
  const nLayer = k.int('num_hidden_layers');
  if (WINDOWED.includes(arch)) {
    slidingWindow = k.j.sliding_window === undefined ? fam.slidingWindow : k.j.sliding_window === null ? null : k.int('sliding_window');
    if (Array.isArray(k.j.layer_types) && (k.j.layer_types as unknown[]).some((t) => t !== 'full_attention')) {
      if (!(k.j.layer_types as unknown[]).every((t) => t === 'sliding_attention')) {
        k.refuse('layer_types', `${arch} uses one attention for every layer: all "full_attention" or all "sliding_attention"`);
      }
    }
  } else if (arch === 'qwen2' || arch === 'qwen3') {
    ({ slidingWindow, slidingLayers } = qwenWindows(k, nLayer));
  } else {
    k.only('sliding_window', () => false, 'Llama has no sliding window');
    if (Array.isArray(k.j.layer_types) && (k.j.layer_types as unknown[]).some((t) => t !== 'full_attention')) {
      k.refuse('layer_types', 'Llama has only "full_attention" layers');
    }
  }
  // Phi-3 rotates the first int(head_dim · partial_rotary_factor) dims of each head (Phi-4-mini: 0.75;
  // Phi3RotaryEmbedding and apply_rotary_pos_emb in transformers' modular_phi3.py @ 06053b84). Phi3Config
  // reads the legacy rope types "su" and "yarn" as longrope and defaults original_max_position_embeddings to 4096.
  const rotaryDim = arch === 'phi3' ? rotaryDims(k, headDim, 1) : headDim;
  const rope = parseRope(k, k.int('max_position_embeddings', fam.maxPositions), arch === 'phi3'
    ? { rotaryDim, extraParams: ['partial_rotary_factor'], aliases: { su: 'longrope', yarn: 'longrope' }, originalMax: 4096 }
    : { rotaryDim });
  // Qwen2 always biases q/k/v (not o); Llama and Qwen3 bias all four with attention_bias; Mistral and Phi-3 never.
  const unbiased = arch === 'mistral' || arch === 'phi3';
  const attnBias = unbiased ? false : k.bool('attention_bias', false);
  if (unbiased) k.only('attention_bias', (v) => v === false, `${arch} has no attention biases`);
  if (arch !== 'llama') k.only('mlp_bias', (v) => v === false, `${arch} has no MLP biases`);
  const { bos, eos } = k.tokenIds(vocabSize);
  return {
    arch, vocabSize, d, intermediate: k.int('intermediate_size'), nLayer, nHead,
    nKvHead: k.int('num_key_value_heads', nHead), headDim, eps: k.num('rms_norm_eps', fam.eps),
    ropeTheta: rope.theta, rope: rope.rope, maxPositions: rope.maxPositions,
    tied: k.bool('tie_word_embeddings', false),
    qkvBias: arch === 'qwen2' ? true : attnBias, oBias: arch === 'qwen2' ? false : attnBias,
    mlpBias: arch === 'llama' ? k.bool('mlp_bias', false) : false,
    slidingWindow, qkNorm: arch === 'qwen3', fused: arch === 'phi3', bosTokenId: bos, eosTokenId: eos,
    ...(rotaryDim !== headDim ? { rotaryDim } : {}), ...(slidingLayers ? { slidingLayers } : {}),
  };
}

function parseGpt2(k: Keys): Gpt2Config {
  const act = String(k.j.activation_function ?? 'gelu_new');
  if (!['gelu_new', 'gelu', 'gelu_pytorch_tanh'].includes(act)) k.refuse('activation_function', 'supported: gelu_new, gelu, gelu_pytorch_tanh');
  k.only('scale_attn_weights', (v) => v === true, 'true');
  k.only('scale_attn_by_inverse_layer_idx', (v) => v === false, 'false');
  k.only('tie_word_embeddings', (v) => v === true, 'GPT-2 ties its LM head to wte (true)');
  const d = k.int('n_embd');
  const vocabSize = k.int('vocab_size');
  const { bos, eos } = k.tokenIds(vocabSize);
  return {
    arch: 'gpt2', vocabSize, nPositions: k.int('n_positions', k.int('n_ctx', 1024)), d,
    ...(k.has('n_inner') && k.int('n_inner') !== 4 * d ? { nInner: k.int('n_inner') } : {}),
    nLayer: k.int('n_layer'), nHead: k.int('n_head'), eps: k.num('layer_norm_epsilon', 1e-5),
    activation: act as Gpt2Config['activation'], bosTokenId: bos, eosTokenId: eos,
  };
}

/** The rotary fraction from whichever key the config's transformers version wrote (GPT-NeoX 4.x: rotary_pct);
 *  all present must agree. `fallback` is the family's default. */
function partialRotary(k: Keys, fallback: number): number {
  const params = k.j.rope_parameters as Json | null | undefined;
  const found: [string, unknown][] = [];
  if (params && params.partial_rotary_factor !== undefined) found.push(['rope_parameters', params.partial_rotary_factor]);
  for (const key of ['partial_rotary_factor', 'rotary_pct']) if (k.has(key)) found.push([key, k.j[key]]);
  for (const [key, v] of found) {
    if (!isNum(v) || v <= 0 || v > 1) k.refuse(key, 'the rotary fraction must be a number in (0, 1]');
    if (v !== found[0]![1]) k.refuse(key, `disagrees with ${found[0]![0]} (${String(found[0]![1])})`);
  }
  return found.length ? (found[0]![1] as number) : fallback;
}

/** int(headDim · rotary fraction), as python truncates it; rotate_half needs it even and non-zero. */
function rotaryDims(k: Keys, headDim: number, fallback: number): number {
  const dims = Math.trunc(headDim * partialRotary(k, fallback));
  if (dims % 2 !== 0 || dims === 0) k.refuse(k.has('rotary_pct') ? 'rotary_pct' : k.has('partial_rotary_factor') ? 'partial_rotary_factor' : 'rope_parameters', `gives ${dims} rotary dims per head of ${headDim}; rotate_half needs an even, non-zero number`);
  return dims;
}

function parseNeox(k: Keys): NeoxConfig {
  const nHead = k.int('num_attention_heads');
  const d = k.int('hidden_size');
  if (d % nHead !== 0) k.refuse('hidden_size', `must be a multiple of num_attention_heads (${nHead})`);
  const headDim = d / nHead;
  const rotaryDim = rotaryDims(k, headDim, 0.25); // GPTNeoXConfig's default rotary_pct
  const act = String(k.j.hidden_act ?? 'gelu');
  if (!['gelu', 'gelu_new', 'gelu_pytorch_tanh'].includes(act)) k.refuse('hidden_act', 'supported: gelu (erf), gelu_new, gelu_pytorch_tanh');
  k.only('head_dim', (v) => v === headDim, `GPT-NeoX heads are hidden_size / num_attention_heads = ${headDim}`);
  k.only('sliding_window', () => false, 'GPT-NeoX has no sliding window');
  if (Array.isArray(k.j.layer_types) && (k.j.layer_types as unknown[]).some((t) => t !== 'full_attention')) k.refuse('layer_types', 'only "full_attention" layers');
  const rope = parseRope(k, k.int('max_position_embeddings', 2048), { thetaKeys: ['rope_theta', 'rotary_emb_base'], extraParams: ['partial_rotary_factor'], rotaryDim });
  const vocabSize = k.int('vocab_size');
  const { bos, eos } = k.tokenIds(vocabSize);
  return {
    arch: 'gpt_neox', vocabSize, d, intermediate: k.int('intermediate_size'), nLayer: k.int('num_hidden_layers'), nHead, headDim, rotaryDim,
    ropeTheta: rope.theta, rope: rope.rope, maxPositions: rope.maxPositions, eps: k.num('layer_norm_eps', 1e-5),
    parallelResidual: k.bool('use_parallel_residual', true), attentionBias: k.bool('attention_bias', true),
    tied: k.bool('tie_word_embeddings', false), activation: act as NeoxConfig['activation'],
    // GPTNeoXConfig's own defaults when the keys are absent
    bosTokenId: k.j.bos_token_id !== undefined ? bos : 0, eosTokenId: k.j.eos_token_id !== undefined ? eos : 2 < vocabSize ? 2 : null,
  };
}

/** A soft-cap key: the config class's default when absent, none when null, else a positive number. */
function softcap(k: Keys, key: string, fallback: number | null): number | null {
  if (k.j[key] === undefined) return fallback;
  if (k.j[key] === null) return null;
  const v = k.num(key, 0);
  if (v <= 0) k.refuse(key, 'expected a positive number or null');
  return v;
}

const GELUS = ['gelu_pytorch_tanh', 'gelu_new', 'gelu'];

/** Gemma 1's MLP activation as current transformers computes it: GemmaMLP is LlamaMLP, ACT2FN[hidden_act]
 *  (modular_gemma.py @ 008e5743; GemmaConfig has no hidden_activation field, so that key is ignored). 4.38–4.47
 *  read hidden_activation instead; configNotes says so where the two differ. */
function gemma1Activation(k: Keys): GemmaConfig['activation'] {
  const act = String(k.j.hidden_act ?? 'gelu_pytorch_tanh');
  if (!GELUS.includes(act)) k.refuse('hidden_act', `supported: ${GELUS.join(', ')}`);
  return act as GemmaConfig['activation'];
}

/** Keys a folder carries that the lab reads as current transformers does, where an older transformers
 *  computed something else: said beside the model's summary (`rrlhf model info`, the model picker), not
 *  silently. Empty for nearly every folder. */
export function configNotes(j: Json): string[] {
  const notes: string[] = [];
  if (j.model_type === 'gemma' && j.hidden_activation !== undefined) {
    const act = String(j.hidden_act ?? 'gelu_pytorch_tanh'), older = String(j.hidden_activation ?? 'gelu_pytorch_tanh');
    if ((act === 'gelu') !== (older === 'gelu')) {
      const exact = act === 'gelu';
      notes.push(`hidden_activation = ${JSON.stringify(j.hidden_activation)} is not read: transformers ≥ 4.48 applies hidden_act = ${JSON.stringify(act)} (the ${exact ? 'exact' : 'tanh'} GELU), and so does the lab; 4.38–4.47 applied hidden_activation (the ${exact ? 'tanh' : 'exact'} one)${exact ? '. Gemma was trained with the tanh GELU: to compute that, set hidden_act to "gelu_pytorch_tanh" in config.json' : ''}`);
    }
  }
  return notes;
}

/** Which layers slide: `layer_types` when given, else the config class's pattern (Gemma 2: every other
 *  layer from layer 0; Gemma 3: all but every `sliding_window_pattern`-th, 6 by default). */
function slidingPattern(k: Keys, nLayer: number, arch: GemmaConfig['arch']): boolean[] {
  if (arch === 'gemma') return Array.from({ length: nLayer }, () => false);
  if (k.has('layer_types')) {
    const lt = k.j.layer_types;
    if (!Array.isArray(lt) || lt.length !== nLayer || lt.some((t) => t !== 'sliding_attention' && t !== 'full_attention')) {
      k.refuse('layer_types', `expected ${nLayer} entries, each "sliding_attention" or "full_attention"`);
    }
    return (lt as string[]).map((t) => t === 'sliding_attention');
  }
  const every = arch === 'gemma2' ? 2 : k.int('sliding_window_pattern', 6);
  if (every < 1) k.refuse('sliding_window_pattern', 'expected a positive integer');
  return Array.from({ length: nLayer }, (_, i) => (i + 1) % every !== 0);
}

/** Gemma 3's two ropes: the full layers' (rope_theta, 1e6 by default, with rope_scaling) and the sliding
 *  layers' default rope over rope_local_base_freq (10000). transformers 5 writes both as rope_parameters
 *  {sliding_attention: {...}, full_attention: {...}} (Gemma3TextConfig.convert_rope_params_to_dict). */
function gemma3Rope(k: Keys, maxPositions: number, headDim: number): { global: ReturnType<typeof parseRope>; localTheta: number } {
  const outer = k.j.rope_parameters as Json | null | undefined;
  const layerTypes = ['sliding_attention', 'full_attention'];
  if (outer !== undefined && outer !== null) {
    if (typeof outer !== 'object' || Array.isArray(outer) || !Object.keys(outer).every((t) => layerTypes.includes(t))) {
      k.refuse('rope_parameters', 'Gemma 3 keeps one entry per layer type: {"sliding_attention": {...}, "full_attention": {...}}');
    }
  }
  const global = parseRope(k, maxPositions, { rotaryDim: headDim, defaultTheta: 1e6, ...(outer ? { nested: 'full_attention' } : {}) });
  const sliding = outer?.sliding_attention as Json | null | undefined;
  let localTheta = k.has('rope_local_base_freq') ? k.num('rope_local_base_freq', 10000) : undefined;
  if (sliding !== undefined && sliding !== null) {
    const type = String(sliding.rope_type ?? sliding.type ?? 'default');
    if (type !== 'default' || Object.keys(sliding).some((f) => !['rope_type', 'type', 'rope_theta'].includes(f))) {
      k.refuse('rope_parameters.sliding_attention', 'the sliding layers\' rope must be the default one (rope_type and rope_theta only)', sliding);
    }
    if (sliding.rope_theta !== undefined) {
      if (!isNum(sliding.rope_theta)) k.refuse('rope_parameters.sliding_attention', 'rope_theta must be a number', sliding);
      if (localTheta !== undefined && localTheta !== sliding.rope_theta) k.refuse('rope_local_base_freq', `disagrees with rope_parameters.sliding_attention.rope_theta = ${sliding.rope_theta}`);
      localTheta = sliding.rope_theta;
    }
  }
  return { global, localTheta: localTheta ?? 10000 };
}

/** Gemma 1, 2 and 3 (text), with each config class's defaults (GemmaConfig, Gemma2Config, Gemma3TextConfig). */
function parseGemma(k: Keys, arch: GemmaConfig['arch']): GemmaConfig {
  const v1 = arch === 'gemma', v3 = arch === 'gemma3_text';
  const nLayer = k.int('num_hidden_layers');
  // Gemma2MLP and Gemma3MLP read hidden_activation, not hidden_act.
  const activation = v1 ? gemma1Activation(k) : String(k.j.hidden_activation ?? 'gelu_pytorch_tanh') as GemmaConfig['activation'];
  if (!GELUS.includes(activation)) k.refuse('hidden_activation', `supported: ${GELUS.join(', ')}`);
  if (!v1) k.only('use_bidirectional_attention', (v) => v === false, 'only causal attention (false)');
  const slidingLayers = slidingPattern(k, nLayer, arch);
  const slidingWindow = v1 ? null : k.j.sliding_window === undefined ? 4096 : k.j.sliding_window === null ? null : k.int('sliding_window');
  const headDim = k.int('head_dim', 256);
  const maxPositions = k.int('max_position_embeddings', v3 ? 131072 : 8192);
  let rope: ReturnType<typeof parseRope>, localRopeTheta: number | null = null;
  if (v3) ({ global: rope, localTheta: localRopeTheta } = gemma3Rope(k, maxPositions, headDim));
  else rope = parseRope(k, maxPositions, { rotaryDim: headDim });
  const vocabSize = k.int('vocab_size');
  const { bos, eos } = k.tokenIds(vocabSize);
  return {
    arch, vocabSize, d: k.int('hidden_size'), intermediate: k.int('intermediate_size'), nLayer,
    nHead: k.int('num_attention_heads'), nKvHead: k.int('num_key_value_heads', v1 ? 16 : 4), headDim,
    eps: k.num('rms_norm_eps', 1e-6), ropeTheta: rope.theta, rope: rope.rope, localRopeTheta, maxPositions: rope.maxPositions,
    tied: k.bool('tie_word_embeddings', true), attentionBias: k.bool('attention_bias', false),
    // GemmaAttention scales by head_dim^−½ and has no query_pre_attn_scalar
    queryPreAttnScalar: v1 ? headDim : k.num('query_pre_attn_scalar', 256), slidingWindow, slidingLayers,
    attnSoftcap: v1 ? null : softcap(k, 'attn_logit_softcapping', v3 ? null : 50),
    finalSoftcap: v1 ? null : softcap(k, 'final_logit_softcapping', v3 ? null : 30),
    activation,
    // an explicit null stays null; an absent key is the config class's default
    bosTokenId: k.j.bos_token_id !== undefined ? bos : 2, eosTokenId: k.j.eos_token_id !== undefined ? eos : 1,
  };
}

/** Parses a Hugging Face config.json object. Unsupported architectures list the supported ones. */
export function parseHfConfig(j: Json, file = 'config.json'): ModelConfig {
  const type = String(j.model_type ?? '');
  if (type === 'gemma3') {
    // Gemma3ForConditionalGeneration: a vision tower and projector beside the language model, whose
    // weights sit under model.language_model.* (language_model.model.* before 4.52).
    throw new ConfigError(file, `model_type = "gemma3": a Gemma 3 multimodal config (text_config, vision_config) is not loaded; only the text model loads (model_type "gemma3_text", Gemma3ForCausalLM, as the 1B checkpoints are saved): save the language model alone`);
  }
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(type)) {
    const archs = Array.isArray(j.architectures) ? ` (${(j.architectures as string[]).join(', ')})` : '';
    throw new ConfigError(file, `unsupported model_type "${type}"${archs}; supported: ${SUPPORTED_ARCHITECTURES.join(', ')}`);
  }
  const k = new Keys(j, file, type);
  commonRefusals(k, type === 'gemma2' || type === 'gemma3_text');
  if (type === 'gpt2') return parseGpt2(k);
  if (type === 'gpt_neox') return parseNeox(k);
  if (GEMMA_ARCHS.includes(type)) return parseGemma(k, type as GemmaConfig['arch']);
  return parseLlamaFamily(k, type as LlamaConfig['arch']);
}

/** Sliding window of every layer, or null (full causal attention; Gemma's windows are per layer). */
export const slidingWindowOf = (c: ModelConfig): number | null => (c.arch === 'gpt2' || c.arch === 'gpt_neox' || isGemma(c) || c.slidingLayers ? null : c.slidingWindow);

/** Per layer: whether it uses layerWindowOf's window (all false where no layer-wise window applies). */
export const slidingLayersOf = (c: ModelConfig): boolean[] =>
  (c.arch === 'gpt2' || c.arch === 'gpt_neox' ? [] : c.slidingLayers ?? []);

/** The window of the layers that slide when only some do (Gemma 2 and 3, Qwen2/Qwen3), else null. */
export const layerWindowOf = (c: ModelConfig): number | null => (slidingLayersOf(c).some(Boolean) ? (c as LlamaConfig | GemmaConfig).slidingWindow : null);

/** The most positions a sequence may span: dynamic rope caps it at its original length (the parser
 *  lowers maxPositions), longrope at original_max_position_embeddings (past it HF switches to the long
 *  factors, which a table computed once cannot follow). */
export const maxPositionsOf = (c: ModelConfig): number => {
  if (c.arch === 'gpt2') return c.nPositions;
  return c.rope?.type === 'longrope' ? Math.min(c.maxPositions, c.rope.originalMaxPositions) : c.maxPositions;
};

/** Refuses a sequence of `length` positions past maxPositionsOf when the rope table depends on the
 *  length (dynamic NTK, longrope): HF would switch tables there and the lab's is computed once. */
export function checkPositions(c: ModelConfig, length: number): void {
  if (c.arch === 'gpt2' || !c.rope || (c.rope.type !== 'longrope' && c.rope.type !== 'dynamic')) return;
  const max = maxPositionsOf(c);
  if (length > max) {
    throw new Error(`a sequence of ${length} positions is longer than this model's ${max}: its rope type "${c.rope.type}" changes its frequencies past original_max_position_embeddings (${max}), which the lab does not implement`);
  }
}

const HF_CLASS: Record<Arch, string> = { gpt2: 'GPT2', llama: 'Llama', mistral: 'Mistral', qwen2: 'Qwen2', qwen3: 'Qwen3', phi3: 'Phi3', gemma: 'Gemma', gemma2: 'Gemma2', gemma3_text: 'Gemma3', gpt_neox: 'GPTNeoX' };
/** transformers' class name for this family and head, e.g. Qwen3ForCausalLM (Gemma 3's text-only
 *  reward model is Gemma3TextForSequenceClassification; Gemma3ForSequenceClassification is multimodal). */
export const hfClassName = (arch: Arch, head: 'CausalLM' | 'SequenceClassification' | 'Model'): string =>
  head === 'Model' ? `${arch === 'gemma3_text' ? 'Gemma3Text' : HF_CLASS[arch]}Model` // the bare trunk (a LoRA ensemble's shared base)
  : arch === 'gemma3_text' && head === 'SequenceClassification' ? 'Gemma3TextForSequenceClassification'
    : `${HF_CLASS[arch]}${arch === 'gpt2' && head === 'CausalLM' ? 'LMHeadModel' : `For${head}`}`;

function ropeToHf(c: LlamaConfig | NeoxConfig | GemmaConfig): Json | null {
  const r = c.rope;
  if (!r) return null;
  if (r.type === 'linear') return { rope_type: 'linear', factor: r.factor };
  if (r.type === 'llama3') {
    return { rope_type: 'llama3', factor: r.factor, low_freq_factor: r.lowFreqFactor, high_freq_factor: r.highFreqFactor, original_max_position_embeddings: r.originalMaxPositions };
  }
  const present = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null));
  if (r.type === 'yarn') {
    return present({
      rope_type: 'yarn', factor: r.factor, original_max_position_embeddings: r.originalMaxPositions, attention_factor: r.attentionFactor,
      beta_fast: r.betaFast, beta_slow: r.betaSlow, mscale: r.mscale, mscale_all_dim: r.mscaleAllDim, truncate: r.truncate,
    });
  }
  // "type" rather than "rope_type", and the original length at the top level (toHfConfig): what
  // Phi3Config's validation asks for in every transformers version.
  if (r.type === 'longrope') return present({ type: 'longrope', short_factor: r.shortFactor, long_factor: r.longFactor, factor: r.factor, attention_factor: r.attentionFactor });
  return { rope_type: 'dynamic', factor: r.factor, ...(r.originalMaxPositions !== null ? { original_max_position_embeddings: r.originalMaxPositions } : {}) };
}

/** The top-level keys a rope needs beside rope_scaling (longrope's original length). */
const ropeTopLevel = (c: LlamaConfig | NeoxConfig | GemmaConfig): Json => (c.rope?.type === 'longrope' ? { original_max_position_embeddings: c.rope.originalMaxPositions } : {});

/** Qwen's window keys: use_sliding_window, sliding_window, max_window_layers (the first sliding layer,
 *  what transformers 4.x reads) and layer_types (what 5.x reads first), so either version rebuilds the layers. */
function qwenWindowKeys(c: LlamaConfig): Json {
  if (!c.slidingLayers) return { use_sliding_window: false };
  const first = c.slidingLayers.indexOf(true);
  return {
    use_sliding_window: true, sliding_window: c.slidingWindow, max_window_layers: first,
    layer_types: c.slidingLayers.map((s) => (s ? 'sliding_attention' : 'full_attention')),
  };
}

/** The config.json Hugging Face would write for this model (so transformers can load what we save), in
 *  the transformers 4.x layout, which transformers 5 also reads. */
export function toHfConfig(c: ModelConfig): Json {
  if (c.arch === 'gpt2') {
    return {
      architectures: [hfClassName('gpt2', 'CausalLM')], model_type: 'gpt2', vocab_size: c.vocabSize, n_positions: c.nPositions, n_ctx: c.nPositions,
      n_embd: c.d, n_layer: c.nLayer, n_head: c.nHead, n_inner: c.nInner ?? null, activation_function: c.activation,
      layer_norm_epsilon: c.eps, resid_pdrop: 0.0, embd_pdrop: 0.0, attn_pdrop: 0.0, initializer_range: 0.02,
      scale_attn_weights: true, tie_word_embeddings: true, bos_token_id: c.bosTokenId, eos_token_id: c.eosTokenId, torch_dtype: 'float32',
    };
  }
  if (isGemma(c)) {
    const v1 = c.arch === 'gemma', v3 = c.arch === 'gemma3_text';
    return {
      architectures: [hfClassName(c.arch, 'CausalLM')], model_type: c.arch, vocab_size: c.vocabSize, hidden_size: c.d,
      intermediate_size: c.intermediate, num_hidden_layers: c.nLayer, num_attention_heads: c.nHead, num_key_value_heads: c.nKvHead,
      head_dim: c.headDim, hidden_activation: c.activation, hidden_act: c.activation, max_position_embeddings: c.maxPositions,
      rms_norm_eps: c.eps, rope_theta: c.ropeTheta, rope_scaling: ropeToHf(c), ...ropeTopLevel(c),
      ...(v3 ? { rope_local_base_freq: c.localRopeTheta } : {}),
      tie_word_embeddings: c.tied, attention_bias: c.attentionBias,
      ...(v1 ? {} : {
        query_pre_attn_scalar: c.queryPreAttnScalar, sliding_window: c.slidingWindow,
        layer_types: c.slidingLayers.map((s) => (s ? 'sliding_attention' : 'full_attention')),
        attn_logit_softcapping: c.attnSoftcap, final_logit_softcapping: c.finalSoftcap,
      }),
      attention_dropout: 0.0, bos_token_id: c.bosTokenId, eos_token_id: c.eosTokenId, torch_dtype: 'float32',
    };
  }
  if (c.arch === 'gpt_neox') {
    return {
      architectures: [hfClassName('gpt_neox', 'CausalLM')], model_type: 'gpt_neox', vocab_size: c.vocabSize, hidden_size: c.d,
      intermediate_size: c.intermediate, num_hidden_layers: c.nLayer, num_attention_heads: c.nHead, hidden_act: c.activation,
      rotary_pct: c.rotaryDim / c.headDim, rotary_emb_base: c.ropeTheta, rope_scaling: ropeToHf(c), ...ropeTopLevel(c), max_position_embeddings: c.maxPositions,
      layer_norm_eps: c.eps, use_parallel_residual: c.parallelResidual, attention_bias: c.attentionBias, tie_word_embeddings: c.tied,
      attention_dropout: 0.0, hidden_dropout: 0.0, bos_token_id: c.bosTokenId, eos_token_id: c.eosTokenId, torch_dtype: 'float32',
    };
  }
  return {
    architectures: [hfClassName(c.arch, 'CausalLM')], model_type: c.arch,
    vocab_size: c.vocabSize, hidden_size: c.d, intermediate_size: c.intermediate, num_hidden_layers: c.nLayer,
    num_attention_heads: c.nHead, num_key_value_heads: c.nKvHead, head_dim: c.headDim, hidden_act: 'silu',
    max_position_embeddings: c.maxPositions, rms_norm_eps: c.eps, rope_theta: c.ropeTheta, rope_scaling: ropeToHf(c), ...ropeTopLevel(c),
    ...(c.rotaryDim !== undefined ? { partial_rotary_factor: c.rotaryDim / c.headDim } : {}),
    tie_word_embeddings: c.tied,
    ...(c.arch === 'llama' ? { attention_bias: c.qkvBias, mlp_bias: c.mlpBias } : {}),
    ...(c.arch === 'qwen3' ? { attention_bias: c.qkvBias } : {}),
    ...(c.arch === 'mistral' || c.arch === 'phi3' ? { sliding_window: c.slidingWindow } : {}),
    ...(c.arch === 'phi3' ? { attention_bias: false } : {}),
    ...(c.arch === 'qwen2' || c.arch === 'qwen3' ? qwenWindowKeys(c) : {}),
    attention_dropout: 0.0, bos_token_id: c.bosTokenId, eos_token_id: c.eosTokenId, torch_dtype: 'float32',
  };
}
