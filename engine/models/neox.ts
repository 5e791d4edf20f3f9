// GPT-NeoX (Pythia, the family of the open reward-overoptimisation studies) as Hugging Face's
// GPTNeoXForCausalLM computes it (modeling_gpt_neox.py): one fused query_key_value projection laid out
// per head as [q_h | k_h | v_h], rotary embeddings on the first `rotaryDim` dims of each head only (the
// rest pass through), LayerNorm with biases, a GELU MLP, and — by default — the parallel residual
// x + attn(ln₁ x) + mlp(ln₂ x), where both branches read the same input. The LM head (embed_out) is
// untied by default. Linear weights are stored [out, in] like torch.nn.Linear.

import { type Tensor, F } from '../graph/index.js';
import { type NeoxConfig } from './config.js';
import { ropeCosSin } from './rope.js';
import { type Architecture, type ParamSpec, attention, proj, projGelu, mergeHeads, withPast, partialRope, type KV } from './decoder.js';

const P = 'gpt_neox.';

export const neox: Architecture<NeoxConfig> = {
  params(c) {
    const w = { kind: 'normal', std: 0.02 } as const, zeros = { kind: 'zeros' } as const, ones = { kind: 'ones' } as const;
    const specs: ParamSpec[] = [{ name: `${P}embed_in.weight`, shape: [c.vocabSize, c.d], init: w }];
    for (let i = 0; i < c.nLayer; i++) {
      const l = `${P}layers.${i}.`;
      specs.push(
        { name: `${l}input_layernorm.weight`, shape: [c.d], init: ones }, { name: `${l}input_layernorm.bias`, shape: [c.d], init: zeros },
        { name: `${l}post_attention_layernorm.weight`, shape: [c.d], init: ones }, { name: `${l}post_attention_layernorm.bias`, shape: [c.d], init: zeros },
        { name: `${l}attention.query_key_value.weight`, shape: [3 * c.d, c.d], init: w },
        { name: `${l}attention.dense.weight`, shape: [c.d, c.d], init: w },
      );
      if (c.attentionBias) {
        specs.push(
          { name: `${l}attention.query_key_value.bias`, shape: [3 * c.d], init: zeros },
          { name: `${l}attention.dense.bias`, shape: [c.d], init: zeros },
        );
      }
      specs.push(
        { name: `${l}mlp.dense_h_to_4h.weight`, shape: [c.intermediate, c.d], init: w }, { name: `${l}mlp.dense_h_to_4h.bias`, shape: [c.intermediate], init: zeros },
        { name: `${l}mlp.dense_4h_to_h.weight`, shape: [c.d, c.intermediate], init: w }, { name: `${l}mlp.dense_4h_to_h.bias`, shape: [c.d], init: zeros },
      );
    }
    specs.push({ name: `${P}final_layer_norm.weight`, shape: [c.d], init: ones }, { name: `${P}final_layer_norm.bias`, shape: [c.d], init: zeros });
    if (!c.tied) specs.push({ name: 'embed_out.weight', shape: [c.vocabSize, c.d], init: w });
    return specs;
  },

  trunk(g, p, c, { ids, positions, attnBias, past }) {
    const dh = c.headDim;
    const form = c.activation === 'gelu' ? 'erf' : 'tanh'; // gelu_new and gelu_pytorch_tanh: the tanh form
    let x = F.embedding(p[`${P}embed_in.weight`]!, ids);
    const rope = ropeCosSin(positions, c.rotaryDim, c);
    // cat(freqs, freqs): the first half of each table is cos/sin of the rot/2 frequencies
    const cos = F.slice(rope.cos, -1, 0, c.rotaryDim / 2), sin = F.slice(rope.sin, -1, 0, c.rotaryDim / 2);
    const present: KV[] = [];
    // One checkpointed segment per layer (docs/engine.md § Gradient checkpointing).
    for (let i = 0; i < c.nLayer; i++) g.checkpoint(() => {
      const l = `${P}layers.${i}.`;
      const a = F.layerNorm(x, p[`${l}input_layernorm.weight`]!, p[`${l}input_layernorm.bias`]!, c.eps);
      // [B, T, 3d] → [B, T, H, 3·dh] → [B, H, T, 3·dh], then q, k, v are consecutive dh-slices of each head
      const [B, T] = a.shape;
      const qkv = F.transpose(F.reshape(proj(p, `${l}attention.query_key_value`, a), [B!, T!, c.nHead, 3 * dh]), [0, 2, 1, 3]);
      const [q0, k0, v] = F.split(qkv, [dh, dh, dh], -1) as [Tensor, Tensor, Tensor];
      const q = partialRope(q0, cos, sin, c.rotaryDim, dh), k = partialRope(k0, cos, sin, c.rotaryDim, dh);
      const kv = withPast({ k, v }, past?.[i]);
      present.push(kv);
      const attn = proj(p, `${l}attention.dense`, mergeHeads(attention(q, kv, attnBias, 1 / Math.sqrt(dh))));
      const mlp = (h: Tensor) => {
        const m = F.layerNorm(h, p[`${l}post_attention_layernorm.weight`]!, p[`${l}post_attention_layernorm.bias`]!, c.eps);
        return proj(p, `${l}mlp.dense_4h_to_h`, projGelu(p, `${l}mlp.dense_h_to_4h`, m, 'out_in', form));
      };
      if (c.parallelResidual) {
        x = F.add(F.add(x, attn), mlp(x));
      } else {
        const h = F.add(x, attn);
        x = F.add(h, mlp(h));
      }
    });
    return { hidden: F.layerNorm(x, p[`${P}final_layer_norm.weight`]!, p[`${P}final_layer_norm.bias`]!, c.eps), present };
  },

  lmHeadParams: (c) => (c.tied ? [] : ['embed_out.weight']),
  lmHead: (p, c, hidden) => F.linearT(hidden, p[c.tied ? `${P}embed_in.weight` : 'embed_out.weight']!),

  // Buffers some checkpoints carry: the causal mask, its fill value, and the rotary table.
  ignoredNames: /attention\.(bias|masked_bias|rotary_emb\.inv_freq)$|rotary_emb\.inv_freq$/,
  canonicalName: (n) => n,
};
