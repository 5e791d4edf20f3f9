// The config parser reads every key that changes the math or refuses the folder naming it: both
// transformers layouts, each family's own defaults, and the keys no family here implements.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fixture } from '../util/paths.js';
import { parseHfConfig, toHfConfig, configNotes, maxPositionsOf, checkPositions, type LlamaConfig, type NeoxConfig, type GemmaConfig } from '../../engine/models/config.js';
import { ropeInvFreq, ropeAttentionScale } from '../../engine/models/rope.js';

const cfgOf = (name: string) => JSON.parse(readFileSync(path.join(fixture('models', name), 'config.json'), 'utf8')) as Record<string, unknown>;
const llama = (j: Record<string, unknown>) => parseHfConfig(j) as LlamaConfig;

test('rope θ is read from either layout; both present must agree', () => {
  const base = cfgOf('qwen2-tiny');
  assert.equal(llama(base).ropeTheta, 1e6);
  const { rope_theta: _t, ...v5 } = base;
  assert.equal(llama({ ...v5, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } }).ropeTheta, 1e6);
  assert.throws(() => parseHfConfig({ ...base, rope_parameters: { rope_type: 'default', rope_theta: 5e5 } }), /rope_theta = 1000000: disagrees with rope_parameters.rope_theta = 500000/);
});

test('rope types: llama3, linear and dynamic are read; unknown types and keys are refused by name', () => {
  const base = cfgOf('llama-tiny-gqa');
  const l3 = llama(cfgOf('llama31-tiny'));
  assert.deepEqual(l3.rope, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64 });
  assert.deepEqual(llama({ ...base, rope_scaling: { type: 'linear', factor: 2 } }).rope, { type: 'linear', factor: 2 });
  const dyn = llama({ ...base, max_position_embeddings: 128, rope_scaling: { rope_type: 'dynamic', factor: 2, original_max_position_embeddings: 32 } });
  assert.equal(dyn.maxPositions, 32, 'dynamic NTK equals the default rope only up to its original length');
  assert.throws(() => parseHfConfig({ ...base, rope_scaling: { rope_type: 'ntk-by-parts', factor: 4 } }), /rope_scaling = .*rope type "ntk-by-parts" is not supported \(supported: default, linear, llama3, dynamic, yarn, longrope\)/);
  assert.throws(() => parseHfConfig({ ...base, rope_scaling: { rope_type: 'llama3', factor: 8 } }), /needs a numeric "low_freq_factor"/);
  assert.throws(() => parseHfConfig({ ...base, rope_scaling: { rope_type: 'linear', factor: 2, beta_fast: 32 } }), /"beta_fast" is not a parameter/);
});

