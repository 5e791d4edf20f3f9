// What the report reads from the store and the data dir beyond the study's analysis: the runs asked for,
// per-run records, seed-band curves, the λ sweep, hacked samples, settings that differ, the ensemble's
// quality figures, the best-of-n results on its runs or world, and the provenance of every file the
// study depends on.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, stat as fsStat } from 'node:fs/promises';
import path from 'node:path';
import { type Store, type Run, type Experiment, type Sample } from '../store/index.js';
import { specHash } from '../store/experiments.js';
import { type ExperimentSpec, type ObjectiveSpec } from '../experiments/spec.js';
import { studyPaths, studyEnsembleRecord } from '../experiments/layout.js';
import { stat } from '../experiments/stats.js';
import { type StudyAnalysis, type ObjectiveInfo, type ObjectiveSummary, type Comparison } from '../experiments/analysis.js';
import { type Setup } from './methods.js';
import { type BonResult } from '../experiments/bon.js';
import { canonicalJson } from '../store/canonical.js';
import { bonSourceText } from '../../common/bon.js';
import { APP_VERSION } from '../version.js';
import { ensembleNotes, REPEAT_COMMAND } from './prose.js';
import {
  TRAIN_KEYS, type RunReport, type CurvePoint, type Curves, type LambdaRow, type GallerySample, type EnsembleDiagnostics, type Reproducibility, type ReportModel, type BestOfNReport,
} from './schema.js';

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The runs to report on: an experiment's (or the named ones of it), or a list of runs from anywhere
 *  (their experiment when they share one). */
export function selectRuns(store: Store, o: { experimentId?: number; runIds?: number[] }): { runs: Run[]; exp: Experiment | null } {
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
  return { runs, exp };
}

/** The objective specs, in the analysis's order: the experiment's, else each run's stored one. */
export function objectiveSpecs(spec: ExperimentSpec | null, objectives: ObjectiveInfo[], runs: Run[]): ObjectiveSpec[] {
  return objectives.map((ob) => spec?.objectives.find((x) => x.name === ob.name) ?? (runs.find((r) => r.objective === ob.name)!.config.objective ?? { name: ob.name, kind: ob.kind }) as ObjectiveSpec);
}

/** Per run: the analysis's figures with what only the report shows (device, alerts, checkpoint). */
export function runReports(store: Store, an: StudyAnalysis, runs: Run[]): RunReport[] {
  const byId = new Map(runs.map((r) => [r.id, r]));
  return an.runs.map((ra) => {
    const r = byId.get(ra.id)!;
    const ck = store.runs.latestCheckpoint(r.id);
    return {
      ...ra, final: ra.final ? { ...ra.final, gold: ra.final.gold ?? NaN } : null, device: r.device, error: r.error, started: r.started, finished: r.finished, lastStep: store.metrics.lastStep(r.id),
      alerts: store.alerts.list(r.id).map((x) => ({ step: x.step, kind: x.kind, message: x.message })),
      checkpoint: ck ? { step: ck.step, sha256: ck.sha256 } : null,
    };
  });
}

function bandCurve(byStep: Map<number, { x: number[]; y: number[] }>, xIsStep: boolean): CurvePoint[] {
  return [...byStep].sort((a, b) => a[0] - b[0]).flatMap(([step, v]) => {
    const y = stat(v.y), x = stat(v.x);
    if (y.mean === null) return [];
    const xv = xIsStep ? step : x.mean;
    if (xv === null) return [];
    return [{ step, x: xv, mean: y.mean, std: y.std ?? 0, n: y.n }];
  });
}

