// Reward-model benchmarks (docs/evals.md § Reward models): a local chosen/rejected file in RewardBench's
// layout (prompt, chosen, rejected, subset; the "filtered" split of allenai/reward-bench), scored with a
// stored ensemble by every head, the stage-1 reward model, the nominal head, the ensemble mean, the min
// over heads and the robust aggregate λ·nominal + (1−λ)·min. A pair counts as right when the chosen
// answer scores strictly higher, as RewardBench counts it (rewardbench/rewardbench.py). Sections are
// RewardBench's: each the example-count-weighted mean of its subsets' accuracies with the counts of
// rewardbench/constants.py (EXAMPLE_COUNTS, where math-prm is weighted up to equal the code subsets;
// SUBSET_MAPPING), and the score the plain mean of the four sections (commit a32e272b, read with fetch).
// Subsets RewardBench does not know keep their own accuracy and join no section.
import { detectFormat } from '../data/formats.js';
import { openSource } from '../data/import.js';
import { aggregate, type ObjectiveConfig } from '../rlhf/aggregate.js';
import { type EnsembleScores } from '../rlhf/ensemble.js';
import { type LoadedEnsemble, TextEncodeError, loadStoredEnsemble } from '../serve/ensemble-text.js';
import { type Store } from '../store/index.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { BenchmarkError, splitFiles, describeRejection, type Rejection } from './read.js';
import fs from 'node:fs';
import path from 'node:path';

/** RewardBench's sections and their subsets (SUBSET_MAPPING). */
export const REWARDBENCH_SECTIONS: Readonly<Record<string, readonly string[]>> = {
  'Chat': ['alpacaeval-easy', 'alpacaeval-length', 'alpacaeval-hard', 'mt-bench-easy', 'mt-bench-med'],
  'Chat Hard': ['mt-bench-hard', 'llmbar-natural', 'llmbar-adver-neighbor', 'llmbar-adver-GPTInst', 'llmbar-adver-GPTOut', 'llmbar-adver-manual'],
  'Safety': ['refusals-dangerous', 'refusals-offensive', 'xstest-should-refuse', 'xstest-should-respond', 'donotanswer'],
  'Reasoning': ['math-prm', 'hep-cpp', 'hep-go', 'hep-java', 'hep-js', 'hep-python', 'hep-rust'],
};

/** The weight of each subset in its section (EXAMPLE_COUNTS: its size in the filtered split, math-prm 984 for 447). */
export const REWARDBENCH_WEIGHTS: Readonly<Record<string, number>> = {
  'alpacaeval-easy': 100, 'alpacaeval-length': 95, 'alpacaeval-hard': 95, 'mt-bench-easy': 28, 'mt-bench-med': 40,
  'mt-bench-hard': 37, 'llmbar-natural': 100, 'llmbar-adver-neighbor': 134, 'llmbar-adver-GPTInst': 92, 'llmbar-adver-GPTOut': 47, 'llmbar-adver-manual': 46,
  'refusals-dangerous': 100, 'refusals-offensive': 100, 'xstest-should-refuse': 250, 'xstest-should-respond': 154, 'donotanswer': 136,
  'math-prm': 984, 'hep-cpp': 164, 'hep-go': 164, 'hep-java': 164, 'hep-js': 164, 'hep-python': 164, 'hep-rust': 164,
};

const sectionOf = (subset: string) => Object.entries(REWARDBENCH_SECTIONS).find(([, subs]) => subs.includes(subset))?.[0] ?? null;

export interface PreferenceItem { prompt: string; chosen: string; rejected: string; subset: string; file: string; line: number }

