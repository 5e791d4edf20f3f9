// A world is a self-contained RLHF setting with a known gold reward: prompts, a base policy to start
// from (trained by supervised fine-tuning on the world's own samples), preference data for reward
// models, and the gold reward that tells whether optimisation helped or hacked (SCIENCE.md §6).
// Worlds are generated deterministically from a seed; nothing is downloaded.

import { type ModelConfig } from '../models/config.js';
import { type Rng } from '../runtime/params.js';

/** A preference between two responses to one prompt (token ids; the prompt includes BOS). */
export interface PreferencePair { prompt: number[]; chosen: number[]; rejected: number[] }

/** A prompt and a response in token ids (the prompt includes BOS; the response may end with EOS). */
export interface Sample { prompt: number[]; response: number[] }

export interface World {
  readonly name: string;
  /** Size of the token space the policy and reward models use. */
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  /** Longest response the policy may generate (tokens, EOS included). */
  readonly maxResponseTokens: number;
  /** Prompts for RL training and the disjoint held-out prompts for gold evaluation. */
  readonly trainPrompts: number[][];
  readonly evalPrompts: number[][];
  /** The gold reward of a response (the quantity RLHF is really meant to raise). */
  gold(prompt: number[], response: number[]): number;
  /** Samples of the base behaviour π₀, for supervised fine-tuning of the starting policy. */
  sftSamples(n: number, rng: Rng): Sample[];
  /** Preference pairs between π₀-style responses, labelled from gold with the world's label noise. */
  preferencePairs(n: number, rng: Rng): PreferencePair[];
  /** The decoder used for the policy, reference and reward trunks in this world. */
  modelConfig(): ModelConfig;
  /** Human-readable rendering of a prompt/response (for sample galleries and reports). */
  render(tokens: number[]): string;
  /** World settings, stored with every experiment for reproducibility. */
  readonly settings: Record<string, unknown>;
}
