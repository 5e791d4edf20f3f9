// The common shape of reward-model ensembles (docs/method.md § BRME): what PPO, best-of-n and the reward
// server score with, whichever kind trained it — BRME heads (brme.ts) or independent Bradley–Terry
// members (independent.ts) — plus what both kinds share: the per-head normalisation, the data defaults
// and the bootstrap default. Training and loading either kind: ensemble-train.ts; the quality report:
// ensemble-quality.ts.

import { type ModelConfig } from '../models/config.js';
import { type EnsembleMethod } from '../../common/ensemble-methods.js';
import { type Precision } from '../runtime/precision.js';

/** Per-head normalisation over the training sequences (see BrmeConfig.normalizeHeads). */
export type HeadNormalization = 'none' | 'center' | 'standardize';

/** Preference pairs an ensemble is trained and validated on, when a study or `ensemble train` does not say. */
export const ENSEMBLE_DATA_DEFAULTS = Object.freeze({ pairs: 2000, valPairs: 500 });

/** Shift and scale per head from per-sequence rewards [N][K]: μ' = (μ − shift)/scale. */
export function headStats(mu: ArrayLike<number>[] | Float32Array, K: number, kind: HeadNormalization): { shift: number[]; scale: number[] } {
  const rows = mu instanceof Float32Array ? Array.from({ length: mu.length / K }, (_, i) => mu.subarray(i * K, (i + 1) * K)) : mu;
  const shift = new Array<number>(K).fill(0), scale = new Array<number>(K).fill(1);
  if (kind === 'none' || rows.length === 0) return { shift, scale };
  for (let k = 0; k < K; k++) {
    let m = 0;
    for (const r of rows) m += r[k]!;
    m /= rows.length;
    shift[k] = m;
    if (kind === 'standardize') {
      let v = 0;
      for (const r of rows) v += (r[k]! - m) ** 2;
      const sd = Math.sqrt(v / rows.length);
      scale[k] = sd > 1e-8 ? sd : 1;
    }
  }
  return { shift, scale };
}


export { ENSEMBLE_METHODS, type EnsembleMethod } from '../../common/ensemble-methods.js';

/** Whether members (independent, LoRA) or heads (BRME) see their own bootstrap resample of the pairs, when a
 *  spec or request leaves it open (null/undefined): independent members do (Coste et al. train theirs on
 *  resamples), BRME heads do not (the paper trains every head on all pairs). An explicit value wins. */
export function resolveBootstrap(method: EnsembleMethod, bootstrap: boolean | null | undefined): boolean {
  return bootstrap ?? method !== 'brme';
}


export interface EnsembleScores {
  /** Per-sequence, per-head rewards [N][K]. */
  mu: number[][];
  /** Per-head standard deviations [N][K] (BRME only). */
  sigma?: number[][];
  /** The stage-1 reward model's reward (BRME), or the nominal member's (independent). */
  single: number[];
}

export interface Ensemble {
  readonly kind: EnsembleMethod;
  readonly K: number;
  readonly padId: number;
  readonly config: ModelConfig;
  /** Provenance and metrics, saved with the ensemble. */
  info: Record<string, unknown>;
  /** fp32, or bf16 / fp16 autocast for scoring (docs/engine.md § Mixed precision): set before the first
   *  score (compiled scorers are not rebuilt). A trained ensemble carries its training precision. */
  precision: Precision;
  /** Scores full sequences (prompt + response token ids). */
  score(sequences: number[][], batchSize?: number): Promise<EnsembleScores>;
  save(dir: string): Promise<void>;
}

/** Scores responses to prompts (concatenates each prompt with its response). */
export function scoreResponses(ens: Ensemble, prompts: number[][], responses: number[][]): Promise<EnsembleScores> {
  if (prompts.length !== responses.length) throw new Error(`${prompts.length} prompts for ${responses.length} responses`);
  return ens.score(prompts.map((p, i) => [...p, ...responses[i]!]));
}
