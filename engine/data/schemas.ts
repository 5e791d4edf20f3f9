// Preference-data schemas: recognising a file's layout from its field names, and turning each record
// into one (prompt, chosen, rejected) pair, or a rejection with a reason, or a row set aside (a tie).
//
// Supported layouts (detected in this order; `--map` or `--schema` override detection):
//   arena                        prompt, response_a, response_b, winner (model_a|model_b|tie…) or the
//                                winner_model_a / winner_model_b / winner_tie flags; ties are set aside
//   h2o                          prompt, chosen_response, rejected_response          (H2O LLM Studio)
//   sharegpt_ranking             conversations [{from, value}], chosen {from, value}, rejected {…}
//                                                                                 (LLaMA-Factory)
//   alpaca_ranking               instruction, input?, chosen, rejected             (LLaMA-Factory)
//   autotrain                    text (chosen), rejected_text, prompt?             (AutoTrain)
//   trl_explicit[_conversational]  prompt, chosen, rejected: text, or lists of {role, content}  (TRL)
//   hh_rlhf                      chosen, rejected: "\n\nHuman: … \n\nAssistant: …" transcripts;
//                                prompt = the shared prefix through its last "\n\nAssistant:"
//   trl_implicit[_conversational]  chosen, rejected with the prompt as their shared prefix   (TRL)
// Texts stay exactly as in the file; for message lists (content = 'messages') the prompt, chosen and
// rejected are stored as JSON lists of {role, content}.
import type { ContentKind } from '../store/datasets.js';
import { InvalidText } from './utf8.js';
import { describe, isPlainObject } from './readers/source.js';

export const SCHEMA_IDS = [
  'arena', 'h2o', 'sharegpt_ranking', 'alpaca_ranking', 'autotrain', 'trl_explicit', 'trl_explicit_conversational',
  'hh_rlhf', 'trl_implicit', 'trl_implicit_conversational',
] as const;
export type SchemaId = (typeof SCHEMA_IDS)[number] | 'custom';

export interface Message {
  role: string;
  content: string;
}
export type Content = string | Message[];

export interface Pair {
  prompt: Content;
  chosen: Content;
  rejected: Content;
}

export type Outcome = { kind: 'pair'; pair: Pair } | { kind: 'set_aside'; why: 'tie' };

/** Thrown by a schema's `extract` for a record it cannot use; the message is the reason shown to the user. */
export class RowRejected extends Error {}
const reject = (reason: string): never => { throw new RowRejected(reason); };

export interface Schema {
  id: SchemaId;
  description: string;
  content: ContentKind;
  /** How source fields become prompt/chosen/rejected (stored with the dataset, shown in the UI). */
  mapping: Record<string, string>;
  /** Fields the schema reads; a record's other scalar fields are kept as the row's meta. */
  fields: readonly string[];
  extract(rec: Record<string, unknown>): Outcome;
}

// ---------------------------------------------------------------------------------------------
// field access: each throws RowRejected with the reason a user needs

function text(rec: Record<string, unknown>, f: string): string {
  const v = rec[f];
  if (v === undefined) reject(`missing field "${f}"`);
  if (v === null) reject(`field "${f}" is null`);
  if (v instanceof InvalidText) reject(`field "${f}": ${v.reason}`);
  if (typeof v !== 'string') reject(`field "${f}" is ${describe(v)}, expected text`);
  return v as string;
}

/** An optional text field: absent, null and "" all mean "not given". */
function optionalText(rec: Record<string, unknown>, f: string): string {
  const v = rec[f];
  return v === undefined || v === null ? '' : text(rec, f);
}

