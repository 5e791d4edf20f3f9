// Dataset statistics, gathered while rows stream past: length distributions (quantiles and a
// power-of-two histogram) of prompt, chosen and rejected, and how often the chosen answer is the longer
// one (a length bias a reward model can learn instead of quality). Exact duplicates and contradicting
// pairs are counted by the store, which has every row (DatasetImport.pairStats).
//
// Lengths are in characters (UTF-16 code units); for message lists, of the messages' text. Memory is
// 12 bytes per row (three growable Uint32Arrays), far below the rows themselves.

export interface Distribution {
  min: number;
  max: number;
  mean: number;
  quantiles: { p5: number; p25: number; p50: number; p75: number; p95: number };
  /** Bins [lo, hi): [0, 1), [1, 2), [2, 4), [4, 8), ... up to the longest. */
  histogram: { lo: number; hi: number; count: number }[];
}

export interface DatasetStats {
  count: number;
  unit: 'characters';
  prompt: Distribution;
  chosen: Distribution;
  rejected: Distribution;
  /** Share of pairs where chosen is strictly longer than rejected, and where both are the same length. */
  chosen_longer_share: number;
  equal_length_share: number;
  /** Rows beyond the first of each identical (prompt, chosen, rejected). */
  duplicates: number;
  /** Distinct pairs (p, a, b) whose reverse (p, b, a) is also in the data. */
  contradictions: number;
}

class Lengths {
  private a = new Uint32Array(1024);
  n = 0;
  push(v: number) {
    if (this.n === this.a.length) {
      const b = new Uint32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  values() {
    return this.a.subarray(0, this.n);
  }
}

/** Quantile with linear interpolation between order statistics (NumPy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (!sorted.length) return 0;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function distribution(values: Uint32Array): Distribution {
  const s = Uint32Array.from(values).sort();
  const n = s.length;
  if (!n) return { min: 0, max: 0, mean: 0, quantiles: { p5: 0, p25: 0, p50: 0, p75: 0, p95: 0 }, histogram: [] };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i]!;
  const bins = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const k = s[i] === 0 ? 0 : 32 - Math.clz32(s[i]!); // bin k holds [2^(k-1), 2^k)
    bins.set(k, (bins.get(k) ?? 0) + 1);
  }
  const top = 32 - Math.clz32(s[n - 1]!);
  const histogram = [];
  for (let k = 0; k <= top; k++) histogram.push({ lo: k === 0 ? 0 : 2 ** (k - 1), hi: 2 ** k, count: bins.get(k) ?? 0 });
  const q = (p: number) => quantile(s, p);
  return { min: s[0]!, max: s[n - 1]!, mean: sum / n, quantiles: { p5: q(0.05), p25: q(0.25), p50: q(0.5), p75: q(0.75), p95: q(0.95) }, histogram };
}

export class StatsCollector {
  private readonly p = new Lengths();
  private readonly c = new Lengths();
  private readonly r = new Lengths();
  private longer = 0;
  private equal = 0;

  add(promptLen: number, chosenLen: number, rejectedLen: number): void {
    this.p.push(promptLen);
    this.c.push(chosenLen);
    this.r.push(rejectedLen);
    if (chosenLen > rejectedLen) this.longer++;
    else if (chosenLen === rejectedLen) this.equal++;
  }

  summary(pairs: { duplicates: number; contradictions: number }): DatasetStats {
    const n = this.p.n;
    return {
      count: n, unit: 'characters',
      prompt: distribution(this.p.values()), chosen: distribution(this.c.values()), rejected: distribution(this.r.values()),
      chosen_longer_share: n ? this.longer / n : 0, equal_length_share: n ? this.equal / n : 0,
      ...pairs,
    };
  }
}
