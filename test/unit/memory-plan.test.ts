// The memory plan's terms against what the engine builds: parameter counts against a loaded model's
// tensors for every family fixture, LoRA's trainable count against withLora's adapters, the KV cache,
// the reference (none with LoRA), BRME's one trunk against independent's K, precision scaling and the
// refusals of a bad shape or target. test/integration/memory-plan.test.ts measures the whole plan
// against a real peak.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture } from '../util/paths.js';
import { CausalLM } from '../../engine/models/model.js';
import { withLora } from '../../engine/models/lora.js';
import { parseHfConfig } from '../../engine/models/config.js';
import { ppoMemoryPlan, parameterCounts, loraParameters, ensembleTrainPlan, defaultLoraTargets, type PpoShape } from '../../engine/models/memory.js';
import { trunkNames } from '../../engine/rlhf/reward.js';

const FAMILIES = ['gpt2-tiny', 'llama-tiny-gqa', 'mistral-tiny', 'qwen2-tiny', 'qwen3-tiny', 'phi3-tiny', 'phi4-mini-tiny', 'gemma-tiny', 'gemma2-tiny', 'gemma3-tiny', 'pythia-tiny'];
const term = (terms: { name: string; bytes: number }[], name: string) => {
  const t = terms.find((x) => x.name.startsWith(name));
  assert.ok(t, `no term "${name}" in ${terms.map((x) => x.name).join(', ')}`);
  return t.bytes;
};
const SHAPE: PpoShape = { batch: 4, miniBatches: 2, promptTokens: 8, responseTokens: 8, lora: null, ensemble: { method: 'brme', heads: 3 } };

test('parameter counts and LoRA sizes match the models the engine loads, for every family', async () => {
  for (const name of FAMILIES) {
    const m = await CausalLM.load(fixture('models', name));
    const c = parameterCounts(m.config);
    assert.equal(c.total, m.params.numel(), `${name}: total`);
    assert.equal(c.trunk, trunkNames(m.config).reduce((a, n) => a + m.params.get(n).data.length, 0), `${name}: trunk`);
    const targets = defaultLoraTargets(m.config.arch);
    const lora = await withLora(m, { r: 4, alpha: 8, dropout: 0, targetModules: targets, bias: 'none' });
    const adapters = lora.lora!.paramNames().reduce((a, n) => a + lora.params.get(n).data.length, 0);
    assert.equal(loraParameters(m.config, { r: 4, targetModules: targets }), adapters, `${name}: LoRA ${targets.join(', ')}`);
    const plan = ppoMemoryPlan(m.config, { ...SHAPE, lora: { r: 4, targetModules: targets } });
    assert.equal(plan.parameters.trainable, adapters + m.config.d + 1, `${name}: adapters and the value head train`);
  }
});

