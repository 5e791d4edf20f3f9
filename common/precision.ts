// The training precisions a study can ask for (spec key `precision`, `--precision`, the wizard), shared by
// the engine and the renderer. fp32 everywhere; bf16 / fp16 are mixed precision: float32 master weights,
// AdamW moments, losses and reductions, matmuls in 16 bits (docs/engine.md § Mixed precision).
export const PRECISIONS = ['fp32', 'bf16', 'fp16'] as const;
export type Precision = (typeof PRECISIONS)[number];
export const DEFAULT_PRECISION: Precision = 'fp32';
export const PRECISION_LABEL: Record<Precision, string> = {
  fp32: 'fp32 (float32 throughout)',
  bf16: 'bf16 mixed precision (CUDA)',
  fp16: 'fp16 mixed precision with loss scaling',
};