test('yarn: keys read from either layout, the attention factor as modeling_rope_utils sets it, and disagreements refused', () => {
  const base = cfgOf('llama-tiny-gqa');
  const yarn = (r: Record<string, unknown>, extra: Record<string, unknown> = {}) => llama({ ...base, max_position_embeddings: 256, rope_scaling: { rope_type: 'yarn', ...r }, ...extra });
  const c = yarn({ factor: 4, original_max_position_embeddings: 64 });
  assert.deepEqual(c.rope, { type: 'yarn', factor: 4, originalMaxPositions: 64, attentionFactor: null, mscale: null, mscaleAllDim: null, betaFast: null, betaSlow: null, truncate: null });
  assert.ok(Math.abs(ropeAttentionScale(c.rope, 256) - (0.1 * Math.log(4) + 1)) < 1e-15, '0.1 ln(factor) + 1');
  assert.equal(maxPositionsOf(c), 256, 'yarn does not depend on the sequence length');
  const ms = yarn({ factor: 8, mscale: 1, mscale_all_dim: 0.5 });
  assert.ok(Math.abs(ropeAttentionScale(ms.rope, 256) - (0.1 * Math.log(8) + 1) / (0.05 * Math.log(8) + 1)) < 1e-15);
  assert.equal(ropeAttentionScale(yarn({ factor: 8, mscale: 1 }).rope, 256), 0.1 * Math.log(8) + 1, 'mscale alone is not read (HF needs both)');
  assert.equal(ropeAttentionScale(yarn({ factor: 8, attention_factor: 0.5, mscale: 1, mscale_all_dim: 2 }).rope, 256), 0.5);
  // dim 8, θ 1e4, original 64: correction dims −0.5 → 0 and 1.01 → 2, so frequency 0 is kept, 1 is half-way, 2 and 3 are divided.
  const plain = ropeInvFreq(8, 1e4);
  const inv = ropeInvFreq(8, 1e4, c.rope, 256);
  assert.ok(Math.abs(inv[0]! - plain[0]!) < 1e-7 && Math.abs(inv[2]! - plain[2]! / 4) < 1e-9 && Math.abs(inv[3]! - plain[3]! / 4) < 1e-9);
  assert.ok(Math.abs(inv[1]! - (plain[1]! / 4 + plain[1]!) / 2) < 1e-7);
  assert.deepEqual(parseHfConfig(toHfConfig(ms)), ms, 'optional keys left out stay out');
  assert.throws(() => yarn({ original_max_position_embeddings: 64 }), /rope type "yarn" needs a numeric "factor"/);
  assert.throws(() => yarn({ factor: 4, truncate: 'no' }), /"truncate" of rope type "yarn" must be true or false/);
  assert.throws(() => yarn({ factor: 4, short_factor: [1] }), /"short_factor" is not a parameter of rope type "yarn"/);
  assert.throws(() => yarn({ factor: 4, original_max_position_embeddings: 64 }, { original_max_position_embeddings: 32 }), /original_max_position_embeddings = 32: transformers 5 reads it for yarn instead of rope_scaling.original_max_position_embeddings \(64\)/);
});

test('longrope: Phi-3 reads it (short factors within the original length, which caps sequences), with its legacy names', () => {
  const base = cfgOf('phi4-mini-tiny');
  const c = llama(base);
  assert.deepEqual(c.rope, { type: 'longrope', shortFactor: [1, 1.75, 3.125], longFactor: [1.25, 4.5, 9], originalMaxPositions: 16, factor: null, attentionFactor: null });
  assert.deepEqual([c.rotaryDim, c.maxPositions, maxPositionsOf(c)], [6, 64, 16]);
  assert.ok(Math.abs(ropeAttentionScale(c.rope, c.maxPositions) - Math.sqrt(1 + Math.log(4) / Math.log(16))) < 1e-15);
  assert.throws(() => checkPositions(c, 17), /a sequence of 17 positions is longer than this model's 16: its rope type "longrope" changes its frequencies past original_max_position_embeddings/);
  checkPositions(c, 16);
  for (const legacy of ['su', 'yarn']) assert.deepEqual(llama({ ...base, rope_scaling: { ...(base.rope_scaling as object), type: legacy } }).rope, c.rope, `Phi3Config reads "${legacy}" as longrope`);
  const { original_max_position_embeddings: _o, ...noOriginal } = base;
  assert.equal((llama(noOriginal).rope as { originalMaxPositions: number }).originalMaxPositions, 4096, "Phi3Config's default original length");
  const rs = base.rope_scaling as Record<string, unknown>;
  assert.throws(() => parseHfConfig({ ...base, rope_scaling: { ...rs, short_factor: [1, 2, 3, 4] } }), /longrope "short_factor" must list 3 numbers \(one per rotary frequency: 6 rotary dims \/ 2\)/);
  assert.throws(() => parseHfConfig({ ...base, rope_scaling: { ...rs, factor: 8 } }), /longrope factor 8 disagrees with max_position_embeddings \/ original_max_position_embeddings = 4/);
  assert.equal(llama({ ...base, rope_scaling: { ...rs, factor: 4 } }).rope?.type, 'longrope');
  assert.throws(() => parseHfConfig({ ...base, rope_scaling: { ...rs, original_max_position_embeddings: 32 } }), /original_max_position_embeddings 32 disagrees with the top-level original_max_position_embeddings \(16\)/);
  // Elsewhere the original length must be at the top level, where transformers 4.x reads it.
  assert.throws(() => parseHfConfig({ ...cfgOf('llama-tiny-gqa'), rope_scaling: { rope_type: 'longrope', short_factor: [1, 1, 1, 1], long_factor: [2, 2, 2, 2] } }), /longrope needs original_max_position_embeddings at the top level/);
  assert.deepEqual(parseHfConfig(toHfConfig(c)), c);
  const saved = toHfConfig(c);
  assert.deepEqual([saved.original_max_position_embeddings, saved.partial_rotary_factor, saved.max_position_embeddings], [16, 0.75, 64]);
});

test('llama3 frequencies: high kept, low divided by the factor, the middle smoothed (Llama 3.1 values)', () => {
  const inv = ropeInvFreq(8, 1e4, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64 });
  const plain = ropeInvFreq(8, 1e4);
  assert.equal(inv[0], plain[0]);                           // wavelength 6.3 < 16: kept
  assert.ok(Math.abs(inv[2]! - plain[2]! / 8) < 1e-9);      // 628 > 64: divided by 8
  assert.ok(inv[1]! < plain[1]! && inv[1]! > plain[1]! / 8); // 63: between
});

