// What the screens show about runs and studies, computed from the store (so a study run from the CLI
// looks the same as one started in the app): each run's final and peak gold, the hacking onset, the
// per-objective means across seeds, the paired comparison with the standard objective, and the
// one-sentence verdict a newcomer reads first.
import { isComplete, type Store, type Run, type Experiment } from '../store/index.js';
import { hackingOnset, peak, goldAtKl, type EvalPoint } from '../rlhf/gold.js';
import { meanStd, pairedInterval, seedVarianceWarning } from '../experiments/stats.js';
import type { ExperimentSpec } from '../experiments/spec.js';

export interface RunView {
  id: number;
  experimentId: number | null;
  experimentName: string | null;
  objective: string;
  seed: number;
  status: Run['status'];
  device: string | null;
  /** How the device was chosen (auto's fallbacks and their reasons; where GPU state lived). */
  deviceNote: string | null;
  created: string;
  started: string | null;
  finished: string | null;
  error: string | null;
  /** Last PPO iteration with metrics, and how many the spec asks for. */
  lastStep: number | null;
  iterations: number | null;
  /** The last evaluation on held-out prompts (gold null in a study without gold), its peak gold, and
   *  where hacking began (null: it did not, or cannot be seen without gold). */
  final: { step: number; gold: number | null; proxy: number; kl: number } | null;
  peak: { step: number; gold: number } | null;
  onset: number | null;
  /** Step of the checkpoint a resume would start from. */
  resumableFrom: number | null;
}

const specOf = (e: Experiment | undefined) => e?.spec as unknown as ExperimentSpec | undefined;

/** Whether a study measures gold: built-in worlds do; a dataset world only with a held-out reward model as judge. */
export function specHasGold(spec: ExperimentSpec | undefined): boolean {
  const w = spec?.world as { name?: string; gold?: unknown } | undefined;
  return !(w?.name === 'dataset' && !w.gold);
}

/** A run's evaluations: gold (with its standard error), proxy and KL per evaluation step; without gold, keyed by the proxy. */
export function evalPoints(store: Store, runId: number, hasGold = true): EvalPoint[] {
  const get = (k: string) => new Map((store.metrics.series([runId], k)[0]?.points ?? []).map((p) => [p.step, p.y]));
  const gold = get('eval/gold'), proxy = get('eval/proxy'), kl = get('eval/kl'), se = get('eval/gold_se');
  const steps = [...(hasGold ? gold : proxy).entries()].filter(([, y]) => y !== null).map(([step]) => step).sort((a, b) => a - b);
  return steps.map((step) => ({
    step, gold: hasGold ? gold.get(step)! : NaN, proxy: proxy.get(step) ?? NaN, kl: kl.get(step) ?? NaN,
    ...(hasGold && se.get(step) !== null && se.get(step) !== undefined && { goldSe: se.get(step)! }),
  }));
}

/** The ensemble-mean reward of a run's evaluations against KL: one proxy shared by every objective (for studies without gold). */
function rewardMeanPoints(store: Store, runId: number): EvalPoint[] {
  const get = (k: string) => new Map((store.metrics.series([runId], k)[0]?.points ?? []).map((p) => [p.step, p.y ?? NaN]));
  const y = get('eval/reward_mean'), kl = get('eval/kl');
  return [...y.keys()].sort((a, b) => a - b).map((step) => ({ step, gold: y.get(step)!, proxy: NaN, kl: kl.get(step) ?? NaN }))
    .filter((p) => Number.isFinite(p.gold) && Number.isFinite(p.kl));
}

export function runView(store: Store, run: Run, exp?: Experiment): RunView {
  const e = exp ?? (run.experimentId !== null ? store.experiments.get(run.experimentId) : undefined);
  const spec = specOf(e);
  const hasGold = specHasGold(spec);
  const evals = evalPoints(store, run.id, hasGold);
  const last = evals[evals.length - 1];
  const onset = evals.length && hasGold ? hackingOnset(evals, spec?.onsetMargin ?? 0.1) : null;
  const ck = isComplete(run.status) ? undefined : store.runs.latestCheckpoint(run.id);
  return {
    id: run.id, experimentId: run.experimentId, experimentName: e?.name ?? null, objective: run.objective, seed: run.seed, status: run.status,
    device: run.device, deviceNote: typeof run.versions.device === 'string' ? run.versions.device : null, created: run.created, started: run.started, finished: run.finished, error: run.error,
    lastStep: store.metrics.lastStep(run.id), iterations: spec?.ppo?.iterations ?? null,
    final: last ? { step: last.step, gold: hasGold ? last.gold : null, proxy: last.proxy, kl: last.kl } : null,
    peak: evals.length && hasGold ? peak(evals) : null,
    onset: onset?.step ?? null,
    resumableFrom: ck ? ck.step : null,
  };
}

