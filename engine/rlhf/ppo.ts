// PPO for RLHF (docs/method.md § PPO), written the way TRL's PPOTrainer computes it, with the reward left to
// the caller: the experiment decides how an ensemble's heads become one score (engine/rlhf/aggregate),
// so standard and robust RLHF run this exact same code.
//
// One iteration:
//   1. rollout   — sample responses with the KV-cache sampler;
//   2. score     — one pass of the policy (log-probs, values) and one of the frozen reference
//                  (log-probs) over the whole batch; the caller scores the responses;
//   3. rewards   — per token −β·(log π − log π_ref), plus the clipped sequence score at the last token;
//   4. GAE       — γ = 1, λ = 0.95 over response tokens; returns = advantages + values; whitening;
//   5. updates   — K epochs × M minibatches of one compiled step: clipped policy loss + clipped value
//                  loss (value head on the policy trunk), AdamW, global-norm clipping.
// Per-token arrays are laid out over response positions j = 0..R−1 (the logit at sequence position
// P−1+j predicts response token j); the response mask marks the real tokens of right-padded responses.
// Only those positions go through the LM head: prompt positions never enter a PPO loss, so their
// [B, P, V] logits would be work and memory for nothing (TRL, OpenRLHF and verl compute the logits of
// every position and slice them afterwards).

import { Graph, type Tensor, F } from '../graph/index.js';
import { Trainer } from '../runtime/optim.js';
import { Rng } from '../runtime/params.js';
import { compile, type CompiledGraph, f32, i64 } from '../runtime/session.js';
import { type CausalLM } from '../models/model.js';
import { valueHead, valueHeadParams } from '../models/heads.js';
import { generate } from '../models/sampler.js';
import { METRIC } from '../../common/metrics.js';

export interface PpoConfig {
  /** Rollouts per iteration. */
  batchSize: number;
  miniBatches: number;
  epochs: number;
  lr: number;
  maxNewTokens: number;
  temperature: number;
  /** KL penalty β on log π − log π_ref per token. */
  klCoef: number;
  /** Adaptive KL controller (Ziegler et al.): target KL per sequence and horizon; null = fixed β. */
  adaptiveKl: { target: number; horizon: number } | null;
  clipRange: number;
  clipRangeValue: number;
  vfCoef: number;
  gamma: number;
  lam: number;
  /** Sequence scores are clipped to ±rewardClip before entering the per-token rewards. */
  rewardClip: number;
  whitenAdvantages: boolean;
  maxGradNorm: number;
  weightDecay: number;
  seed: number;
  /** Recompute each policy layer in the update's backward pass instead of keeping its activations. */
  gradientCheckpointing: boolean;
}

/** Defaults for the built-in worlds' small decoders, which studies use too (experiments/spec.ts derives
 *  its PPO defaults from these; a pretrained model gets a smaller lr there). */
export const PPO_DEFAULTS: PpoConfig = {
  batchSize: 64, miniBatches: 2, epochs: 4, lr: 1e-3, maxNewTokens: 16, temperature: 1,
  klCoef: 0.02, adaptiveKl: null, clipRange: 0.2, clipRangeValue: 0.2, vfCoef: 0.5, gamma: 1, lam: 0.95,
  rewardClip: 10, whitenAdvantages: true, maxGradNorm: 1, weightDecay: 0, seed: 0, gradientCheckpointing: false,
};

/** The caller's scores for a batch of responses (one number per rollout, higher is better). */
export type RewardFn = (prompts: number[][], responses: number[][]) => Promise<{ scores: number[]; metrics?: Record<string, number> }>;

export interface Rollout {
  prompts: number[][];
  responses: number[][];
  scores: number[];
  /** Sum over response tokens of log π − log π_ref (the sampled-token KL estimate) per rollout. */
  kl: number[];
}

export interface IterationResult { metrics: Record<string, number>; rollout: Rollout }

/** A batch laid out for the graphs: prompts left-padded to P, responses right-padded to R. */
interface Layout {
  B: number; L: number; R: number;
  ids: number[]; mask: number[];
  /** [B, R]: 1 where response position j holds a real (not padding) token. */
  respMask: number[];
  /** Index in [B, R] of each rollout's last response token (where the score is added). */
  last: number[];
}

