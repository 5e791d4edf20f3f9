// What every decoder architecture shares: the parameter list shape, the trunk/head interface, the
// attention mask as an additive bias, and scaled dot-product attention with grouped-query heads and a
// KV cache. The architectures themselves (gpt2.ts, llama.ts) read top to bottom like their HF modules.

import { type Graph, type Tensor, F } from '../graph/index.js';
import { type Init } from '../runtime/params.js';
import { type GeluForm } from '../graph/ops/fused.js';

export interface ParamSpec { name: string; shape: number[]; init: Init }

/** Keys and values of one layer: [B, nKvHeads, Tk, headDim]. While decoding, `older` holds the cache's
 *  older segment (read by attention, not re-emitted): each token appends only to the short recent
 *  segment, so it does not copy the whole cache (docs/engine.md § Two-segment KV cache). */
export interface KV { k: Tensor; v: Tensor; older?: { k: Tensor; v: Tensor } }

export interface TrunkInputs {
  /** Token ids [B, T] (int64). */
  ids: Tensor;
  /** Position ids [B, T] (int64): 0.. for unpadded rows, cumsum(mask) − 1 with left padding. */
  positions: Tensor;
  /** Additive attention bias [B, 1, T, Tk]: 0 where a query may see a key, −1e9 elsewhere. */
  attnBias: Tensor;
  /** The bias of the layers that slide when only some do (Gemma 2's sliding_attention layers). */
  slidingBias?: Tensor;
  /** Cached keys/values from earlier positions, one per layer. */
  past?: KV[];
}

export interface TrunkOutputs { hidden: Tensor; present: KV[] }

export interface Architecture<C> {
  params(cfg: C): ParamSpec[];
  /** Final normalised hidden states [B, T, d]. */
  trunk(g: Graph, p: Record<string, Tensor>, cfg: C, inp: TrunkInputs): TrunkOutputs;
  /** The LM head's own tensors (none when tied to the embedding): a reward model's trunk leaves them out,
   *  as transformers' *ForSequenceClassification has no LM head. */
  lmHeadParams(cfg: C): string[];
  /** Language-model logits [B, T, V] from hidden states. */
  lmHead(p: Record<string, Tensor>, cfg: C, hidden: Tensor): Tensor;
  /** Names a checkpoint may hold that the model does not use (buffers such as GPT-2's attn.bias). */
  ignoredNames?: RegExp;
  /** Maps names found in a checkpoint to ours (e.g. GPT-2 folders saved without the "transformer." prefix). */
  canonicalName?(name: string): string;
}

export const MASKED = -1e9;

/** Where adapters hook into a parameter record: `proj` hands every projection's input and base output
 *  to the hook stored under this key (models/lora.ts sets it), so an adapter needs no change to the
 *  architectures. A record without it computes the base model. */
export const ADAPTERS = Symbol('adapters');
export type AdapterHook = (name: string, x: Tensor, base: Tensor, layout: 'out_in' | 'in_out') => Tensor;
type WithHook = Record<string, Tensor> & { [ADAPTERS]?: AdapterHook };


/** Additive bias from a key mask [B, Tk] (1 = real token, 0 = padding) and causality for Tq queries
 *  that are the last Tq of the Tk positions; with a sliding window (Mistral), only the last `window`
 *  keys up to each query. */
export function attentionBias(g: Graph, keyMask: Tensor, tq: number | string, window: number | null = null): Tensor {
  const tk = keyMask.shape[1]!;
  const causal = F.unsqueeze(F.causalMask(g, tq, tk, window), [0, 1]);             // [1, 1, Tq, Tk]
  const keys = F.unsqueeze(F.greater(F.cast(keyMask, 'float32'), 0.5), [1, 2]);     // [B, 1, 1, Tk]
  return F.where(F.logicalAnd(causal, keys), 0, MASKED);
}

/** softmax(q·kᵀ·scale + bias)·v for q [B, Hq, Tq, dh] and kv's k, v [B, Hkv, Tk, dh], Hq a multiple of
 *  Hkv. Grouped-query heads broadcast over a group axis instead of copying keys and values. With
 *  `softcap` (Gemma 2) the scaled scores become cap·tanh(scores / cap) before the mask is added. With
 *  an older cache segment (kv.older, Tk = To + Tr keys in all, the bias over all of them) the scores of
 *  both segments join before one softmax, and the output is the sum of each segment's share of it. */
