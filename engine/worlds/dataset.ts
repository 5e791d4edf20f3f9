// The user-data world (docs/method.md § Worlds, issue 4 item 5): an imported preference dataset plus a Hugging
// Face model folder, used as the starting policy π₀ and as the reward-model trunk; gold is optional —
// a held-out reward model, or none.
//
//   const world = await datasetWorld({ store, datasetId: 3, modelDir: 'models/qwen2.5-0.5b', seed: 0 });
//
// Tokenisation (the model's own tokenizer.json):
// - Text rows (prompt/chosen/rejected strings): the prompt is encoded as the tokenizer encodes a text —
//   with the BOS it adds, if any (a trailing EOS some tokenizers add is dropped) — and each response is
//   encoded without special tokens and then ends with EOS. Prompt and response are concatenated as
//   they are, as TRL does (no separator is inserted: a dataset whose prompts end in "Assistant:" keeps it).
// - Conversational rows (lists of {role, content}): when the tokenizer has a chat template, the prompt is
//   the template applied to the prompt messages with the generation prompt, encoded without adding
//   special tokens (the template writes its own BOS, as transformers' apply_chat_template does); the
//   response is what the template adds for the answer messages (the text after the prompt in the
//   rendered whole conversation, e.g. "Hello<|im_end|>\n"), then EOS. Without a chat template the
//   messages are written as "role: content" lines followed by "assistant:".
// - A response is cut after its first EOS, or gets one appended, and is then truncated to
//   maxResponseTokens (a truncated response has no EOS). A prompt longer than maxPromptTokens keeps its
//   end (and its BOS). An empty prompt becomes [BOS].
//
// Splits: RL-training prompts and the reward model's training pairs come from the dataset's train split;
// evaluation prompts and the held-out validation pairs from its validation and test splits. When either
// side is empty (a small dataset imported with the default 5%/5% split may have no validation rows), a
// deterministic share of the distinct prompts (HOLD_OUT_FRACTION, at least one) is held out instead,
// chosen by a hash of the world seed and the prompt, so all pairs of a prompt stay on one side.
//
// Gold: with `gold.rewardModelDir`, the gold reward is that reward model's score (a held-out judge the
// policy never trains against). It needs the model, so it is asynchronous: `goldBatch`; `gold()` throws.
// When the judge has its own, different tokenizer (or a smaller vocabulary), responses are decoded to
// text and re-encoded with it (approximate for chat data: the policy's template tokens become text).
// Without gold, `hasGold` is false, `gold()` returns NaN and studies report proxy metrics only.

import { createHash } from 'node:crypto';
import { readFile, access } from 'node:fs/promises';
import path from 'node:path';
import { type Store } from '../store/index.js';
import { type Split } from '../store/datasets.js';
import { unitHash } from '../data/split.js';
import { type ModelConfig, parseHfConfig, maxPositionsOf } from '../models/config.js';
import { loadTokenizer, type HfTokenizer, type TextTokenizer, type ChatMessage } from '../models/tokenizer.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { type Rng } from '../runtime/params.js';
import { RewardModel } from '../rlhf/reward.js';
import { folderSpecialTokens } from '../models/special-tokens.js';
import { type PreferencePair, type Sample, type World } from './world.js';

/** Share of distinct prompts held out for evaluation when the dataset has no usable validation/test split. */
export const HOLD_OUT_FRACTION = 0.1;
/** At most this many distinct prompts are used for RL training and for evaluation (chosen by hash). */
export const MAX_TRAIN_PROMPTS = 4096;
export const MAX_EVAL_PROMPTS = 512;

export const DATASET_WORLD_DEFAULTS = Object.freeze({ maxPromptTokens: 128, maxResponseTokens: 64 });