export function layout(prompts: number[][], responses: number[][], padId: number): Layout {
  const B = prompts.length;
  const P = Math.max(...prompts.map((p) => p.length));
  const R = Math.max(1, ...responses.map((r) => r.length));
  const L = P + R;
  const ids: number[] = [], mask: number[] = [], respMask: number[] = new Array(B * R).fill(0), last: number[] = [];
  for (let b = 0; b < B; b++) {
    const p = prompts[b]!, r = responses[b]!;
    for (let i = 0; i < P - p.length; i++) { ids.push(padId); mask.push(0); }
    for (const t of p) { ids.push(t); mask.push(1); }
    for (const t of r) { ids.push(t); mask.push(1); }
    for (let i = r.length; i < R; i++) { ids.push(padId); mask.push(0); }
    for (let j = 0; j < r.length; j++) respMask[b * R + j] = 1;
    last.push(b * R + Math.max(r.length, 1) - 1);
  }
  return { B, L, R, ids, mask, respMask, last };
}

/** Generalised advantage estimation over each row's response positions (γ, λ), right to left. */
export function gae(rewards: Float64Array, values: Float32Array | Float64Array, respMask: number[], B: number, T: number, gamma: number, lam: number) {
  const adv = new Float64Array(B * T), ret = new Float64Array(B * T);
  for (let b = 0; b < B; b++) {
    let next = 0, nextValue = 0;
    for (let t = T - 1; t >= 0; t--) {
      const i = b * T + t;
      if (!respMask[i]) continue;
      const delta = rewards[i]! + gamma * nextValue - values[i]!;
      next = delta + gamma * lam * next;
      adv[i] = next;
      ret[i] = next + values[i]!;
      nextValue = values[i]!;
    }
  }
  return { adv, ret };
}

/** Whitens x over the positions where mask = 1 (population variance, like TRL's masked_whiten). */
export function maskedWhiten(x: Float64Array, mask: number[]): Float64Array {
  let n = 0, s = 0;
  for (let i = 0; i < x.length; i++) if (mask[i]) { n++; s += x[i]!; }
  const mean = s / Math.max(n, 1);
  let v = 0;
  for (let i = 0; i < x.length; i++) if (mask[i]) v += (x[i]! - mean) ** 2;
  const sd = Math.sqrt(v / Math.max(n, 1) + 1e-8);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = mask[i] ? (x[i]! - mean) / sd : 0;
  return out;
}

const maskedMean = (x: Tensor, m: Tensor) => F.div(F.sum(F.mul(x, m)), F.maximum(F.sum(m), 1));

/** The hidden states [B, R, d] that predict the R response tokens (sequence positions P−1 .. L−2),
 *  R read at run time from `perToken` [B, R]. */
const responseHidden = (hidden: Tensor, perToken: Tensor) => F.tailLike(hidden, 1, perToken, 1, 1);

/** Log-probs of the response tokens, [B, R], from the response positions' hidden states, under the
 *  sampling distribution softmax(logits/τ): the rollouts are drawn from it (models/sampler.ts), so the
 *  policy ratio, the per-token KL penalty and the entropy are taken under it too (as TRL divides the
 *  logits by its temperature in the rollout, reference and training passes). τ = 1 leaves the graph as it was.
 *  `logSoftmax` is the whole [B, R, V] log-softmax the picked log-probs came from (the entropy reads it). */
function responseLogprobs(model: CausalLM, p: Record<string, Tensor>, hResp: Tensor, ids: Tensor, perToken: Tensor, temperature = 1): { logp: Tensor; logSoftmax: Tensor } {
  let logits = model.arch.lmHead(p, model.config, hResp);
  if (temperature > 0 && temperature !== 1) logits = F.mul(logits, 1 / temperature);
  const { nll, logp } = F.softmaxCrossEntropyWithLogp(logits, F.tailLike(ids, 1, perToken, 1));
  return { logp: F.neg(nll), logSoftmax: logp };
}

export class PpoTrainer {
  klCoef: number;
  iteration = 0;
  readonly rng: Rng;
  private trainer!: Trainer;
  private policyScore!: Promise<CompiledGraph>;
  private refScore!: Promise<CompiledGraph>;

  private constructor(readonly policy: CausalLM, readonly ref: CausalLM, readonly cfg: PpoConfig, readonly padId: number, readonly eosId: number | null) {
    this.klCoef = cfg.klCoef;
    this.rng = new Rng(cfg.seed);
  }

