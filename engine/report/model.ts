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
import { fileURLToPath } from 'node:url';
import { isComplete, type Store, type Run, type RunStatus, type Experiment, type Sample } from '../store/index.js';
import { specHash } from '../store/experiments.js';
import { type ExperimentSpec, type ObjectiveSpec } from '../experiments/spec.js';
import { pairedInterval, meanStd, seedVarianceWarning } from '../experiments/stats.js';
import { hackingOnset, peak, goldAtKl, fitGao, type EvalPoint } from '../rlhf/gold.js';
import { resolveBootstrap } from '../rlhf/ensemble.js';
import { GOODHART_DEFAULTS } from '../worlds/goodhart.js';
import { TEXT_DEFAULTS } from '../worlds/text.js';
import { fmt, signed, list, setting, count, capitalize, capLabel, pct } from './format.js';

export const REPORT_SCHEMA = 'rrlhf-report/1';

/** Shown at the top of a report whose study has no gold reward. */
export const NO_GOLD_NOTICE = 'This study has no gold reward: only proxy metrics are shown.';

/** Mean ± sample std (n − 1) over the finite values. */
export interface Stat { mean: number | null; std: number | null; n: number }

export interface ObjectiveInfo {
  name: string;
  kind: string;
  /** Plain-language label used in charts and prose, e.g. "robust RLHF (λ = 0.4)". */
  label: string;
  /** What the objective optimises, in one clause. */
  description: string;
  lambda: number | null;
  /** Palette index, stable across every chart. */
  style: number;
  runIds: number[];
  seeds: number[];
}

export interface RunReport {
  id: number;
  experimentId: number | null;
  objective: string;
  seed: number;
  status: string;
  device: string | null;
  error: string | null;
  started: string | null;
  finished: string | null;
  /** Last step with any metric. */
  lastStep: number | null;
  /** Gold evaluations (eval/gold, eval/proxy, eval/kl) in step order. */
  evals: EvalPoint[];
  final: { step: number; gold: number; proxy: number; kl: number } | null;
  peak: { gold: number; step: number } | null;
  /** First evaluation where gold fell `onsetMargin` below its best while the proxy kept rising. */
  onset: number | null;
  /** Gao et al.'s gold − gold₀ = d(α − β log d), d = √KL, fitted to this run's evaluations. */
  gao: { alpha: number; beta: number; r2: number; dPeak: number | null } | null;
  alerts: { step: number; kind: string; message: string }[];
  /** Latest checkpoint (step and sha256), to pin the final policy. */
  checkpoint: { step: number; sha256: string } | null;
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
  /** Runs with a hacking onset, out of n. */
  onsets: number;
  /** The seed-mean gold curve's peak and where it ended (for the verdict). */
  meanCurve: { peakStep: number; peakGold: number; finalStep: number; finalGold: number } | null;
}

export interface Comparison {
  /** Objective compared (a) against the baseline (b, the first objective). */
  a: string;
  b: string;
  aLabel: string;
  bLabel: string;
  metric: 'final_gold';
  perSeed: { seed: number; a: number; b: number; diff: number }[];
  /** Seeds where a ended above b. */
  wins: number;
  n: number;
  mean: number | null;
  lo: number | null;
  hi: number | null;
  level: number;
  significant: boolean;
  warning: string | null;
}

export interface MatchedKl {
  /** KL values at which every run's gold is interpolated (within the range every run reached). */
  kls: number[];
  rows: { objective: string; label: string; gold: Stat[] }[];
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
  comparisons: Comparison[];
  matchedKl: MatchedKl | null;
  lambdaSweep: LambdaRow[] | null;
  /** Benchmark scores stored on the runs by `rrlhf eval --run ID --record` (docs/metrics.md § Benchmarks):
   *  per key, each objective's mean ± std over its runs that have it (aligned with `objectives`); null when none. */
  benchmarks: { key: string; stats: Stat[] }[] | null;
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
export const TRAIN_KEYS = ['gold/train', 'reward/proxy', 'objective/kl', 'ensemble/std'] as const;

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function stat(xs: (number | null | undefined)[]): Stat {
  const v = xs.filter(finite);
  if (!v.length) return { mean: null, std: null, n: 0 };
  const m = meanStd(v);
  return { mean: m.mean, std: m.std, n: m.n };
}

/** The report's own version (package.json beside the build), or null when not found. */
async function appVersion(): Promise<string | null> {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.version) return pkg.version;
    } catch { /* keep looking upwards */ }
    dir = path.dirname(dir);
  }
  return null;
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file).on('data', (d) => h.update(d)).on('end', () => resolve()).on('error', reject);
  });
  return h.digest('hex');
}

// ---- objectives -----------------------------------------------------------------------------------