test('terms follow the formulas: KV cache, reference, ensemble, optimizer state, precision', async () => {
  const m = await CausalLM.load(fixture('models', 'llama-tiny-gqa'));
  const c = m.config;
  assert.equal(c.arch, 'llama');
  if (c.arch !== 'llama') return;
  const P = m.params.numel();
  const full = ppoMemoryPlan(c, SHAPE);
  const rollout = full.phases.find((p) => p.name === 'rollout')!.terms;
  assert.equal(term(rollout, 'KV cache'), 4 * c.nLayer * 2 * c.nKvHead * c.headDim * 16 * 4, 'B × layers × 2 × Hkv × hd × (P + R) × 4');
  assert.ok(c.nKvHead < c.nHead, 'the fixture has grouped-query attention, so the cache uses Hkv');
  assert.equal(term(full.resident, 'reference policy'), P * 4);
  assert.equal(term(full.resident, 'AdamW moments'), (P + c.d + 1) * 8);
  const lora = ppoMemoryPlan(c, { ...SHAPE, lora: { r: 2, targetModules: ['q_proj'] } });
  assert.equal(term(lora.resident, 'reference policy'), 0, 'LoRA: the reference is the base with adapters off');
  assert.ok(lora.totalBytes < full.totalBytes);
  const trunk = parameterCounts(c).trunk;
  const indep = ppoMemoryPlan(c, { ...SHAPE, ensemble: { method: 'independent', heads: 3 } });
  assert.equal(term(indep.resident, 'reward ensemble'), 3 * (trunk + c.d) * 4, 'independent: K trunks with score heads');
  assert.equal(term(full.resident, 'reward ensemble'), (trunk + c.d + c.d * c.d + c.d + 2 * (3 * c.d + 3)) * 4, 'BRME: one trunk, score head, shared layer, K heads');
  // Mixed precision is autocast: everything held stays float32, the update adds 16-bit weight copies.
  const bf16 = ppoMemoryPlan(c, SHAPE, 'bf16'), fp16 = ppoMemoryPlan(c, SHAPE, 'fp16');
  assert.equal(term(bf16.resident, 'policy weights'), P * 4);
  assert.equal(term(bf16.resident, 'AdamW moments'), (P + c.d + 1) * 8, 'moments stay fp32');
  assert.equal(term(bf16.phases[2]!.terms, 'bf16 copies of the policy'), P * 2);
  assert.ok(bf16.totalBytes >= full.totalBytes + P * 2, 'the copies, and the arena growth they bring');
  assert.equal(full.runnable, true);
  assert.equal(bf16.runnable, false, 'bf16 has no CPU kernels');
  assert.equal(ppoMemoryPlan(c, SHAPE, 'bf16', 'gpu').runnable, true);
  assert.equal(fp16.runnable, true, 'fp16 runs on the CPU (in float32 inside ONNX Runtime)');
  const ckpt = ppoMemoryPlan(c, { ...SHAPE, checkpointing: true });
  assert.ok(term(ckpt.phases[2]!.terms, 'activations') < term(full.phases[2]!.terms, 'activations'));
  assert.equal(ckpt.runnable, true, 'the engine recomputes layers (spec key memory.gradientCheckpointing)');
  const gpu = ppoMemoryPlan(c, SHAPE, 'fp32', 'gpu');
  assert.ok(gpu.totalBytes < full.totalBytes, 'outputs stay on the device: no JavaScript copies');
  assert.equal(gpu.hostBytes, (2 * P + c.d + 1 + parameterCounts(c).trunk + c.d + c.d * c.d + c.d + 2 * (3 * c.d + 3)) * 4);
  // every term named, totals add up
  for (const plan of [full, lora, indep, bf16]) {
    assert.equal(plan.residentBytes, plan.resident.reduce((a, t) => a + t.bytes, 0));
    assert.equal(plan.totalBytes, plan.residentBytes + plan.phases.reduce((a, p) => a + p.bytes, 0));
    for (const t of [...plan.resident, ...plan.phases.flatMap((p) => p.terms)]) assert.ok(t.name && t.formula && Number.isFinite(t.bytes) && t.bytes >= 0, JSON.stringify(t));
  }
  const external = ppoMemoryPlan(c, { ...SHAPE, ensemble: null });
  assert.ok(!external.resident.some((t) => t.name.startsWith('reward ensemble')), 'a reward from outside holds no ensemble');
  assert.equal(external.residentBytes, full.residentBytes - term(full.resident, 'reward ensemble'));
  const ens = ensembleTrainPlan(c, { method: 'independent', heads: 3, batchPairs: 8, tokens: 16 });
  assert.equal(term(ens.resident, 'members already trained'), 2 * (trunk + c.d) * 4);
});

test('a LoRA ensemble holds the trunk once and K adapters + heads, less than K independent trunks', () => {
  const c = parseHfConfig({ model_type: 'llama', vocab_size: 512, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2 });
  const { trunk } = parameterCounts(c);
  const K = 4;
  const lora = { r: 4, targetModules: ['q_proj', 'v_proj'] };
  const adapters = loraParameters(c, lora);
  // q_proj 64→64, v_proj 64→32 (2 KV heads of 16) per layer: r·(in + out) each.
  assert.equal(adapters, 4 * 4 * ((64 + 64) + (64 + 32)));
  const ppo = (method: 'independent' | 'lora') => ppoMemoryPlan(c, { ...SHAPE, ensemble: { method, heads: K, lora } });
  assert.equal(ppo('lora').parameters.ensemble, trunk + K * (adapters + c.d));
  assert.ok(term(ppo('lora').resident, 'reward ensemble (LoRA') < term(ppo('independent').resident, 'reward ensemble (independent'));
  const train = (method: 'independent' | 'lora') => ensembleTrainPlan(c, { method, heads: K, batchPairs: 8, tokens: 16, lora });
  assert.equal(train('lora').parameters.trainable, adapters + c.d, 'only adapters and the head train');
  assert.equal(term(train('lora').resident, 'members already trained'), (K - 1) * (adapters + c.d) * 4);
  assert.ok(train('lora').totalBytes < train('independent').totalBytes);
  // Without lora options the plan adapts the family's attention projections at r 8.
  assert.equal(ppoMemoryPlan(c, { ...SHAPE, ensemble: { method: 'lora', heads: K } }).parameters.ensemble, trunk + K * (loraParameters(c, { r: 8, targetModules: ['q_proj', 'v_proj'] }) + c.d));
});

test('a bad shape or an unknown LoRA target is refused by name', () => {
  const c = parseHfConfig({ model_type: 'gpt2', vocab_size: 64, n_embd: 16, n_layer: 2, n_head: 2 });
  assert.throws(() => ppoMemoryPlan(c, { ...SHAPE, batch: 0 }), /batch must be a positive integer, got 0/);
  assert.throws(() => ppoMemoryPlan(c, { ...SHAPE, lora: { r: 4, targetModules: ['q_proj'] } }), /"q_proj" matches no module of this gpt2 model; its projections are c_attn, c_proj, c_fc/);
});
