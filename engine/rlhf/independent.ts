// Independent ensembles (docs/method.md § BRME, Coste et al. 2310.02743): K Bradley–Terry reward models
// trained from different seeds and bootstrap resamples, one of the two kinds of `Ensemble` (ensemble.ts);
// the other is brme.ts. LoRA ensembles (Zhang et al. 2401.16635) are the same class with kind 'lora':
// each member is LoRA adapters + its own head on one frozen trunk that all members share (π₀'s arrays, no
// copy), so scoring, normalisation, the nominal member and the quality report are the independent ones.
// Saved as trunk/ (the shared trunk, once) and member-k/ (a PEFT SEQ_CLS adapter folder each).

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Rng } from '../runtime/params.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { type CausalLM } from '../models/model.js';
import { type ModelConfig } from '../models/config.js';
import { type PreferencePair } from '../worlds/world.js';
import {
  RewardModel, type RewardTrainConfig, type RewardTrainMetrics, type RewardProgress, REWARD_DEFAULTS, trainBradleyTerry, SCORE_BATCH, pairRows,
  readModelFolder, writeModelFolder, trunkNames,
} from './reward.js';
import { ParamStore } from '../runtime/params.js';
import { hfClassName } from '../models/config.js';
import { type Precision } from '../runtime/precision.js';
import { type Ensemble, type EnsembleScores, type HeadNormalization, headStats } from './ensemble.js';
import { type EnsembleReport, evaluateEnsemble } from './ensemble-quality.js';

export class IndependentEnsemble implements Ensemble {
  /** 'lora' when the members are LoRA adapters on one shared trunk (all or none of them). */
  readonly kind: 'independent' | 'lora';
  constructor(
    readonly members: RewardModel[],
    /** The member used as `single` and as the nominal reward (σ is not defined). Default 0. */
    public nominalMember = 0,
    public info: Record<string, unknown> = {},
    /** μ_k = (r_k − shift_k)/scale_k (see IndependentConfig.normalizeMembers); `single` stays raw. */
    public normalization: { shift: number[]; scale: number[] } = { shift: members.map(() => 0), scale: members.map(() => 1) },
  ) {
    if (members.length === 0) throw new Error('an ensemble needs at least one member');
    if (!(nominalMember >= 0 && nominalMember < members.length)) throw new Error(`nominalMember ${nominalMember} is not a member index`);
    if (normalization.shift.length !== members.length || normalization.scale.length !== members.length) throw new Error('normalization needs one shift and scale per member');
    this.kind = members[0]!.lora ? 'lora' : 'independent';
    if (members.some((m) => !!m.lora !== (this.kind === 'lora'))) throw new Error('an ensemble\'s members are all LoRA adapters on one trunk or none of them');
  }

  get K(): number { return this.members.length; }
  get padId(): number { return this.members[0]!.padId; }
  get config(): ModelConfig { return this.members[0]!.config; }
  /** The members' scoring precision (docs/engine.md § Mixed precision); setting it sets every member's. */
  get precision(): Precision { return this.members[0]!.precision; }
  set precision(p: Precision) { for (const m of this.members) m.precision = p; }

  /** K trunk passes (one compiled graph per member; the graphs are identical, so ORT reuses one session). */
  async score(sequences: number[][], batchSize = SCORE_BATCH): Promise<EnsembleScores> {
    const per: number[][] = [];
    for (const m of this.members) per.push(await m.score(sequences, batchSize));
    const { shift, scale } = this.normalization;
    const mu = sequences.map((_, i) => per.map((r, k) => (r[i]! - shift[k]!) / scale[k]!));
    return { mu, single: [...per[this.nominalMember]!] };
  }

