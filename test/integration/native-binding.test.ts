// The engine's own ONNX Runtime binding (native/ort_binding.c), which keeps outputs in device memory
// on CUDA. Its CPU provider runs the same code (IO binding, device handles fed back, downloads through
// the identity copier), so here every residency path of ParamStore, the Trainer, the KV-cache sampler
// and PPO runs through it with RRLHF_BINDING=native and must reproduce onnxruntime-node's results bit
// for bit (same ORT kernels, same thread counts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { nativeBinding, NativeSession, ADDON_PATH } from '../../engine/runtime/native.js';
import { bindingFor, keepsOutputsOnDevice } from '../../engine/runtime/devices.js';
import { CausalLM } from '../../engine/models/model.js';
import { PpoTrainer } from '../../engine/rlhf/ppo.js';
import { generate, sampleInGraph, scoreLogprobs } from '../../engine/models/sampler.js';
import { benchConfig } from '../../engine/bench/lm.js';
import { Rng } from '../../engine/runtime/params.js';
import { Graph, F } from '../../engine/graph/index.js';
import { compile, toHost } from '../../engine/runtime/session.js';

// scripts/build-native.js skips (no C compiler or no Node headers) with its reason in SKIPPED; a
// binding that is neither built nor skipped is a failure below.
const skipped = path.join(path.dirname(ADDON_PATH), 'SKIPPED');
const skip = !existsSync(ADDON_PATH) && existsSync(skipped) ? `the native binding was not built here: ${readFileSync(skipped, 'utf8').trim()}` : false;

async function withBinding<T>(b: 'native' | 'onnxruntime-node', fn: () => Promise<T>): Promise<T> {
  const prev = process.env.RRLHF_BINDING;
  process.env.RRLHF_BINDING = b;
  try { return await fn(); } finally { if (prev === undefined) delete process.env.RRLHF_BINDING; else process.env.RRLHF_BINDING = prev; }
}

test('the binding is built and loads against onnxruntime-node\'s libonnxruntime', { skip }, () => {
  const b = nativeBinding();
  assert.ok(b.addon, b.reason);
  assert.match(b.version!, /^1\.\d+\.\d+/);
  assert.equal(withEnv('native', () => bindingFor('cpu')), 'native');
  assert.equal(withEnv(undefined, () => bindingFor('cpu')), 'native', 'CPU uses the native binding by default where it is built');
  assert.equal(withEnv('onnxruntime-node', () => bindingFor('cpu')), 'onnxruntime-node');
  assert.equal(withEnv(undefined, () => keepsOutputsOnDevice('cpu')), true);
  assert.equal(withEnv('onnxruntime-node', () => keepsOutputsOnDevice('cpu')), false);
});

function withEnv<T>(b: string | undefined, fn: () => T): T {
  const prev = process.env.RRLHF_BINDING;
  if (b === undefined) delete process.env.RRLHF_BINDING; else process.env.RRLHF_BINDING = b;
  try { return fn(); } finally { if (prev === undefined) delete process.env.RRLHF_BINDING; else process.env.RRLHF_BINDING = prev; }
}

test('device outputs are handles: fed back, downloaded, released; misuse is a clear error', { skip }, async () => {
  await withBinding('native', async () => {
    const g = new Graph('twice');
    const x = g.input('x', 'float32', ['n']);
    g.output('y', F.mul(x, 2));
    g.output('s', F.sum(x));
    const c = await compile(g, { keepOnDevice: (n) => n === 'y' });
    const r1 = await c.runRaw({ x: { dtype: 'float32', shape: [3], data: new Float32Array([1, 2, 3]) } });
    assert.equal(r1.y!.location, 'gpu-buffer');
    assert.equal(r1.s!.location, 'cpu');
    assert.deepEqual([...(r1.s!.data as Float32Array)], [6]);
    const r2 = await c.runRaw({ x: r1.y! }); // the handle goes straight back in
    assert.deepEqual([...((await toHost(r2.y!)).data as Float32Array)], [4, 8, 12]);
    await assert.rejects(r2.y!.getData(), /downloadAll\(\) or toHost\(\)/, 'one download mechanism, with a pointer to it');
    assert.deepEqual([...(r2.s!.data as Float32Array)], [12]);
    assert.deepEqual(r2.y!.dims, [3]);
    r1.y!.dispose();
    await assert.rejects(c.runRaw({ x: r1.y! }), /disposed|released/);
    // run() downloads every output
    const h = await c.run({ x: { dtype: 'float32', shape: [2], data: new Float32Array([5, 6]) } });
    assert.deepEqual([...(h.y!.data as Float32Array)], [10, 12]);
  });
});

