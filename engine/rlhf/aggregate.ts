// Reward aggregation (docs/method.md § Objective and § Baselines): how an ensemble's per-head rewards become the one scalar
// PPO optimises. Every objective is a small pure function over stored per-sample, per-head rewards,
// so any run's rewards can be re-aggregated after the fact. Only the aggregation differs between
// objectives; normalisation (RunningMoments below) is the same for all.

export const OBJECTIVES = ['single', 'nominal', 'mean', 'wco', 'uwo', 'softmin', 'robust', 'gold'] as const;
export type ObjectiveKind = (typeof OBJECTIVES)[number];

export interface ObjectiveConfig {
  kind: ObjectiveKind;
  /** robust: weight of the nominal term, λ·nominal + (1−λ)·min (paper: 0.2–0.4 best; default 0.4). */
  lambda?: number;
  /** robust/wco: 'sample' = min over heads per sample (public BRME code, Coste et al.);
   *  'batch' = the head with the lowest batch-mean reward (literal min_r E[r]). */
  minMode?: 'sample' | 'batch';
  /** uwo: mean − c·Var_k (unbiased); default 0.5. */
  uwoC?: number;
  /** softmin: −β·log mean exp(−μ/β); mean as β→∞, min as β→0. Default 1. */
  softminBeta?: number;
  /** For ensembles without σ (independent members): which member is "nominal". Default 0. */
  nominalMember?: number;
}

/** Per-sample inputs. mu/sigma are [N][K]; single and gold are [N]. */
export interface RewardSignals {
  mu: number[][];
  sigma?: number[][];
  single?: number[];
  gold?: number[];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function need<T>(v: T | undefined, what: string, kind: string): T {
  if (v === undefined) throw new Error(`objective "${kind}" needs ${what}`);
  return v;
}

/** Index of the head with the smallest σ for one sample (the most certain head), or the configured
 *  member when σ is not defined. */
export function nominalIndex(sigma: number[] | undefined, cfg: ObjectiveConfig): number {
  if (!sigma) return cfg.nominalMember ?? 0;
  let k = 0;
  for (let j = 1; j < sigma.length; j++) if (sigma[j]! < sigma[k]!) k = j;
  return k;
}

/** The per-batch worst head: argmin_k of the batch mean of μ_k. */
export function worstHeadOfBatch(mu: number[][]): number {
  const K = mu[0]!.length;
  let best = 0, bestMean = Infinity;
  for (let k = 0; k < K; k++) {
    const m = mean(mu.map((row) => row[k]!));
    if (m < bestMean) { bestMean = m; best = k; }
  }
  return best;
}

/** Aggregated reward per sample. */
export function aggregate(s: RewardSignals, cfg: ObjectiveConfig): number[] {
  const { mu } = s;
  const N = mu.length;
  switch (cfg.kind) {
    case 'single': return [...need(s.single, 'the single reward model\'s rewards', cfg.kind)];
    case 'gold': return [...need(s.gold, 'gold rewards', cfg.kind)];
    case 'mean': return mu.map(mean);
    case 'nominal': return mu.map((row, i) => row[nominalIndex(s.sigma?.[i], cfg)]!);
    case 'wco': return minRewards(mu, cfg.minMode ?? 'sample');
    case 'uwo': {
      const c = cfg.uwoC ?? 0.5;
      return mu.map((row) => {
        const m = mean(row);
        const v = row.length > 1 ? row.reduce((a, x) => a + (x - m) ** 2, 0) / (row.length - 1) : 0;
        return m - c * v;
      });
    }
    case 'softmin': {
      const b = cfg.softminBeta ?? 1;
      if (!(b > 0)) throw new Error('softmin needs β > 0');
      return mu.map((row) => {
        // −β·log mean exp(−μ/β), shifted by the min for stability.
        const lo = Math.min(...row);
        const z = row.reduce((a, x) => a + Math.exp(-(x - lo) / b), 0) / row.length;
        return lo - b * Math.log(z);
      });
    }
    case 'robust': {
      const lam = cfg.lambda ?? 0.4;
      if (!(lam >= 0 && lam <= 1)) throw new Error(`robust: λ must be in [0, 1], got ${lam}`);
      const mins = minRewards(mu, cfg.minMode ?? 'sample');
      const out = new Array<number>(N);
      for (let i = 0; i < N; i++) out[i] = lam * mu[i]![nominalIndex(s.sigma?.[i], cfg)]! + (1 - lam) * mins[i]!;
      return out;
    }
  }
}

function minRewards(mu: number[][], mode: 'sample' | 'batch'): number[] {
  if (mode === 'batch') {
    const k = worstHeadOfBatch(mu);
    return mu.map((row) => row[k]!);
  }
  return mu.map((row) => Math.min(...row));
}

/** Members' disagreement on a batch: the mean over samples of the population std of the heads' μ
 *  (BRME) or of the normalised member rewards (independent) — the very values the objectives aggregate.
 *  Logged per iteration as ensemble/std and at each evaluation as eval/member_std (both defined in docs/metrics.md). */
export function memberStd(mu: number[][]): number {
  return mean(mu.map((row) => { const m = mean(row); return Math.sqrt(row.reduce((a, x) => a + (x - m) ** 2, 0) / row.length); }));
}

/** Ensemble statistics per batch, logged as ensemble/{mean,std,min,max}. */
export function ensembleStats(mu: number[][]): { mean: number; std: number; min: number; max: number } {
  return { mean: mean(mu.map(mean)), std: memberStd(mu), min: mean(mu.map((r) => Math.min(...r))), max: mean(mu.map((r) => Math.max(...r))) };
}

/** Running mean/variance (Welford/Chan), used to whiten rewards the same way for every objective.
 *  Its state is plain numbers so a resumed run restores it exactly. */
export class RunningMoments {
  count = 0;
  mean = 0;
  m2 = 0;

  update(xs: number[]): void {
    if (xs.length === 0) return;
    const n = xs.length;
    const bm = mean(xs);
    const bm2 = xs.reduce((a, x) => a + (x - bm) ** 2, 0);
    const total = this.count + n;
    const delta = bm - this.mean;
    this.mean += (delta * n) / total;
    this.m2 += bm2 + (delta * delta * this.count * n) / total;
    this.count = total;
  }

  get std(): number { return this.count > 1 ? Math.sqrt(this.m2 / (this.count - 1)) : 1; }

  /** (x − mean) / std with the statistics so far (update first to include the batch). */
  whiten(xs: number[]): number[] {
    const sd = this.std > 1e-8 ? this.std : 1;
    return xs.map((x) => (x - this.mean) / sd);
  }

  state() { return { count: this.count, mean: this.mean, m2: this.m2 }; }
  static from(s: { count: number; mean: number; m2: number }): RunningMoments {
    const r = new RunningMoments();
    Object.assign(r, s);
    return r;
  }
}