test('each family has its own defaults for absent keys', () => {
  const { tie_word_embeddings: _t, head_dim: _h, ...q3 } = cfgOf('qwen3-tiny');
  const c = llama(q3);
  assert.equal(c.tied, false, 'Qwen3Config ties no embeddings by default');
  assert.equal(c.headDim, 128, 'Qwen3Config.head_dim defaults to 128, not hidden_size / heads');
  const { sliding_window: _w, ...m } = cfgOf('mistral-tiny');
  assert.equal(llama(m).slidingWindow, 4096, 'MistralConfig.sliding_window defaults to 4096');
  assert.equal(llama({ ...m, sliding_window: null }).slidingWindow, null);
});

test('keys that change the math and are not implemented are refused, naming key and value', () => {
  const base = cfgOf('llama-tiny-gqa');
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ quantization_config: { quant_method: 'gptq', bits: 4 } }, /quantization_config = .*quantised checkpoints \(gptq\)/],
    [{ final_logit_softcapping: 30 }, /final_logit_softcapping = 30: not supported/],
    [{ hidden_act: 'gelu' }, /hidden_act = "gelu": not supported \(silu\)/],
    [{ partial_rotary_factor: 0.5 }, /partial_rotary_factor = 0.5/],
    [{ auto_map: { AutoModel: 'x.Model' } }, /auto_map = .*trust_remote_code/],
    [{ layer_types: ['sliding_attention', 'full_attention'] }, /layer_types = /],
    [{ eos_token_id: -1 }, /eos_token_id = -1: a token id must be a non-negative integer/],
    [{ pad_token_id: 'x' }, /pad_token_id = "x": a token id must be a non-negative integer/],
  ];
  for (const [edit, want] of cases) assert.throws(() => parseHfConfig({ ...base, ...edit }, 'cfg.json'), (e: Error) => e.message.startsWith('cfg.json: ') && want.test(e.message), JSON.stringify(edit));
  // Qwen's windows (Qwen2Config): layers from max_window_layers (28) on, only with use_sliding_window.
  const qwenOf = (edit: Record<string, unknown>) => parseHfConfig({ ...cfgOf('qwen2-tiny'), ...edit }) as LlamaConfig;
  assert.deepEqual([qwenOf({ use_sliding_window: true }).slidingLayers, qwenOf({ use_sliding_window: true }).slidingWindow], [undefined, null], 'max_window_layers 28 ≥ 2 layers: none slides');
  assert.deepEqual([qwenOf({ use_sliding_window: true, max_window_layers: 1 }).slidingLayers, qwenOf({ use_sliding_window: true, max_window_layers: 1 }).slidingWindow], [[false, true], 4096]);
  const { sliding_window: _sw, max_window_layers: _mw, ...bareQwen } = cfgOf('qwen2-tiny');
  assert.deepEqual((parseHfConfig({ ...bareQwen, use_sliding_window: true, num_hidden_layers: 30 }) as LlamaConfig).slidingLayers?.map(Number).join(''), '0'.repeat(28) + '11', 'defaults: window 4096 from layer 28');
  assert.equal(qwenOf({ use_sliding_window: false, max_window_layers: 0 }).slidingLayers, undefined, 'no window without use_sliding_window');
  assert.equal(qwenOf({ use_sliding_window: true, sliding_window: null, max_window_layers: 0 }).slidingLayers, undefined);
  assert.deepEqual(qwenOf({ use_sliding_window: true, max_window_layers: 0, layer_types: ['sliding_attention', 'full_attention'] }).slidingLayers, [true, false], 'layer_types as written');
  assert.throws(() => qwenOf({ use_sliding_window: false, layer_types: ['full_attention', 'sliding_attention'] }), /layer_types = .*use_sliding_window is false/);
  assert.throws(() => qwenOf({ use_sliding_window: true, sliding_window: null, layer_types: ['full_attention', 'sliding_attention'] }), /layer_types = .*sliding_window is null/);
  assert.throws(() => qwenOf({ use_sliding_window: true, layer_types: ['full_attention'] }), /layer_types = .*expected 2 entries/);
  assert.throws(() => parseHfConfig({ ...cfgOf('gpt2-tiny'), scale_attn_by_inverse_layer_idx: true }), /scale_attn_by_inverse_layer_idx = true/);
  assert.throws(() => parseHfConfig({ model_type: 'gemma3', architectures: ['Gemma3ForConditionalGeneration'], text_config: { model_type: 'gemma3_text' } }), /model_type = "gemma3": a Gemma 3 multimodal config \(text_config, vision_config\) is not loaded; only the text model loads \(model_type "gemma3_text"/);
  assert.throws(() => parseHfConfig({ model_type: 'gemma4', architectures: ['Gemma4ForCausalLM'] }), /unsupported model_type "gemma4" \(Gemma4ForCausalLM\); supported: gpt2, llama, mistral, qwen2, qwen3, phi3, gemma, gemma2, gemma3_text, gpt_neox/);
});