test('a bad model or provider is reported with ORT\'s reason', { skip }, async () => {
  await assert.rejects(NativeSession.create(new Uint8Array([1, 2, 3]), { provider: 'cpu' }, ['y']), /protobuf|parse|model/i);
  await assert.rejects(NativeSession.create(new Uint8Array([1]), { provider: 'tpu' as 'cpu' }, ['y']), /provider "tpu" is not supported/);
});

const shape = { arch: 'gpt2' as const, layers: 2, d: 32, heads: 4, vocab: 61 };

/** Two PPO iterations plus a sampled continuation; every number that comes out, and the final weights. */
async function ppoRun() {
  const policy = CausalLM.init(benchConfig(shape, 40), 3, 'cpu');
  const ref = await policy.clone();
  const ppo = await PpoTrainer.create(policy, ref, {
    batchSize: 4, miniBatches: 2, epochs: 2, lr: 3e-3, maxNewTokens: 6, klCoef: 0.05, padId: 0, eosId: null, seed: 11,
  });
  const rng = new Rng(5);
  const prompts = Array.from({ length: 4 }, (_, i) => Array.from({ length: 3 + (i % 2) }, () => 1 + rng.int(60)));
  const reward = async (_p: number[][], rs: number[][]) => ({ scores: rs.map((r) => r.filter((t) => t % 3 === 0).length / r.length) });
  const metrics: Record<string, number>[] = [];
  for (let i = 0; i < 2; i++) {
    const r = await ppo.step(prompts, reward);
    metrics.push(Object.fromEntries(Object.entries(r.metrics).filter(([k]) => !k.startsWith('time/'))));
  }
  const resident = [...policy.params.names()].filter((n) => {
    const f = policy.params.feed(n);
    return f instanceof ort.Tensor && f.location === 'gpu-buffer';
  }).length;
  const gen = await generate(policy, prompts, { maxNewTokens: 5, temperature: 1, seed: 9 });
  await policy.params.sync();
  const weights = Object.fromEntries(policy.params.entries().map(([k, p]) => [k, Array.from(p.data)]));
  return { metrics, weights, tokens: gen.tokens, logprobs: gen.logprobs, resident };
}

test('PPO (rollout with a KV cache, scoring, AdamW steps) gives identical results through both bindings', { skip }, async () => {
  // Host sampling on both sides, so the draws are the same (in-graph sampling is tested below); ORT's
  // MatMul in the decode step on both sides too (the native binding's own decode kernel sums in another
  // order: test/integration/decode-matmul.test.ts).
  process.env.RRLHF_HOST_SAMPLING = '1';
  process.env.RRLHF_DECODE_MATMUL = '0';
  let viaOrt, viaNative;
  try {
    viaOrt = await withBinding('onnxruntime-node', ppoRun);
    viaNative = await withBinding('native', ppoRun);
  } finally { delete process.env.RRLHF_HOST_SAMPLING; delete process.env.RRLHF_DECODE_MATMUL; }
  assert.equal(viaOrt.resident, 0, 'onnxruntime-node on CPU keeps nothing on a device');
  assert.ok(viaNative.resident > 0, 'through the native binding the trained weights stay as device values');
  assert.deepEqual(viaNative.metrics, viaOrt.metrics);
  assert.deepEqual(viaNative.tokens, viaOrt.tokens);
  assert.deepEqual(viaNative.logprobs, viaOrt.logprobs);
  assert.deepEqual(viaNative.weights, viaOrt.weights);
});

