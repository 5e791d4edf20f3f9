import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gae, maskedWhiten, layout, PpoTrainer } from '../../engine/rlhf/ppo.js';
import { CausalLM } from '../../engine/models/model.js';
import { scoreLogprobs } from '../../engine/models/sampler.js';
import { type ModelConfig } from '../../engine/models/config.js';

test('layout: left-padded prompts, right-padded responses, response mask over response positions', () => {
  const l = layout([[9, 1], [9]], [[3, 4, 5], [6]], 0);
  assert.equal(l.L, 5);
  assert.equal(l.R, 3);
  assert.deepEqual(l.ids, [9, 1, 3, 4, 5, /* */ 0, 9, 6, 0, 0]);
  assert.deepEqual(l.mask, [1, 1, 1, 1, 1, /* */ 0, 1, 1, 0, 0]);
  // [B, R]: row 0 has three response tokens, row 1 one (then padding)
  assert.deepEqual(l.respMask, [1, 1, 1, /* */ 1, 0, 0]);
  assert.deepEqual(l.last, [2, 3 + 0]);
});

test('GAE (γ, λ) and masked whitening against hand-computed values', () => {
  // One row, three response positions (1..3), values v, rewards r.
  const r = new Float64Array([0, 0.5, -1, 2]), v = new Float64Array([9, 1, 2, 3]), m = [0, 1, 1, 1];
  const { adv, ret } = gae(r, v, m, 1, 4, 1, 0.95);
  const d3 = 2 - 3, d2 = -1 + 3 - 2, d1 = 0.5 + 2 - 1;
  const a3 = d3, a2 = d2 + 0.95 * a3, a1 = d1 + 0.95 * a2;
  assert.ok(Math.abs(adv[3]! - a3) < 1e-12 && Math.abs(adv[2]! - a2) < 1e-12 && Math.abs(adv[1]! - a1) < 1e-12);
  assert.equal(adv[0], 0);
  assert.ok(Math.abs(ret[1]! - (a1 + 1)) < 1e-12);
  // γ < 1 discounts the next value
  const g2 = gae(r, v, m, 1, 4, 0.5, 1);
  assert.ok(Math.abs(g2.adv[3]! - (2 - 3)) < 1e-12 && Math.abs(g2.adv[2]! - (-1 + 0.5 * 3 - 2 + 0.5 * (2 - 3))) < 1e-12);
  const w = maskedWhiten(new Float64Array([100, 1, 2, 3]), m);
  assert.equal(w[0], 0);
  assert.ok(Math.abs(w[1]! + w[2]! + w[3]!) < 1e-9 && Math.abs(w[3]! - 1 / Math.sqrt(2 / 3 + 1e-8)) < 1e-6);
});

/** Masked mean over the response positions ([B, R] mask: the last R logit positions) of the entropy of
 *  softmax(logits/τ), in float64 from the model's own logits: what policy/entropy_avg must be before any
 *  update (rows without padding). */
async function entropyFromLogits(policy: CausalLM, rows: number[][], respMask: number[], R: number, temperature = 1): Promise<number> {
  const { logits } = await policy.evaluate(rows);
  const [B, L, V] = logits.shape as number[];
  const z = logits.data as Float32Array;
  let sum = 0, n = 0;
  for (let b = 0; b < B!; b++) for (let t = L! - 1 - R; t < L! - 1; t++) {
    if (!respMask[b * R + t - (L! - 1 - R)]) continue;
    const row = Array.from(z.subarray((b * L! + t) * V!, (b * L! + t + 1) * V!), (x) => x / temperature);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
    sum -= row.reduce((a, x) => a + Math.exp(x - lse) * (x - lse), 0);
    n++;
  }
  return sum / n;
}

const cfg: ModelConfig = { arch: 'gpt2', vocabSize: 12, nPositions: 16, d: 32, nLayer: 1, nHead: 2, eps: 1e-5, activation: 'gelu_new', bosTokenId: 10, eosTokenId: 11 };

