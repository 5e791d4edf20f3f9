// A whole study on one benchmark (docs/evals.md § Studies): π₀ once — it is every run's "before", so
// its scores are recorded on each run at step 0 — then each run's final policy, or every checkpoint
// (accuracy against step: does a policy keep its skills as training goes on?). Scores go to the runs'
// metrics under the keys `rrlhf eval --record` uses, where the study analysis pairs them across seeds.
// Stoppable between batches: what finished stays recorded, an interrupted evaluation records nothing.
import { type Store } from '../store/index.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { type CausalLM } from '../models/model.js';
import { type TextTokenizer } from '../models/tokenizer.js';
import { evaluateBenchmark, type EvalResult } from './run.js';
import { prepareBenchmark, benchRecord, type PrepareOptions } from './prepare.js';
import { loadRunPolicy, loadStudyBase, RunPolicyError } from './policy.js';

export interface StudyEvalOptions extends PrepareOptions {
  experimentId: number;
  /** Benchmark file or dataset folder. */
  file: string;
  /** 'final': each run's last checkpoint; 'all': every checkpoint (accuracy against step). */
  checkpoints: 'final' | 'all';
  /** Only these runs (default: every run of the study with a checkpoint). */
  runIds?: number[];
  limit?: number;
  chatTemplate?: boolean;
  batchSize?: number;
  maxGenToks?: number;
}

export interface StudyEvalProgress { message: string; done: number; total: number; fraction: number; etaS: number | null }

export interface StudyEvalResult {
  experimentId: number;
  format: string;
  n: number;
  shots: number;
  chatTemplate: boolean;
  /** The metric keys recorded. */
  keys: string[];
  /** One row per policy scored (run null: π₀). */
  scored: { run: number | null; objective: string | null; seed: number | null; step: number; scores: Record<string, number> }[];
  /** Runs left out, with why (no checkpoint yet, ...). */
  skipped: { run: number; reason: string }[];
  interrupted: boolean;
}

export async function evaluateStudy(store: Store, dataDir: string, o: StudyEvalOptions,
  ctx: { device?: DeviceRequest; signal?: AbortSignal; onProgress?: (p: StudyEvalProgress) => void } = {}): Promise<StudyEvalResult> {
  const exp = store.experiments.get(o.experimentId);
  if (!exp) throw new RunPolicyError(`experiment ${o.experimentId} does not exist`);
  const prep = await prepareBenchmark(o.file, o);
  // Refuse built-in worlds before anything is read or loaded.
  const base = await loadStudyBase(store, dataDir, o.experimentId, ctx.device ?? 'cpu');

  const runs = store.runs.list({ experimentId: o.experimentId }).filter((r) => !o.runIds || o.runIds.includes(r.id));
  if (o.runIds) for (const id of o.runIds) if (!runs.some((r) => r.id === id)) throw new RunPolicyError(`run ${id} is not a run of study ${o.experimentId}`);
  const skipped: StudyEvalResult['skipped'] = [];
  const jobs: { run: (typeof runs)[number]; step: number }[] = [];
  for (const r of runs) {
    if (r.status === 'imported') { skipped.push({ run: r.id, reason: 'imported from another engine: no weights here' }); continue; }
    const cks = store.runs.checkpoints(r.id);
    if (!cks.length) { skipped.push({ run: r.id, reason: `${r.status}, no checkpoint yet` }); continue; }
    const steps = [...new Set(cks.map((c) => c.step))];
    for (const step of o.checkpoints === 'all' ? steps : steps.slice(-1)) jobs.push({ run: r, step });
  }
  const total = jobs.length + 1;
  const t0 = Date.now();
  const scored: StudyEvalResult['scored'] = [];
  let interrupted = false;

  const score = async (model: CausalLM, tok: TextTokenizer, k: number, what: string): Promise<EvalResult | null> => {
    const res = await evaluateBenchmark(model, tok, prep.bench, {
      shots: prep.shots, ...(prep.fewshot ? { fewshot: prep.fewshot } : {}), ...(o.limit !== undefined ? { limit: o.limit } : {}),
      chatTemplate: !!o.chatTemplate, batchSize: o.batchSize ?? 16, ...(o.maxGenToks !== undefined ? { maxGenToks: o.maxGenToks } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      onProgress: (done, n) => {
        const fraction = (k + (n ? done / n : 1)) / total;
        const el = (Date.now() - t0) / 1000;
        ctx.onProgress?.({ message: `${prep.bench.format}: ${what}, item ${done}/${n}`, done: k, total, fraction, etaS: fraction > 0 ? (el / fraction) * (1 - fraction) : null });
      },
    });
    if (res.interrupted) { interrupted = true; return null; }
    return res;
  };

  const before = await score(base.model, base.tokenizer, 0, 'π₀ (the starting policy)');
  let keys: string[] = [];
  let meta = { n: 0, shots: prep.shots, chatTemplate: !!o.chatTemplate };
  if (before) {
    const rec = benchRecord(before);
    keys = Object.keys(rec);
    meta = { n: before.n, shots: before.shots, chatTemplate: before.chat_template };
    scored.push({ run: null, objective: null, seed: null, step: 0, scores: rec });
    // π₀ is every run's step 0, including runs without a checkpoint yet.
    for (const r of runs) if (r.status !== 'imported') store.metrics.append(r.id, 0, rec);
    for (const [k, j] of jobs.entries()) {
      if (ctx.signal?.aborted) { interrupted = true; break; }
      const p = await loadRunPolicy(store, dataDir, j.run.id, ctx.device ?? 'cpu', j.step);
      const res = await score(p.model, p.tokenizer, k + 1, `run ${j.run.id} (${j.run.objective}, seed ${j.run.seed}) at step ${j.step}`);
      if (!res) break;
      const r2 = benchRecord(res);
      store.metrics.append(j.run.id, j.step, r2);
      scored.push({ run: j.run.id, objective: j.run.objective, seed: j.run.seed, step: j.step, scores: r2 });
    }
  }
  return { experimentId: o.experimentId, format: prep.bench.format, ...meta, keys, scored, skipped, interrupted };
}
