// LoRA on the tiny HF fixtures: a zero B leaves the logits exactly the base model's; the adapter path's
// gradients agree with finite differences; PEFT-format save → load gives identical logits and merge gives
// the adapted logits from a plain folder; unknown targets are refused naming the modules that exist;
// adapters off reads the same weight arrays as the adapted model.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fixture } from '../util/paths.js';
import { CausalLM } from '../../engine/models/model.js';
import { withLora, saveAdapter, loadAdapter, mergeAdapter, type LoraConfig } from '../../engine/models/lora.js';
import { readSafetensorsFile } from '../../engine/runtime/safetensors.js';
import { Rng } from '../../engine/runtime/params.js';

const IDS = [[3, 17, 42, 5, 88, 1, 60, 9], [70, 2, 2, 31, 14, 55, 8, 90]];
const CASES: { model: string; targets: string[] }[] = [
  { model: 'gpt2-tiny', targets: ['c_attn', 'mlp.c_proj'] },
  { model: 'llama-tiny-gqa', targets: ['q_proj', 'v_proj', 'down_proj'] },
];
const cfgOf = (targets: string[]): LoraConfig => ({ r: 4, alpha: 8, dropout: 0, targetModules: targets, bias: 'none' });

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => { let w = 0; for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i]! - b[i]!)); return w; };

/** Gives every B a seeded non-zero value (a trained adapter), so the adapter path matters. */
function randomiseB(m: CausalLM, seed: number, std = 0.3) {
  const rng = new Rng(seed);
  for (const n of m.lora!.paramNames()) if (n.endsWith('lora_B.weight')) { const p = m.params.get(n); m.params.set(n, Float32Array.from(p.data, () => std * rng.normal()), p.shape); }
}

