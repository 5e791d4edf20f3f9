// Text → token ids for a stored ensemble, the way its training pairs were encoded, so that the reward
// server (reward-server.ts) scores OpenRLHF's text with the tokenisation the ensemble learnt on:
//
// - an ensemble trained on an imported dataset (config.modelDir): the Hugging Face tokenizer of that
//   model, with the dataset world's text-row rules (engine/worlds/dataset.ts: the prompt as the tokenizer
//   encodes a text, the response without special tokens and ending in EOS);
// - an ensemble trained on the built-in text-reviews world: the world's words (punctuation ":", ".", ","
//   is a token of its own, as the world renders it), the prompt after BOS, the response ending in EOS;
// - any other (goodhart-lab's token ensembles, ensembles trained inside a study): a `tokenizer` folder
//   must be given (goodhart-lab has no text form).
//
// A prompt whose text starts with the BOS token (OpenRLHF decodes with special tokens) keeps one BOS.
// Sequences longer than the trunk's positions are cut as the dataset world cuts them: the response keeps
// its start (at most positions − 1 tokens), the prompt keeps its end and its BOS in the room left.
import path from 'node:path';
import { type Ensemble } from '../rlhf/ensemble.js';
import { loadEnsemble } from '../rlhf/ensemble-train.js';
import { loadTokenizer } from '../models/tokenizer.js';
import { type ModelConfig, maxPositionsOf } from '../models/config.js';
import { makeWorld, WORLD_NAMES, type TextWorld } from '../worlds/index.js';
import { specialIds, textRowEncoder } from '../worlds/dataset.js';
import { type Store } from '../store/index.js';
import type { DeviceRequest } from '../runtime/devices.js';

/** A text that cannot be encoded (an unknown word of a built-in world): a 400 for the server. */
export class TextEncodeError extends Error {}

export interface TextEncoder {
  /** What encodes the text, for /health and the CLI ("tokenizer /m/tokenizer.json", "text-reviews words"). */
  readonly source: string;
  /** Prompt and response ids, cut to the trunk's positions. */
  encode(prompt: string, response: string): { prompt: number[]; response: number[] };
}

export interface LoadedEnsemble {
  id: number;
  name: string;
  dir: string;
  ensemble: Ensemble;
  encoder: TextEncoder;
}

function fit(prompt: number[], response: number[], positions: number, truncPrompt: (p: number[], max: number) => number[]) {
  const r = response.length > positions - 1 ? response.slice(0, positions - 1) : response;
  return { prompt: truncPrompt(prompt, positions - r.length), response: r };
}

export async function hfTextEncoder(modelDir: string, config: ModelConfig): Promise<TextEncoder> {
  const tokenizer = await loadTokenizer(modelDir);
  const ids = await specialIds(tokenizer, config, modelDir);
  const rows = textRowEncoder(tokenizer, ids);
  const positions = maxPositionsOf(config);
  return {
    source: `tokenizer ${tokenizer.file}`,
    encode: (p, r) => {
      // OpenRLHF's text is decoded with special tokens written out, so a prompt may already start with
      // the BOS the tokenizer adds: keep one.
      const ids = rows.prompt(p);
      return fit(ids[0] === ids[1] && ids[0] === rows.bosId ? ids.slice(1) : ids, rows.response(r), positions, rows.truncPrompt);
    },
  };
}

export function textWorldEncoder(world: TextWorld, config: ModelConfig): TextEncoder {
  const index = new Map(world.words.map((w, i) => [w, i]));
  const words = (text: string, what: string): number[] => (text.match(/[:.,]|[^\s:.,]+/g) ?? []).map((w) => {
    const i = index.get(w);
    if (i === undefined || i === world.bosId || i === world.eosId) throw new TextEncodeError(`the ${what} has the word "${w}", which is not in the text-reviews vocabulary`);
    return i;
  });
  const positions = maxPositionsOf(config);
  const truncPrompt = (p: number[], max: number) => (p.length <= max ? p : [world.bosId, ...p.slice(p.length - (max - 1))]);
  return {
    source: 'text-reviews words',
    encode: (p, r) => fit([world.bosId, ...words(p, 'prompt')], [...words(r, 'response'), world.eosId], positions, truncPrompt),
  };
}

/** Loads a stored ensemble by id and how to encode text for it (`tokenizer`: a model folder or
 *  tokenizer.json that overrides what the ensemble's record says). */
export async function loadStoredEnsemble(store: Store, id: number, o: { device?: DeviceRequest; tokenizer?: string } = {}): Promise<LoadedEnsemble> {
  const rec = store.ensembles.get(id);
  if (!rec) throw new Error(`no ensemble ${id} in the store; \`rrlhf ensemble train\` prints the id of a new one, and the Ensembles screen lists them`);
  const art = rec.artifactId === null ? undefined : store.artifacts.get(rec.artifactId);
  if (!art) throw new Error(`ensemble ${id} ("${rec.name}") has no saved weights (its training did not finish); train it again`);
  const ensemble = await loadEnsemble(art.path, o.device ?? 'cpu');
  const cfg = rec.config;
  let encoder: TextEncoder;
  if (o.tokenizer !== undefined) encoder = await hfTextEncoder(o.tokenizer, ensemble.config);
  else if (typeof cfg.modelDir === 'string') encoder = await hfTextEncoder(cfg.modelDir, ensemble.config);
  else if (cfg.world === 'text-reviews') encoder = textWorldEncoder(makeWorld('text-reviews', {}, Number(cfg.seed ?? 0)) as TextWorld, ensemble.config);
  else {
    const what = typeof cfg.world === 'string' && (WORLD_NAMES as string[]).includes(cfg.world) ? `was trained on the ${cfg.world} world, whose sequences are not text` : 'does not record which tokenizer it was trained with';
    throw new Error(`ensemble ${id} ("${rec.name}") ${what}; serve it with "rrlhf reward serve --tokenizer DIR" (a Hugging Face model folder or tokenizer.json)`);
  }
  return { id, name: rec.name, dir: art.path, ensemble, encoder };
}
