// Mixed precision's host side (docs/engine.md § Mixed precision): which half dtype a precision traces its
// matmuls in, and fp16's dynamic loss scaling. The graph side — what runs in 16 bits — is the graph's
// autocast (engine/graph/ops/elementwise.ts); the trainer feeds the scale and gates the update.

import { type HalfDType } from '../graph/index.js';
import { type Precision } from '../../common/precision.js';

export { PRECISIONS, DEFAULT_PRECISION, type Precision } from '../../common/precision.js';

export const HALF_DTYPE: Record<Precision, HalfDType | null> = { fp32: null, bf16: 'bfloat16', fp16: 'float16' };

/** Which devices can run a precision, and why not: ORT's CPU provider has no bfloat16 kernels (not even
 *  Add or MatMul, checked in onnxruntime-node 1.30.0), while its float16 nodes run (the provider casts
 *  the ones it lacks to float32 internally — right for checking the numbers, not a speed-up). */
export function precisionRefusal(precision: Precision, deviceKind: 'cpu' | 'cuda' | 'webgpu' | string): string | null {
  if (precision === 'bf16' && deviceKind !== 'cuda') return `precision bf16 needs a CUDA device: ONNX Runtime's ${deviceKind} provider has no bfloat16 kernels; use fp32 (or fp16 to check mixed-precision numerics)`;
  return null;
}

export interface LossScalerState { scale: number; goodSteps: number; skippedSteps: number }

/** torch.cuda.amp.GradScaler's dynamic rule: start at 2¹⁶; a step whose gradients overflow is skipped and
 *  halves the scale; 2000 overflow-free steps in a row double it. bf16 has float32's range, so it is not
 *  scaled (scale 1), but a non-finite step is still skipped rather than written into the weights. */
export class LossScaler {
  static readonly INIT = 2 ** 16;
  static readonly GROWTH_INTERVAL = 2000;
  scale: number;
  goodSteps = 0;
  skippedSteps = 0;
  constructor(readonly dynamic: boolean) { this.scale = dynamic ? LossScaler.INIT : 1; }

  /** Records one step's outcome (finite: its gradients had no inf/NaN). */
  update(finite: boolean): void {
    if (!finite) {
      this.skippedSteps++;
      this.goodSteps = 0;
      if (this.dynamic) this.scale = Math.max(this.scale / 2, 2 ** -24);
      return;
    }
    if (this.dynamic && ++this.goodSteps >= LossScaler.GROWTH_INTERVAL) { this.scale = Math.min(this.scale * 2, 2 ** 24); this.goodSteps = 0; }
  }

  state(): LossScalerState { return { scale: this.scale, goodSteps: this.goodSteps, skippedSteps: this.skippedSteps }; }
  restore(s: LossScalerState): void { this.scale = s.scale; this.goodSteps = s.goodSteps; this.skippedSteps = s.skippedSteps; }
}