function baseLabel(o: ObjectiveSpec): string {
  switch (o.kind) {
    case 'single': return 'standard RLHF';
    case 'robust': return `robust RLHF (λ = ${o.lambda}${o.minMode === 'batch' ? ', batch min' : ''})`;
    case 'nominal': return 'BRME nominal (λ = 1)';
    case 'mean': return 'ensemble mean';
    case 'wco': return `worst case (min over heads${o.minMode === 'batch' ? ', per batch' : ''})`;
    case 'uwo': return `uncertainty-weighted (c = ${o.uwoC})`;
    case 'softmin': return `soft-min (β = ${o.softminBeta})`;
    case 'gold': return 'gold reward (control)';
    default: return o.name;
  }
}

function describe(o: ObjectiveSpec, method: string | null): string {
  const nominal = method === 'independent' ? `member ${o.nominalMember} of the ensemble` : 'the head with the smallest σ for each sample';
  const min = o.minMode === 'batch' ? 'the head with the lowest batch-mean reward' : 'the lowest head reward for each sample';
  const rest = Math.round((1 - o.lambda) * 1e6) / 1e6;
  switch (o.kind) {
    case 'single': return 'one Bradley–Terry reward model, BRME\'s stage 1';
    case 'nominal': return `the nominal reward only: ${nominal}`;
    case 'mean': return 'the mean of the ensemble heads';
    case 'wco': return `worst-case optimisation: ${min}`;
    case 'uwo': return `head mean − ${o.uwoC}·variance across heads`;
    case 'softmin': return `entropic soft-min over heads with β = ${o.softminBeta} (mean as β → ∞, min as β → 0)`;
    case 'robust': return `${o.lambda}·nominal + ${rest}·min, nominal being ${nominal} and min ${min}`;
    case 'gold': return 'the gold reward itself (an upper bound, not available in practice)';
    default: return 'a reward whose settings were not recorded with the run';
  }
}

/** Objective specs with a default for every field (run configs store them complete; be lenient). */
function objectiveSpec(raw: unknown, name: string): ObjectiveSpec {
  const r = (raw ?? {}) as Partial<ObjectiveSpec>;
  return { name, kind: (r.kind ?? 'unknown') as ObjectiveSpec['kind'], lambda: r.lambda ?? 0.4, minMode: r.minMode ?? 'sample', uwoC: r.uwoC ?? 0.5, softminBeta: r.softminBeta ?? 1, nominalMember: r.nominalMember ?? 0 };
}

// ---- methods ---------------------------------------------------------------------------------------

type Setup = Pick<ExperimentSpec, 'world' | 'ppo' | 'normalize' | 'perturb'> & Partial<ExperimentSpec>;

function worldSentence(w: ExperimentSpec['world']): string {
  if (w.name === 'dataset') {
    const gold = w.gold
      ? `Gold was a held-out reward model (${w.gold.rewardModelDir}) that no policy or proxy was trained on.`
      : 'The study has no gold reward, so only proxy rewards and KL could be measured.';
    return `The study used imported preference data (dataset ${w.datasetId}) with the pretrained model in ${w.modelDir} as starting policy and reward-model trunk; prompts were cut to their last ${w.maxPromptTokens} tokens and responses to ${w.maxResponseTokens}. ${gold}`;
  }
  if (w.name === 'goodhart-lab') {
    const s = { ...GOODHART_DEFAULTS, ...(w.settings as object) } as typeof GOODHART_DEFAULTS;
    const labels = s.labels === 'flip' ? `hard labels with ${pct(s.flipRate, 0)} flipped` : `Bradley–Terry labels at temperature τ = ${s.tau}`;
    return `The study used the built-in Goodhart lab world (seed ${w.seed}): ${s.prompts} prompts, a ${s.vocab}-token vocabulary and responses of ${s.length} tokens. `
      + `Its gold reward pays each token's prompt-specific value for up to k = ${s.k} copies, charges an overuse penalty γ·Σ max(0, c − k)^p (γ = ${s.gamma}, p = ${s.p}) and adds a coherence term (η = ${s.eta}); `
      + `the starting policy rarely repeats a token, so reward models trained on its samples must extrapolate, and a policy can exploit them by repetition. Preference labels were drawn from gold as ${labels}.`;
  }
  if (w.name === 'text-reviews') {
    const s = { ...TEXT_DEFAULTS, ...(w.settings as object) } as typeof TEXT_DEFAULTS;
    const labels = s.labels === 'flip' ? `hard labels with ${pct(s.flipRate, 0)} flipped` : `Bradley–Terry labels at temperature τ = ${s.tau}`;
    return `The study used the built-in text-reviews world (seed ${w.seed}): short English reviews from a template grammar, responses of up to ${s.maxResponseTokens} words. `
      + `Its gold reward is saturating sentiment (cap ${s.sentimentCap}) minus penalties for repeated content words (${s.repeatPenalty}) and bigrams (${s.bigramPenalty}) and for word pairs the grammar cannot produce (${s.fluencyPenalty}), so piling on praise words is the visible hack. Preference labels were drawn from gold as ${labels}.`;
  }
  return `The study used the world "${w.name}" (seed ${w.seed}).`;
}