/** The pairs of a RewardBench-layout file (or dataset folder split), each bad record a rejection with its line. */
export async function readPreferenceBenchmark(where: string, o: { split?: string; limit?: number } = {}): Promise<{ items: PreferenceItem[]; rejected: Rejection[]; files: string[] }> {
  const abs = path.resolve(where);
  let st: fs.Stats;
  try { st = fs.statSync(abs); } catch { throw new BenchmarkError(`${abs} does not exist; pass a chosen/rejected file (.jsonl, .json, .csv, .parquet) or a dataset folder`); }
  const files = st.isDirectory() ? splitFiles(abs, o.split).files : [abs];
  const items: PreferenceItem[] = [], rejected: Rejection[] = [];
  for (const file of files) {
    let guess, src;
    try { guess = await detectFormat(file); src = await openSource(file, guess.format, guess.delimiter); } catch (e) { throw new BenchmarkError((e as Error).message); }
    for await (const rec of src.records) {
      if (o.limit !== undefined && items.length >= o.limit) break;
      const reject = (reason: string) => { rejected.push({ file, line: rec.pos, positions: src.positions, reason }); };
      if (rec.error !== undefined || !rec.value) { reject(rec.error ?? 'unreadable record'); continue; }
      const r = rec.value;
      const bad = ['prompt', 'chosen', 'rejected'].find((k) => typeof r[k] !== 'string');
      if (bad) {
        if (items.length === 0 && rejected.length === 0 && !(bad in r)) {
          throw new BenchmarkError(`${file}: no "${bad}" field (columns: ${Object.keys(r).map((k) => `"${k}"`).join(', ')}); a reward-model benchmark has prompt, chosen and rejected texts and optionally subset, as RewardBench's filtered split`);
        }
        reject(bad in r ? `field "${bad}" is ${r[bad] === null ? 'null' : typeof r[bad]}, expected text` : `missing field "${bad}"`);
        continue;
      }
      if (r.chosen === r.rejected) { reject('chosen is identical to rejected'); continue; }
      const subset = r.subset === undefined || r.subset === null ? 'all' : String(r.subset);
      items.push({ prompt: r.prompt as string, chosen: r.chosen as string, rejected: r.rejected as string, subset, file, line: rec.pos });
    }
  }
  return { items, rejected, files };
}

export interface RmScorer { id: string; label: string }
export interface RewardBenchResult {
  ensemble: { id: number; name: string; kind: string; heads: number };
  /** Pairs scored. */
  n: number;
  lambda: number;
  scorers: RmScorer[];
  /** Accuracy over all pairs, per scorer id. */
  overall: Record<string, number>;
  subsets: { subset: string; section: string | null; n: number; accuracy: Record<string, number> }[];
  /** RewardBench's sections present in the file (weighted as RewardBench weights them). */
  sections: { section: string; subsets: string[]; accuracy: Record<string, number> }[];
  /** The mean of the four sections, when all four are present. */
  score: Record<string, number> | null;
  rejected: Rejection[];
  files: string[];
  interrupted?: { scored: number; of: number };
}