test('the PPO loss graph computes the clipped surrogate of TRL on the policy\'s own log-probs', async () => {
  const policy = CausalLM.init(cfg, 1), ref = await policy.clone();
  const ppo = await PpoTrainer.create(policy, ref, { batchSize: 2, miniBatches: 1, epochs: 1, lr: 0, padId: 0, eosId: 11, seed: 1 });
  const prompts = [[10, 3], [10, 4]], responses = [[5, 6, 7], [8, 9, 2]];
  const lay = layout(prompts, responses, 0);
  const T = lay.R;
  // scoreLogprobs gives every position's; the trainer's are the response positions (the last R).
  const logp = (await scoreLogprobs(policy, prompts.map((p, b) => [...p, ...responses[b]!]))).flatMap((row) => row.slice(-T));
  // Pretend the rollout policy had these log-probs, so ratios straddle the clip range.
  const shift = [0.5, -0.5, 0.05, 0.3, -0.3, 0.01];
  const old = logp.map((x, i) => x + shift[i]!);
  const adv = [1, -2, 0.5, -1, 2, 1];
  let num = 0, den = 0;
  for (let i = 0; i < 2 * T; i++) {
    if (!lay.respMask[i]) continue;
    const ratio = Math.exp(logp[i]! - old[i]!);
    num += Math.max(-adv[i]! * ratio, -adv[i]! * Math.min(Math.max(ratio, 0.8), 1.2));
    den++;
  }
  const { f32, i64 } = await import('../../engine/runtime/session.js');
  const r = await (ppo as unknown as { trainer: { run: (f: object) => Promise<{ metrics: Record<string, number> }> } }).trainer.run({
    input_ids: i64(lay.ids, [2, lay.L]), attention_mask: i64(lay.mask, [2, lay.L]), response_mask: f32(lay.respMask, [2, T]),
    old_logprobs: f32(old, [2, T]), old_values: f32(new Array(2 * T).fill(0), [2, T]), advantages: f32(adv, [2, T]), returns: f32(new Array(2 * T).fill(0), [2, T]),
  });
  assert.ok(Math.abs(r.metrics['loss/policy_avg']! - num / den) < 1e-5, `policy loss ${r.metrics['loss/policy_avg']} vs ${num / den}`);
  assert.ok(r.metrics['policy/clipfrac_avg']! > 0 && r.metrics['policy/clipfrac_avg']! < 1);
  const entropy = await entropyFromLogits(policy, prompts.map((p, b) => [...p, ...responses[b]!]), lay.respMask, T);
  assert.ok(Math.abs(r.metrics['policy/entropy_avg']! - entropy) < 1e-5 * entropy, `entropy ${r.metrics['policy/entropy_avg']} vs ${entropy} from the logits`);
});

test('PPO learns a simple reward (emit token 7) while the KL to the reference grows', async () => {
  const policy = CausalLM.init(cfg, 2), ref = await policy.clone();
  const ppo = await PpoTrainer.create(policy, ref, { batchSize: 32, miniBatches: 2, epochs: 4, lr: 3e-3, maxNewTokens: 6, klCoef: 0.01, padId: 0, eosId: null, seed: 3 });
  const prompts = Array.from({ length: 32 }, (_, i) => [10, 1 + (i % 4)]);
  const reward = async (_p: number[][], rs: number[][]) => ({ scores: rs.map((r) => r.filter((t) => t === 7).length / r.length) });
  const first = await ppo.step(prompts, reward);
  let last = first;
  for (let i = 0; i < 14; i++) last = await ppo.step(prompts, reward);
  assert.ok(last.metrics['objective/scores']! > first.metrics['objective/scores']! + 0.3, `score ${first.metrics['objective/scores']} → ${last.metrics['objective/scores']}`);
  assert.ok(last.metrics['objective/kl']! > first.metrics['objective/kl']!);
  for (const k of ['objective/kl', 'objective/rlhf_reward', 'policy/clipfrac_avg', 'policy/approxkl_avg', 'loss/value_avg', 'val/ratio', 'policy/entropy_avg']) {
    assert.ok(Number.isFinite(last.metrics[k]), `${k} = ${last.metrics[k]}`);
  }
});