function modelShape(w: ExperimentSpec['world']): string {
  if (w.name === 'dataset') return `the pretrained model from ${w.modelDir}`;
  const s = { ...(w.name === 'text-reviews' ? TEXT_DEFAULTS : GOODHART_DEFAULTS), ...(w.settings as object) } as { nLayer: number; d: number; nHead: number };
  return `a ${s.nLayer}-layer GPT-2-style decoder (width ${s.d}, ${s.nHead} attention heads)`;
}

function ensembleSentence(e: ExperimentSpec['ensemble']): string {
  const extras: string[] = [];
  if (e.method === 'brme' && resolveBootstrap(e.method, e.bootstrap)) extras.push('each head on its own bootstrap resample of the pairs');
  if (e.anchor > 0) extras.push(`heads anchored to their random initialisation (c = ${e.anchor})`);
  if (e.unfreezeLastLayers > 0) extras.push(`the last ${e.unfreezeLastLayers} trunk layer${e.unfreezeLastLayers > 1 ? 's' : ''} unfrozen`);
  if (e.method === 'independent') {
    return `The reward ensemble consisted of ${e.heads} independent Bradley–Terry reward models (different seeds${resolveBootstrap(e.method, e.bootstrap) ? ', each on its own bootstrap resample' : ''}) trained on ${count(e.pairs)} preference pairs (${count(e.valPairs)} held out for validation); member 0 serves as the single reward model and, where an objective needs one, as the nominal member.`;
  }
  const loss = {
    mse: `the MSE loss on reparameterised samples μ + σε against the stage-1 model's soft targets (α = ${e.alpha})`,
    gaussian_nll: `a Gaussian negative log-likelihood against the stage-1 model's soft targets (α = ${e.alpha})`,
    bt_gaussian: 'a Bradley–Terry loss averaged over the Gaussian margin N(μ_c − μ_r, σ_c² + σ_r²)',
    bt_per_head: 'a Bradley–Terry loss per head on the preference labels',
  }[e.stage2Loss];
  return `The reward ensemble was a Bayesian reward-model ensemble (BRME) trained on ${count(e.pairs)} preference pairs (${count(e.valPairs)} held out): `
    + `stage 1 trained one Bradley–Terry reward model r* (also the reward of standard RLHF); stage 2 put ${e.heads} Gaussian heads (mean μ_k, σ_k = exp(s_k/τ), τ = ${e.tau}) on its frozen trunk and trained them with ${loss}${extras.length ? `, with ${list(extras)}` : ''}.`;
}

function ppoSentence(p: ExperimentSpec['ppo']): string {
  const kl = p.adaptiveKl ? `an adaptive KL coefficient (initial β = ${setting(p.klCoef)}, target KL ${p.adaptiveKl.target}, horizon ${p.adaptiveKl.horizon})` : `a fixed KL coefficient β = ${setting(p.klCoef)}`;
  return `Each policy started from π₀ and was trained with PPO for ${p.iterations} iterations of ${p.batchSize} sampled responses (${p.epochs} epochs × ${p.miniBatches} minibatches per iteration, AdamW learning rate ${setting(p.lr)}, policy and value clip ${p.clipRange}, value coefficient ${p.vfCoef}, reward clip ±${p.rewardClip}, sampling temperature ${p.temperature}, GAE γ = 1, λ = 0.95), `
    + `with the per-token penalty −β·log(π/π_ref) and ${kl}; π₀ is the frozen reference.`;
}

