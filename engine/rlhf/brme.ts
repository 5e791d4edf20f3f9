// BRME (docs/method.md § BRME): K Gaussian heads on the stage-1 reward model's trunk, one of the two
// kinds of `Ensemble` (ensemble.ts); the other is independent.ts.
//
// BRME stage 2 (the paper's MSE stage, as in the public reimplementation), on the frozen stage-1 model r*:
//     p = σ(r*(c) − r*(r));  t_c = α(p − ½);  t_r = α((1 − p) − ½)  (α = 10)
//     r̃_k = μ_k + σ_k·ε,  ε ~ N(0, 1) drawn on the host from the seeded RNG and fed to the graph
//     L = Σ_k (r̃_k(c) − t_c)² + (r̃_k(r) − t_r)²            (averaged over pairs)
// Because E[(μ + σε − t)²] = (μ − t)² + σ², this loss drives every σ_k toward 0 and fits every head to
// the same targets, so the heads stay close and min ≈ nominal ≈ mean. The diversity options, each a
// named setting (BrmeConfig):
//   stage2Loss 'gaussian_nll'  ½·log σ² + (t − μ)²/(2σ²) per side;
//              'bt_gaussian'   −E_{z~N(μ_c−μ_r, σ_c²+σ_r²)} log σ(z) on the labels, estimated by one
//                              reparameterised sample z = Δμ + √(σ_c²+σ_r²)·ε (btGaussianEstimator
//                              'sample', the default) or by the probit approximation
//                              −log σ(Δμ/√(1 + π(σ_c²+σ_r²)/8)) ('probit', which is −log E[σ(z)]);
//              'bt_per_head'   −log σ(μ_k(c) − μ_k(r)) per head on the labels; σ_k, which this term does
//                              not touch, is fitted by the probit BT-Gaussian term with μ held fixed
//                              (stop-gradient), so σ_k grows where head k tends to be wrong — what the
//                              nominal head (argmin σ) needs;
//   bootstrap                  per-head pair weights [b, K]: Poisson(1) (default) or multinomial counts;
//   anchor c                   + c·Σ_k ‖w_k − w_k⁰‖² over each head's own tensors (μ and log-σ rows and
//                              biases) to their random initialisation (anchored ensembles, Pearce et al.);
//   unfreezeLastLayers N       trains copies of the last N trunk layers (and the final norm) with the heads.
//
// Speed: with a frozen trunk (unfreezeLastLayers = 0, the default) the trunk's pooled last-token states
// of every training sequence are extracted ONCE with the stage-1 model, and stage 2 trains the heads on
// those features alone — a tiny MLP step per batch instead of a decoder forward/backward. With N > 0 the
// trunk runs in every step (copies of its last N layers are trained under 'brme.trunk.<HF name>').
//
// Scoring (`score`) is one compiled graph: the trunk runs once per sequence and feeds both the stage-1
// head (`single`, identical to the stage-1 model's own reward) and all K heads. With unfrozen layers the
// BRME branch needs its own pass through the copied layers (ORT shares nothing between the two traces
// by itself, so that case costs up to two trunk passes).


import path from 'node:path';
import { Graph, type Tensor, F } from '../graph/index.js';
import { Trainer } from '../runtime/optim.js';
import { ParamStore, Rng } from '../runtime/params.js';
import { compile, type CompiledGraph, f32, i64 } from '../runtime/session.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { type Precision } from '../runtime/precision.js';
import { type ModelConfig, checkPositions } from '../models/config.js';
import { type BrmeHeadConfig, brmeHeadParams } from '../models/heads.js';
import { type PreferencePair } from '../worlds/world.js';
import {
  RewardModel, SCORE_BATCH, storeInputs, storeFeeds, padRows, pairRows, splitPairs, tracePooled, scoreHead, sigmoid, readModelFolder, writeModelFolder, trunkNames,
} from './reward.js';
import { shuffled } from './sft.js';
import { type Ensemble, type EnsembleScores, type HeadNormalization, headStats } from './ensemble.js';
import { type EnsembleReport, evaluateEnsemble } from './ensemble-quality.js';

// ---- configuration -------------------------------------------------------------------------------

