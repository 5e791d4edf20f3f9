// The report model: everything a report shows, gathered from the store for one experiment or a list of
// runs, as one plain JSON-serialisable object. The HTML, PDF, CSV and JSON exports all render this
// object; nothing downstream reads the store again (apart from the CSV's raw metric rows).
//
// What it holds (docs/method.md § Gold evaluation, § Statistics, § Claims): setup and a methods paragraph written from the spec; per-run
// summaries (final and peak gold, hacking onset, Gao fit); per-objective means ± std across seeds; the
// paired t interval of final gold against the first objective with the seed-variance warning; gold at
// matched KL; a λ sweep; the ensemble's quality report; hacked samples; and a reproducibility block.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, stat as fsStat } from 'node:fs/promises';
import path from 'node:path';
import { type Store, type Run, type Experiment, type Sample } from '../store/index.js';
import { specHash } from '../store/experiments.js';
import { type ExperimentSpec, type ObjectiveSpec } from '../experiments/spec.js';
import { studyPaths, studyEnsembleRecord } from '../experiments/layout.js';
import { stat, type Stat } from '../experiments/stats.js';
import { analyseRuns, type ObjectiveInfo, type ObjectiveSummary, type Comparison, type MatchedKl, type RunAnalysis, type BenchmarkAnalysis } from '../experiments/analysis.js';
import { METRIC, BENCH_PREFIX } from '../../common/metrics.js';
import { fmt, list, pct } from '../../common/format.js';
import { methodsParagraphs, GLOSSARY, type Setup } from './methods.js';
import { APP_VERSION } from '../version.js';

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
  gallery: GallerySample[];
  curves: Curves;
  reproducibility: Reproducibility;
}

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

/** Training metrics whose seed bands the report charts. */
export const TRAIN_KEYS = [METRIC.goldTrain, METRIC.rewardProxy, METRIC.objectiveKl, METRIC.ensembleStd] as const;

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file).on('data', (d) => h.update(d)).on('end', () => resolve()).on('error', reject);
  });
  return h.digest('hex');
}

// ---- gathering ------------------------------------------------------------------------------------

function bandCurve(byStep: Map<number, { x: number[]; y: number[] }>, xIsStep: boolean): CurvePoint[] {
  return [...byStep].sort((a, b) => a[0] - b[0]).flatMap(([step, v]) => {
    const y = stat(v.y), x = stat(v.x);
    if (y.mean === null) return [];
    const xv = xIsStep ? step : x.mean;
    if (xv === null) return [];
    return [{ step, x: xv, mean: y.mean, std: y.std ?? 0, n: y.n }];
  });
}

