// Gemma 2 as Hugging Face's Gemma2ForCausalLM computes it (modeling_gemma2.py): embeddings scaled by
// √hidden_size, RMSNorms that scale by (1 + w), a norm before and after both the attention and the
// MLP, GeGLU (gelu_pytorch_tanh by default), scores scaled by query_pre_attn_scalar^−½ and
// tanh-soft-capped before the mask, a sliding window on the layers `layer_types` marks (the model
// passes their bias as slidingBias), and soft-capped final logits. The LM head is tied by default.

import { type Tensor, F } from '../graph/index.js';
import { type GemmaConfig } from './config.js';
import { ropeCosSin } from './rope.js';
import { type Architecture, type ParamSpec, attention, proj, splitHeads, mergeHeads, withPast, type KV } from './decoder.js';

/** Gemma2RMSNorm: x/rms(x) · (1 + w). The weights are stored as offsets from one. */
const norm = (x: Tensor, w: Tensor, eps: number) => F.rmsNorm(x, F.add(w, 1), eps);

const capped = (x: Tensor, cap: number | null) => (cap === null ? x : F.mul(F.tanh(F.div(x, cap)), cap));

export const gemma2: Architecture<GemmaConfig> = {
  params(c) {
    const w = { kind: 'normal', std: 0.02 } as const, zeros = { kind: 'zeros' } as const;
    const q = c.nHead * c.headDim, kv = c.nKvHead * c.headDim;
    const specs: ParamSpec[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocabSize, c.d], init: w }];
    for (let i = 0; i < c.nLayer; i++) {
      const l = `model.layers.${i}.`;
      for (const n of ['input_layernorm', 'post_attention_layernorm', 'pre_feedforward_layernorm', 'post_feedforward_layernorm']) {
        specs.push({ name: `${l}${n}.weight`, shape: [c.d], init: zeros });
      }
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

  trunk(_g, p, c, { ids, positions, attnBias, slidingBias, past }) {
    // HF multiplies by √d as a tensor of the hidden dtype, i.e. rounded to float32 here.
    let x = F.mul(F.embedding(p['model.embed_tokens.weight']!, ids), Math.fround(Math.sqrt(c.d)));
    const { cos, sin } = ropeCosSin(positions, c.headDim, c);
    const act = (t: Tensor) => F.gelu(t, c.activation === 'gelu' ? 'erf' : 'tanh');
    const scale = 1 / Math.sqrt(c.queryPreAttnScalar);
    const present: KV[] = [];
    for (let i = 0; i < c.nLayer; i++) {
      const l = `model.layers.${i}.`;
      const a = norm(x, p[`${l}input_layernorm.weight`]!, c.eps);
      const q = F.applyRope(splitHeads(proj(p, `${l}self_attn.q_proj`, a), c.nHead, c.headDim), cos, sin);
      const k = F.applyRope(splitHeads(proj(p, `${l}self_attn.k_proj`, a), c.nKvHead, c.headDim), cos, sin);
      const v = splitHeads(proj(p, `${l}self_attn.v_proj`, a), c.nKvHead, c.headDim);
      const kv = withPast({ k, v }, past?.[i]);
      present.push(kv);
      const bias = c.slidingLayers[i] && slidingBias ? slidingBias : attnBias;
      const y = proj(p, `${l}self_attn.o_proj`, mergeHeads(attention(q, kv.k, kv.v, bias, scale, c.attnSoftcap)));
      x = F.add(x, norm(y, p[`${l}post_attention_layernorm.weight`]!, c.eps));
      const m = norm(x, p[`${l}pre_feedforward_layernorm.weight`]!, c.eps);
      const ff = proj(p, `${l}mlp.down_proj`, F.mul(act(proj(p, `${l}mlp.gate_proj`, m)), proj(p, `${l}mlp.up_proj`, m)));
      x = F.add(x, norm(ff, p[`${l}post_feedforward_layernorm.weight`]!, c.eps));
    }
    return { hidden: norm(x, p['model.norm.weight']!, c.eps), present };
  },

  lmHeadParams: (c) => (c.tied ? [] : ['lm_head.weight']),
  lmHead: (p, c, hidden) => capped(F.linearT(hidden, p[c.tied ? 'model.embed_tokens.weight' : 'lm_head.weight']!), c.finalSoftcap),

  ignoredNames: /rotary_emb\.inv_freq$/,
  canonicalName: (n) => n,
};