const ROLE_NAMES: Record<string, string> = { human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant', system: 'system', observation: 'tool', function_call: 'function_call', tool: 'tool' };

/** One chat message, as {role, content} (TRL, OpenAI) or {from, value} (ShareGPT). */
function message(m: unknown, where: string): Message {
  if (!isPlainObject(m)) return reject(`${where} is ${describe(m)}, expected a {role, content} message`);
  const role = m.role ?? m.from;
  const content = m.content ?? m.value;
  if (typeof role !== 'string' || !role) reject(`${where} has no "role" (or "from")`);
  if (content instanceof InvalidText) reject(`${where}: ${content.reason}`);
  if (typeof content !== 'string') reject(`${where} has ${content === undefined ? 'no "content"' : `a "content" that is ${describe(content)}`}, expected text`);
  return { role: ROLE_NAMES[(role as string).toLowerCase()] ?? (role as string), content: content as string };
}

function messages(rec: Record<string, unknown>, f: string): Message[] {
  const v = rec[f];
  if (v === undefined) reject(`missing field "${f}"`);
  if (v === null) reject(`field "${f}" is null`);
  if (!Array.isArray(v)) reject(`field "${f}" is ${describe(v)}, expected a list of {role, content} messages`);
  const list = v as unknown[];
  if (!list.length) reject(`field "${f}" is an empty message list`);
  return list.map((m, i) => message(m, `${f}[${i}]`));
}

// ---------------------------------------------------------------------------------------------
// prompts embedded in chosen/rejected

/**
 * TRL's rule for an implicit text prompt: the longest shared prefix, giving a space right before the
 * first difference to the responses.
 */
export function splitSharedText(c: string, r: string): Pair {
  const n = Math.min(c.length, r.length);
  let i = 0;
  while (i < n && c.charCodeAt(i) === r.charCodeAt(i)) i++;
  if (i === c.length && i === r.length) reject('chosen is identical to rejected');
  if (i > 0 && c[i - 1] === ' ') i--;
  return { prompt: c.slice(0, i), chosen: c.slice(i), rejected: r.slice(i) };
}

/** Conversational implicit prompt: the leading messages both lists share. */
export function splitSharedMessages(c: Message[], r: Message[]): Pair {
  const n = Math.min(c.length, r.length);
  let i = 0;
  while (i < n && c[i]!.role === r[i]!.role && c[i]!.content === r[i]!.content) i++;
  return { prompt: c.slice(0, i), chosen: c.slice(i), rejected: r.slice(i) };
}

const HH_ASSISTANT = '\n\nAssistant:';

/** Anthropic HH-RLHF: the prompt is the shared transcript through its last "\n\nAssistant:". */
export function splitHh(c: string, r: string): Pair {
  const n = Math.min(c.length, r.length);
  let i = 0;
  while (i < n && c.charCodeAt(i) === r.charCodeAt(i)) i++;
  // The marker must lie wholly inside the shared prefix [0, i).
  const k = i >= HH_ASSISTANT.length ? c.lastIndexOf(HH_ASSISTANT, i - HH_ASSISTANT.length) : -1;
  if (i === c.length && i === r.length) reject('chosen is identical to rejected');
  if (k < 0) reject('chosen and rejected do not share a "\\n\\nAssistant:" turn, so the prompt cannot be found (not an HH-RLHF transcript?)');
  const p = k + HH_ASSISTANT.length;
  return { prompt: c.slice(0, p), chosen: c.slice(p), rejected: r.slice(p) };
}

const looksLikeHh = (v: unknown) => typeof v === 'string' && /^\s*(\n\n)?Human:/.test(v) && v.includes(HH_ASSISTANT);

// ---------------------------------------------------------------------------------------------
// the catalogue

const pair = (prompt: Content, chosen: Content, rejected: Content): Outcome => ({ kind: 'pair', pair: { prompt, chosen, rejected } });

type Winner = 'a' | 'b' | 'tie';

function flag(v: unknown): boolean | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (v === true || v === 1 || v === 1n || v === '1' || v === 'true' || v === 'True') return true;
  if (v === false || v === 0 || v === 0n || v === '0' || v === 'false' || v === 'False') return false;
  return reject(`winner flag ${JSON.stringify(String(v))} is not 0/1 or true/false`);
}