test('toHfConfig → parseHfConfig round-trips every family', () => {
  for (const name of ['gpt2-tiny', 'llama-tiny-gqa', 'qwen2-tiny', 'mistral-tiny', 'llama31-tiny', 'qwen3-tiny', 'phi3-tiny', 'gemma2-tiny', 'pythia-tiny', 'neox-seq-tiny', 'qwen2-yarn-tiny', 'llama-yarn-tiny', 'phi4-mini-tiny', 'gemma3-tiny', 'gemma-tiny', 'qwen2-sliding-tiny', 'qwen3-sliding-tiny']) {
    const c = parseHfConfig(cfgOf(name));
    assert.deepEqual(parseHfConfig(toHfConfig(c)), c, name);
  }
  const g = parseHfConfig({ ...cfgOf('gpt2-tiny'), n_inner: 48 });
  assert.equal((parseHfConfig(toHfConfig(g)) as { nInner?: number }).nInner, 48);
});

test('GPT-NeoX: Pythia\'s defaults, the rotary fraction and base under each of their names, and refusals', () => {
  const neox = (j: Record<string, unknown>) => parseHfConfig(j) as NeoxConfig;
  const base = cfgOf('pythia-tiny');
  const p = neox(base);
  assert.equal(p.rotaryDim, 4, 'int(16 · 0.25)');
  const { rotary_pct: _r, rotary_emb_base: _b, use_parallel_residual: _u, attention_bias: _a, tie_word_embeddings: _t, hidden_act: _h, ...bare } = base;
  const d = neox(bare);
  assert.deepEqual([d.rotaryDim, d.ropeTheta, d.parallelResidual, d.attentionBias, d.tied, d.activation], [4, 10000, true, true, false, 'gelu'], "GPTNeoXConfig's defaults");
  assert.equal(neox({ ...bare, rope_parameters: { rope_type: 'default', rope_theta: 500, partial_rotary_factor: 0.5 } }).rotaryDim, 8);
  assert.equal(neox({ ...base, rope_scaling: { type: 'linear', factor: 2 } }).rope?.type, 'linear');
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ partial_rotary_factor: 0.5 }, /rotary_pct = 0.25: disagrees with partial_rotary_factor \(0.5\)/],
    [{ rope_theta: 1e6 }, /rotary_emb_base = 10000: disagrees with rope_theta = 1000000|rope_theta = 1000000: disagrees/],
    [{ rotary_pct: 0.3 }, /rotary_pct = 0.3: gives 4 rotary dims|rotary_pct/],
    [{ rotary_pct: 0.1875 }, /rotary_pct = 0.1875: gives 3 rotary dims per head of 16; rotate_half needs an even/],
    [{ hidden_act: 'relu' }, /hidden_act = "relu": supported: gelu/],
    [{ head_dim: 8 }, /head_dim = 8: not supported/],
    [{ rope_scaling: { rope_type: 'longrope', short_factor: [1], long_factor: [1] } }, /longrope "short_factor" must list 2 numbers/],
    [{ hidden_size: 66 }, /hidden_size = 66: must be a multiple of num_attention_heads/],
  ];
  for (const [edit, want] of cases) {
    if (edit.rotary_pct === 0.3) { assert.equal(neox({ ...base, ...edit }).rotaryDim, 4, 'int(16 · 0.3) = 4, as python truncates'); continue; }
    assert.throws(() => parseHfConfig({ ...base, ...edit }), want, JSON.stringify(edit));
  }
});