  async save(dir: string): Promise<void> {
    const root = path.resolve(dir);
    await mkdir(root, { recursive: true });
    const names = this.members.map((_, k) => `member-${k}`);
    if (this.kind === 'lora') {
      // The shared trunk once (a *Model folder: the decoder without LM head), then each member's adapters + head.
      const m0 = this.members[0]!, trunk = new ParamStore();
      for (const n of trunkNames(m0.config)) { const p = m0.params.get(n); trunk.set(n, p.data, p.shape); }
      await writeModelFolder(path.join(root, 'trunk'), m0.config, trunk, { architectures: [hfClassName(m0.config.arch, 'Model')] }, { kind: 'trunk', format: 1 });
      for (let k = 0; k < this.K; k++) await this.members[k]!.saveAdapters(path.join(root, names[k]!), '../trunk');
    } else {
      for (let k = 0; k < this.K; k++) await this.members[k]!.save(path.join(root, names[k]!));
    }
    const lora = this.kind === 'lora' ? { lora: this.members[0]!.lora!.config, trunk: 'trunk' } : {};
    await writeFile(path.join(root, 'rrlhf.json'), JSON.stringify({ kind: this.kind, format: 1, K: this.K, nominal_member: this.nominalMember, members: names, ...lora, normalization: this.normalization, info: this.info }, null, 2) + '\n');
  }

  static async load(dir: string, device: DeviceRequest = 'cpu'): Promise<IndependentEnsemble> {
    const root = path.resolve(dir);
    const meta = JSON.parse(await readFile(path.join(root, 'rrlhf.json'), 'utf8')) as { kind: string; members: string[]; nominal_member: number; normalization?: { shift: number[]; scale: number[] }; info?: Record<string, unknown> };
    if (meta.kind !== 'independent' && meta.kind !== 'lora') throw new Error(`${root}: not an independent or LoRA ensemble (rrlhf.json kind = ${meta.kind})`);
    // Members are subfolders named in the file: a name that leads elsewhere (../, an absolute path) is refused.
    const isMember = (m: unknown) => typeof m === 'string' && m !== '' && m !== '.' && m !== '..' && m === path.basename(m) && !m.includes('\\');
    if (!Array.isArray(meta.members) || !meta.members.length || !meta.members.every(isMember)) {
      throw new Error(`${path.join(root, 'rrlhf.json')}: "members" must name the ensemble's member folders inside it (member-0, member-1, …), not ${JSON.stringify(meta.members)}; re-save the ensemble or fix the file`);
    }
    const members = [];
    if (meta.kind === 'lora') {
      const { config, store } = await readModelFolder(path.join(root, 'trunk'));
      for (const m of meta.members) members.push(await RewardModel.loadAdapters(path.join(root, m), config, store, device));
    } else {
      for (const m of meta.members) members.push(await RewardModel.load(path.join(root, m), device));
    }
    return new IndependentEnsemble(members, meta.nominal_member, meta.info ?? {}, meta.normalization);
  }
}

export interface IndependentConfig extends RewardTrainConfig {
  /** Train each member on a bootstrap resample of the pairs (n draws with replacement). Default true. */
  bootstrap: boolean;
  /** Which member is nominal (and `single`): an index, or 'best-val' (highest held-out accuracy). Default 0. */
  nominalMember: number | 'best-val';
  /** Per-member normalisation of μ over the training sequences. Default 'center': a Bradley–Terry
   *  model's offset is arbitrary, so without it the min over members would mostly pick whichever
   *  member happens to sit lowest (Coste et al. also normalise their members). */
  normalizeMembers: HeadNormalization;
}

/** What an independent ensemble adds to each member's RewardTrainConfig, when the caller does not say. */
export const INDEPENDENT_DEFAULTS: Readonly<Pick<IndependentConfig, 'bootstrap' | 'nominalMember' | 'normalizeMembers'>> = Object.freeze({
  bootstrap: true, nominalMember: 0, normalizeMembers: 'center',
});

