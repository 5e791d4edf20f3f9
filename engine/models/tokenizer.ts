// Tokenizers: Hugging Face `tokenizer.json` through @huggingface/tokenizers (byte-level BPE as in GPT-2,
// Llama 3 and Qwen2; also WordPiece and Unigram, which that library implements), chat templates through
// @huggingface/jinja, and a built-in byte tokenizer for the models the app trains from scratch.
//
// Behaviour follows the Rust `tokenizers` library and transformers' PreTrainedTokenizerFast:
//   - encode(text) adds special tokens by default (the tokenizer.json post-processor, e.g. a BOS), and
//     cuts added tokens such as "<|endoftext|>" out of the text as single ids wherever they appear;
//   - tokenizer_config.json's `add_bos_token` / `add_eos_token`, when set, override whether the BOS /
//     EOS is added, as LlamaTokenizerFast does by rebuilding its post-processor;
//   - decode() does not "clean up tokenization spaces" unless tokenizer_config.json asks for it
//     (transformers' default is False since 4.45; the JS library's default would be true);
//   - chat templates get `messages`, `add_generation_prompt`, every special token as a string
//     (`bos_token`, `eos_token`, ...) and `raise_exception` (a @huggingface/jinja global), and are compiled with trim_blocks and
//     lstrip_blocks, like transformers' apply_chat_template.
//
// Corrected library quirk: the JS ByteLevel pre-tokenizer hard-codes GPT-2's split pattern with
// JavaScript's `\s`, which, unlike the Unicode White_Space property that Oniguruma (the Rust library's
// regex engine) uses, includes U+FEFF and lacks U+0085. We swap in the same pattern written with
// \p{White_Space} so ids match the Rust library (test/fixtures/tokenizers/bpe-tiny has both cases).
// And its ByteFallback decoder keeps the valid bytes of a run that is not valid UTF-8 as a whole,
// where Rust's gives one U+FFFD per byte token (test/fixtures/tokenizers/sp-bpe-tiny).

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import * as hfTokenizers from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';

// @huggingface/tokenizers 0.2.0 ships .d.ts files whose relative re-exports have no file extension, which
// NodeNext resolution cannot follow: its classes would type as `any` or be missing. The part we use,
// typed here (shapes from its types/ folder and dist/tokenizers.mjs).
interface LibEncoding { ids: number[]; tokens: string[] }
interface LibPreTokenizer { pattern?: unknown; tokenizers?: (LibPreTokenizer | null)[] }
interface LibTokenizer {
  pre_tokenizer: LibPreTokenizer | null;
  encode(text: string, opts?: { add_special_tokens?: boolean }): LibEncoding;
  decode(ids: number[], opts?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
  decoder: LibDecoder | null;
}
interface Lib {
  Tokenizer: new (tokenizerJson: object, tokenizerConfig: object) => LibTokenizer;
  ByteLevelPreTokenizer: abstract new (...a: never[]) => LibPreTokenizer;
  SequencePreTokenizer: abstract new (...a: never[]) => LibPreTokenizer;
  ByteFallbackDecoder: abstract new (...a: never[]) => LibDecoder;
  SequenceDecoder: abstract new (...a: never[]) => LibDecoder;
}
interface LibDecoder { decoders?: LibDecoder[]; decode_chain(tokens: string[]): string[] }
const lib = hfTokenizers as unknown as Lib;

export interface ChatMessage { role: string; content: string }

export interface TextTokenizer {
  readonly kind: 'hf' | 'byte';
  /** Number of ids: every id in [0, vocabSize) decodes (for HF, the largest id of vocab and added tokens + 1). */
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
  /** Text to ids. `addSpecialTokens` (default true) adds what the tokenizer adds around a sequence, e.g. a BOS. */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  /** Ids to text; special tokens are written out unless `skipSpecialTokens`. Throws on an id outside the vocabulary. */
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** Renders messages with the model's chat template (tokenizer_config.json "chat_template"), when it has one. */
  applyChatTemplate?(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string;
}

/** A tokenizer that could not be loaded; the message names the file, the reason and what to do. */
export class TokenizerLoadError extends Error {
  override name = 'TokenizerLoadError';
}

// ---------------------------------------------------------------------------------------------
// built-in byte tokenizer

/**
 * The byte-level tokenizer of models the app trains from scratch (the built-in worlds).
 *
 * Ids 0..255 are the bytes of the UTF-8 encoding of the text; then three special ids:
 * `<pad>` = 256, `<bos>` = 257, `<eos>` = 258 (vocabSize 259).
 * encode(text) is [257, ...utf8 bytes] (no BOS with `addSpecialTokens: false`; no EOS is ever added:
 * the sampler stops on it). decode() turns runs of byte ids back into text with UTF-8 decoding, an
 * invalid or cut-off sequence becoming U+FFFD, and writes special ids as "<pad>", "<bos>", "<eos>"
 * unless `skipSpecialTokens`.
 */
export class ByteTokenizer implements TextTokenizer {
  static readonly PAD = 256;
  static readonly BOS = 257;
  static readonly EOS = 258;
  static readonly SPECIAL_TOKENS: readonly string[] = ['<pad>', '<bos>', '<eos>'];

