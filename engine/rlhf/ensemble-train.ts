// One entry point for callers (CLI, experiments, best-of-n): train either kind of ensemble from a
// starting policy, or load a saved one.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type DeviceRequest } from '../runtime/devices.js';
import { type CausalLM } from '../models/model.js';
import { type PreferencePair } from '../worlds/world.js';
import { RewardModel, type RewardTrainConfig, type RewardTrainMetrics, trainBradleyTerry } from './reward.js';
import { type Ensemble, type HeadNormalization } from './ensemble.js';
import { type BrmeConfig, type BrmeTrainMetrics, BrmeEnsemble, trainBrme, BRME_DEFAULTS } from './brme.js';
import { IndependentEnsemble, trainIndependent, INDEPENDENT_DEFAULTS } from './independent.js';
import { type EnsembleReport } from './ensemble-quality.js';
import { type EnsembleMethod } from './ensemble.js';
import { type ModelConfig } from '../models/config.js';
import { type LoraConfig, LORA_DEFAULTS } from '../models/lora.js';
import { DEFAULT_LORA_RANK, defaultLoraTargets } from '../models/memory.js';

/** What a LoRA ensemble's members carry (spec `ensemble.lora`, `ensemble train --lora R`): absent keys
 *  take the engine's defaults, rank DEFAULT_LORA_RANK, alpha and dropout LORA_DEFAULTS' on the family's
 *  attention projections (the same defaults the memory plan counts). */
export interface EnsembleLoraOptions { r?: number; alpha?: number; dropout?: number; targetModules?: string[] }
export function ensembleLora(config: ModelConfig, o: EnsembleLoraOptions | null | undefined): LoraConfig {
  return { r: o?.r ?? DEFAULT_LORA_RANK, alpha: o?.alpha ?? LORA_DEFAULTS.alpha, dropout: o?.dropout ?? LORA_DEFAULTS.dropout, targetModules: o?.targetModules ?? defaultLoraTargets(config.arch), bias: 'none' };
}

/** Loads a saved ensemble (BRME, independent or LoRA); a single reward-model folder loads as a 1-member ensemble. */
export async function loadEnsemble(dir: string, device: DeviceRequest = 'cpu'): Promise<Ensemble> {
  const root = path.resolve(dir);
  let kind: unknown;
  try { kind = JSON.parse(await readFile(path.join(root, 'rrlhf.json'), 'utf8')).kind; } catch { kind = 'reward_model'; }
  if (kind === 'brme') return BrmeEnsemble.load(root, device);
  if (kind === 'independent' || kind === 'lora') return IndependentEnsemble.load(root, device);
  return new IndependentEnsemble([await RewardModel.load(root, device)]);
}

export interface EnsembleTrainOptions {
  method: EnsembleMethod;
  /** LoRA members' adapters (method lora); defaults: ensembleLora. */
  lora: EnsembleLoraOptions | null;
  /** K. Default BRME_DEFAULTS.heads. */
  heads: number;
  /** Stage 1 (BRME) or each member (independent). */
  reward: Partial<RewardTrainConfig>;
  /** Stage 2 (BRME only); `heads` above wins over brme.heads. */
  brme: Partial<BrmeConfig>;
  /** Independent members (BRME heads read brme.bootstrap). Defaults: INDEPENDENT_DEFAULTS. */
  bootstrap: boolean;
  nominalMember: number | 'best-val';
  normalizeMembers: HeadNormalization;
  /** Independent members only: member k's own trunk (engine/experiments/trunks.ts memberTrunks); absent: every member starts from init. */
  trunkOf?: (member: number) => Promise<CausalLM>;
}

export interface EnsembleTrainResult {
  ensemble: Ensemble;
  /** The stage-1 model (BRME) or the nominal member (independent): the standard-RLHF reward model. */
  single: RewardModel;
  report?: EnsembleReport;
  stage1?: RewardTrainMetrics;
  stage2?: BrmeTrainMetrics;
  members?: RewardTrainMetrics[];
  seconds: number;
}

/** `epoch` and `accuracy` (the batch's) come with the Bradley–Terry phases (stage1, member). */
export type EnsembleProgress = { phase: 'stage1' | 'stage2' | 'member'; member?: number; step: number; steps: number; loss: number; epoch?: number; accuracy?: number };

/** Trains an ensemble from a starting policy: BRME (stage 1 BT, then stage 2), K independent models, or
 *  K LoRA members on the policy's frozen trunk. */
export async function trainEnsemble(init: CausalLM, train: PreferencePair[], val: PreferencePair[], options: Partial<EnsembleTrainOptions> = {}, onProgress?: (p: EnsembleProgress) => void): Promise<EnsembleTrainResult> {
  const o: EnsembleTrainOptions = { method: 'brme', heads: BRME_DEFAULTS.heads, reward: {}, brme: {}, lora: null, ...INDEPENDENT_DEFAULTS, ...options };
  const t0 = Date.now();
  if (o.trunkOf && o.method !== 'independent') throw new Error(`per-member trunks are for independent members, not ${o.method}`);
  if (o.method === 'independent' || o.method === 'lora') {
    const lora = o.method === 'lora' ? ensembleLora(init.config, o.lora) : null;
    const r = await trainIndependent(init, train, val, o.heads, { ...o.reward, lora, bootstrap: o.bootstrap, nominalMember: o.nominalMember, normalizeMembers: o.normalizeMembers },
      (k, p) => onProgress?.({ phase: 'member', member: k, step: p.step, steps: p.steps, loss: p.loss, epoch: p.epoch, accuracy: p.accuracy }), o.trunkOf);
    return { ensemble: r.ensemble, single: r.ensemble.members[r.ensemble.nominalMember]!, report: r.metrics.report, members: r.metrics.members, seconds: (Date.now() - t0) / 1000 };
  }
  const s1 = await trainBradleyTerry(init, train, val, o.reward, (p) => onProgress?.({ phase: 'stage1', step: p.step, steps: p.steps, loss: p.loss, epoch: p.epoch, accuracy: p.accuracy }));
  const s2 = await trainBrme(s1.model, train, val, { seed: o.reward.seed ?? 0, ...o.brme, heads: o.heads },
    (p) => onProgress?.({ phase: 'stage2', step: p.step, steps: p.steps, loss: p.loss }));
  return { ensemble: s2.ensemble, single: s1.model, report: s2.metrics.report, stage1: s1.metrics, stage2: s2.metrics, seconds: (Date.now() - t0) / 1000 };
}
