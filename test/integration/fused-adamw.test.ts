// AdamWStep (engine/graph/ops/adamw.ts): the native binding's one-pass CPU kernel (native/adamw_op.c)
// must compute exactly what the standard-op form computes, so a run's numbers do not depend on which
// binding ran it; and the Trainer must actually use the kernel where it can.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ADDON_PATH } from '../../engine/runtime/native.js';
import { Graph, F } from '../../engine/graph/index.js';
import { compile, f32 } from '../../engine/runtime/session.js';
import { emitOnnx } from '../../engine/graph/lowering.js';
import { loweringFor } from '../../engine/runtime/devices.js';
import { ParamStore, Rng } from '../../engine/runtime/params.js';
import { Trainer } from '../../engine/runtime/optim.js';

const skipped = path.join(path.dirname(ADDON_PATH), 'SKIPPED');
const skip = !existsSync(ADDON_PATH) && existsSync(skipped) ? `the native binding was not built here: ${readFileSync(skipped, 'utf8').trim()}` : false;

function stepGraph(decays: boolean) {
  const g = new Graph('adamw_step');
  const t = (name: string) => g.input(name, 'float32', ['n']);
  const s = (name: string) => g.input(name, 'float32', []);
  const p = t('p'), grad = t('g'), m = t('m'), v = t('v');
  const [p2, m2, v2] = F.adamwStep(p, grad, F.mul(grad, grad), m, v, {
    decay: decays ? s('decay') : null, b1: 0.9, mScale: s('mScale'), b2: 0.999, vScale: s('vScale'), epsC: s('epsC'), stepSize: s('stepSize'),
  });
  g.output('p2', p2); g.output('m2', m2); g.output('v2', v2);
  return g;
}

/** The update in float32, each operation rounded as ONNX Runtime's kernels round it. */
function byHand(x: Record<string, Float32Array>, sc: Record<string, number>, decays: boolean) {
  const r = Math.fround;
  const n = x.p!.length, p2 = new Float32Array(n), m2 = new Float32Array(n), v2 = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const g = x.g![i]!;
    m2[i] = r(r(x.m![i]! * r(0.9)) + r(g * sc.mScale!));
    v2[i] = r(r(x.v![i]! * r(0.999)) + r(r(g * g) * sc.vScale!));
    const p = decays ? r(x.p![i]! * sc.decay!) : x.p![i]!;
    p2[i] = r(p - r(r(m2[i]! / r(r(Math.sqrt(v2[i]!)) + sc.epsC!)) * sc.stepSize!));
  }
  return { p2, m2, v2 };
}

for (const decays of [true, false]) {
  test(`AdamWStep${decays ? ' with weight decay' : ''}: the engine's kernel, the standard-op form and float32 by hand agree bit for bit`, { skip }, async () => {
    const g = stepGraph(decays);
    assert.ok(new TextDecoder().decode(emitOnnx(g, g.outputs, loweringFor('cpu', 'native')).bytes).includes('AdamWStep'), 'lowered for the native binding, the step is the fused kernel');
    assert.ok(!new TextDecoder().decode(emitOnnx(g, g.outputs, loweringFor('cpu', 'onnxruntime-node')).bytes).includes('AdamWStep'), 'onnxruntime-node has no such kernel: standard ops');
    const fused = await compile(g, { binding: 'native' }), plain = await compile(g, { binding: 'onnxruntime-node' });
    // 1000 values run on one thread; 300 001 split across threads (an uneven split).
    for (const n of [1000, 300_001]) {
      const rng = new Rng(n);
      const x: Record<string, Float32Array> = {};
      for (const k of ['p', 'g', 'm']) x[k] = Float32Array.from({ length: n }, () => rng.normal() * (k === 'g' ? 1e-2 : 1));
      x.v = Float32Array.from({ length: n }, () => Math.abs(rng.normal()) * 1e-4);
      const sc = { decay: 1 - 1e-3 * 0.1, mScale: 0.1 * 0.73, vScale: 0.001 * 0.73 * 0.73, epsC: 1e-8 * 0.03, stepSize: 1e-3 / 0.1 * 0.03 };
      const feeds = { ...Object.fromEntries(Object.entries(x).map(([k, a]) => [k, f32(a, [n])])), ...Object.fromEntries(Object.entries(sc).filter(([k]) => decays || k !== 'decay').map(([k, s]) => [k, f32([s], [])])) };
      const a = await fused.run(feeds), b = await plain.run(feeds);
      const want = byHand(x, Object.fromEntries(Object.entries(sc).map(([k, s]) => [k, Math.fround(s)])), decays);
      for (const k of ['p2', 'm2', 'v2'] as const) {
        const fa = a[k]!.data as Float32Array, fb = b[k]!.data as Float32Array;
        assert.equal(fa.length, n);
        const diff = fa.findIndex((y, i) => !Object.is(y, fb[i]));
        assert.equal(diff, -1, `${k}[${diff}] n ${n}: kernel ${fa[diff]} vs standard ops ${fb[diff]}`);
        const off = fa.findIndex((y, i) => !Object.is(y, want[k][i]));
        assert.equal(off, -1, `${k}[${off}] n ${n}: kernel ${fa[off]} vs by hand ${want[k][off]}`);
      }
      assert.ok((a.p2!.data as Float32Array).some((y, i) => y !== x.p![i]), 'the parameters moved');
    }
  });
}