test('Phi-3: fused projections, its own defaults (eps 1e-5, no window), the partial rotary factor from either layout', () => {
  const base = cfgOf('phi3-tiny');
  const c = llama(base);
  assert.deepEqual([c.fused, c.slidingWindow, c.eps, c.qkvBias], [true, 5, 1e-5, false]);
  const { sliding_window: _w, ...noWindow } = base;
  assert.equal(llama(noWindow).slidingWindow, null, 'Phi3Config.sliding_window defaults to None');
  assert.equal(llama({ ...base, rope_scaling: null, rope_parameters: { rope_type: 'default', rope_theta: 1e4, partial_rotary_factor: 0.75 } }).rotaryDim, 6);
  assert.throws(() => parseHfConfig({ ...base, partial_rotary_factor: 0.5, rope_scaling: null, rope_parameters: { rope_type: 'default', rope_theta: 1e4, partial_rotary_factor: 0.75 } }), /partial_rotary_factor = 0.5: disagrees with rope_parameters \(0.75\)/);
  assert.equal(llama({ ...base, partial_rotary_factor: 0.3 }).rotaryDim, 2, 'int(8 · 0.3), as python truncates');
  assert.throws(() => parseHfConfig({ ...base, partial_rotary_factor: 0.375 }), /partial_rotary_factor = 0.375: gives 3 rotary dims per head of 8/);
  assert.equal(llama({ ...base, rope_scaling: null, rope_parameters: { rope_type: 'default', rope_theta: 1e4, partial_rotary_factor: 1 } }).ropeTheta, 1e4);
  assert.throws(() => parseHfConfig({ ...base, attention_bias: true }), /attention_bias = true: not supported \(phi3 has no attention biases\)/);
});