export type StudyStatus = 'running' | 'queued' | 'stopped' | 'failed' | 'finished' | 'empty';

export interface ObjectiveView {
  name: string;
  kind: string;
  lambda: number | null;
  runIds: number[];
  seeds: number;
  /** Mean and spread over the runs that have the value (n of them; std is 0 for one run). */
  finalGold: Spread | null;
  peakGold: Spread | null;
  finalKl: Spread | null;
  finalProxy: Spread | null;
  /** Runs in which hacking began (gold fell while the proxy rose), and the mean step where it did. */
  hacked: number;
  onsetStep: number | null;
  /** Gold of this objective at the KL the first (standard) objective ended with, averaged over seeds. */
  goldAtStandardKl: number | null;
}

export interface Spread { mean: number; std: number; n: number }

export interface Comparison {
  a: string;
  b: string;
  /** What is compared: final gold, or (no gold) the ensemble-mean reward at the KL both runs of a seed reached. */
  metric: 'final_gold' | 'ensemble_mean_at_matched_kl';
  /** Mean over seeds of the metric's difference (a − b), with a 95 % paired t interval. */
  mean: number;
  lo: number;
  hi: number;
  seeds: number;
  significant: boolean;
  warning: string | null;
}

export interface StudyView {
  id: number;
  name: string;
  created: string;
  world: string;
  status: StudyStatus;
  /** False for a dataset world without a judge: no gold, so hacking cannot be seen. */
  hasGold: boolean;
  runs: RunView[];
  objectives: ObjectiveView[];
  comparisons: Comparison[];
  /** One sentence on what the study found (null until every run finished). */
  verdict: string | null;
  /** The reward ensemble the study trained (its id on the Ensembles screen and its held-out quality), once trained. */
  ensemble: StudyEnsemble | null;
  spec: ExperimentSpec;
}

export interface StudyEnsemble {
  id: number;
  name: string;
  accuracy: { single: number; nominal: number; mean: number; min: number; per_head: number[] } | null;
  /** Head disagreement relative to the reward's spread (0.01 = 1 %). */
  relativeDisagreement: number | null;
}

/** The ensemble a study trained: the runner saves it under <data dir>/experiments/<id>/ensemble. */
export function studyEnsemble(store: Store, experimentId: number): StudyEnsemble | null {
  const suffix = `/experiments/${experimentId}/ensemble`;
  const arts = new Map(store.artifacts.list('ensemble').map((a) => [a.id, a]));
  const e = store.ensembles.list().find((x) => x.artifactId !== null && arts.get(x.artifactId)?.path.replace(/\\/g, '/').endsWith(suffix));
  if (!e) return null;
  const m = e.metrics as { accuracy?: StudyEnsemble['accuracy']; relative_disagreement?: number; report?: { accuracy?: StudyEnsemble['accuracy']; relative_disagreement?: number } };
  const rep = m.report ?? m;
  return { id: e.id, name: e.name, accuracy: rep.accuracy ?? null, relativeDisagreement: typeof rep.relative_disagreement === 'number' ? rep.relative_disagreement : null };
}

