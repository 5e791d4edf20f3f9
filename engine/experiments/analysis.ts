// One study's analysis, computed from the store (so a study run from the CLI, resumed after a crash or
// mixed with imported runs analyses the same): each run's evaluations, final and peak gold, hacking
// onset and Gao fit; each objective's means across seeds; the paired comparison with the first
// objective (standard RLHF); gold at matched KL; and the verdict. The runner's end-of-study summary,
// the service's study view, the report and the screens all render this object, and nothing else
// compares objectives (docs/method.md § Statistics, § Gold evaluation).

import { isComplete, type Store, type Run } from '../store/index.js';
import { hackingOnset, peak, goldAtKl, fitGao, type EvalPoint } from '../rlhf/gold.js';
import { pairedInterval, seedVarianceWarning, stat, type Stat } from './stats.js';
import { objectiveLabels, describeObjective, objectiveStyles, styleColor, type ObjectiveLike } from '../../common/objectives.js';
import { METRIC, BENCH_PREFIX, type MetricKey } from '../../common/metrics.js';
import { writeVerdict, type Verdict } from './verdict.js';
import type { ExperimentSpec, ObjectiveSpec } from './spec.js';
import { studyEnsembleRecord } from './layout.js';

export type { Stat } from './stats.js';

/** The default onset margin, for runs whose experiment did not record one. */
export const DEFAULT_ONSET_MARGIN = 0.1;

export interface ObjectiveInfo {
  name: string;
  kind: string;
  /** Plain-language label used in charts and prose, e.g. "robust RLHF (λ = 0.4)". */
  label: string;
  /** What the objective optimises, in one clause. */
  description: string;
  /** λ of the robust objective (nominal counts as 1); null for the others. */
  lambda: number | null;
  /** Palette index and its colour, the same in every chart of the app and the report. */
  style: number;
  color: string;
  runIds: number[];
  seeds: number[];
}

export interface RunAnalysis {
  id: number;
  experimentId: number | null;
  objective: string;
  seed: number;
  status: Run['status'];
  /** Evaluations in step order (gold NaN in a study without gold). */
  evals: EvalPoint[];
  final: { step: number; gold: number | null; proxy: number; kl: number } | null;
  peak: { step: number; gold: number } | null;
  /** First evaluation where hacking began (null: it did not, or cannot be seen without gold). */
  onset: number | null;
  /** Gao et al.'s gold − gold₀ = d(α − β log d), d = √KL, fitted to this run's evaluations. */
  gao: { alpha: number; beta: number; r2: number; dPeak: number | null } | null;
}

export interface ObjectiveSummary {
  objective: string;
  label: string;
  n: number;
  finalGold: Stat;
  finalProxy: Stat;
  finalKl: Stat;
  peakGold: Stat;
  peakStep: Stat;
  /** Gold right before training (step 0), the same π₀ for every objective. */
  startGold: Stat;
  /** Runs with a hacking onset, out of n, and the mean step where it began. */
  onsets: number;
  onsetStep: number | null;
  /** Mean over seeds of this objective's gold at the KL the first objective ended with. */
  goldAtBaseKl: number | null;
  /** The seed-mean gold curve's peak and where it ended (for the verdict). */
  meanCurve: { peakStep: number; peakGold: number; finalStep: number; finalGold: number } | null;
}

export interface Comparison {
  /** Objective compared (a) against the baseline (b, the first objective). */
  a: string;
  b: string;
  aLabel: string;
  bLabel: string;
  /** Final gold, or (no gold) the ensemble-mean reward at the largest KL both runs of a seed reached. */
  metric: 'final_gold' | 'ensemble_mean_at_matched_kl';
  perSeed: { seed: number; a: number; b: number; diff: number }[];
  /** Seeds where a ended above b. */
  wins: number;
  n: number;
  /** Mean over seeds of a − b with its 95 % paired t interval (null without at least one / two pairs). */
  mean: number | null;
  lo: number | null;
  hi: number | null;
  level: number;
  significant: boolean;
  warning: string | null;
  /** Whether every paired run has finished (else "final" is a latest evaluation). */
  complete: boolean;
}

