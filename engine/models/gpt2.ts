// GPT-2 as Hugging Face's GPT2LMHeadModel computes it: learned positions, pre-LayerNorm blocks, fused
// c_attn, GELU (tanh approximation by default), Conv1D weights stored [in, out], LM head tied to wte.

import { type Tensor, F } from '../graph/index.js';
import { type Gpt2Config } from './config.js';
import { type Architecture, type ParamSpec, attention, proj, projGelu, splitHeads, mergeHeads, withPast, type KV } from './decoder.js';

const P = 'transformer.';

export const gpt2: Architecture<Gpt2Config> = {
  params(c) {
    const w = (std: number) => ({ kind: 'normal', std }) as const;
    const zeros = { kind: 'zeros' } as const, ones = { kind: 'ones' } as const;
    const proj = w(0.02 / Math.sqrt(2 * c.nLayer)); // GPT-2's scaled init of residual projections
    const inner = c.nInner ?? 4 * c.d;
    const specs: ParamSpec[] = [
      { name: `${P}wte.weight`, shape: [c.vocabSize, c.d], init: w(0.02) },
      { name: `${P}wpe.weight`, shape: [c.nPositions, c.d], init: w(0.01) },
    ];
    for (let i = 0; i < c.nLayer; i++) {
      const h = `${P}h.${i}.`;
      specs.push(
        { name: `${h}ln_1.weight`, shape: [c.d], init: ones }, { name: `${h}ln_1.bias`, shape: [c.d], init: zeros },
        { name: `${h}attn.c_attn.weight`, shape: [c.d, 3 * c.d], init: w(0.02) }, { name: `${h}attn.c_attn.bias`, shape: [3 * c.d], init: zeros },
        { name: `${h}attn.c_proj.weight`, shape: [c.d, c.d], init: proj }, { name: `${h}attn.c_proj.bias`, shape: [c.d], init: zeros },
        { name: `${h}ln_2.weight`, shape: [c.d], init: ones }, { name: `${h}ln_2.bias`, shape: [c.d], init: zeros },
        { name: `${h}mlp.c_fc.weight`, shape: [c.d, inner], init: w(0.02) }, { name: `${h}mlp.c_fc.bias`, shape: [inner], init: zeros },
        { name: `${h}mlp.c_proj.weight`, shape: [inner, c.d], init: proj }, { name: `${h}mlp.c_proj.bias`, shape: [c.d], init: zeros },
      );
    }
    specs.push({ name: `${P}ln_f.weight`, shape: [c.d], init: ones }, { name: `${P}ln_f.bias`, shape: [c.d], init: zeros });
    return specs;
  },

  trunk(g, p, c, { ids, positions, attnBias, past }) {
    const dh = c.d / c.nHead;
    const form = c.activation === 'gelu' ? 'erf' : 'tanh'; // gelu_new and gelu_pytorch_tanh: the tanh form
    let x = F.add(F.embedding(p[`${P}wte.weight`]!, ids), F.embedding(p[`${P}wpe.weight`]!, positions));
    const present: KV[] = [];
    // One checkpointed segment per layer (docs/engine.md § Gradient checkpointing).
    for (let i = 0; i < c.nLayer; i++) g.checkpoint(() => {
      const h = `${P}h.${i}.`;
      const a = F.layerNorm(x, p[`${h}ln_1.weight`]!, p[`${h}ln_1.bias`]!, c.eps);
      const [q, k, v] = F.split(proj(p, `${h}attn.c_attn`, a, 'in_out'), [c.d, c.d, c.d], -1)
        .map((t) => splitHeads(t, c.nHead, dh)) as [Tensor, Tensor, Tensor];
      const kv = withPast({ k, v }, past?.[i]);
      present.push(kv);
      const y = mergeHeads(attention(q, kv, attnBias, 1 / Math.sqrt(dh)));
      x = F.add(x, proj(p, `${h}attn.c_proj`, y, 'in_out'));
      const m = F.layerNorm(x, p[`${h}ln_2.weight`]!, p[`${h}ln_2.bias`]!, c.eps);
      const ff = proj(p, `${h}mlp.c_proj`, projGelu(p, `${h}mlp.c_fc`, m, 'in_out', form), 'in_out');
      x = F.add(x, ff);
    });
    return { hidden: F.layerNorm(x, p[`${P}ln_f.weight`]!, p[`${P}ln_f.bias`]!, c.eps), present };
  },

  lmHeadParams: () => [],
  lmHead: (p, _c, hidden) => F.matmul(hidden, F.mT(p[`${P}wte.weight`]!)),

  // HF GPT-2 checkpoints may carry the causal-mask buffers and a tied lm_head copy.
  ignoredNames: /(^|\.)attn\.(masked_)?bias$|^lm_head\.weight$/,
  // Folders saved from GPT2Model (e.g. openai-community/gpt2) have no "transformer." prefix.
  canonicalName: (n) => (n.startsWith(P) || n.startsWith('lm_head') ? n : P + n),
};