  /** `policy` is trained in place (its store gains the value head 'v_head.summary.*'); `ref` stays frozen.
   *  A LoRA policy trains only its adapters and the value head; its reference is normally
   *  `policy.withoutAdapters()`, the same weights read without the adapters (docs/engine.md § LoRA). */
  static async create(policy: CausalLM, ref: CausalLM, cfg: Partial<PpoConfig> & { padId: number; eosId: number | null }): Promise<PpoTrainer> {
    const full: PpoConfig = { ...PPO_DEFAULTS, ...cfg };
    const t = new PpoTrainer(policy, ref, full, cfg.padId, cfg.eosId);
    const d = policy.config.d;
    const vrng = new Rng(full.seed ^ 0x5eed);
    for (const s of valueHeadParams(d)) if (!policy.params.has(s.name)) policy.params.add(s.name, s.shape, s.init, vrng);
    t.trainer = await Trainer.create({
      name: 'ppo', params: policy.params, device: policy.device, trainable: policy.trainableNames(),
      optimizer: { lr: full.lr, weightDecay: full.weightDecay, maxGradNorm: full.maxGradNorm },
      build: (g, p) => t.lossGraph(g, p), recompute: full.gradientCheckpointing, precision: policy.precision,
    });
    t.policyScore = t.scoreGraph(policy, true);
    t.refScore = t.scoreGraph(ref, false);
    return t;
  }

  /** Log-probs (and values, for the policy) of a batch in one forward pass, no gradients. */
  private scoreGraph(m: CausalLM, withValues: boolean): Promise<CompiledGraph> {
    return buildScoreGraph(m, withValues, this.cfg.temperature);
  }

  private lossGraph(g: Graph, p: Record<string, Tensor>) {
    const c = this.cfg;
    const ids = g.input('input_ids', 'int64', ['B', 'L']);
    const mask = g.input('attention_mask', 'int64', ['B', 'L']);
    const per = (name: string) => g.input(name, 'float32', ['B', 'R']);
    const rmask = per('response_mask'), oldLogp = per('old_logprobs'), oldV = per('old_values'), adv = per('advantages'), ret = per('returns');
    const { hidden } = this.policy.trace(g, p, ids, mask, { train: true });
    const hResp = responseHidden(hidden, rmask);
    const { logp, logSoftmax } = responseLogprobs(this.policy, p, hResp, ids, rmask, c.temperature);
    const v = valueHead(p, hResp);
    // Clipped surrogate (maximise A·ratio ⇒ minimise the larger of the two negatives).
    const ratio = F.exp(F.sub(logp, oldLogp));
    const pg1 = F.mul(F.neg(adv), ratio);
    const pg2 = F.mul(F.neg(adv), F.clamp(ratio, 1 - c.clipRange, 1 + c.clipRange));
    const pgLoss = maskedMean(F.maximum(pg1, pg2), rmask);
    // Clipped value loss.
    const vClipped = F.add(oldV, F.clamp(F.sub(v, oldV), -c.clipRangeValue, c.clipRangeValue));
    const vf1 = F.mul(F.sub(v, ret), F.sub(v, ret)), vf2 = F.mul(F.sub(vClipped, ret), F.sub(vClipped, ret));
    const vfLoss = F.mul(maskedMean(F.maximum(vf1, vf2), rmask), 0.5);
    const loss = F.add(pgLoss, F.mul(vfLoss, c.vfCoef));
    // Diagnostics (no gradient): TRL's names.
    const sg = F.stopGradient;
    // −Σ p·log p from the cross-entropy's own log-softmax: no second [B, T, V] log-softmax pass, and the
    // backward pass is the loss's alone (stop_gradient; the metric is off the loss's path anyway).
    const lsm = sg(logSoftmax);
    const entropy = F.neg(F.sum(F.mul(F.exp(lsm), lsm), -1));
    const d = sg(F.sub(logp, oldLogp));
    return {
      loss,
      metrics: {
        [METRIC.lossPolicy]: sg(pgLoss), [METRIC.lossValue]: sg(vfLoss),
        [METRIC.policyApproxKl]: F.mul(maskedMean(F.mul(d, d), rmask), 0.5),
        [METRIC.policyClipfrac]: maskedMean(F.cast(F.greater(sg(pg2), sg(pg1)), 'float32'), rmask),
        [METRIC.policyEntropy]: maskedMean(entropy, rmask),
        [METRIC.valClipfrac]: maskedMean(F.cast(F.greater(sg(vf2), sg(vf1)), 'float32'), rmask),
        [METRIC.valRatio]: maskedMean(sg(ratio), rmask),
      },
    };
  }