export const STAGE2_LOSSES = ['mse', 'gaussian_nll', 'bt_gaussian', 'bt_per_head'] as const;
export type Stage2Loss = (typeof STAGE2_LOSSES)[number];

export interface BrmeConfig {
  /** Number of heads K. Default 5 (the paper). */
  heads: number;
  /** σ_k = exp(s_k / τ). Default 10 (public BRME code). */
  tau: number;
  /** Target scale α of the MSE stage. Default 10 (public code). */
  alpha: number;
  /** Width of the shared linear layer. Default: the trunk's hidden size d. */
  width?: number;
  /** Nonlinearity after the shared layer. Default 'none' (the paper's plain linear layer). */
  activation: BrmeHeadConfig['activation'];
  /** Stage-2 objective. Default 'mse' (the paper's). */
  stage2Loss: Stage2Loss;
  /** How 'bt_gaussian' estimates its expectation. Default 'sample' (one reparameterised draw: an
   *  unbiased estimate of the stated loss). */
  btGaussianEstimator: 'sample' | 'probit';
  /** Per-head bootstrap weights over pairs. Default false. */
  bootstrap: boolean;
  /** Poisson(1) weights per pair and head (default; the "online bootstrap"), or multinomial counts of
   *  n draws with replacement per head (the classic bootstrap). */
  bootstrapKind: 'poisson' | 'multinomial';
  /** c in c·‖w − w₀‖² tying each head to its random initialisation. Default 0 (off). */
  anchor: number;
  /** 0 = frozen trunk (features extracted once; fast). N > 0 trains copies of the last N layers too. */
  unfreezeLastLayers: number;
  /** Passes over the pairs. Default 20 with a frozen trunk (each pass is a few cheap head steps),
   *  2 when layers are unfrozen. */
  epochs?: number;
  /** Pairs per step. Default 64. */
  batchSize: number;
  /** AdamW learning rate. Default 3e-3 for the heads (features path); 1e-3 when layers are unfrozen. */
  lr?: number;
  /** Default 0: weight decay would pull every head toward 0 and against the anchor. */
  weightDecay: number;
  /** Default 1. */
  maxGradNorm: number | null;
  /** Seeds head initialisation, ε, bootstrap weights and shuffling. Default 0. */
  seed: number;
  /** After training, shift (and optionally scale) each head so that its μ has mean 0 (and std 1) over
   *  the training sequences, folded into the head's own bias/weights (σ scales with μ). Default
   *  'center': Bradley–Terry-type losses leave each head's offset arbitrary, and an offset decides which
   *  head the min picks; under 'mse' the symmetric targets already centre the heads, so this is nearly
   *  a no-op there. 'none' keeps the raw heads (the paper's setting). */
  normalizeHeads: HeadNormalization;
}


export const BRME_DEFAULTS: BrmeConfig = {
  heads: 5, tau: 10, alpha: 10, activation: 'none', stage2Loss: 'mse', btGaussianEstimator: 'sample',
  bootstrap: false, bootstrapKind: 'poisson', anchor: 0, unfreezeLastLayers: 0, batchSize: 64, weightDecay: 0, maxGradNorm: 1, seed: 0,
  normalizeHeads: 'center',
};

export function resolveBrmeConfig(c: Partial<BrmeConfig>): Required<BrmeConfig> & { width: number } {
  const r = { ...BRME_DEFAULTS, ...c } as BrmeConfig;
  if (!STAGE2_LOSSES.includes(r.stage2Loss)) throw new Error(`stage2Loss must be one of ${STAGE2_LOSSES.join(', ')}, got "${r.stage2Loss}"`);
  if (!Number.isInteger(r.heads) || r.heads < 1) throw new Error(`heads must be a positive integer, got ${r.heads}`);
  if (!(r.tau > 0)) throw new Error(`tau must be > 0, got ${r.tau}`);
  if (!(r.anchor >= 0)) throw new Error(`anchor must be ≥ 0, got ${r.anchor}`);
  if (!Number.isInteger(r.unfreezeLastLayers) || r.unfreezeLastLayers < 0) throw new Error(`unfreezeLastLayers must be a non-negative integer, got ${r.unfreezeLastLayers}`);
  const frozen = r.unfreezeLastLayers === 0;
  return { ...r, width: r.width ?? 0, epochs: r.epochs ?? (frozen ? 20 : 2), lr: r.lr ?? (frozen ? 3e-3 : 1e-3) } as Required<BrmeConfig> & { width: number };
}


