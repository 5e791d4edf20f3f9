// The report model: everything a report shows, gathered for one experiment or a list of runs as one
// plain JSON-serialisable object (its shape: schema.ts). The HTML, PDF, CSV and JSON exports all render
// this object; nothing downstream reads the store again (apart from the CSV's raw metric rows).
//
// It holds (docs/method.md § Gold evaluation, § Statistics, § Claims): setup and a methods paragraph
// written from the spec; per-run summaries (final and peak gold, hacking onset, Gao fit); per-objective
// means ± std across seeds; the paired t interval of final gold against the first objective with the
// seed-variance warning; gold at matched KL; a λ sweep; the ensemble's quality report; hacked samples;
// and a reproducibility block. The figures are the study's analysis (engine/experiments/analysis.ts),
// the same the app shows; gather.ts reads the rest, prose.ts words it.

import { type Store } from '../store/index.js';
import { type ExperimentSpec } from '../experiments/spec.js';
import { analyseRuns, type StudyAnalysis } from '../experiments/analysis.js';
import { methodsParagraphs, GLOSSARY, type Setup } from './methods.js';
import { REPORT_SCHEMA, type ReportModel, type EnsembleDiagnostics } from './schema.js';
import { selectRuns, objectiveSpecs, runReports, curves, lambdaSweep, hackedSamples, configDifferences, ensembleDiagnostics, reproducibility, bestOfNResults } from './gather.js';
import { importedRunsCaveat, reportTitles, ensembleNotes } from './prose.js';

export * from './schema.js';

export interface BuildOptions {
  store: Store;
  /** The data directory (ensemble report files, model hashes). Optional: without it those are left out. */
  dataDir?: string;
  experimentId?: number;
  runIds?: number[];
  /** How many hacked samples to show (default 8). */
  gallery?: number;
  /** Fixed timestamp (tests, reproducible exports). */
  now?: Date;
}

/** Gathers the report for an experiment (all its runs) or for a list of runs. */
export async function buildReportModel(o: BuildOptions): Promise<ReportModel> {
  const { store } = o;
  const { runs, exp } = selectRuns(store, o);
  const expIds = [...new Set(runs.map((r) => r.experimentId).filter((x): x is number => x !== null))];
  const spec = (exp?.spec ?? null) as ExperimentSpec | null;
  const seeds = [...new Set(runs.map((r) => r.seed))].sort((a, b) => a - b);

  // The study's analysis: the same objectives, per-run figures, comparisons and verdict the app shows.
  const an = analyseRuns(store, { spec, runs, experimentId: exp?.id ?? null });
  const { hasGold, objectives, summaries, matchedKl, method } = an;
  const specs = objectiveSpecs(spec, objectives, runs);
  const reports = runReports(store, an, runs);
  // Paired comparisons: of final gold (the comparisons table), or without gold of the shared proxy at matched KL.
  const comparisons = an.comparisons.filter((c) => c.metric === 'final_gold');
  const proxyComparisons = an.comparisons.filter((c) => c.metric !== 'final_gold' && c.n > 0);
  // Hacked samples are those the proxy overrated relative to gold: none to show without gold.
  const gallery = hackedSamples(store, objectives, reports, hasGold ? o.gallery ?? 8 : 0);

  // Setup for the methods text: the experiment's spec, else the first run's stored config.
  const cfg = (runs[0]!.config ?? {}) as Partial<Setup>;
  const setup: Setup | null = spec ?? (cfg.world && cfg.ppo ? { world: cfg.world, ppo: cfg.ppo, normalize: cfg.normalize ?? 'running', perturb: cfg.perturb ?? null } as Setup : null);
  const differences = !spec && runs.length > 1 ? configDifferences(store, runs) : [];
  const methods = methodsParagraphs(setup, objectives, specs, seeds, method, an.onsetMargin, expIds.length, exp !== null);

  const imported = importedRunsCaveat(reports, runs);
  const caveats = [...an.verdict.caveats, ...(imported ? [imported] : [])];
  const { title, subtitle } = reportTitles({ exp, expIds, runIds: reports.map((r) => r.id), setup, hasGold, objectives, seeds });

  return {
    schema: REPORT_SCHEMA, generated: (o.now ?? new Date()).toISOString(), title, subtitle, hasGold, verdict: an.verdict.text, caveats,
    experiment: exp ? { id: exp.id, name: exp.name, created: exp.created, specHash: exp.specHash } : null,
    spec, differences, methods, glossary: GLOSSARY, onsetMargin: an.onsetMargin, objectives, runs: reports, summaries, comparisons,
    proxyComparisons, matchedKl, lambdaSweep: lambdaSweep(hasGold, objectives, specs, summaries, comparisons),
    // Benchmarks recorded on the runs: the study analysis pairs them (before/after, against the baseline).
    benchmarks: an.benchmarks.length ? an.benchmarks : null,
    ensemble: withOnPolicy(await ensembleDiagnostics(store, o.dataDir, exp, spec), an), bestOfN: bestOfNResults(store, runs, spec), gallery, curves: curves(store, objectives, reports),
    reproducibility: await reproducibility(store, { runs, exp, setup, seeds, dataDir: o.dataDir }),
  };
}

/** The ensemble diagnostics with the analysis's on-policy disagreement beside the held-out figures. */
function withOnPolicy(d: EnsembleDiagnostics | null, an: StudyAnalysis): EnsembleDiagnostics | null {
  if (!d) return null;
  d.onPolicy = an.onPolicyDisagreement;
  d.notes = ensembleNotes(d);
  return d;
}