function arenaWinner(rec: Record<string, unknown>): Winner {
  const w = rec.winner;
  if (w !== undefined && w !== null) {
    if (typeof w !== 'string') return reject(`field "winner" is ${describe(w)}, expected model_a, model_b or tie`);
    const s = w.trim().toLowerCase();
    if (s === 'model_a' || s === 'a' || s === 'response_a') return 'a';
    if (s === 'model_b' || s === 'b' || s === 'response_b') return 'b';
    if (s.startsWith('tie') || s === 'both_bad' || s === 'bothbad') return 'tie';
    return reject(`winner "${w}" is not model_a, model_b or tie`);
  }
  const a = flag(rec.winner_model_a), b = flag(rec.winner_model_b), t = flag(rec.winner_tie);
  if (a === undefined && b === undefined && t === undefined) return reject('missing field "winner"');
  const marked = [a && 'a', b && 'b', t && 'tie'].filter(Boolean) as Winner[];
  if (marked.length !== 1) return reject(`winner_model_a / winner_model_b / winner_tie must mark exactly one outcome, found ${marked.length}`);
  return marked[0]!;
}

const TRL_MESSAGES = 'lists of {role, content} messages';

export const SCHEMAS: Record<(typeof SCHEMA_IDS)[number], Schema> = {
  arena: {
    id: 'arena', content: 'text',
    description: 'arena-style comparisons: prompt, response_a, response_b and a winner; ties are set aside',
    mapping: { prompt: 'prompt', chosen: 'response_a or response_b, whichever won', rejected: 'the other response' },
    fields: ['prompt', 'response_a', 'response_b', 'winner', 'winner_model_a', 'winner_model_b', 'winner_tie'],
    extract(rec) {
      const w = arenaWinner(rec);
      if (w === 'tie') return { kind: 'set_aside', why: 'tie' };
      const prompt = text(rec, 'prompt'), a = text(rec, 'response_a'), b = text(rec, 'response_b');
      return w === 'a' ? pair(prompt, a, b) : pair(prompt, b, a);
    },
  },
  h2o: {
    id: 'h2o', content: 'text',
    description: 'H2O LLM Studio DPO: prompt, chosen_response, rejected_response',
    mapping: { prompt: 'prompt', chosen: 'chosen_response', rejected: 'rejected_response' },
    fields: ['prompt', 'chosen_response', 'rejected_response'],
    extract: (rec) => pair(text(rec, 'prompt'), text(rec, 'chosen_response'), text(rec, 'rejected_response')),
  },
  sharegpt_ranking: {
    id: 'sharegpt_ranking', content: 'messages',
    description: 'LLaMA-Factory sharegpt ranking: conversations [{from, value}], chosen and rejected {from, value}, system?',
    mapping: { prompt: 'system + conversations', chosen: 'chosen', rejected: 'rejected' },
    fields: ['conversations', 'chosen', 'rejected', 'system'],
    extract(rec) {
      const convo = messages(rec, 'conversations');
      const system = optionalText(rec, 'system');
      if (convo[convo.length - 1]!.role === 'assistant') reject('the conversation ends with an assistant turn; the ranked answers must follow a user turn');
      const answer = (f: string): Message[] => {
        const v = rec[f];
        if (typeof v === 'string') return [{ role: 'assistant', content: v }];
        if (v === undefined) return reject(`missing field "${f}"`);
        return [{ ...message(v, `field "${f}"`), role: 'assistant' }];
      };
      return pair(system ? [{ role: 'system', content: system }, ...convo] : convo, answer('chosen'), answer('rejected'));
    },
  },
  alpaca_ranking: {
    id: 'alpaca_ranking', content: 'text',
    description: 'LLaMA-Factory alpaca ranking: instruction, input?, chosen, rejected (prompt = instruction + "\\n" + input)',
    mapping: { prompt: 'instruction + "\\n" + input', chosen: 'chosen', rejected: 'rejected' },
    fields: ['instruction', 'input', 'chosen', 'rejected', 'history'],
    extract(rec) {
      const h = rec.history;
      if (Array.isArray(h) && h.length) reject('multi-turn "history" is not supported for alpaca ranking data; convert it to the sharegpt layout');
      const prompt = [text(rec, 'instruction'), optionalText(rec, 'input')].filter((s) => s !== '').join('\n');
      return pair(prompt, text(rec, 'chosen'), text(rec, 'rejected'));
    },
  },
  autotrain: {
    id: 'autotrain', content: 'text',
    description: 'AutoTrain reward/DPO: text (chosen), rejected_text, and prompt when present (else the shared prefix)',
    mapping: { prompt: 'prompt, or the shared prefix of text and rejected_text', chosen: 'text', rejected: 'rejected_text' },
    fields: ['prompt', 'text', 'rejected_text'],
    extract(rec) {
      const c = text(rec, 'text'), r = text(rec, 'rejected_text');
      if (rec.prompt === undefined || rec.prompt === null) return { kind: 'pair', pair: splitSharedText(c, r) };
      return pair(text(rec, 'prompt'), c, r);
    },
  },
  trl_explicit: {
    id: 'trl_explicit', content: 'text',
    description: 'TRL explicit prompt: prompt, chosen, rejected as text',
    mapping: { prompt: 'prompt', chosen: 'chosen', rejected: 'rejected' },
    fields: ['prompt', 'chosen', 'rejected'],
    extract: (rec) => pair(text(rec, 'prompt'), text(rec, 'chosen'), text(rec, 'rejected')),
  },
  trl_explicit_conversational: {
    id: 'trl_explicit_conversational', content: 'messages',
    description: `TRL explicit prompt, conversational: prompt, chosen, rejected as ${TRL_MESSAGES}`,
    mapping: { prompt: 'prompt', chosen: 'chosen', rejected: 'rejected' },
    fields: ['prompt', 'chosen', 'rejected'],
    extract: (rec) => pair(messages(rec, 'prompt'), messages(rec, 'chosen'), messages(rec, 'rejected')),
  },
  hh_rlhf: {
    id: 'hh_rlhf', content: 'text',
    description: 'Anthropic HH-RLHF: chosen and rejected transcripts; prompt = shared prefix through the last "\\n\\nAssistant:"',
    mapping: { prompt: 'shared prefix of chosen and rejected through its last "\\n\\nAssistant:"', chosen: 'rest of chosen', rejected: 'rest of rejected' },
    fields: ['chosen', 'rejected'],
    extract: (rec) => ({ kind: 'pair', pair: splitHh(text(rec, 'chosen'), text(rec, 'rejected')) }),
  },
  trl_implicit: {
    id: 'trl_implicit', content: 'text',
    description: 'TRL implicit prompt: chosen and rejected texts; prompt = their shared prefix',
    mapping: { prompt: 'shared prefix of chosen and rejected', chosen: 'rest of chosen', rejected: 'rest of rejected' },
    fields: ['chosen', 'rejected'],
    extract: (rec) => ({ kind: 'pair', pair: splitSharedText(text(rec, 'chosen'), text(rec, 'rejected')) }),
  },
  trl_implicit_conversational: {
    id: 'trl_implicit_conversational', content: 'messages',
    description: `TRL implicit prompt, conversational: chosen and rejected as ${TRL_MESSAGES}; prompt = their shared leading messages`,
    mapping: { prompt: 'shared leading messages of chosen and rejected', chosen: 'rest of chosen', rejected: 'rest of rejected' },
    fields: ['chosen', 'rejected'],
    extract: (rec) => ({ kind: 'pair', pair: splitSharedMessages(messages(rec, 'chosen'), messages(rec, 'rejected')) }),
  },
};

