// Training a reward-model ensemble on a built-in world, for the service's `ensembles.train` job:
//
//   world → π₀ (a fresh decoder + short SFT on the world's base behaviour, the same recipe as an
//   experiment's starting policy) → preference pairs → BRME (stage-1 Bradley–Terry, then K heads) or K
//   independent Bradley–Terry models → held-out report and the distributions the Ensembles screen plots
//   (σ and head disagreement per held-out response) → saved under <data dir>/ensembles/<id>/.
//
// `rrlhf ensemble train` (engine/service/commands/ensemble.ts) calls this too; the UI adds progress
// events and cancellation.
import { PRECISIONS } from '../../common/precision.js';
import path from 'node:path';
import { z } from 'zod';
import { openStore } from '../store/index.js';
import { makeWorld, WORLD_NAMES, datasetWorld, DATASET_WORLD_DEFAULTS, type World, type PreferencePair } from '../worlds/index.js';
import type { DatasetWorld } from '../worlds/dataset.js';
import { CausalLM, readModelConfig } from '../models/model.js';
import { maxPositionsOf } from '../models/config.js';
import { Rng } from '../runtime/params.js';
import type { DeviceRequest } from '../runtime/devices.js';
import { sft, SFT_DEFAULTS, SFT_DATA_DEFAULTS } from '../rlhf/sft.js';
import { ENSEMBLE_DATA_DEFAULTS, ENSEMBLE_METHODS, type EnsembleMethod } from '../rlhf/ensemble.js';
import { STAGE2_LOSSES, BRME_DEFAULTS } from '../rlhf/brme.js';
import { trainEnsemble } from '../rlhf/ensemble-train.js';
import { type EnsembleReport } from '../rlhf/ensemble-quality.js';
import type { ProgressEvent } from '../experiments/runner.js';
import { ensembleTrainOptions } from '../experiments/spec.js';
import { assertEnsembleFits } from '../experiments/memory.js';
import { REWARD_DEFAULTS } from '../rlhf/reward.js';
import { LORA_DEFAULTS } from '../models/lora.js';
import { DEFAULT_LORA_RANK } from '../models/memory.js';
import { ENSEMBLE_TRUNKS, DEFAULT_ENSEMBLE_TRUNKS } from '../../common/ensemble-methods.js';
import { trainBuiltinPolicy, memberTrunks } from '../experiments/trunks.js';

