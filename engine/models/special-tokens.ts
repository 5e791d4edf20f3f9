// BOS, EOS and pad ids of a model folder, resolved once in transformers' order of precedence and checked
// against the embedding (docs/engine.md § Special tokens):
//   1. generation_config.json — what generate() reads (GenerationConfig.from_pretrained; its eos_token_id
//      may be a list, every id of which ends a sequence);
//   2. config.json — what GenerationConfig.from_model_config copies when there is no generation config;
//   3. the tokenizer — bos_token / eos_token / pad_token of special_tokens_map.json over
//      tokenizer_config.json, as ids of tokenizer.json (added_tokens, then the model's vocabulary).
// Per role the first source whose id (or, for a list, any id) lies in [0, vocab_size) wins; sources passed
// over are kept as notes. An id outside the embedding used to reach ONNX Runtime's Gather ("idx=50256
// must be within [-512, 511]") halfway through a study. An EOS that some source names but none names
// usably is refused, naming every key and value (a response must be able to end); pad falls back to the
// EOS, as generate() does when pad_token_id is None (transformers generation/utils.py,
// _prepare_special_tokens); an unusable BOS is no BOS (the tokenizer adds its own).

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type ModelConfig } from './config.js';

export type Role = 'bos' | 'eos' | 'pad';
export const ROLES: readonly Role[] = ['bos', 'eos', 'pad'];

export interface SpecialTokens {
  bos: number | null;
  /** The EOS a response ends with (the tokenizer's eos_token when it is one of eosIds, else eosIds[0]). */
  eos: number | null;
  /** Every id that ends a generated sequence. */
  eosIds: number[];
  pad: number | null;
  /** Where each role's id came from, e.g. "generation_config.json eos_token_id" (null: no source). */
  from: Record<Role, string | null>;
  /** Sources passed over, each "FILE KEY = VALUE: why". */
  notes: string[];
}

/** A folder whose special tokens cannot be used; the message names each key and value tried. */
export class SpecialTokenError extends Error {
  override name = 'SpecialTokenError';
}

/** The tokenizer's special ids (null where it names none), e.g. from HfTokenizer or readTokenizerIds. */
export interface TokenizerIds {
  /** What to name in messages (the tokenizer.json or tokenizer_config.json path). */
  file: string;
  bos: number | null; eos: number | null; pad: number | null;
  /** The token strings, for messages. */
  names?: Partial<Record<Role, string>>;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const KEY: Record<Role, string> = { bos: 'bos_token_id', eos: 'eos_token_id', pad: 'pad_token_id' };
const NAME: Record<Role, string> = { bos: 'BOS', eos: 'EOS', pad: 'pad' };

export interface Sources {
  /** Size of the embedding (config vocab_size): every id must be below it. */
  vocab: number;
  generation?: { file: string; json: Json } | null;
  config: { file: string; json: Json };
  tokenizer?: TokenizerIds | null;
}

export function resolveSpecialTokens(s: Sources): SpecialTokens {
  const notes: string[] = [];
  const from: Record<Role, string | null> = { bos: null, eos: null, pad: null };
  const picked: Record<Role, number[]> = { bos: [], eos: [], pad: [] };
  const tried: Record<Role, string[]> = { bos: [], eos: [], pad: [] };
  const usable = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < s.vocab;
  const why = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? `outside the embedding (vocab_size ${s.vocab})` : 'not a non-negative integer');
  for (const role of ROLES) {
    const candidates: { where: string; value: unknown }[] = [];
    for (const src of [s.generation, s.config]) {
      if (src && src.json[KEY[role]] !== undefined && src.json[KEY[role]] !== null) candidates.push({ where: `${src.file} ${KEY[role]}`, value: src.json[KEY[role]] });
    }
    const t = s.tokenizer;
    if (t && t[role] !== null) candidates.push({ where: `${t.file} ${role}_token${t.names?.[role] !== undefined ? ` "${t.names[role]}"` : ''}`, value: t[role] });
    for (const c of candidates) {
      if (picked[role].length) break; // the first usable source wins
      // A list is usable when any of its ids is; only eos is a list in transformers' configs.
      const values = Array.isArray(c.value) ? c.value : [c.value];
      const ok = values.filter(usable);
      const bad = values.filter((v) => !usable(v));
      const shown = `${c.where} = ${JSON.stringify(c.value)}`;
      if (!ok.length || (role !== 'eos' && values.length > 1)) {
        tried[role].push(`${shown} (${values.length > 1 && role !== 'eos' ? 'a list' : why(bad[0])})`);
        continue;
      }
      if (bad.length) notes.push(`${shown}: ${bad.map((b) => `${JSON.stringify(b)} is ${why(b)}`).join(', ')}; ends sequences on ${ok.join(', ')} only`);
      picked[role] = [...new Set(ok)];
      from[role] = c.where;
    }
    if (!picked[role].length && tried[role].length && role === 'eos') {
      throw new SpecialTokenError(`no usable ${NAME[role]} token id: ${tried[role].join('; ')}; set ${KEY[role]} to an id below ${s.vocab} in config.json (or name an eos_token the tokenizer has)`);
    }
    if (picked[role].length) for (const t of tried[role]) notes.push(`${t} passed over for ${from[role]}`);
    // No usable BOS is no BOS: the lab never prepends config.json's bos itself (the tokenizer adds its own).
    else if (role === 'bos' && tried.bos.length) notes.push(`${tried.bos.join('; ')}: no BOS`);
  }
  const eosIds = picked.eos;
  const tokEos = s.tokenizer?.eos ?? null;
  const eos = eosIds.length ? (tokEos !== null && eosIds.includes(tokEos) ? tokEos : eosIds[0]!) : null;
  let pad = picked.pad[0] ?? null;
  if (pad === null && tried.pad.length) {
    if (eos === null) throw new SpecialTokenError(`no usable pad token id: ${tried.pad.join('; ')}, and no EOS to pad with; set pad_token_id to an id below ${s.vocab} in config.json`);
    notes.push(`${tried.pad.join('; ')}: padding with the EOS ${eos}`);
  }
  if (pad === null && eos !== null) { pad = eos; from.pad = `${from.eos} (no pad token: the EOS, as generate() pads)`; }
  return { bos: picked.bos[0] ?? null, eos, eosIds, pad, from, notes };
}