async function loadEnsemble(store: Store, dataDir: string | undefined, exp: Experiment | null, spec: ExperimentSpec | null): Promise<EnsembleDiagnostics | null> {
  if (!exp) return null;
  let report: Record<string, unknown> | null = null;
  let source = '';
  if (dataDir) {
    const file = studyPaths(dataDir, exp.id).ensembleReport;
    try { report = JSON.parse(await readFile(file, 'utf8')); source = `experiments/${exp.id}/ensemble-report.json`; } catch { /* fall back to the store */ }
  }
  const stored = studyEnsembleRecord(store, exp.id) ?? undefined;
  if (!report && stored && Object.keys(stored.metrics).length) { report = stored.metrics; source = `ensemble ${stored.id} in the store`; }
  if (!report && !stored) return null;
  const r = (report ?? {}) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const num = (v: unknown) => (finite(v) ? v : null);
  const acc = (r.accuracy ?? {}) as Record<string, unknown>;
  const e = spec?.ensemble;
  const method = e?.method ?? stored?.method ?? 'brme';
  const heads = e?.heads ?? stored?.heads ?? (Array.isArray(acc.per_head) ? acc.per_head.length : 0);
  const d: EnsembleDiagnostics = {
    method, heads, source: source || 'not recorded', settings: { ...(e ?? stored?.config ?? {}) },
    pairs: num(r.pairs),
    accuracy: { single: num(acc.single), nominal: num(acc.nominal), mean: num(acc.mean), min: num(acc.min), perHead: Array.isArray(acc.per_head) ? (acc.per_head as unknown[]).filter(finite) : [] },
    sigma: r.sigma && finite(r.sigma.mean) ? { mean: r.sigma.mean, std: r.sigma.std, min: r.sigma.min, max: r.sigma.max } : null,
    disagreement: num(r.disagreement), pairDisagreement: num(r.pair_disagreement), rewardScale: num(r.reward_scale), relativeDisagreement: num(r.relative_disagreement),
    calibration: r.calibration && Array.isArray(r.calibration.bins) ? { bins: r.calibration.bins, ece: num(r.calibration.ece) } : null,
    stdErrorCorrelation: num(r.std_error_correlation), sigmaErrorCorrelation: num(r.sigma_error_correlation),
    stage1ValAccuracy: num(r.stage1?.val_accuracy),
    notes: [],
  };
  if (d.relativeDisagreement !== null && d.heads > 1) {
    if (d.relativeDisagreement < 0.05) {
      d.notes.push(`The heads are nearly identical: their spread is ${pct(d.relativeDisagreement)} of the reward's own scale, so min ≈ nominal ≈ mean and the robust term can change little. This is the known weakness of the plain MSE stage (σ → 0, heads trained on the same targets); per-head bootstrap, BT-per-head training, the Gaussian-NLL or BT-Gaussian losses, anchoring or an unfrozen trunk add diversity.`);
    } else {
      d.notes.push(`The heads disagree by ${pct(d.relativeDisagreement)} of the reward's scale on held-out pairs, so the min over heads differs from the nominal head where they disagree.`);
    }
  }
  if (d.sigma && d.sigma.mean < 0.05 && method === 'brme') d.notes.push(`The heads' σ is small (mean ${fmt(d.sigma.mean)}): under the MSE stage the loss is (μ − t)² + σ², which drives σ towards 0, so σ says little about where a head is wrong.`);
  if (d.stdErrorCorrelation !== null) d.notes.push(`Correlation between head disagreement and ranking errors: ${fmt(d.stdErrorCorrelation, 2)} (positive means disagreement flags the pairs the ensemble gets wrong).`);
  if (d.accuracy.single !== null && d.accuracy.nominal !== null && d.accuracy.single - d.accuracy.nominal > 0.02) d.notes.push(`The stage-1 reward model ranks held-out pairs better than the nominal head (${pct(d.accuracy.single)} vs ${pct(d.accuracy.nominal)}).`);
  return d;
}

async function fileHashes(dataDir: string | undefined, exp: Experiment | null): Promise<Reproducibility['files']> {
  if (!dataDir || !exp) return [];
  const files = studyPaths(dataDir, exp.id);
  const out: Reproducibility['files'] = [];
  for (const [what, dir] of [['starting policy π₀', files.basePolicy], ['reward ensemble', files.ensemble]] as const) {
    let names: string[];
    try { names = (await readdir(dir)).sort(); } catch { continue; }
    for (const n of names) {
      if (!/\.(safetensors|json)$/.test(n)) continue;
      const file = path.join(dir, n);
      try {
        const st = await fsStat(file);
        if (!st.isFile()) continue;
        out.push({ what, path: path.relative(dataDir, file).split(path.sep).join('/'), sha256: await sha256File(file), bytes: st.size });
      } catch { /* a file removed meanwhile: leave it out */ }
    }
  }
  return out;
}

