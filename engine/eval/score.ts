// How lm-evaluation-harness scores a causal LM, reproduced on our models (docs/evals.md § Scoring):
//
// - Prompt (lm_eval/api/task.py fewshot_context, build_qa_turn; lm_eval/api/utils.py): description, then
//   each few-shot example as text + target_delimiter " " + target + fewshot_delimiter "\n\n", then the
//   item's text. With the chat template (apply_chat_template, fewshot_as_multiturn off) the description is
//   the system message, the rest one user message (multiturn_to_singleturn), rendered with the generation
//   prompt; the target delimiter is then "" (construct_requests).
// - Tokens (lm_eval/api/model.py _encode_pair; models/huggingface.py tok_encode): trailing whitespace of
//   the context moves to the continuation; context and context+continuation are encoded (special tokens
//   added unless the text already starts with the BOS string); the continuation's tokens are the whole's
//   past the context's length.
// - Multiple choice (task.py process_results): summed log-likelihood of each continuation; acc = argmax,
//   acc_norm = argmax of log-likelihood / len(choice) in characters (the choice without the delimiter).
// - GSM8K (tasks/gsm8k/gsm8k.yaml, filters/extraction.py, api/metrics.py exact_match_hf_evaluate):
//   greedy generation until "Question:", "</s>", "<|im_end|>" or the EOS; strict "#### (\-?[0-9\.\,]+)"
//   (first match) and flexible "(-?[$0-9.,]{2,})|(-?[0-9]+)" (last match) extraction, "[invalid]" when
//   nothing matches; exact match after removing ",", "$", "(?s).*#### ", "\.$" and lower-casing both.
import { Graph, F } from '../graph/index.js';
import { compile, i64, type CompiledGraph } from '../runtime/session.js';
import { type CausalLM } from '../models/model.js';
import { generate, leftPad } from '../models/sampler.js';
import { type ChatMessage, type TextTokenizer } from '../models/tokenizer.js';
import { type EvalDoc } from './formats.js';

export const TARGET_DELIMITER = ' ';
export const FEWSHOT_DELIMITER = '\n\n';
/** gsm8k.yaml generation_kwargs.until (the EOS string is added as the harness's handle_stop_sequences does). */
export const GSM8K_UNTIL = ['Question:', '</s>', '<|im_end|>'];
/** The harness's default max_gen_toks (lm_eval/models/huggingface.py). */
export const MAX_GEN_TOKS = 256;

type Template = (messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }) => string;

/** The context string of an item with its few-shot examples, plain or through the chat template. */
export function buildContext(doc: EvalDoc, shots: EvalDoc[], chat?: Template): string {
  const body = shots.map((s) => s.text + TARGET_DELIMITER + s.target + FEWSHOT_DELIMITER).join('') + doc.text;
  if (!chat) return doc.description + body;
  const messages: ChatMessage[] = doc.description ? [{ role: 'system', content: doc.description }] : [];
  messages.push({ role: 'user', content: body });
  return chat(messages, { addGenerationPrompt: true });
}

/** tok_encode: special tokens unless the text already starts with the BOS string (a chat template wrote it). */
export function harnessEncode(tok: TextTokenizer, s: string): number[] {
  const bos = 'specialTokens' in tok ? (tok as { specialTokens: Record<string, string> }).specialTokens.bos_token : undefined;
  return tok.encode(s, { addSpecialTokens: !(bos && s.startsWith(bos)) });
}

/** _encode_pair for a causal model: [context tokens, continuation tokens]. */
export function encodePair(tok: TextTokenizer, context: string, continuation: string): [number[], number[]] {
  const trimmed = context.trimEnd();
  const spaces = context.slice(trimmed.length);
  const whole = harnessEncode(tok, trimmed + spaces + continuation);
  const ctx = harnessEncode(tok, trimmed);
  return [ctx, whole.slice(ctx.length)];
}

/** Python's len(): code points, not UTF-16 units. */
export const pyLen = (s: string) => [...s].length;