test('Gemma 2: Gemma2Config\'s defaults when keys are absent (soft-caps 50/30, every other layer sliding, head_dim 256, tied)', () => {
  const base = cfgOf('gemma2-tiny');
  const { attn_logit_softcapping: _a, final_logit_softcapping: _f, head_dim: _h, tie_word_embeddings: _t, sliding_window: _w, query_pre_attn_scalar: _q, hidden_activation: _x, ...bare } = base;
  const c = parseHfConfig(bare) as GemmaConfig;
  assert.deepEqual([c.attnSoftcap, c.finalSoftcap, c.headDim, c.tied, c.slidingWindow, c.queryPreAttnScalar, c.activation], [50, 30, 256, true, 4096, 256, 'gelu_pytorch_tanh']);
  assert.deepEqual(c.slidingLayers, [true, false, true, false], 'layer 0 slides, as in Gemma2Config.layer_types');
  assert.equal((parseHfConfig({ ...base, final_logit_softcapping: null }) as GemmaConfig).finalSoftcap, null);
  assert.throws(() => parseHfConfig({ ...base, layer_types: ['full_attention'] }), /layer_types = \["full_attention"\]: expected 4 entries/);
  assert.throws(() => parseHfConfig({ ...base, use_bidirectional_attention: true }), /use_bidirectional_attention = true: not supported/);
  assert.throws(() => parseHfConfig({ ...base, hidden_activation: 'relu' }), /hidden_activation = "relu"/);
  assert.throws(() => parseHfConfig({ ...cfgOf('llama-tiny-gqa'), final_logit_softcapping: 30 }), /final_logit_softcapping = 30: not supported \(logit soft-capping is not part of llama\)/);
});

test('Gemma 3 text: Gemma3TextConfig\'s defaults, both rope layouts, the layer pattern, and refusals', () => {
  const base = cfgOf('gemma3-tiny');
  const c = parseHfConfig(base) as GemmaConfig;
  assert.deepEqual([c.ropeTheta, c.rope, c.localRopeTheta, c.slidingLayers, c.attnSoftcap, c.finalSoftcap], [1e6, { type: 'linear', factor: 8 }, 10000, [true, true, false, true], null, null]);
  const { rope_theta: _t, rope_local_base_freq: _l, sliding_window_pattern: _p, attn_logit_softcapping: _a, final_logit_softcapping: _f, sliding_window: _w, rope_scaling: _s, ...bare } = base;
  const d = parseHfConfig(bare) as GemmaConfig;
  assert.deepEqual([d.ropeTheta, d.rope, d.localRopeTheta, d.slidingLayers, d.attnSoftcap, d.finalSoftcap, d.slidingWindow], [1e6, null, 10000, [true, true, true, true], null, null, 4096], 'θ 1e6 / 1e4, five of six layers slide, no caps');
  assert.deepEqual((parseHfConfig({ ...bare, num_hidden_layers: 7 }) as GemmaConfig).slidingLayers, [true, true, true, true, true, false, true]);
  const v5 = { ...bare, rope_parameters: { sliding_attention: { rope_type: 'default', rope_theta: 5e3 }, full_attention: { rope_type: 'yarn', factor: 4, rope_theta: 2e6 } } };
  const e = parseHfConfig(v5) as GemmaConfig;
  assert.deepEqual([e.ropeTheta, e.rope?.type, e.localRopeTheta], [2e6, 'yarn', 5e3]);
  assert.deepEqual(parseHfConfig(toHfConfig(e)), e, 'the 5.x layout saves in the 4.x one');
  assert.throws(() => parseHfConfig({ ...v5, rope_local_base_freq: 1e4 }), /rope_local_base_freq = 10000: disagrees with rope_parameters.sliding_attention.rope_theta = 5000/);
  assert.throws(() => parseHfConfig({ ...v5, rope_theta: 1e6 }), /rope_theta = 1000000: disagrees with rope_parameters.full_attention.rope_theta = 2000000/);
  assert.throws(() => parseHfConfig({ ...bare, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } }), /rope_parameters = .*Gemma 3 keeps one entry per layer type/);
  assert.throws(() => parseHfConfig({ ...bare, rope_parameters: { sliding_attention: { rope_type: 'linear', factor: 2 }, full_attention: { rope_type: 'default' } } }), /rope_parameters.sliding_attention = \{"rope_type":"linear","factor":2\}: the sliding layers' rope must be the default one/);
  assert.throws(() => parseHfConfig({ ...bare, rope_parameters: { sliding_attention: { rope_type: 'default' }, full_attention: { rope_type: 'ntk' } } }), /rope_parameters.full_attention = \{"rope_type":"ntk"\}: rope type "ntk" is not supported/);
  assert.throws(() => parseHfConfig({ ...base, use_bidirectional_attention: true }), /use_bidirectional_attention = true: not supported/);
  assert.equal((parseHfConfig({ ...base, final_logit_softcapping: 30 }) as GemmaConfig).finalSoftcap, 30);
});

