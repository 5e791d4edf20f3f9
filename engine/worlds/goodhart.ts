// The Goodhart lab (docs/method.md § Worlds): a tiny synthetic world built so that reward models trained on the
// base behaviour are guaranteed to be wrong off-distribution, in a known way.
//
// - A response is a short string of content tokens answering one of P prompts.
// - The base behaviour π₀ is a prompt-conditioned Markov chain that avoids reusing tokens, so its
//   samples almost never contain a token more than k times.
// - The gold reward pays for each token's prompt-specific value only up to k copies and then charges a
//   growing penalty for overuse: g = Σ_v a[x,v]·min(c_v, k) − γ·Σ_v max(0, c_v − k)^p + η·Σ_t B[y_{t−1}, y_t].
// - Preference pairs come from π₀, so a reward model sees counts of 0, 1 and sometimes 2 only and
//   extrapolates linearly in counts; a policy optimised against it learns to repeat its favourite token,
//   which the gold reward punishes. That is the over-optimisation the robust objectives should resist.
//
// Token ids: content tokens 0..V−1, prompt tokens V..V+P−1, BOS = V+P, EOS = V+P+1, PAD = EOS.
// A prompt is [BOS, V + promptId]. Also exported here, because the text world shares them: the
// preference labeller (`labelPair`) and `goldStats`.

import { type Gpt2Config } from '../models/config.js';
import { Rng } from '../runtime/params.js';
import { type PreferencePair, type Sample, type World } from './world.js';

/** How preference labels are drawn from gold (shared by every built-in world). */
export type LabelSettings = {
  /** 'bradley-terry': chosen = y₁ with probability σ((g₁ − g₂)/τ). 'flip': the higher-gold response
   *  is chosen, then the pair is swapped with probability `flipRate` (Coste et al.'s 25% noise). */
  labels: 'bradley-terry' | 'flip';
  /** Temperature τ of the Bradley–Terry labels (gold units). */
  tau: number;
  /** Probability of flipping a hard label. */
  flipRate: number;
};

// A type alias, not an interface, so that it is assignable to World.settings (Record<string, unknown>).
export type GoodhartSettings = LabelSettings & {
  /** Number of prompt ids P. Default 8. */
  prompts: number;
  /** Number of content tokens V (rendered as letters a, b, c, …). Default 16. */
  vocab: number;
  /** Content tokens per π₀ response T; the response is T tokens then EOS. Default 12. */
  length: number;
  /** π₀'s chance to stop (emit EOS) before each content token after the first. Default 0: π₀ always
   *  writes exactly T tokens, so response length is not a confound; the policy may still stop early. */
  eosProb: number;
  /** Copies of a token that still earn its value, k. Default 2. */
  k: number;
  /** Overuse penalty weight γ. Default 0.75. */
  gamma: number;
  /** Overuse penalty exponent p. Default 1.5. */
  p: number;
  /** Coherence weight η on the ±1 bigram matrix B. Default 0.2. */
  eta: number;
  /** Standard deviation of the per-prompt token values a[x,v] ~ N(0, valueScale²). Default 1. */
  valueScale: number;
  /** Gold charged per non-content token (a prompt id or BOS) in a response; such a token also breaks
   *  the coherence chain. Default 1. */
  invalidPenalty: number;
  /** Spread of π₀'s transition logits (N(0, s²)); larger = more peaked chain. Default 1.5. */
  sharpness: number;
  /** π₀ multiplies a token's transition weight by this factor for each earlier use of it in the
   *  response (immediate repeats are never drawn), which makes counts above k rare but possible. Default 0.15. */
  reuseDecay: number;
  /** The last `heldOutPrompts` prompt ids are evaluation-only (not in trainPrompts). Default 0: with
   *  only P = 8 ids, RL training and gold evaluation use all prompts and held-out evaluation differs by
   *  fresh sampling, not by prompt. SFT and preference data always cover every prompt. */
  heldOutPrompts: number;
  /** Decoder shape for policy, reference and reward trunks (GPT-2). Defaults 2 layers, d 64, 4 heads. */
  nLayer: number;
  d: number;
  nHead: number;
};

