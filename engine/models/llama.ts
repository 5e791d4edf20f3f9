// Llama and the families built on it, as Hugging Face computes them: RMSNorm, rotary position
// embeddings (HF's rotate_half convention, the rope type's frequencies from rope.ts), SwiGLU MLP,
// grouped-query attention. Qwen2 adds biases to q/k/v; Qwen3 normalises each head's q and k (q_norm,
// k_norm) before RoPE; Mistral's sliding window is in the attention mask (CausalLM.attentionBias);
// Phi-3 is Mistral with q/k/v fused into qkv_proj and gate/up into gate_up_proj (split in that order)
// and, in Phi-4-mini, rotary embeddings on the first partial_rotary_factor of each head only.
// Linear weights are stored [out, in] like torch.nn.Linear.

import { type Tensor, F } from '../graph/index.js';
import { type LlamaConfig } from './config.js';
import { ropeCosSin } from './rope.js';
import { type Architecture, type ParamSpec, attention, proj, splitHeads, mergeHeads, withPast, partialRope, type KV } from './decoder.js';

export const llama: Architecture<LlamaConfig> = {
  params(c) {
    const w = { kind: 'normal', std: 0.02 } as const, zeros = { kind: 'zeros' } as const, ones = { kind: 'ones' } as const;
    const q = c.nHead * c.headDim, kv = c.nKvHead * c.headDim;
    const specs: ParamSpec[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocabSize, c.d], init: w }];
    for (let i = 0; i < c.nLayer; i++) {
      const l = `model.layers.${i}.`;
      specs.push({ name: `${l}input_layernorm.weight`, shape: [c.d], init: ones });
      if (c.fused) specs.push({ name: `${l}self_attn.qkv_proj.weight`, shape: [q + 2 * kv, c.d], init: w });
      else {
        specs.push(
          { name: `${l}self_attn.q_proj.weight`, shape: [q, c.d], init: w },
          { name: `${l}self_attn.k_proj.weight`, shape: [kv, c.d], init: w },
          { name: `${l}self_attn.v_proj.weight`, shape: [kv, c.d], init: w },
        );
      }
      specs.push({ name: `${l}self_attn.o_proj.weight`, shape: [c.d, q], init: w });
      if (c.qkvBias) {
        specs.push(
          { name: `${l}self_attn.q_proj.bias`, shape: [q], init: zeros },
          { name: `${l}self_attn.k_proj.bias`, shape: [kv], init: zeros },
          { name: `${l}self_attn.v_proj.bias`, shape: [kv], init: zeros },
        );
      }
      if (c.oBias) specs.push({ name: `${l}self_attn.o_proj.bias`, shape: [c.d], init: zeros });
      if (c.qkNorm) {
        specs.push(
          { name: `${l}self_attn.q_norm.weight`, shape: [c.headDim], init: ones },
          { name: `${l}self_attn.k_norm.weight`, shape: [c.headDim], init: ones },
        );
      }
      specs.push({ name: `${l}post_attention_layernorm.weight`, shape: [c.d], init: ones });
      if (c.fused) specs.push({ name: `${l}mlp.gate_up_proj.weight`, shape: [2 * c.intermediate, c.d], init: w });
      else {
        specs.push(
          { name: `${l}mlp.gate_proj.weight`, shape: [c.intermediate, c.d], init: w },
          { name: `${l}mlp.up_proj.weight`, shape: [c.intermediate, c.d], init: w },
        );
      }
      specs.push({ name: `${l}mlp.down_proj.weight`, shape: [c.d, c.intermediate], init: w });
      if (c.mlpBias) {
        specs.push(
          { name: `${l}mlp.gate_proj.bias`, shape: [c.intermediate], init: zeros },
          { name: `${l}mlp.up_proj.bias`, shape: [c.intermediate], init: zeros },
          { name: `${l}mlp.down_proj.bias`, shape: [c.d], init: zeros },
        );
      }
    }
    specs.push({ name: 'model.norm.weight', shape: [c.d], init: ones });
    if (!c.tied) specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, c.d], init: w });
    return specs;
  },

  trunk(g, p, c, { ids, positions, attnBias, slidingBias, past }) {
    let x = F.embedding(p['model.embed_tokens.weight']!, ids);
    // cos/sin [B, 1, T, rot] broadcast over heads; Phi-3's partial rotary turns the first rot dims only
    const rot = c.rotaryDim ?? c.headDim;
    const { cos, sin } = ropeCosSin(positions, rot, c);
    const rope = rot === c.headDim
      ? (t: Tensor) => F.applyRope(t, cos, sin)
      : (t: Tensor) => partialRope(t, F.slice(cos, -1, 0, rot / 2), F.slice(sin, -1, 0, rot / 2), rot, c.headDim);
    const present: KV[] = [];
    // One checkpointed segment per layer (docs/engine.md § Gradient checkpointing).
    for (let i = 0; i < c.nLayer; i++) g.checkpoint(() => {
      const l = `model.layers.${i}.`;
      const a = F.rmsNorm(x, p[`${l}input_layernorm.weight`]!, c.eps);
      const [qa, ka, va] = c.fused
        ? F.split(proj(p, `${l}self_attn.qkv_proj`, a), [c.nHead * c.headDim, c.nKvHead * c.headDim, c.nKvHead * c.headDim], -1) as [Tensor, Tensor, Tensor]
        : [proj(p, `${l}self_attn.q_proj`, a), proj(p, `${l}self_attn.k_proj`, a), proj(p, `${l}self_attn.v_proj`, a)];
      let q = splitHeads(qa, c.nHead, c.headDim);
      let k = splitHeads(ka, c.nKvHead, c.headDim);
      if (c.qkNorm) {
        q = F.rmsNorm(q, p[`${l}self_attn.q_norm.weight`]!, c.eps);
        k = F.rmsNorm(k, p[`${l}self_attn.k_norm.weight`]!, c.eps);
      }
      q = rope(q);
      k = rope(k);
      const v = splitHeads(va, c.nKvHead, c.headDim);
      const kv = withPast({ k, v }, past?.[i]);
      present.push(kv);
      // Qwen's sliding layers (those from max_window_layers on) take the windowed bias, as Gemma 2's do
      const bias = c.slidingLayers?.[i] && slidingBias ? slidingBias : attnBias;
      const y = mergeHeads(attention(q, kv, bias, 1 / Math.sqrt(c.headDim)));
      x = F.add(x, proj(p, `${l}self_attn.o_proj`, y));
      const m = F.rmsNorm(x, p[`${l}post_attention_layernorm.weight`]!, c.eps);
      const [g0, up] = c.fused
        ? F.split(proj(p, `${l}mlp.gate_up_proj`, m), [c.intermediate, c.intermediate], -1) as [Tensor, Tensor]
        : [proj(p, `${l}mlp.gate_proj`, m), proj(p, `${l}mlp.up_proj`, m)];
      const gate = F.silu(g0);
      x = F.add(x, proj(p, `${l}mlp.down_proj`, F.mul(gate, up)));
    });
    return { hidden: F.rmsNorm(x, p['model.norm.weight']!, c.eps), present };
  },

  lmHeadParams: (c) => (c.tied ? [] : ['lm_head.weight']),
  lmHead: (p, c, hidden) => F.linearT(hidden, p[c.tied ? 'model.embed_tokens.weight' : 'lm_head.weight']!),

  ignoredNames: /rotary_emb\.inv_freq$/,
  canonicalName: (n) => n,
};