test('Gemma 1: GemmaConfig\'s defaults, the activation current transformers reads (a note where 4.38–4.47 read another), no caps or windows', () => {
  const base = cfgOf('gemma-tiny');
  const c = parseHfConfig(base) as GemmaConfig;
  assert.deepEqual([c.activation, c.queryPreAttnScalar, c.slidingWindow, c.slidingLayers, c.attnSoftcap, c.finalSoftcap, c.tied, c.nKvHead], ['gelu', 16, null, [false, false], null, null, true, 1]);
  const { hidden_act: _a, hidden_activation: _v, num_key_value_heads: _k, tie_word_embeddings: _t, ...bare } = base;
  const d = parseHfConfig(bare) as GemmaConfig;
  assert.deepEqual([d.activation, d.nKvHead, d.tied], ['gelu_pytorch_tanh', 16, true], "GemmaConfig's defaults");
  assert.equal((parseHfConfig({ ...bare, hidden_act: 'gelu_pytorch_tanh', hidden_activation: null }) as GemmaConfig).activation, 'gelu_pytorch_tanh');
  // Gemma's published configs say hidden_act "gelu" beside hidden_activation "gelu_pytorch_tanh": transformers ≥ 4.48
  // computes the exact GELU from hidden_act (and so does the lab), 4.38–4.47 the tanh one; the summary says so.
  const published = { ...bare, hidden_act: 'gelu', hidden_activation: 'gelu_pytorch_tanh' };
  assert.equal((parseHfConfig(published) as GemmaConfig).activation, 'gelu');
  assert.equal(configNotes(published).length, 1);
  assert.match(configNotes(published)[0]!, /hidden_activation = "gelu_pytorch_tanh" is not read: transformers ≥ 4\.48 applies hidden_act = "gelu" \(the exact GELU\).*set hidden_act to "gelu_pytorch_tanh"/);
  assert.match(configNotes({ ...bare, hidden_act: 'gelu', hidden_activation: null })[0]!, /hidden_activation = null is not read/, '4.38–4.47 read null as the tanh GELU');
  assert.match(configNotes({ ...bare, hidden_act: 'gelu_new', hidden_activation: 'gelu' })[0]!, /applies hidden_act = "gelu_new" \(the tanh GELU\).*applied hidden_activation \(the exact one\)$/);
  assert.deepEqual([configNotes(base), configNotes({ ...bare, hidden_act: 'gelu' }), configNotes({ ...bare, hidden_act: 'gelu_new', hidden_activation: 'gelu_pytorch_tanh' })], [[], [], []], 'nothing to say where both generations agree or the older key is absent');
  assert.deepEqual(configNotes(cfgOf('gemma3-tiny')), [], 'Gemma 2 and 3 read hidden_activation in every generation');
  assert.throws(() => parseHfConfig({ ...bare, hidden_act: 'relu' }), /hidden_act = "relu": supported: gelu_pytorch_tanh, gelu_new, gelu/);
  assert.throws(() => parseHfConfig({ ...base, final_logit_softcapping: 30 }), /final_logit_softcapping = 30: not supported \(logit soft-capping is not part of gemma\)/);
  assert.deepEqual(parseHfConfig(toHfConfig(c)), c);
});