  /** One PPO iteration on a batch of prompts; `reward` scores the sampled responses. */
  async step(prompts: number[][], reward: RewardFn): Promise<IterationResult> {
    const c = this.cfg;
    const t0 = Date.now();
    // 1. rollout
    const gen = await generate(this.policy, prompts, { maxNewTokens: c.maxNewTokens, temperature: c.temperature, eosId: this.eosId, padId: this.padId, seed: this.rng.nextU32() });
    const responses = gen.tokens.map((r) => (r.length ? r : [this.padId]));
    const tGen = Date.now();
    // 2. score: policy log-probs + values, reference log-probs, caller's scores
    const lay = layout(prompts, responses, this.padId);
    const { B, L, R } = lay;
    const feeds = { input_ids: i64(lay.ids, [B, L]), attention_mask: i64(lay.mask, [B, L]), response_mask: f32(lay.respMask, [B, R]) };
    await this.ref.params.upload(this.ref.modelParamNames(), this.ref.device);
    const [pol, ref, scored] = await Promise.all([
      (await this.policyScore).run({ ...this.policy.paramFeeds(), ...valueFeeds(this.policy), ...feeds }),
      (await this.refScore).run({ ...this.ref.paramFeeds(), ...feeds }),
      reward(prompts, responses),
    ]);
    const oldLogp = pol.logprobs!.data as Float32Array, values = pol.values!.data as Float32Array, refLogp = ref.logprobs!.data as Float32Array;
    const tScore = Date.now();
    // 3. per-token rewards
    const scores = scored.scores.map((s) => Math.max(-c.rewardClip, Math.min(c.rewardClip, s)));
    const rewards = new Float64Array(B * R);
    const kl = new Array<number>(B).fill(0), klK3 = new Array<number>(B).fill(0);
    for (let i = 0; i < B * R; i++) {
      if (!lay.respMask[i]) continue;
      const lr = oldLogp[i]! - refLogp[i]!;
      rewards[i] = -this.klCoef * lr;
      const b = Math.floor(i / R);
      kl[b]! += lr;
      klK3[b]! += Math.exp(-lr) - 1 + lr;
    }
    lay.last.forEach((i, b) => { rewards[i]! += scores[b]!; });
    // 4. advantages
    const { adv, ret } = gae(rewards, values, lay.respMask, B, R, c.gamma, c.lam);
    const advW = c.whitenAdvantages ? maskedWhiten(adv, lay.respMask) : adv;
    // 5. K epochs × M minibatches
    const sums: Record<string, number> = {};
    let updates = 0;
    const mb = Math.max(1, Math.floor(B / c.miniBatches));
    for (let e = 0; e < c.epochs; e++) {
      const order = shuffled(B, this.rng);
      for (let s = 0; s + mb <= B; s += mb) {
        const rows = order.slice(s, s + mb);
        const pick = (src: ArrayLike<number>, w: number) => { const out = new Float32Array(rows.length * w); rows.forEach((r, k) => { for (let j = 0; j < w; j++) out[k * w + j] = src[r * w + j]!; }); return out; };
        const pickI = (src: number[], w: number) => Array.from(pick(src, w));
        const r = await this.trainer.run({
          input_ids: i64(pickI(lay.ids, L), [rows.length, L]), attention_mask: i64(pickI(lay.mask, L), [rows.length, L]),
          response_mask: f32(pick(lay.respMask, R), [rows.length, R]), old_logprobs: f32(pick(oldLogp, R), [rows.length, R]),
          old_values: f32(pick(values, R), [rows.length, R]), advantages: f32(pick(advW, R), [rows.length, R]), returns: f32(pick(ret, R), [rows.length, R]),
          // LoRA dropout's keep-masks (none at dropout 0), from this.rng, so a resumed run draws the same.
          ...this.policy.lora?.dropoutMasks(rows.length, L, this.rng),
        });
        for (const [k, v] of Object.entries(r.metrics)) sums[k] = (sums[k] ?? 0) + v;
        if (this.trainer.scaler) {
          sums[METRIC.trainSkippedFrac] = (sums[METRIC.trainSkippedFrac] ?? 0) + (r.skipped ? 1 : 0);
          if (this.trainer.scaler.dynamic) sums[METRIC.trainLossScale] = (sums[METRIC.trainLossScale] ?? 0) + r.scale!;
        }
        sums[METRIC.trainGradNorm] = (sums[METRIC.trainGradNorm] ?? 0) + r.gradNorm;
        updates++;
      }
    }
    const tTrain = Date.now();
    // KL controller (Ziegler et al.): nudge β toward the target KL for the next iteration. The metrics
    // report the β this batch's rewards were built with (as TRL logs before it updates the controller).
    const meanKl = avg(kl);
    const klCoefUsed = this.klCoef;
    if (c.adaptiveKl) {
      const err = Math.max(-0.2, Math.min(0.2, meanKl / c.adaptiveKl.target - 1));
      this.klCoef *= 1 + (err * B) / c.adaptiveKl.horizon;
    }
    this.iteration++;
    const lengths = responses.map((r, b) => gen.tokens[b]!.length ? r.length : 0);
    const metrics: Record<string, number> = {
      [METRIC.objectiveKl]: meanKl,
      [METRIC.objectiveKlK3]: avg(klK3),
      [METRIC.objectiveScores]: avg(scores),
      [METRIC.objectiveRlhfReward]: avg(scores) - klCoefUsed * meanKl,
      [METRIC.objectiveKlCoef]: klCoefUsed,
      [METRIC.responseLength]: avg(lengths),
      [METRIC.responseEosRate]: avg(gen.finished.map((f) => (f ? 1 : 0))),
      ...Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(updates, 1)])),
      ...(scored.metrics ?? {}),
      [METRIC.timeRollout]: (tGen - t0) / 1000, [METRIC.timeScore]: (tScore - tGen) / 1000, [METRIC.timeTrain]: (tTrain - tScore) / 1000,
    };
    return { metrics, rollout: { prompts, responses: gen.tokens, scores, kl } };
  }

  /** Everything besides the weights that an exact resume needs. */
  async state() {
    const { m, v } = await this.trainer.moments();
    return { iteration: this.iteration, klCoef: this.klCoef, rng: this.rng.getState(), optimizerStep: this.trainer.step, m, v, ...(this.trainer.scaler ? { scaler: this.trainer.scaler.state() } : {}) };
  }

  restore(s: Awaited<ReturnType<PpoTrainer['state']>>): void {
    this.iteration = s.iteration;
    this.klCoef = s.klCoef;
    this.rng.setState(s.rng);
    this.trainer.restore({ m: s.m, v: s.v, step: s.optimizerStep, scaler: s.scaler });
  }
}

