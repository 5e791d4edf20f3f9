// What the screens show about runs and studies: a view of engine/experiments/analysis.ts's StudyAnalysis
// (each run's final and peak gold, the hacking onset, the per-objective means across seeds, the paired
// comparison with the standard objective, the verdict) plus what only the screens need (status, devices,
// resumable checkpoints). Nothing here compares objectives itself.
import { isComplete, type Store, type Run, type Experiment } from '../store/index.js';
import { analyseRuns, analyseRun, studyHasGold, DEFAULT_ONSET_MARGIN, type StudyAnalysis, type Stat, type BenchmarkAnalysis, type OnPolicyDisagreement } from '../experiments/analysis.js';
import type { ExperimentSpec } from '../experiments/spec.js';
import { BENCH_PREFIX } from '../../common/metrics.js';
import { studyEnsembleRecord } from '../experiments/layout.js';

export interface RunView {
  id: number;
  experimentId: number | null;
  experimentName: string | null;
  objective: string;
  /** The objective's kind (what its colour and label follow), 'unknown' for runs that did not record it. */
  kind: string;
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
  /** Benchmark metric keys recorded on the run (docs/metrics.md § Benchmarks), for the Runs overlay. */
  benchmarks: string[];
}

const specOf = (e: Experiment | undefined) => e?.spec as unknown as ExperimentSpec | undefined;
const objectiveKind = (r: Run) => String((r.config.objective as { kind?: unknown } | undefined)?.kind ?? 'unknown');

export function runView(store: Store, run: Run, exp?: Experiment): RunView {
  const e = exp ?? (run.experimentId !== null ? store.experiments.get(run.experimentId) : undefined);
  const spec = specOf(e);
  const a = analyseRun(store, run, studyHasGold(spec?.world ?? (run.config as { world?: { name?: string; gold?: unknown } }).world), spec?.onsetMargin ?? DEFAULT_ONSET_MARGIN);
  const ck = isComplete(run.status) ? undefined : store.runs.latestCheckpoint(run.id);
  return {
    id: run.id, experimentId: run.experimentId, experimentName: e?.name ?? null, objective: run.objective, seed: run.seed, status: run.status,
    device: run.device, deviceNote: typeof run.versions.device === 'string' ? run.versions.device : null, created: run.created, started: run.started, finished: run.finished, error: run.error,
    lastStep: store.metrics.lastStep(run.id), iterations: spec?.ppo?.iterations ?? null,
    kind: objectiveKind(run),
    final: a.final, peak: a.peak, onset: a.onset,
    resumableFrom: ck ? ck.step : null,
    benchmarks: store.metrics.keys(run.id).filter((k) => k.startsWith(BENCH_PREFIX)),
  };
}

export type StudyStatus = 'running' | 'queued' | 'stopped' | 'failed' | 'finished' | 'empty';

export interface ObjectiveView {
  name: string;
  kind: string;
  /** Plain-language label and chart colour (engine/experiments/objectives.ts), as in the report. */
  label: string;
  color: string;
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
  aLabel: string;
  bLabel: string;
  /** What is compared: final gold, or (no gold) the ensemble-mean reward at the KL both runs of a seed reached. */
  metric: 'final_gold' | 'ensemble_mean_at_matched_kl';
  /** Mean over seeds of the metric's difference (a − b), with a 95 % paired t interval (null: too few seeds). */
  mean: number | null;
  lo: number | null;
  hi: number | null;
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
  /** One sentence on what the study found, and the caveats under it (null / empty until every run finished). */
  verdict: string | null;
  caveats: string[];
  /** The reward ensemble the study trained (its id on the Ensembles screen and its held-out quality), once trained. */
  ensemble: StudyEnsemble | null;
  /** Per objective, the heads' disagreement on the policy's own evaluation samples at the start and the end
   *  (eval/member_std), also over the ensemble report's reward scale; empty when no run logged it. */
  onPolicyDisagreement: OnPolicyDisagreement[];
  /** Benchmark scores recorded on the runs (experiments.evaluate, `rrlhf eval --record`): before and after, paired. */
  benchmarks: BenchmarkAnalysis[];
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
  const e = studyEnsembleRecord(store, experimentId);
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

const spread = (st: Stat): Spread | null => (st.mean === null ? null : { mean: st.mean, std: st.std ?? 0, n: st.n });

/** The screens' view of a study's analysis. */
export function viewOfAnalysis(a: StudyAnalysis): Pick<StudyView, 'objectives' | 'comparisons' | 'hasGold'> {
  return {
    hasGold: a.hasGold,
    objectives: a.objectives.map((o, i) => {
      const s = a.summaries[i]!;
      return {
        name: o.name, kind: o.kind, label: o.label, color: o.color, lambda: o.kind === 'robust' ? o.lambda : null, runIds: o.runIds, seeds: s.n,
        finalGold: spread(s.finalGold), peakGold: spread(s.peakGold), finalKl: spread(s.finalKl), finalProxy: spread(s.finalProxy),
        hacked: s.onsets, onsetStep: s.onsetStep, goldAtStandardKl: s.goldAtBaseKl,
      };
    }),
    comparisons: a.comparisons.filter((c) => c.n > 0).map((c) => ({
      a: c.a, b: c.b, aLabel: c.aLabel, bLabel: c.bLabel, metric: c.metric, mean: c.mean, lo: c.lo, hi: c.hi, seeds: c.n, significant: c.significant, warning: c.warning,
    })),
  };
}

export function studyView(store: Store, exp: Experiment): StudyView {
  const spec = specOf(exp)!;
  const stored = store.runs.list({ experimentId: exp.id });
  const runs = stored.map((r) => runView(store, r, exp));
  const status = studyStatus(runs);
  const a = analyseRuns(store, { spec, runs: stored, experimentId: exp.id });
  const done = status === 'finished';
  return {
    id: exp.id, name: exp.name, created: exp.created, world: spec.world?.name ?? 'goodhart-lab', status, runs, ...viewOfAnalysis(a),
    verdict: done ? a.verdict.text : null, caveats: done ? a.verdict.caveats : [], ensemble: studyEnsemble(store, exp.id), onPolicyDisagreement: a.onPolicyDisagreement, benchmarks: a.benchmarks, spec,
  };
}