test('published config shapes parse as transformers reads them: Phi-3.5-mini, Phi-4-mini, Qwen2.5 with yarn, Gemma 3 1B', () => {
  const factors = (n: number, x: number) => Array.from({ length: n }, (_, i) => x + i / 100);
  const phi = { model_type: 'phi3', architectures: ['Phi3ForCausalLM'], hidden_size: 3072, intermediate_size: 8192, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, vocab_size: 32064, hidden_act: 'silu', max_position_embeddings: 131072, original_max_position_embeddings: 4096, rope_theta: 10000.0, rms_norm_eps: 1e-5, sliding_window: 262144, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 32000, pad_token_id: 32000, torch_dtype: 'bfloat16', rope_scaling: { type: 'longrope', short_factor: factors(48, 1), long_factor: factors(48, 1.5) } };
  const p35 = llama(phi);
  assert.deepEqual([p35.rope?.type, maxPositionsOf(p35), p35.rotaryDim, p35.slidingWindow], ['longrope', 4096, undefined, 262144]);
  assert.ok(Math.abs(ropeAttentionScale(p35.rope, p35.maxPositions) - Math.sqrt(1 + Math.log(32) / Math.log(4096))) < 1e-12, 'factor 131072 / 4096 = 32');
  const p4 = llama({ ...phi, num_attention_heads: 24, num_key_value_heads: 8, vocab_size: 200064, partial_rotary_factor: 0.75, tie_word_embeddings: true });
  assert.deepEqual([p4.headDim, p4.rotaryDim, p4.tied], [128, 96, true]);
  const qwen = llama({ model_type: 'qwen2', hidden_size: 3584, intermediate_size: 18944, num_hidden_layers: 28, num_attention_heads: 28, num_key_value_heads: 4, vocab_size: 152064, max_position_embeddings: 32768, rope_theta: 1e6, use_sliding_window: false, sliding_window: 131072, max_window_layers: 28, rms_norm_eps: 1e-6, tie_word_embeddings: false, rope_scaling: { factor: 4.0, original_max_position_embeddings: 32768, type: 'yarn' } });
  assert.deepEqual([qwen.rope?.type, maxPositionsOf(qwen)], ['yarn', 32768]);
  assert.ok(Math.abs(ropeAttentionScale(qwen.rope, qwen.maxPositions) - (0.1 * Math.log(4) + 1)) < 1e-12, 'the explicit factor, as transformers 5');
  const g3 = parseHfConfig({ model_type: 'gemma3_text', architectures: ['Gemma3ForCausalLM'], hidden_size: 1152, intermediate_size: 6912, num_hidden_layers: 26, num_attention_heads: 4, num_key_value_heads: 1, head_dim: 256, vocab_size: 262144, hidden_activation: 'gelu_pytorch_tanh', max_position_embeddings: 32768, query_pre_attn_scalar: 256, rms_norm_eps: 1e-6, rope_theta: 1000000, rope_local_base_freq: 10000, rope_scaling: null, sliding_window: 512, sliding_window_pattern: 6, attn_logit_softcapping: null, final_logit_softcapping: null, cache_implementation: 'hybrid', bos_token_id: 2, eos_token_id: [1, 106], pad_token_id: 0, torch_dtype: 'bfloat16' }) as GemmaConfig;
  assert.deepEqual([g3.slidingLayers.filter((s) => !s).length, g3.slidingLayers[5], g3.localRopeTheta, g3.ropeTheta, g3.eosTokenId], [4, false, 10000, 1e6, 1]);
});