export interface DatasetWorldOptions {
  store: Store;
  /** An imported preference dataset (store.datasets). */
  datasetId: number;
  /** A Hugging Face model folder: config.json, model.safetensors (weights are not read here) and tokenizer.json. */
  modelDir: string;
  /** Longest prompt in tokens (longer prompts keep their end). Default 128. */
  maxPromptTokens?: number;
  /** Longest response in tokens, EOS included: dataset responses are truncated to it and the policy generates at most this many. Default 64. */
  maxResponseTokens?: number;
  /** A held-out reward model folder as the gold reward, or null/undefined for none (proxy metrics only). */
  gold?: { rewardModelDir: string } | null;
  /** Seeds the deterministic hold-out (when the dataset has no validation/test rows) and the prompt caps. */
  seed: number;
  /** Where the gold reward model runs. Default 'cpu'. */
  device?: DeviceRequest;
}

export interface DatasetWorldSettings {
  [key: string]: unknown;
  datasetId: number;
  dataset: { name: string; hash: string; content: 'text' | 'messages'; rows: number };
  modelDir: string;
  tokenizer: { file: string; sha256: string; chatTemplate: boolean };
  maxPromptTokens: number;
  maxResponseTokens: number;
  gold: { rewardModelDir: string; retokenize: boolean } | null;
  seed: number;
  /** Where evaluation prompts and validation pairs came from. */
  holdOut: 'validation+test splits' | 'hashed share of prompts';
  counts: { trainPairs: number; heldOutPairs: number; trainPrompts: number; evalPrompts: number };
}

/** The dataset world: a World plus what the runner and tests need to look inside it. */
export interface DatasetWorld extends World {
  readonly name: 'dataset';
  readonly hasGold: boolean;
  readonly settings: DatasetWorldSettings;
  readonly tokenizer: HfTokenizer;
  readonly goldModel: RewardModel | null;
  /** Number of training / held-out pairs available. */
  readonly trainPairCount: number;
  readonly heldOutPairCount: number;
  /** Up to n held-out (validation/test) pairs, in an order drawn from rng: the reward models' validation set. */
  heldOutPairs(n: number, rng: Rng): PreferencePair[];
  modelConfig(): ModelConfig;
}

export const isDatasetWorld = (w: World): w is DatasetWorld => w.name === 'dataset';

interface RawRow { prompt: string; chosen: string; rejected: string; split: Split }
interface Encoded { prompt: number[]; chosen: number[]; rejected: number[] }

async function sha256Of(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

async function exists(p: string): Promise<boolean> { try { await access(p); return true; } catch { return false; } }


/** A random order of 0..n−1 drawn from rng (Fisher–Yates), of which the first k are used. */
function drawOrder(n: number, k: number, rng: Rng): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  const m = Math.min(k, n);
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(n - i);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.slice(0, m);
}

export function parseMessages(s: string, what: string, datasetId: number): ChatMessage[] {
  let v: unknown;
  try { v = JSON.parse(s); } catch { throw new Error(`dataset ${datasetId}: the ${what} of a conversational row is not a JSON message list`); }
  if (!Array.isArray(v)) throw new Error(`dataset ${datasetId}: the ${what} of a conversational row is not a message list`);
  return v.map((m) => ({ role: String((m as ChatMessage).role), content: String((m as ChatMessage).content) }));
}

/** BOS, EOS and pad ids of a model folder in transformers' order (generation_config.json, config.json,
 *  the tokenizer; models/special-tokens.ts), each inside the embedding; EOS is required, a missing BOS
 *  is the EOS (what an empty prompt starts with). */
export async function specialIds(tokenizer: HfTokenizer, config: ModelConfig, modelDir: string): Promise<{ bosId: number; eosId: number; padId: number }> {
  const cfgFile = path.join(path.resolve(modelDir), 'config.json');
  const json = JSON.parse(await readFile(cfgFile, 'utf8')) as Record<string, unknown>;
  const t = await folderSpecialTokens(modelDir, config.vocabSize, json, {
    file: tokenizer.file, bos: tokenizer.bosId, eos: tokenizer.eosId, pad: tokenizer.padId,
    names: { bos: tokenizer.specialTokens.bos_token, eos: tokenizer.specialTokens.eos_token, pad: tokenizer.specialTokens.pad_token },
  });
  if (t.eos === null) throw new Error(`dataset world: neither ${tokenizer.file} nor ${cfgFile} (nor a generation_config.json) names an EOS token; the policy needs one to end a response`);
  return { bosId: t.bos ?? t.eos, eosId: t.eos, padId: t.pad ?? t.eos };
}