export const GOODHART_DEFAULTS: Readonly<GoodhartSettings> = Object.freeze({
  prompts: 8, vocab: 16, length: 12, eosProb: 0,
  k: 2, gamma: 0.75, p: 1.5, eta: 0.2, valueScale: 1, invalidPenalty: 1,
  sharpness: 1.5, reuseDecay: 0.15,
  labels: 'bradley-terry', tau: 1, flipRate: 0.25,
  heldOutPrompts: 0,
  nLayer: 2, d: 64, nHead: 4,
});

/** The gold reward split into its terms (signed: total = value + overuse + coherence + invalid). */
export interface GoldTerms { value: number; overuse: number; coherence: number; invalid: number; total: number }

/** The lab's World, plus what tests, reports and the UI need to look inside it. */
export interface GoodhartWorld extends World {
  readonly settings: GoodhartSettings & { seed: number };
  /** Per-prompt token values a[x][v]. */
  readonly values: number[][];
  /** Coherence matrix B[u][v] ∈ {−1, +1}. */
  readonly coherence: number[][];
  /** The prompt token sequence [BOS, V + promptId]. */
  prompt(promptId: number): number[];
  /** The prompt id of a prompt (its last token minus V); throws for a sequence that is not a prompt. */
  promptId(prompt: number[]): number;
  /** One π₀ response (content tokens then EOS) to `prompt`. */
  pi0Sample(prompt: number[], rng: Rng): number[];
  goldTerms(prompt: number[], response: number[]): GoldTerms;
  modelConfig(): Gpt2Config;
}

const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** Labels a pair of responses from their gold values; returns true when the first is chosen. Ties
 *  are broken by a coin flip so that neither position is favoured. */
export function labelPair(g1: number, g2: number, s: LabelSettings, rng: Rng): boolean {
  if (s.labels === 'bradley-terry') return rng.uniform() < sigmoid((g1 - g2) / s.tau);
  const firstBetter = g1 === g2 ? rng.uniform() < 0.5 : g1 > g2;
  return rng.uniform() < s.flipRate ? !firstBetter : firstBetter;
}

/** Validates label settings (shared by the worlds). */
export function checkLabelSettings(s: LabelSettings): void {
  if (s.labels !== 'bradley-terry' && s.labels !== 'flip') throw new Error(`labels must be 'bradley-terry' or 'flip', got ${String(s.labels)}`);
  if (!(s.tau > 0)) throw new Error(`tau must be > 0, got ${s.tau}`);
  if (!(s.flipRate >= 0 && s.flipRate <= 0.5)) throw new Error(`flipRate must be in [0, 0.5], got ${s.flipRate}`);
}

/** Summary of gold and repetition over samples: what a gold evaluation reports. `maxCount` is the
 *  largest number of times one token occurs in a response (before EOS), a direct hacking signal;
 *  `distinct` is the fraction of distinct tokens among a response's tokens. */
export interface GoldStats { n: number; mean: number; std: number; min: number; max: number; meanMaxCount: number; meanDistinct: number; meanLength: number }