test('in-graph sampling inverts the CDF of softmax(logits/τ) as the host does, and returns the token\'s log-prob', async () => {
  const B = 64, V = 300, temp = 0.8;
  const rng = new Rng(17);
  const logits = Float32Array.from({ length: B * V }, () => rng.normal() * 3);
  const u = Float32Array.from({ length: B }, () => rng.uniform());
  const g = new Graph('sample');
  const x = g.input('logits', 'float32', ['B', V]);
  const { token, logprob } = sampleInGraph(g, x, V);
  g.output('token', token); g.output('logprob', logprob);
  const c = await compile(g);
  const r = await c.run({ logits: { dtype: 'float32', shape: [B, V], data: logits }, u: { dtype: 'float32', shape: [B], data: u }, inv_temp: { dtype: 'float32', shape: [], data: new Float32Array([1 / temp]) } });
  let compared = 0;
  for (let b = 0; b < B; b++) {
    const row = Array.from(logits.subarray(b * V, (b + 1) * V), (l) => l / temp);
    const max = Math.max(...row);
    const logZ = max + Math.log(row.reduce((a, l) => a + Math.exp(l - max), 0));
    let cum = 0, want = V - 1, nearEdge = false;
    for (let i = 0; i < V; i++) {
      cum += Math.exp(row[i]! - logZ);
      if (Math.abs(cum - u[b]!) < 1e-5) nearEdge = true; // float32 vs float64 may pick either side
      if (cum >= u[b]!) { want = i; break; }
    }
    const got = Number((r.token!.data as BigInt64Array)[b]);
    assert.ok(got >= 0 && got < V);
    assert.ok(Math.abs((r.logprob!.data as Float32Array)[b]! - (row[got]! - logZ)) < 1e-4, `row ${b}: log-prob of the returned token`);
    if (nearEdge) continue;
    assert.equal(got, want, `row ${b}: u=${u[b]}`);
    compared++;
  }
  assert.ok(compared > B - 4, `only ${compared} rows compared`);
});

test('generation with in-graph sampling (native binding): log-probs agree with rescoring the sampled tokens', { skip }, async () => {
  await withBinding('native', async () => {
    const m = CausalLM.init(benchConfig(shape, 40), 4, 'cpu');
    const prompts = [[5, 6, 7], [8, 9], [10, 11, 12, 13]];
    const gen = await generate(m, prompts, { maxNewTokens: 6, temperature: 1, seed: 2, stopAtEos: false });
    const again = await generate(m, prompts, { maxNewTokens: 6, temperature: 1, seed: 2, stopAtEos: false });
    assert.deepEqual(again.tokens, gen.tokens, 'seeded: the same draws');
    const other = await generate(m, prompts, { maxNewTokens: 6, temperature: 1, seed: 3, stopAtEos: false });
    assert.notDeepEqual(other.tokens, gen.tokens, 'another seed draws differently');
    // Rescore prompt+response in one pass: the log-probs the sampler returned must be the model's.
    const rows = prompts.map((p, i) => [...p, ...gen.tokens[i]!]);
    const lp = await scoreLogprobs(m, rows);
    const T = Math.max(...rows.map((r) => r.length));
    rows.forEach((r, i) => {
      const pad = T - r.length, n = gen.tokens[i]!.length;
      for (let j = 0; j < n; j++) {
        const at = pad + prompts[i]!.length - 1 + j; // logit position predicting response token j
        assert.ok(Math.abs(lp[i]![at]! - gen.logprobs[i]![j]!) < 1e-4, `row ${i} token ${j}: ${lp[i]![at]} vs ${gen.logprobs[i]![j]}`);
      }
    });
  });
});

test('greedy decoding inside the graph picks the tokens the host picks', { skip }, async () => {
  const run = (b: 'native' | 'onnxruntime-node') => withBinding(b, async () => {
    const m = CausalLM.init(benchConfig(shape, 40), 6, 'cpu');
    return generate(m, [[5, 6, 7], [8, 9]], { maxNewTokens: 6, temperature: 0, stopAtEos: false });
  });
  const host = await run('onnxruntime-node'), inGraph = await run('native');
  assert.deepEqual(inGraph.tokens, host.tokens);
  inGraph.logprobs.flat().forEach((lp, i) => assert.ok(Math.abs(lp - host.logprobs.flat()[i]!) < 1e-5, `${lp} vs ${host.logprobs.flat()[i]}`));
});

test('without ORT\'s CUDA provider library, cuda is reported unavailable with what to do', { skip }, async () => {
  const { cudaProviderInstalled } = await import('../../engine/runtime/native.js');
  const { probeDevice } = await import('../../engine/runtime/devices.js');
  const st = await probeDevice('cuda');
  if (cudaProviderInstalled()) { assert.ok(st.available || st.reason, 'a probe result'); return; }
  assert.equal(st.available, false);
  assert.match(st.reason!, /CUDA provider is not installed .*README/);
});

