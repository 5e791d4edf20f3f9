// `rrlhf model generate` and `model info` on a Hugging Face-style folder: a tiny GPT-2 saved by the
// engine with the bpe-tiny tokenizer fixture. Generation is seeded (same seed, same text), the
// log-probs are of the sampled tokens, and a tokenizer that does not belong to the model is refused
// with a message instead of ONNX Runtime's "indices out of bounds".
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, fixture } from '../util/paths.js';
import { CausalLM } from '../../engine/models/model.js';
import { scoreLogprobs } from '../../engine/models/sampler.js';
import { inspectModelFolder, modelSummary, type ModelSummary } from '../../engine/service/models.js';
import { ppoMemoryPlan, DEFAULT_PPO_SHAPE } from '../../engine/models/memory.js';

/** `model info`'s summary (issue #18): family, positions, parameter count and the memory plan on each
 *  device and precision, the same object models.inspect returns (what the model-folder picker shows). */
async function checkSummary(dir: string, info: ModelSummary & { config: Record<string, unknown> }) {
  const m = await CausalLM.load(dir);
  assert.deepEqual(info.family, { arch: 'gpt2', causalLM: 'GPT2LMHeadModel', sequenceClassification: 'GPT2ForSequenceClassification' });
  assert.equal(info.rope.type, 'none (learned absolute positions)');
  assert.equal(info.parameters.total, m.params.numel());
  // The LoRA targets a form offers: GPT-2's own module names, attention's c_attn by default.
  assert.deepEqual({ ...info.lora, modules: [...info.lora.modules].sort() }, { modules: ['c_attn', 'c_fc', 'c_proj'], defaults: ['c_attn'], r: 8 });
  assert.deepEqual(info.memory.devices.map((d) => d.device).includes('cpu'), true);
  const cpu = info.memory.plans.filter((p) => p.device === 'cpu');
  assert.deepEqual(cpu.map((p) => `${p.precision}/${p.fineTuning}`), ['fp32/full', 'fp32/lora', 'bf16/full', 'bf16/lora', 'fp16/full', 'fp16/lora']);
  const full = cpu[0]!;
  assert.equal(full.totalBytes, ppoMemoryPlan(m.config, { ...DEFAULT_PPO_SHAPE, lora: null }).totalBytes);
  assert.ok(full.resident.some((t) => t.name === 'reference policy' && t.bytes === m.params.numel() * 4));
  assert.equal(cpu[1]!.resident.find((t) => t.name === 'reference policy')!.bytes, 0, 'LoRA: no reference copy');
  assert.equal(typeof full.fits, 'boolean');
  const human = rrlhf('model', 'info', dir);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^GPT2LMHeadModel \(gpt2\); positions: none \(learned absolute positions\)\n0\.\d\dM parameters/);
  assert.match(human.stdout, /\n  cpu     fp32       [\d.]+ (KiB|MiB|GiB)/);
  assert.match(human.stdout, /cpu     bf16\*/);
  // models.inspect: the same summary (free memory moves between calls, so devices and fits are left out)
  const inspected = await inspectModelFolder(dir);
  const strip = (s: ModelSummary) => ({ family: s.family, rope: s.rope, parameters: s.parameters, study: s.memory.study, plans: s.memory.plans.map(({ fits: _f, ...p }) => p) });
  assert.deepEqual(strip(inspected), strip(info));
}

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const bin = path.join(repoRoot, 'bin', 'rrlhf.js');
const rrlhf = (...args: string[]) => { const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' }); return { code: r.status, stdout: r.stdout, stderr: r.stderr }; };

async function folder(vocabSize: number): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rrlhf-model-cli-'));
  dirs.push(dir);
  await CausalLM.init({ arch: 'gpt2', vocabSize, nPositions: 48, d: 32, nLayer: 1, nHead: 2, eps: 1e-5, activation: 'gelu_new', bosTokenId: 0, eosTokenId: 656 % vocabSize }, 0).save(dir);
  copyFileSync(fixture('tokenizers', 'bpe-tiny', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  return dir;
}

test('model generate: seeded, log-probs per token, and a tokenizer of another model is refused by name', async () => {
  const good = await folder(660);
  const gen = (seed: string) => rrlhf('model', 'generate', good, '--prompt', 'hello world', '--max-new', '6', '--seed', seed, '--json');
  const a = gen('1'), b = gen('1');
  assert.equal(a.code, 0, a.stderr);
  const ra = JSON.parse(a.stdout), rb = JSON.parse(b.stdout);
  assert.deepEqual(ra, rb, 'the same seed gives the same tokens');
  assert.ok(ra.ids.length >= 1 && ra.ids.length <= 6 && ra.logprobs.length === ra.ids.length);
  assert.ok(ra.logprobs.every((x: number) => x <= 0 && Number.isFinite(x)));
  assert.equal(typeof ra.text, 'string');
  // --seed reaches the sampler: another seed gives other tokens (660 near-uniform choices per token).
  const c = gen('2');
  assert.equal(c.code, 0, c.stderr);
  assert.notDeepEqual(JSON.parse(c.stdout).ids, ra.ids, 'another seed gives other tokens');
  // The log-probs are those of the sampled tokens: rescoring prompt + response in-process gives them back.
  const [lp] = await scoreLogprobs(await CausalLM.load(good), [[...ra.prompt_ids, ...ra.ids]]);
  const tail = lp!.slice(ra.prompt_ids.length - 1);
  assert.equal(tail.length, ra.logprobs.length);
  tail.forEach((x, i) => assert.ok(Math.abs(x - ra.logprobs[i]) < 1e-4, `token ${i}: CLI log-prob ${ra.logprobs[i]}, rescored ${x}`));
  const info = JSON.parse(rrlhf('model', 'info', good, '--json').stdout);
  assert.equal(info.config.vocab_size, 660);
  await checkSummary(good, info);

  const small = await folder(96);
  const bad = rrlhf('model', 'generate', small, '--prompt', 'hello world', '--max-new', '2');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /the tokenizer gives token id \d+ but the model's vocab_size is 96; the tokenizer\.json does not belong to this model/);
  assert.doesNotMatch(bad.stderr, /out of bounds|onnxruntime/i);
});

test('model info names the rope of Phi-4-mini (longrope on 6 of 8 dims) and both ropes of Gemma 3', async () => {
  const phi = await modelSummary((await CausalLM.load(fixture('models', 'phi4-mini-tiny'))).config);
  assert.deepEqual(phi.rope, { type: 'longrope', theta: 10000, rotaryDims: 6, localTheta: null });
  const g3 = await modelSummary((await CausalLM.load(fixture('models', 'gemma3-tiny'))).config);
  assert.deepEqual([g3.rope, g3.family.sequenceClassification], [{ type: 'linear', theta: 1e6, rotaryDims: 16, localTheta: 10000 }, 'Gemma3TextForSequenceClassification']);
  const human = rrlhf('model', 'info', fixture('models', 'gemma3-tiny'));
  assert.match(human.stdout, /^Gemma3ForCausalLM \(gemma3_text\); positions: RoPE linear, θ 1000000 \(sliding layers: default, θ 10000\), 16 rotary dims per head/);
});

test('a Gemma 1 folder as Google published it loads as current transformers computes it, with a note on the older reading', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rrlhf-model-cli-gemma-'));
  dirs.push(dir);
  cpSync(fixture('models', 'gemma-tiny'), dir, { recursive: true });
  const cfgFile = path.join(dir, 'config.json');
  writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(cfgFile, 'utf8')), hidden_act: 'gelu', hidden_activation: 'gelu_pytorch_tanh' }));
  const json = rrlhf('model', 'info', dir, '--json');
  assert.equal(json.code, 0, json.stderr);
  const info = JSON.parse(json.stdout) as ModelSummary & { config: Record<string, unknown> };
  assert.equal(info.config.hidden_act, 'gelu', 'the exact GELU, from hidden_act');
  assert.equal(info.notes.length, 1);
  assert.match(info.notes[0]!, /^hidden_activation = "gelu_pytorch_tanh" is not read/);
  const human = rrlhf('model', 'info', dir);
  assert.match(human.stdout, /\nNote: hidden_activation = "gelu_pytorch_tanh" is not read: transformers ≥ 4\.48 applies hidden_act = "gelu"/);
  // The fixture itself (both keys "gelu") has nothing to note.
  assert.deepEqual(JSON.parse(rrlhf('model', 'info', fixture('models', 'gemma-tiny'), '--json').stdout).notes, []);
});