for (const { model, targets } of CASES) {
  test(`LoRA ${model}: zero B gives the base logits exactly; adapters off shares the base arrays`, async () => {
    const base = await CausalLM.load(fixture('models', model));
    const m = await withLora(base, cfgOf(targets), 1);
    assert.ok(m.lora!.modules.length >= 2 * targets.length - 1);
    const want = await base.evaluate(IDS), got = await m.evaluate(IDS);
    assert.deepEqual(Array.from(got.logits.data as Float32Array), Array.from(want.logits.data as Float32Array));
    // The A init is non-zero (kaiming-uniform, bound 1/√in) and B zero, as PEFT initialises them.
    const a = m.params.get(m.lora!.paramNames()[0]!);
    const bound = 1 / Math.sqrt(a.shape[1]!);
    assert.ok(a.data.some((x) => x !== 0) && a.data.every((x) => Math.abs(x) <= bound));
    const off = m.withoutAdapters();
    assert.equal(off.params, m.params);
    for (const n of base.modelParamNames()) assert.equal(m.params.get(n).data, base.params.get(n).data, `${n} is the base's array, not a copy`);
    randomiseB(m, 2);
    const adapted = await m.evaluate(IDS), reference = await off.evaluate(IDS);
    assert.ok(maxDiff(adapted.logits.data as Float32Array, want.logits.data as Float32Array) > 1e-3, 'a non-zero B changes the logits');
    assert.deepEqual(Array.from(reference.logits.data as Float32Array), Array.from(want.logits.data as Float32Array), 'adapters off = the base model');
    assert.deepEqual(m.trainableNames().sort(), m.lora!.paramNames().sort(), 'only adapters train');
  });

  test(`LoRA ${model}: adapter gradients match finite differences`, async () => {
    const base = await CausalLM.load(fixture('models', model));
    const m = await withLora(base, cfgOf(targets), 3);
    randomiseB(m, 4);
    const r = await m.evaluate(IDS, { grads: true });
    const h = 1e-2;
    for (const n of m.lora!.paramNames().filter((_, i) => i % 3 === 0)) {
      const p = m.params.get(n);
      const g = r.grads![n]!;
      // The entry with the largest gradient (well above float32 noise in the difference quotient).
      let k = 0; g.forEach((x, i) => { if (Math.abs(x) > Math.abs(g[k]!)) k = i; });
      const at = (d: number) => { const v = p.data.slice(); v[k]! += d; m.params.set(n, v, p.shape); return m.evaluate(IDS).then((e) => e.loss); };
      const fd = ((await at(h)) - (await at(-h))) / (2 * h);
      m.params.set(n, p.data, p.shape);
      assert.ok(Math.abs(fd - g[k]!) <= 2e-2 * Math.abs(g[k]!) + 2e-4, `${n}[${k}]: analytic ${g[k]} vs finite difference ${fd}`);
    }
  });

  test(`LoRA ${model}: PEFT save → load gives identical logits; merge gives the adapted logits`, async () => {
    const base = await CausalLM.load(fixture('models', model));
    const m = await withLora(base, cfgOf(targets), 5);
    randomiseB(m, 6);
    const want = await m.evaluate(IDS);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-lora-'));
    await saveAdapter(m, dir, 'tiny-base');
    const cfg = JSON.parse(await readFile(path.join(dir, 'adapter_config.json'), 'utf8'));
    assert.equal(cfg.peft_type, 'LORA'); assert.equal(cfg.task_type, 'CAUSAL_LM'); assert.equal(cfg.r, 4); assert.equal(cfg.lora_alpha, 8);
    assert.equal(cfg.base_model_name_or_path, 'tiny-base');
    assert.equal(cfg.fan_in_fan_out, model === 'gpt2-tiny', 'Conv1D targets set fan_in_fan_out as PEFT does');
    const st = await readSafetensorsFile(path.join(dir, 'adapter_model.safetensors'));
    const first = m.lora!.modules[0]!;
    assert.deepEqual(st.get(`base_model.model.${first.name}.lora_A.weight`)!.shape, [4, first.in]);
    assert.deepEqual(st.get(`base_model.model.${first.name}.lora_B.weight`)!.shape, [first.out, 4]);
    const back = await loadAdapter(base, dir);
    assert.deepEqual(Array.from((await back.evaluate(IDS)).logits.data as Float32Array), Array.from(want.logits.data as Float32Array));
    const merged = await mergeAdapter(m);
    const out = path.join(dir, 'merged');
    await merged.save(out);
    const reloaded = await CausalLM.load(out);
    assert.equal(reloaded.lora, null);
    const err = maxDiff((await reloaded.evaluate(IDS)).logits.data as Float32Array, want.logits.data as Float32Array);
    assert.ok(err <= 1e-5, `merged folder's logits differ by ${err}`);
  });
}

test('LoRA refuses a target that matches no module, naming it and the modules that exist', async () => {
  const base = await CausalLM.load(fixture('models', 'gpt2-tiny'));
  await assert.rejects(withLora(base, cfgOf(['q_proj'])), /"q_proj" matches no module of this gpt2 model; its projections are c_attn, c_proj, c_fc/);
  const llama = await CausalLM.load(fixture('models', 'llama-tiny-gqa'));
  await assert.rejects(withLora(llama, cfgOf(['c_attn'])), /q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj/);
  await assert.rejects(withLora(llama, { ...cfgOf(['q_proj']), r: 0 }), /lora\.r: must be a positive integer/);
});