export function attention(q: Tensor, kv: KV, bias: Tensor, scale: number, softcap: number | null = null): Tensor {
  const cap = (s: Tensor) => (softcap === null ? s : F.mul(F.tanh(F.div(s, softcap)), softcap));
  const [B, hq, tq, dh] = q.shape as [number | string, number, number | string, number];
  const hkv = kv.k.shape[1] as number;
  const grouped = hq !== hkv;
  // Grouped: q [B, Hkv, group, Tq, dh] against k, v [B, Hkv, 1, Tk, dh] and the bias [B, 1, 1, Tq, Tk].
  const qs = grouped ? F.reshape(F.mul(q, scale), [B, hkv, hq / hkv, tq, dh]) : F.mul(q, scale); // scaling q (T·dh values) is cheaper than scaling the T² scores
  const heads = (t: Tensor) => (grouped ? F.unsqueeze(t, 2) : t);
  const b = heads(bias);
  const scores = (k: Tensor, bb: Tensor) => F.add(cap(F.matmul(qs, F.mT(heads(k)))), bb);
  let out: Tensor;
  if (!kv.older) {
    out = F.matmul(F.softmax(scores(kv.k, b), -1), heads(kv.v));
  } else {
    const sizes = [kv.older.k.shape[2]!, kv.k.shape[2]!];
    const [bOld, bNew] = F.split(b, sizes, -1) as [Tensor, Tensor];
    const probs = F.softmax(F.concat([scores(kv.older.k, bOld), scores(kv.k, bNew)], -1), -1);
    const [pOld, pNew] = F.split(probs, sizes, -1) as [Tensor, Tensor];
    out = F.add(F.matmul(pOld, heads(kv.older.v)), F.matmul(pNew, heads(kv.v)));
  }
  return grouped ? F.reshape(out, [B, hq, tq, dh]) : out;
}

/** The projection `name.weight` (+ `name.bias` when the checkpoint has one) applied to x [.., in].
 *  Every linear layer of every architecture goes through here, so parameter-efficient adapters
 *  (LoRA) attach in one place, by the HF module name. Layouts: torch.nn.Linear stores [out, in];
 *  GPT-2's Conv1D stores [in, out]. */
export function proj(p: Record<string, Tensor>, name: string, x: Tensor, layout: 'out_in' | 'in_out' = 'out_in'): Tensor {
  const w = p[`${name}.weight`];
  if (!w) throw new Error(`no parameter ${name}.weight`);
  const b = p[`${name}.bias`];
  const y = layout === 'out_in' ? F.linearT(x, w, b) : F.linear(x, w, b);
  const hook = (p as WithHook)[ADAPTERS];
  return hook ? hook(name, x, y, layout) : y;
}

/** gelu(proj(x)) with the projection's bias fused into the GELU kernel (ORT FastGelu / BiasGelu,
 *  engine/graph/ops/fused.ts) when no adapter rewrites projections (an adapter adds its delta after the
 *  bias, so then the bias stays a separate add). */
export function projGelu(p: Record<string, Tensor>, name: string, x: Tensor, layout: 'out_in' | 'in_out', form: GeluForm): Tensor {
  const w = p[`${name}.weight`], b = p[`${name}.bias`];
  if ((p as WithHook)[ADAPTERS] || !w || !b) return F.gelu(proj(p, name, x, layout), form);
  return F.gelu(layout === 'out_in' ? F.linearT(x, w) : F.linear(x, w), form, b);
}

/** [B, T, H·dh] → [B, H, T, dh] */
export function splitHeads(x: Tensor, heads: number, dh: number): Tensor {
  const [B, T] = x.shape;
  return F.transpose(F.reshape(x, [B!, T!, heads, dh]), [0, 2, 1, 3]);
}

/** [B, H, T, dh] → [B, T, H·dh] */
export function mergeHeads(x: Tensor): Tensor {
  const [B, H, T, dh] = x.shape;
  return F.reshape(F.transpose(x, [0, 2, 1, 3]), [B!, T!, (H as number) * (dh as number)]);
}

/** Rotates the first `rot` dims of each head (HF's rotate_half on that slice) and keeps the rest.
 *  Written on the split halves (x₁c − x₂s, x₂c + x₁s, pass) — the same products and sums as
 *  x·cos + rotate_half(x)·sin. (Written as concat(rope(x[..:rot]), x[rot:..]), the gradient graph
 *  failed in ORT 1.30 on CPU for batches > 1: an optimiser-made Gather indexed past its shape.)
 *  `c`, `s` are cos/sin of the rot/2 frequencies. */
export function partialRope(x: Tensor, c: Tensor, s: Tensor, rot: number, headDim: number): Tensor {
  const [x1, x2, pass] = F.split(x, [rot / 2, rot / 2, headDim - rot], -1) as [Tensor, Tensor, Tensor];
  return F.concat([F.sub(F.mul(x1, c), F.mul(x2, s)), F.add(F.mul(x2, c), F.mul(x1, s)), pass], -1);
}

/** Appends this step's keys/values to the cache along the time axis (to its recent segment, when the
 *  cache has an older one, which passes through unchanged). */
export function withPast(kv: KV, past?: KV): KV {
  return past ? { k: F.concat([past.k, kv.k], 2), v: F.concat([past.v, kv.v], 2), older: past.older } : kv;
}