/** Seed bands at each evaluation step (x = step or the seed-mean √KL at that step), and of the training metrics. */
export function curves(store: Store, objectives: ObjectiveInfo[], reports: RunReport[]): Curves {
  const evalCurves = objectives.map((ob) => {
    const g = new Map<number, { x: number[]; y: number[] }>(), p = new Map<number, { x: number[]; y: number[] }>();
    for (const r of reports.filter((x) => x.objective === ob.name)) for (const e of r.evals) {
      const d = finite(e.kl) ? Math.sqrt(Math.max(0, e.kl)) : NaN;
      const gg = g.get(e.step) ?? { x: [], y: [] }; gg.x.push(d); gg.y.push(e.gold); g.set(e.step, gg);
      const pp = p.get(e.step) ?? { x: [], y: [] }; pp.x.push(d); pp.y.push(e.proxy); p.set(e.step, pp);
    }
    return { objective: ob.name, gold: bandCurve(g, true), proxy: bandCurve(p, true), goldVsSqrtKl: bandCurve(g, false), proxyVsSqrtKl: bandCurve(p, false) };
  });
  const train: Curves['train'] = {};
  const allIds = reports.map((r) => r.id);
  for (const key of TRAIN_KEYS) {
    const bands = store.metrics.bands(allIds, key).filter((b) => b.points.length);
    if (!bands.length) continue;
    train[key] = objectives.flatMap((ob) => {
      const b = bands.find((x) => x.objective === ob.name);
      return b ? [{ objective: ob.name, points: b.points.sort((x, y) => x.step - y.step).map((pt) => ({ step: pt.step, x: pt.step, mean: pt.mean, std: pt.std, n: pt.n })) }] : [];
    });
  }
  return { eval: evalCurves, train };
}

/** λ sweep: when robust objectives with several λ are present (nominal counts as λ = 1, wco as λ = 0). */
export function lambdaSweep(hasGold: boolean, objectives: ObjectiveInfo[], specs: ObjectiveSpec[], summaries: ObjectiveSummary[], comparisons: Comparison[]): LambdaRow[] | null {
  const sweepObjs = objectives.filter((ob, i) => ob.kind === 'robust' || ob.kind === 'nominal' || (ob.kind === 'wco' && specs[i]!.minMode === 'sample'));
  const robustLambdas = new Set(objectives.filter((ob) => ob.kind === 'robust').map((ob) => ob.lambda));
  if (!(hasGold && (robustLambdas.size >= 2 || (robustLambdas.size >= 1 && sweepObjs.length >= 2 && new Set(sweepObjs.map((ob) => ob.kind === 'wco' ? 0 : ob.lambda)).size >= 2)))) return null;
  return sweepObjs.map((ob) => {
    const s = summaries.find((x) => x.objective === ob.name)!;
    const c = comparisons.find((x) => x.a === ob.name);
    return { lambda: ob.kind === 'wco' ? 0 : ob.lambda!, objective: ob.name, label: ob.label, n: s.n, finalGold: s.finalGold, peakGold: s.peakGold, finalKl: s.finalKl, vsBase: c ? { mean: c.mean, lo: c.lo, hi: c.hi } : null };
  }).sort((a, b) => a.lambda - b.lambda);
}

/** Hacked samples: the largest proxy − gold gaps, taken from each objective in turn (so every objective
 *  shows its hacks), no repeated response. */
export function hackedSamples(store: Store, objectives: ObjectiveInfo[], reports: RunReport[], n: number): GallerySample[] {
  const gallery: GallerySample[] = [];
  if (n <= 0) return gallery;
  const seen = new Set<string>();
  const runById = new Map(reports.map((r) => [r.id, r]));
  const labelOf = new Map(objectives.map((x) => [x.name, x.label]));
  const queues = objectives.map((ob) => store.samples.query({ runIds: ob.runIds, sort: 'proxy_gold_gap', order: 'desc', limit: n * 10 }).filter((s) => s.proxyGoldGap !== null));
  for (let round = 0; gallery.length < n && queues.some((q) => q.length); round++) {
    for (const q of queues) {
      let s: Sample | undefined;
      while ((s = q.shift())) { const key = `${s.prompt}\u0000${s.response}`; if (!seen.has(key)) { seen.add(key); break; } }
      if (!s || gallery.length >= n) continue;
      const r = runById.get(s.runId)!;
      gallery.push({
        id: s.id, runId: s.runId, objective: r.objective, label: labelOf.get(r.objective)!, seed: r.seed, step: s.step, prompt: s.prompt, response: s.response,
        gold: s.gold, proxy: s.proxy, gap: s.proxyGoldGap, rewards: s.rewards, nominal: s.nominal, min: s.min, mean: s.mean, std: s.std, kl: s.kl, length: s.length,
      });
    }
  }
  return gallery;
}

/** Settings that differ between runs of several experiments (objective and seed are expected to differ). */
export function configDifferences(store: Store, runs: Run[]): ReportModel['differences'] {
  const paths = new Map<string, Set<string>>();
  for (let i = 1; i < runs.length; i++) {
    for (const d of store.runs.configDiff(runs[0]!.id, runs[i]!.id)) {
      if (d.path === 'seed' || d.path === 'objective' || d.path.startsWith('objective.')) continue;
      const v = paths.get(d.path) ?? new Set<string>();
      v.add(JSON.stringify(d.a) ?? '(absent)'); v.add(JSON.stringify(d.b) ?? '(absent)');
      paths.set(d.path, v);
    }
  }
  return [...paths].map(([p, v]) => ({ path: p, values: [...v] }));
}

