// A best-of-n result (engine/experiments/bon.ts, docs/method.md § Best-of-n) as the app's Best-of-n page
// and the HTML report show it: the curves against KL_bon with their intervals, Gao's fitted curve, the
// turnover and the table of gold against the baseline, paired by seed. Pure code: the renderer imports it.
// Intervals come from JSON, where a bound that could not be estimated (one seed, no spread) is null.

import type { BonResult, BonObjectiveResult } from '../engine/experiments/bon.js';
import { objectiveStyles } from './objectives.js';
import { fmt, signed } from './format.js';

/** A mean with 95 % bounds as stored (bounds null or NaN where there was no spread to estimate). */
export interface StoredInterval { mean: number; lo: number | null; hi: number | null; significant?: boolean }

const finite = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

/** Rounding noise of the estimator's weighted sums (two objectives at n = 1 average the same samples in
 *  another order) is shown as the 0 it is. */
const snap = (v: number) => (Math.abs(v) < 1e-9 ? 0 : v);

/** "0.31 [0.12, 0.50]", or the mean alone when there are no bounds (or they are both 0). */
export function intervalText(v: StoredInterval | null | undefined, sign = false): string {
  if (!v) return '–';
  const f = sign ? signed : fmt;
  const m = snap(v.mean);
  if (!finite(v.lo) || !finite(v.hi)) return f(m);
  const lo = snap(v.lo), hi = snap(v.hi);
  return lo === 0 && hi === 0 ? f(m) : `${f(m)} [${fmt(lo)}, ${fmt(hi)}]`;
}

/** Whether an interval excludes 0 — not when it is only the rounding noise around an exact 0. */
export function excludesZero(v: StoredInterval | null | undefined): boolean {
  return !!v?.significant && finite(v.lo) && finite(v.hi) && !(snap(v.lo) === 0 && snap(v.hi) === 0);
}

export interface BonCurvePoint { n: number; x: number; y: number; lo: number | null; hi: number | null }
export interface BonCurve { name: string; kind: string; style: number; points: BonCurvePoint[] }

/** Palette index per objective, by kind (as a study colours them). */
export function bonStyles(r: Pick<BonResult, 'objectives'>): number[] {
  return objectiveStyles(r.objectives.map((o) => o.config.kind));
}

/** One curve per objective at x = KL_bon: the chosen sample's gold (or proxy), seed mean and interval;
 *  'vs_baseline' is gold minus the baseline's gold at the same n, paired by seed (the baseline left out). */
export function bonCurves(r: BonResult, what: 'gold' | 'proxy' | 'vs_baseline'): BonCurve[] {
  const styles = bonStyles(r);
  return r.objectives.flatMap((o, i) => {
    if (what === 'vs_baseline' && o.name === r.baseline) return [];
    const points = o.curve.flatMap((p) => {
      const v = (what === 'vs_baseline' ? p.gold_vs_baseline : p[what]) as StoredInterval | undefined;
      return v ? [{ n: p.n, x: p.kl_bon, y: v.mean, lo: finite(v.lo) ? v.lo : null, hi: finite(v.hi) ? v.hi : null }] : [];
    });
    return points.length ? [{ name: o.name, kind: o.config.kind, style: styles[i]!, points }] : [];
  });
}

/** Gao's fitted R_bon(d) = d(α − βd), d = √KL_bon, drawn on the scale it was fitted to: added to the
 *  objective's value at n = 1 (the fit is of the gain over n = 1). Null without a fit. */
export function fitCurve(o: BonObjectiveResult): { n: number; x: number; y: number }[] | null {
  if (!o.fit) return null;
  const { alpha, beta } = o.fit;
  const at1 = o.fit_of === 'gold' ? o.curve[0]!.gold!.mean : o.curve[0]!.proxy.mean;
  return o.curve.map((p) => { const d = Math.sqrt(p.kl_bon); return { n: p.n, x: p.kl_bon, y: at1 + d * (alpha - beta * d) }; });
}

/** One sentence on the fit: its parameters and where it turns over. */
export function fitText(o: BonObjectiveResult): string {
  const f = o.fit;
  if (!f) return `${o.name}: too few values of n for Gao's fit.`;
  const of = o.fit_of === 'gold' ? 'gold' : 'proxy';
  const head = `${o.name}: ${of} − ${of}(n = 1) ≈ d(α − β·d) with α = ${fmt(f.alpha)}, β = ${fmt(f.beta)} (R² = ${fmt(f.r2, 2)})`;
  if (f.dPeak === null || f.klPeak === null) return `${head}; the fitted curve does not turn over (β ≤ 0).`;
  const last = o.curve[o.curve.length - 1]!;
  const beyond = f.klPeak > last.kl_bon ? `, beyond the largest n measured (${last.n})` : '';
  return `${head}; it turns over at KL_bon = ${fmt(f.klPeak)}${f.nPeak !== null ? ` (n ≈ ${f.nPeak})` : ''}${beyond}.`;
}

/** One sentence on the measured turnover: the n of highest mean gold and how much gold falls from there to N. */
export function turnoverText(o: BonObjectiveResult, N: number): string {
  if (!o.peak) return `${o.name}: no gold reward, so no turnover to measure.`;
  const { n, drop_to_N: d } = o.peak;
  if (n === N) return `${o.name}: gold is highest at the largest n (${N}): no turnover up to n = ${N}.`;
  const sig = excludesZero(d as StoredInterval) ? 'it turned over (the interval excludes 0)' : 'the fall is within the seeds\' noise';
  return `${o.name}: gold is highest at n = ${n} and falls by ${intervalText(d as StoredInterval)} from there to n = ${N}; ${sig}.`;
}

export interface BaselineRow { n: number; kl: number; cells: { name: string; v: StoredInterval | null }[] }

/** The table of gold against the baseline objective: one row per n, one cell per other objective
 *  (gold − baseline gold, paired by seed, with its interval). Empty without gold or other objectives. */
export function baselineRows(r: BonResult): BaselineRow[] {
  const others = r.objectives.filter((o) => o.name !== r.baseline);
  if (!r.has_gold || !others.length) return [];
  return r.ns.map((n, j) => ({
    n, kl: others[0]!.curve[j]!.kl_bon,
    cells: others.map((o) => ({ name: o.name, v: (o.curve[j]?.gold_vs_baseline as StoredInterval | undefined) ?? null })),
  }));
}

/** What a stored result's source was, in words ("goodhart-lab (world seed 0), 3 independent members"). */
export function bonSourceText(source: Record<string, unknown>): string {
  const s = source as { kind?: string; world?: { name?: string; seed?: number; settings?: Record<string, unknown> } | string; ensemble?: { method?: string; heads?: number; pairs?: number } | number; run?: number; experiment?: number; objective?: string; seed?: number; step?: number; model?: string };
  if (s.kind === 'world' && typeof s.world === 'object' && typeof s.ensemble === 'object') {
    const e = s.ensemble, st = s.world.settings ?? {};
    const noise = st.labels === 'flip' ? `, labels flipped with p = ${st.flipRate ?? 0.25}` : '';
    return `${s.world.name} (world seed ${s.world.seed ?? 0}${noise}): its π₀, and per seed ${e.heads} ${e.method === 'brme' ? 'BRME heads' : 'independent reward models'} on ${e.pairs} pairs`;
  }
  if (s.kind === 'run') return `run ${s.run}'s policy (${s.objective}, seed ${s.seed}, step ${s.step}) of study ${s.experiment}, scored by the study's ensemble`;
  if (s.kind === 'model') return `the model in ${s.model}, scored by ensemble ${String(s.ensemble)}`;
  return 'an unrecorded source';
}
