// The report model's shape: everything a report shows, as one plain JSON-serialisable object that the
// HTML, PDF, CSV and JSON exports render (docs/method.md § Gold evaluation, § Statistics, § Claims). The
// figures come from the study's analysis (engine/experiments/analysis.ts); gather.ts reads the rest from
// the store, prose.ts words it, model.ts puts it together.

import { type ExperimentSpec } from '../experiments/spec.js';
import { type Stat, type ObjectiveInfo, type ObjectiveSummary, type Comparison, type MatchedKl, type RunAnalysis, type BenchmarkAnalysis, type OnPolicyDisagreement } from '../experiments/analysis.js';
import { type BonResult } from '../experiments/bon.js';
import { METRIC } from '../../common/metrics.js';

export const REPORT_SCHEMA = 'rrlhf-report/1';

/** Shown at the top of a report whose study has no gold reward (the verdict's own notice). */
export { NO_GOLD_NOTICE } from '../experiments/verdict.js';
export type { Stat, ObjectiveInfo, ObjectiveSummary, Comparison, MatchedKl } from '../experiments/analysis.js';

/** A run as the analysis sees it (evaluations, final, peak, onset, Gao fit), plus what only the report shows. */
export interface RunReport extends Omit<RunAnalysis, 'final'> {
  /** gold NaN in a study without gold (as in the CSV and JSON exports). */
  final: { step: number; gold: number; proxy: number; kl: number } | null;
  device: string | null;
  error: string | null;
  started: string | null;
  finished: string | null;
  /** Last step with any metric. */
  lastStep: number | null;
  alerts: { step: number; kind: string; message: string }[];
  /** Latest checkpoint (step and sha256), to pin the final policy. */
  checkpoint: { step: number; sha256: string } | null;
}

export interface LambdaRow {
  lambda: number;
  objective: string;
  label: string;
  n: number;
  finalGold: Stat;
  peakGold: Stat;
  finalKl: Stat;
  /** Paired difference of final gold against the baseline objective. */
  vsBase: { mean: number | null; lo: number | null; hi: number | null } | null;
}

export interface EnsembleDiagnostics {
  method: string;
  heads: number;
  /** Where the figures came from. */
  source: string;
  settings: Record<string, unknown>;
  pairs: number | null;
  accuracy: { single: number | null; nominal: number | null; mean: number | null; min: number | null; perHead: number[] };
  sigma: { mean: number; std: number; min: number; max: number } | null;
  disagreement: number | null;
  pairDisagreement: number | null;
  rewardScale: number | null;
  relativeDisagreement: number | null;
  /** Per objective, the same disagreement on the policy's own evaluation samples (eval/member_std) at the
   *  first and last evaluation, and over rewardScale; empty when the runs did not log it. */
  onPolicy: OnPolicyDisagreement[];
  calibration: { bins: { lo: number; hi: number; count: number; predicted: number; empirical: number }[]; ece: number | null } | null;
  stdErrorCorrelation: number | null;
  sigmaErrorCorrelation: number | null;
  stage1ValAccuracy: number | null;
  /** Plain-language findings (e.g. "the heads are nearly identical"). */
  notes: string[];
}

export interface GallerySample {
  id: number;
  runId: number;
  objective: string;
  label: string;
  seed: number;
  step: number;
  prompt: string;
  response: string;
  gold: number | null;
  proxy: number | null;
  gap: number | null;
  rewards: number[];
  nominal: number | null;
  min: number | null;
  mean: number | null;
  std: number | null;
  kl: number | null;
  length: number | null;
}

export interface CurvePoint { step: number; x: number; mean: number; std: number; n: number }

export interface Curves {
  /** Seed-band curves of the gold evaluations per objective: x = step and x = mean √KL at that step. */
  eval: { objective: string; gold: CurvePoint[]; proxy: CurvePoint[]; goldVsSqrtKl: CurvePoint[]; proxyVsSqrtKl: CurvePoint[] }[];
  /** Seed bands of per-iteration training metrics, by key, per objective. */
  train: Record<string, { objective: string; points: CurvePoint[] }[]>;
}

export interface Reproducibility {
  appVersions: string[];
  ortVersions: string[];
  nodeVersions: string[];
  devices: string[];
  /** How each run's device was chosen (auto's fallbacks with their reasons, where state lived). */
  deviceNotes: string[];
  seeds: number[];
  worldSeed: number | null;
  specHash: string | null;
  experiment: { id: number; name: string; created: string } | null;
  generatedBy: { app: string | null; node: string; platform: string };
  /** Files the study depends on, relative to the data directory, with sha256. */
  files: { what: string; path: string; sha256: string; bytes: number }[];
  datasets: { id: number; name: string; hash: string }[];
  command: string | null;
}

export interface ReportModel {
  schema: typeof REPORT_SCHEMA;
  generated: string;
  title: string;
  subtitle: string;
  /** False when the study has no gold reward (a dataset world without a held-out reward model): the
   *  report then shows proxy metrics and KL only — no gold curves, comparisons or hacked samples — and
   *  says so (NO_GOLD_NOTICE). */
  hasGold: boolean;
  verdict: string;
  /** Extra sentences under the verdict: caveats, seed-variance warnings. */
  caveats: string[];
  experiment: { id: number; name: string; created: string; specHash: string } | null;
  /** The stored spec (all defaults written in), or null for runs from several experiments. */
  spec: ExperimentSpec | null;
  /** Settings that differ between runs when they come from several experiments. */
  differences: { path: string; values: string[] }[];
  methods: string[];
  glossary: { term: string; text: string }[];
  onsetMargin: number;
  objectives: ObjectiveInfo[];
  runs: RunReport[];
  summaries: ObjectiveSummary[];
  /** Paired comparisons of final gold against the first objective (empty without gold). */
  comparisons: Comparison[];
  /** Without gold: the paired comparisons of the ensemble-mean reward at matched KL (the study page's). */
  proxyComparisons: Comparison[];
  matchedKl: MatchedKl | null;
  lambdaSweep: LambdaRow[] | null;
  /** Benchmark scores recorded on the runs (docs/evals.md § Studies): per key, π₀, each objective's final
   *  score, its change from π₀ and the comparison with the baseline, paired; null when none. */
  benchmarks: BenchmarkAnalysis[] | null;
  ensemble: EnsembleDiagnostics | null;
  /** Best-of-n results on these runs' policies or on the study's built-in world (same world, seed and
   *  settings), oldest first; null when there are none (docs/method.md § Best-of-n). */
  bestOfN: BestOfNReport[] | null;
  gallery: GallerySample[];
  curves: Curves;
  reproducibility: Reproducibility;
}

/** One stored best-of-n result (store.bon) as the report shows it. */
export interface BestOfNReport {
  id: number;
  name: string;
  finished: string | null;
  /** How it relates to the report: "on run 3's policy", "on this study's world (…)". */
  relation: string;
  /** Its source in words (common/bon.ts bonSourceText). */
  source: string;
  result: BonResult;
}

/** Training metrics whose seed bands the report charts. */
export const TRAIN_KEYS = [METRIC.goldTrain, METRIC.rewardProxy, METRIC.objectiveKl, METRIC.ensembleStd] as const;
