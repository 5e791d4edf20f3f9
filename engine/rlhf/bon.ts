// Best-of-n (docs/method.md § Best-of-n): inference-only optimisation against a reward model. Draw N
// samples per prompt from a policy, score them once with an ensemble under every objective of
// aggregate.ts (and with gold where the world has one), then read off, for n = 1, 2, 4, …, N, what the
// best of n samples would score — without drawing new samples for each n:
//
// - Coste et al. 2310.02743 (appendix; after Nakano et al.) estimate the expected proxy and gold of the
//   best of n from ONE set of N ≥ n samples as the average over all C(N, n) subsets of n. With the N
//   samples sorted by proxy ascending, the i-th smallest (1-based) is the argmax of exactly C(i−1, n−1)
//   of those subsets, so E = Σ_{i≥n} C(i−1, n−1)/C(N, n) · v_(i): unbiased for the best-of-n expectation,
//   with far less variance than drawing N/n disjoint groups. The weights are formed in log space
//   (C(N, n) overflows a double beyond N ≈ 1000).
// - KL_bon = log n − (n − 1)/n, the KL of the best-of-n distribution to the policy (Gao et al. 2210.10760;
//   exact for distinct rewards, an upper bound otherwise).
// - Gao et al.'s best-of-n form R_bon(d) = d(α − βd), d = √KL_bon, fitted to gold − gold(n = 1) by least
//   squares through the origin; it turns over at d* = α/(2β) when β > 0.

import { Rng } from '../runtime/params.js';
import { type CausalLM } from '../models/model.js';
import { generate } from '../models/sampler.js';
import { aggregate, type ObjectiveConfig, type RewardSignals } from './aggregate.js';
import { type Ensemble, type EnsembleScores } from './ensemble.js';

/** log k! for k = 0..n (sums of logs: exact enough for any N the lab draws, no Γ approximation). */
function logFactorials(n: number): Float64Array {
  const f = new Float64Array(n + 1);
  for (let k = 2; k <= n; k++) f[k] = f[k - 1]! + Math.log(k);
  return f;
}

/** KL of best-of-n sampling to the policy it samples from (Gao et al.): log n − (n − 1)/n. */
export function klBon(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`best-of-n needs a positive integer n, got ${n}`);
  return Math.log(n) - (n - 1) / n;
}

/** The n a curve is read at: 1, 2, 4, … up to N, and N itself when it is not a power of two. */
export function bonNs(N: number): number[] {
  if (!Number.isInteger(N) || N < 1) throw new Error(`N must be a positive integer, got ${N}`);
  const ns: number[] = [];
  for (let n = 1; n <= N; n *= 2) ns.push(n);
  if (ns[ns.length - 1] !== N) ns.push(N);
  return ns;
}

/** Weights w_i (0-based i over the samples sorted by proxy ascending) with which the i-th contributes to
 *  the best of n: C(i, n−1)/C(N, n) for i ≥ n − 1, else 0. They sum to 1. */
export function bonWeights(N: number, n: number, lf: Float64Array = logFactorials(N)): Float64Array {
  if (!Number.isInteger(n) || n < 1 || n > N) throw new Error(`best-of-n needs 1 ≤ n ≤ N (${N}), got ${n}`);
  const w = new Float64Array(N);
  const logCNn = lf[N]! - lf[n]! - lf[N - n]!;
  for (let i = n - 1; i < N; i++) w[i] = Math.exp(lf[i]! - lf[n - 1]! - lf[i - n + 1]! - logCNn);
  return w;
}

/**
 * Expected values of the best of n over all n-subsets of the N samples, for every n in `ns`: the subset's
 * argmax by `proxy` is chosen, and each of `values` (e.g. proxy itself, gold) is averaged over subsets.
 * Ties in proxy are broken uniformly at random within a subset; by exchangeability that is the same as
 * giving every member of a tied group the group's mean value, which is done here, so the result is exact
 * with ties too.
 */
export function bestOfN(proxy: number[], values: number[][], ns: number[]): number[][] {
  const N = proxy.length;
  if (N === 0) throw new Error('best-of-n needs at least one sample');
  for (const v of values) if (v.length !== N) throw new Error(`best-of-n: ${v.length} values for ${N} samples`);
  if (proxy.some((x) => Number.isNaN(x))) throw new Error('best-of-n: a proxy score is NaN');
  const order = proxy.map((_, i) => i).sort((a, b) => proxy[a]! - proxy[b]!);
  const sorted = values.map((v) => Float64Array.from(order, (i) => v[i]!));
  for (let s = 0; s < N;) {
    let e = s + 1;
    while (e < N && proxy[order[e]!] === proxy[order[s]!]) e++;
    if (e - s > 1) for (const v of sorted) { let m = 0; for (let i = s; i < e; i++) m += v[i]!; m /= e - s; v.fill(m, s, e); }
    s = e;
  }
  const lf = logFactorials(N);
  return ns.map((n) => {
    const w = bonWeights(N, n, lf);
    return sorted.map((v) => { let t = 0; for (let i = n - 1; i < N; i++) t += w[i]! * v[i]!; return t; });
  });
}