test('PPO with a LoRA policy trains the adapters only; the reference is the base with adapters off', async () => {
  const { PpoTrainer } = await import('../../engine/rlhf/ppo.js');
  const base = await CausalLM.load(fixture('models', 'llama-tiny-gqa'));
  const policy = await withLora(base, cfgOf(['q_proj', 'v_proj']), 7);
  const ref = policy.withoutAdapters();
  const before = new Map(policy.params.names().map((n) => [n, policy.params.get(n).data.slice()]));
  const baseLogits = Array.from((await base.evaluate(IDS)).logits.data as Float32Array);
  const ppo = await PpoTrainer.create(policy, ref, { batchSize: 4, miniBatches: 1, epochs: 2, lr: 1e-2, maxNewTokens: 4, padId: 0, eosId: null, seed: 3 });
  const prompts = [[3, 17, 42], [70, 2, 5], [9, 9, 1], [44, 12, 8]];
  // Reward: how many response tokens are even (something the policy can learn).
  for (let i = 0; i < 3; i++) await ppo.step(prompts, async (_p, rs) => ({ scores: rs.map((r) => r.filter((t) => t % 2 === 0).length) }));
  await policy.params.sync();
  for (const n of base.modelParamNames()) assert.deepEqual(policy.params.get(n).data, before.get(n)!, `${n} must stay bitwise unchanged`);
  assert.ok(policy.lora!.paramNames().some((n) => n.endsWith('lora_B.weight') && policy.params.get(n).data.some((x) => x !== 0)), 'the adapters train');
  assert.ok(policy.params.has('v_head.summary.weight'));
  assert.deepEqual(Array.from((await ref.evaluate(IDS)).logits.data as Float32Array), baseLogits, 'the reference is the base model');
  assert.ok(maxDiff((await policy.evaluate(IDS)).logits.data as Float32Array, baseLogits) > 0, 'the policy moved');
});

test('spec key policy.lora: defaults written in, a dropout outside [0, 1) refused naming the key', async () => {
  const { parseSpec } = await import('../../engine/experiments/spec.js');
  assert.equal(parseSpec({}).policy.lora, null);
  const s = parseSpec({ policy: { lora: { r: 8, targetModules: ['c_attn'] } } });
  assert.deepEqual(s.policy.lora, { r: 8, alpha: 16, dropout: 0, targetModules: ['c_attn'] });
  assert.throws(() => parseSpec({ policy: { lora: { r: 8, dropout: 1, targetModules: ['c_attn'] } } }), /policy\.lora\.dropout: must be in \[0, 1\)/);
  assert.throws(() => parseSpec({ policy: { lora: { r: 8, targetModules: ['c_attn'], rank: 2 } } }), /policy\.lora/);
});