// ---------------------------------------------------------------------------------------------
// detection and manual mapping

/** The first non-null value of a field among the sample records. */
const firstValue = (samples: readonly Record<string, unknown>[], f: string) => samples.map((s) => s[f]).find((v) => v !== undefined && v !== null);

/**
 * The schema a file's first records follow, judged by which fields occur in any of them (and, where
 * names are shared, by their values), or undefined when none fits.
 */
export function detectSchema(samples: readonly Record<string, unknown>[]): Schema | undefined {
  const keys = new Set(samples.flatMap((s) => Object.keys(s)));
  const has = (...fs: string[]) => fs.every((f) => keys.has(f));
  if (has('response_a', 'response_b') && (has('winner') || has('winner_model_a') || has('winner_model_b'))) return SCHEMAS.arena;
  if (has('chosen_response', 'rejected_response')) return SCHEMAS.h2o;
  if (has('conversations', 'chosen', 'rejected')) return SCHEMAS.sharegpt_ranking;
  if (has('instruction', 'chosen', 'rejected')) return SCHEMAS.alpaca_ranking;
  if (has('text', 'rejected_text')) return SCHEMAS.autotrain;
  if (!has('chosen', 'rejected')) return undefined;
  const chosenIsList = Array.isArray(firstValue(samples, 'chosen'));
  if (has('prompt')) {
    const promptIsList = Array.isArray(firstValue(samples, 'prompt'));
    if (promptIsList === chosenIsList) return chosenIsList ? SCHEMAS.trl_explicit_conversational : SCHEMAS.trl_explicit;
    // TRL's maybe_extract_prompt: a text prompt beside conversational answers (UltraFeedback-style)
    // means the answers hold the whole conversation; the prompt comes from their shared messages.
  }
  if (chosenIsList) return SCHEMAS.trl_implicit_conversational;
  const chosen = samples.map((s) => s.chosen).filter((v) => typeof v === 'string');
  if (chosen.length && chosen.filter(looksLikeHh).length * 2 > chosen.length) return SCHEMAS.hh_rlhf;
  return SCHEMAS.trl_implicit;
}

