// Statistics for paired studies (docs/method.md § Statistics): objectives compared on the same seeds, prompts and
// evaluation set, so differences are taken per seed and their mean gets a t interval.

/** Mean and sample standard deviation (n − 1); NaN mean for no values, std 0 for one. */
export function meanStd(xs: number[]): { mean: number; std: number; n: number } {
  const n = xs.length;
  const mean = n ? xs.reduce((a, b) => a + b, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

/** Mean ± sample std over the finite values, null when there are none (what tables and prose show). */
export interface Stat { mean: number | null; std: number | null; n: number }

export function stat(xs: readonly (number | null | undefined)[]): Stat {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (!v.length) return { mean: null, std: null, n: 0 };
  return meanStd(v);
}

/**
 * Confidence interval of the mean paired difference a[i] − b[i] (same seed i): Student's t with n − 1
 * degrees of freedom, mean ± t·sd/√n. Studies have 2–10 seeds, where a percentile bootstrap is far
 * too narrow (with 2 seeds it spans just the two differences, and 3 same-sign differences out of 3
 * would exclude 0 a quarter of the time with no effect at all); t is exact for normal differences and
 * honest about few seeds. One pair, or identical differences, have no spread: the interval is NaN and
 * never significant.
 */
export function pairedInterval(a: number[], b: number[], opts: { level?: number } = {}) {
  if (a.length !== b.length || a.length === 0) throw new Error('a paired interval needs two equally long, non-empty lists');
  const d = a.map((x, i) => x - b[i]!);
  const level = opts.level ?? 0.95;
  const { mean, std, n } = meanStd(d);
  // One pair, or pairs that all differ by exactly the same amount, leave no spread to estimate the error from.
  if (n < 2 || std === 0) return { mean, lo: NaN, hi: NaN, level, n, significant: false };
  const half = tQuantile((1 + level) / 2, n - 1) * (std / Math.sqrt(n));
  const lo = mean - half, hi = mean + half;
  return { mean, lo, hi, level, n, significant: lo > 0 || hi < 0 };
}

/** The t with P(T ≤ t) = p for Student's t with `df` degrees of freedom (bisection on the CDF). */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) throw new Error(`tQuantile needs 0 < p < 1 and df > 0, got p=${p}, df=${df}`);
  if (p < 0.5) return -tQuantile(1 - p, df);
  let lo = 0, hi = 1;
  while (tCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (tCdf(mid, df) < p) lo = mid; else hi = mid;
  }
  return (lo + hi) / 2;
}

/** P(T ≤ t) for Student's t: 1 − ½·I_x(df/2, ½) with x = df/(df + t²), for t ≥ 0 (symmetric below). */
export function tCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** Regularised incomplete beta I_x(a, b), by its continued fraction (modified Lentz). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(a * Math.log(x) + b * Math.log(1 - x) - (logGamma(a) + logGamma(b) - logGamma(a + b)));
  // The fraction converges fast for x < (a + 1)/(a + b + 2); use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) otherwise.
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const tiny = 1e-300;
  let c = 1, d = 1 - ((a + b) * x) / (a + 1);
  d = 1 / (Math.abs(d) < tiny ? tiny : d);
  let f = d;
  for (let m = 1; m <= 300; m++) {
    for (const num of [(m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m)), -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1))]) {
      d = 1 + num * d; d = 1 / (Math.abs(d) < tiny ? tiny : d);
      c = 1 + num / c; if (Math.abs(c) < tiny) c = tiny;
      f *= c * d;
    }
    if (Math.abs(c * d - 1) < 1e-15) break;
  }
  return (front * f) / a;
}

/** log Γ(z) for z > 0 (Lanczos, g = 7, 9 terms; ~1e-15 relative). */
function logGamma(z: number): number {
  const g = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - logGamma(1 - z);
  z -= 1;
  let x = g[0]!;
  for (let i = 1; i < 9; i++) x += g[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(x);
}

/** Warns when one seed cannot support a comparison, or when the spread across seeds is larger than the effect being claimed. */
export function seedVarianceWarning(a: number[], b: number[]): string | null {
  if (a.length === 1) return 'one seed: no confidence interval can be estimated; run at least 2 seeds (5 recommended) before comparing objectives';
  const d = a.map((x, i) => x - b[i]!);
  if (d.every((x) => x === d[0])) return `every seed gave the same difference (${d[0]!.toFixed(3)}): no spread to estimate a confidence interval from; check that the seeds really differ`;
  const sa = meanStd(a), sb = meanStd(b);
  const eff = Math.abs(sa.mean - sb.mean);
  const sd = Math.max(sa.std, sb.std);
  return sd > eff ? `seed-to-seed spread (σ ≈ ${sd.toFixed(3)}) exceeds the difference between objectives (${eff.toFixed(3)}); run more seeds before drawing conclusions` : null;
}