/** The tokenisation of text rows described at the top of this file, for this world and for the reward
 *  server (engine/serve), which scores text the way the ensemble's training pairs were encoded. */
export function textRowEncoder(tokenizer: TextTokenizer, ids: { bosId: number; eosId: number }) {
  const { bosId, eosId } = ids;
  // Does encode() append an EOS (add_eos_token)? Then a prompt must not end with it.
  const appendsEos = (() => {
    const a = tokenizer.encode('a'), b = tokenizer.encode('a', { addSpecialTokens: false });
    return a.length > b.length && a[a.length - 1] === eosId;
  })();
  /** A prompt longer than max keeps its end (and its BOS); an empty prompt becomes [BOS]. */
  const truncPrompt = (p: number[], max: number): number[] => {
    if (!p.length) return [bosId];
    if (p.length <= max) return p;
    return p[0] === bosId ? [bosId, ...p.slice(p.length - (max - 1))] : p.slice(p.length - max);
  };
  /** Cut after the first EOS or append one, then keep at most max tokens. */
  const finishResponse = (r: number[], max: number): number[] => {
    const e = r.indexOf(eosId);
    const out = e >= 0 ? r.slice(0, e + 1) : [...r, eosId];
    return out.length > max ? out.slice(0, max) : out;
  };
  return {
    bosId, eosId, appendsEos, truncPrompt, finishResponse,
    /** A text prompt, with the special tokens the tokenizer adds (a trailing EOS dropped), untruncated. */
    prompt(raw: string): number[] {
      const p = tokenizer.encode(raw);
      return appendsEos && p[p.length - 1] === eosId ? p.slice(0, -1) : p;
    },
    /** A text response: no special tokens added, then finishResponse to max tokens. */
    response(raw: string, max = Infinity): number[] { return finishResponse(tokenizer.encode(raw, { addSpecialTokens: false }), max); },
  };
}

/** A dataset's splits as the dataset world uses them (see the header comment): row indices of the
 *  training and held-out sides, and their distinct prompt strings, each capped by hash (MAX_TRAIN_PROMPTS,
 *  MAX_EVAL_PROMPTS) so the choice does not depend on row order. Pure: the exporter (engine/export) writes
 *  the same prompts a study trains on without loading a tokenizer. */
export function splitPrompts(rows: ReadonlyArray<{ prompt: string; split: Split }>, seed: number, what: string): {
  trainIdx: number[]; heldIdx: number[]; holdOut: DatasetWorldSettings['holdOut']; trainTexts: string[]; evalTexts: string[];
} {
  let trainIdx = rows.flatMap((r, i) => (r.split === 'train' ? [i] : []));
  let heldIdx = rows.flatMap((r, i) => (r.split !== 'train' ? [i] : []));
  let holdOut: DatasetWorldSettings['holdOut'] = 'validation+test splits';
  if (!trainIdx.length || !heldIdx.length) {
    holdOut = 'hashed share of prompts';
    const distinct = [...new Set(rows.map((r) => r.prompt))];
    if (distinct.length < 2) throw new Error(`dataset world: ${what} has a single distinct prompt; at least two are needed to hold one out for evaluation`);
    const h = new Map(distinct.map((p) => [p, unitHash(seed, `holdout\u0000${p}`)]));
    const held = new Set(distinct.filter((p) => h.get(p)! < HOLD_OUT_FRACTION));
    if (held.size === 0) held.add(distinct.reduce((a, b) => (h.get(a)! <= h.get(b)! ? a : b)));
    if (held.size === distinct.length) held.delete(distinct.reduce((a, b) => (h.get(a)! >= h.get(b)! ? a : b)));
    trainIdx = rows.flatMap((r, i) => (held.has(r.prompt) ? [] : [i]));
    heldIdx = rows.flatMap((r, i) => (held.has(r.prompt) ? [i] : []));
  }
  const distinctOf = (idx: number[], cap: number): string[] => {
    let distinct = [...new Set(idx.map((i) => rows[i]!.prompt))];
    if (distinct.length > cap) {
      const h = new Map(distinct.map((p) => [p, unitHash(seed, `prompt\u0000${p}`)]));
      const keep = new Set([...distinct].sort((a, b) => h.get(a)! - h.get(b)!).slice(0, cap));
      distinct = distinct.filter((p) => keep.has(p));
    }
    return distinct;
  };
  return { trainIdx, heldIdx, holdOut, trainTexts: distinctOf(trainIdx, MAX_TRAIN_PROMPTS), evalTexts: distinctOf(heldIdx, MAX_EVAL_PROMPTS) };
}