/** The special tokens of a model that has no folder (a built-in world's decoder): its config's ids. */
export function configSpecialTokens(c: ModelConfig): SpecialTokens {
  return resolveSpecialTokens({ vocab: c.vocabSize, config: { file: 'config', json: { bos_token_id: c.bosTokenId, eos_token_id: c.eosTokenId } } });
}

async function readJsonIf(file: string): Promise<Json | null> {
  let text: string;
  try { text = await readFile(file, 'utf8'); } catch { return null; }
  let v: unknown;
  try { v = JSON.parse(text); } catch (e) { throw new SpecialTokenError(`${file}: invalid JSON (${(e as Error).message})`); }
  if (!isObject(v)) throw new SpecialTokenError(`${file}: expected a JSON object`);
  return v;
}

const tokenString = (v: unknown): string | null => (typeof v === 'string' ? v : isObject(v) && typeof v.content === 'string' ? v.content : null);

/** The tokenizer's special ids read from its files without building it (the loader, reward models):
 *  special_tokens_map.json over tokenizer_config.json for the strings, as loadTokenizer does; their ids
 *  from tokenizer.json's added_tokens, tokenizer_config.json's added_tokens_decoder, then the model's
 *  vocabulary. Null when the folder has no tokenizer files; a token string with no id is left out
 *  (loadTokenizer refuses such a tokenizer where text is encoded). */
export async function readTokenizerIds(dir: string): Promise<TokenizerIds | null> {
  const tjFile = path.join(dir, 'tokenizer.json'), cfgFile = path.join(dir, 'tokenizer_config.json'), mapFile = path.join(dir, 'special_tokens_map.json');
  const [tj, cfg, map] = await Promise.all([readJsonIf(tjFile), readJsonIf(cfgFile), readJsonIf(mapFile)]);
  if (!tj && !cfg && !map) return null;
  const ids = new Map<string, number>();
  const model = isObject(tj?.model) ? tj.model : null;
  if (model && isObject(model.vocab)) for (const [k, v] of Object.entries(model.vocab)) if (typeof v === 'number') ids.set(k, v);
  if (model && Array.isArray(model.vocab)) model.vocab.forEach((e, i) => { if (Array.isArray(e) && typeof e[0] === 'string') ids.set(e[0], i); });
  if (isObject(cfg?.added_tokens_decoder)) for (const [k, v] of Object.entries(cfg.added_tokens_decoder)) { const s = tokenString(v); if (s !== null && /^\d+$/.test(k)) ids.set(s, Number(k)); }
  if (Array.isArray(tj?.added_tokens)) for (const a of tj.added_tokens) if (isObject(a) && typeof a.content === 'string' && typeof a.id === 'number') ids.set(a.content, a.id);
  const out: TokenizerIds = { file: tj ? tjFile : cfgFile, bos: null, eos: null, pad: null, names: {} };
  for (const role of ROLES) {
    const s = tokenString(map?.[`${role}_token`]) ?? tokenString(cfg?.[`${role}_token`]);
    if (s === null) continue;
    out.names![role] = s;
    out[role] = ids.get(s) ?? null;
  }
  return out;
}

/** A model folder's special tokens: generation_config.json, config.json (already parsed as `json`), then
 *  the tokenizer (given, or read from the folder's files). Throws SpecialTokenError. */
export async function folderSpecialTokens(dir: string, vocab: number, json: Json, tokenizer?: TokenizerIds | null): Promise<SpecialTokens> {
  const root = path.resolve(dir);
  const genFile = path.join(root, 'generation_config.json');
  const gen = await readJsonIf(genFile);
  const tok = tokenizer === undefined ? await readTokenizerIds(root) : tokenizer;
  try {
    return resolveSpecialTokens({ vocab, generation: gen ? { file: genFile, json: gen } : null, config: { file: path.join(root, 'config.json'), json }, tokenizer: tok });
  } catch (e) {
    if (e instanceof SpecialTokenError) throw new SpecialTokenError(`${root}: ${e.message}`);
    throw e;
  }
}