test('rrlhf experiment run --lora: a study trains LoRA adapters and checkpoints only them and the value head', async () => {
  const { spawnSync } = await import('node:child_process');
  const { writeFile } = await import('node:fs/promises');
  const { repoRoot } = await import('../util/paths.js');
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-lora-cli-'));
  const spec = { name: 'lora cli', sft: { samples: 128, epochs: 1 }, ensemble: { heads: 2, pairs: 128, valPairs: 32 }, objectives: [{ name: 'single', kind: 'single' }], seeds: [0], ppo: { iterations: 2, batchSize: 8, miniBatches: 1, epochs: 1 }, eval: { every: 2, samples: 8 }, checkpointEvery: 2 };
  await writeFile(path.join(tmp, 'spec.json'), JSON.stringify(spec));
  const cli = path.join(repoRoot, 'bin/rrlhf.js');
  const bad = spawnSync(process.execPath, [cli, 'experiment', 'run', path.join(tmp, 'spec.json'), '--lora', '4', '--lora-targets', 'q_proj', '--data-dir', path.join(tmp, 'bad'), '--json'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /"q_proj" matches no module of this gpt2 model; its projections are c_attn, c_proj, c_fc/);
  const r = spawnSync(process.execPath, [cli, 'experiment', 'run', path.join(tmp, 'spec.json'), '--lora', '4', '--lora-targets', 'c_attn', '--data-dir', path.join(tmp, 'data'), '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { experiment: number; runs: { id: number; status: string }[] };
  assert.equal(out.runs[0]!.status, 'finished');
  const ckpt = await readSafetensorsFile(path.join(tmp, 'data', 'experiments', String(out.experiment), 'runs', String(out.runs[0]!.id), 'step-2', 'policy.safetensors'));
  assert.deepEqual([...ckpt.keys()].sort(), ['transformer.h.0.attn.c_attn.lora_A.weight', 'transformer.h.0.attn.c_attn.lora_B.weight', 'transformer.h.1.attn.c_attn.lora_A.weight', 'transformer.h.1.attn.c_attn.lora_B.weight', 'v_head.summary.bias', 'v_head.summary.weight']);
  assert.ok(ckpt.get('transformer.h.0.attn.c_attn.lora_B.weight')!.data.some((x) => x !== 0), 'B moved from zero');
});

for (const model of ['gpt2-tiny', 'llama-tiny-gqa']) {
  test(`LoRA ${model}: a PEFT adapter written by the PyTorch reference loads, and its logits, loss and dA, dB match float64 PyTorch`, async () => {
    // test/reference/lora_reference.py wrote the folder and expected.json (non-zero A and B).
    const dir = fixture('lora', model);
    const exp = JSON.parse(await readFile(path.join(dir, 'expected.json'), 'utf8')) as { input_ids: number[][]; logits: number[][][]; loss: number; grads: Record<string, number[]> };
    const m = await loadAdapter(await CausalLM.load(fixture('models', model)), dir);
    const r = await m.evaluate(exp.input_ids, { grads: true });
    const err = maxDiff(r.logits.data as Float32Array, exp.logits.flat(2));
    assert.ok(err <= 1e-4, `max |logits − reference| = ${err}`);
    assert.ok(Math.abs(r.loss - exp.loss) <= 1e-5 * exp.loss, `loss ${r.loss} vs ${exp.loss}`);
    assert.deepEqual(Object.keys(exp.grads).sort(), m.lora!.paramNames().sort());
    for (const [n, want] of Object.entries(exp.grads)) {
      const scale = Math.max(...want.map(Math.abs));
      const e = maxDiff(r.grads![n]!, want);
      assert.ok(e <= 1e-3 * scale + 1e-7, `${n}: max |grad − reference| = ${e} (max |grad| ${scale})`);
    }
  });
}

test('rrlhf bench ppo --lora 2 on a tiny Llama shape (and on --model DIR) prints ms_per_iteration, peak_memory_mb and its source', async () => {
  const { spawnSync } = await import('node:child_process');
  const { repoRoot } = await import('../util/paths.js');
  const cli = path.join(repoRoot, 'bin/rrlhf.js');
  const small = ['--batch', '4', '--prompt-len', '2', '--new-tokens', '3', '--epochs', '1', '--mini-batches', '1', '--iterations', '1', '--lora', '2', '--json'];
  const bench = (args: string[]) => {
    const r = spawnSync(process.execPath, [cli, 'bench', 'ppo', ...args, ...small], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { ms_per_iteration: number; peak_memory_mb: number; peak_memory_source: string; lora: { r: number; target_modules: string[]; trainable_params: number }; config: Record<string, number | string> };
  };
  const shape = bench(['--arch', 'llama', '--layers', '1', '--d', '16', '--heads', '4', '--kv-heads', '2', '--intermediate', '32', '--vocab', '20']);
  assert.ok(shape.ms_per_iteration > 0 && Number.isFinite(shape.ms_per_iteration), `ms_per_iteration ${shape.ms_per_iteration}`);
  // A Node process with ONNX Runtime loaded holds tens of MB; a tiny model needs nowhere near gigabytes.
  assert.ok(shape.peak_memory_mb > 10 && shape.peak_memory_mb < 4096, `peak_memory_mb ${shape.peak_memory_mb}`);
  assert.match(shape.peak_memory_source, /maxRSS|VmHWM/);
  assert.deepEqual([shape.config.kv_heads, shape.config.intermediate], [2, 32]);
  // q_proj A [2,16] + B [16,2], v_proj A [2,16] + B [2 kv heads × 4, 2], value head 16 + 1.
  assert.deepEqual([shape.lora.r, shape.lora.target_modules, shape.lora.trainable_params], [2, ['q_proj', 'v_proj'], 64 + 48 + 17]);
  const folder = bench(['--model', fixture('models', 'llama-tiny-gqa')]);
  assert.deepEqual([folder.config.layers, folder.config.d, folder.config.kv_heads, folder.config.vocab], [2, 32, 2, 96], 'the folder\'s shape, not the flag defaults');
});
