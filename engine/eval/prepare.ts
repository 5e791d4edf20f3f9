// A benchmark ready to score: the file (or dataset folder) read, the few-shot count resolved (unset, the
// task YAML's num_fewshot, as the harness does) and the few-shot examples found (a few-shot file, else a
// dataset folder's few-shot split — MMLU dev, the others train —, else the benchmark's own first K
// items), and the key a score is recorded under (docs/metrics.md § Benchmarks). The CLI and the study
// evaluation both start here, so a score means the same wherever it was made.
import fs from 'node:fs';
import { FORMAT_DEFS, type EvalFormat } from './formats.js';
import { readBenchmark, splitFiles, describeRejection, BenchmarkError, type Benchmark, type ReadDoc } from './read.js';
import { type EvalResult } from './run.js';
import { BENCH_PREFIX } from '../../common/metrics.js';

export interface PrepareOptions {
  format?: EvalFormat | 'auto';
  split?: string;
  /** Unset: the task's default (GSM8K 5, the others 0). */
  shots?: number;
  fewshotFile?: string;
  /** Field → column, for files whose columns are named otherwise (read.ts). */
  mapping?: Record<string, string>;
}

export interface PreparedBenchmark {
  bench: Benchmark;
  shots: number;
  fewshot?: ReadDoc[];
  /** Where the examples came from (null: the benchmark's first K items, or none). */
  fewshotFrom: string | null;
  /** Records of the few-shot file that could not be read. */
  fewshotRejected: string[];
}

export async function prepareBenchmark(where: string, o: PrepareOptions = {}): Promise<PreparedBenchmark> {
  const bench = await readBenchmark(where, { format: o.format ?? 'auto', ...(o.split !== undefined ? { split: o.split } : {}), ...(o.mapping && { mapping: o.mapping }) });
  const shots = o.shots ?? FORMAT_DEFS[bench.format].defaultShots;
  if (!bench.docs.length) throw new BenchmarkError(`no item of ${where} can be scored: all ${bench.rejected.length} records were rejected (first: ${describeRejection(bench.rejected[0]!)})`);
  if (o.fewshotFile !== undefined) {
    if (shots === 0) throw new BenchmarkError('a few-shot file gives the examples for K shots; set the number of shots too');
    const fb = await readBenchmark(o.fewshotFile, { format: bench.format, ...(o.mapping && { mapping: o.mapping }) });
    return { bench, shots, fewshot: fb.docs, fewshotFrom: o.fewshotFile, fewshotRejected: fb.rejected.map(describeRejection) };
  }
  const sp = FORMAT_DEFS[bench.format].fewshotSplit;
  if (shots > 0 && fs.statSync(where).isDirectory() && sp && sp !== bench.split) {
    let has = false;
    try { splitFiles(where, sp); has = true; } catch { /* no such split: the first K items */ }
    if (has) return { bench, shots, fewshot: (await readBenchmark(where, { format: bench.format, split: sp, ...(o.mapping && { mapping: o.mapping }) })).docs, fewshotFrom: `${where} (${sp} split)`, fewshotRejected: [] };
  }
  return { bench, shots, fewshotFrom: null, fewshotRejected: [] };
}

/** The metric keys a result is stored under on a run: bench/FORMAT_Kshot[_chat]/METRIC. */
export function benchRecord(res: Pick<EvalResult, 'format' | 'shots' | 'chat_template' | 'accuracy' | 'acc_norm' | 'exact_match'>): Record<string, number> {
  const prefix = `${BENCH_PREFIX}${res.format}_${res.shots}shot${res.chat_template ? '_chat' : ''}`;
  return res.exact_match
    ? { [`${prefix}/exact_match_strict`]: res.exact_match.strict, [`${prefix}/exact_match_flexible`]: res.exact_match.flexible }
    : { [`${prefix}/acc`]: res.accuracy, [`${prefix}/acc_norm`]: res.acc_norm! };
}