// ---- BRME graph pieces ---------------------------------------------------------------------------

/** The BRME head on pooled trunk states [B, d] (the same maths as models/heads.ts brmeHead, which pools
 *  internally; here pooling happens once and is shared with the stage-1 head). */
export function brmeFromPooled(p: Record<string, Tensor>, pooled: Tensor, c: BrmeHeadConfig): { mu: Tensor; logStd: Tensor; sigma: Tensor } {
  let h = F.linearT(pooled, p['brme.shared.weight']!, p['brme.shared.bias']!);
  if (c.activation === 'tanh') h = F.tanh(h);
  else if (c.activation === 'gelu') h = F.gelu(h, 'erf');
  const mu = F.linearT(h, p['brme.mu.weight']!, p['brme.mu.bias']!);
  const logStd = F.div(F.linearT(h, p['brme.log_std.weight']!, p['brme.log_std.bias']!), c.tau);
  return { mu, logStd, sigma: F.exp(logStd) };
}

export interface HeadOut { mu: Tensor; logStd: Tensor }
export interface Stage2Inputs {
  /** Targets [P] (used by 'mse' and 'gaussian_nll'). */
  tc: Tensor; tr: Tensor;
  /** Standard-normal draws [P, K] ('mse' uses both; 'bt_gaussian' with 'sample' uses ec). */
  ec: Tensor; er: Tensor;
}

const sq = (x: Tensor) => F.mul(x, x);

/** Stage-2 loss per pair and head [P, K] from the heads' outputs on chosen (hc) and rejected (hr). */
export function stage2PairLoss(kind: Stage2Loss, hc: HeadOut, hr: HeadOut, inp: Stage2Inputs, estimator: 'sample' | 'probit' = 'sample'): Tensor {
  const sc = F.exp(hc.logStd), sr = F.exp(hr.logStd);
  const tc = F.unsqueeze(inp.tc, -1), tr = F.unsqueeze(inp.tr, -1);
  const probit = (dmu: Tensor) => F.softplus(F.neg(F.div(dmu, F.sqrt(F.add(F.mul(F.add(sq(sc), sq(sr)), Math.PI / 8), 1)))));
  switch (kind) {
    case 'mse':
      return F.add(sq(F.sub(F.add(hc.mu, F.mul(sc, inp.ec)), tc)), sq(F.sub(F.add(hr.mu, F.mul(sr, inp.er)), tr)));
    case 'gaussian_nll': {
      // ½·log σ² + (t − μ)²/(2σ²) = log σ + ½·(t − μ)²·exp(−2·log σ)
      const nll = (h: HeadOut, t: Tensor) => F.add(h.logStd, F.mul(F.mul(sq(F.sub(t, h.mu)), F.exp(F.mul(h.logStd, -2))), 0.5));
      return F.add(nll(hc, tc), nll(hr, tr));
    }
    case 'bt_gaussian': {
      const dmu = F.sub(hc.mu, hr.mu);
      if (estimator === 'probit') return probit(dmu);
      const z = F.add(dmu, F.mul(F.sqrt(F.add(sq(sc), sq(sr))), inp.ec));
      return F.softplus(F.neg(z));
    }
    case 'bt_per_head': {
      const dmu = F.sub(hc.mu, hr.mu);
      return F.add(F.softplus(F.neg(dmu)), probit(F.stopGradient(dmu)));
    }
  }
}

/** Stage-2 targets from the stage-1 rewards of chosen and rejected: t_c = α(p − ½), t_r = α((1−p) − ½). */
export function stage2Targets(rc: number, rr: number, alpha: number): { tc: number; tr: number } {
  const p = sigmoid(rc - rr);
  return { tc: alpha * (p - 0.5), tr: alpha * ((1 - p) - 0.5) };
}

/** Per-head tensors that anchoring ties to their initial values. */
const ANCHORED = ['brme.mu.weight', 'brme.mu.bias', 'brme.log_std.weight', 'brme.log_std.bias'];