export interface MatchedKl {
  /** KL values at which every run's gold is interpolated (within the range every run reached). */
  kls: number[];
  rows: { objective: string; label: string; gold: Stat[] }[];
}

/** A paired difference's mean with its 95 % Student-t interval (lo/hi null without two pairs with spread). */
export interface PairedChange { mean: number; lo: number | null; hi: number | null; n: number; significant: boolean }

export interface BenchmarkRow {
  objective: string;
  label: string;
  color: string;
  /** Each run's score at the latest step after 0 where it was scored. */
  final: Stat;
  /** final − π₀, run by run (every run starts from the same π₀). */
  change: PairedChange | null;
  /** Seed-mean score against step, π₀ at step 0 (accuracy against step, when checkpoints were scored). */
  curve: { step: number; mean: number; n: number }[];
}

/** One benchmark metric across a study (docs/evals.md § Studies): before and after, standard vs robust. */
export interface BenchmarkAnalysis {
  /** The metric key, e.g. bench/arc_0shot/acc. */
  key: string;
  /** π₀'s score (recorded at step 0 on every run), null when π₀ was not scored. */
  start: number | null;
  rows: BenchmarkRow[];
  /** Each objective's final score against the first objective's, paired by seed. */
  comparisons: ({ a: string; b: string; aLabel: string; bLabel: string; wins: number } & PairedChange)[];
}

/** One objective's members' disagreement on its own evaluation samples (eval/member_std), seed means. */
export interface OnPolicyDisagreement {
  objective: string;
  label: string;
  /** At the first evaluation (step 0: π₀'s samples, the same for every objective) and at the last. */
  start: Stat;
  end: Stat;
  /** The same over the ensemble report's reward scale (relative_disagreement's denominator), so that it
   *  reads beside the held-out disagreement: above it, the members disagree more off their training data. */
  relativeStart: number | null;
  relativeEnd: number | null;
}

