import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { F } from '../../engine/graph/index.js';
import { ParamStore, Rng, initTensor } from '../../engine/runtime/params.js';
import { Trainer } from '../../engine/runtime/optim.js';
import { f32 } from '../../engine/runtime/session.js';

/** torch.optim.AdamW + clip_grad_norm_, written out by hand in float64. */
function referenceAdamW(
  params: Record<string, Float64Array>, gradFn: (p: Record<string, Float64Array>) => Record<string, Float64Array>,
  opts: { lrs: number[]; b1: number; b2: number; eps: number; wd: number; maxNorm: number; decay: (n: string) => boolean },
) {
  const m: Record<string, Float64Array> = {}, v: Record<string, Float64Array> = {};
  for (const k of Object.keys(params)) { m[k] = new Float64Array(params[k]!.length); v[k] = new Float64Array(params[k]!.length); }
  opts.lrs.forEach((lr, i) => {
    const t = i + 1;
    const g = gradFn(params);
    let sq = 0;
    for (const k of Object.keys(g)) for (const x of g[k]!) sq += x * x;
    const coef = Math.min(1, opts.maxNorm / (Math.sqrt(sq) + 1e-6));
    for (const k of Object.keys(params)) {
      const p = params[k]!;
      for (let j = 0; j < p.length; j++) {
        const gj = g[k]![j]! * coef;
        if (opts.decay(k)) p[j] = p[j]! * (1 - lr * opts.wd);
        m[k]![j] = opts.b1 * m[k]![j]! + (1 - opts.b1) * gj;
        v[k]![j] = opts.b2 * v[k]![j]! + (1 - opts.b2) * gj * gj;
        const mhat = m[k]![j]! / (1 - opts.b1 ** t);
        const denom = Math.sqrt(v[k]![j]!) / Math.sqrt(1 - opts.b2 ** t) + opts.eps;
        p[j] = p[j]! - lr * mhat / denom;
      }
    }
  });
  return params;
}

test('in-graph AdamW matches a hand-computed reference (bias correction, decoupled decay, clipping, lr schedule)', async () => {
  const rng = new Rng(7);
  const store = new ParamStore();
  store.add('w', [3, 4], { kind: 'normal', std: 1 }, rng);
  store.add('b', [4], { kind: 'normal', std: 1 }, rng);
  const C = initTensor([3, 4], { kind: 'normal', std: 2 }, rng);
  const D = initTensor([4], { kind: 'normal', std: 2 }, rng);
  // loss = Σ C⊙w + ½Σ w² + Σ D⊙b + ½Σ b²  ⇒  ∂w = C + w, ∂b = D + b
  const trainer = await Trainer.create({
    params: store,
    optimizer: { lr: 0.1, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1, maxGradNorm: 2.0 },
    build: (g, p) => {
      const c = g.constant(C, 'float32', [3, 4]);
      const d = g.constant(D, 'float32', [4]);
      const w = p.w!, b = p.b!;
      const loss = F.add(F.add(F.sum(F.mul(c, w)), F.mul(F.sum(F.mul(w, w)), 0.5)), F.add(F.sum(F.mul(d, b)), F.mul(F.sum(F.mul(b, b)), 0.5)));
      return { loss };
    },
  });
  const ref = referenceAdamW(
    { w: Float64Array.from(store.get('w').data), b: Float64Array.from(store.get('b').data) },
    (p) => ({ w: p.w!.map((x, j) => x + C[j]!), b: p.b!.map((x, j) => x + D[j]!) }),
    { lrs: [0.1, 0.05, 0.2, 0.1, 0.01, 0.3], b1: 0.8, b2: 0.95, eps: 1e-6, wd: 0.1, maxNorm: 2.0, decay: (n) => n === 'w' },
  );
  let clipped = false;
  for (const lr of [0.1, 0.05, 0.2, 0.1, 0.01, 0.3]) {
    const r = await trainer.run({}, { lr });
    if (r.gradNorm > 2) clipped = true;
  }
  assert.ok(clipped, 'the test must exercise clipping');
  assert.equal(trainer.step, 6);
  await store.sync(); // a no-op on CPU; with device-resident state (RRLHF_BINDING=native, GPUs) it downloads
  for (const k of ['w', 'b']) {
    const got = store.get(k).data;
    ref[k]!.forEach((x, j) => assert.ok(Math.abs(got[j]! - x) <= 1e-5 + 1e-5 * Math.abs(x), `${k}[${j}]: ${got[j]} vs reference ${x}`));
  }
});

function regression(seed: number) {
  const rng = new Rng(seed);
  const store = new ParamStore();
  store.add('w', [4, 2], { kind: 'normal', std: 0.5 }, rng);
  store.add('b', [2], { kind: 'zeros' }, rng);
  const build = (g: Parameters<Parameters<typeof Trainer.create>[0]['build']>[0], p: Record<string, import('../../engine/graph/index.js').Tensor>) => {
    const x = g.input('x', 'float32', ['N', 4]);
    const y = g.input('y', 'float32', ['N', 2]);
    const d = F.sub(F.linear(x, p.w!, p.b!), y);
    return { loss: F.mean(F.mul(d, d)), metrics: { abs_err: F.mean(F.abs(d)) } };
  };
  return { store, build };
}