function valueFeeds(m: CausalLM): Record<string, ReturnType<CausalLM['params']['feed']>> {
  const f: Record<string, ReturnType<CausalLM['params']['feed']>> = {};
  for (const s of valueHeadParams(m.config.d)) f[s.name] = m.params.feed(s.name);
  return f;
}

function buildScoreGraph(m: CausalLM, withValues: boolean, temperature: number): Promise<CompiledGraph> {
  const g = new Graph(`${m.config.arch}_ppo_score${withValues ? '_values' : ''}`);
  const p = m.paramInputs(g);
  const ids = g.input('input_ids', 'int64', ['B', 'L']);
  const mask = g.input('attention_mask', 'int64', ['B', 'L']);
  // Only its shape is read: it says how many response positions to score.
  const rmask = g.input('response_mask', 'float32', ['B', 'R']);
  const { hidden } = m.trace(g, p, ids, mask);
  const hResp = responseHidden(hidden, rmask);
  g.output('logprobs', responseLogprobs(m, p, hResp, ids, rmask, temperature).logp);
  if (withValues) {
    const vp: Record<string, Tensor> = {};
    for (const s of valueHeadParams(m.config.d)) vp[s.name] = g.param(s.name, s.shape);
    g.output('values', valueHead(vp, hResp));
  }
  return compile(g, { device: m.device });
}

function shuffled(n: number, rng: Rng): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = rng.int(i + 1); [a[i], a[j]] = [a[j]!, a[i]!]; }
  return a;
}

const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
