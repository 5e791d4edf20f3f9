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

/** Loads a saved ensemble (BRME or independent); a single reward-model folder loads as a 1-member ensemble. */
export async function loadEnsemble(dir: string, device: DeviceRequest = 'cpu'): Promise<Ensemble> {
  const root = path.resolve(dir);
  let kind: unknown;
  try { kind = JSON.parse(await readFile(path.join(root, 'rrlhf.json'), 'utf8')).kind; } catch { kind = 'reward_model'; }
  if (kind === 'brme') return BrmeEnsemble.load(root, device);
  if (kind === 'independent') return IndependentEnsemble.load(root, device);
  return new IndependentEnsemble([await RewardModel.load(root, device)]);
}

export interface EnsembleTrainOptions {
  method: 'brme' | 'independent';
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

/** Trains an ensemble from a starting policy: BRME (stage 1 BT, then stage 2) or K independent models. */
export async function trainEnsemble(init: CausalLM, train: PreferencePair[], val: PreferencePair[], options: Partial<EnsembleTrainOptions> = {}, onProgress?: (p: EnsembleProgress) => void): Promise<EnsembleTrainResult> {
  const o: EnsembleTrainOptions = { method: 'brme', heads: BRME_DEFAULTS.heads, reward: {}, brme: {}, ...INDEPENDENT_DEFAULTS, ...options };
  const t0 = Date.now();
  if (o.method === 'independent') {
    const r = await trainIndependent(init, train, val, o.heads, { ...o.reward, bootstrap: o.bootstrap, nominalMember: o.nominalMember, normalizeMembers: o.normalizeMembers },
      (k, p) => onProgress?.({ phase: 'member', member: k, step: p.step, steps: p.steps, loss: p.loss, epoch: p.epoch, accuracy: p.accuracy }));
    return { ensemble: r.ensemble, single: r.ensemble.members[r.ensemble.nominalMember]!, report: r.metrics.report, members: r.metrics.members, seconds: (Date.now() - t0) / 1000 };
  }
  const s1 = await trainBradleyTerry(init, train, val, o.reward, (p) => onProgress?.({ phase: 'stage1', step: p.step, steps: p.steps, loss: p.loss, epoch: p.epoch, accuracy: p.accuracy }));
  const s2 = await trainBrme(s1.model, train, val, { seed: o.reward.seed ?? 0, ...o.brme, heads: o.heads },
    (p) => onProgress?.({ phase: 'stage2', step: p.step, steps: p.steps, loss: p.loss }));
  return { ensemble: s2.ensemble, single: s1.model, report: s2.metrics.report, stage1: s1.metrics, stage2: s2.metrics, seconds: (Date.now() - t0) / 1000 };
}
