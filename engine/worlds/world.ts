// A world is a self-contained RLHF setting with a known gold reward: prompts, a base policy to start
// from (trained by supervised fine-tuning on the world's own samples), preference data for reward
// models, and the gold reward that tells whether optimisation helped or hacked (docs/method.md § Worlds).
// The built-in worlds are generated deterministically from a seed; nothing is downloaded. The user-data
// world (dataset.ts) is built from an imported preference dataset and a Hugging Face model instead, and
// may have no gold reward at all (hasGold = false) or one that needs a model to compute (goldBatch).

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
  /** The gold reward of a response (the quantity RLHF is really meant to raise). A world without gold
   *  returns NaN; a world whose gold needs a model (goldBatch) may throw. */
  gold(prompt: number[], response: number[]): number;
  /** Optional: the gold rewards of a batch, for worlds whose gold is asynchronous (a held-out reward
   *  model that has to run). When present, the experiment runner uses it instead of `gold`. */
  goldBatch?(prompts: number[][], responses: number[][]): Promise<number[]>;
  /** Optional, default true. False for a world with no gold reward (a user's dataset without a held-out
   *  reward model): studies then record and report proxy metrics and KL only, and say so. */
  readonly hasGold?: boolean;
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