export function schemaById(id: string): Schema | undefined {
  return (SCHEMAS as Record<string, Schema>)[id];
}

/** A manual mapping from `--map prompt=COL,chosen=COL,rejected=COL` (prompt optional). */
export interface Mapping {
  prompt?: string;
  chosen: string;
  rejected: string;
}

/**
 * The schema for a manual mapping. Text or messages is judged from the mapped columns' first values;
 * without a prompt column, the prompt is the shared prefix as in TRL's implicit format.
 */
export function customSchema(m: Mapping, samples: readonly Record<string, unknown>[]): Schema {
  const conversational = Array.isArray(firstValue(samples, m.chosen));
  const field = conversational ? messages : text;
  const fields = [m.chosen, m.rejected, ...(m.prompt ? [m.prompt] : [])];
  return {
    id: 'custom',
    content: conversational ? 'messages' : 'text',
    description: 'manual column mapping',
    mapping: { prompt: m.prompt ?? 'shared prefix of chosen and rejected', chosen: m.chosen, rejected: m.rejected },
    fields,
    extract(rec) {
      const c = field(rec, m.chosen), r = field(rec, m.rejected);
      if (m.prompt) return pair(field(rec, m.prompt), c, r);
      return { kind: 'pair', pair: conversational ? splitSharedMessages(c as Message[], r as Message[]) : splitSharedText(c as string, r as string) };
    },
  };
}

/** A record's scalar fields that the schema did not use, kept with the row (e.g. model names, ids). */
export function leftoverFields(rec: Record<string, unknown>, used: readonly string[]): Record<string, unknown> | null {
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(rec)) {
    if (used.includes(k)) continue;
    let x: unknown;
    if (typeof v === 'string') x = v.length <= 2000 ? v : undefined;
    else if (typeof v === 'number') x = Number.isFinite(v) ? v : undefined;
    else if (typeof v === 'boolean') x = v;
    else if (typeof v === 'bigint') x = Number.isSafeInteger(Number(v)) ? Number(v) : String(v);
    else if (v instanceof Date) x = v.toISOString();
    if (x !== undefined) (out ??= {})[k] = x;
  }
  return out;
}