/** Names of the trunk tensors in its last N layers plus the final norm (GPT-2 h.i, Llama/GPT-NeoX layers.i). */
export function lastLayerNames(config: ModelConfig, n: number): string[] {
  if (n <= 0) return [];
  if (n > config.nLayer) throw new Error(`unfreezeLastLayers ${n} exceeds the trunk's ${config.nLayer} layers`);
  const first = config.nLayer - n;
  return trunkNames(config).filter((name) => {
    const m = /(?:^|\.)(?:h|layers)\.(\d+)\./.exec(name);
    if (m) return Number(m[1]) >= first;
    return /(?:^|\.)(?:ln_f|norm|final_layer_norm)\.(?:weight|bias)$/.test(name);
  });
}

const COPY = 'brme.trunk.';

// ---- BRME ensemble -------------------------------------------------------------------------------

export class BrmeEnsemble implements Ensemble {
  readonly kind = 'brme' as const;
  private scorer?: Promise<CompiledGraph>;

  constructor(
    readonly config: ModelConfig,
    /** Stage-1 trunk + 'score.weight' + 'brme.*' (+ 'brme.trunk.*' copies of unfrozen layers). */
    readonly params: ParamStore,
    readonly head: BrmeHeadConfig,
    readonly padId: number,
    /** Trunk tensors the BRME branch replaces by its 'brme.trunk.' copies. */
    readonly unfrozen: string[] = [],
    public device: DeviceRequest = 'cpu',
    public info: Record<string, unknown> = {},
  ) {}

  /** bf16 / fp16: scoring traces under autocast (docs/engine.md § Mixed precision); set before the first score. */
  precision: Precision = 'fp32';

  get K(): number { return this.head.heads; }

  /** The stage-1 reward model (shares this ensemble's tensors; no copy). */
  stage1(): RewardModel {
    const s = new ParamStore();
    for (const n of [...trunkNames(this.config), 'score.weight']) s.set(n, this.params.get(n).data, this.params.shape(n));
    const rm = new RewardModel(this.config, s, this.padId, this.device, { ...(this.info.stage1 as Record<string, unknown> ?? {}) });
    rm.precision = this.precision;
    return rm;
  }

  /** Single reward [B], μ and σ [B, K]: one trunk pass shared by the stage-1 head and the K heads. */
  trace(g: Graph, p: Record<string, Tensor>, ids: Tensor, mask: Tensor): { single: Tensor; mu: Tensor; sigma: Tensor } {
    const pooled = tracePooled(g, this.config, p, ids, mask, null, this.precision);
    let pooledB = pooled;
    if (this.unfrozen.length) {
      const q = { ...p };
      for (const n of this.unfrozen) q[n] = p[COPY + n]!;
      pooledB = tracePooled(g, this.config, q, ids, mask, null, this.precision);
    }
    const { mu, sigma } = brmeFromPooled(p, pooledB, this.head);
    const wide = (t: Tensor) => F.cast(t, 'float32'); // outputs in float32 whatever the autocast
    return { single: wide(scoreHead(p, pooled)), mu: wide(mu), sigma: wide(sigma) };
  }

  async score(sequences: number[][], batchSize = SCORE_BATCH): Promise<EnsembleScores> {
    this.scorer ??= (() => {
      const g = new Graph('brme_score');
      const p = storeInputs(g, this.params);
      const ids = g.input('input_ids', 'int64', ['B', 'T']);
      const mask = g.input('attention_mask', 'int64', ['B', 'T']);
      const { single, mu, sigma } = this.trace(g, p, ids, mask);
      g.output('single', single); g.output('mu', mu); g.output('sigma', sigma);
      return compile(g, { device: this.device });
    })();
    const c = await this.scorer;
    const K = this.K;
    const out: EnsembleScores = { mu: [], sigma: [], single: [] };
    const weights = storeFeeds(this.params);
    for (let s = 0; s < sequences.length; s += batchSize) {
      const b = padRows(sequences.slice(s, s + batchSize), this.padId);
      checkPositions(this.config, b.T);
      const r = await c.run({ ...weights, input_ids: i64(b.ids, [b.B, b.T]), attention_mask: i64(b.mask, [b.B, b.T]) });
      const mu = r.mu!.data as Float32Array, sg = r.sigma!.data as Float32Array;
      for (let i = 0; i < b.B; i++) {
        out.mu.push(Array.from(mu.subarray(i * K, (i + 1) * K)));
        out.sigma!.push(Array.from(sg.subarray(i * K, (i + 1) * K)));
      }
      out.single.push(...(r.single!.data as Float32Array));
    }
    return out;
  }