function methodsParagraphs(setup: Setup | null, objectives: ObjectiveInfo[], specs: ObjectiveSpec[], seeds: number[], method: string | null, margin: number, nExperiments: number, oneStudy: boolean): string[] {
  const out: string[] = [];
  let explained = false;
  const objs = objectives.map((o, i) => {
    const sp = specs[i]!;
    if (sp.kind === 'robust' && explained) return `${o.label}, the same with ${sp.lambda}·nominal + ${Math.round((1 - sp.lambda) * 1e6) / 1e6}·min`;
    if (sp.kind === 'robust') explained = true;
    return `${o.label}, which optimises ${describe(sp, method)}`;
  });
  out.push(`We compared ${objectives.length === 1 ? 'one reward objective' : `${objectives.length} reward objectives`}: ${objs.join('; ')}. `
    + (oneStudy
      ? `${objectives.length > 1 ? 'The study is paired: every objective' : 'It'} was trained with the same seeds (${list(seeds.map(String))}), the same PPO settings, the same prompts in the same order and the same evaluation set${objectives.length > 1 ? ', so the objectives differ only in how the ensemble\'s rewards are aggregated' : ''}.`
      : `The runs were chosen individually${nExperiments > 1 ? ` from ${nExperiments} experiments` : ' and do not all belong to one experiment'}; they are compared as they are, paired by seed where seeds match (seeds ${list(seeds.map(String))}), and settings that differ between them are listed under Reproducibility. The setup below is that of the first run.`));
  if (!setup) return out;
  const world: string[] = [worldSentence(setup.world)];
  if (setup.sft?.skip) {
    world.push(`The starting policy π₀ was ${modelShape(setup.world)} as it is (no supervised fine-tuning); reward-model trunks start from π₀.`);
  } else if (setup.sft) {
    world.push(`The starting policy π₀, ${modelShape(setup.world)}, was fine-tuned on ${count(setup.sft.samples)} samples of the world's base behaviour (${setup.sft.epochs} epoch${setup.sft.epochs > 1 ? 's' : ''}, batch ${setup.sft.batchSize}, learning rate ${setting(setup.sft.lr)}); reward-model trunks start from π₀.`);
  }
  out.push(world.join(' '));
  if (setup.ensemble) out.push(ensembleSentence(setup.ensemble));
  const norm = setup.normalize === 'running'
    ? 'Each objective\'s aggregated reward was whitened with running mean and standard deviation before PPO — the same normalisation for every objective (the paper leaves normalisation open).'
    : 'Aggregated rewards were passed to PPO without normalisation.';
  const perturb = setup.perturb ? ` To test over- against under-scoring, ${pct(setup.perturb.fraction, 0)} of rollout rewards were shifted ${setup.perturb.direction} by ${setup.perturb.magnitude} at random.` : '';
  out.push(`${ppoSentence(setup.ppo)} ${norm}${perturb}`);
  if (setup.eval && setup.world.name === 'dataset' && !setup.world.gold) {
    out.push(`Every ${setup.eval.every} iterations (and at the start and end), ${count(setup.eval.samples)} responses to held-out prompts were sampled at the PPO temperature (${setup.ppo.temperature}) and scored with the objective's own reward (the proxy) and with the ensemble-mean reward; KL(π‖π_ref) is the per-sequence sum of log π − log π_ref over the sampled response tokens. Without gold, neither reward-hacking onsets nor final-gold differences can be measured.`);
  } else if (setup.eval) {
    out.push(`Every ${setup.eval.every} iterations (and at the start and end), ${count(setup.eval.samples)} responses to evaluation prompts were sampled at the PPO temperature (${setup.ppo.temperature}) and scored with the gold reward and with the objective's own reward (the proxy); KL(π‖π_ref) is the per-sequence sum of log π − log π_ref over the sampled response tokens, and √KL is the distance of Gao et al. `
      + `Hacking onset is the first evaluation where gold is more than ${margin} (and more than twice the combined standard error) below its running maximum while the proxy is still above its value at that maximum, and after which gold never comes back within ${margin} of that maximum. `
      + `We fit Gao et al.'s form gold − gold₀ = d(α − β·log d), d = √KL, to each run by least squares. Final-gold differences between objectives are paired by seed; their 95% confidence interval is Student's t over seeds (mean ± t·sd/√n, n − 1 degrees of freedom: wide with few seeds, as it should be), and a warning is shown when the spread across seeds exceeds the difference.`);
  }
  return out;
}

const GLOSSARY = [
  { term: 'Gold', text: 'the true quality of a response — in the built-in worlds a known formula, so we can see whether optimisation really helped. The policy never sees it during training.' },
  { term: 'Proxy', text: 'the reward the policy was actually trained on: a learned reward model (or an aggregate of an ensemble). Its scale differs between objectives, so compare its trend, not its level.' },
  { term: 'Reward hacking', text: 'the proxy keeps rising while gold falls: the policy found what the reward model over-scores (Goodhart\'s law).' },
  { term: 'KL and √KL', text: 'how far the policy has moved from the starting policy π₀, in nats per response. Gao et al. plot reward against d = √KL; comparing objectives at the same KL compares them at the same "distance travelled".' },
  { term: 'BRME', text: 'Bayesian reward-model ensemble: one reward-model trunk with K heads, each predicting a Gaussian reward (mean μ_k, uncertainty σ_k).' },
  { term: 'Nominal', text: 'for each sample, the reward of the head with the smallest σ — the head most certain about that sample.' },
  { term: 'λ (lambda)', text: 'the weight of the nominal reward in the robust objective λ·nominal + (1 − λ)·min over heads. λ = 1 is nominal only; λ = 0 is pure worst case. The paper found 0.2–0.4 best.' },
  { term: 'Paired confidence interval', text: 'the 95% Student-t interval of the mean per-seed difference between two objectives run on the same seeds. With few seeds it is wide; an interval excluding 0 suggests a real difference.' },
];

// ---- gathering ------------------------------------------------------------------------------------

