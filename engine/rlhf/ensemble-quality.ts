// The quality report of a reward-model ensemble (docs/method.md § Statistics): accuracy of each way of
// reading the heads, disagreement against the reward's scale, calibration and whether disagreement
// predicts error, on held-out preference pairs or gold-labelled policy samples.

import { type PreferencePair } from '../worlds/world.js';
import { pairRows, sigmoid } from './reward.js';
import { type Ensemble, type EnsembleScores } from './ensemble.js';
import { type IndependentEnsemble } from './independent.js';

export interface CalibrationBin { lo: number; hi: number; count: number; predicted: number; empirical: number }

export interface EnsembleReport {
  pairs: number;
  /** Fraction of pairs ranked as labelled (ties count ½): the stage-1 model, the nominal reward
   *  (per sequence the argmin-σ head; for independent ensembles the nominal member), the head mean,
   *  the per-sequence min over heads (wco), and each head. */
  accuracy: { single: number; nominal: number; mean: number; min: number; per_head: number[] };
  /** σ over every sequence and head (BRME only). */
  sigma: { mean: number; std: number; min: number; max: number } | null;
  /** Mean over sequences of the (population) std over heads of μ_k. */
  disagreement: number;
  /** Mean over pairs of the std over heads of the margin μ_k(c) − μ_k(r). */
  pair_disagreement: number;
  /** Std over sequences of the head-mean reward: the reward's own scale, to read disagreement against. */
  reward_scale: number;
  /** disagreement / reward_scale. */
  relative_disagreement: number;
  /** σ(Δμ_mean) against the empirical preference rate, each pair counted in both orders. */
  calibration: { bins: CalibrationBin[]; ece: number };
  /** Pearson correlation over pairs between the head std of the margin and the mean reward's error
   *  (1 when it ranks the pair wrongly, ½ for a tie); null when undefined (no variation). */
  std_error_correlation: number | null;
  /** The same with the mean σ of the pair's two sequences (BRME only). */
  sigma_error_correlation: number | null;
}

const mean = (xs: ArrayLike<number>) => { let s = 0; for (let i = 0; i < xs.length; i++) s += xs[i]!; return xs.length ? s / xs.length : NaN; };
const pstd = (xs: ArrayLike<number>) => { const m = mean(xs); let s = 0; for (let i = 0; i < xs.length; i++) s += (xs[i]! - m) ** 2; return Math.sqrt(s / xs.length); };
const hit = (d: number) => (d > 0 ? 1 : d === 0 ? 0.5 : 0);

function pearson(x: number[], y: number[]): number | null {
  const mx = mean(x), my = mean(y);
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < x.length; i++) { sxy += (x[i]! - mx) * (y[i]! - my); sxx += (x[i]! - mx) ** 2; syy += (y[i]! - my) ** 2; }
  if (!(sxx > 1e-24 && syy > 1e-24)) return null;
  return sxy / Math.sqrt(sxx * syy);
}

function argmin(xs: number[]): number { let k = 0; for (let j = 1; j < xs.length; j++) if (xs[j]! < xs[k]!) k = j; return k; }

/**
 * The quality report from scores of the chosen (c) and rejected (r) sequences of N labelled pairs.
 * `targets` (optional, [N]) is the probability that the chosen response is really preferred (e.g. the
 * gold Bradley–Terry probability); it defaults to 1 (hard labels) and is what calibration compares
 * against. `nominalMember` applies when σ is absent.
 */