export const EnsembleTrainSchema = z.strictObject({
  world: z.enum(WORLD_NAMES as [string, ...string[]]).default('goodhart-lab'),
  name: z.string().trim().min(1).max(200).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
  heads: z.number().int().min(1).max(16).default(BRME_DEFAULTS.heads),
  method: z.enum(ENSEMBLE_METHODS).default('brme'),
  /** Independent members on a built-in world: 'per-member' gives member k > 0 its own π₀ variant (docs/science.md § Pretraining-seed members). */
  trunks: z.enum(ENSEMBLE_TRUNKS).optional(),
  /** Method lora: the members' adapter rank (absent: DEFAULT_LORA_RANK on the family's attention projections). */
  loraRank: z.number().int().min(1).max(256).optional(),
  /** Method lora: PEFT's dropout on each member's adapter input while it trains (absent: LORA_DEFAULTS.dropout). */
  loraDropout: z.number().min(0).lt(1).optional(),
  stage2Loss: z.enum(STAGE2_LOSSES).default(BRME_DEFAULTS.stage2Loss),
  /** Own bootstrap resample per head/member; absent: the method's default (resolveBootstrap). */
  bootstrap: z.boolean().optional(),
  anchor: z.number().min(0).max(1000).default(BRME_DEFAULTS.anchor),
  unfreezeLastLayers: z.number().int().min(0).max(8).default(BRME_DEFAULTS.unfreezeLastLayers),
  pairs: z.number().int().min(16).max(200_000).default(ENSEMBLE_DATA_DEFAULTS.pairs),
  valPairs: z.number().int().min(16).max(50_000).default(ENSEMBLE_DATA_DEFAULTS.valPairs),
  sftSamples: z.number().int().min(16).max(200_000).default(SFT_DATA_DEFAULTS.samples),
  /** Epochs of the Bradley–Terry reward model(s) and of the BRME stage 2 (defaults: the trainers'). */
  rewardEpochs: z.number().int().min(1).max(100).optional(),
  stage2Epochs: z.number().int().min(1).max(1000).optional(),
  /** Recompute each trunk layer in the reward models' backward pass (docs/engine.md § Gradient checkpointing). */
  gradientCheckpointing: z.boolean().optional(),
  /** bf16 / fp16 autocast for the reward models' training and scoring (docs/engine.md § Mixed precision;
   *  bf16 on CUDA only). Absent: DEFAULT_PRECISION. */
  precision: z.enum(PRECISIONS).optional(),
  /** Train on an imported preference dataset instead of a built-in world; the trunk is the Hugging Face
   *  model in `modelDir` (its tokenizer tokenises the rows). */
  datasetId: z.number().int().positive().optional(),
  modelDir: z.string().min(1).optional(),
})
  .refine((v) => (v.datasetId === undefined) === (v.modelDir === undefined), { message: 'an imported dataset needs a model folder (and a model folder needs a dataset): give both datasetId and modelDir' }).refine((v) => v.method === 'brme' || (v.stage2Loss === 'mse' && v.anchor === 0 && v.unfreezeLastLayers === 0),
  { message: 'stage-2 loss, anchoring and unfrozen layers apply to the BRME method only; reset them or choose method "brme"' })
  .refine((v) => (v.trunks ?? DEFAULT_ENSEMBLE_TRUNKS) === 'shared' || (v.method === 'independent' && v.datasetId === undefined),
    { path: ['trunks'], message: 'trunks "per-member" (members pretrained from different seeds) needs independent members on a built-in world: a dataset\'s model is one pretrained trunk, and BRME and LoRA members share one; choose trunks "shared"' })
  .refine((v) => v.method === 'lora' || (v.loraRank === undefined && v.loraDropout === undefined),
    { path: ['method'], message: 'loraRank and loraDropout apply to method "lora" only; remove them or choose method "lora"' });
export type EnsembleTrainRequest = z.output<typeof EnsembleTrainSchema>;

/** A histogram for the Ensembles screen: bin edges (length bins + 1) and counts. */
export interface Histogram { edges: number[]; counts: number[] }

export interface EnsemblePlots {
  /** σ of every head on every held-out response (BRME only). */
  sigma: Histogram | null;
  /** Std over heads of μ_k per held-out response: how much the heads disagree. */
  disagreement: Histogram;
  /** Std over heads of the margin μ_k(chosen) − μ_k(rejected) per held-out pair. */
  marginDisagreement: Histogram;
}

export interface EnsembleTrainResult {
  id: number;
  name: string;
  heads: number;
  method: EnsembleMethod;
  world: string;
  path: string;
  report: EnsembleReport | null;
  stage1: { train_accuracy: number; val_accuracy: number } | null;
  plots: EnsemblePlots;
  seconds: number;
}

export function histogram(values: number[], bins = 24): Histogram {
  const finite = values.filter(Number.isFinite);
  if (!finite.length) return { edges: [0, 1], counts: [0] };
  let lo = Math.min(...finite), hi = Math.max(...finite);
  if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
  const w = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const v of finite) counts[Math.min(bins - 1, Math.floor((v - lo) / w))]!++;
  return { edges: Array.from({ length: bins + 1 }, (_, i) => lo + i * w), counts };
}

const std = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / xs.length);
};

export interface EnsembleTrainOptions {
  dataDir: string;
  /** Where to save the ensemble (default: <data dir>/ensembles/<id>/). */
  outDir?: string;
  device: DeviceRequest;
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent, fraction: number) => void;
}