/** K Bradley–Terry models from different seeds (head init, data order) and bootstrap resamples. By
 *  default every member starts from the same `init` trunk (Coste et al.). `trunkOf(k)` gives member k a
 *  trunk of its own instead — a π₀ variant pretrained from another seed, the pretraining-seed diversity
 *  Eisenstein et al. (2312.09244) found matters most (engine/experiments/trunks.ts; docs/science.md
 *  § Pretraining-seed members); each variant is asked for when its member trains, so one is held at a
 *  time. With `lora`, each member is adapters + a head on init's frozen trunk (no `trunkOf`). */
export async function trainIndependent(
  init: CausalLM, train: PreferencePair[], val: PreferencePair[], K: number, config: Partial<IndependentConfig> = {},
  onProgress?: (member: number, p: RewardProgress) => void,
  trunkOf?: (member: number) => Promise<CausalLM>,
): Promise<{ ensemble: IndependentEnsemble; metrics: { members: RewardTrainMetrics[]; seconds: number; report?: EnsembleReport } }> {
  if (!Number.isInteger(K) || K < 1) throw new Error(`K must be a positive integer, got ${K}`);
  if (trunkOf && config.lora) throw new Error('LoRA members adapt one frozen trunk; per-member trunks need full independent members');
  const t0 = Date.now();
  const { bootstrap = INDEPENDENT_DEFAULTS.bootstrap, nominalMember = INDEPENDENT_DEFAULTS.nominalMember, normalizeMembers = INDEPENDENT_DEFAULTS.normalizeMembers, lora = null, ...rest } = config;
  const base: RewardTrainConfig = { ...REWARD_DEFAULTS, ...rest };
  const rng = new Rng(base.seed);
  const members: RewardModel[] = [], metrics: RewardTrainMetrics[] = [];
  for (let k = 0; k < K; k++) {
    const mrng = rng.fork();
    const data = bootstrap ? Array.from({ length: train.length }, () => train[mrng.int(train.length)]!) : train;
    const trunk = trunkOf ? await trunkOf(k) : init;
    if (trunk.config.vocabSize !== init.config.vocabSize || trunk.config.d !== init.config.d) throw new Error(`member ${k}'s trunk has another shape than init's`);
    const r = await trainBradleyTerry(trunk, data, val, { ...base, lora, seed: mrng.nextU32() }, (p) => onProgress?.(k, p));
    r.model.info.member = k;
    r.model.info.trunk = trunkOf ? (k === 0 && trunk === init ? 'init' : 'own') : 'init';
    r.model.info.bootstrap = bootstrap;
    members.push(r.model); metrics.push(r.metrics);
  }
  let nominal = 0;
  if (nominalMember === 'best-val') {
    metrics.forEach((mm, k) => { if (mm.valAccuracy > metrics[nominal]!.valAccuracy) nominal = k; });
  } else nominal = nominalMember;
  // Normalisation statistics over the (full, not resampled) training sequences.
  let normalization: { shift: number[]; scale: number[] } | undefined;
  if (normalizeMembers !== 'none') {
    const rows = pairRows(train);
    const per: number[][] = [];
    for (const mm of members) per.push(await mm.score(rows));
    normalization = headStats(rows.map((_, i) => per.map((r) => r[i]!)), K, normalizeMembers);
  }
  const ensemble = new IndependentEnsemble(members, nominal, { method: lora ? 'lora' : 'independent', config: { ...base, bootstrap, nominalMember, normalizeMembers, ...(lora ? { lora } : {}) }, trunks: trunkOf ? 'per-member' : 'shared', trainPairs: train.length, valPairs: val.length }, normalization);
  const report = val.length ? await evaluateEnsemble(ensemble, val) : undefined;
  const seconds = (Date.now() - t0) / 1000;
  ensemble.info.metrics = { seconds, report, members: metrics.map((mm) => ({ trainAccuracy: mm.trainAccuracy, valAccuracy: mm.valAccuracy, steps: mm.steps })) };
  return { ensemble, metrics: { members: metrics, seconds, ...(report ? { report } : {}) } };
}