/** Gathers the report for an experiment (all its runs) or for a list of runs. */
export async function buildReportModel(o: BuildOptions): Promise<ReportModel> {
  const { store } = o;
  let runs: Run[];
  let exp: Experiment | null = null;
  if (o.experimentId !== undefined) {
    exp = store.experiments.get(o.experimentId) ?? null;
    if (!exp) throw new Error(`experiment ${o.experimentId} does not exist`);
    runs = store.runs.list({ experimentId: exp.id });
    if (o.runIds?.length) {
      const want = new Set(o.runIds);
      const missing = o.runIds.filter((id) => !runs.some((r) => r.id === id));
      if (missing.length) throw new Error(`run${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not in experiment ${exp.id}`);
      runs = runs.filter((r) => want.has(r.id));
    }
    if (!runs.length) throw new Error(`experiment ${exp.id} has no runs to report on`);
  } else {
    const ids = [...new Set(o.runIds ?? [])];
    if (!ids.length) throw new Error('name an experiment or at least one run');
    runs = ids.map((id) => {
      const r = store.runs.get(id);
      if (!r) throw new Error(`run ${id} does not exist`);
      return r;
    });
    const exps = [...new Set(runs.map((r) => r.experimentId))];
    if (exps.length === 1 && exps[0] !== null) exp = store.experiments.get(exps[0]!) ?? null;
  }
  const expIds = [...new Set(runs.map((r) => r.experimentId).filter((x): x is number => x !== null))];
  const spec = (exp?.spec ?? null) as ExperimentSpec | null;
  // The study's analysis (engine/experiments/analysis.ts): the same objectives, per-run figures,
  // comparisons and verdict the app shows; the report adds curves, samples, prose and provenance.
  const an = analyseRuns(store, { spec, runs, experimentId: exp?.id ?? null });
  const { hasGold, objectives, summaries, matchedKl, method } = an;
  const margin = an.onsetMargin;
  const keys = runs.map((r) => store.metrics.keys(r.id));
  const specs = objectives.map((ob) => spec?.objectives.find((x) => x.name === ob.name) ?? (runs.find((r) => r.objective === ob.name)!.config.objective ?? { name: ob.name, kind: ob.kind }) as ObjectiveSpec);
  const objOf = new Map(objectives.map((x) => [x.name, x]));
  const byId = new Map(runs.map((r) => [r.id, r]));

  // Per run: the analysis's figures with what only the report shows (device, alerts, checkpoint).
  const runReports: RunReport[] = an.runs.map((ra) => {
    const r = byId.get(ra.id)!;
    const ck = store.runs.latestCheckpoint(r.id);
    return {
      ...ra, final: ra.final ? { ...ra.final, gold: ra.final.gold ?? NaN } : null, device: r.device, error: r.error, started: r.started, finished: r.finished, lastStep: store.metrics.lastStep(r.id),
      alerts: store.alerts.list(r.id).map((x) => ({ step: x.step, kind: x.kind, message: x.message })),
      checkpoint: ck ? { step: ck.step, sha256: ck.sha256 } : null,
    };
  });
  const runsOf = (name: string) => runReports.filter((r) => r.objective === name);

  // Curves: seed bands at each evaluation step (x = step or the seed-mean √KL at that step).
  const evalCurves = objectives.map((ob) => {
    const g = new Map<number, { x: number[]; y: number[] }>(), p = new Map<number, { x: number[]; y: number[] }>();
    for (const r of runsOf(ob.name)) for (const e of r.evals) {
      const d = finite(e.kl) ? Math.sqrt(Math.max(0, e.kl)) : NaN;
      const gg = g.get(e.step) ?? { x: [], y: [] }; gg.x.push(d); gg.y.push(e.gold); g.set(e.step, gg);
      const pp = p.get(e.step) ?? { x: [], y: [] }; pp.x.push(d); pp.y.push(e.proxy); p.set(e.step, pp);
    }
    return { objective: ob.name, gold: bandCurve(g, true), proxy: bandCurve(p, true), goldVsSqrtKl: bandCurve(g, false), proxyVsSqrtKl: bandCurve(p, false) };
  });
  const train: Curves['train'] = {};
  const allIds = runReports.map((r) => r.id);
  for (const key of TRAIN_KEYS) {
    const bands = store.metrics.bands(allIds, key).filter((b) => b.points.length);
    if (!bands.length) continue;
    train[key] = objectives.flatMap((ob) => {
      const b = bands.find((x) => x.objective === ob.name);
      return b ? [{ objective: ob.name, points: b.points.sort((x, y) => x.step - y.step).map((pt) => ({ step: pt.step, x: pt.step, mean: pt.mean, std: pt.std, n: pt.n })) }] : [];
    });
  }

  // Benchmarks recorded on the runs: the study analysis pairs them (before/after, against the baseline).
  const benchmarks = an.benchmarks.length ? an.benchmarks : null;

  // Paired comparisons: of final gold (the comparisons table), or without gold of the shared proxy at matched KL.
  const comparisons = an.comparisons.filter((c) => c.metric === 'final_gold');
  const proxyComparisons = an.comparisons.filter((c) => c.metric !== 'final_gold' && c.n > 0);

  // λ sweep: when robust objectives with several λ are present (nominal counts as λ = 1, wco as λ = 0).
  let lambdaSweep: LambdaRow[] | null = null;
  const sweepObjs = objectives.filter((ob, i) => ob.kind === 'robust' || ob.kind === 'nominal' || (ob.kind === 'wco' && specs[i]!.minMode === 'sample'));
  const robustLambdas = new Set(objectives.filter((ob) => ob.kind === 'robust').map((ob) => ob.lambda));
  if (hasGold && (robustLambdas.size >= 2 || (robustLambdas.size >= 1 && sweepObjs.length >= 2 && new Set(sweepObjs.map((ob) => ob.kind === 'wco' ? 0 : ob.lambda)).size >= 2))) {
    lambdaSweep = sweepObjs.map((ob) => {
      const s = summaries.find((x) => x.objective === ob.name)!;
      const c = comparisons.find((x) => x.a === ob.name);
      return { lambda: ob.kind === 'wco' ? 0 : ob.lambda!, objective: ob.name, label: ob.label, n: s.n, finalGold: s.finalGold, peakGold: s.peakGold, finalKl: s.finalKl, vsBase: c ? { mean: c.mean, lo: c.lo, hi: c.hi } : null };
    }).sort((a, b) => a.lambda - b.lambda);
  }

  // Hacked samples: the largest proxy − gold gaps, at most 3 per objective, no repeated response.
  const galleryN = hasGold ? o.gallery ?? 8 : 0; // hacked samples are those proxy overrated relative to gold
  const gallery: GallerySample[] = [];
  if (galleryN > 0) {
    // Per objective, its runs' samples by largest gap; then taken in turn, so every objective shows its hacks.
    const seen = new Set<string>();
    const runById = new Map(runReports.map((r) => [r.id, r]));
    const queues = objectives.map((ob) => store.samples.query({ runIds: ob.runIds, sort: 'proxy_gold_gap', order: 'desc', limit: galleryN * 10 }).filter((s) => s.proxyGoldGap !== null));
    for (let round = 0; gallery.length < galleryN && queues.some((q) => q.length); round++) {
      for (const q of queues) {
        let s: Sample | undefined;
        while ((s = q.shift())) { const key = `${s.prompt}\u0000${s.response}`; if (!seen.has(key)) { seen.add(key); break; } }
        if (!s || gallery.length >= galleryN) continue;
        const r = runById.get(s.runId)!;
        gallery.push({
          id: s.id, runId: s.runId, objective: r.objective, label: objOf.get(r.objective)!.label, seed: r.seed, step: s.step, prompt: s.prompt, response: s.response,
          gold: s.gold, proxy: s.proxy, gap: s.proxyGoldGap, rewards: s.rewards, nominal: s.nominal, min: s.min, mean: s.mean, std: s.std, kl: s.kl, length: s.length,
        });
      }
    }
  }

  // Setup for the methods text: the experiment's spec, else the first run's stored config.
  const cfg = (runs[0]!.config ?? {}) as Partial<Setup>;
  const setup: Setup | null = spec ?? (cfg.world && cfg.ppo ? { world: cfg.world, ppo: cfg.ppo, normalize: cfg.normalize ?? 'running', perturb: cfg.perturb ?? null } as Setup : null);
  const differences: ReportModel['differences'] = [];
  if (!spec && runs.length > 1) {
    // Settings that differ between the runs (objective and seed are expected to differ).
    const paths = new Map<string, Set<string>>();
    for (let i = 1; i < runs.length; i++) {
      for (const d of store.runs.configDiff(runs[0]!.id, runs[i]!.id)) {
        if (d.path === 'seed' || d.path === 'objective' || d.path.startsWith('objective.')) continue;
        const v = paths.get(d.path) ?? new Set<string>();
        v.add(JSON.stringify(d.a) ?? '(absent)'); v.add(JSON.stringify(d.b) ?? '(absent)');
        paths.set(d.path, v);
      }
    }
    for (const [p, v] of paths) differences.push({ path: p, values: [...v] });
  }
  const seeds = [...new Set(runs.map((r) => r.seed))].sort((a, b) => a - b);
  const methods = methodsParagraphs(setup, objectives, specs, seeds, method, margin, expIds.length, exp !== null);

  const ensemble = await loadEnsemble(store, o.dataDir, exp, spec);
  const verdict = an.verdict.text;
  const caveats = [...an.verdict.caveats];
  const imported = runReports.filter((r) => r.status === 'imported');
  if (imported.length) {
    const from = (id: number) => {
      const src = runs.find((x) => x.id === id)?.source;
      return src ? `${src.engine ?? 'an unknown engine'}, ${src.format} log ${path.basename(src.path)}` : 'another engine';
    };
    caveats.push(`${imported.length} of ${runReports.length} runs ${imported.length === 1 ? 'was' : 'were'} imported from another engine (${list(imported.map((r) => `run ${r.id}: ${from(r.id)}`))}): their training curves join their objective's under our metric names (docs/metrics.md § Imported runs), but they have no evaluations of this study's, so final, peak and gold figures come from the local runs only.`);
  }

  const distinct = (xs: unknown[]) => [...new Set(xs.filter((x): x is string => typeof x === 'string' && x.length > 0))];
  const datasets = [exp ? studyEnsembleRecord(store, exp.id) : null].filter((e) => e && e.datasetId !== null)
    .map((e) => store.datasets.get(e!.datasetId!)).filter((d): d is NonNullable<typeof d> => !!d).map((d) => ({ id: d.id, name: d.name, hash: d.hash }));
  const reproducibility: Reproducibility = {
    appVersions: distinct(runs.map((r) => r.versions.app)), ortVersions: distinct(runs.map((r) => r.versions.ort)), nodeVersions: distinct(runs.map((r) => r.versions.node)),
    devices: distinct(runs.map((r) => r.device)), deviceNotes: distinct(runs.map((r) => r.versions.device)), seeds, worldSeed: setup?.world.seed ?? null,
    specHash: exp?.specHash ?? (setup ? specHash(setup) : null),
    experiment: exp ? { id: exp.id, name: exp.name, created: exp.created } : null,
    generatedBy: { app: APP_VERSION, node: process.version, platform: `${process.platform}-${process.arch}` },
    files: await fileHashes(o.dataDir, exp), datasets,
    command: exp ? 'Save the spec below as spec.json and run `rrlhf experiment run spec.json` (same seeds, same device type) to repeat the study.' : null,
  };

  const when = (o.now ?? new Date()).toISOString();
  const title = exp ? exp.name : `Runs ${list(runReports.map((r) => String(r.id)))}`;
  const subtitle = [
    exp ? `Experiment ${exp.id}` : expIds.length > 1 ? `${expIds.length} experiments` : 'Selected runs',
    setup ? (setup.world.name === 'goodhart-lab' ? 'Goodhart lab world' : setup.world.name === 'text-reviews' ? 'text-reviews world' : setup.world.name === 'dataset' ? `dataset ${setup.world.datasetId}${hasGold ? '' : ' (no gold)'}` : setup.world.name) : null,
    `${objectives.length} objective${objectives.length > 1 ? 's' : ''} × ${seeds.length} seed${seeds.length > 1 ? 's' : ''}`,
    setup ? `${setup.ppo.iterations} PPO iterations` : null,
  ].filter(Boolean).join(' · ');

  return {
    schema: REPORT_SCHEMA, generated: when, title, subtitle, hasGold, verdict, caveats,
    experiment: exp ? { id: exp.id, name: exp.name, created: exp.created, specHash: exp.specHash } : null,
    spec, differences, methods, glossary: GLOSSARY, onsetMargin: margin, objectives, runs: runReports, summaries, comparisons,
    proxyComparisons, matchedKl, lambdaSweep, benchmarks, ensemble, gallery, curves: { eval: evalCurves, train }, reproducibility,
  };
}
