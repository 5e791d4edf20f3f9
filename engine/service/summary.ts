// What the screens show about runs and studies, computed from the store (so a study run from the CLI
// looks the same as one started in the app): each run's final and peak gold, the hacking onset, the
// per-objective means across seeds, the paired comparison with the standard objective, and the
// one-sentence verdict a newcomer reads first.
import type { Store, Run, Experiment } from '../store/index.js';
import { hackingOnset, peak, goldAtKl, type EvalPoint } from '../rlhf/gold.js';
import { meanStd, pairedBootstrap, seedVarianceWarning } from '../experiments/stats.js';
import type { ExperimentSpec } from '../experiments/spec.js';

export interface RunView {
  id: number;
  experimentId: number | null;
  experimentName: string | null;
  objective: string;
  seed: number;
  status: Run['status'];
  device: string | null;
  created: string;
  started: string | null;
  finished: string | null;
  error: string | null;
  /** Last PPO iteration with metrics, and how many the spec asks for. */
  lastStep: number | null;
  iterations: number | null;
  /** The last gold evaluation (held-out prompts), its peak, and where hacking began (null: it did not). */
  final: { step: number; gold: number; proxy: number; kl: number } | null;
  peak: { step: number; gold: number } | null;
  onset: number | null;
  /** Step of the checkpoint a resume would start from. */
  resumableFrom: number | null;
}

export function evalPoints(store: Store, runId: number): EvalPoint[] {
  const get = (k: string) => store.metrics.series([runId], k)[0]?.points ?? [];
  const gold = get('eval/gold'), proxy = new Map(get('eval/proxy').map((p) => [p.step, p.y])), kl = new Map(get('eval/kl').map((p) => [p.step, p.y]));
  return gold.filter((p) => p.y !== null).map((p) => ({ step: p.step, gold: p.y!, proxy: proxy.get(p.step) ?? NaN, kl: kl.get(p.step) ?? NaN }));
}

const specOf = (e: Experiment | undefined) => e?.spec as unknown as ExperimentSpec | undefined;