export async function datasetWorld(o: DatasetWorldOptions): Promise<DatasetWorld> {
  const maxPromptTokens = o.maxPromptTokens ?? DATASET_WORLD_DEFAULTS.maxPromptTokens;
  const maxResponseTokens = o.maxResponseTokens ?? DATASET_WORLD_DEFAULTS.maxResponseTokens;
  if (!Number.isInteger(maxPromptTokens) || maxPromptTokens < 2) throw new Error(`dataset world: maxPromptTokens must be an integer ≥ 2, got ${maxPromptTokens}`);
  if (!Number.isInteger(maxResponseTokens) || maxResponseTokens < 1) throw new Error(`dataset world: maxResponseTokens must be a positive integer, got ${maxResponseTokens}`);

  // ---- the dataset ----
  const ds = o.store.datasets.get(o.datasetId);
  if (!ds) throw new Error(`dataset world: no dataset ${o.datasetId} in the store; import one first (rrlhf dataset import FILE) and use the id it prints`);
  const rows: RawRow[] = [];
  for (const r of o.store.datasets.iterate(o.datasetId)) rows.push({ prompt: r.prompt, chosen: r.chosen, rejected: r.rejected, split: r.split });
  if (!rows.length) throw new Error(`dataset world: dataset ${o.datasetId} ("${ds.name}") has no rows`);
  const conversational = ds.content === 'messages';

  // ---- the model: config and tokenizer (the weights are loaded by whoever needs them) ----
  const modelDir = path.resolve(o.modelDir);
  const cfgFile = path.join(modelDir, 'config.json');
  let cfgJson: Record<string, unknown>;
  try { cfgJson = JSON.parse(await readFile(cfgFile, 'utf8')); } catch (e) {
    throw new Error(`dataset world: cannot read ${cfgFile} (${(e as Error).message.split('\n')[0]}); modelDir must be a Hugging Face model folder (config.json, model.safetensors, tokenizer.json)`);
  }
  const config = parseHfConfig(cfgJson, cfgFile);
  const tokenizer = await loadTokenizer(modelDir);
  if (tokenizer.vocabSize > config.vocabSize) throw new Error(`dataset world: ${tokenizer.file} has ${tokenizer.vocabSize} token ids but the model's vocab_size is ${config.vocabSize}; the tokenizer does not belong to this model`);
  const { eosId, bosId, padId } = await specialIds(tokenizer, config, modelDir);
  const positions = maxPositionsOf(config);
  if (maxPromptTokens + maxResponseTokens > positions) {
    throw new Error(`dataset world: maxPromptTokens + maxResponseTokens = ${maxPromptTokens + maxResponseTokens} exceeds the model's ${positions} positions; lower them`);
  }
  const useTemplate = conversational && tokenizer.applyChatTemplate !== undefined;
  const rowEnc = textRowEncoder(tokenizer, { bosId, eosId });
  const truncPrompt = (ids: number[]) => rowEnc.truncPrompt(ids, maxPromptTokens);
  const finishResponse = (ids: number[]) => rowEnc.finishResponse(ids, maxResponseTokens);
  const plainChat = (msgs: ChatMessage[]) => msgs.map((m) => `${m.role}: ${m.content}`).join('\n');

  // Per distinct prompt string: its ids and (for templates) its rendered text.
  const promptCache = new Map<string, { ids: number[]; text: string; msgs: ChatMessage[] | null }>();
  const promptOf = (raw: string) => {
    let p = promptCache.get(raw);
    if (p) return p;
    if (!conversational) {
      p = { ids: truncPrompt(rowEnc.prompt(raw)), text: raw, msgs: null };
    } else {
      const msgs = parseMessages(raw, 'prompt', o.datasetId);
      if (useTemplate) {
        const text = tokenizer.applyChatTemplate!(msgs, { addGenerationPrompt: true });
        p = { ids: truncPrompt(tokenizer.encode(text, { addSpecialTokens: false })), text, msgs };
      } else {
        const text = `${msgs.length ? plainChat(msgs) + '\n' : ''}assistant:`;
        p = { ids: truncPrompt(rowEnc.prompt(text)), text, msgs };
      }
    }
    promptCache.set(raw, p);
    return p;
  };
  const responseOf = (prompt: ReturnType<typeof promptOf>, raw: string, what: string): number[] => {
    if (!conversational) return rowEnc.response(raw, maxResponseTokens);
    const msgs = parseMessages(raw, what, o.datasetId);
    let text: string;
    if (useTemplate) {
      const whole = tokenizer.applyChatTemplate!([...prompt.msgs!, ...msgs], { addGenerationPrompt: false });
      text = whole.startsWith(prompt.text) ? whole.slice(prompt.text.length) : msgs.map((m) => m.content).join('\n');
    } else {
      text = ' ' + msgs.map((m) => m.content).join('\n');
    }
    return finishResponse(tokenizer.encode(text, { addSpecialTokens: false }));
  };
  const encoded = new Map<number, Encoded>();
  const encodeRow = (i: number): Encoded => {
    let e = encoded.get(i);
    if (!e) {
      const r = rows[i]!;
      const p = promptOf(r.prompt);
      e = { prompt: p.ids, chosen: responseOf(p, r.chosen, 'chosen'), rejected: responseOf(p, r.rejected, 'rejected') };
      encoded.set(i, e);
    }
    return e;
  };

  // ---- splits ----
  const { trainIdx, heldIdx, holdOut, trainTexts, evalTexts } = splitPrompts(rows, o.seed, `dataset ${o.datasetId} ("${ds.name}")`);
  /** Prompt ids of distinct prompt strings; two strings that encode alike (after truncation) count once. */
  const idsOf = (texts: string[]): number[][] => {
    const seen = new Set<string>();
    const out: number[][] = [];
    for (const p of texts) {
      const ids = promptOf(p).ids;
      const k = ids.join(',');
      if (!seen.has(k)) { seen.add(k); out.push(ids); }
    }
    return out;
  };
  const trainPrompts = idsOf(trainTexts);
  const evalPrompts = idsOf(evalTexts);

  // ---- gold ----
  let goldModel: RewardModel | null = null;
  let goldBatch: ((prompts: number[][], responses: number[][]) => Promise<number[]>) | undefined;
  let retokenize = false;
  if (o.gold) {
    const goldDir = path.resolve(o.gold.rewardModelDir);
    goldModel = await RewardModel.load(goldDir, o.device ?? 'cpu').catch((e: Error) => {
      throw new Error(`dataset world: cannot load the gold reward model from ${goldDir}: ${e.message.split('\n')[0]}`);
    });
    const gm = goldModel;
    const goldTokFile = path.join(goldDir, 'tokenizer.json');
    let goldTok: HfTokenizer | null = null;
    if (await exists(goldTokFile) && (await sha256Of(goldTokFile)) !== (await sha256Of(tokenizer.file))) goldTok = await loadTokenizer(goldDir);
    if (!goldTok && gm.config.vocabSize < config.vocabSize) {
      throw new Error(`dataset world: the gold reward model (${goldDir}) has vocab_size ${gm.config.vocabSize}, smaller than the policy's ${config.vocabSize}, and no tokenizer.json of its own to re-encode responses with; copy its tokenizer.json into the folder`);
    }
    retokenize = goldTok !== null;
    const goldPositions = maxPositionsOf(gm.config);
    const toGold = (prompt: number[], response: number[]): number[] => {
      if (!goldTok) return [...prompt, ...response];
      const body = prompt[0] === bosId ? prompt.slice(1) : prompt;
      const e = response.indexOf(eosId);
      const resp = e >= 0 ? response.slice(0, e) : response;
      const ids = [...goldTok.encode(render(body)), ...goldTok.encode(render(resp, true), { addSpecialTokens: false })];
      if (e >= 0 && goldTok.eosId !== null) ids.push(goldTok.eosId);
      if (ids.length <= goldPositions) return ids;
      const first = ids[0]!;
      return first === goldTok.bosId ? [first, ...ids.slice(ids.length - goldPositions + 1)] : ids.slice(ids.length - goldPositions);
    };
    goldBatch = async (prompts, responses) => {
      if (prompts.length !== responses.length) throw new Error(`goldBatch: ${prompts.length} prompts for ${responses.length} responses`);
      return gm.score(prompts.map((p, i) => toGold(p, responses[i]!)));
    };
  }

  /** Text of ids (special tokens written out unless `skipSpecial`); ids the tokenizer lacks (a padded
   *  embedding matrix) show as <id N>; trailing padding after the EOS is dropped. */
  function render(tokens: number[], skipSpecial = false): string {
    let end = tokens.length;
    if (padId !== eosId) while (end > 0 && tokens[end - 1] === padId) end--;
    while (end > 1 && tokens[end - 1] === eosId && tokens[end - 2] === eosId) end--;
    let out = '';
    let run: number[] = [];
    const flush = () => { if (run.length) { out += tokenizer.decode(run, { skipSpecialTokens: skipSpecial }); run = []; } };
    for (let i = 0; i < end; i++) {
      const t = tokens[i]!;
      if (Number.isInteger(t) && t >= 0 && t < tokenizer.vocabSize && tokenizer.idToToken(t) !== null) run.push(t);
      else { flush(); out += `<id ${t}>`; }
    }
    flush();
    return out;
  }

  const sample = (idx: number[], n: number, rng: Rng): PreferencePair[] => drawOrder(idx.length, n, rng).map((k) => {
    const e = encodeRow(idx[k]!);
    return { prompt: e.prompt, chosen: e.chosen, rejected: e.rejected };
  });

  const settings: DatasetWorldSettings = {
    datasetId: o.datasetId,
    dataset: { name: ds.name, hash: ds.hash, content: ds.content, rows: rows.length },
    modelDir,
    tokenizer: { file: tokenizer.file, sha256: await sha256Of(tokenizer.file), chatTemplate: useTemplate },
    maxPromptTokens, maxResponseTokens,
    gold: o.gold ? { rewardModelDir: path.resolve(o.gold.rewardModelDir), retokenize } : null,
    seed: o.seed, holdOut,
    counts: { trainPairs: trainIdx.length, heldOutPairs: heldIdx.length, trainPrompts: trainPrompts.length, evalPrompts: evalPrompts.length },
  };

  const world: DatasetWorld = {
    name: 'dataset',
    vocabSize: config.vocabSize,
    bosId, eosId, padId,
    maxResponseTokens,
    trainPrompts, evalPrompts,
    hasGold: goldModel !== null,
    goldModel,
    tokenizer,
    trainPairCount: trainIdx.length,
    heldOutPairCount: heldIdx.length,
    gold() {
      if (goldModel) throw new Error('the dataset world\'s gold reward is a reward model: call goldBatch(prompts, responses)');
      return NaN;
    },
    ...(goldBatch ? { goldBatch } : {}),
    // Prompt + chosen of training rows; n is a count of samples, so rows repeat (in fresh random
    // orders) when n exceeds the training rows.
    sftSamples(n: number, rng: Rng): Sample[] {
      const out: Sample[] = [];
      while (out.length < n) {
        for (const k of drawOrder(trainIdx.length, n - out.length, rng)) {
          const e = encodeRow(trainIdx[k]!);
          out.push({ prompt: e.prompt, response: e.chosen });
        }
      }
      return out;
    },
    // Up to n training pairs without repetition (fewer when the split has fewer): the dataset's own labels.
    preferencePairs: (n: number, rng: Rng) => sample(trainIdx, n, rng),
    heldOutPairs: (n: number, rng: Rng) => sample(heldIdx, n, rng),
    modelConfig: () => ({ ...config }),
    render: (tokens: number[]) => render(tokens),
    settings,
  };
  return world;
}