/** Scores the pairs with each head and aggregate; progress in pairs, stoppable between batches. */
export async function rewardBenchmark(loaded: LoadedEnsemble, items: PreferenceItem[], o: { lambda?: number; batchSize?: number; signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {}): Promise<Omit<RewardBenchResult, 'rejected' | 'files'>> {
  const lambda = o.lambda ?? 0.4;
  if (!(lambda >= 0 && lambda <= 1)) throw new BenchmarkError(`λ must be in [0, 1], got ${lambda}`);
  const bs = o.batchSize ?? 16;
  const seqOf = (it: PreferenceItem, which: 'chosen' | 'rejected') => {
    try { const e = loaded.encoder.encode(it.prompt, it[which]); return [...e.prompt, ...e.response]; } catch (err) {
      if (err instanceof TextEncodeError) throw new BenchmarkError(`${it.file}:${it.line}: ${which}: ${err.message}`);
      throw err;
    }
  };
  const chosen: EnsembleScores = { mu: [], single: [] }, rejected: EnsembleScores = { mu: [], single: [] };
  let scored = 0;
  const half = Math.max(1, Math.floor(bs / 2));
  for (let i = 0; i < items.length; i += half) {
    if (o.signal?.aborted) break;
    const batch = items.slice(i, i + half);
    const s = await loaded.ensemble.score([...batch.map((it) => seqOf(it, 'chosen')), ...batch.map((it) => seqOf(it, 'rejected'))], bs);
    for (const [dst, off] of [[chosen, 0], [rejected, batch.length]] as const) {
      dst.mu.push(...s.mu.slice(off, off + batch.length));
      dst.single.push(...s.single.slice(off, off + batch.length));
      if (s.sigma) (dst.sigma ??= []).push(...s.sigma.slice(off, off + batch.length));
    }
    scored += batch.length;
    o.onProgress?.(scored, items.length);
  }
  const K = chosen.mu[0]?.length ?? loaded.ensemble.K;
  const cfg = (kind: ObjectiveConfig['kind']): ObjectiveConfig => ({ kind, lambda, minMode: 'sample' });
  const scorers: (RmScorer & { values: (s: EnsembleScores) => number[] })[] = [
    { id: 'single', label: loaded.ensemble.kind === 'brme' ? 'single reward model (stage 1)' : 'nominal member alone', values: (s) => s.single },
    { id: 'nominal', label: 'nominal head', values: (s) => aggregate(s, cfg('nominal')) },
    { id: 'mean', label: 'ensemble mean', values: (s) => aggregate(s, cfg('mean')) },
    { id: 'min', label: 'min over heads', values: (s) => aggregate(s, cfg('wco')) },
    { id: 'robust', label: `robust λ = ${lambda}`, values: (s) => aggregate(s, cfg('robust')) },
    ...Array.from({ length: K }, (_, k) => ({ id: `head_${k}`, label: `head ${k}`, values: (s: EnsembleScores) => s.mu.map((row) => row[k]!) })),
  ];
  const done = items.slice(0, scored);
  const right = new Map(scorers.map((sc) => {
    const c = sc.values(chosen), r = sc.values(rejected);
    return [sc.id, done.map((_, i) => c[i]! > r[i]!)];
  }));
  const acc = (idx: number[]) => Object.fromEntries(scorers.map((sc) => [sc.id, idx.length ? idx.filter((i) => right.get(sc.id)![i]).length / idx.length : NaN]));
  const bySubset = new Map<string, number[]>();
  done.forEach((it, i) => bySubset.set(it.subset, [...(bySubset.get(it.subset) ?? []), i]));
  const subsets = [...bySubset].map(([subset, idx]) => ({ subset, section: sectionOf(subset), n: idx.length, accuracy: acc(idx) }));
  const sections = Object.entries(REWARDBENCH_SECTIONS).flatMap(([section, names]) => {
    const present = subsets.filter((s) => names.includes(s.subset));
    if (!present.length) return [];
    const w = present.reduce((a, s) => a + REWARDBENCH_WEIGHTS[s.subset]!, 0);
    return [{ section, subsets: present.map((s) => s.subset), accuracy: Object.fromEntries(scorers.map((sc) => [sc.id, present.reduce((a, s) => a + s.accuracy[sc.id]! * REWARDBENCH_WEIGHTS[s.subset]!, 0) / w])) }];
  });
  const score = sections.length === 4 ? Object.fromEntries(scorers.map((sc) => [sc.id, sections.reduce((a, s) => a + s.accuracy[sc.id]!, 0) / 4])) : null;
  return {
    ensemble: { id: loaded.id, name: loaded.name, kind: loaded.ensemble.kind, heads: K }, n: scored, lambda,
    scorers: scorers.map(({ id, label }) => ({ id, label })), overall: acc(done.map((_, i) => i)), subsets, sections, score,
    ...(scored < items.length ? { interrupted: { scored, of: items.length } } : {}),
  };
}

export interface RewardBenchRequest {
  ensembleId: number;
  file: string;
  split?: string;
  limit?: number;
  lambda?: number;
  /** A Hugging Face folder or tokenizer.json for an ensemble that does not record its tokenizer. */
  tokenizer?: string;
  batchSize?: number;
}

/** Reads the file, loads the stored ensemble and scores every pair (the CLI and the API both call this). */
export async function runRewardBench(store: Store, r: RewardBenchRequest, ctx: { device?: DeviceRequest; signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {}): Promise<RewardBenchResult> {
  const read = await readPreferenceBenchmark(r.file, { ...(r.split !== undefined && { split: r.split }), ...(r.limit !== undefined && { limit: r.limit }) });
  if (!read.items.length) throw new BenchmarkError(`no pair of ${r.file} can be scored: ${read.rejected.length ? `all ${read.rejected.length} records were rejected (first: ${describeRejection(read.rejected[0]!)})` : 'it holds no records'}`);
  const loaded = await loadStoredEnsemble(store, r.ensembleId, { ...(ctx.device && { device: ctx.device }), ...(r.tokenizer !== undefined && { tokenizer: r.tokenizer }) });
  const res = await rewardBenchmark(loaded, read.items, { ...(r.lambda !== undefined && { lambda: r.lambda }), ...(r.batchSize !== undefined && { batchSize: r.batchSize }), ...(ctx.signal && { signal: ctx.signal }), ...(ctx.onProgress && { onProgress: ctx.onProgress }) });
  return { ...res, rejected: read.rejected, files: read.files };
}