test('with a sampling temperature, the PPO ratio is taken against the distribution the rollouts were drawn from', async () => {
  // Rollouts come from softmax(logits/τ) and the sampler reports those log-probs. Before any update the
  // policy is the behaviour policy, so the ratio must be 1 and approx-KL 0 under the same τ; a ratio
  // against the untempered softmax(logits) is wrong by construction (biased gradient, wrong KL penalty).
  const { generate } = await import('../../engine/models/sampler.js');
  const { f32, i64 } = await import('../../engine/runtime/session.js');
  const temperature = 0.5;
  const policy = CausalLM.init(cfg, 4), ref = await policy.clone();
  const ppo = await PpoTrainer.create(policy, ref, { batchSize: 4, miniBatches: 1, epochs: 1, lr: 0, temperature, maxNewTokens: 5, padId: 0, eosId: null, seed: 1 });
  const prompts = [[10, 1], [10, 2], [10, 3], [10, 4]];
  const gen = await generate(policy, prompts, { maxNewTokens: 5, temperature, eosId: null, padId: 0, seed: 7 });
  const lay = layout(prompts, gen.tokens, 0);
  const T = lay.R, B = prompts.length;
  const old = new Array<number>(B * T).fill(0);
  for (let b = 0; b < B; b++) gen.logprobs[b]!.forEach((lp, j) => { old[b * T + j] = lp; });
  const r = await (ppo as unknown as { trainer: { run: (f: object) => Promise<{ metrics: Record<string, number> }> } }).trainer.run({
    input_ids: i64(lay.ids, [B, lay.L]), attention_mask: i64(lay.mask, [B, lay.L]), response_mask: f32(lay.respMask, [B, T]),
    old_logprobs: f32(old, [B, T]), old_values: f32(new Array(B * T).fill(0), [B, T]), advantages: f32(new Array(B * T).fill(1), [B, T]), returns: f32(new Array(B * T).fill(0), [B, T]),
  });
  assert.ok(Math.abs(r.metrics['val/ratio']! - 1) < 1e-4, `ratio against the behaviour policy ${r.metrics['val/ratio']}`);
  assert.ok(r.metrics['policy/approxkl_avg']! < 1e-8, `approx KL ${r.metrics['policy/approxkl_avg']}`);
  // The entropy is the tempered distribution's too (below softmax(logits)'s at τ = 0.5).
  const rows = prompts.map((p, b) => [...p, ...gen.tokens[b]!]);
  assert.ok(rows.every((x) => x.length === lay.L), 'no padding: the logits below are the trainer\'s positions');
  const entropy = await entropyFromLogits(policy, rows, lay.respMask, T, temperature);
  assert.ok(Math.abs(r.metrics['policy/entropy_avg']! - entropy) < 1e-5 * entropy, `entropy ${r.metrics['policy/entropy_avg']} vs ${entropy} at τ ${temperature}`);
  assert.ok(entropy < await entropyFromLogits(policy, rows, lay.respMask, T, 1));
});

test('the adaptive KL controller: the logged β and rlhf_reward are those of the rewards this batch was trained on', async () => {
  const policy = CausalLM.init(cfg, 5), ref = CausalLM.init(cfg, 6); // ref ≠ policy, so the KL is non-zero
  const beta0 = 0.1;
  const ppo = await PpoTrainer.create(policy, ref, { batchSize: 8, miniBatches: 1, epochs: 1, lr: 0, maxNewTokens: 4, klCoef: beta0, adaptiveKl: { target: 1e-3, horizon: 8 }, padId: 0, eosId: null, seed: 2 });
  const prompts = Array.from({ length: 8 }, (_, i) => [10, 1 + (i % 4)]);
  const r = await ppo.step(prompts, async (_p, rs) => ({ scores: rs.map((x) => x.length) }));
  const m = r.metrics;
  assert.ok(Math.abs(m['objective/kl']!) > 1e-3, `KL ${m['objective/kl']}`);
  assert.notEqual(ppo.klCoef, beta0, 'the controller moved β for the next iteration');
  assert.equal(m['objective/kl_coef'], beta0);
  assert.ok(Math.abs(m['objective/rlhf_reward']! - (m['objective/scores']! - beta0 * m['objective/kl']!)) < 1e-9);
});