/** Trains, evaluates, saves and records an ensemble. Throws when cancelled (nothing is recorded then). */
export async function trainWorldEnsemble(req: EnsembleTrainRequest, o: EnsembleTrainOptions): Promise<EnsembleTrainResult> {
  const t0 = Date.now();
  const check = () => o.signal?.throwIfAborted();
  // Shares of the total time, measured on the Goodhart lab with the defaults (SFT ≈ 35 %, reward ≈ 55 %).
  const share = { sft: 0.35, stage1: 0.45, stage2: 0.2 };
  const say = (e: ProgressEvent, fraction: number) => { check(); o.onProgress?.(e, Math.min(1, fraction)); };

  let world: World, base: CausalLM, train: PreferencePair[], val: PreferencePair[];
  const rng = new Rng(req.seed * 104729 + 2);
  if (req.datasetId !== undefined) {
    // Imported data: the pretrained model is the trunk as it is (no SFT); validation pairs come from
    // the dataset's held-out split, as in a study on that dataset.
    // Token budgets: the study defaults (128 + 64), shrunk to fit a model with fewer positions.
    const { config } = await readModelConfig(req.modelDir!);
    const positions = maxPositionsOf(config);
    const maxPromptTokens = Math.min(DATASET_WORLD_DEFAULTS.maxPromptTokens, Math.floor((2 * positions) / 3));
    const maxResponseTokens = Math.min(DATASET_WORLD_DEFAULTS.maxResponseTokens, positions - maxPromptTokens);
    // Refused before the weights are read (docs/engine.md § Memory plan).
    await assertEnsembleFits(config, { method: req.method, heads: req.heads, batchPairs: REWARD_DEFAULTS.batchSize, tokens: maxPromptTokens + maxResponseTokens, checkpointing: req.gradientCheckpointing ?? false }, o.device);
    base = await CausalLM.load(req.modelDir!, o.device);
    const store = openStore({ dataDir: o.dataDir });
    let dw: DatasetWorld;
    try {
      dw = await datasetWorld({ store, datasetId: req.datasetId, modelDir: req.modelDir!, seed: req.seed, device: o.device, maxPromptTokens, maxResponseTokens });
    } finally { store.close(); }
    world = dw;
    train = dw.preferencePairs(req.pairs, rng);
    val = dw.heldOutPairs(req.valPairs, rng);
  } else {
    world = makeWorld(req.world, {}, req.seed);
    const tokens = Math.max(1, ...world.trainPrompts.map((p) => p.length)) + world.maxResponseTokens;
    await assertEnsembleFits(world.modelConfig(), { method: req.method, heads: req.heads, batchPairs: REWARD_DEFAULTS.batchSize, tokens, checkpointing: req.gradientCheckpointing ?? false }, o.device);
    say({ phase: 'sft', message: `training the starting policy π₀ on ${req.sftSamples} samples of the world's base behaviour` }, 0);
    base = await trainBuiltinPolicy(world, req.seed, req.sftSamples, { ...SFT_DEFAULTS, seed: req.seed, padId: world.padId }, o.device,
      (p) => say({ phase: 'sft', message: `SFT epoch ${p.epoch + 1}/${SFT_DEFAULTS.epochs}`, step: p.step, total: p.steps, metrics: { loss: p.loss } }, share.sft * (p.step / p.steps)));
    train = world.preferencePairs(req.pairs, rng);
    val = world.preferencePairs(req.valPairs, rng);
  }
  if (!train.length || !val.length) throw new Error(`not enough preference pairs to train and evaluate an ensemble (${train.length} for training, ${val.length} held out)`);

  // The settings a study's ensemble is trained with (a pretrained trunk gets the study's small reward lr).
  const opts = ensembleTrainOptions({ ...req, bootstrap: req.bootstrap ?? null, lora: req.loraRank !== undefined || req.loraDropout !== undefined ? { r: req.loraRank ?? DEFAULT_LORA_RANK, alpha: LORA_DEFAULTS.alpha, dropout: req.loraDropout ?? LORA_DEFAULTS.dropout } : null }, { seed: req.seed, padId: world.padId, pretrained: req.datasetId !== undefined, gradientCheckpointing: req.gradientCheckpointing ?? false, ...(req.precision ? { precision: req.precision } : {}) });
  const { bootstrap } = opts;
  // Per-member trunks (refused by the schema except for independent members on a built-in world): trained in the job, not cached.
  const trunkOf = req.trunks === 'per-member' ? memberTrunks({
    world, base, ensembleSeed: req.seed, samples: req.sftSamples, sft: { ...SFT_DEFAULTS, seed: req.seed, padId: world.padId }, device: o.device,
    onTrain: (k) => say({ phase: 'sft', message: `member ${k}'s own trunk: a π₀ variant from another seed (${req.sftSamples} SFT samples)` }, share.sft + (1 - share.sft) * (k / req.heads)),
  }) : undefined;
  const r = await trainEnsemble(base, train, val, {
    ...opts, ...(trunkOf ? { trunkOf } : {}),
    reward: { ...opts.reward, ...(req.rewardEpochs ? { epochs: req.rewardEpochs } : {}) },
    brme: { ...opts.brme, ...(req.stage2Epochs ? { epochs: req.stage2Epochs } : {}) },
  }, (p) => {
    const f = p.step / p.steps;
    if (p.phase === 'member') {
      const k = p.member ?? 0;
      say({ phase: 'reward', message: `reward model ${k + 1} of ${req.heads}`, step: p.step, total: p.steps, metrics: { loss: p.loss } },
        share.sft + (1 - share.sft) * ((k + f) / req.heads));
    } else if (p.phase === 'stage1') {
      say({ phase: 'reward', message: 'stage 1: the single Bradley–Terry reward model', step: p.step, total: p.steps, metrics: { loss: p.loss } }, share.sft + share.stage1 * f);
    } else {
      say({ phase: 'ensemble', message: `stage 2: ${req.heads} BRME heads (${req.stage2Loss})`, step: p.step, total: p.steps, metrics: { loss: p.loss } }, share.sft + share.stage1 + share.stage2 * f);
    }
  });
  check();

  // The distributions behind the report's summary numbers, on the held-out pairs.
  say({ phase: 'ensemble', message: 'scoring the held-out pairs for the σ and disagreement plots' }, 0.99);
  const seqs = val.flatMap((p) => [[...p.prompt, ...p.chosen], [...p.prompt, ...p.rejected]]);
  const s = await r.ensemble.score(seqs);
  const plots: EnsemblePlots = {
    sigma: s.sigma ? histogram(s.sigma.flat()) : null,
    disagreement: histogram(s.mu.map(std)),
    marginDisagreement: histogram(val.map((_, i) => std(s.mu[2 * i]!.map((m, k) => m - s.mu[2 * i + 1]![k]!)))),
  };
  check();

  const source = req.datasetId !== undefined ? `dataset ${req.datasetId}` : req.world;
  const config = {
    world: source, ...(req.datasetId !== undefined ? { datasetId: req.datasetId, modelDir: req.modelDir } : {}), seed: req.seed, pairs: req.pairs, valPairs: req.valPairs, sftSamples: req.sftSamples, method: req.method, heads: req.heads,
    bootstrap, ...(req.trunks === 'per-member' ? { trunks: req.trunks } : {}), ...(req.method === 'brme' ? { stage2Loss: req.stage2Loss, anchor: req.anchor, unfreezeLastLayers: req.unfreezeLastLayers } : {}),
  };
  const stage1 = r.stage1 ? { train_accuracy: r.stage1.trainAccuracy, val_accuracy: r.stage1.valAccuracy } : null;
  const name = req.name ?? `${source} ${req.method === 'brme' ? `BRME ${req.stage2Loss}` : 'independent'} K=${req.heads}` +
    `${bootstrap && req.method === 'brme' ? ' +bootstrap' : ''}${!bootstrap && req.method === 'independent' ? ' no bootstrap' : ''}${req.trunks === 'per-member' ? ' own trunks' : ''}${req.anchor ? ` +anchor ${req.anchor}` : ''}${req.unfreezeLastLayers ? ` +unfreeze ${req.unfreezeLastLayers}` : ''} (seed ${req.seed})`;
  r.ensemble.info = { ...r.ensemble.info, app: config };

  const store = openStore({ dataDir: o.dataDir });
  try {
    const row = store.ensembles.add({ name, heads: req.heads, method: req.method, config, ...(req.datasetId !== undefined ? { datasetId: req.datasetId } : {}) });
    const dir = path.resolve(o.outDir ?? path.join(o.dataDir, 'ensembles', String(row.id)));
    await r.ensemble.save(dir);
    const art = store.artifacts.add({ kind: 'ensemble', name, path: dir, meta: { method: req.method, heads: req.heads, world: source } });
    const seconds = (Date.now() - t0) / 1000;
    store.ensembles.complete(row.id, art.id, { report: r.report ?? null, stage1, plots, seconds } as Record<string, unknown>);
    return { id: row.id, name, heads: req.heads, method: req.method, world: source, path: dir, report: r.report ?? null, stage1, plots, seconds };
  } finally {
    store.close();
  }
}