test('a Trainer on the native binding updates through the kernel and trains exactly as on onnxruntime-node (decay, clipping, several groups)', { skip }, async () => {
  const run = async (binding: 'native' | 'onnxruntime-node') => {
    const prev = process.env.RRLHF_BINDING;
    process.env.RRLHF_BINDING = binding;
    try {
      const rng = new Rng(3);
      const store = new ParamStore();
      store.add('w', [300, 256], { kind: 'normal', std: 0.05 }, rng); // its own group (≥ 65 536 values)
      store.add('u', [16, 8], { kind: 'normal', std: 0.5 }, rng);
      store.add('b', [8], { kind: 'normal', std: 0.5 }, rng); // no decay (rank 1)
      const trainer = await Trainer.create({
        params: store, optimizer: { lr: 3e-2, weightDecay: 0.1, maxGradNorm: 0.5 },
        build: (g, p) => {
          const x = g.input('x', 'float32', [4, 300]);
          const h = F.tanh(F.matmul(x, p.w!));
          const y = F.add(F.matmul(F.slice(h, 1, 0, 16), p.u!), p.b!);
          return { loss: F.sum(F.mul(y, y)) };
        },
      });
      const data = new Rng(9);
      const norms: number[] = [];
      for (let s = 0; s < 4; s++) norms.push((await trainer.run({ x: f32(Float32Array.from({ length: 1200 }, () => data.normal()), [4, 300]) })).gradNorm);
      await store.sync();
      const { m, v } = await trainer.moments();
      const used = new TextDecoder().decode((trainer as unknown as { fused?: { modelBytes: Uint8Array } }).fused!.modelBytes);
      return { w: Float32Array.from(store.get('w').data), u: Float32Array.from(store.get('u').data), b: Float32Array.from(store.get('b').data), m, v, norms, used };
    } finally { if (prev === undefined) delete process.env.RRLHF_BINDING; else process.env.RRLHF_BINDING = prev; }
  };
  const a = await run('native'), b = await run('onnxruntime-node');
  assert.equal((a.used.match(/AdamWStep/g) ?? []).length, 1, 'native: the kernel for w\'s group; the two small groups (u; b) stay in standard ops');
  assert.ok(!b.used.includes('AdamWStep'), 'onnxruntime-node: standard ops');
  assert.ok(a.norms[0]! > 0.5, `clipping is active (‖g‖ ${a.norms[0]} > 0.5)`);
  assert.deepEqual(a.norms, b.norms);
  for (const k of ['w', 'u', 'b'] as const) assert.deepEqual(a[k], b[k], `${k} after four steps`);
  assert.deepEqual(a.m, b.m);
  assert.deepEqual(a.v, b.v);
});