export function reportFromScores(c: EnsembleScores, r: EnsembleScores, opts: { targets?: number[]; bins?: number; nominalMember?: number } = {}): EnsembleReport {
  const N = c.mu.length;
  if (r.mu.length !== N || c.single.length !== N || r.single.length !== N) throw new Error('chosen and rejected scores differ in length');
  if (N === 0) throw new Error('no pairs to report on');
  const K = c.mu[0]!.length;
  const y = opts.targets ?? new Array<number>(N).fill(1);
  const nom = (s: EnsembleScores, i: number) => s.mu[i]![s.sigma ? argmin(s.sigma[i]!) : (opts.nominalMember ?? 0)]!;
  const acc = { single: 0, nominal: 0, mean: 0, min: 0, per_head: new Array<number>(K).fill(0) };
  const muMeanAll: number[] = [], stdAll: number[] = [], pairStd: number[] = [], err: number[] = [], sigPair: number[] = [], probs: number[] = [];
  const sigmas: number[] = [];
  for (let i = 0; i < N; i++) {
    const mc = c.mu[i]!, mr = r.mu[i]!;
    acc.single += hit(c.single[i]! - r.single[i]!);
    acc.nominal += hit(nom(c, i) - nom(r, i));
    const dMean = mean(mc) - mean(mr);
    acc.mean += hit(dMean);
    acc.min += hit(Math.min(...mc) - Math.min(...mr));
    const margins = mc.map((v, k) => v - mr[k]!);
    margins.forEach((d, k) => { acc.per_head[k]! += hit(d); });
    muMeanAll.push(mean(mc), mean(mr));
    stdAll.push(pstd(mc), pstd(mr));
    pairStd.push(pstd(margins));
    err.push(1 - hit(dMean));
    probs.push(sigmoid(dMean));
    if (c.sigma && r.sigma) {
      sigmas.push(...c.sigma[i]!, ...r.sigma[i]!);
      sigPair.push((mean(c.sigma[i]!) + mean(r.sigma[i]!)) / 2);
    }
  }
  // Calibration: each pair in both orders, so predictions cover [0, 1] and the bins are symmetric.
  const nb = opts.bins ?? 10;
  const bins: CalibrationBin[] = Array.from({ length: nb }, (_, b) => ({ lo: b / nb, hi: (b + 1) / nb, count: 0, predicted: 0, empirical: 0 }));
  const put = (p: number, t: number) => { const b = bins[Math.min(nb - 1, Math.floor(p * nb))]!; b.count++; b.predicted += p; b.empirical += t; };
  for (let i = 0; i < N; i++) { put(probs[i]!, y[i]!); put(1 - probs[i]!, 1 - y[i]!); }
  let ece = 0;
  for (const b of bins) {
    if (b.count) { b.predicted /= b.count; b.empirical /= b.count; ece += (b.count / (2 * N)) * Math.abs(b.predicted - b.empirical); }
  }
  const disagreement = mean(stdAll);
  const scale = pstd(muMeanAll);
  return {
    pairs: N,
    accuracy: { single: acc.single / N, nominal: acc.nominal / N, mean: acc.mean / N, min: acc.min / N, per_head: acc.per_head.map((a) => a / N) },
    sigma: sigmas.length ? { mean: mean(sigmas), std: pstd(sigmas), min: Math.min(...sigmas), max: Math.max(...sigmas) } : null,
    disagreement,
    pair_disagreement: mean(pairStd),
    reward_scale: scale,
    relative_disagreement: scale > 0 ? disagreement / scale : NaN,
    calibration: { bins, ece },
    std_error_correlation: K > 1 ? pearson(pairStd, err) : null,
    sigma_error_correlation: sigPair.length ? pearson(sigPair, err) : null,
  };
}

/** The report on any labelled pairs: held-out preference data, or policy samples labelled by gold
 *  (out-of-distribution accuracy). */
export async function evaluateEnsemble(ens: Ensemble, pairs: PreferencePair[], opts: { targets?: number[]; bins?: number } = {}): Promise<EnsembleReport> {
  const s = await ens.score(pairRows(pairs));
  const N = pairs.length;
  const half = (from: number): EnsembleScores => ({
    mu: s.mu.slice(from, from + N), single: s.single.slice(from, from + N), ...(s.sigma ? { sigma: s.sigma.slice(from, from + N) } : {}),
  });
  return reportFromScores(half(0), half(N), { ...opts, nominalMember: ens.kind !== 'brme' ? (ens as IndependentEnsemble).nominalMember : 0 });
}
