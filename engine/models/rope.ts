// Rotary position embeddings' inverse frequencies and attention factor as transformers computes them
// (src/transformers/modeling_rope_utils.py: _compute_yarn_parameters, _compute_longrope_parameters and
// RotaryEmbeddingConfigMixin.standardize_rope_params of transformers 5.x, read against the 4.4x file at
// commit ef46806472a6; the config parser refuses what the versions compute differently, docs/engine.md
// § Model configs). Each type
// only changes the frequency table and a factor on cos/sin; the rotation itself (F.applyRope, HF's
// rotate_half) is the same. Types whose table depends on the running sequence length (dynamic NTK past
// its original length, longrope's long factors past original_max_position_embeddings) are capped there
// (maxPositionsOf), so a table computed once is exact for every sequence the lab runs.

import { type Tensor, F } from '../graph/index.js';

/** rope_scaling / rope_parameters beyond the default rope, as the config parser validated them.
 *  Optional yarn/longrope keys stay null when the config leaves them out, so a saved config says what
 *  the folder said. */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  /** Dynamic NTK equals the default rope up to its original length, which the parser makes the model's limit. */
  | { type: 'dynamic'; factor: number; originalMaxPositions: number | null }
  /** YaRN (Peng et al. 2023): frequencies ramped between interpolated and extrapolated, cos/sin × attention factor. */
  | {
    type: 'yarn'; factor: number; originalMaxPositions: number | null; attentionFactor: number | null;
    mscale: number | null; mscaleAllDim: number | null; betaFast: number | null; betaSlow: number | null; truncate: boolean | null;
  }
  /** LongRoPE (Phi-3 128k, Phi-3.5, Phi-4-mini): per-frequency divisors, short ones up to the original
   *  length (the lab's limit for this type), long ones past it; cos/sin × attention factor. */
  | { type: 'longrope'; shortFactor: number[]; longFactor: number[]; originalMaxPositions: number; factor: number | null; attentionFactor: number | null };

export const ROPE_TYPES = ['default', 'linear', 'llama3', 'dynamic', 'yarn', 'longrope'] as const;

const f32 = Math.fround;

/** base^(2i/dim) for i < dim/2, as float32 (HF: base ** (arange(0, dim, 2).float() / dim)). */
function powers(dim: number, theta: number): number[] {
  return Array.from({ length: dim / 2 }, (_, i) => f32(Math.pow(theta, f32((2 * i) / dim))));
}

/** inv_freq [dim/2] (float32, as HF's buffer). `maxPositions` is the config's max_position_embeddings,
 *  which yarn reads when original_max_position_embeddings is absent. */
export function ropeInvFreq(dim: number, theta: number, scaling?: RopeScaling | null, maxPositions?: number): Float32Array {
  const half = dim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(theta, (2 * i) / dim);
  if (!scaling || scaling.type === 'dynamic') return inv;
  if (scaling.type === 'linear') return inv.map((f) => f / scaling.factor);
  if (scaling.type === 'yarn') return yarnInvFreq(dim, theta, scaling, maxPositions);
  if (scaling.type === 'longrope') {
    // inv = 1 / (short_factor[i] · base^(2i/dim)), each step in float32
    return Float32Array.from(powers(dim, theta), (p, i) => 1 / f32(f32(scaling.shortFactor[i]!) * p));
  }
  // llama3 (Llama 3.1/3.2): low frequencies divided by factor, high ones kept, a smooth ramp between.
  const { factor, lowFreqFactor: lo, highFreqFactor: hi, originalMaxPositions: old } = scaling;
  const lowWavelen = old / lo, highWavelen = old / hi;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    const scaled = wavelen > lowWavelen ? f / factor : f;
    const medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
    if (!medium) return scaled;
    const smooth = (old / wavelen - lo) / (hi - lo);
    return (1 - smooth) * scaled / factor + smooth * scaled;
  });
}

/** _compute_yarn_parameters: frequencies below `low` keep their extrapolated value, those above `high`
 *  are divided by the factor, a linear ramp between (over the float32 arange, as HF). */
function yarnInvFreq(dim: number, theta: number, s: Extract<RopeScaling, { type: 'yarn' }>, maxPositions?: number): Float32Array {
  const original = s.originalMaxPositions ?? maxPositions;
  if (original === undefined) throw new Error('yarn rope needs original_max_position_embeddings or max_position_embeddings');
  const betaFast = s.betaFast || 32, betaSlow = s.betaSlow || 1; // python's `or`: 0 and null take the default
  const correctionDim = (rotations: number) => (dim * Math.log(original / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
  let low = correctionDim(betaFast), high = correctionDim(betaSlow);
  if (s.truncate ?? true) { low = Math.floor(low); high = Math.ceil(high); }
  low = Math.max(low, 0); high = Math.min(high, dim - 1);
  if (low === high) high += 0.001;
  return Float32Array.from(powers(dim, theta), (p, i) => {
    const ramp = Math.min(1, Math.max(0, f32(f32(i - low) / f32(high - low)))); // float32 arange minus python scalars
    const extrapolation = f32(1 - ramp);
    const interpolated = f32(1 / f32(s.factor * p)), extrapolated = f32(1 / p);
    return f32(f32(interpolated * f32(1 - extrapolation)) + f32(extrapolated * extrapolation));
  });
}

/** The factor HF multiplies cos and sin by (`attention_scaling`): 1 except for yarn and longrope.
 *  `maxPositions` is the config's max_position_embeddings (longrope's default factor is its ratio to the original). */
export function ropeAttentionScale(scaling: RopeScaling | null | undefined, maxPositions: number): number {
  if (!scaling) return 1;
  if (scaling.type === 'yarn') {
    if (scaling.attentionFactor !== null) return scaling.attentionFactor;
    const mscale = (scale: number, m = 1) => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);
    const f = scaling.factor;
    return scaling.mscale && scaling.mscaleAllDim ? mscale(f, scaling.mscale) / mscale(f, scaling.mscaleAllDim) : mscale(f);
  }
  if (scaling.type === 'longrope') {
    if (scaling.attentionFactor !== null) return scaling.attentionFactor;
    const factor = scaling.factor ?? maxPositions / scaling.originalMaxPositions;
    return factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(scaling.originalMaxPositions));
  }
  return 1;
}

/** cos/sin [B, 1, T, dim] for positions [B, T]: the rope type's table and attention factor over the
 *  first `dim` dims of each head (all of them unless the family rotates part of the head). */
export function ropeCosSin(positions: Tensor, dim: number, c: { ropeTheta: number; rope: RopeScaling | null; maxPositions: number }): { cos: Tensor; sin: Tensor } {
  const t = F.ropeTables(positions, dim, ropeInvFreq(dim, c.ropeTheta, c.rope, c.maxPositions));
  const scale = Math.fround(ropeAttentionScale(c.rope, c.maxPositions));
  const scaled = (x: Tensor) => F.unsqueeze(scale === 1 ? x : F.mul(x, scale), 1);
  return { cos: scaled(t.cos), sin: scaled(t.sin) };
}
