// Child process for test/integration/memory-plan.test.ts: builds a PPO study's models as the runner
// does (policy, a LoRA policy or a cloned reference, the value head, a BRME or independent reward
// ensemble), runs PPO iterations scored by the ensemble, and prints its peak resident memory
// (process.resourceUsage().maxRSS, kilobytes → bytes) as JSON on stdout. Run once per measurement, so
// each peak belongs to one configuration. Argument: a JSON object { config, shape, iterations }, or
// { config, ensemble: EnsembleShape } to train a reward ensemble (one epoch) on random pairs instead.
import { parseHfConfig } from '../../engine/models/config.js';
import { CausalLM } from '../../engine/models/model.js';
import { withLora } from '../../engine/models/lora.js';
import { PpoTrainer } from '../../engine/rlhf/ppo.js';
import { ParamStore, Rng } from '../../engine/runtime/params.js';
import { architectureOf } from '../../engine/models/model.js';
import { rewardHeadParams, brmeHeadParams } from '../../engine/models/heads.js';
import { trunkNames, RewardModel } from '../../engine/rlhf/reward.js';
import type { Ensemble } from '../../engine/rlhf/ensemble.js';
import { BrmeEnsemble } from '../../engine/rlhf/brme.js';
import { IndependentEnsemble } from '../../engine/rlhf/independent.js';
import { trainEnsemble } from '../../engine/rlhf/ensemble-train.js';
import type { PpoShape, EnsembleShape } from '../../engine/models/memory.js';

const { config: hf, shape, iterations, ensemble: ensembleShape } = JSON.parse(process.argv[2]!) as { config: Record<string, unknown>; shape: PpoShape; iterations: number; ensemble?: EnsembleShape };
const config = parseHfConfig(hf);
const rng = new Rng(3);
const tokens = (n: number) => Array.from({ length: n }, () => 1 + rng.int(config.vocabSize - 1));

if (ensembleShape) {
  if (ensembleShape.method === 'lora') throw new Error('memory probe: LoRA ensembles are planned but not yet trained by this engine (issue #12); probe brme or independent');
  // Each pair: a prompt and two responses, together ensembleShape.tokens long; two batches of pairs.
  const half = Math.floor(ensembleShape.tokens / 2);
  const pairs = (n: number) => Array.from({ length: n }, () => ({ prompt: tokens(half), chosen: tokens(ensembleShape.tokens - half), rejected: tokens(ensembleShape.tokens - half) }));
  const base = CausalLM.init(config, 0);
  await trainEnsemble(base, pairs(2 * ensembleShape.batchPairs), pairs(8), {
    method: ensembleShape.method, heads: ensembleShape.heads, reward: { epochs: 1, batchSize: ensembleShape.batchPairs, padId: 0 }, brme: { epochs: 1 },
  });
  process.stdout.write(JSON.stringify({ maxRssBytes: process.resourceUsage().maxRSS * 1024, params: base.params.numel() }) + '\n');
  process.exit(0);
}

/** A reward trunk with random weights (what the ensemble's memory is does not depend on training it). */
function trunkStore(extra: { name: string; shape: number[]; init: Parameters<ParamStore['add']>[2] }[]): ParamStore {
  const s = new ParamStore();
  const names = new Set(trunkNames(config));
  for (const p of architectureOf(config).params(config)) if (names.has(p.name)) s.add(p.name, p.shape, p.init, rng);
  for (const p of extra) s.add(p.name, p.shape, p.init, rng);
  return s;
}

const base = CausalLM.init(config, 0);
const policy = shape.lora ? await withLora(base, { r: shape.lora.r, alpha: 16, dropout: shape.lora.dropout ?? 0, targetModules: shape.lora.targetModules, bias: 'none' }) : await base.clone();
const ref = shape.lora ? policy.withoutAdapters() : base;
const K = shape.ensemble!.heads;
const ensemble: Ensemble = shape.ensemble!.method === 'brme'
  ? new BrmeEnsemble(config, trunkStore([...rewardHeadParams(config.d), ...brmeHeadParams(config.d, { heads: K, width: config.d, tau: 10, activation: 'none' })]), { heads: K, width: config.d, tau: 10, activation: 'none' }, 0)
  : new IndependentEnsemble(Array.from({ length: K }, () => new RewardModel(config, trunkStore(rewardHeadParams(config.d)), 0)));
const ppo = await PpoTrainer.create(policy, ref, {
  batchSize: shape.batch, miniBatches: shape.miniBatches, epochs: 1, lr: 1e-5, maxNewTokens: shape.responseTokens, padId: 0, eosId: null, seed: 0,
  gradientCheckpointing: shape.checkpointing ?? false,
});
const prompts = Array.from({ length: shape.batch }, () => tokens(shape.promptTokens));
const reward = async (p: number[][], r: number[][]) => {
  const s = await ensemble.score(p.map((x, i) => [...x, ...r[i]!]));
  return { scores: s.mu.map((row) => Math.min(...row)) };
};
for (let i = 0; i < iterations; i++) await ppo.step(prompts, reward);
process.stdout.write(JSON.stringify({ maxRssBytes: process.resourceUsage().maxRSS * 1024, params: policy.params.numel() }) + '\n');