/** The same expectation by enumerating every n-subset (ties broken uniformly): for tests, small N only. */
export function bestOfNBruteForce(proxy: number[], values: number[][], n: number): number[] {
  const N = proxy.length;
  const acc = values.map(() => 0);
  let count = 0;
  const pick: number[] = [];
  const visit = (from: number) => {
    if (pick.length === n) {
      const top = Math.max(...pick.map((i) => proxy[i]!));
      const best = pick.filter((i) => proxy[i] === top);
      values.forEach((v, k) => { acc[k]! += best.reduce((a, i) => a + v[i]!, 0) / best.length; });
      count++;
      return;
    }
    for (let i = from; i < N; i++) { pick.push(i); visit(i + 1); pick.pop(); }
  };
  visit(0);
  return acc.map((a) => a / count);
}

/** Best of n by drawing: `draws` random n-subsets (without replacement within a subset), averaged. A
 *  Monte-Carlo check of the estimator that shares none of its algebra. */
export function bestOfNSampled(proxy: number[], values: number[][], n: number, draws: number, rng: Rng): number[] {
  const N = proxy.length;
  const acc = values.map(() => 0);
  const idx = proxy.map((_, i) => i);
  for (let d = 0; d < draws; d++) {
    for (let j = 0; j < n; j++) { const k = j + rng.int(N - j); [idx[j], idx[k]] = [idx[k]!, idx[j]!]; }
    let best = idx[0]!;
    for (let j = 1; j < n; j++) if (proxy[idx[j]!]! > proxy[best]!) best = idx[j]!;
    values.forEach((v, k) => { acc[k]! += v[best]!; });
  }
  return acc.map((a) => a / draws);
}

export interface BonFit {
  alpha: number;
  beta: number;
  r2: number;
  /** √KL_bon where the fitted curve peaks (α/2β), null when it never turns over (β ≤ 0). */
  dPeak: number | null;
  /** KL_bon at that peak, and the n whose KL_bon is closest to it (null as dPeak; nPeak also null past n = 2⁴⁰). */
  klPeak: number | null;
  nPeak: number | null;
}

/** Least squares of y = α·d − β·g(d) through the origin, d = √KL (Gao et al.'s forms differ only in g);
 *  points at d = 0 add nothing but are allowed. R² is against the mean of y. Null with fewer than 2
 *  points at d > 0 or a singular system. */
function fitThroughOrigin(points: { kl: number; y: number }[], g: (d: number) => number): { alpha: number; beta: number; r2: number } | null {
  const rows = points.map((p) => ({ d: Math.sqrt(Math.max(0, p.kl)), y: p.y })).filter((r) => Number.isFinite(r.y));
  if (rows.filter((r) => r.d > 0).length < 2) return null;
  let s11 = 0, s12 = 0, s22 = 0, s1y = 0, s2y = 0;
  for (const { d, y } of rows) { const x2 = d > 0 ? -g(d) : 0; s11 += d * d; s12 += d * x2; s22 += x2 * x2; s1y += d * y; s2y += x2 * y; }
  const det = s11 * s22 - s12 * s12;
  if (!(Math.abs(det) > 1e-12 * s11 * s22)) return null;
  const alpha = (s1y * s22 - s2y * s12) / det;
  const beta = (s2y * s11 - s1y * s12) / det;
  const my = rows.reduce((a, r) => a + r.y, 0) / rows.length;
  let ssRes = 0, ssTot = 0;
  for (const { d, y } of rows) { ssRes += (y - (d > 0 ? alpha * d - beta * g(d) : 0)) ** 2; ssTot += (y - my) ** 2; }
  return { alpha, beta, r2: ssTot > 0 ? 1 - ssRes / ssTot : 1 };
}

/** Gao et al.'s best-of-n form R_bon(d) = d(α − βd), i.e. y on [d, −d²]. */
export function fitBon(points: { kl: number; y: number }[]): BonFit | null {
  const f = fitThroughOrigin(points, (d) => d * d);
  if (!f) return null;
  const dPeak = f.beta > 0 && f.alpha > 0 ? f.alpha / (2 * f.beta) : null;
  const klPeak = dPeak === null ? null : dPeak * dPeak;
  return { ...f, dPeak, klPeak, nPeak: klPeak === null || klPeak > klBon(2 ** 40) ? null : nearestN(klPeak) };
}

/** Gao et al.'s form for RL (PPO), gold against d = √KL: R_RL(d) = d(α − β·ln d), i.e. y on
 *  [d, −d·ln d]; it turns over at d = exp(α/β − 1) when β > 0. */
export interface RlFit { alpha: number; beta: number; r2: number; dPeak: number | null }

export function fitRl(points: { kl: number; y: number }[]): RlFit | null {
  const f = fitThroughOrigin(points, (d) => d * Math.log(d));
  return f && { ...f, dPeak: f.beta > 0 ? Math.exp(f.alpha / f.beta - 1) : null };
}

