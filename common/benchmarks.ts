// The benchmark layouts the lab scores (docs/evals.md), shared by the engine and the screens.
import { BENCH_PREFIX } from './metrics.js';

export const EVAL_FORMATS = ['mmlu', 'arc', 'hellaswag', 'truthfulqa', 'gsm8k'] as const;
export type EvalFormat = (typeof EVAL_FORMATS)[number];

/** What each layout is, in the words of a picker. */
export const EVAL_FORMAT_LABELS: Record<EvalFormat, string> = {
  mmlu: 'MMLU (multiple choice, log-likelihood)',
  arc: 'ARC (multiple choice, log-likelihood)',
  hellaswag: 'HellaSwag (multiple choice, log-likelihood)',
  truthfulqa: 'TruthfulQA-MC1 (multiple choice, log-likelihood)',
  gsm8k: 'GSM8K (generation, exact match of "#### N")',
};

/** bench/arc_0shot/acc → "arc 0-shot · acc" (keys as docs/metrics.md § Benchmarks names them). */
export function benchmarkLabel(key: string): string {
  if (!key.startsWith(BENCH_PREFIX)) return key;
  const m = /^([a-z0-9]+)_(\d+)shot(_chat)?\/(.+)$/.exec(key.slice(BENCH_PREFIX.length));
  return m ? `${m[1]} ${m[2]}-shot${m[3] ? ' (chat template)' : ''} · ${m[4]!.replace(/_/g, ' ')}` : key;
}