export function studyStatus(runs: { status: Run['status'] }[]): StudyStatus {
  if (!runs.length) return 'empty';
  if (runs.some((r) => r.status === 'running')) return 'running';
  if (runs.every((r) => isComplete(r.status))) return 'finished';
  if (runs.some((r) => r.status === 'failed')) return 'failed';
  if (runs.some((r) => r.status === 'cancelled' || r.status === 'paused')) return 'stopped';
  return runs.some((r) => isComplete(r.status)) ? 'stopped' : 'queued';
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${fmt(Math.abs(x))}`;

export function studyView(store: Store, exp: Experiment): StudyView {
  const spec = specOf(exp)!;
  const hasGold = specHasGold(spec);
  const runs = store.runs.list({ experimentId: exp.id }).map((r) => runView(store, r, exp));
  const objectivesSpec = spec.objectives ?? [];
  const ms = (xs: number[]): Spread | null => { const f = xs.filter(Number.isFinite); return f.length ? meanStd(f) : null; };
  const stdRuns = runs.filter((r) => r.objective === objectivesSpec[0]?.name);
  const stdKl = ms(stdRuns.map((r) => r.final?.kl ?? NaN))?.mean ?? null;
  const objectives: ObjectiveView[] = objectivesSpec.map((o) => {
    const rs = runs.filter((r) => r.objective === o.name);
    const onsets = rs.map((r) => r.onset).filter((x): x is number => x !== null);
    const atKl = stdKl === null || !hasGold ? [] : rs.map((r) => goldAtKl(evalPoints(store, r.id), stdKl)).filter((x): x is number => x !== null);
    return {
      name: o.name, kind: o.kind, lambda: o.kind === 'robust' ? o.lambda : null, runIds: rs.map((r) => r.id), seeds: rs.length,
      finalGold: ms(rs.map((r) => r.final?.gold ?? NaN)), peakGold: ms(rs.map((r) => r.peak?.gold ?? NaN)), finalKl: ms(rs.map((r) => r.final?.kl ?? NaN)),
      finalProxy: ms(rs.map((r) => r.final?.proxy ?? NaN)),
      hacked: onsets.length, onsetStep: onsets.length ? onsets.reduce((a, b) => a + b, 0) / onsets.length : null,
      goldAtStandardKl: atKl.length ? atKl.reduce((a, b) => a + b, 0) / atKl.length : null,
    };
  });
  const status = studyStatus(runs);
  // Paired comparison against the first objective (standard RLHF), seed by seed: of final gold, or —
  // without gold — of the ensemble-mean reward at the largest KL both runs reached (as the runner does).
  const comparisons: Comparison[] = [];
  const base = objectivesSpec[0];
  if (base) {
    const done = (name: string) => new Map(runs.filter((r) => r.objective === name && isComplete(r.status) && r.final).map((r) => [r.seed, r]));
    const b = done(base.name);
    for (const o of objectivesSpec.slice(1)) {
      const a = done(o.name);
      const seeds = [...a.keys()].filter((sd) => b.has(sd)).sort((x, y) => x - y);
      let av: number[], bv: number[];
      if (hasGold) {
        av = seeds.map((sd) => a.get(sd)!.final!.gold ?? NaN); bv = seeds.map((sd) => b.get(sd)!.final!.gold ?? NaN);
      } else {
        av = []; bv = [];
        for (const sd of seeds) {
          const pa = rewardMeanPoints(store, a.get(sd)!.id), pb = rewardMeanPoints(store, b.get(sd)!.id);
          if (!pa.length || !pb.length) { av.push(NaN); bv.push(NaN); continue; }
          const k = Math.min(Math.max(...pa.map((p) => p.kl)), Math.max(...pb.map((p) => p.kl)));
          av.push(goldAtKl(pa, k) ?? NaN); bv.push(goldAtKl(pb, k) ?? NaN);
        }
      }
      const keep = av.map((x, i) => Number.isFinite(x) && Number.isFinite(bv[i]!));
      av = av.filter((_, i) => keep[i]); bv = bv.filter((_, i) => keep[i]);
      if (!av.length) continue;
      const ci = pairedInterval(av, bv);
      comparisons.push({
        a: o.name, b: base.name, metric: hasGold ? 'final_gold' : 'ensemble_mean_at_matched_kl', mean: ci.mean, lo: ci.lo, hi: ci.hi, seeds: av.length,
        significant: ci.significant, warning: seedVarianceWarning(av, bv),
      });
    }
  }
  const ensemble = studyEnsemble(store, exp.id);
  return {
    id: exp.id, name: exp.name, created: exp.created, world: spec.world?.name ?? 'goodhart-lab', status, hasGold, runs, objectives, comparisons,
    verdict: status === 'finished' ? capitalise(hasGold ? verdict(objectives, comparisons, spec, ensemble) : verdictWithoutGold(objectives, comparisons)) : null, ensemble, spec,
  };
}

/** The one sentence a newcomer reads first. Plain words; numbers are gold (true quality) on held-out prompts. */
export function verdict(objectives: ObjectiveView[], comparisons: Comparison[], spec: ExperimentSpec, ensemble: StudyEnsemble | null = null): string {
  const std = objectives[0];
  if (!std || !std.finalGold) return 'the study finished, but no gold evaluations were recorded, so there is nothing to compare.';
  const hackNote = (o: ObjectiveView) => (o.hacked ? `; ${o.name} started reward hacking in ${o.hacked} of ${o.seeds} seed${o.seeds > 1 ? 's' : ''} (around step ${Math.round(o.onsetStep!)})` : '');
  if (objectives.length === 1) {
    return `${std.name} reached a final gold of ${fmt(std.finalGold.mean)} (peak ${fmt(std.peakGold!.mean)})${hackNote(std)}; add a second objective to compare.`;
  }
  // Lead with the paper's robust objective when the study has one, else the second objective.
  const main = comparisons.find((c) => objectives.find((o) => o.name === c.a)?.kind === 'robust') ?? comparisons[0];
  if (!main) return 'the study finished, but no seed has both objectives finished, so they cannot be compared.';
  const other = objectives.find((o) => o.name === main.a)!;
  const vs = `final gold ${fmt(other.finalGold?.mean ?? NaN)} vs ${fmt(std.finalGold.mean)}`;
  const ci = `${signed(main.mean)}, 95% interval ${signed(main.lo)} to ${signed(main.hi)} over ${main.seeds} seed${main.seeds > 1 ? 's' : ''}`;
  const hack = std.hacked && !other.hacked ? `; ${std.name} started reward hacking in ${std.hacked} of ${std.seeds} seeds and ${other.name} in none`
    : std.hacked || other.hacked ? `; reward hacking began in ${std.hacked} of ${std.seeds} ${std.name} run${std.seeds > 1 ? 's' : ''} and ${other.hacked} of ${other.seeds} ${other.name} run${other.seeds > 1 ? 's' : ''}` : '';
  // Why an ensemble objective did not help: heads that barely disagree give the min nothing to work with.
  const usesHeads = ['robust', 'wco', 'mean', 'uwo', 'softmin', 'nominal'].includes(other.kind);
  const flatHeads = usesHeads && ensemble?.relativeDisagreement !== null && ensemble?.relativeDisagreement !== undefined && ensemble.relativeDisagreement < 0.05;
  const flatText = flatHeads ? `the ensemble's heads barely disagree (${(100 * ensemble!.relativeDisagreement!).toFixed(1)}% of the reward's spread), so the robust term had little to work with — try head diversity (bootstrap, the bt_per_head loss) on the Ensembles screen` : '';
  const flat = flatText ? ` — ${flatText}` : '';
  if (main.seeds < 2) return `${other.name} vs ${std.name}: ${vs} (${signed(main.mean)}) from a single seed${hack} — run at least 2 seeds before trusting the difference.`;
  if (main.significant && main.mean > 0) return `${other.name} kept more true quality than ${std.name}: ${vs} (${ci})${hack}.`;
  if (main.significant && main.mean < 0) {
    const klO = other.finalKl?.mean, klS = std.finalKl?.mean;
    const why = klO !== undefined && klS !== undefined && Number.isFinite(klO) && Number.isFinite(klS)
      ? klO > klS ? ` — ${other.name} drifted further from the starting policy (KL ${fmt(klO)} vs ${fmt(klS)}) and was hacked harder` : ` — ${other.name} stayed closer to the starting policy (KL ${fmt(klO)} vs ${fmt(klS)}): too cautious here`
      : '';
    return `${std.name} ended with more true quality than ${other.name}: ${vs} (${ci})${hack}${why}${why && flatText ? `; ${flatText}` : flat}.`;
  }
  const more = spec.seeds.length < 5 ? ' — run more seeds (the Thorough preset) to tell them apart' : '';
  return `no clear difference between ${other.name} and ${std.name}: ${vs} (${ci})${hack}${flat || more}.`;
}

/** The verdict of a study without gold: what can be said (reward per unit of drift), and what cannot (hacking). */
export function verdictWithoutGold(objectives: ObjectiveView[], comparisons: Comparison[]): string {
  const std = objectives[0];
  const main = comparisons.find((c) => objectives.find((o) => o.name === c.a)?.kind === 'robust') ?? comparisons[0];
  const noGold = 'this study has no gold reward (no judge model was given), so it cannot show reward hacking';
  if (!std || !main) return `${noGold}; with a single objective there is nothing to compare.`;
  if (main.seeds < 2) return `${noGold}; at the same distance from the starting model, ${main.a} vs ${main.b} differ by ${signed(main.mean)} ensemble-mean reward from a single seed — run at least 2 seeds, and add a held-out reward model as gold to compare true quality.`;
  const diff = `${signed(main.mean)} ensemble-mean reward at matched KL (95% interval ${signed(main.lo)} to ${signed(main.hi)} over ${main.seeds} seeds)`;
  if (main.significant) return `${noGold}; at the same distance from the starting model, ${main.mean > 0 ? main.a : main.b} earned more of the shared proxy reward: ${main.a} vs ${main.b} ${diff} — add a held-out reward model as gold to see which one really did better.`;
  return `${noGold}; at the same distance from the starting model, ${main.a} and ${main.b} earned about the same shared proxy reward (${diff}) — add a held-out reward model as gold to compare true quality.`;
}
