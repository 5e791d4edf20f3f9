// Model configurations, read from and written to Hugging Face `config.json`. One small typed object per
// architecture family; everything the forward pass needs is here, named as HF names it where possible.

export const SUPPORTED_ARCHITECTURES = ['gpt2', 'llama', 'qwen2'] as const;
export type Arch = (typeof SUPPORTED_ARCHITECTURES)[number];

export interface Gpt2Config {
  arch: 'gpt2';
  vocabSize: number;
  nPositions: number;
  d: number;
  nLayer: number;
  nHead: number;
  eps: number;
  /** GPT-2 uses the tanh approximation ("gelu_new"); "gelu" is the exact erf form. */
  activation: 'gelu_new' | 'gelu' | 'gelu_pytorch_tanh';
  bosTokenId: number | null;
  eosTokenId: number | null;
}

export interface LlamaConfig {
  arch: 'llama' | 'qwen2';
  vocabSize: number;
  d: number;
  intermediate: number;
  nLayer: number;
  nHead: number;
  nKvHead: number;
  headDim: number;
  eps: number;
  ropeTheta: number;
  maxPositions: number;
  tied: boolean;
  /** Bias on q/k/v projections (always on for Qwen2; `attention_bias` for Llama, which also biases o_proj). */
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  bosTokenId: number | null;
  eosTokenId: number | null;
}

export type ModelConfig = Gpt2Config | LlamaConfig;

export class ConfigError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Json = Record<string, unknown>;

function num(j: Json, file: string, ...keys: string[]): number {
  for (const k of keys) if (typeof j[k] === 'number') return j[k] as number;
  throw new ConfigError(file, `missing numeric field "${keys[0]}"`);
}
const opt = (j: Json, k: string, d: number): number => (typeof j[k] === 'number' ? (j[k] as number) : d);
const tokenId = (v: unknown): number | null => (typeof v === 'number' ? v : Array.isArray(v) && typeof v[0] === 'number' ? v[0] : null);

/** Parses a Hugging Face config.json object. Unsupported architectures list the supported ones. */
export function parseHfConfig(j: Json, file = 'config.json'): ModelConfig {
  const type = String(j.model_type ?? '');
  if (type === 'gpt2') {
    const act = String(j.activation_function ?? 'gelu_new');
    if (!['gelu_new', 'gelu', 'gelu_pytorch_tanh'].includes(act)) throw new ConfigError(file, `GPT-2 activation "${act}" is not supported (gelu_new, gelu, gelu_pytorch_tanh)`);
    if (j.scale_attn_weights === false) throw new ConfigError(file, 'scale_attn_weights=false is not supported');
    return {
      arch: 'gpt2', vocabSize: num(j, file, 'vocab_size'), nPositions: num(j, file, 'n_positions', 'n_ctx'),
      d: num(j, file, 'n_embd'), nLayer: num(j, file, 'n_layer'), nHead: num(j, file, 'n_head'),
      eps: opt(j, 'layer_norm_epsilon', 1e-5), activation: act as Gpt2Config['activation'],
      bosTokenId: tokenId(j.bos_token_id), eosTokenId: tokenId(j.eos_token_id),
    };
  }
  if (type === 'llama' || type === 'qwen2') {
    const nHead = num(j, file, 'num_attention_heads');
    const d = num(j, file, 'hidden_size');
    const rope = j.rope_scaling as Json | null | undefined;
    if (rope && (rope.rope_type ?? rope.type) !== 'default') throw new ConfigError(file, `rope_scaling ${JSON.stringify(rope)} is not supported yet (only the default RoPE)`);
    if (j.hidden_act !== undefined && j.hidden_act !== 'silu') throw new ConfigError(file, `hidden_act "${String(j.hidden_act)}" is not supported (silu)`);
    const attnBias = j.attention_bias === true;
    return {
      arch: type, vocabSize: num(j, file, 'vocab_size'), d, intermediate: num(j, file, 'intermediate_size'),
      nLayer: num(j, file, 'num_hidden_layers'), nHead, nKvHead: opt(j, 'num_key_value_heads', nHead),
      headDim: opt(j, 'head_dim', d / nHead), eps: opt(j, 'rms_norm_eps', 1e-6), ropeTheta: opt(j, 'rope_theta', 10000),
      maxPositions: opt(j, 'max_position_embeddings', 2048), tied: j.tie_word_embeddings === true,
      qkvBias: type === 'qwen2' ? true : attnBias, oBias: type === 'qwen2' ? false : attnBias, mlpBias: j.mlp_bias === true,
      bosTokenId: tokenId(j.bos_token_id), eosTokenId: tokenId(j.eos_token_id),
    };
  }
  const archs = Array.isArray(j.architectures) ? ` (${(j.architectures as string[]).join(', ')})` : '';
  throw new ConfigError(file, `unsupported model_type "${type}"${archs}; supported: ${SUPPORTED_ARCHITECTURES.join(', ')}`);
}

/** The config.json Hugging Face would write for this model (so transformers can load what we save). */
export function toHfConfig(c: ModelConfig): Json {
  if (c.arch === 'gpt2') {
    return {
      architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: c.vocabSize, n_positions: c.nPositions, n_ctx: c.nPositions,
      n_embd: c.d, n_layer: c.nLayer, n_head: c.nHead, n_inner: null, activation_function: c.activation,
      layer_norm_epsilon: c.eps, resid_pdrop: 0.0, embd_pdrop: 0.0, attn_pdrop: 0.0, initializer_range: 0.02,
      scale_attn_weights: true, tie_word_embeddings: true, bos_token_id: c.bosTokenId, eos_token_id: c.eosTokenId, torch_dtype: 'float32',
    };
  }
  return {
    architectures: [c.arch === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'], model_type: c.arch,
    vocab_size: c.vocabSize, hidden_size: c.d, intermediate_size: c.intermediate, num_hidden_layers: c.nLayer,
    num_attention_heads: c.nHead, num_key_value_heads: c.nKvHead, head_dim: c.headDim, hidden_act: 'silu',
    max_position_embeddings: c.maxPositions, rms_norm_eps: c.eps, rope_theta: c.ropeTheta, rope_scaling: null,
    tie_word_embeddings: c.tied, ...(c.arch === 'llama' ? { attention_bias: c.qkvBias, mlp_bias: c.mlpBias } : {}),
    attention_dropout: 0.0, bos_token_id: c.bosTokenId, eos_token_id: c.eosTokenId, torch_dtype: 'float32',
  };
}