export interface StudyAnalysis {
  /** False for a dataset world without a judge model: no gold, so hacking cannot be seen. */
  hasGold: boolean;
  onsetMargin: number;
  /** The ensemble method (what "nominal" means), when known. */
  method: string | null;
  objectives: ObjectiveInfo[];
  /** In objective order, then seed. */
  runs: RunAnalysis[];
  summaries: ObjectiveSummary[];
  comparisons: Comparison[];
  matchedKl: MatchedKl | null;
  /** Head disagreement of the study's ensemble relative to the reward's spread (0.01 = 1 %). */
  relativeDisagreement: number | null;
  /** The ensemble report's reward scale (std over held-out responses of the head-mean reward). */
  rewardScale: number | null;
  /** Per objective, the heads' disagreement on the policy's own samples (empty when no run logged it). */
  onPolicyDisagreement: OnPolicyDisagreement[];
  /** Benchmark scores recorded on the runs, one entry per metric key (empty when none). */
  benchmarks: BenchmarkAnalysis[];
  /** Whether every run has finished (the verdict is final). */
  finished: boolean;
  verdict: Verdict;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Whether a study measures gold: built-in worlds do; a dataset world only with a held-out reward model
 *  as judge; runs without a spec when they recorded gold evaluations (or no evaluations at all). */
export function studyHasGold(world: { name?: string; gold?: unknown } | undefined, metricKeys?: string[][]): boolean {
  if (world?.name === 'dataset' && !world.gold) return false;
  if (!metricKeys) return true;
  return metricKeys.some((k) => k.includes(METRIC.evalGold)) || !metricKeys.some((k) => k.includes(METRIC.evalProxy));
}

/** A run's evaluations, by step: gold (with its standard error), proxy and KL; without gold, keyed by the proxy. */
export function evalPoints(store: Store, runId: number, hasGold = true): EvalPoint[] {
  const get = (k: MetricKey) => new Map((store.metrics.series([runId], k)[0]?.points ?? []).map((p) => [p.step, p.y]));
  const gold = get(METRIC.evalGold), proxy = get(METRIC.evalProxy), kl = get(METRIC.evalKl), se = get(METRIC.evalGoldSe);
  const keyed = hasGold ? gold : proxy;
  return [...keyed.keys()].filter((s) => finite(keyed.get(s))).sort((a, b) => a - b).map((step) => {
    const goldSe = se.get(step);
    return { step, gold: hasGold ? gold.get(step)! : NaN, proxy: proxy.get(step) ?? NaN, kl: kl.get(step) ?? NaN, ...(hasGold && finite(goldSe) && { goldSe }) };
  });
}

/** The ensemble-mean reward of a run's evaluations against KL (in EvalPoint's gold slot): one proxy
 *  shared by every objective, what a study without gold compares. */
function rewardMeanPoints(store: Store, runId: number): EvalPoint[] {
  const get = (k: MetricKey) => new Map((store.metrics.series([runId], k)[0]?.points ?? []).map((p) => [p.step, p.y ?? NaN]));
  const y = get(METRIC.evalRewardMean), kl = get(METRIC.evalKl);
  return [...y.keys()].sort((a, b) => a - b).map((step) => ({ step, gold: y.get(step)!, proxy: NaN, kl: kl.get(step) ?? NaN }))
    .filter((p) => finite(p.gold) && finite(p.kl));
}

/** One run's evaluations and what they show (gold, peak, onset, Gao fit). */
export function analyseRun(store: Store, r: Run, hasGold: boolean, margin = DEFAULT_ONSET_MARGIN): RunAnalysis {
  const evals = evalPoints(store, r.id, hasGold);
  const last = evals[evals.length - 1];
  const g = hasGold && evals.length >= 3 ? fitGao(evals) : null;
  return {
    id: r.id, experimentId: r.experimentId, objective: r.objective, seed: r.seed, status: r.status, evals,
    final: last ? { step: last.step, gold: hasGold ? last.gold : null, proxy: last.proxy, kl: last.kl } : null,
    peak: hasGold && evals.length ? peak(evals) : null,
    // From the evaluations, as everywhere: a live alert may have been withdrawn since.
    onset: hasGold && evals.length ? hackingOnset(evals, margin)?.step ?? null : null,
    gao: g && [g.alpha, g.beta, g.r2].every(finite) ? g : null,
  };
}

/** Objective specs with a default for every field, for runs without an experiment (run configs store them complete; be lenient). */
function objectiveSpecOf(raw: unknown, name: string): ObjectiveLike {
  const r = (raw ?? {}) as Partial<ObjectiveSpec>;
  return { name, kind: r.kind ?? 'unknown', lambda: r.lambda ?? 0.4, minMode: r.minMode ?? 'sample', uwoC: r.uwoC ?? 0.5, softminBeta: r.softminBeta ?? 1, nominalMember: r.nominalMember ?? 0 };
}

/** Head disagreement on held-out pairs of the ensemble an experiment trained, and its reward scale. */
function ensembleDisagreement(store: Store, experimentId: number | null): { relative: number | null; scale: number | null } {
  if (experimentId === null) return { relative: null, scale: null };
  const e = studyEnsembleRecord(store, experimentId);
  type Rep = { relative_disagreement?: unknown; reward_scale?: unknown };
  const m = (e?.metrics ?? {}) as Rep & { report?: Rep };
  const rel = m.report?.relative_disagreement ?? m.relative_disagreement, scale = m.report?.reward_scale ?? m.reward_scale;
  return { relative: finite(rel) ? rel : null, scale: finite(scale) && scale > 0 ? scale : null };
}

/** eval/member_std per objective, at the first and the last evaluation of each run (seed means). */
function onPolicyDisagreement(store: Store, objectives: ObjectiveInfo[], runs: RunAnalysis[], scale: number | null): OnPolicyDisagreement[] {
  const rows = objectives.map((ob) => {
    const series = runs.filter((r) => r.objective === ob.name)
      .map((r) => (store.metrics.series([r.id], METRIC.evalMemberStd)[0]?.points ?? []).filter((p) => finite(p.y)).sort((a, b) => a.step - b.step));
    const start = stat(series.map((ps) => ps[0]?.y)), end = stat(series.map((ps) => ps[ps.length - 1]?.y));
    const rel = (x: Stat) => (scale !== null && x.mean !== null ? x.mean / scale : null);
    return { objective: ob.name, label: ob.label, start, end, relativeStart: rel(start), relativeEnd: rel(end) };
  });
  return rows.some((r) => r.end.n > 0) ? rows : [];
}

function meanCurveShape(runs: RunAnalysis[]): ObjectiveSummary['meanCurve'] {
  const byStep = new Map<number, number[]>();
  for (const r of runs) for (const e of r.evals) if (finite(e.gold)) byStep.set(e.step, [...(byStep.get(e.step) ?? []), e.gold]);
  const points = [...byStep].sort((a, b) => a[0] - b[0]).map(([step, ys]) => ({ step, mean: stat(ys).mean! }));
  if (!points.length) return null;
  let best = points[0]!;
  for (const p of points) if (p.mean > best.mean) best = p;
  const last = points[points.length - 1]!;
  return { peakStep: best.step, peakGold: best.mean, finalStep: last.step, finalGold: last.mean };
}

function pairedChange(a: number[], b: number[]): PairedChange | null {
  if (!a.length) return null;
  const ci = pairedInterval(a, b);
  return { mean: ci.mean, lo: finite(ci.lo) ? ci.lo : null, hi: finite(ci.hi) ? ci.hi : null, n: ci.n, significant: ci.significant };
}

/** Benchmark scores of the runs: π₀ at step 0, each run's latest later score, the change and the
 *  comparison with the first objective, both paired (by run, by seed). */
function analyseBenchmarks(store: Store, objectives: ObjectiveInfo[], runs: RunAnalysis[]): BenchmarkAnalysis[] {
  const keys = [...new Set(runs.flatMap((r) => store.metrics.keys(r.id).filter((k) => k.startsWith(BENCH_PREFIX))))].sort();
  return keys.map((key) => {
    const points = new Map(runs.map((r) => [r.id, (store.metrics.series([r.id], key)[0]?.points ?? []).filter((p) => finite(p.y)).map((p) => ({ step: p.step, y: p.y as number }))]));
    const startOf = (id: number) => points.get(id)!.find((p) => p.step === 0)?.y ?? null;
    const finalOf = (id: number) => points.get(id)!.filter((p) => p.step > 0).pop()?.y ?? null;
    const starts = runs.map((r) => startOf(r.id)).filter(finite);
    const rows: BenchmarkRow[] = objectives.map((ob) => {
      const rs = runs.filter((r) => r.objective === ob.name);
      const pairs = rs.map((r) => [finalOf(r.id), startOf(r.id)] as const).filter((p): p is readonly [number, number] => finite(p[0]) && finite(p[1]));
      const bySteps = new Map<number, number[]>();
      for (const r of rs) for (const p of points.get(r.id)!) bySteps.set(p.step, [...(bySteps.get(p.step) ?? []), p.y]);
      return {
        objective: ob.name, label: ob.label, color: ob.color,
        final: stat(rs.map((r) => finalOf(r.id))),
        change: pairedChange(pairs.map((p) => p[0]), pairs.map((p) => p[1])),
        curve: [...bySteps].sort((x, y) => x[0] - y[0]).map(([step, ys]) => ({ step, mean: stat(ys).mean!, n: ys.length })),
      };
    });
    const base = objectives[0];
    const comparisons = !base ? [] : objectives.slice(1).flatMap((ob) => {
      const mine = new Map(runs.filter((r) => r.objective === ob.name).map((r) => [r.seed, finalOf(r.id)]));
      const theirs = new Map(runs.filter((r) => r.objective === base.name).map((r) => [r.seed, finalOf(r.id)]));
      const seeds = [...mine.keys()].filter((sd) => finite(mine.get(sd)) && finite(theirs.get(sd))).sort((x, y) => x - y);
      const a = seeds.map((sd) => mine.get(sd)!), b = seeds.map((sd) => theirs.get(sd)!);
      const ch = pairedChange(a, b);
      return ch ? [{ a: ob.name, b: base.name, aLabel: ob.label, bLabel: base.label, wins: a.filter((x, i) => x > b[i]!).length, ...ch }] : [];
    });
    return { key, start: starts.length ? starts[0]! : null, rows, comparisons };
  });
}

export interface AnalysisInput {
  /** The experiment's spec (defaults written in), or null for runs chosen from several experiments. */
  spec: ExperimentSpec | null;
  runs: Run[];
  experimentId: number | null;
}

/** Analyses a set of runs: one experiment's (spec given) or any chosen runs (spec null). */
export function analyseRuns(store: Store, input: AnalysisInput): StudyAnalysis {
  const { spec, runs } = input;
  const margin = spec?.onsetMargin ?? DEFAULT_ONSET_MARGIN;
  const method = spec?.ensemble?.method ?? null;
  const world = spec?.world ?? (runs[0]?.config as { world?: { name?: string; gold?: unknown } } | undefined)?.world;
  const hasGold = studyHasGold(world, spec ? undefined : runs.map((r) => store.metrics.keys(r.id)));

  // Objectives: in spec order, else in order of first appearance; only those with runs here (a spec
  // objective without runs yet still counts while the study is being set up).
  const names: string[] = [];
  for (const n of spec?.objectives.map((x) => x.name) ?? []) if (!runs.length || runs.some((r) => r.objective === n)) names.push(n);
  for (const r of runs) if (!names.includes(r.objective)) names.push(r.objective);
  const specs = names.map((n) => spec?.objectives.find((x) => x.name === n) ?? objectiveSpecOf(runs.find((r) => r.objective === n)?.config.objective, n));
  const labels = objectiveLabels(specs);
  const styles = objectiveStyles(specs.map((x) => x.kind));
  const objectives: ObjectiveInfo[] = names.map((name, i) => {
    const rs = runs.filter((r) => r.objective === name).sort((a, b) => a.seed - b.seed || a.id - b.id);
    const sp = specs[i]!;
    return {
      name, kind: sp.kind, label: labels[i]!, description: describeObjective(sp, method),
      lambda: sp.kind === 'robust' ? sp.lambda ?? 0.4 : sp.kind === 'nominal' ? 1 : null,
      style: styles[i]!, color: styleColor(styles[i]!), runIds: rs.map((r) => r.id), seeds: [...new Set(rs.map((r) => r.seed))],
    };
  });

  const byId = new Map(runs.map((r) => [r.id, r]));
  const runAnalyses = objectives.flatMap((ob) => ob.runIds.map((id) => analyseRun(store, byId.get(id)!, hasGold, margin)));
  const runsOf = (name: string) => runAnalyses.filter((r) => r.objective === name);

  // Per objective.
  const baseKl = stat(runsOf(names[0] ?? '').map((r) => r.final?.kl)).mean;
  const summaries: ObjectiveSummary[] = objectives.map((ob) => {
    const rs = runsOf(ob.name);
    const onsets = rs.map((r) => r.onset).filter((x): x is number => x !== null);
    return {
      objective: ob.name, label: ob.label, n: rs.length,
      finalGold: stat(rs.map((r) => r.final?.gold)), finalProxy: stat(rs.map((r) => r.final?.proxy)), finalKl: stat(rs.map((r) => r.final?.kl)),
      peakGold: stat(rs.map((r) => r.peak?.gold)), peakStep: stat(rs.map((r) => r.peak?.step)),
      startGold: stat(rs.map((r) => (r.evals[0]?.step === 0 ? r.evals[0].gold : null))),
      onsets: onsets.length, onsetStep: onsets.length ? stat(onsets).mean : null,
      goldAtBaseKl: hasGold && baseKl !== null ? stat(rs.map((r) => goldAtKl(r.evals, baseKl))).mean : null,
      meanCurve: hasGold ? meanCurveShape(rs) : null,
    };
  });

  // Paired comparisons against the first objective, seed by seed, of final gold or — without gold — of
  // the ensemble-mean reward at the largest KL both runs of a seed reached (each objective's own proxy
  // has its own scale, and a run that drifted further has simply exploited its reward model more).
  const base = objectives[0];
  const comparisons: Comparison[] = !base ? [] : objectives.slice(1).map((ob) => {
    const mine = new Map(runsOf(ob.name).filter((r) => r.final).map((r) => [r.seed, r]));
    const theirs = new Map(runsOf(base.name).filter((r) => r.final).map((r) => [r.seed, r]));
    const seeds = [...mine.keys()].filter((s) => theirs.has(s)).sort((x, y) => x - y);
    const perSeed: Comparison['perSeed'] = [];
    const kls: number[] = [];
    for (const seed of seeds) {
      const ra = mine.get(seed)!, rb = theirs.get(seed)!;
      let a: number | null, b: number | null;
      if (hasGold) { a = ra.final!.gold; b = rb.final!.gold; } else {
        const pa = rewardMeanPoints(store, ra.id), pb = rewardMeanPoints(store, rb.id);
        if (!pa.length || !pb.length) continue;
        const k = Math.min(Math.max(...pa.map((p) => p.kl)), Math.max(...pb.map((p) => p.kl)));
        kls.push(k);
        a = goldAtKl(pa, k); b = goldAtKl(pb, k);
      }
      if (finite(a) && finite(b)) perSeed.push({ seed, a, b, diff: a - b });
    }
    const av = perSeed.map((p) => p.a), bv = perSeed.map((p) => p.b);
    const ci = perSeed.length ? pairedInterval(av, bv) : null;
    let warning = perSeed.length ? seedVarianceWarning(av, bv) : 'no seed has finished runs of both objectives';
    if (!hasGold) {
      const at = kls.length ? ` (KL ${kls.map((k) => k.toPrecision(2)).join(', ')} by seed)` : '';
      const note = `no gold reward: compared on the ensemble-mean reward (one proxy for every objective) at matched KL${at}, not on gold; this cannot show reward hacking`;
      warning = warning ? `${note}; ${warning}` : note;
    }
    const paired = perSeed.flatMap((p) => [mine.get(p.seed)!, theirs.get(p.seed)!]);
    return {
      a: ob.name, b: base.name, aLabel: ob.label, bLabel: base.label, metric: hasGold ? 'final_gold' : 'ensemble_mean_at_matched_kl',
      perSeed, wins: perSeed.filter((p) => p.diff > 0).length, n: perSeed.length,
      mean: ci?.mean ?? null, lo: ci && finite(ci.lo) ? ci.lo : null, hi: ci && finite(ci.hi) ? ci.hi : null, level: 0.95,
      significant: !!ci?.significant, warning, complete: paired.every((r) => isComplete(r.status)),
    };
  });

  // Gold at matched KL: within the KL range that every run reached.
  let matchedKl: MatchedKl | null = null;
  const reach = runAnalyses.filter((r) => r.evals.length >= 2).map((r) => Math.max(...r.evals.map((e) => e.kl).filter(finite)));
  if (hasGold && objectives.length > 1 && reach.length && reach.every(finite) && Math.min(...reach) > 0) {
    const top = Math.min(...reach);
    const round = (v: number) => Number(v.toPrecision(2));
    const kls = [...new Set([0.25, 0.5, 0.75, 1].map((f) => round(f * top)).filter((k) => k > 0 && k <= top))];
    matchedKl = { kls, rows: objectives.map((ob) => ({ objective: ob.name, label: ob.label, gold: kls.map((k) => stat(runsOf(ob.name).map((r) => goldAtKl(r.evals, k)))) })) };
  }

  const { relative: relativeDisagreement, scale: rewardScale } = ensembleDisagreement(store, input.experimentId);
  const finished = runs.length > 0 && runs.every((r) => isComplete(r.status));
  const benchmarks = analyseBenchmarks(store, objectives, runAnalyses);
  const partial: Omit<StudyAnalysis, 'verdict'> = {
    hasGold, onsetMargin: margin, method, objectives, runs: runAnalyses, summaries, comparisons, matchedKl, relativeDisagreement, rewardScale,
    onPolicyDisagreement: onPolicyDisagreement(store, objectives, runAnalyses, rewardScale), benchmarks, finished,
  };
  return { ...partial, verdict: writeVerdict(partial, { seedsPlanned: spec?.seeds.length ?? null }) };
}

/** The analysis of one experiment: all its runs (or the chosen ones among them). */
export function analyseStudy(store: Store, experimentId: number, runIds?: readonly number[]): StudyAnalysis {
  const exp = store.experiments.get(experimentId);
  if (!exp) throw new Error(`experiment ${experimentId} does not exist`);
  let runs = store.runs.list({ experimentId });
  if (runIds?.length) runs = runs.filter((r) => runIds.includes(r.id));
  return analyseRuns(store, { spec: exp.spec as unknown as ExperimentSpec, runs, experimentId });
}