test('model info plans the study the flags describe: batch, lengths, LoRA rank and targets, ensemble, gradient checkpointing; bad flags are refused by name', async () => {
  const dir = fixture('models', 'llama-tiny-gqa');
  const args = ['--batch', '32', '--mini-batches', '4', '--prompt-tokens', '100', '--response-tokens', '50', '--lora', '16', '--lora-targets', 'q_proj,v_proj,down_proj', '--ensemble', 'independent', '--heads', '3', '--gradient-checkpointing'];
  const r = rrlhf('model', 'info', dir, ...args, '--json');
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout) as ModelSummary;
  const shape = { batch: 32, miniBatches: 4, promptTokens: 100, responseTokens: 50, ensemble: { method: 'independent' as const, heads: 3 }, checkpointing: true };
  assert.deepEqual(info.memory.study, { ...shape, lora: { r: 16, targetModules: ['q_proj', 'v_proj', 'down_proj'] } });
  const m = await CausalLM.load(dir);
  const cpu = info.memory.plans.filter((p) => p.device === 'cpu' && p.precision === 'fp32');
  assert.equal(cpu[0]!.totalBytes, ppoMemoryPlan(m.config, { ...shape, lora: null }).totalBytes);
  assert.equal(cpu[1]!.totalBytes, ppoMemoryPlan(m.config, { ...shape, lora: { r: 16, targetModules: ['q_proj', 'v_proj', 'down_proj'] } }).totalBytes);
  assert.notEqual(cpu[0]!.totalBytes, ppoMemoryPlan(m.config, { ...DEFAULT_PPO_SHAPE, lora: null }).totalBytes, 'the flags change the plan');
  assert.equal(cpu[0]!.runnable, true);
  const human = rrlhf('model', 'info', dir, ...args);
  assert.match(human.stdout, /Memory of a PPO study: 32 rollouts of 100 \+ 50 tokens, 4 minibatches, INDEPENDENT ensemble K 3; LoRA r 16 on q_proj, v_proj, down_proj; gradient checkpointing/);
  for (const [bad, msg] of [
    [['--ensemble', 'mixture'], /--ensemble must be one of brme, independent, lora, got "mixture"/],
    [['--heads', '3'], /--heads K needs --ensemble METHOD/],
    [['--batch', '30', '--mini-batches', '4'], /--batch 30 is not a multiple of --mini-batches 4/],
    [['--lora-targets', 'c_attn'], /c_attn/],
  ] as const) {
    const e = rrlhf('model', 'info', dir, ...bad);
    assert.notEqual(e.code, 0, bad.join(' '));
    assert.match(e.stderr, msg);
  }
});
