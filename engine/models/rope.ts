// Rotary position embeddings' inverse frequencies as transformers computes them
// (modeling_rope_utils.py, ROPE_INIT_FUNCTIONS), for the rope types the lab supports. Each type only
// changes the frequency table; the rotation itself (F.applyRope, HF's rotate_half) is the same.
// Types whose tables depend on the running sequence length (yarn's and longrope's attention factor,
// dynamic NTK past its original length) are either refused by the config parser or capped there, so a
// table computed once is exact for every sequence the lab runs.

/** rope_scaling / rope_parameters beyond the default rope, as the config parser validated them. */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  /** Dynamic NTK equals the default rope up to its original length, which the parser makes the model's limit. */
  | { type: 'dynamic'; factor: number; originalMaxPositions: number | null };

export const ROPE_TYPES = ['default', 'linear', 'llama3', 'dynamic'] as const;

/** inv_freq [dim/2]: 1/θ^(2i/dim), then the scaling's adjustment (float32, as HF's buffer). */
export function ropeInvFreq(dim: number, theta: number, scaling?: RopeScaling | null): Float32Array {
  const half = dim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(theta, (2 * i) / dim);
  if (!scaling || scaling.type === 'dynamic') return inv;
  if (scaling.type === 'linear') return inv.map((f) => f / scaling.factor);
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