export function goldStats(world: World, samples: Sample[]): GoldStats {
  const g = samples.map((s) => world.gold(s.prompt, s.response));
  const n = g.length;
  const mean = n ? g.reduce((a, b) => a + b, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(g.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  let maxCount = 0, distinct = 0, length = 0;
  for (const s of samples) {
    const body = untilEos(s.response, world.eosId);
    const counts = new Map<number, number>();
    for (const t of body) counts.set(t, (counts.get(t) ?? 0) + 1);
    maxCount += body.length ? Math.max(...counts.values()) : 0;
    distinct += body.length ? counts.size / body.length : 1;
    length += body.length;
  }
  return { n, mean, std, min: n ? Math.min(...g) : NaN, max: n ? Math.max(...g) : NaN, meanMaxCount: maxCount / Math.max(n, 1), meanDistinct: distinct / Math.max(n, 1), meanLength: length / Math.max(n, 1) };
}

/** The tokens of a response before its first EOS (gold ignores everything after it, i.e. padding). */
export function untilEos(response: number[], eos: number): number[] {
  const i = response.indexOf(eos);
  return i < 0 ? response : response.slice(0, i);
}

/** Samples an index from unnormalised non-negative weights. */
export function sampleWeights(w: ArrayLike<number>, rng: Rng): number {
  let total = 0;
  for (let i = 0; i < w.length; i++) total += w[i]!;
  let u = rng.uniform() * total;
  for (let i = 0; i < w.length; i++) { u -= w[i]!; if (u < 0) return i; }
  for (let i = w.length - 1; i >= 0; i--) if (w[i]! > 0) return i; // rounding at the top end
  return w.length - 1;
}

function tokenName(v: number): string {
  return v < 26 ? String.fromCharCode(97 + v) : `t${v}`;
}

export function goodhartLab(settings: Partial<GoodhartSettings> = {}, seed = 0): GoodhartWorld {
  const s: GoodhartSettings = { ...GOODHART_DEFAULTS, ...settings };
  const P = s.prompts, V = s.vocab, T = s.length;
  for (const [name, v] of [['prompts', P], ['vocab', V], ['length', T], ['k', s.k]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`goodhart-lab: ${name} must be a positive integer, got ${v}`);
  }
  if (V < 2) throw new Error('goodhart-lab: vocab must be at least 2 (π₀ never repeats a token immediately)');
  if (!Number.isInteger(s.heldOutPrompts) || s.heldOutPrompts < 0 || s.heldOutPrompts >= P) throw new Error(`goodhart-lab: heldOutPrompts must be an integer in [0, prompts), got ${s.heldOutPrompts}`);
  if (!(s.eosProb >= 0 && s.eosProb < 1)) throw new Error(`goodhart-lab: eosProb must be in [0, 1), got ${s.eosProb}`);
  if (!(s.reuseDecay >= 0 && s.reuseDecay <= 1)) throw new Error(`goodhart-lab: reuseDecay must be in [0, 1], got ${s.reuseDecay}`);
  checkLabelSettings(s);

  const BOS = V + P, EOS = V + P + 1;

  // World parameters, drawn in a fixed order from independent streams so that adding a parameter
  // later does not reshuffle the others.
  const root = new Rng(seed);
  const valueRng = root.fork(), coherenceRng = root.fork(), chainRng = root.fork();
  const values = Array.from({ length: P }, () => Array.from({ length: V }, () => s.valueScale * valueRng.normal()));
  const coherence = Array.from({ length: V }, () => Array.from({ length: V }, () => (coherenceRng.uniform() < 0.5 ? -1 : 1)));
  // π₀: per prompt, start weights and a transition matrix from N(0, sharpness²) logits (no self-loops).
  const start: Float64Array[] = [], trans: Float64Array[][] = [];
  for (let x = 0; x < P; x++) {
    start.push(Float64Array.from({ length: V }, () => Math.exp(s.sharpness * chainRng.normal())));
    trans.push(Array.from({ length: V }, (_, u) => Float64Array.from({ length: V }, (_, v) => {
      const w = Math.exp(s.sharpness * chainRng.normal()); // drawn for every cell, so the stream is shape-stable
      return u === v ? 0 : w;
    })));
  }

  const prompt = (x: number): number[] => [BOS, V + x];
  const promptId = (pr: number[]): number => {
    const x = (pr[pr.length - 1] ?? -1) - V;
    if (pr[0] !== BOS || !Number.isInteger(x) || x < 0 || x >= P) throw new Error(`goodhart-lab: not a prompt: [${pr.join(', ')}]`);
    return x;
  };

  const pi0Sample = (pr: number[], rng: Rng): number[] => {
    const x = promptId(pr);
    const counts = new Array<number>(V).fill(0);
    const out: number[] = [];
    const w = new Float64Array(V);
    for (let t = 0; t < T; t++) {
      if (t > 0 && s.eosProb > 0 && rng.uniform() < s.eosProb) break;
      const base = t === 0 ? start[x]! : trans[x]![out[t - 1]!]!;
      for (let v = 0; v < V; v++) w[v] = base[v]! * s.reuseDecay ** counts[v]!;
      const v = sampleWeights(w, rng);
      out.push(v);
      counts[v]!++;
    }
    out.push(EOS);
    return out;
  };

  const goldTerms = (pr: number[], response: number[]): GoldTerms => {
    const a = values[promptId(pr)]!;
    const body = untilEos(response, EOS);
    const counts = new Array<number>(V).fill(0);
    let coh = 0, invalid = 0, prev = -1;
    for (const tok of body) {
      if (tok >= 0 && tok < V) {
        counts[tok]!++;
        if (prev >= 0) coh += coherence[prev]![tok]!;
        prev = tok;
      } else { invalid++; prev = -1; }
    }
    let value = 0, over = 0;
    for (let v = 0; v < V; v++) {
      value += a[v]! * Math.min(counts[v]!, s.k);
      over += Math.max(0, counts[v]! - s.k) ** s.p;
    }
    // `0 − x` rather than `−x`, so an absent penalty is 0, not −0.
    const terms = { value, overuse: 0 - s.gamma * over, coherence: s.eta * coh, invalid: 0 - s.invalidPenalty * invalid };
    return { ...terms, total: terms.value + terms.overuse + terms.coherence + terms.invalid };
  };

  const allPrompts = Array.from({ length: P }, (_, x) => prompt(x));
  const trainPrompts = s.heldOutPrompts > 0 ? allPrompts.slice(0, P - s.heldOutPrompts) : allPrompts;
  const evalPrompts = s.heldOutPrompts > 0 ? allPrompts.slice(P - s.heldOutPrompts) : allPrompts.map((p) => [...p]);

  return {
    name: 'goodhart-lab',
    vocabSize: V + P + 2,
    bosId: BOS, eosId: EOS, padId: EOS,
    maxResponseTokens: T + 1,
    trainPrompts, evalPrompts,
    values, coherence,
    prompt, promptId, pi0Sample, goldTerms,
    gold: (pr, response) => goldTerms(pr, response).total,
    // Prompts cycle through every id so each prompt gets the same share of SFT and preference data.
    sftSamples(n, rng) {
      return Array.from({ length: n }, (_, i) => { const pr = prompt(i % P); return { prompt: pr, response: pi0Sample(pr, rng) }; });
    },
    preferencePairs(n, rng) {
      const out: PreferencePair[] = [];
      for (let i = 0; i < n; i++) {
        const pr = prompt(i % P);
        const y1 = pi0Sample(pr, rng), y2 = pi0Sample(pr, rng);
        const firstChosen = labelPair(goldTerms(pr, y1).total, goldTerms(pr, y2).total, s, rng);
        out.push({ prompt: pr, chosen: firstChosen ? y1 : y2, rejected: firstChosen ? y2 : y1 });
      }
      return out;
    },
    modelConfig(): Gpt2Config {
      // Room for the 2-token prompt and T + 1 response tokens, rounded up to a multiple of 8.
      const nPositions = Math.ceil((2 + T + 1) / 8) * 8;
      return { arch: 'gpt2', vocabSize: V + P + 2, nPositions, d: s.d, nLayer: s.nLayer, nHead: s.nHead, eps: 1e-5, activation: 'gelu_new', bosTokenId: BOS, eosTokenId: EOS };
    },
    // "p3 ▸ a c c f ∎": BOS is implied, the prompt id is shown as p<x>, content tokens as letters, EOS as
    // ∎ (and nothing after it, which is padding).
    render(tokens) {
      const parts: string[] = [];
      for (const t of tokens) {
        if (t === BOS) continue;
        if (t === EOS) { parts.push('∎'); break; }
        if (t >= V && t < V + P) parts.push(`p${t - V} ▸`);
        else parts.push(t >= 0 && t < V ? tokenName(t) : `<${t}>`);
      }
      return parts.join(' ');
    },
    settings: { ...s, seed },
  };
}