test('gradient accumulation over micro-batches equals one step on the whole batch', async () => {
  const rng = new Rng(3);
  const X = Array.from({ length: 8 * 4 }, () => rng.normal());
  const Y = Array.from({ length: 8 * 2 }, () => rng.normal());
  const whole = { x: f32(X, [8, 4]), y: f32(Y, [8, 2]) };
  const halves = [0, 1].map((h) => ({ x: f32(X.slice(h * 16, h * 16 + 16), [4, 4]), y: f32(Y.slice(h * 8, h * 8 + 8), [4, 2]) }));
  const a = regression(1), b = regression(1);
  const opt = { lr: 0.05, weightDecay: 0.01, maxGradNorm: 1.0 };
  const ta = await Trainer.create({ params: a.store, build: a.build, optimizer: opt });
  const tb = await Trainer.create({ params: b.store, build: b.build, optimizer: opt });
  for (let s = 0; s < 3; s++) {
    const ra = await ta.run(whole);
    const rb = await tb.run(halves);
    assert.ok(Math.abs(ra.loss - rb.loss) < 1e-5, `loss ${ra.loss} vs ${rb.loss}`);
    assert.ok(Math.abs(ra.gradNorm - rb.gradNorm) < 1e-5, `grad norm ${ra.gradNorm} vs ${rb.gradNorm}`);
    assert.ok(Math.abs(ra.metrics.abs_err! - rb.metrics.abs_err!) < 1e-5);
  }
  await a.store.sync(); await b.store.sync();
  for (const k of ['w', 'b']) {
    const pa = a.store.get(k).data, pb = b.store.get(k).data;
    pa.forEach((x, j) => assert.ok(Math.abs(x - pb[j]!) < 1e-5, `${k}[${j}] ${x} vs ${pb[j]}`));
  }
});

test('frozen parameters are fed but not updated', async () => {
  const { store, build } = regression(2);
  const before = store.get('w').data.slice();
  const t = await Trainer.create({ params: store, build, optimizer: { lr: 0.1 }, trainable: ['b'] });
  const rng = new Rng(0);
  await t.run({ x: f32(Array.from({ length: 12 }, () => rng.normal()), [3, 4]), y: f32([1, 2, 3, 4, 5, 6], [3, 2]) });
  await store.sync();
  assert.deepEqual(store.get('w').data, before);
  assert.notDeepEqual(Array.from(store.get('b').data), [0, 0]);
});

test('Rng is deterministic per seed and its state can be saved and restored', () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const sa = Array.from({ length: 5 }, () => a.uniform());
  assert.deepEqual(sa, Array.from({ length: 5 }, () => b.uniform()));
  assert.notDeepEqual(sa, Array.from({ length: 5 }, () => c.uniform()));
  a.normal();
  const st = a.getState();
  const next = [a.normal(), a.normal(), a.uniform()];
  const d = new Rng(0);
  d.setState(st);
  assert.deepEqual([d.normal(), d.normal(), d.uniform()], next);
  // Rough distribution sanity: mean ≈ 0, var ≈ 1 over many normals.
  const r = new Rng(1);
  const xs = Array.from({ length: 20000 }, () => r.normal());
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const vr = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(vr - 1) < 0.05, `mean ${mean} var ${vr}`);
});

test('ParamStore: seeded init is reproducible; save/load round-trips through safetensors', async () => {
  const mk = () => {
    const s = new ParamStore();
    const rng = new Rng(5);
    s.add('a.weight', [4, 3], { kind: 'kaiming_uniform', fanIn: 4 }, rng);
    s.add('a.bias', [3], { kind: 'uniform', low: -0.1, high: 0.1 }, rng);
    s.add('ln.weight', [3], { kind: 'ones' }, rng);
    return s;
  };
  const s1 = mk(), s2 = mk();
  assert.deepEqual(s1.get('a.weight').data, s2.get('a.weight').data);
  const bound = 1 / Math.sqrt(4);
  assert.ok(s1.get('a.weight').data.every((x) => Math.abs(x) <= bound));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-params-'));
  const file = path.join(dir, 'p.safetensors');
  await s1.save(file, { format: 'pt' });
  const back = await ParamStore.load(file);
  assert.deepEqual(back.names().sort(), s1.names().sort());
  for (const n of s1.names()) assert.deepEqual(back.get(n).data, s1.get(n).data);
  assert.throws(() => s1.add('a.bias', [3], { kind: 'zeros' }, new Rng(0)), /already exists/);
  assert.throws(() => s1.set('a.bias', new Float32Array(2)), /a\.bias.*2 values/);
});