/** The ensemble's quality figures: the study's ensemble-report.json, else its record in the store. */
export async function ensembleDiagnostics(store: Store, dataDir: string | undefined, exp: Experiment | null, spec: ExperimentSpec | null): Promise<EnsembleDiagnostics | null> {
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
    onPolicy: [], // the study analysis's, filled in by the report model
    calibration: r.calibration && Array.isArray(r.calibration.bins) ? { bins: r.calibration.bins, ece: num(r.calibration.ece) } : null,
    stdErrorCorrelation: num(r.std_error_correlation), sigmaErrorCorrelation: num(r.sigma_error_correlation),
    stage1ValAccuracy: num(r.stage1?.val_accuracy),
    notes: [],
  };
  d.notes = ensembleNotes(d);
  return d;
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file).on('data', (d) => h.update(d)).on('end', () => resolve()).on('error', reject);
  });
  return h.digest('hex');
}

/** π₀'s and the ensemble's files, relative to the data dir, with their sha256. */
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

/** Versions, devices, seeds, hashes of the spec and of every file, the dataset: what repeating the study needs. */
export async function reproducibility(store: Store, o: { runs: Run[]; exp: Experiment | null; setup: Setup | null; seeds: number[]; dataDir: string | undefined }): Promise<Reproducibility> {
  const { runs, exp, setup } = o;
  const distinct = (xs: unknown[]) => [...new Set(xs.filter((x): x is string => typeof x === 'string' && x.length > 0))];
  const datasets = [exp ? studyEnsembleRecord(store, exp.id) : null].filter((e) => e && e.datasetId !== null)
    .map((e) => store.datasets.get(e!.datasetId!)).filter((d): d is NonNullable<typeof d> => !!d).map((d) => ({ id: d.id, name: d.name, hash: d.hash }));
  return {
    appVersions: distinct(runs.map((r) => r.versions.app)), ortVersions: distinct(runs.map((r) => r.versions.ort)), nodeVersions: distinct(runs.map((r) => r.versions.node)),
    devices: distinct(runs.map((r) => r.device)), deviceNotes: distinct(runs.map((r) => r.versions.device)), seeds: o.seeds, worldSeed: setup?.world.seed ?? null,
    specHash: exp?.specHash ?? (setup ? specHash(setup) : null),
    experiment: exp ? { id: exp.id, name: exp.name, created: exp.created } : null,
    generatedBy: { app: APP_VERSION, node: process.version, platform: `${process.platform}-${process.arch}` },
    files: await fileHashes(o.dataDir, exp), datasets,
    command: exp ? REPEAT_COMMAND : null,
  };
}

/** Best-of-n results a report on these runs should show: those sampled from one of its runs' policies,
 *  and for a study on a built-in world those on the same world, world seed and settings. */
export function bestOfNResults(store: Store, runs: Run[], spec: ExperimentSpec | null): BestOfNReport[] | null {
  const ids = new Set(runs.map((r) => r.id));
  const w = spec?.world;
  const sameWorld = (src: Record<string, unknown>) => !!w && w.name !== 'dataset' && src.kind === 'world' && src.name === w.name
    && Number(src.seed ?? 0) === w.seed && canonicalJson(src.settings ?? {}) === canonicalJson(w.settings ?? {});
  const out = store.bon.list().filter((b) => b.status === 'finished' && ((b.runId !== null && ids.has(b.runId)) || sameWorld(b.source))).reverse().flatMap((b): BestOfNReport[] => {
    const full = store.bon.get(b.id)?.result as (BonResult & { source?: Record<string, unknown> }) | null | undefined;
    if (!full) return [];
    const { source, ...result } = full;
    return [{
      id: b.id, name: b.name, finished: b.finished, source: bonSourceText(source ?? {}), result: result as BonResult,
      relation: b.runId !== null && ids.has(b.runId) ? `on run ${b.runId}'s policy` : `on this study's world (${w!.name}, world seed ${w!.seed})`,
    }];
  });
  return out.length ? out : null;
}
