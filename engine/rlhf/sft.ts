// Supervised fine-tuning of a starting policy on (prompt, response) samples: the next-token loss on
// response tokens only (the prompt is context, not a target), as TRL's SFT with a completion-only
// collator computes it. Worlds use it to turn a random decoder into π₀-like behaviour before reward
// training and PPO.
//
// Batches are left-padded (prompt + response per row) with an attention mask; the loss mask marks the
// positions whose token is a response token, and CausalLM.lmLossFromHidden weights position t's
// prediction of token t by it. One compiled train step (forward, loss, backward, AdamW) per batch;
// symbolic B and T, so ragged final batches and different lengths reuse the same session.

import { Trainer } from '../runtime/optim.js';
import { Rng } from '../runtime/params.js';
import { i64 } from '../runtime/session.js';
import { type CausalLM } from '../models/model.js';
import { type Sample } from '../worlds/world.js';

export interface SftConfig {
  /** Passes over the samples. Default 3. */
  epochs: number;
  /** Rows per optimizer step. Default 64. */
  batchSize: number;
  /** AdamW learning rate. Default 3e-3: right for the built-in worlds' tiny decoders trained from
   *  scratch; use ~1e-5 for a pretrained Hugging Face model. */
  lr: number;
  /** Default 0 (the worlds' models are small and the data plentiful). */
  weightDecay: number;
  /** Global gradient-norm clip. Default 1. */
  maxGradNorm: number | null;
  /** Seeds the shuffling. Default 0. */
  seed: number;
  /** Padding token id (masked out). Default: the model's EOS id, else 0. */
  padId?: number;
}

/** Defaults for the built-in worlds' small decoders (a pretrained model wants ~1e-5; see experiments/spec.ts). */
export const SFT_DEFAULTS: SftConfig = { epochs: 3, batchSize: 64, lr: 3e-3, weightDecay: 0, maxGradNorm: 1, seed: 0 };

/** Samples of a built-in world's base behaviour π₀ is fine-tuned on, when a study or `ensemble train` does not say. */
export const SFT_DATA_DEFAULTS = Object.freeze({ samples: 2048 });

export interface SftProgress { epoch: number; step: number; steps: number; loss: number }
export interface SftResult { losses: number[]; steps: number; finalLoss: number }

/** Rows of prompt+response, left-padded, with the attention mask and the response-token loss mask. */
export function sftBatch(samples: Sample[], padId: number): { ids: number[]; mask: number[]; lossMask: number[]; B: number; T: number } {
  const T = Math.max(...samples.map((s) => s.prompt.length + s.response.length));
  const ids: number[] = [], mask: number[] = [], lossMask: number[] = [];
  for (const s of samples) {
    const n = s.prompt.length + s.response.length;
    for (let i = n; i < T; i++) { ids.push(padId); mask.push(0); lossMask.push(0); }
    for (const t of s.prompt) { ids.push(t); mask.push(1); lossMask.push(0); }
    for (const t of s.response) { ids.push(t); mask.push(1); lossMask.push(1); }
  }
  return { ids, mask, lossMask, B: samples.length, T };
}

/** Fisher–Yates with the engine's seeded RNG. */
export function shuffled(n: number, rng: Rng): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = rng.int(i + 1); [idx[i], idx[j]] = [idx[j]!, idx[i]!]; }
  return idx;
}

/** Trains `model` in place (its ParamStore is updated) and returns the loss curve. Deterministic for
 *  a seed on a given device. */
export async function sft(model: CausalLM, samples: Sample[], config: Partial<SftConfig> = {}, onProgress?: (p: SftProgress) => void): Promise<SftResult> {
  const c: SftConfig = { ...SFT_DEFAULTS, ...config };
  if (samples.length === 0) throw new Error('sft: no samples');
  const padId = c.padId ?? model.specialTokens.pad ?? 0;
  const names = model.arch.params(model.config).map((s) => s.name);
  const trainer = await Trainer.create({
    name: 'sft', params: model.params, device: model.device, trainable: names,
    optimizer: { lr: c.lr, weightDecay: c.weightDecay, maxGradNorm: c.maxGradNorm },
    build: (g, p) => {
      const ids = g.input('input_ids', 'int64', ['B', 'T']);
      const mask = g.input('attention_mask', 'int64', ['B', 'T']);
      const lossMask = g.input('loss_mask', 'int64', ['B', 'T']);
      return { loss: model.lmLossFromHidden(p, model.trace(g, p, ids, mask).hidden, ids, lossMask) };
    },
  });
  const rng = new Rng(c.seed);
  const perEpoch = Math.ceil(samples.length / c.batchSize);
  const steps = perEpoch * c.epochs;
  const losses: number[] = [];
  for (let e = 0; e < c.epochs; e++) {
    const order = shuffled(samples.length, rng);
    for (let s = 0; s < perEpoch; s++) {
      const rows = order.slice(s * c.batchSize, (s + 1) * c.batchSize).map((i) => samples[i]!);
      const b = sftBatch(rows, padId);
      const r = await trainer.run({
        input_ids: i64(b.ids, [b.B, b.T]), attention_mask: i64(b.mask, [b.B, b.T]), loss_mask: i64(b.lossMask, [b.B, b.T]),
      });
      losses.push(r.loss);
      onProgress?.({ epoch: e, step: losses.length, steps, loss: r.loss });
    }
  }
  await model.params.sync();
  return { losses, steps, finalLoss: losses[losses.length - 1]! };
}