function evalPoints(store: Store, runId: number, hasGold = true): EvalPoint[] {
  const get = (k: string) => new Map((store.metrics.series([runId], k)[0]?.points ?? []).map((p) => [p.step, p.y]));
  const gold = get('eval/gold'), proxy = get('eval/proxy'), kl = get('eval/kl'), se = get('eval/gold_se');
  // goldSe too: the hacking onset discounts drops within twice the evaluation noise, as the runner does.
  return [...(hasGold ? gold : proxy).keys()].sort((a, b) => a - b).map((step) => {
    const goldSe = se.get(step);
    return { step, gold: gold.get(step) ?? NaN, proxy: proxy.get(step) ?? NaN, kl: kl.get(step) ?? NaN, ...(hasGold && goldSe !== null && goldSe !== undefined && { goldSe }) };
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

function meanCurveShape(points: CurvePoint[]): ObjectiveSummary['meanCurve'] {
  if (!points.length) return null;
  let best = points[0]!;
  for (const p of points) if (p.mean > best.mean) best = p;
  const last = points[points.length - 1]!;
  return { peakStep: best.step, peakGold: best.mean, finalStep: last.step, finalGold: last.mean };
}

async function loadEnsemble(store: Store, dataDir: string | undefined, exp: Experiment | null, spec: ExperimentSpec | null): Promise<EnsembleDiagnostics | null> {
  if (!exp) return null;
  let report: Record<string, unknown> | null = null;
  let source = '';
  if (dataDir) {
    const file = path.join(dataDir, 'experiments', String(exp.id), 'ensemble-report.json');
    try { report = JSON.parse(await readFile(file, 'utf8')); source = `experiments/${exp.id}/ensemble-report.json`; } catch { /* fall back to the store */ }
  }
  const stored = store.ensembles.list().filter((e) => e.name.endsWith(`(experiment ${exp.id})`)).pop();
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
  const root = path.join(dataDir, 'experiments', String(exp.id));
  const out: Reproducibility['files'] = [];
  for (const [what, sub] of [['starting policy π₀', 'base-policy'], ['reward ensemble', 'ensemble']] as const) {
    let names: string[];
    try { names = (await readdir(path.join(root, sub))).sort(); } catch { continue; }
    for (const n of names) {
      if (!/\.(safetensors|json)$/.test(n)) continue;
      const file = path.join(root, sub, n);
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
  const margin = spec?.onsetMargin ?? 0.1;
  const method = spec?.ensemble?.method ?? null;
  // No gold: a dataset world without a gold reward model, or runs that evaluated the proxy but never gold.
  const worldSpec = spec?.world ?? (runs[0]!.config as Partial<Setup>).world;
  const keys = runs.map((r) => store.metrics.keys(r.id));
  const hasGold = !(worldSpec?.name === 'dataset' && !worldSpec.gold) && (keys.some((k) => k.includes('eval/gold')) || !keys.some((k) => k.includes('eval/proxy')));

  // Objectives: in spec order, else in order of first appearance; only those with runs here.
  const names: string[] = [];
  for (const n of spec?.objectives.map((x) => x.name) ?? []) if (runs.some((r) => r.objective === n)) names.push(n);
  for (const r of runs) if (!names.includes(r.objective)) names.push(r.objective);
  const specs = names.map((n) => spec?.objectives.find((x) => x.name === n) ?? objectiveSpec(runs.find((r) => r.objective === n)!.config.objective, n));
  const labels = specs.map(baseLabel);
  const styles = objectiveStyles(specs.map((x) => x.kind));
  const objectives: ObjectiveInfo[] = names.map((name, i) => {
    const dup = labels.filter((l) => l === labels[i]).length > 1;
    const rs = runs.filter((r) => r.objective === name).sort((a, b) => a.seed - b.seed || a.id - b.id);
    return {
      name, kind: specs[i]!.kind, label: dup ? `${labels[i]} “${name}”` : labels[i]!, description: describe(specs[i]!, method),
      lambda: specs[i]!.kind === 'robust' ? specs[i]!.lambda : specs[i]!.kind === 'nominal' ? 1 : null,
      style: styles[i]!, runIds: rs.map((r) => r.id), seeds: [...new Set(rs.map((r) => r.seed))],
    };
  });
  const objOf = new Map(objectives.map((x) => [x.name, x]));
  const ordered = objectives.flatMap((x) => x.runIds.map((id) => runs.find((r) => r.id === id)!));

  // Per run.
  const runReports: RunReport[] = ordered.map((r) => {
    const evals = evalPoints(store, r.id, hasGold).filter((p) => finite(hasGold ? p.gold : p.proxy));
    const last = evals[evals.length - 1];
    const ck = store.runs.latestCheckpoint(r.id);
    const onset = hasGold ? hackingOnset(evals, margin) : null;
    const g = hasGold && evals.length >= 3 ? fitGao(evals) : null;
    return {
      id: r.id, experimentId: r.experimentId, objective: r.objective, seed: r.seed, status: r.status, device: r.device, error: r.error,
      started: r.started, finished: r.finished, lastStep: store.metrics.lastStep(r.id), evals,
      final: last ? { step: last.step, gold: last.gold, proxy: last.proxy, kl: last.kl } : null,
      peak: hasGold && evals.length ? peak(evals) : null,
      onset: onset?.step ?? null, // from the evaluations, as everywhere: a live alert may have been withdrawn since
      gao: g && [g.alpha, g.beta, g.r2].every(finite) ? g : null,
      alerts: store.alerts.list(r.id).map((a) => ({ step: a.step, kind: a.kind, message: a.message })),
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

  // Benchmarks recorded on the runs (the latest value of each bench/ key).
  const benchKeys = [...new Set(keys.flat().filter((k) => k.startsWith('bench/')))].sort();
  const benchLast = new Map(runReports.map((r) => [r.id, store.metrics.last(r.id)]));
  const benchmarks = benchKeys.length
    ? benchKeys.map((key) => ({ key, stats: objectives.map((ob) => stat(runsOf(ob.name).map((r) => benchLast.get(r.id)![key]?.value))) }))
    : null;

  // Per objective.
  const summaries: ObjectiveSummary[] = objectives.map((ob) => {
    const rs = runsOf(ob.name);
    return {
      objective: ob.name, label: ob.label, n: rs.length,
      finalGold: stat(rs.map((r) => r.final?.gold)), finalProxy: stat(rs.map((r) => r.final?.proxy)), finalKl: stat(rs.map((r) => r.final?.kl)),
      peakGold: stat(rs.map((r) => r.peak?.gold)), peakStep: stat(rs.map((r) => r.peak?.step)),
      startGold: stat(rs.map((r) => r.evals[0]?.step === 0 ? r.evals[0].gold : null)),
      onsets: rs.filter((r) => r.onset !== null).length,
      meanCurve: meanCurveShape(evalCurves.find((c) => c.objective === ob.name)!.gold),
    };
  });

  // Paired comparisons of final gold against the first objective.
  const base = objectives[0]!;
  const finalBySeed = (name: string) => new Map(runsOf(name).filter((r) => r.final && finite(r.final.gold)).map((r) => [r.seed, r.final!.gold]));
  const pairUp = (aName: string) => {
    const a = finalBySeed(aName), b = finalBySeed(base.name);
    return [...a.keys()].filter((s) => b.has(s)).sort((x, y) => x - y).map((seed) => ({ seed, a: a.get(seed)!, b: b.get(seed)!, diff: a.get(seed)! - b.get(seed)! }));
  };
  const comparisons: Comparison[] = !hasGold ? [] : objectives.slice(1).map((ob) => {
    const perSeed = pairUp(ob.name);
    const av = perSeed.map((p) => p.a), bv = perSeed.map((p) => p.b);
    const ci = perSeed.length ? pairedInterval(av, bv) : null;
    const warning = perSeed.length ? seedVarianceWarning(av, bv) : 'no seed has finished runs of both objectives';
    return {
      a: ob.name, b: base.name, aLabel: ob.label, bLabel: base.label, metric: 'final_gold', perSeed, wins: perSeed.filter((p) => p.diff > 0).length, n: perSeed.length,
      mean: ci?.mean ?? null, lo: ci && Number.isFinite(ci.lo) ? ci.lo : null, hi: ci && Number.isFinite(ci.hi) ? ci.hi : null, level: 0.95,
      significant: !!ci?.significant, warning,
    };
  });

  // Gold at matched KL: within the KL range that every run reached.
  let matchedKl: MatchedKl | null = null;
  const reach = runReports.filter((r) => r.evals.length >= 2).map((r) => Math.max(...r.evals.map((e) => e.kl).filter(finite)));
  if (hasGold && objectives.length > 1 && reach.length && reach.every(finite) && Math.min(...reach) > 0) {
    const top = Math.min(...reach);
    const round = (v: number) => Number(v.toPrecision(2));
    const kls = [...new Set([0.25, 0.5, 0.75, 1].map((f) => round(f * top)).filter((k) => k > 0 && k <= top))];
    matchedKl = { kls, rows: objectives.map((ob) => ({ objective: ob.name, label: ob.label, gold: kls.map((k) => stat(runsOf(ob.name).map((r) => goldAtKl(r.evals, k)))) })) };
  }

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
  const { verdict, caveats } = hasGold ? verdictOf(objectives, summaries, comparisons, margin, ensemble, matchedKl) : noGoldVerdict(summaries);
  const unfinished = runReports.filter((r) => !isComplete(r.status as RunStatus));
  if (unfinished.length) {
    caveats.unshift(`${unfinished.length} of ${runReports.length} runs ${unfinished.length === 1 ? 'has' : 'have'} not finished (${list(unfinished.map((r) => `run ${r.id}: ${r.status}${r.final ? `, last evaluated at step ${r.final.step}` : ', not evaluated yet'}`))}); "final" values are their latest evaluations, so compare with care.`);
  }
  const imported = runReports.filter((r) => r.status === 'imported');
  if (imported.length) {
    const from = (id: number) => {
      const src = runs.find((x) => x.id === id)?.source;
      return src ? `${src.engine ?? 'an unknown engine'}, ${src.format} log ${path.basename(src.path)}` : 'another engine';
    };
    caveats.push(`${imported.length} of ${runReports.length} runs ${imported.length === 1 ? 'was' : 'were'} imported from another engine (${list(imported.map((r) => `run ${r.id}: ${from(r.id)}`))}): their training curves join their objective's under our metric names (docs/metrics.md § Imported runs), but they have no evaluations of this study's, so final, peak and gold figures come from the local runs only.`);
  }
  const finalSteps = new Set(runReports.filter((r) => r.final).map((r) => r.final!.step));
  if (finalSteps.size > 1 && !unfinished.length) caveats.push(`Runs ended at different steps (${list([...finalSteps].sort((a, b) => a - b).map(String))}), so final values are not from the same point of training.`);

  const distinct = (xs: unknown[]) => [...new Set(xs.filter((x): x is string => typeof x === 'string' && x.length > 0))];
  const datasets = store.ensembles.list().filter((e) => exp && e.name.endsWith(`(experiment ${exp.id})`) && e.datasetId !== null)
    .map((e) => store.datasets.get(e.datasetId!)).filter((d): d is NonNullable<typeof d> => !!d).map((d) => ({ id: d.id, name: d.name, hash: d.hash }));
  const reproducibility: Reproducibility = {
    appVersions: distinct(runs.map((r) => r.versions.app)), ortVersions: distinct(runs.map((r) => r.versions.ort)), nodeVersions: distinct(runs.map((r) => r.versions.node)),
    devices: distinct(runs.map((r) => r.device)), deviceNotes: distinct(runs.map((r) => r.versions.device)), seeds, worldSeed: setup?.world.seed ?? null,
    specHash: exp?.specHash ?? (setup ? specHash(setup) : null),
    experiment: exp ? { id: exp.id, name: exp.name, created: exp.created } : null,
    generatedBy: { app: await appVersion(), node: process.version, platform: `${process.platform}-${process.arch}` },
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
    matchedKl, lambdaSweep, benchmarks, ensemble, gallery, curves: { eval: evalCurves, train }, reproducibility,
  };
}

// ---- the verdict -----------------------------------------------------------------------------------

/** The verdict of a study without gold: the notice, then what the proxy and KL did, with the caveat. */
function noGoldVerdict(summaries: ObjectiveSummary[]): { verdict: string; caveats: string[] } {
  const caveats = summaries.filter((s) => s.finalProxy.n > 0).map((s) => `${capLabel(s.label)}: final proxy ${fmt(s.finalProxy.mean)}, final KL ${fmt(s.finalKl.mean, 1)} (mean of ${s.finalProxy.n} seed${s.finalProxy.n > 1 ? 's' : ''}).`);
  caveats.push('Each objective\'s proxy has its own scale (a minimum over heads sits below a single model\'s reward), so compare trends and KL, not levels. To measure over-optimisation, give the study a held-out reward model as gold (world.gold.rewardModelDir).');
  return { verdict: `${NO_GOLD_NOTICE} Without a gold reward the report cannot tell whether optimisation improved the responses or exploited the reward model.`, caveats };
}

function verdictOf(objectives: ObjectiveInfo[], summaries: ObjectiveSummary[], comparisons: Comparison[], margin: number, ens: EnsembleDiagnostics | null, matched: MatchedKl | null): { verdict: string; caveats: string[] } {
  const caveats: string[] = [];
  const base = summaries[0]!;
  const goldOf = (label: string) => (/[)”]$/.test(label) ? `gold under ${label}` : `${label}'s gold`);
  const shape = (s: ObjectiveSummary, subject: string): string | null => {
    const c = s.meanCurve;
    if (!c) return null;
    if (c.peakStep === 0 && c.finalStep > 0 && c.finalGold <= c.peakGold - margin) {
      return `${goldOf(subject)} never rose above its starting value (${fmt(c.peakGold)}) and fell to ${fmt(c.finalGold)} by step ${c.finalStep}`;
    }
    if (c.peakStep < c.finalStep && c.finalGold <= c.peakGold - margin) {
      return `${goldOf(subject)} peaked at step ${c.peakStep} (${fmt(c.peakGold)}) and fell to ${fmt(c.finalGold)} by step ${c.finalStep}`;
    }
    return `${goldOf(subject)} ${c.peakStep === c.finalStep ? 'was still at its highest at the end' : 'stayed within ' + margin + ' of its peak'} (${fmt(c.finalGold)} at step ${c.finalStep})`;
  };
  if (!comparisons.length) {
    const c = base.meanCurve;
    if (!c) return { verdict: `${capLabel(base.label)} has no gold evaluations yet, so there is nothing to report.`, caveats };
    const start = base.startGold.mean;
    const fell = c.peakStep < c.finalStep && c.finalGold <= c.peakGold - margin;
    const moved = start !== null ? `moved gold from ${fmt(start)} to ${fmt(c.finalGold)} over ${c.finalStep} steps` : `ended with gold ${fmt(c.finalGold)} at step ${c.finalStep}`;
    const course = fell ? `it peaked at step ${c.peakStep} (${fmt(c.peakGold)}) and fell afterwards` : `it ended within ${margin} of its peak`;
    return { verdict: `${capLabel(base.label)} ${moved}; ${course}. Only one objective is in this report, so there is nothing to compare it with.`, caveats };
  }
  // The headline comparison: the first robust objective, else the first other objective.
  const headIdx = Math.max(0, comparisons.findIndex((c) => objectives.find((o) => o.name === c.a)?.kind === 'robust'));
  const c = comparisons[headIdx]!;
  const a = summaries.find((s) => s.objective === c.a)!;
  let first: string;
  if (!c.n) {
    first = `${capLabel(c.aLabel)} and ${c.bLabel} have no seed with gold evaluations from both, so they cannot be compared yet`;
  } else {
    const ci = c.lo !== null && c.hi !== null ? `, 95% CI ${signed(c.lo)} to ${signed(c.hi)}` : '';
    const losses = c.perSeed.filter((p) => p.diff < 0).length;
    const on = (k: number) => (c.n === 1 ? 'on its one paired seed' : `on ${k} of ${c.n} seeds`);
    const noise = c.lo !== null && c.hi !== null && !c.significant ? ' — within the spread across seeds' : '';
    if (c.mean === null || c.mean === 0) first = `${capLabel(c.aLabel)} ended with the same final gold as ${c.bLabel} on average (${on(c.wins)} higher)`;
    else if (c.mean > 0) first = `${capLabel(c.aLabel)} ended with higher gold than ${c.bLabel} ${on(c.wins)} (${signed(c.mean)} on average${ci})${noise}`;
    else first = `${capLabel(c.aLabel)} ended with lower gold than ${c.bLabel} ${on(losses)} (${signed(c.mean)} on average${ci})${noise}`;
  }
  const parts = [first];
  const bShape = shape(base, base.label);
  if (bShape) parts.push(bShape);
  const aShape = a.meanCurve && a.meanCurve.peakStep < a.meanCurve.finalStep && a.meanCurve.finalGold <= a.meanCurve.peakGold - margin;
  const bFell = base.meanCurve && base.meanCurve.peakStep < base.meanCurve.finalStep && base.meanCurve.finalGold <= base.meanCurve.peakGold - margin;
  if (aShape) {
    const mc = a.meanCurve!, also = bFell ? 'also ' : '';
    parts.push(mc.peakStep === 0
      ? `${goldOf(c.aLabel)} ${also}never rose above its starting value (${fmt(mc.peakGold)} → ${fmt(mc.finalGold)})`
      : `${goldOf(c.aLabel)} ${also}fell after its peak at step ${mc.peakStep} (${fmt(mc.peakGold)} → ${fmt(mc.finalGold)})`);
  }
  const verdict = `${parts.join('; ')}.`;
  // Matched KL: the objectives may have drifted by different amounts; compare at the same KL too.
  if (matched) {
    const k = matched.kls.length - 1;
    const ga = matched.rows.find((r) => r.objective === c.a)?.gold[k], gb = matched.rows.find((r) => r.objective === c.b)?.gold[k];
    if (ga?.mean != null && gb?.mean != null) {
      caveats.push(`At the same distance from π₀ (KL = ${matched.kls[k]}, the most every run reached), gold was ${fmt(ga.mean)} for ${c.aLabel} and ${fmt(gb.mean)} for ${c.bLabel} (seed means).`);
    }
  }
  if (c.warning) caveats.push(capitalize(`${c.warning}.`.replace(/\.\.$/, '.')));
  else if (c.n > 1 && !c.significant) caveats.push('The confidence interval includes 0: the difference is not established at this number of seeds.');
  for (const other of comparisons) {
    if (other === c) continue;
    caveats.push(`${capLabel(other.aLabel)} vs ${other.bLabel}: final-gold difference ${signed(other.mean)}${other.lo !== null ? ` (95% CI ${signed(other.lo)} to ${signed(other.hi)})` : ''}, higher on ${other.wins} of ${other.n} seeds.`);
  }
  if (ens && ens.relativeDisagreement !== null && ens.relativeDisagreement < 0.05 && objectives.some((o) => o.kind !== 'single' && o.kind !== 'gold')) {
    caveats.push('The ensemble heads barely disagree, so the robust objectives here behave much like a single reward model (see Ensemble diagnostics).');
  }
  return { verdict, caveats };
}

/**
 * Series styles (palette index) per objective, matching the app's colours by meaning: standard RLHF
 * (single) vermillion, the robust objective blue, nominal green, worst case pink; the first objective
 * of a kind takes its colour, any other the next free one.
 */
export function objectiveStyles(kinds: string[]): number[] {
  const preferred: Record<string, number> = { robust: 0, single: 1, nominal: 2, wco: 3 };
  const used = new Set<number>();
  const free = () => { let k = 4; while (used.has(k % 7) && used.size < 7) k++; return k % 7; };
  return kinds.map((kind) => {
    const p = preferred[kind];
    const style = p !== undefined && !used.has(p) ? p : free();
    used.add(style);
    return style;
  });
}