/** np.argmax: the first index of the largest value. */
export function argmax(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

export interface Request { ctx: number[]; cont: number[] }

/** A request cut to the model's window as the harness does: the newest tokens kept, the continuation whole. */
export function fitWindow(r: Request, window: number): number[] {
  const row = [...r.ctx, ...r.cont];
  return row.length > window ? row.slice(row.length - window) : row;
}

const scorers = new WeakMap<CausalLM, Promise<CompiledGraph>>();

/** The scoring graph: the trunk over left-padded rows [B, T], then the LM head and log-softmax only at the
 *  L positions per row that predict a continuation token (picked by a one-hot [B, L, T] matmul), so the
 *  [B, T, vocab] logits of every position are never formed: a 5-shot prompt of ~700 tokens scores one
 *  or two answer tokens. Returns log p(target) per picked position, 0 where the mask is 0. */
function scorer(m: CausalLM): Promise<CompiledGraph> {
  let c = scorers.get(m);
  if (!c) {
    const g = new Graph(`${m.config.arch}_eval_score`);
    const p = m.paramInputs(g);
    const ids = g.input('input_ids', 'int64', ['B', 'T']);
    const mask = g.input('attention_mask', 'int64', ['B', 'T']);
    const pos = g.input('pred_pos', 'int64', ['B', 'L']);
    const targets = g.input('targets', 'int64', ['B', 'L']);
    const tmask = g.input('target_mask', 'float32', ['B', 'L']);
    const hidden = m.trace(g, p, ids, mask).hidden;
    const index = F.sub(F.cumsum(F.full(g, ['B', 'T'], 1, 'int64'), 1), 1); // 0..T−1 per row
    const pick = F.cast(F.equal(F.unsqueeze(pos, 2), F.unsqueeze(index, 1)), 'float32');
    const logp = F.logSoftmax(m.arch.lmHead(p, m.config, F.matmul(pick, hidden)), -1);
    const tok = F.squeeze(F.takeAlongAxis(logp, F.unsqueeze(targets, -1), -1), -1);
    g.output('logprobs', F.mul(tok, tmask));
    c = compile(g, { device: m.device });
    scorers.set(m, c);
    c.catch(() => scorers.delete(m));
  }
  return c;
}

/**
 * Summed log-likelihood of each row's last `contLens[b]` tokens given the tokens before them (the
 * harness's _loglikelihood_tokens): one teacher-forced forward over the batch, rows left-padded.
 */
export async function loglikelihoods(m: CausalLM, rows: number[][], contLens: number[], padId: number): Promise<number[]> {
  const B = rows.length;
  const { ids, mask, T } = leftPad(rows, padId);
  const L = Math.max(1, ...contLens);
  const pos: number[] = [], targets: number[] = [], tmask: number[] = [];
  rows.forEach((r, b) => {
    const n = contLens[b]!;
    if (n >= r.length) throw new Error(`row ${b}: a continuation of ${n} tokens needs at least one token of context before it`);
    for (let j = 0; j < L; j++) {
      const ok = j < n, t = T - n + j; // the continuation's j-th token sits at padded position t, predicted at t − 1
      pos.push(ok ? t - 1 : 0); targets.push(ok ? r[r.length - n + j]! : 0); tmask.push(ok ? 1 : 0);
    }
  });
  await m.params.upload(m.modelParamNames(), m.device);
  const out = await (await scorer(m)).run({
    ...m.paramFeeds(), input_ids: i64(ids, [B, T]), attention_mask: i64(mask, [B, T]), pred_pos: i64(pos, [B, L]), targets: i64(targets, [B, L]),
    target_mask: { dtype: 'float32', shape: [B, L], data: Float32Array.from(tmask) },
  });
  const lp = out.logprobs!.data as Float32Array;
  return rows.map((_, b) => { let s = 0; for (let j = 0; j < L; j++) s += lp[b * L + j]!; return s; });
}

export interface McScore { lls: number[]; pred: number; predNorm: number }

/** acc and acc_norm of one item from its choices' log-likelihoods. */
export function scoreChoices(lls: number[], choices: string[]): McScore {
  return { lls, pred: argmax(lls), predNorm: argmax(lls.map((ll, i) => ll / pyLen(choices[i]!))) };
}

// --- GSM8K -----------------------------------------------------------------------------------------

export const INVALID = '[invalid]';
const STRICT = /#### (\-?[0-9\.\,]+)/;
const FLEXIBLE = /(-?[$0-9.,]{2,})|(-?[0-9]+)/g;

/** The "strict-match" filter: the first "#### N", else "[invalid]". */
export function extractStrict(resp: string): string {
  const m = STRICT.exec(resp);
  return m ? m[1]!.trim() : INVALID;
}

/** The "flexible-extract" filter: the last number-like run (group_select -1), else "[invalid]". */
export function extractFlexible(resp: string): string {
  const ms = [...resp.matchAll(FLEXIBLE)];
  if (!ms.length) return INVALID;
  const last = ms[ms.length - 1]!;
  return (last[1] || last[2] || INVALID).trim();
}

/** exact_match's regexes_to_ignore (in order) and ignore_case. Python's `$` also matches before a final newline. */
export function normaliseAnswer(s: string): string {
  return s.replace(/,/g, '').replace(/\$/g, '').replace(/[\s\S]*#### /g, '').replace(/\.(?=\n?$)/g, '').toLowerCase();
}

/** postprocess_generated_text: the text before the first occurrence of each stop sequence, in turn. */
export function cutAtStops(text: string, stops: string[]): string {
  let t = text;
  for (const s of stops) if (s.length) t = t.split(s)[0]!;
  return t;
}

/** Greedy generation for a batch of contexts until a stop sequence, the EOS or maxNew tokens. */
export async function generateUntil(m: CausalLM, tok: TextTokenizer, prompts: number[][], opts: { maxNew: number; stops: string[]; eosId: number | null; padId: number }): Promise<string[]> {
  const g = await generate(m, prompts, {
    maxNewTokens: opts.maxNew, temperature: 0, eosId: opts.eosId, padId: opts.padId,
    // Stops a row early once its text holds a stop sequence (the harness's stopping criteria); the text is cut below anyway.
    stopWhen: (_row, tokens) => { const t = tok.decode(tokens); return opts.stops.some((s) => s.length > 0 && t.includes(s)); },
  });
  return g.tokens.map((t) => cutAtStops(tok.decode(t, { skipSpecialTokens: true }), opts.stops));
}
