// Heads on a decoder trunk's hidden states [B, T, d]:
//  - value head (per token), named like TRL's AutoModelForCausalLMWithValueHead (v_head.summary.*);
//  - scalar reward head, named like AutoModelForSequenceClassification with one label (score.weight);
//  - the BRME head (docs/method.md § BRME): one shared linear layer, then K Gaussian heads, each a mean μ_k
//    and a log-scale s_k with σ_k = exp(s_k / τ).
// Sequence heads pool the hidden state at the last real token, wherever the padding is.

import { type Graph, type Tensor, F } from '../graph/index.js';
import { type ParamSpec } from './decoder.js';

/** Hidden state at each row's last non-padding position: [B, T, d] × mask [B, T] → [B, d]. */
export function poolLast(g: Graph, hidden: Tensor, mask: Tensor): Tensor {
  // argmax of mask·(t+1) is the last t with mask = 1 (left or right padding alike).
  const t1 = F.add(F.cast(F.range(g, hidden.shape[1]!), 'float32'), 1);
  return gatherAt(hidden, F.argmax(F.mul(F.cast(mask, 'float32'), t1), -1, true));
}

/** transformers' *ForSequenceClassification pooling (ids [B, T], pad_token_id `pad`): the rightmost
 *  position whose id is not `pad` — argmax((ids ≠ pad)·t), so trailing pad ids are skipped wherever
 *  they came from — and position 0 when every id is `pad`. Over the lab's left-padded rows the same
 *  rule runs on the real positions only (mask = 1), which is HF's answer for the row alone: key
 *  N + 1 + t for a real non-pad token, N − t for a real pad token (the first one wins), 0 for padding
 *  (N = 2²², past any sequence length, and all keys exact in float32). */
export function poolLastNonPad(g: Graph, hidden: Tensor, ids: Tensor, mask: Tensor, pad: number): Tensor {
  const N = 2 ** 22;
  const t = F.cast(F.range(g, hidden.shape[1]!), 'float32');
  // ids as float32 are exact below 2^24, past any vocabulary here
  const nonPad = F.logicalNot(F.equal(F.cast(ids, 'float32'), pad));
  const key = F.where(nonPad, F.add(t, N + 1), F.sub(N, t));
  return gatherAt(hidden, F.argmax(F.mul(F.cast(mask, 'float32'), key), -1, true));
}

/** hidden [B, T, d] at one position per row, idx [B, 1] → [B, d]. */
function gatherAt(hidden: Tensor, idx: Tensor): Tensor {
  const [B, , d] = hidden.shape;
  return F.squeeze(F.takeAlongAxis(hidden, F.expand(F.unsqueeze(idx, -1), [B!, 1, d!]), 1), 1);
}

export const valueHeadParams = (d: number): ParamSpec[] => [
  { name: 'v_head.summary.weight', shape: [1, d], init: { kind: 'normal', std: 1 / Math.sqrt(d + 1) } },
  { name: 'v_head.summary.bias', shape: [1], init: { kind: 'zeros' } },
];
/** Per-token values [B, T]. */
export function valueHead(p: Record<string, Tensor>, hidden: Tensor): Tensor {
  return F.squeeze(F.linearT(hidden, p['v_head.summary.weight']!, p['v_head.summary.bias']!), -1);
}

export const rewardHeadParams = (d: number): ParamSpec[] => [
  { name: 'score.weight', shape: [1, d], init: { kind: 'normal', std: 1 / Math.sqrt(d + 1) } },
];
/** Scalar reward per sequence [B]. */
export function rewardHead(g: Graph, p: Record<string, Tensor>, hidden: Tensor, mask: Tensor): Tensor {
  return F.squeeze(F.linearT(poolLast(g, hidden, mask), p['score.weight']!), -1);
}

export interface BrmeHeadConfig {
  /** Number of Gaussian heads K (paper: 5). */
  heads: number;
  /** Width of the shared linear layer. */
  width: number;
  /** σ_k = exp(s_k / τ); the public BRME code uses τ = 10. */
  tau: number;
  /** Nonlinearity after the shared layer; the paper describes a plain linear layer ('none'). */
  activation: 'none' | 'tanh' | 'gelu';
}

export const brmeHeadParams = (d: number, c: BrmeHeadConfig): ParamSpec[] => [
  { name: 'brme.shared.weight', shape: [c.width, d], init: { kind: 'kaiming_uniform', fanIn: d } },
  { name: 'brme.shared.bias', shape: [c.width], init: { kind: 'zeros' } },
  { name: 'brme.mu.weight', shape: [c.heads, c.width], init: { kind: 'kaiming_uniform', fanIn: c.width } },
  { name: 'brme.mu.bias', shape: [c.heads], init: { kind: 'zeros' } },
  { name: 'brme.log_std.weight', shape: [c.heads, c.width], init: { kind: 'kaiming_uniform', fanIn: c.width } },
  { name: 'brme.log_std.bias', shape: [c.heads], init: { kind: 'zeros' } },
];

/** Per-head means μ [B, K] and standard deviations σ [B, K] for each sequence. */
export function brmeHead(g: Graph, p: Record<string, Tensor>, hidden: Tensor, mask: Tensor, c: BrmeHeadConfig): { mu: Tensor; sigma: Tensor; logStd: Tensor } {
  let h = F.linearT(poolLast(g, hidden, mask), p['brme.shared.weight']!, p['brme.shared.bias']!);
  if (c.activation === 'tanh') h = F.tanh(h);
  else if (c.activation === 'gelu') h = F.gelu(h, 'erf');
  const mu = F.linearT(h, p['brme.mu.weight']!, p['brme.mu.bias']!);
  const s = F.linearT(h, p['brme.log_std.weight']!, p['brme.log_std.bias']!);
  const logStd = F.div(s, c.tau);
  return { mu, sigma: F.exp(logStd), logStd };
}