  async save(dir: string): Promise<void> {
    await writeModelFolder(dir, this.config, this.params, { num_labels: 1, pad_token_id: this.padId }, {
      kind: 'brme', format: 1, pad_id: this.padId, head: this.head, unfrozen: this.unfrozen, info: this.info,
    });
  }

  static async load(dir: string, device: DeviceRequest = 'cpu'): Promise<BrmeEnsemble> {
    const { config, store, meta } = await readModelFolder(dir);
    if (meta.kind !== 'brme') throw new Error(`${path.resolve(dir)}: not a BRME ensemble (rrlhf.json kind = ${String(meta.kind)})`);
    return new BrmeEnsemble(config, store, meta.head as BrmeHeadConfig, meta.pad_id as number, (meta.unfrozen as string[]) ?? [], device, (meta.info as Record<string, unknown>) ?? {});
  }
}


// ---- BRME training -------------------------------------------------------------------------------

/** Poisson(1) by inversion (Knuth); exact enough for λ = 1. */
function poisson1(rng: Rng): number {
  const L = Math.exp(-1);
  let k = 0, p = rng.uniform();
  while (p > L) { k++; p *= rng.uniform(); }
  return k;
}

/** Per-pair, per-head bootstrap weights [N][K] (row-major flat). */
export function bootstrapWeights(N: number, K: number, kind: 'poisson' | 'multinomial', rng: Rng): Float32Array {
  const w = new Float32Array(N * K);
  if (kind === 'poisson') { for (let i = 0; i < N * K; i++) w[i] = poisson1(rng); return w; }
  for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) w[rng.int(N) * K + k]! += 1;
  return w;
}

export interface BrmeProgress { epoch: number; step: number; steps: number; loss: number; sigmaMean: number; disagreement: number }
export interface BrmeTrainMetrics {
  loss: number[];
  /** Batch mean of σ_k on chosen sequences, per step. */
  sigmaMean: number[];
  /** Batch mean over pairs of std_k μ_k(c), per step. */
  disagreement: number[];
  steps: number;
  seconds: number;
  /** The held-out report (when val pairs are given). */
  report?: EnsembleReport;
}

/** μ [N·K] of the BRME heads on pooled features [N, d] (one small graph). */
async function headsOnFeatures(store: ParamStore, head: BrmeHeadConfig, pooled: Float32Array, N: number, d: number, device: DeviceRequest): Promise<Float32Array> {
  const names = store.names().filter((n) => n.startsWith('brme.') && !n.startsWith(COPY));
  const g = new Graph('brme_heads');
  const p = storeInputs(g, store, names);
  g.output('mu', brmeFromPooled(p, g.input('feat', 'float32', ['N', d]), head).mu);
  const r = await (await compile(g, { device })).run({ ...storeFeeds(store, names), feat: { dtype: 'float32', shape: [N, d], data: pooled } });
  return r.mu!.data as Float32Array;
}

/** Folds μ' = (μ − shift)/scale into the heads: the μ rows and bias, and σ' = σ/scale through the
 *  log-σ bias (σ = exp(s/τ), so s' = s − τ·log scale). */
function foldNormalization(store: ParamStore, head: BrmeHeadConfig, st: { shift: number[]; scale: number[] }): void {
  const K = head.heads, W = head.width;
  const w = store.get('brme.mu.weight').data.slice(), b = store.get('brme.mu.bias').data.slice(), ls = store.get('brme.log_std.bias').data.slice();
  for (let k = 0; k < K; k++) {
    const sc = st.scale[k]!;
    for (let j = 0; j < W; j++) w[k * W + j]! /= sc;
    b[k] = (b[k]! - st.shift[k]!) / sc;
    ls[k]! -= head.tau * Math.log(sc);
  }
  store.set('brme.mu.weight', w); store.set('brme.mu.bias', b); store.set('brme.log_std.bias', ls);
}

/**
 * BRME stage 2 on a trained stage-1 reward model. The returned ensemble shares the stage-1 tensors
 * (nothing is copied) and adds the heads. Deterministic for a seed.
 */