test('the addon rejects malformed inputs before ORT reads them, and non-tensor outputs without hanging', { skip }, async () => {
  const { encodeModel, OnnxDType } = await import('../../engine/graph/onnx-proto.js');
  const addon = nativeBinding().addon!;
  const io = { inputs: [{ name: 'x', elemType: OnnxDType.float32, dims: ['n'] }] };
  const add = encodeModel({ irVersion: 8, producer: 't', opsets: [{ domain: '', version: 18 }], graph: { name: 'g', initializers: [], ...io,
    nodes: [{ opType: 'Add', inputs: ['x', 'x'], outputs: ['y'], attrs: {} }], outputs: [{ name: 'y', elemType: OnnxDType.float32, dims: ['n'] }] } });
  const s = await addon.createSession(add, { provider: 'cpu' });
  const host = (dims: unknown[], data: ArrayBufferView) => ({ type: OnnxDType.float32, dims, data }) as never;
  assert.throws(() => addon.run(s, ['x'], [host([65536], new Float32Array(1024))], ['y'], [false]), /holds 4096 bytes but its dims need 262144/);
  assert.throws(() => addon.run(s, ['x'], [host(['3'], new Float32Array(3))], ['y'], [false]), /dims\[0\] is not a non-negative integer/);
  assert.throws(() => addon.run(s, ['x'], [host([-1], new Float32Array(3))], ['y'], [false]), /not a non-negative integer/);
  assert.throws(() => addon.createSession(add, { provider: 'cpu', configs: [null as never] }), /configs must be/);
  // A subarray view is read from its own offset.
  const base = new Float32Array([9, 9, 1, 2]);
  const [out] = await addon.run(s, ['x'], [host([2], base.subarray(2))], ['y'], [false]);
  assert.deepEqual([...new Float32Array(out!.data!)], [2, 4]);
  // An output the host cannot hold as numbers (a string tensor): the promise rejects, naming it.
  const STRING = 8;
  const str = encodeModel({ irVersion: 8, producer: 't', opsets: [{ domain: '', version: 18 }], graph: { name: 'g', initializers: [], ...io,
    nodes: [{ opType: 'Cast', inputs: ['x'], outputs: ['y'], attrs: { to: { type: 'int', value: STRING } } }], outputs: [{ name: 'y', elemType: STRING as never, dims: ['n'] }] } });
  const ss = await addon.createSession(str, { provider: 'cpu' });
  await assert.rejects(addon.run(ss, ['x'], [host([2], new Float32Array(2))], ['y'], [false]), /output "y" has element type 8, which cannot be copied/);
});

test('sync() and toHost() download through a graph run: device tensors stay valid and on the device', { skip }, async () => {
  await withBinding('native', async () => {
    const { Trainer } = await import('../../engine/runtime/optim.js');
    const { ParamStore } = await import('../../engine/runtime/params.js');
    const { toHost, f32 } = await import('../../engine/runtime/session.js');
    const store = new ParamStore();
    const rng = new Rng(1);
    store.add('w', [3, 2], { kind: 'normal', std: 1 }, rng);
    const t = await Trainer.create({ params: store, optimizer: { lr: 0.1 }, build: (g, p) => {
      const x = g.input('x', 'float32', ['B', 3]);
      return { loss: F.mean(F.mul(F.matmul(x, p.w!), F.matmul(x, p.w!))) };
    } });
    const x = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    await t.run({ x });
    const dev = store.feed('w') as ort.Tensor;
    assert.equal(dev.location, 'gpu-buffer');
    await store.sync();
    assert.equal(dev.location, 'gpu-buffer', 'the device copy is untouched by the download');
    assert.equal(store.feed('w'), dev);
    const host = Array.from(store.get('w').data);
    assert.deepEqual(Array.from((await toHost(dev)).data as Float32Array), host);
    assert.equal(dev.location, 'gpu-buffer', 'toHost leaves it on the device too');
    const moments = await t.moments();
    assert.equal(moments.m.size, 1);
    await t.run({ x }); // the state is still usable after the downloads
    await store.sync();
    assert.notDeepEqual(Array.from(store.get('w').data), host);
  });
});

test('a device tensor is downloaded through the binding that made it, whatever the current setting', { skip }, async () => {
  const { downloadAll } = await import('../../engine/runtime/session.js');
  const t = await withBinding('native', async () => {
    const g = new Graph('keep');
    g.output('y', F.mul(g.input('x', 'float32', [2]), 3));
    const c = await compile(g, { keepOnDevice: () => true });
    return (await c.runRaw({ x: { dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) } })).y!;
  });
  assert.equal(t.location, 'gpu-buffer');
  const [data] = await withBinding('onnxruntime-node', () => downloadAll([t]));
  assert.deepEqual(Array.from(data as Float32Array), [3, 6]);
  t.dispose();
});
