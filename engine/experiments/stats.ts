// Statistics for paired studies (SCIENCE.md §7): objectives compared on the same seeds, prompts and
// evaluation set, so differences are taken per seed and resampled as pairs.

import { Rng } from '../runtime/params.js';

export function meanStd(xs: number[]): { mean: number; std: number; n: number } {
  const n = xs.length;
  const mean = n ? xs.reduce((a, b) => a + b, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

/**
 * Percentile bootstrap CI of the mean paired difference a[i] − b[i] (same seed i). One pair has no
 * spread to resample: its interval is NaN and it is never significant (a bootstrap of one value would
 * return [d, d] and call any non-zero difference significant).
 */
export function pairedBootstrap(a: number[], b: number[], opts: { resamples?: number; level?: number; seed?: number } = {}) {
  if (a.length !== b.length || a.length === 0) throw new Error('paired bootstrap needs two equally long, non-empty lists');
  const d = a.map((x, i) => x - b[i]!);
  const level = opts.level ?? 0.95;
  if (d.length < 2) return { mean: d[0]!, lo: NaN, hi: NaN, level, n: 1, significant: false };
  const rng = new Rng(opts.seed ?? 0);
  const R = opts.resamples ?? 2000;
  const means: number[] = [];
  for (let r = 0; r < R; r++) {
    let s = 0;
    for (let i = 0; i < d.length; i++) s += d[rng.int(d.length)]!;
    means.push(s / d.length);
  }
  means.sort((x, y) => x - y);
  const lo = means[Math.floor(((1 - level) / 2) * R)]!, hi = means[Math.min(R - 1, Math.floor(((1 + level) / 2) * R))]!;
  const diff = meanStd(d);
  return { mean: diff.mean, lo, hi, level, n: d.length, significant: lo > 0 || hi < 0 };
}

/** Warns when one seed cannot support a comparison, or when the spread across seeds is larger than the effect being claimed. */
export function seedVarianceWarning(a: number[], b: number[]): string | null {
  if (a.length === 1) return 'one seed: no confidence interval can be estimated; run at least 2 seeds (5 recommended) before comparing objectives';
  const eff = Math.abs(meanStd(a).mean - meanStd(b).mean);
  const sd = Math.max(meanStd(a).std, meanStd(b).std);
  return sd > eff ? `seed-to-seed spread (σ ≈ ${sd.toFixed(3)}) exceeds the difference between objectives (${eff.toFixed(3)}); run more seeds before drawing conclusions` : null;
}