/** The n ≥ 1 whose KL_bon is closest to `kl` (KL_bon grows with n; searched by doubling, then bisection). */
export function nearestN(kl: number): number {
  if (kl <= 0) return 1;
  let hi = 1;
  while (klBon(hi) < kl && hi < 2 ** 40) hi *= 2;
  let lo = Math.max(1, hi / 2);
  while (hi - lo > 1) { const mid = Math.floor((lo + hi) / 2); if (klBon(mid) < kl) lo = mid; else hi = mid; }
  return Math.abs(klBon(lo) - kl) <= Math.abs(klBon(hi) - kl) ? lo : hi;
}

/** One prompt's N scored samples. gold is NaN where the world has none. */
export interface ScoredGroup { scores: EnsembleScores; gold: number[] }

export interface BonObjective { name: string; config: ObjectiveConfig }

/** One objective's curve for one seed: the mean over prompts of the best-of-n proxy and gold at each n. */
export interface BonSeedCurve { n: number[]; klBon: number[]; proxy: number[]; gold: number[] }

/** Best-of-n curves of every objective over the groups of one seed (selection by the objective's
 *  aggregate of the ensemble; 'gold' selects by gold itself, the oracle). */
export function bonCurves(groups: ScoredGroup[], objectives: BonObjective[], ns: number[]): Map<string, BonSeedCurve> {
  if (groups.length === 0) throw new Error('best-of-n needs at least one prompt');
  const out = new Map<string, BonSeedCurve>();
  for (const o of objectives) {
    const proxy = ns.map(() => 0), gold = ns.map(() => 0);
    for (const g of groups) {
      const signals: RewardSignals = { ...g.scores, gold: g.gold };
      const p = aggregate(signals, o.config);
      const r = bestOfN(p, [p, g.gold], ns);
      r.forEach(([px, gd], j) => { proxy[j]! += px! / groups.length; gold[j]! += gd! / groups.length; });
    }
    out.set(o.name, { n: ns, klBon: ns.map(klBon), proxy, gold });
  }
  return out;
}

// ---- drawing and scoring ----------------------------------------------------------------------------

/** What best-of-n runs on: a policy, the ensemble that scores its samples, prompts and (optionally) gold. */
export interface BonSource {
  policy: CausalLM;
  ensemble: Ensemble;
  /** The prompts the N samples answer (token ids, BOS included). */
  prompts: number[][];
  maxNewTokens: number;
  eosId: number;
  padId: number;
  /** Sampling temperature of the policy (the study's PPO temperature for a run, else 1). */
  temperature: number;
  /** Gold of a batch; null when there is no gold reward. */
  gold: ((prompts: number[][], responses: number[][]) => Promise<number[]>) | null;
}

export interface BonProgress { seed: number; phase: 'sample' | 'score'; done: number; total: number }

/** Draws N samples for each prompt of the source and scores them with the ensemble and gold. Rows are
 *  generated and scored in chunks of `batchSize`; `signal` stops between chunks. */
export async function drawScored(src: BonSource, N: number, seed: number, o: { batchSize?: number; signal?: AbortSignal; onProgress?: (p: BonProgress) => void } = {}): Promise<ScoredGroup[]> {
  const B = o.batchSize ?? 256;
  const rows = src.prompts.flatMap((p) => Array.from({ length: N }, () => p));
  const responses: number[][] = [];
  const rng = new Rng(seed * 2654435761 + 97);
  for (let s = 0; s < rows.length; s += B) {
    if (o.signal?.aborted) throw new Error('cancelled');
    const chunk = rows.slice(s, s + B);
    const g = await generate(src.policy, chunk, { maxNewTokens: src.maxNewTokens, temperature: src.temperature, eosId: src.eosId, padId: src.padId, seed: rng.nextU32() });
    responses.push(...g.tokens);
    o.onProgress?.({ seed, phase: 'sample', done: responses.length, total: rows.length });
  }
  const mu: number[][] = [], sigma: number[][] = [], single: number[] = [], gold: number[] = [];
  let hasSigma = true;
  for (let s = 0; s < rows.length; s += B) {
    if (o.signal?.aborted) throw new Error('cancelled');
    const ps = rows.slice(s, s + B), rs = responses.slice(s, s + B);
    const sc = await src.ensemble.score(ps.map((p, i) => [...p, ...rs[i]!]));
    mu.push(...sc.mu); single.push(...sc.single);
    if (sc.sigma) sigma.push(...sc.sigma); else hasSigma = false;
    gold.push(...(src.gold ? await src.gold(ps, rs) : ps.map(() => NaN)));
    o.onProgress?.({ seed, phase: 'score', done: mu.length, total: rows.length });
  }
  return src.prompts.map((_, j) => {
    const a = j * N, b = a + N;
    return { scores: { mu: mu.slice(a, b), single: single.slice(a, b), ...(hasSigma ? { sigma: sigma.slice(a, b) } : {}) }, gold: gold.slice(a, b) };
  });
}
