// Evaluating a policy on a benchmark read by read.ts: few-shot examples chosen, prompts built and
// tokenised as the harness does (score.ts), multiple choice scored by log-likelihood in batches, GSM8K
// by greedy generation; per-item results and the totals. An abort signal stops between batches and the
// result then covers the items finished so far (a prefix of the file).
import { type CausalLM } from '../models/model.js';
import { maxPositionsOf } from '../models/config.js';
import { type TextTokenizer } from '../models/tokenizer.js';
import { FORMAT_DEFS, type EvalFormat } from './formats.js';
import { fewshotDrawer, FEWSHOT_SEED } from './fewshot.js';
import { type Benchmark, type ReadDoc, type Rejection } from './read.js';
import {
  buildContext, encodePair, harnessEncode, loglikelihoods, fitWindow, scoreChoices, extractStrict, extractFlexible, normaliseAnswer,
  generateUntil, GSM8K_UNTIL, MAX_GEN_TOKS, TARGET_DELIMITER,
} from './score.js';

export interface EvalOptions {
  /** Few-shot examples per prompt (K). */
  shots?: number;
  /** A separate few-shot pool (drawn from as the harness draws); default: the benchmark's first K items, which are then not scored. */
  fewshot?: ReadDoc[];
  /** The few-shot sampler's seed (the harness's --fewshot_random_seed); default 1234. */
  fewshotSeed?: number;
  /** Score at most this many items. */
  limit?: number;
  /** Render prompts with the tokenizer's chat template. */
  chatTemplate?: boolean;
  /** Rows per forward (choices of one item stay together). Default 16. */
  batchSize?: number;
  /** GSM8K: most tokens generated. Default 256, or half the model's window when that is smaller. */
  maxGenToks?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface McItem {
  index: number; file: string; line: number;
  prediction: number; prediction_norm: number; answer: number; correct: boolean; correct_norm: boolean; loglikelihoods: number[];
}
export interface GenItem {
  index: number; file: string; line: number;
  prediction: string; prediction_flexible: string; answer: string; correct: boolean; correct_flexible: boolean; generation: string;
}

export interface EvalResult {
  format: EvalFormat;
  n: number;
  /** acc (multiple choice) or strict-match exact match (GSM8K). */
  accuracy: number;
  acc_norm?: number;
  exact_match?: { strict: number; flexible: number };
  shots: number;
  fewshot_source: 'file' | 'fewshot-file' | 'none';
  chat_template: boolean;
  max_gen_toks?: number;
  /** Items read but not scored: bad records and items that cannot fit the model's window. */
  rejected: Rejection[];
  /** Set when stopped early: how many of the selected items were scored. */
  interrupted?: { scored: number; of: number };
  per_item: (McItem | GenItem)[];
}

/** A setting that cannot be honoured; the message names the option. */
export class EvalOptionError extends Error {}

const mean = (xs: boolean[]) => (xs.length ? xs.filter(Boolean).length / xs.length : NaN);

export async function evaluateBenchmark(m: CausalLM, tok: TextTokenizer, bench: Benchmark, opts: EvalOptions = {}): Promise<EvalResult> {
  const def = FORMAT_DEFS[bench.format];
  const K = opts.shots ?? 0;
  if (!Number.isInteger(K) || K < 0) throw new EvalOptionError(`--shots must be a non-negative integer, got ${K}`);
  if (K > 0 && !def.fewshot) throw new EvalOptionError(`--shots ${K}: ${bench.format} is zero-shot in lm-evaluation-harness (truthfulqa_mc1.yaml num_fewshot: 0; its prompt already holds six examples)`);
  const chat = opts.chatTemplate ? tok.applyChatTemplate : undefined;
  if (opts.chatTemplate && !chat) throw new EvalOptionError('--chat-template: the model\'s tokenizer has no chat template (tokenizer_config.json "chat_template" or chat_template.jinja)');
  if (tok.vocabSize > m.config.vocabSize) throw new EvalOptionError(`the tokenizer has ${tok.vocabSize} token ids but the model's vocab_size is ${m.config.vocabSize}; the tokenizer does not belong to this model`);

  let pool = bench.docs;
  // Examples per scored document, drawn in scoring order: from a separate few-shot pool as the harness
  // draws them (eval/fewshot.ts), else the benchmark's own first K items, which are then not scored.
  let shotsFor: () => ReadDoc[] = () => [];
  if (K > 0) {
    const src = opts.fewshot ?? bench.docs;
    if (src.length < K + (opts.fewshot ? 0 : 1)) throw new EvalOptionError(`--shots ${K}: ${opts.fewshot ? 'the few-shot file has' : 'the benchmark has'} only ${src.length} readable items${opts.fewshot ? '' : ' (the first K are the examples, the rest are scored)'}`);
    if (opts.fewshot) shotsFor = fewshotDrawer(opts.fewshot, K, def.sampler, opts.fewshotSeed ?? FEWSHOT_SEED);
    else { const first = bench.docs.slice(0, K); shotsFor = () => first; pool = bench.docs.slice(K); }
  }
  const selected = opts.limit !== undefined ? pool.slice(0, opts.limit) : pool;
  const window = maxPositionsOf(m.config);
  const padId = tok.padId ?? tok.eosId ?? 0;
  const rejected: Rejection[] = [...bench.rejected];
  const batchRows = opts.batchSize ?? 16;
  const base = {
    format: bench.format, shots: K, fewshot_source: K === 0 ? 'none' as const : opts.fewshot ? 'fewshot-file' as const : 'file' as const,
    chat_template: !!chat,
  };

  if (def.kind === 'mc') {
    // Requests per item, in file order; an item whose continuation cannot fit the window is rejected.
    const items: { rd: ReadDoc; rows: number[][]; contLens: number[] }[] = [];
    for (const rd of selected) {
      const ctx = buildContext(rd.doc, shotsFor().map((s) => s.doc), chat);
      const delim = chat ? '' : TARGET_DELIMITER;
      const choices = rd.doc.choices!;
      const empty = choices.findIndex((c) => c === '');
      if (empty >= 0) { rejected.push({ file: rd.file, line: rd.line, positions: rd.positions, reason: `choice ${empty} is empty (acc_norm divides by its length)` }); continue; }
      const reqs = choices.map((c) => { const [a, b] = encodePair(tok, ctx, delim + c); return { ctx: a, cont: b }; });
      const long = reqs.find((r) => r.cont.length >= window);
      if (long) { rejected.push({ file: rd.file, line: rd.line, positions: rd.positions, reason: `a choice is ${long.cont.length} tokens, more than the model's ${window}-token window allows` }); continue; }
      items.push({ rd, rows: reqs.map((r) => fitWindow(r, window)), contLens: reqs.map((r) => r.cont.length) });
    }
    const total = items.reduce((n, it) => n + it.rows.length, 0);
    const per: McItem[] = [];
    let done = 0, i = 0;
    // The continuation logits [B, L, V] and the trunk's activations [B, T, d] are the big tensors: keep each near 2^26 floats per forward.
    const budget = 1 << 26;
    const size = (nRows: number, t: number, l: number) => Math.max(nRows * l * m.config.vocabSize, nRows * t * m.config.d * 4);
    opts.onProgress?.(0, total);
    while (i < items.length && !opts.signal?.aborted) {
      const batch = [items[i++]!];
      let rows = batch[0]!.rows.length, T = Math.max(...batch[0]!.rows.map((r) => r.length)), L = Math.max(...batch[0]!.contLens);
      while (i < items.length) {
        const it = items[i]!;
        const t = Math.max(T, ...it.rows.map((r) => r.length)), l = Math.max(L, ...it.contLens);
        if (rows + it.rows.length > batchRows || size(rows + it.rows.length, t, l) > budget) break;
        batch.push(it); rows += it.rows.length; T = t; L = l; i++;
      }
      const lls = await loglikelihoods(m, batch.flatMap((it) => it.rows), batch.flatMap((it) => it.contLens), padId);
      let k = 0;
      for (const it of batch) {
        const mine = lls.slice(k, k + it.rows.length); k += it.rows.length;
        const s = scoreChoices(mine, it.rd.doc.choices!);
        const gold = it.rd.doc.gold!;
        per.push({
          index: per.length, file: it.rd.file, line: it.rd.line, prediction: s.pred, prediction_norm: s.predNorm, answer: gold,
          correct: s.pred === gold, correct_norm: s.predNorm === gold, loglikelihoods: mine,
        });
      }
      done += rows;
      opts.onProgress?.(done, total);
    }
    return {
      ...base, n: per.length, accuracy: mean(per.map((p) => p.correct)), acc_norm: mean(per.map((p) => p.correct_norm)), rejected,
      ...(per.length < items.length ? { interrupted: { scored: per.length, of: items.length } } : {}), per_item: per,
    };
  }

  // GSM8K: greedy generation.
  const half = Math.floor(window / 2);
  if (opts.maxGenToks !== undefined && opts.maxGenToks >= window) throw new EvalOptionError(`--max-gen-toks ${opts.maxGenToks} leaves no room for the question in the model's ${window}-token window`);
  const maxGen = opts.maxGenToks ?? Math.min(MAX_GEN_TOKS, half);
  const eosText = tok.eosId !== null ? tok.decode([tok.eosId]) : null;
  const stops = [...GSM8K_UNTIL, ...(eosText && !GSM8K_UNTIL.includes(eosText) ? [eosText] : [])];
  const prompts = selected.map((rd) => {
    const ids = harnessEncode(tok, buildContext(rd.doc, shotsFor().map((s) => s.doc), chat));
    return ids.length > window - maxGen ? ids.slice(ids.length - (window - maxGen)) : ids; // left truncation, as tok_batch_encode
  });
  const per: GenItem[] = [];
  opts.onProgress?.(0, selected.length);
  for (let i = 0; i < selected.length && !opts.signal?.aborted; i += batchRows) {
    const texts = await generateUntil(m, tok, prompts.slice(i, i + batchRows), { maxNew: maxGen, stops, eosId: tok.eosId ?? m.specialTokens.eos, padId });
    texts.forEach((text, j) => {
      const rd = selected[i + j]!;
      const answer = normaliseAnswer(rd.doc.reference!);
      const strict = extractStrict(text), flexible = extractFlexible(text);
      per.push({
        index: per.length, file: rd.file, line: rd.line, prediction: strict, prediction_flexible: flexible, answer,
        correct: normaliseAnswer(strict) === answer, correct_flexible: normaliseAnswer(flexible) === answer, generation: text,
      });
    });
    opts.onProgress?.(per.length, selected.length);
  }
  const strict = mean(per.map((p) => p.correct)), flexible = mean(per.map((p) => p.correct_flexible));
  return {
    ...base, n: per.length, accuracy: strict, exact_match: { strict, flexible }, max_gen_toks: maxGen, rejected,
    ...(per.length < selected.length ? { interrupted: { scored: per.length, of: selected.length } } : {}), per_item: per,
  };
}