  readonly kind = 'byte' as const;
  readonly vocabSize = 259;
  readonly padId = ByteTokenizer.PAD;
  readonly bosId = ByteTokenizer.BOS;
  readonly eosId = ByteTokenizer.EOS;

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    const bytes = Buffer.from(text, 'utf8');
    const ids = opts.addSpecialTokens ?? true ? [ByteTokenizer.BOS] : [];
    for (const b of bytes) ids.push(b);
    return ids;
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    const dec = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
    let out = '';
    let run: number[] = [];
    const flush = () => { if (run.length) { out += dec.decode(Uint8Array.from(run)); run = []; } };
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new RangeError(`token id ${id} is outside the byte tokenizer's vocabulary [0, ${this.vocabSize})`);
      }
      if (id < 256) { run.push(id); continue; }
      flush();
      if (!opts.skipSpecialTokens) out += ByteTokenizer.SPECIAL_TOKENS[id - 256];
    }
    flush();
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Hugging Face tokenizer.json

const SUPPORTED_MODELS = ['BPE', 'WordPiece', 'Unigram'];
const SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;

/** GPT-2's split pattern as the JS library writes it (with JavaScript's \s) and as Oniguruma means it. */
const JS_GPT2_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
const UNICODE_GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

function fixByteLevelWhitespace(pt: LibPreTokenizer | null): void {
  if (pt === null) return;
  const isA = (C: abstract new (...a: never[]) => unknown) => (pt as object) instanceof C;
  if (isA(lib.ByteLevelPreTokenizer)) {
    if (pt.pattern instanceof RegExp && pt.pattern.source === JS_GPT2_PATTERN) pt.pattern = new RegExp(UNICODE_GPT2_PATTERN);
  } else if (isA(lib.SequencePreTokenizer)) {
    for (const p of pt.tokenizers ?? []) fixByteLevelWhitespace(p);
  }
}

/** ByteFallback as the Rust decoder does it: a run of <0xXX> tokens that is not valid UTF-8 as a whole
 *  becomes one U+FFFD per token (decoders/byte_fallback.rs); the JS library's TextDecoder would give one
 *  per invalid subsequence and keep the valid bytes around it. */
function byteFallbackChain(tokens: string[]): string[] {
  const out: string[] = [];
  let run: number[] = [];
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const flush = () => {
    if (!run.length) return;
    try { out.push(utf8.decode(Uint8Array.from(run))); } catch { for (let i = 0; i < run.length; i++) out.push('\uFFFD'); }
    run = [];
  };
  for (const t of tokens) {
    const byte = t.length === 6 && t.startsWith('<0x') && t.endsWith('>') ? Number.parseInt(t.slice(3, 5), 16) : NaN;
    if (Number.isNaN(byte)) { flush(); out.push(t); } else run.push(byte);
  }
  flush();
  return out;
}

function fixByteFallback(d: LibDecoder | null): void {
  if (d === null) return;
  const isA = (C: abstract new (...a: never[]) => unknown) => (d as object) instanceof C;
  if (isA(lib.ByteFallbackDecoder)) d.decode_chain = byteFallbackChain;
  else if (isA(lib.SequenceDecoder)) for (const x of d.decoders ?? []) fixByteFallback(x);
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A special token in a config: a string, or an AddedToken object {content, ...}; null when absent. */
function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return null;
}

async function exists(p: string): Promise<boolean> {
  try { await fsp.access(p); return true; } catch { return false; }
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw new TokenizerLoadError(`${file}: cannot read ${what} (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new TokenizerLoadError(`${file}: invalid JSON (${(e as Error).message}); re-save it from transformers (tokenizer.save_pretrained) or fix the file`);
  }
}

async function readOptionalJson(file: string, what: string): Promise<Json | null> {
  if (!(await exists(file))) return null;
  const v = await readJson(file, what);
  if (!isObject(v)) throw new TokenizerLoadError(`${file}: ${what} must be a JSON object`);
  return v;
}

/** Picks the chat template as transformers does: chat_template.jinja, else tokenizer_config.json's. */
function pickChatTemplate(raw: unknown, file: string): string | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw === 'string') return raw;
  if (Array.isArray(raw)) {
    const named = new Map<string, string>();
    for (const t of raw) if (isObject(t) && typeof t.name === 'string' && typeof t.template === 'string') named.set(t.name, t.template);
    const d = named.get('default');
    if (d !== undefined) return d;
    throw new TokenizerLoadError(`${file}: chat_template lists ${named.size} named templates (${[...named.keys()].join(', ')}) but none is named "default"`);
  }
  throw new TokenizerLoadError(`${file}: chat_template must be a string or a list of {name, template}`);
}

/** A tokenizer from a Hugging Face tokenizer.json (and the configs beside it). */
export class HfTokenizer implements TextTokenizer {
  readonly kind = 'hf' as const;
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
  readonly unkId: number | null;
  /** The special tokens by transformers' names (bos_token, eos_token, ...), as strings. */
  readonly specialTokens: Readonly<Record<string, string>>;
  /** The chat template source, or null when the model ships none. */
  readonly chatTemplate: string | null;
  /** Where it was loaded from (absolute path of tokenizer.json). */
  readonly file: string;
  applyChatTemplate?: (messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }) => string;

  private readonly tok: LibTokenizer;
  private readonly addBos: boolean | undefined;
  private readonly addEos: boolean | undefined;
  private readonly postAddsBos: boolean;
  private readonly postAddsEos: boolean;
  private readonly cleanUpSpaces: boolean;
  private template: Template | null = null;

  constructor(args: {
    tok: LibTokenizer; file: string; config: Json; specialTokens: Record<string, string>; specialSources: Record<string, string>;
    chatTemplate: string | null; templateFile: string;
  }) {
    const { tok, config, specialTokens } = args;
    this.tok = tok;
    this.file = args.file;
    this.specialTokens = specialTokens;
    let max = -1;
    for (const id of tok.get_vocab(true).values()) if (id > max) max = id;
    this.vocabSize = max + 1;
    const idOf = (key: string): number | null => {
      const s = specialTokens[key];
      if (s === undefined) return null;
      const id = tok.token_to_id(s);
      if (id === undefined) {
        throw new TokenizerLoadError(`${args.specialSources[key]}: ${key} "${s}" is not a token of ${args.file}; fix or remove ${key}`);
      }
      return id;
    };
    this.bosId = idOf('bos_token');
    this.eosId = idOf('eos_token');
    this.padId = idOf('pad_token');
    this.unkId = idOf('unk_token');
    this.addBos = typeof config.add_bos_token === 'boolean' ? config.add_bos_token : undefined;
    this.addEos = typeof config.add_eos_token === 'boolean' ? config.add_eos_token : undefined;
    this.cleanUpSpaces = config.clean_up_tokenization_spaces === true;
    // What the post-processor adds around a sequence, read off an empty one.
    const probe = tok.encode('', { add_special_tokens: true }).ids;
    this.postAddsBos = this.bosId !== null && probe.length > 0 && probe[0] === this.bosId;
    this.postAddsEos = this.eosId !== null && probe.length > 0 && probe[probe.length - 1] === this.eosId && !(probe.length === 1 && this.postAddsBos);
    this.chatTemplate = args.chatTemplate;
    if (args.chatTemplate !== null) {
      const source = args.chatTemplate, templateFile = args.templateFile;
      this.applyChatTemplate = (messages, opts = {}) => {
        if (this.template === null) {
          try {
            this.template = new Template(source);
          } catch (e) {
            throw new TokenizerLoadError(`${templateFile}: the chat template does not parse (${(e as Error).message})`);
          }
        }
        // raise_exception is one of @huggingface/jinja's globals (it throws an Error with the message).
        try {
          return this.template.render({ ...this.specialTokens, messages, add_generation_prompt: opts.addGenerationPrompt ?? false });
        } catch (e) {
          throw new Error(`chat template of ${templateFile}: ${(e as Error).message}`);
        }
      };
    }
  }

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    const add = opts.addSpecialTokens ?? true;
    const enc = this.tok.encode(text, { add_special_tokens: add });
    const ids = enc.ids.slice();
    const missing = ids.findIndex((id) => id === undefined);
    if (missing >= 0) throw new Error(`token "${enc.tokens[missing]}" has no id in ${this.file}`);
    if (add) {
      if (this.bosId !== null && this.addBos === true && !this.postAddsBos) ids.unshift(this.bosId);
      if (this.addBos === false && this.postAddsBos && ids[0] === this.bosId) ids.shift();
      if (this.eosId !== null && this.addEos === true && !this.postAddsEos) ids.push(this.eosId);
      if (this.addEos === false && this.postAddsEos && ids[ids.length - 1] === this.eosId) ids.pop();
    }
    return ids;
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.tok.id_to_token(id) === undefined) {
        throw new RangeError(`token id ${id} is not in the vocabulary of ${this.file} (size ${this.vocabSize})`);
      }
    }
    if (ids.length === 0) return '';
    return this.tok.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? false, clean_up_tokenization_spaces: this.cleanUpSpaces });
  }

  /** The id of a token string (vocabulary or added token), or null. */
  tokenToId(token: string): number | null {
    return this.tok.token_to_id(token) ?? null;
  }

  /** The token string of an id, or null. */
  idToToken(id: number): string | null {
    return this.tok.id_to_token(id) ?? null;
  }
}

/**
 * Loads a Hugging Face tokenizer from a tokenizer.json file or a model folder that has one, with
 * tokenizer_config.json, special_tokens_map.json and chat_template.jinja when they are beside it.
 * Special tokens come from tokenizer_config.json, overridden by special_tokens_map.json where both name
 * one (transformers' order). Throws TokenizerLoadError naming the file and what to do.
 */
export async function loadTokenizer(pathToTokenizerJsonOrModelDir: string): Promise<HfTokenizer> {
  const abs = path.resolve(pathToTokenizerJsonOrModelDir);
  let stat;
  try {
    stat = await fsp.stat(abs);
  } catch {
    throw new TokenizerLoadError(`${abs}: no such file or folder; pass a tokenizer.json or a model folder that contains one`);
  }
  let file = abs;
  if (stat.isDirectory()) {
    file = path.join(abs, 'tokenizer.json');
    if (!(await exists(file))) {
      const slow = ['vocab.json', 'merges.txt', 'tokenizer.model', 'vocab.txt'];
      const present: string[] = [];
      for (const s of slow) if (await exists(path.join(abs, s))) present.push(s);
      const hint = present.length
        ? ` It has ${present.join(', ')}, the files of a "slow" tokenizer, which are not supported: convert them with transformers (AutoTokenizer.from_pretrained(folder).save_pretrained(folder) writes tokenizer.json).`
        : ' Copy tokenizer.json from the model\'s Hugging Face repository into it.';
      throw new TokenizerLoadError(`${file}: missing; the folder has no tokenizer.json.${hint}`);
    }
  }
  const dir = path.dirname(file);

  const json = await readJson(file, 'tokenizer.json');
  if (!isObject(json) || !isObject(json.model)) {
    throw new TokenizerLoadError(`${file}: not a Hugging Face tokenizer.json (no "model" object); use the tokenizer.json written by the tokenizers library`);
  }
  const modelType = json.model.type;
  if (typeof modelType !== 'string' || !SUPPORTED_MODELS.includes(modelType)) {
    throw new TokenizerLoadError(`${file}: unsupported tokenizer model type ${JSON.stringify(modelType ?? null)}; supported: ${SUPPORTED_MODELS.join(', ')}`);
  }
  // The library insists that these keys exist (they may be null); files written by hand may omit them.
  const tj: Json = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, ...json, added_tokens: Array.isArray(json.added_tokens) ? json.added_tokens : [] };

  const configFile = path.join(dir, 'tokenizer_config.json');
  const config = (await readOptionalJson(configFile, 'tokenizer_config.json')) ?? {};
  const mapFile = path.join(dir, 'special_tokens_map.json');
  const map = (await readOptionalJson(mapFile, 'special_tokens_map.json')) ?? {};

  const specialTokens: Record<string, string> = {};
  const specialSources: Record<string, string> = {};
  for (const key of SPECIAL_KEYS) {
    const fromMap = tokenString(map[key]);
    const s = fromMap ?? tokenString(config[key]);
    if (s !== null) { specialTokens[key] = s; specialSources[key] = fromMap !== null ? mapFile : configFile; }
  }
  const libConfig: Json = { ...config, ...specialTokens };
  delete libConfig.chat_template;
  const extra = map.additional_special_tokens ?? config.additional_special_tokens;
  libConfig.additional_special_tokens = Array.isArray(extra) ? extra.map(tokenString).filter((s): s is string => s !== null) : [];

  let tok: LibTokenizer;
  try {
    tok = new lib.Tokenizer(tj, libConfig);
  } catch (e) {
    throw new TokenizerLoadError(`${file}: cannot build the tokenizer (${(e as Error).message}); it may use a component that @huggingface/tokenizers does not implement`);
  }
  fixByteLevelWhitespace(tok.pre_tokenizer);
  fixByteFallback(tok.decoder);

  const jinjaFile = path.join(dir, 'chat_template.jinja');
  let chatTemplate: string | null;
  let templateFile = configFile;
  if (await exists(jinjaFile)) {
    chatTemplate = await fsp.readFile(jinjaFile, 'utf8');
    templateFile = jinjaFile;
  } else {
    chatTemplate = pickChatTemplate(config.chat_template, configFile);
  }
  return new HfTokenizer({ tok, file, config, specialTokens, specialSources, chatTemplate, templateFile });
}