export async function trainBrme(stage1: RewardModel, train: PreferencePair[], val: PreferencePair[], config: Partial<BrmeConfig> = {}, onProgress?: (p: BrmeProgress) => void): Promise<{ ensemble: BrmeEnsemble; metrics: BrmeTrainMetrics }> {
  const c = resolveBrmeConfig(config);
  if (train.length === 0) throw new Error('trainBrme: no training pairs');
  const t0 = Date.now();
  await stage1.params.sync();
  const d = stage1.config.d, K = c.heads;
  const head: BrmeHeadConfig = { heads: K, width: c.width || d, tau: c.tau, activation: c.activation };
  const rng = new Rng(c.seed);
  const initRng = rng.fork(), noiseRng = rng.fork(), bootRng = rng.fork(), orderRng = rng.fork();

  // Heads (and, with unfrozen layers, copies of the last layers), then the anchors' initial values.
  const heads = new ParamStore();
  for (const s of brmeHeadParams(d, head)) heads.add(s.name, s.shape, s.init, initRng);
  const anchors = new Map(ANCHORED.map((n) => [n, heads.get(n).data.slice()]));
  const unfrozen = lastLayerNames(stage1.config, c.unfreezeLastLayers);

  // Stage-1 rewards of every training sequence (the targets), and the pooled features when frozen.
  const N = train.length;
  const feats = unfrozen.length ? { reward: await stage1.score(pairRows(train)), pooled: undefined } : await stage1.features(pairRows(train));
  const tc = new Float32Array(N), tr = new Float32Array(N);
  for (let i = 0; i < N; i++) { const t = stage2Targets(feats.reward[i]!, feats.reward[N + i]!, c.alpha); tc[i] = t.tc; tr[i] = t.tr; }
  const weights = c.bootstrap ? bootstrapWeights(N, K, c.bootstrapKind, bootRng) : new Float32Array(N * K).fill(1);

  // The training store: heads only on the features path; trunk + heads + copies when unfrozen.
  const store = heads;
  if (unfrozen.length) {
    for (const n of [...trunkNames(stage1.config), 'score.weight']) store.set(n, stage1.params.get(n).data, stage1.params.shape(n));
    for (const n of unfrozen) store.set(COPY + n, stage1.params.get(n).data.slice(), stage1.params.shape(n));
  }
  const trainable = store.names().filter((n) => n.startsWith('brme.'));

  const build = (g: Graph, p: Record<string, Tensor>) => {
    const w = g.input('w', 'float32', ['P', K]);
    let fc: Tensor, fr: Tensor;
    if (unfrozen.length) {
      const ids = g.input('input_ids', 'int64', ['2*P', 'T']);
      const mask = g.input('attention_mask', 'int64', ['2*P', 'T']);
      const q = { ...p };
      for (const n of unfrozen) q[n] = p[COPY + n]!;
      [fc, fr] = splitPairs(tracePooled(g, stage1.config, q, ids, mask, null, stage1.precision));
    } else {
      fc = g.input('feat_c', 'float32', ['P', d]);
      fr = g.input('feat_r', 'float32', ['P', d]);
    }
    const inp: Stage2Inputs = {
      tc: g.input('t_c', 'float32', ['P']), tr: g.input('t_r', 'float32', ['P']),
      ec: g.input('eps_c', 'float32', ['P', K]), er: g.input('eps_r', 'float32', ['P', K]),
    };
    const hc = brmeFromPooled(p, fc, head), hr = brmeFromPooled(p, fr, head);
    const per = stage2PairLoss(c.stage2Loss, hc, hr, inp, c.btGaussianEstimator);          // [P, K]
    // Σ_k of each head's weighted mean over pairs (plain mean when all weights are 1).
    let loss = F.sum(F.div(F.sum(F.mul(per, w), 0), F.maximum(F.sum(w, 0), 1e-6)));
    if (c.anchor > 0) {
      for (const n of ANCHORED) {
        const w0 = g.constant(anchors.get(n)!, 'float32', heads.shape(n));
        loss = F.add(loss, F.mul(F.sum(sq(F.sub(p[n]!, w0))), c.anchor));
      }
    }
    const muStd = F.sqrt(F.mean(sq(F.sub(hc.mu, F.mean(hc.mu, -1, true))), -1));
    return { loss, metrics: { sigma_mean: F.mean(hc.sigma), disagreement: F.mean(muStd) } };
  };
  // Stage 2 trains under stage 1's precision (RewardTrainConfig.precision).
  const trainer = await Trainer.create({
    name: `brme_${c.stage2Loss}`, params: store, device: stage1.device, trainable,
    optimizer: { lr: c.lr, weightDecay: c.weightDecay, maxGradNorm: c.maxGradNorm }, build, precision: stage1.precision,
  });

  const perEpoch = Math.ceil(N / c.batchSize);
  const steps = perEpoch * c.epochs;
  const m: BrmeTrainMetrics = { loss: [], sigmaMean: [], disagreement: [], steps, seconds: 0 };
  const pooled = feats.pooled;
  for (let e = 0; e < c.epochs; e++) {
    const order = shuffled(N, orderRng);
    for (let s = 0; s < perEpoch; s++) {
      const idx = order.slice(s * c.batchSize, (s + 1) * c.batchSize);
      const b = idx.length;
      const feeds: Record<string, ReturnType<typeof f32>> = {
        t_c: f32(idx.map((i) => tc[i]!), [b]), t_r: f32(idx.map((i) => tr[i]!), [b]),
        eps_c: f32(Array.from({ length: b * K }, () => noiseRng.normal()), [b, K]),
        eps_r: f32(Array.from({ length: b * K }, () => noiseRng.normal()), [b, K]),
        w: f32(idx.flatMap((i) => Array.from(weights.subarray(i * K, (i + 1) * K))), [b, K]),
      };
      let r;
      if (pooled) {
        const fc = new Float32Array(b * d), fr = new Float32Array(b * d);
        idx.forEach((i, j) => { fc.set(pooled.subarray(i * d, (i + 1) * d), j * d); fr.set(pooled.subarray((N + i) * d, (N + i + 1) * d), j * d); });
        r = await trainer.run({ ...feeds, feat_c: { dtype: 'float32', shape: [b, d], data: fc }, feat_r: { dtype: 'float32', shape: [b, d], data: fr } });
      } else {
        const pb = padRows(pairRows(idx.map((i) => train[i]!)), stage1.padId);
        r = await trainer.run({ ...feeds, input_ids: i64(pb.ids, [pb.B, pb.T]), attention_mask: i64(pb.mask, [pb.B, pb.T]) });
      }
      m.loss.push(r.loss); m.sigmaMean.push(r.metrics.sigma_mean!); m.disagreement.push(r.metrics.disagreement!);
      onProgress?.({ epoch: e, step: m.loss.length, steps, loss: r.loss, sigmaMean: r.metrics.sigma_mean!, disagreement: r.metrics.disagreement! });
    }
  }
  await store.sync();

  // The ensemble: stage-1 tensors (shared, not copied) + the trained heads and layer copies.
  const all = new ParamStore();
  for (const n of [...trunkNames(stage1.config), 'score.weight']) all.set(n, stage1.params.get(n).data, stage1.params.shape(n));
  for (const n of trainable) all.set(n, store.get(n).data, store.shape(n));
  const { width: _w, ...cfgOut } = c;
  const ensemble = new BrmeEnsemble(stage1.config, all, head, stage1.padId, unfrozen, stage1.device, {
    method: 'brme', config: { ...cfgOut, width: head.width }, stage1: stage1.info, trainPairs: N, valPairs: val.length,
  });
  ensemble.precision = stage1.precision;
  if (c.normalizeHeads !== 'none') {
    const mu = pooled ? await headsOnFeatures(all, head, pooled, 2 * N, d, stage1.device) : (await ensemble.score(pairRows(train))).mu;
    const st = headStats(mu, K, c.normalizeHeads);
    foldNormalization(all, head, st);
    ensemble.info.normalization = { kind: c.normalizeHeads, ...st };
  }
  if (val.length) m.report = await evaluateEnsemble(ensemble, val);
  m.seconds = (Date.now() - t0) / 1000;
  ensemble.info.metrics = { steps, seconds: m.seconds, finalLoss: m.loss[m.loss.length - 1], report: m.report };
  return { ensemble, metrics: m };
}