export function runView(store: Store, run: Run, exp?: Experiment): RunView {
  const e = exp ?? (run.experimentId !== null ? store.experiments.get(run.experimentId) : undefined);
  const spec = specOf(e);
  const evals = evalPoints(store, run.id);
  const last = evals[evals.length - 1];
  const onset = evals.length ? hackingOnset(evals, spec?.onsetMargin ?? 0.1) : null;
  const ck = run.status === 'finished' ? undefined : store.runs.latestCheckpoint(run.id);
  return {
    id: run.id, experimentId: run.experimentId, experimentName: e?.name ?? null, objective: run.objective, seed: run.seed, status: run.status,
    device: run.device, created: run.created, started: run.started, finished: run.finished, error: run.error,
    lastStep: store.metrics.lastStep(run.id), iterations: spec?.ppo?.iterations ?? null,
    final: last ? { step: last.step, gold: last.gold, proxy: last.proxy, kl: last.kl } : null,
    peak: evals.length ? peak(evals) : null,
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
  finalGold: { mean: number; std: number } | null;
  peakGold: { mean: number; std: number } | null;
  finalKl: { mean: number; std: number } | null;
  /** Runs in which hacking began (gold fell while the proxy rose), and the mean step where it did. */
  hacked: number;
  onsetStep: number | null;
  /** Gold of this objective at the KL the first (standard) objective ended with, averaged over seeds. */
  goldAtStandardKl: number | null;
}

export interface Comparison {
  a: string;
  b: string;
  /** Mean over seeds of final gold (a − b), with a 95 % paired-bootstrap interval. */
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
  if (runs.every((r) => r.status === 'finished')) return 'finished';
  if (runs.some((r) => r.status === 'failed')) return 'failed';
  if (runs.some((r) => r.status === 'cancelled' || r.status === 'paused')) return 'stopped';
  return runs.some((r) => r.status === 'finished') ? 'stopped' : 'queued';
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${fmt(Math.abs(x))}`;

export function studyView(store: Store, exp: Experiment): StudyView {
  const spec = specOf(exp)!;
  const runs = store.runs.list({ experimentId: exp.id }).map((r) => runView(store, r, exp));
  const objectivesSpec = spec.objectives ?? [];
  const ms = (xs: number[]) => { const f = xs.filter(Number.isFinite); if (!f.length) return null; const s = meanStd(f); return { mean: s.mean, std: s.std }; };
  const stdRuns = runs.filter((r) => r.objective === objectivesSpec[0]?.name);
  const stdKl = ms(stdRuns.map((r) => r.final?.kl ?? NaN))?.mean ?? null;
  const objectives: ObjectiveView[] = objectivesSpec.map((o) => {
    const rs = runs.filter((r) => r.objective === o.name);
    const onsets = rs.map((r) => r.onset).filter((x): x is number => x !== null);
    const atKl = stdKl === null ? [] : rs.map((r) => goldAtKl(evalPoints(store, r.id), stdKl)).filter((x): x is number => x !== null);
    return {
      name: o.name, kind: o.kind, lambda: o.kind === 'robust' ? o.lambda : null, runIds: rs.map((r) => r.id), seeds: rs.length,
      finalGold: ms(rs.map((r) => r.final?.gold ?? NaN)), peakGold: ms(rs.map((r) => r.peak?.gold ?? NaN)), finalKl: ms(rs.map((r) => r.final?.kl ?? NaN)),
      hacked: onsets.length, onsetStep: onsets.length ? onsets.reduce((a, b) => a + b, 0) / onsets.length : null,
      goldAtStandardKl: atKl.length ? atKl.reduce((a, b) => a + b, 0) / atKl.length : null,
    };
  });
  const status = studyStatus(runs);
  // Paired comparison of final gold against the first objective (standard RLHF), seed by seed.
  const comparisons: Comparison[] = [];
  const base = objectivesSpec[0];
  if (base) {
    const finalBy = (name: string) => new Map(runs.filter((r) => r.objective === name && r.status === 'finished' && r.final).map((r) => [r.seed, r.final!.gold]));
    const b = finalBy(base.name);
    for (const o of objectivesSpec.slice(1)) {
      const a = finalBy(o.name);
      const seeds = [...a.keys()].filter((s) => b.has(s));
      if (!seeds.length) continue;
      const av = seeds.map((s) => a.get(s)!), bv = seeds.map((s) => b.get(s)!);
      const ci = pairedBootstrap(av, bv, { seed: 0 });
      comparisons.push({ a: o.name, b: base.name, mean: ci.mean, lo: ci.lo, hi: ci.hi, seeds: seeds.length, significant: ci.significant && seeds.length > 1, warning: seedVarianceWarning(av, bv) });
    }
  }
  const ensemble = studyEnsemble(store, exp.id);
  return {
    id: exp.id, name: exp.name, created: exp.created, world: spec.world?.name ?? 'goodhart-lab', status, runs, objectives, comparisons,
    verdict: status === 'finished' ? capitalise(verdict(objectives, comparisons, spec, ensemble)) : null, ensemble, spec,
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
  const flat = usesHeads && ensemble?.relativeDisagreement !== null && ensemble?.relativeDisagreement !== undefined && ensemble.relativeDisagreement < 0.05
    ? ` — the ensemble's heads barely disagree (${(100 * ensemble.relativeDisagreement).toFixed(1)}% of the reward's spread), so the robust term had little to work with; try head diversity (bootstrap, the bt_per_head loss) on the Ensembles screen`
    : '';
  if (main.seeds < 2) return `${other.name} vs ${std.name}: ${vs} (${signed(main.mean)}) from a single seed${hack} — run at least 2 seeds before trusting the difference.`;
  if (main.significant && main.mean > 0) return `${other.name} kept more true quality than ${std.name}: ${vs} (${ci})${hack}.`;
  if (main.significant && main.mean < 0) {
    const klO = other.finalKl?.mean, klS = std.finalKl?.mean;
    const why = klO !== undefined && klS !== undefined && Number.isFinite(klO) && Number.isFinite(klS)
      ? klO > klS ? ` — ${other.name} drifted further from the starting policy (KL ${fmt(klO)} vs ${fmt(klS)}) and was hacked harder` : ` — ${other.name} stayed closer to the starting policy (KL ${fmt(klO)} vs ${fmt(klS)}): too cautious here`
      : '';
    return `${std.name} ended with more true quality than ${other.name}: ${vs} (${ci})${hack}${flat || why}.`;
  }
  const more = spec.seeds.length < 5 ? ' — run more seeds (the Thorough preset) to tell them apart' : '';
  return `no clear difference between ${other.name} and ${std.name}: ${vs} (${ci})${hack}${flat || more}.`;
}
