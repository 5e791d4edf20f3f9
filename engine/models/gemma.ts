// The Gemma family as Hugging Face computes it. Common to all: embeddings scaled by √hidden_size,
// RMSNorms that scale by (1 + w), GeGLU (gelu_pytorch_tanh by default), a tied LM head by default.
//   Gemma 1 (modeling_gemma.py): Llama's layout otherwise — a norm before attention and one before the
//     MLP (post_attention_layernorm), scores × head_dim^−½.
//   Gemma 2 (modeling_gemma2.py): a norm before and after both attention and MLP, scores ×
//     query_pre_attn_scalar^−½ and tanh-soft-capped before the mask, a sliding window on the layers
//     `layer_types` marks (the model passes their bias as slidingBias), soft-capped final logits.
//   Gemma 3 text (modeling_gemma3.py @ f14d0cbc: Gemma3Attention, Gemma3TextModel): Gemma 2 plus q_norm /
//     k_norm ((1 + w) RMSNorm over each head, before RoPE) and a second rope for the sliding layers
//     (default type, θ = rope_local_base_freq); its soft-caps are off unless the config sets them.

import { type Tensor, F } from '../graph/index.js';
import { type GemmaConfig, hasPostNorms } from './config.js';
import { ropeCosSin } from './rope.js';
import { type Architecture, type ParamSpec, attention, proj, splitHeads, mergeHeads, withPast, type KV } from './decoder.js';

/** GemmaRMSNorm: x/rms(x) · (1 + w). The weights are stored as offsets from one. */
const norm = (x: Tensor, w: Tensor, eps: number) => F.rmsNorm(x, F.add(w, 1), eps);

const capped = (x: Tensor, cap: number | null) => (cap === null ? x : F.mul(F.tanh(F.div(x, cap)), cap));

export const gemma: Architecture<GemmaConfig> = {
  params(c) {
    const w = { kind: 'normal', std: 0.02 } as const, zeros = { kind: 'zeros' } as const;
    const q = c.nHead * c.headDim, kv = c.nKvHead * c.headDim;
    const norms = hasPostNorms(c) ? ['input_layernorm', 'post_attention_layernorm', 'pre_feedforward_layernorm', 'post_feedforward_layernorm'] : ['input_layernorm', 'post_attention_layernorm'];
    const specs: ParamSpec[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocabSize, c.d], init: w }];
    for (let i = 0; i < c.nLayer; i++) {
      const l = `model.layers.${i}.`;
      for (const n of norms) specs.push({ name: `${l}${n}.weight`, shape: [c.d], init: zeros });
      specs.push(
        { name: `${l}self_attn.q_proj.weight`, shape: [q, c.d], init: w },
        { name: `${l}self_attn.k_proj.weight`, shape: [kv, c.d], init: w },
        { name: `${l}self_attn.v_proj.weight`, shape: [kv, c.d], init: w },
        { name: `${l}self_attn.o_proj.weight`, shape: [c.d, q], init: w },
      );
      if (c.attentionBias) {
        specs.push(
          { name: `${l}self_attn.q_proj.bias`, shape: [q], init: zeros },
          { name: `${l}self_attn.k_proj.bias`, shape: [kv], init: zeros },
          { name: `${l}self_attn.v_proj.bias`, shape: [kv], init: zeros },
          { name: `${l}self_attn.o_proj.bias`, shape: [c.d], init: zeros },
        );
      }
      if (c.arch === 'gemma3_text') {
        specs.push(
          { name: `${l}self_attn.q_norm.weight`, shape: [c.headDim], init: zeros },
          { name: `${l}self_attn.k_norm.weight`, shape: [c.headDim], init: zeros },
        );
      }
      specs.push(
        { name: `${l}mlp.gate_proj.weight`, shape: [c.intermediate, c.d], init: w },
        { name: `${l}mlp.up_proj.weight`, shape: [c.intermediate, c.d], init: w },
        { name: `${l}mlp.down_proj.weight`, shape: [c.d, c.intermediate], init: w },
      );
    }
    specs.push({ name: 'model.norm.weight', shape: [c.d], init: zeros });
    if (!c.tied) specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, c.d], init: w });
    return specs;
  },

  trunk(g, p, c, { ids, positions, attnBias, slidingBias, past }) {
    // HF multiplies by √d as a tensor of the hidden dtype, i.e. rounded to float32 here.
    let x = F.mul(F.embedding(p['model.embed_tokens.weight']!, ids), Math.fround(Math.sqrt(c.d)));
    const global = ropeCosSin(positions, c.headDim, c);
    const local = c.localRopeTheta === null ? global : ropeCosSin(positions, c.headDim, { ropeTheta: c.localRopeTheta, rope: null, maxPositions: c.maxPositions });
    const act = (t: Tensor) => F.gelu(t, c.activation === 'gelu' ? 'erf' : 'tanh');
    const scale = 1 / Math.sqrt(c.queryPreAttnScalar);
    const post = hasPostNorms(c), qkNorm = c.arch === 'gemma3_text';
    const present: KV[] = [];
    // One checkpointed segment per layer (docs/engine.md § Gradient checkpointing).
    for (let i = 0; i < c.nLayer; i++) g.checkpoint(() => {
      const l = `model.layers.${i}.`;
      const sliding = c.slidingLayers[i]!;
      const { cos, sin } = sliding ? local : global;
      const a = norm(x, p[`${l}input_layernorm.weight`]!, c.eps);
      let q = splitHeads(proj(p, `${l}self_attn.q_proj`, a), c.nHead, c.headDim);
      let k = splitHeads(proj(p, `${l}self_attn.k_proj`, a), c.nKvHead, c.headDim);
      if (qkNorm) {
        q = norm(q, p[`${l}self_attn.q_norm.weight`]!, c.eps);
        k = norm(k, p[`${l}self_attn.k_norm.weight`]!, c.eps);
      }
      q = F.applyRope(q, cos, sin);
      k = F.applyRope(k, cos, sin);
      const v = splitHeads(proj(p, `${l}self_attn.v_proj`, a), c.nKvHead, c.headDim);
      const kv = withPast({ k, v }, past?.[i]);
      present.push(kv);
      const bias = sliding && slidingBias ? slidingBias : attnBias;
      const y = proj(p, `${l}self_attn.o_proj`, mergeHeads(attention(q, kv, bias, scale, c.attnSoftcap)));
      const mlp = (m: Tensor) => proj(p, `${l}mlp.down_proj`, F.mul(act(proj(p, `${l}mlp.gate_proj`, m)), proj(p, `${l}mlp.up_proj`, m)));
      if (post) {
        x = F.add(x, norm(y, p[`${l}post_attention_layernorm.weight`]!, c.eps));
        x = F.add(x, norm(mlp(norm(x, p[`${l}pre_feedforward_layernorm.weight`]!, c.eps)), p[`${l}post_feedforward_layernorm.weight`]!, c.eps));
      } else {
        x = F.add(x, y);
        x = F.add(x, mlp(norm(x, p[`${l}post_attention_layernorm.weight`]!, c.eps)));
      }
    });
    return { hidden: norm(x, p['model.norm.weight']!, c.eps), present };
  },

  lmHeadParams: (c) => (c.tied ? [] : ['lm_head.weight']),
  lmHead: (p, c, hidden) => capped(F.linearT(hidden, p[c.tied ? 'model.embed_tokens.weight' : 'lm_head.weight']!), c.finalSoftcap),

  ignoredNames: /rotary_emb(_local)?\.inv_freq$/,
  canonicalName: (n) => n,
};
