// Gradient checks for every differentiable op (analytic grad() vs central differences in float64),
// plus exact forward checks of the non-differentiable ops and of grad()'s handling of integer inputs,
// stop_gradient and unused wrt. See test/util/gradcheck.ts for the method.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, F, type Tensor, type Dim } from '../../engine/graph/index.js';
import { grad } from '../../engine/autodiff/grad.js';
import { f32, f64, i64 } from '../../engine/runtime/session.js';
import { gradcheck, gen, mulberry32, runGraph, toNumbers, hostTensor, type InputSpec, type GradcheckOptions } from '../util/gradcheck.js';

type Build = (g: Graph, xs: Tensor[]) => Tensor;
const x = (shape: Dim[], more: Partial<InputSpec> = {}): InputSpec => ({ shape, ...more });
const ids = (shape: number[], values: number[], dtype: 'int64' | 'int32' = 'int64'): InputSpec => ({ shape, dtype, values });
/** Each case's seed comes from its label (FNV-1a), so a case reproduces on its own (--test-name-pattern). */
const seedOf = (label: string) => { let h = 0x811c9dc5; for (const ch of label) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193); return h >>> 0; };
const check = (label: string, build: Build, specs: InputSpec[], opts: GradcheckOptions = {}) =>
  gradcheck(build, specs, { seed: seedOf(label), label, ...opts });
const f64c = (g: Graph, values: number[], shape: number[]) => g.constant(Float64Array.from(values), 'float64', shape);

// Erf runs in float32 inside float64 graphs (ORT has no float64 Erf kernel): larger h, looser tolerance.
const ERF_TOL: GradcheckOptions = { h: 3e-3, atol: 1e-4, rtol: 1e-3 };

/** erf to ~1e-15 for the forward reference (series for small |x|, continued fraction otherwise). */
function erfRef(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let sum = 0, term = ax, n = 0;
    while (Math.abs(term) > 1e-17 * Math.max(1, Math.abs(sum))) { sum += term / (2 * n + 1); n++; term *= -ax * ax / n; }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let k = 60; k >= 1; k--) f = (k / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

// ---- binary arithmetic with broadcasting -------------------------------------------------------

/** Shape pairs: equal, [3,1,4] with [2,4], a scalar operand (both sides), rank mismatch. */
const PAIRS: [number[], number[]][] = [[[3, 4], [3, 4]], [[3, 1, 4], [2, 4]], [[2, 3], []], [[], [4]], [[4], [2, 3, 4]]];

const binaries: [string, (a: Tensor, b: Tensor) => Tensor, InputSpec['values'], InputSpec['values'], (a: number, b: number) => number][] = [
  ['add', F.add, undefined, undefined, (a, b) => a + b],
  ['sub', F.sub, undefined, undefined, (a, b) => a - b],
  ['mul', F.mul, undefined, undefined, (a, b) => a * b],
  ['div', F.div, undefined, gen.signed(0.5, 2), (a, b) => a / b],
  ['pow', F.pow, gen.uniform(0.5, 2), gen.uniform(-2, 2), (a, b) => a ** b],
  ['minimum', F.minimum, undefined, undefined, Math.min],
  ['maximum', F.maximum, undefined, undefined, Math.max],
];

/** JS broadcasting reference for a binary op. */
function broadcastRef(sa: number[], sb: number[], f: (a: number, b: number) => number) {
  const rank = Math.max(sa.length, sb.length);
  const pa = [...Array(rank - sa.length).fill(1), ...sa], pb = [...Array(rank - sb.length).fill(1), ...sb];
  const so = pa.map((d, i) => Math.max(d, pb[i]!));
  const strides = (s: number[]) => s.map((_, i) => s.slice(i + 1).reduce((p, q) => p * q, 1));
  const [stA, stB, stO] = [strides(pa), strides(pb), strides(so)];
  const n = so.reduce((p, q) => p * q, 1);
  return ([A, B]: number[][]) => Array.from({ length: n }, (_, flat) => {
    let ia = 0, ib = 0;
    so.forEach((_, i) => {
      const c = Math.floor(flat / stO[i]!) % so[i]!;
      ia += (pa[i] === 1 ? 0 : c) * stA[i]!;
      ib += (pb[i] === 1 ? 0 : c) * stB[i]!;
    });
    return f(A![ia]!, B![ib]!);
  });
}

for (const [name, op, va, vb, ref] of binaries) {
  test(`grad ${name} (both operands, broadcasting)`, async () => {
    for (const [sa, sb] of PAIRS) {
      await check(`${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`, (_g, [a, b]) => op(a!, b!), [x(sa, { values: va }), x(sb, { values: vb })], { ref: broadcastRef(sa, sb, ref) });
    }
  });
}

test('grad binary ops with a number operand (lifted to a scalar constant)', async () => {
  await check('add number', (_g, [a]) => F.add(a!, 2.5), [x([2, 3])]);
  await check('sub number first', (_g, [a]) => F.sub(1, a!), [x([2, 3])]);
  await check('mul number', (_g, [a]) => F.mul(a!, -3), [x([2, 3])]);
  await check('div number first', (_g, [a]) => F.div(2, a!), [x([2, 3], { values: gen.signed(0.5, 2) })]);
  await check('pow x^3 (negative base, integral exponent)', (_g, [a]) => F.pow(a!, 3), [x([2, 3], { values: gen.signed(0.2, 1.5) })]);
  await check('pow 2^x', (_g, [a]) => F.pow(2, a!), [x([2, 3])]);
  await check('minimum number', (_g, [a]) => F.minimum(a!, 0.1), [x([2, 3], { values: gen.avoiding([0.1]) })]);
  await check('maximum number', (_g, [a]) => F.maximum(a!, -0.1), [x([2, 3], { values: gen.avoiding([-0.1]) })]);
});

test('grad minimum/maximum with the same tensor on both sides is exact (ties go to a)', async () => {
  const g = new Graph('ties');
  const a = g.input('a', 'float64', [3]);
  const [gmin] = grad(F.sum(F.minimum(a, a)), [a]);
  const [gmax] = grad(F.sum(F.maximum(a, a)), [a]);
  const r = await runGraph(g, { gmin: gmin!, gmax: gmax! }, { a: f64([1, 2, 3], [3]) });
  assert.deepEqual(toNumbers(r.gmin!), [1, 1, 1]);
  assert.deepEqual(toNumbers(r.gmax!), [1, 1, 1]);
});

// ---- unary math and activations ----------------------------------------------------------------

const sigmoidRef = (v: number) => 1 / (1 + Math.exp(-v));
const softplusRef = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
const unaries: [string, (t: Tensor) => Tensor, (v: number) => number, InputSpec['values']?, GradcheckOptions?][] = [
  ['neg', F.neg, (v) => -v],
  ['exp', F.exp, Math.exp],
  ['log', F.log, Math.log, gen.uniform(0.2, 3)],
  ['sqrt', F.sqrt, Math.sqrt, gen.uniform(0.2, 3)],
  ['rsqrt', F.rsqrt, (v) => 1 / Math.sqrt(v), gen.uniform(0.2, 3)],
  ['tanh', F.tanh, Math.tanh, gen.uniform(-2, 2)],
  ['erf', F.erf, erfRef, gen.uniform(-2, 2), { ...ERF_TOL, refTol: 1e-6 }],
  ['sigmoid', F.sigmoid, sigmoidRef, gen.uniform(-4, 4)],
  ['relu', F.relu, (v) => Math.max(v, 0), gen.signed(0.1, 2)],
  ['abs', F.abs, Math.abs, gen.signed(0.1, 2)],
  ['sin', F.sin, Math.sin, gen.uniform(-3, 3)],
  ['cos', F.cos, Math.cos, gen.uniform(-3, 3)],
  ['gelu(tanh)', (t) => F.gelu(t, 'tanh'), (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))), gen.uniform(-3, 3)],
  ['gelu(erf)', (t) => F.gelu(t, 'erf'), (v) => 0.5 * v * (1 + erfRef(v / Math.SQRT2)), gen.uniform(-3, 3), { ...ERF_TOL, refTol: 1e-6 }],
  // softplus/logSigmoid go through relu and abs: keep inputs off 0; include large |x| for stability.
  ['softplus', F.softplus, softplusRef, (rng, n) => gen.signed(0.1, 4)(rng, n).map((v, i) => (i === 0 ? 40 : i === 1 ? -40 : v))],
  ['logSigmoid', F.logSigmoid, (v) => -softplusRef(-v), (rng, n) => gen.signed(0.1, 4)(rng, n).map((v, i) => (i === 0 ? 40 : i === 1 ? -40 : v))],
];

for (const [name, op, ref, values, opts] of unaries) {
  test(`grad ${name}`, async () => {
    for (const shape of [[3, 4], [2, 3, 2], []]) {
      await check(`${name} ${JSON.stringify(shape)}`, (_g, [a]) => op(a!), [x(shape, { values })], { ref: ([a]) => a!.map(ref), ...opts });
    }
  });
}

// silu = x·sigmoid(x). In float32 ORT's QuickGeluFusion runs the forward as com.microsoft.QuickGelu
// (float32-only), so the float32 check also compares the fused forward with the unfused backward;
// float64 graphs are compiled with that fusion disabled (engine/runtime/devices.ts).
test('grad silu (float32; forward runs as the fused QuickGelu)', async () => {
  for (const shape of [[3, 4], [2, 3, 2], []]) {
    await check(`silu f32 ${JSON.stringify(shape)}`, (_g, [a]) => F.silu(a!), [x(shape, { dtype: 'float32', values: gen.uniform(-4, 4) })],
      { h: 1e-2, atol: 2e-4, rtol: 1e-3, ref: ([a]) => a!.map((v) => v * sigmoidRef(v)), refTol: 1e-6 });
  }
});

test('grad silu (float64)', async () => {
  await check('silu f64', (_g, [a]) => F.silu(a!), [x([3, 4], { values: gen.uniform(-4, 4) })], { ref: ([a]) => a!.map((v) => v * sigmoidRef(v)) });
});

test('grad clamp (both bounds, one bound)', async () => {
  const v = gen.avoiding([-0.5, -0.2, 0.3, 0.5], 0.02);
  await check('clamp[-0.5,0.5]', (_g, [a]) => F.clamp(a!, -0.5, 0.5), [x([3, 4], { values: v })], { ref: ([a]) => a!.map((t) => Math.min(Math.max(t, -0.5), 0.5)) });
  await check('clamp[null,0.3]', (_g, [a]) => F.clamp(a!, null, 0.3), [x([2, 5], { values: v })], { ref: ([a]) => a!.map((t) => Math.min(t, 0.3)) });
  await check('clamp[-0.2,null]', (_g, [a]) => F.clamp(a!, -0.2, null), [x([2, 5], { values: v })], { ref: ([a]) => a!.map((t) => Math.max(t, -0.2)) });
});

// ---- where, cast, identity, stop_gradient ------------------------------------------------------

test('grad where (both branches, broadcast condition and branches)', async () => {
  const rng = mulberry32(7);
  const cvals = (n: number) => gen.uniform()(rng, n);
  const c34 = cvals(12), c314 = cvals(12);
  await check('where [3,4]', (g, [a, b]) => F.where(F.greater(f64c(g, c34, [3, 4]), 0), a!, b!), [x([3, 4]), x([3, 4])],
    { ref: ([a, b]) => c34.map((c, i) => (c > 0 ? a![i]! : b![i]!)) });
  await check('where cond[3,1,4] a[2,4] b[]', (g, [a, b]) => F.where(F.greater(f64c(g, c314, [3, 1, 4]), 0), a!, b!), [x([2, 4]), x([])]);
  await check('where cond[3,4] a[4] b=0', (g, [a]) => F.where(F.less(f64c(g, c34, [3, 4]), 0), a!, 0), [x([4])]);
  await check('where cond[4] a[3,1] b[3,4]', (g, [a, b]) => F.where(F.lessEqual(f64c(g, c34.slice(0, 4), [4]), 0.1), a!, b!), [x([3, 1]), x([3, 4])]);
});

test('grad cast float32 <-> float64', async () => {
  // float32 input, float64 computation: the gradient is cast back to float32.
  await check('cast f32->f64', (_g, [a]) => F.mul(F.cast(a!, 'float64'), F.cast(a!, 'float64')), [x([3, 4], { dtype: 'float32' })], { h: 1e-3, atol: 1e-4, rtol: 1e-4 });
  // float64 -> float32 work -> float64.
  await check('cast f64->f32->f64', (_g, [a]) => F.cast(F.tanh(F.cast(a!, 'float32')), 'float64'), [x([3, 4])], { h: 1e-2, atol: 1e-4, rtol: 1e-3 });
  // Casting to the same dtype is the identity.
  await check('cast f64->f64', (_g, [a]) => F.cast(F.cast(a!, 'float64'), 'float64'), [x([2, 3])]);
});

test('grad identity', async () => {
  await check('identity', (_g, [a]) => F.mul(F.identity(a!), F.identity(F.identity(a!))), [x([3, 4])], { ref: ([a]) => a!.map((v) => v * v) });
});

test('stopGradient: zero gradient, and x·sg(x) differentiates as sg(x)', async () => {
  const g = new Graph('sg');
  const a = g.input('a', 'float64', [2, 3]);
  const vals = [0.5, -1, 2, 3, -0.25, 1.5];
  const [g0] = grad(F.sum(F.mul(F.stopGradient(a), 3)), [a]);
  const [g1] = grad(F.sum(F.mul(a, F.stopGradient(a))), [a]);
  const [g2] = grad(F.sum(F.add(a, F.mul(F.stopGradient(a), F.stopGradient(a)))), [a]);
  const fwd = F.sum(F.mul(a, F.stopGradient(a)));
  const r = await runGraph(g, { g0: g0!, g1: g1!, g2: g2!, fwd }, { a: f64(vals, [2, 3]) });
  assert.deepEqual(toNumbers(r.g0!), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(r.g0!.shape, [2, 3]);
  assert.deepEqual(toNumbers(r.g1!), vals);           // d/da a·c = c (not 2a)
  assert.deepEqual(toNumbers(r.g2!), [1, 1, 1, 1, 1, 1]);
  assert.equal(toNumbers(r.fwd!)[0], vals.reduce((s, v) => s + v * v, 0)); // forward is the identity
});

test('grad: no gradient through integer values; zeros for an unused wrt', async () => {
  const g = new Graph('ints');
  const table = g.input('table', 'float64', [4, 2]);
  const idsT = g.input('ids', 'int64', [3]);
  const a = g.input('a', 'float64', ['B', 2]);
  const unused = g.input('unused', 'float64', ['B', 3]);
  // ids -> float: the loss depends on ids, but ids are not differentiable.
  const loss = F.add(F.sum(F.mul(F.embedding(table, idsT), F.unsqueeze(F.cast(idsT, 'float64'), -1))),
    // a reaches the loss only through an integer round trip: no gradient may flow back.
    F.sum(F.cast(F.cast(a, 'int64'), 'float64')));
  assert.throws(() => grad(loss, [idsT]), /grad: cannot differentiate with respect to int64/);
  const [gt, ga, gu] = grad(loss, [table, a, unused]);
  assert.deepEqual(gu!.shape, ['B', 3]);
  const r = await runGraph(g, { gt: gt!, ga: ga!, gu: gu! }, {
    table: f64([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]), ids: i64([1, 3, 1], [3]),
    a: f64([0.5, 1.5, 2.5, 3.5], [2, 2]), unused: f64([1, 2, 3, 4, 5, 6], [2, 3]),
  });
  // d/dtable[r] = Σ over positions with id r of id → row 1: 1+1, row 3: 3.
  assert.deepEqual(toNumbers(r.gt!), [0, 0, 2, 2, 0, 0, 3, 3]);
  assert.deepEqual(toNumbers(r.ga!), [0, 0, 0, 0]);
  assert.deepEqual(r.gu!.shape, [2, 3]);
  assert.deepEqual(toNumbers(r.gu!), [0, 0, 0, 0, 0, 0]);
});

// ---- matmul and linear -------------------------------------------------------------------------

test('grad matmul (2-D, batched, broadcast batch)', async () => {
  const cases: [Dim[], Dim[]][] = [
    [[3, 4], [4, 5]],
    [[2, 3, 4], [2, 4, 5]],
    [[2, 2, 3, 4], [2, 2, 4, 3]],
    [[2, 3, 4, 5], [5, 6]],
    [[2, 1, 4, 5], [3, 5, 6]],
    [[3, 4], [2, 4, 5]],
  ];
  for (const [sa, sb] of cases) await check(`matmul ${JSON.stringify(sa)}@${JSON.stringify(sb)}`, (_g, [a, b]) => F.matmul(a!, b!), [x(sa), x(sb)]);
  // Forward value of a tiny product.
  await check('matmul values', (_g, [a, b]) => F.matmul(a!, b!), [x([2, 2], { values: [1, 2, 3, 4] }), x([2, 1], { values: [5, 6] })], { ref: () => [17, 39] });
});

test('grad matmul with a symbolic batch dim', async () => {
  await check('matmul [B,4]@[4,3]', (_g, [a, b]) => F.matmul(a!, b!), [x(['B', 4], { feed: [3, 4] }), x([4, 3])]);
  await check('matmul [B,3,4]@[4,2]', (_g, [a, b]) => F.matmul(a!, b!), [x(['B', 3, 4], { feed: [2, 3, 4] }), x([4, 2])]);
  await check('matmul [B,3,4]@[B,4,2]', (_g, [a, b]) => F.matmul(a!, b!), [x(['B', 3, 4], { feed: [2, 3, 4] }), x(['B', 4, 2], { feed: [2, 4, 2] })]);
});

test('grad linear / linearT (with and without bias)', async () => {
  await check('linear [3,4]x[4,5]+[5]', (_g, [a, w, b]) => F.linear(a!, w!, b!), [x([3, 4]), x([4, 5]), x([5])]);
  await check('linear [2,3,4]x[4,2]', (_g, [a, w]) => F.linear(a!, w!), [x([2, 3, 4]), x([4, 2])]);
  await check('linearT [2,3,4]x[5,4]ᵀ+[5]', (_g, [a, w, b]) => F.linearT(a!, w!, b!), [x([2, 3, 4]), x([5, 4]), x([5])]);
  await check('linearT [B,4]x[3,4]ᵀ', (_g, [a, w]) => F.linearT(a!, w!), [x(['B', 4], { feed: [2, 4] }), x([3, 4])]);
});

// ---- reductions --------------------------------------------------------------------------------

const AXES: [string, number | number[] | undefined, boolean][] = [
  ['all', undefined, false], ['all keep', undefined, true], ['0', 0, false], ['-1 keep', -1, true],
  ['[0,2]', [0, 2], false], ['[1,2] keep', [1, 2], true], ['1', 1, false],
];
const reducers: [string, (t: Tensor, axes?: number | number[], keep?: boolean) => Tensor][] = [
  ['sum', F.sum], ['mean', F.mean], ['max', F.max], ['logsumexp', F.logsumexp],
];
for (const [name, op] of reducers) {
  test(`grad ${name} (axes, keepdims)`, async () => {
    for (const [al, axes, keep] of AXES) {
      await check(`${name} axes=${al}`, (_g, [a]) => op(a!, axes, keep), [x([2, 3, 4], { values: gen.distinct(0.1) })]);
    }
    await check(`${name} [5] all`, (_g, [a]) => op(a!), [x([5], { values: gen.distinct(0.2) })]);
    await check(`${name} [] all`, (_g, [a]) => op(a!), [x([])]);
    if (name !== 'logsumexp') {
      // No axes: reduces nothing (ONNX would reduce everything without noop_with_empty_axes).
      await check(`${name} axes=[]`, (_g, [a]) => op(a!, []), [x([2, 3])], { ref: ([a]) => a! });
    }
    await check(`${name} [B,3] axis 0`, (_g, [a]) => op(a!, 0), [x(['B', 3], { feed: [4, 3], values: gen.distinct(0.1) })]);
  });
}

test('reduce forward values and max tie-splitting', async () => {
  const g = new Graph('reduce');
  const a = g.input('a', 'float64', [2, 3]);
  const [gmax] = grad(F.sum(F.max(a, 1)), [a]);
  const r = await runGraph(g, {
    sum0: F.sum(a, 0), mean1: F.mean(a, 1, true), max1: F.max(a, 1), lse: F.logsumexp(a, -1), gmax: gmax!,
  }, { a: f64([1, 3, 3, 4, 2, 0], [2, 3]) });
  assert.deepEqual(toNumbers(r.sum0!), [5, 5, 3]);
  assert.deepEqual(r.mean1!.shape, [2, 1]);
  toNumbers(r.mean1!).forEach((v, i) => assert.ok(Math.abs(v - [7 / 3, 2][i]!) < 1e-15));
  assert.deepEqual(toNumbers(r.max1!), [3, 4]);
  const lse = toNumbers(r.lse!);
  assert.ok(Math.abs(lse[0]! - Math.log(Math.exp(1) + 2 * Math.exp(3))) < 1e-12);
  assert.ok(Math.abs(lse[1]! - Math.log(Math.exp(4) + Math.exp(2) + 1)) < 1e-12);
  // Ties share the gradient evenly.
  assert.deepEqual(toNumbers(r.gmax!), [0, 0.5, 0.5, 1, 0, 0]);
});

test('grad softmax / logSoftmax (different axes)', async () => {
  for (const axis of [0, 1, -1]) {
    await check(`softmax axis ${axis}`, (_g, [a]) => F.softmax(a!, axis), [x([2, 3, 4], { values: gen.uniform(-2, 2) })]);
    await check(`logSoftmax axis ${axis}`, (_g, [a]) => F.logSoftmax(a!, axis), [x([2, 3, 4], { values: gen.uniform(-2, 2) })]);
  }
  const ref = (v: number[]) => { const m = Math.max(...v); const e = v.map((t) => Math.exp(t - m)); const s = e.reduce((p, q) => p + q); return e.map((t) => t / s); };
  await check('softmax values', (_g, [a]) => F.softmax(a!), [x([5])], { ref: ([a]) => ref(a!) });
  await check('logSoftmax values', (_g, [a]) => F.logSoftmax(a!), [x([5])], { ref: ([a]) => ref(a!).map(Math.log) });
  await check('softmax [B,5]', (_g, [a]) => F.softmax(a!, -1), [x(['B', 5], { feed: [3, 5] })]);
});

test('grad cumsum (inclusive/exclusive, forward/reverse)', async () => {
  for (const exclusive of [false, true]) {
    for (const reverse of [false, true]) {
      for (const [shape, axis] of [[[3, 4], 1], [[3, 4], 0], [[2, 3, 2], -2]] as [number[], number][]) {
        await check(`cumsum ${JSON.stringify(shape)} axis ${axis} excl=${exclusive} rev=${reverse}`,
          (_g, [a]) => F.cumsum(a!, axis, { exclusive, reverse }), [x(shape)]);
      }
    }
  }
  const vals = [1, 2, 3, 4];
  const cs = (ex: boolean, rev: boolean) => {
    const v = rev ? [...vals].reverse() : vals;
    let s = 0;
    const o = v.map((t) => { const before = s; s += t; return ex ? before : s; });
    return rev ? o.reverse() : o;
  };
  for (const ex of [false, true]) for (const rev of [false, true]) {
    await check(`cumsum values excl=${ex} rev=${rev}`, (_g, [a]) => F.cumsum(a!, 0, { exclusive: ex, reverse: rev }), [x([4], { values: vals })], { ref: () => cs(ex, rev) });
  }
});

// ---- normalisation -----------------------------------------------------------------------------

test('grad layerNorm (x, weight, bias)', async () => {
  const w = gen.uniform(0.5, 1.5);
  await check('layerNorm [3,5]', (_g, [a, s, b]) => F.layerNorm(a!, s!, b!), [x([3, 5], { values: gen.uniform(-2, 2) }), x([5], { values: w }), x([5])]);
  await check('layerNorm [2,3,4]', (_g, [a, s, b]) => F.layerNorm(a!, s!, b!, 1e-3), [x([2, 3, 4]), x([4], { values: w }), x([4])]);
  await check('layerNorm [B,4]', (_g, [a, s, b]) => F.layerNorm(a!, s!, b!), [x(['B', 4], { feed: [3, 4] }), x([4], { values: w }), x([4])]);
  // Forward against the formula.
  await check('layerNorm values', (_g, [a, s, b]) => F.layerNorm(a!, s!, b!), [x([1, 4], { values: [1, 2, 3, 6] }), x([4], { values: [1, 2, 1, 1] }), x([4], { values: [0, 0, 1, 0] })], {
    ref: () => {
      const v = [1, 2, 3, 6], mu = 3, vr = v.reduce((p, t) => p + (t - mu) ** 2, 0) / 4, r = 1 / Math.sqrt(vr + 1e-5);
      return v.map((t, i) => (t - mu) * r * [1, 2, 1, 1][i]! + [0, 0, 1, 0][i]!);
    },
    refTol: 1e-7,
  });
});

test('grad rmsNorm', async () => {
  await check('rmsNorm [3,5]', (_g, [a, w]) => F.rmsNorm(a!, w!), [x([3, 5]), x([5], { values: gen.uniform(0.5, 1.5) })]);
  await check('rmsNorm [2,2,4]', (_g, [a, w]) => F.rmsNorm(a!, w!, 1e-2), [x([2, 2, 4]), x([4])]);
  await check('rmsNorm values', (_g, [a, w]) => F.rmsNorm(a!, w!), [x([1, 2], { values: [3, 4] }), x([2], { values: [1, 2] })], {
    ref: () => { const r = 1 / Math.sqrt(12.5 + 1e-6); return [3 * r, 8 * r]; },
  });
});

// layer_norm and rms_norm return their row statistics beside y (ORT's Mean / InvStdDev outputs) for the
// backward; the checks below read them through a second output too.
test('layer_norm and rms_norm statistics outputs (mean, 1/√(var + eps))', async () => {
  for (const dtype of ['float64', 'float32'] as const) {
    const g = new Graph('norm-stats');
    const a = g.input('a', dtype, [2, 4]);
    const w = g.constant(dtype === 'float64' ? Float64Array.from([1, 1, 1, 1]) : Float32Array.from([1, 1, 1, 1]), dtype, [4]);
    const [, mu, r] = g.apply(F.LayerNorm, [a, w, w], { eps: 1e-5 });
    const [, rr] = g.apply(F.RmsNorm, [a, w], { eps: 1e-6 });
    const v = [1, 2, 3, 6, -1, 0, 0, 1];
    const out = await runGraph(g, { mu: mu!, r: r!, rr: rr! }, { a: hostTensor(dtype, [2, 4], v) });
    assert.deepEqual(out.mu!.shape, [2, 1]);
    const tol = dtype === 'float64' ? 1e-12 : 1e-6;
    [3, 0].forEach((m, i) => assert.ok(Math.abs(toNumbers(out.mu!)[i]! - m) <= tol, `${dtype} mean ${i}`));
    [1 / Math.sqrt(3.5 + 1e-5), 1 / Math.sqrt(0.5 + 1e-5)].forEach((want, i) => assert.ok(Math.abs(toNumbers(out.r!)[i]! - want) <= tol * want, `${dtype} rstd ${i}: ${toNumbers(out.r!)[i]} vs ${want}`));
    [1 / Math.sqrt(12.5 + 1e-6), 1 / Math.sqrt(0.5 + 1e-6)].forEach((want, i) => assert.ok(Math.abs(toNumbers(out.rr!)[i]! - want) <= tol * want, `${dtype} rms rstd ${i}`));
  }
});

// ---- fused GELU (+ bias) -----------------------------------------------------------------------

const geluTanhRef = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
const geluErfRef = (v: number) => 0.5 * v * (1 + erfRef(v / Math.SQRT2));
/** gelu(x + bias) over [rows, d] with bias [d], flat. */
const biasRef = (f: (v: number) => number, d: number) => ([X, B]: number[][]) => X!.map((v, i) => f(v + B![i % d]!));

test('grad gelu with a fused bias (tanh: FastGelu; erf: BiasGelu)', async () => {
  await check('gelu(tanh)+bias [2,3,4]', (_g, [a, b]) => F.gelu(a!, 'tanh', b!), [x([2, 3, 4], { values: gen.uniform(-3, 3) }), x([4])], { ref: biasRef(geluTanhRef, 4) });
  await check('gelu(erf)+bias [3,5]', (_g, [a, b]) => F.gelu(a!, 'erf', b!), [x([3, 5], { values: gen.uniform(-3, 3) }), x([5])], { ...ERF_TOL, ref: biasRef(geluErfRef, 5), refTol: 1e-6 });
  await check('gelu(tanh)+bias [B,4]', (_g, [a, b]) => F.gelu(a!, 'tanh', b!), [x(['B', 4], { feed: [3, 4] }), x([4])]);
  assert.throws(() => { const g = new Graph('bad'); F.gelu(g.input('a', 'float32', [2, 4]), 'tanh', g.input('b', 'float32', [3])); }, /gelu: bias must be \[4\]/);
});

// ---- gathers -----------------------------------------------------------------------------------

test('grad embedding (table; repeated ids accumulate)', async () => {
  await check('embedding [5,3] ids[2,3]', (_g, [t, i]) => F.embedding(t!, i!), [x([5, 3]), ids([2, 3], [0, 2, 2, 4, 0, 0])]);
  await check('embedding [6,2] ids[4] int32', (_g, [t, i]) => F.embedding(t!, i!), [x([6, 2]), ids([4], [5, 1, 5, 5], 'int32')]);
  await check('embedding [4,2,2] ids[3]', (_g, [t, i]) => F.embedding(t!, i!), [x([4, 2, 2]), ids([3], [3, 0, 3])]);
  await check('embedding values', (_g, [t, i]) => F.embedding(t!, i!), [x([3, 2], { values: [1, 2, 3, 4, 5, 6] }), ids([2, 2], [2, 0, 0, 1])], { ref: () => [5, 6, 1, 2, 1, 2, 3, 4] });
});

test('grad takeAlongAxis (repeated indices)', async () => {
  await check('takeAlongAxis [3,4] idx[3,5] axis 1', (_g, [a, i]) => F.takeAlongAxis(a!, i!, 1), [x([3, 4]), ids([3, 5], [0, 1, 1, 3, 0, 2, 2, 2, 2, 1, 3, 0, 3, 3, 1])]);
  await check('takeAlongAxis [3,4] idx[2,4] axis 0', (_g, [a, i]) => F.takeAlongAxis(a!, i!, 0), [x([3, 4]), ids([2, 4], [0, 2, 2, 1, 0, 2, 1, 1])]);
  await check('takeAlongAxis [2,3,5] idx[2,3,1] axis -1', (_g, [a, i]) => F.takeAlongAxis(a!, i!, -1), [x([2, 3, 5]), ids([2, 3, 1], [4, 0, 4, 2, 2, 1])]);
  await check('takeAlongAxis values', (_g, [a, i]) => F.takeAlongAxis(a!, i!, 1), [x([2, 3], { values: [1, 2, 3, 4, 5, 6] }), ids([2, 2], [2, 2, 0, 1])], { ref: () => [3, 3, 4, 5] });
});

test('grad softmaxCrossEntropy (fused log-softmax + pick, repeated labels)', async () => {
  const ref = (logits: number[], labels: number[], V: number) => labels.map((l, r) => {
    const row = logits.slice(r * V, (r + 1) * V);
    const m = Math.max(...row);
    return -(row[l]! - m - Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)));
  });
  await check('xent [3,5]', (_g, [a, l]) => F.softmaxCrossEntropy(a!, l!), [x([3, 5]), ids([3], [4, 0, 4])]);
  await check('xent [2,3,4]', (_g, [a, l]) => F.softmaxCrossEntropy(a!, l!), [x([2, 3, 4]), ids([2, 3], [1, 1, 3, 0, 2, 1])]);
  await check('xent [B,T,6] symbolic', (_g, [a, l]) => F.softmaxCrossEntropy(a!, l!), [x(['B', 'T', 6], { feed: [2, 3, 6] }), { shape: ['B', 'T'], feed: [2, 3], dtype: 'int64', values: [5, 0, 1, 2, 3, 4] }]);
  await check('xent values', (_g, [a, l]) => F.softmaxCrossEntropy(a!, l!), [x([2, 3], { values: [1, 2, 3, 0, 0, 5] }), ids([2], [2, 0])],
    { ref: ([a]) => ref(a!, [2, 0], 3) });
});

// ---- second order: the gradient ops' own rules ------------------------------------------------------
// embedding, take_along_axis and slice differentiate into ops of their own (embedding_grad's scatter-add,
// take_along_axis_grad's ScatterElements, slice_grad's Pad) that carry gradient rules too. Each case
// builds the first-order gradient with grad() and checks that gradient's own gradient w.r.t. the upstream
// values u (and the forward input, on which it must not depend).

/** d/dx Σ op(x)⊙u, as a tensor: the first-order gradient whose own gradient w.r.t. u is checked. */
const vjp = (op: (t: Tensor) => Tensor) => (_g: Graph, [a, u]: Tensor[]) => grad(F.sum(F.mul(op(a!), u!)), [a!])[0]!;

test('grad of embedding_grad (double backward through the scatter-add)', async () => {
  await check('embedding_grad [5,3] ids[2,3]', (g, [t, u, i]) => vjp((tt) => F.embedding(tt, i!))(g, [t!, u!]),
    [x([5, 3]), x([2, 3, 3]), ids([2, 3], [0, 2, 2, 4, 0, 0])]);
  await check('embedding_grad [6,2] ids[4] int32', (g, [t, u, i]) => vjp((tt) => F.embedding(tt, i!))(g, [t!, u!]),
    [x([6, 2]), x([4, 2]), ids([4], [5, 1, 5, 5], 'int32')]);
  // Forward: rows of u scatter-added into a zero table (ids 2, 0, 0, 1 over a [3, 2] table).
  await check('embedding_grad values', (g, [t, u, i]) => vjp((tt) => F.embedding(tt, i!))(g, [t!, u!]),
    [x([3, 2]), x([2, 2, 2], { values: [1, 2, 3, 4, 5, 6, 7, 8] }), ids([2, 2], [2, 0, 0, 1])], { ref: () => [3 + 5, 4 + 6, 7, 8, 1, 2] });
});

test('grad of take_along_axis_grad (double backward through ScatterElements)', async () => {
  await check('take_along_axis_grad [3,4] idx[3,5] axis 1', (g, [a, u, i]) => vjp((t) => F.takeAlongAxis(t, i!, 1))(g, [a!, u!]),
    [x([3, 4]), x([3, 5]), ids([3, 5], [0, 1, 1, 3, 0, 2, 2, 2, 2, 1, 3, 0, 3, 3, 1])]);
  await check('take_along_axis_grad [3,4] idx[2,4] axis 0', (g, [a, u, i]) => vjp((t) => F.takeAlongAxis(t, i!, 0))(g, [a!, u!]),
    [x([3, 4]), x([2, 4]), ids([2, 4], [0, 2, 2, 1, 0, 2, 1, 1])]);
  await check('take_along_axis_grad values', (g, [a, u, i]) => vjp((t) => F.takeAlongAxis(t, i!, 1))(g, [a!, u!]),
    [x([2, 3]), x([2, 2], { values: [1, 2, 3, 4] }), ids([2, 2], [2, 2, 0, 1])], { ref: () => [0, 0, 3, 3, 4, 0] });
});

test('grad of slice_grad (double backward through the zero padding)', async () => {
  const cases: [number, number, number | null, number[]][] = [[0, 1, 4, [3, 4]], [0, -3, null, [3, 4]], [1, 1, 3, [5, 2]], [0, -7, 3, [3, 4]], [1, -2, -1, [5, 1]]];
  for (const [axis, s, e, ushape] of cases) {
    await check(`slice_grad [5,4] axis ${axis} [${s}:${e}]`, (g, [a, u]) => vjp((t) => F.slice(t, axis, s, e))(g, [a!, u!]), [x([5, 4]), x(ushape)]);
  }
  await check('slice_grad [B,4] axis 0 [1:-1]', (g, [a, u]) => vjp((t) => F.slice(t, 0, 1, -1))(g, [a!, u!]), [x(['B', 4], { feed: [4, 4] }), x(['B-2', 4], { feed: [2, 4] })]);
  await check('slice_grad values', (g, [a, u]) => vjp((t) => F.slice(t, 0, -3, -1))(g, [a!, u!]), [x([5]), x([2], { values: [7, 8] })], { ref: () => [0, 0, 7, 8, 0] });
});

test('tail_like: the last n positions before `skip`, n read at run time from another tensor, and its gradients', async () => {
  // Forward values: a[3:5] of six values (n = 2 from the int tensor, skip 1).
  await check('tail_like values', (_g, [a, l]) => F.tailLike(a!, 0, l!, 0, 1), [x([6], { values: [1, 2, 3, 4, 5, 6] }), ids([2], [0, 0])], { ref: () => [4, 5] });
  await check('tail_like values skip 0', (_g, [a, l]) => F.tailLike(a!, 0, l!, 1), [x([5], { values: [1, 2, 3, 4, 5] }), ids([1, 3], [0, 0, 0])], { ref: () => [3, 4, 5] });
  await check('tail_like [2,5,3] axis 1, n 3 skip 1', (_g, [a, l]) => F.tailLike(a!, 1, l!, 1, 1), [x([2, 5, 3]), ids([2, 3], [0, 0, 0, 0, 0, 0])]);
  await check('tail_like [B,L,2] symbolic', (_g, [a, l]) => F.tailLike(a!, 1, l!, 1, 1), [x(['B', 'L', 2], { feed: [2, 6, 2] }), { shape: ['B', 'R'], dtype: 'int64', values: [0, 0, 0, 0], feed: [2, 2] }]);
  await check('tail_like_grad second order', (g, [a, u, l]) => vjp((t) => F.tailLike(t, 1, l!, 1, 2))(g, [a!, u!]), [x([3, 6]), x([3, 3]), ids([3, 3], [0, 0, 0, 0, 0, 0, 0, 0, 0])]);
});

test('grad of softmax_cross_entropy_grad (double backward: w.r.t. the logits through log-softmax, and w.r.t. the upstream)', async () => {
  await check('xent second order [3,5]', (g, [a, u, l]) => vjp((t) => F.softmaxCrossEntropy(t, l!))(g, [a!, u!]),
    [x([3, 5]), x([3]), ids([3], [4, 0, 2])]);
  await check('xent second order [2,3,4] repeated labels', (g, [a, u, l]) => vjp((t) => F.softmaxCrossEntropy(t, l!))(g, [a!, u!]),
    [x([2, 3, 4]), x([2, 3]), ids([2, 3], [1, 1, 3, 0, 1, 1])]);
  // Forward: (softmax − onehot)·u; logits 0 over 2 classes gives softmax ½ everywhere.
  await check('xent second order values', (g, [a, u, l]) => vjp((t) => F.softmaxCrossEntropy(t, l!))(g, [a!, u!]),
    [x([2, 2], { values: [0, 0, 0, 0] }), x([2], { values: [2, 4] }), ids([2], [1, 0])], { ref: () => [1, -1, -2, 2] });
});

test('grad of gelu_grad, layer_norm and rms_norm backward rules (double backward, incl. the statistics outputs)', async () => {
  for (const form of ['tanh', 'erf'] as const) {
    const tol = form === 'erf' ? ERF_TOL : {};
    await check(`gelu(${form}) second order [3,4]`, vjp((t) => F.gelu(t, form)), [x([3, 4], { values: gen.uniform(-3, 3) }), x([3, 4])], tol);
    // With a bias: the first-order gradient w.r.t. x, and the one w.r.t. the bias, each differentiated again.
    const withBias = (wrt: 0 | 1) => (_g: Graph, [a, b, u]: Tensor[]) => grad(F.sum(F.mul(F.gelu(a!, form, b!), u!)), [a!, b!])[wrt]!;
    await check(`gelu(${form})+bias second order d/dx [2,4]`, withBias(0), [x([2, 4], { values: gen.uniform(-2, 2) }), x([4]), x([2, 4])], tol);
    await check(`gelu(${form})+bias second order d/db [2,4]`, withBias(1), [x([2, 4], { values: gen.uniform(-2, 2) }), x([4]), x([2, 4])], tol);
  }
  const lnW = (g: Graph) => f64c(g, [0.7, 1.3, 1.1, 0.9], [4]);
  await check('layerNorm second order [3,4]', (g, [a, u]) => vjp((t) => F.layerNorm(t, lnW(g), f64c(g, [0.1, -0.2, 0, 0.3], [4])))(g, [a!, u!]), [x([3, 4], { values: gen.uniform(-2, 2) }), x([3, 4])]);
  await check('layerNorm second order d/dw [3,4]', (g, [a, w, u]) => grad(F.sum(F.mul(F.layerNorm(a!, w!, f64c(g, [0, 0, 0, 0], [4])), u!)), [w!])[0]!, [x([3, 4]), x([4], { values: gen.uniform(0.5, 1.5) }), x([3, 4])]);
  await check('rmsNorm second order [3,4]', (g, [a, u]) => vjp((t) => F.rmsNorm(t, lnW(g)))(g, [a!, u!]), [x([3, 4], { values: gen.signed(0.3, 1.5) }), x([3, 4])]);
});

test('double backward through mean and numel (shape-only ops carry no gradient, they are not refused)', async () => {
  await check('mean second order [3,4] axis -1', (g, [a, u]) => vjp((t) => F.mean(F.mul(t, t), -1))(g, [a!, u!]), [x([3, 4]), x([3])]);
  await check('sum/numel second order [2,3]', (g, [a, u]) => vjp((t) => F.div(F.mul(t, t), F.numel(t)))(g, [a!, u!]), [x([2, 3]), x([2, 3])]);
});

test('grad refuses an op without a gradient rule instead of returning a silent zero', () => {
  const g = new Graph('t');
  const a = g.input('a', 'float32', [3]);
  const Mystery = { name: 'mystery', infer: ([t]: { dtype: 'float32'; shape: Dim[] }[]) => [t!], lower: () => { throw new Error('not lowered'); } };
  const y = g.apply(Mystery as never, [a], {})[0]!;
  assert.throws(() => grad(F.sum(y), [a]), /mystery has no gradient rule.*stop_gradient/);
  assert.doesNotThrow(() => grad(F.sum(F.mul(a, F.stopGradient(y))), [a]), 'behind stop_gradient it is not on the path');
});

// ---- shape ops ---------------------------------------------------------------------------------

test('grad reshape (with -1, symbolic)', async () => {
  await check('reshape [2,3,4]->[-1,4]', (_g, [a]) => F.reshape(a!, [-1, 4]), [x([2, 3, 4])]);
  await check('reshape [4,6]->[2,-1,3]', (_g, [a]) => F.reshape(a!, [2, -1, 3]), [x([4, 6])]);
  await check('reshape [B,6]->[-1,3]', (_g, [a]) => F.reshape(a!, [-1, 3]), [x(['B', 6], { feed: [2, 6] })]);
  await check('reshape [B,2,3]->[B,6]', (_g, [a]) => F.reshape(a!, ['B', 6]), [x(['B', 2, 3], { feed: [3, 2, 3] })]);
});

test('grad transpose / mT', async () => {
  await check('transpose [2,3,4] [2,0,1]', (_g, [a]) => F.transpose(a!, [2, 0, 1]), [x([2, 3, 4])]);
  await check('transpose [3,4] [1,0]', (_g, [a]) => F.transpose(a!, [1, 0]), [x([3, 4])], { ref: ([a]) => [0, 1, 2, 3].flatMap((j) => [0, 1, 2].map((i) => a![i * 4 + j]!)) });
  await check('transpose [2,3,4] [-1,0,1]', (_g, [a]) => F.transpose(a!, [-1, 0, 1]), [x([2, 3, 4])]);
  await check('transpose [2,1,3,2] [1,3,0,2]', (_g, [a]) => F.transpose(a!, [1, 3, 0, 2]), [x([2, 1, 3, 2])]);
  // Rank ≥ 11: perms must be validated with a numeric sort (a default sort puts 10 before 2).
  const r11 = [2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3];
  await check('transpose rank 11 reversed', (_g, [a]) => F.transpose(a!, r11.map((_, i) => 10 - i)), [x(r11)],
    { ref: ([a]) => [0, 1, 2].flatMap((j) => [0, 1].map((i) => a![i * 3 + j]!)) });
  await check('mT [2,3,4]', (_g, [a]) => F.mT(a!), [x([2, 3, 4])]);
  await check('mT [B,3,2]', (_g, [a]) => F.mT(a!), [x(['B', 3, 2], { feed: [2, 3, 2] })]);
});

test('grad concat (3 inputs, symbolic)', async () => {
  await check('concat axis 1', (_g, [a, b, c]) => F.concat([a!, b!, c!], 1), [x([2, 3]), x([2, 1]), x([2, 2])], {
    ref: ([a, b, c]) => [0, 1].flatMap((r) => [...a!.slice(3 * r, 3 * r + 3), b![r]!, ...c!.slice(2 * r, 2 * r + 2)]),
  });
  await check('concat axis 0', (_g, [a, b, c]) => F.concat([a!, b!, c!], 0), [x([1, 3]), x([2, 3]), x([3, 3])]);
  await check('concat axis -1 3-D', (_g, [a, b, c]) => F.concat([a!, b!, c!], -1), [x([2, 2, 1]), x([2, 2, 3]), x([2, 2, 2])]);
  await check('concat [B,2],[B,3],[B,1] axis 1', (_g, [a, b, c]) => F.concat([a!, b!, c!], 1), [x(['B', 2], { feed: [3, 2] }), x(['B', 3], { feed: [3, 3] }), x(['B', 1], { feed: [3, 1] })]);
  await check('concat [B,2],[3,2],[T,2] axis 0', (_g, [a, b, c]) => F.concat([a!, b!, c!], 0), [x(['B', 2], { feed: [2, 2] }), x([3, 2]), x(['T', 2], { feed: [1, 2] })]);
});

test('grad split (unused outputs get no gradient)', async () => {
  await check('split [2,6] [1,2,3] use 0,2', (_g, [a]) => { const s = F.split(a!, [1, 2, 3], 1); return F.concat([s[0]!, s[2]!], 1); }, [x([2, 6])]);
  await check('split [2,6] [1,2,3] use 1', (_g, [a]) => F.split(a!, [1, 2, 3], 1)[1]!, [x([2, 6])], { ref: ([a]) => [a![1]!, a![2]!, a![7]!, a![8]!] });
  await check('split [5,2] [2,3] axis 0 use both', (_g, [a]) => { const [p, q] = F.split(a!, [2, 3], 0); return F.mul(F.sum(p!), q!); }, [x([5, 2])]);
  await check('split [B,4] [1,3] axis 1 use 1', (_g, [a]) => F.split(a!, [1, 3], 1)[1]!, [x(['B', 4], { feed: [2, 4] })]);
});

test('grad slice (positive, negative, open end; symbolic)', async () => {
  const cases: [number, number, number | null][] = [[0, 1, 4], [0, -3, null], [0, 1, -1], [0, -4, -1], [0, 2, null], [1, 1, 3], [-1, 0, 2], [0, 0, 10]];
  for (const [axis, s, e] of cases) await check(`slice [5,4] axis ${axis} [${s}:${e}]`, (_g, [a]) => F.slice(a!, axis, s, e), [x([5, 4])]);
  // A start before the beginning clamps to 0 (forward and gradient).
  await check('slice [5,4] axis 0 [-7:3]', (_g, [a]) => F.slice(a!, 0, -7, 3), [x([5, 4])]);
  await check('slice [5] [-9:-2] values', (_g, [a]) => F.slice(a!, 0, -9, -2), [x([5], { values: [1, 2, 3, 4, 5] })], { ref: () => [1, 2, 3] });
  await check('slice values', (_g, [a]) => F.slice(a!, 0, -3, -1), [x([5], { values: [1, 2, 3, 4, 5] })], { ref: () => [3, 4] });
  for (const [axis, s, e] of [[0, 1, null], [0, 0, -1], [0, -2, null], [0, 1, -1], [1, 1, 3], [0, 0, 2]] as [number, number, number | null][]) {
    await check(`slice [B,4] axis ${axis} [${s}:${e}]`, (_g, [a]) => F.slice(a!, axis, s, e), [x(['B', 4], { feed: [4, 4] })]);
  }
});

test('grad expand / squeeze / unsqueeze', async () => {
  await check('expand [3,1]->[2,3,4]', (_g, [a]) => F.expand(a!, [2, 3, 4]), [x([3, 1])]);
  await check('expand [4]->[3,4]', (_g, [a]) => F.expand(a!, [3, 4]), [x([4])]);
  await check('expand []->[2,3]', (_g, [a]) => F.expand(a!, [2, 3]), [x([])]);
  await check('expand [1,4]->[B,4]', (_g, [b, a]) => F.add(F.expand(a!, ['B', 4]), b!), [x(['B', 4], { feed: [3, 4] }), x([1, 4])]);
  await check('squeeze [3,1,4] axis 1', (_g, [a]) => F.squeeze(a!, 1), [x([3, 1, 4])]);
  await check('squeeze [1,3,1] axes [0,-1]', (_g, [a]) => F.squeeze(a!, [0, -1]), [x([1, 3, 1])]);
  await check('unsqueeze [3,4] at 0', (_g, [a]) => F.unsqueeze(a!, 0), [x([3, 4])]);
  await check('unsqueeze [3,4] at -1', (_g, [a]) => F.unsqueeze(a!, -1), [x([3, 4])]);
  await check('unsqueeze [3,4] at [0,2]', (_g, [a]) => F.unsqueeze(a!, [0, 2]), [x([3, 4])]);
});

// ---- rotary embeddings -------------------------------------------------------------------------

test('grad applyRope with ropeTables (w.r.t. x)', async () => {
  const rope = (xT: Tensor, pos: Tensor, headAxis: boolean) => {
    const { cos, sin } = F.ropeTables(pos, xT.shape[xT.rank - 1] as number);
    let c = F.cast(cos, 'float64'), s = F.cast(sin, 'float64');
    if (headAxis) { c = F.unsqueeze(c, 1); s = F.unsqueeze(s, 1); }
    return F.applyRope(xT, c, s);
  };
  await check('rope [2,4,6] pos[4]', (_g, [a, p]) => rope(a!, p!, false), [x([2, 4, 6]), ids([4], [0, 1, 2, 3])]);
  await check('rope [2,2,3,4] pos[2,3]', (_g, [a, p]) => rope(a!, p!, true), [x([2, 2, 3, 4]), ids([2, 3], [0, 1, 2, 5, 6, 7])]);
  // Forward: x·cos + rotate_half(x)·sin with HF tables, for one position.
  await check('rope values', (_g, [a, p]) => rope(a!, p!, false), [x([1, 4], { values: [1, 2, 3, 4] }), ids([1], [3])], {
    ref: () => {
      const inv = [1, 1 / 100], ang = [3 * inv[0]!, 3 * inv[1]!, 3 * inv[0]!, 3 * inv[1]!];
      const xv = [1, 2, 3, 4], rot = [-3, -4, 1, 2];
      return xv.map((v, i) => v * Math.cos(ang[i]!) + rot[i]! * Math.sin(ang[i]!));
    },
    refTol: 1e-6,
  });
});

// ---- forward checks of non-differentiable ops --------------------------------------------------

test('causalMask (tq = tk, tq < tk, symbolic)', async () => {
  const tri = (tq: number, tk: number) => Array.from({ length: tq * tk }, (_, f) => (f % tk <= Math.floor(f / tk) + tk - tq ? 1 : 0));
  const g = new Graph('mask');
  const q = g.input('q', 'float32', ['Q']);
  const k = g.input('k', 'float32', ['K']);
  const r = await runGraph(g, {
    sq: F.causalMask(g, 4), rect: F.causalMask(g, 2, 5), symSq: F.causalMask(g, 'Q'), symRect: F.causalMask(g, 'Q', 'K'),
    use: F.add(F.sum(q), F.sum(k)),
  }, { q: f32([0, 0, 0], [3]), k: f32([0, 0, 0, 0, 0, 0], [6]) });
  assert.deepEqual(r.sq!.shape, [4, 4]);
  assert.deepEqual(toNumbers(r.sq!), tri(4, 4));
  assert.deepEqual(toNumbers(r.sq!), [1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1]);
  assert.deepEqual(r.rect!.shape, [2, 5]);
  assert.deepEqual(toNumbers(r.rect!), [1, 1, 1, 1, 0, 1, 1, 1, 1, 1]);
  assert.deepEqual(r.symSq!.shape, [3, 3]);
  assert.deepEqual(toNumbers(r.symSq!), tri(3, 3));
  assert.deepEqual(r.symRect!.shape, [3, 6]);
  assert.deepEqual(toNumbers(r.symRect!), tri(3, 6));
});

test('oneHot, range, numel, dimValue', async () => {
  const g = new Graph('misc');
  const idsT = g.input('ids', 'int64', [2, 3]);
  const a = g.input('a', 'float64', ['B', 'T', 2]);
  const ids32 = g.input('ids32', 'int32', [2, 3]);
  const r = await runGraph(g, {
    oh: F.oneHot(idsT, 4), oh64: F.oneHot(idsT, 3, 'float64'), ohI: F.oneHot(idsT, 4, 'int64'), oh32: F.oneHot(ids32, 4),
    r5: F.range(g, 5), rT: F.range(g, 'T', 'float32'), rBT: F.range(g, 'B*T'),
    nAll: F.numel(a), n0: F.numel(a, [0, 2]), nStatic: F.numel(idsT, [1]),
    dB: F.dimValue(g, 'B'), dBT: F.dimValue(g, 'B*T', 'float32'), d7: F.dimValue(g, 7),
  }, { ids: i64([0, 3, 1, 2, 2, 0], [2, 3]), a: f64(new Array(3 * 4 * 2).fill(0), [3, 4, 2]), ids32: hostTensor('int32', [2, 3], [0, 3, 1, 2, 2, 0]) });
  assert.deepEqual(r.oh!.shape, [2, 3, 4]);
  assert.equal(r.oh!.dtype, 'float32');
  assert.deepEqual(toNumbers(r.oh!), [1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0]);
  assert.ok(r.ohI!.data instanceof BigInt64Array);
  assert.deepEqual(toNumbers(r.ohI!), toNumbers(r.oh!));
  assert.deepEqual(toNumbers(r.oh32!), toNumbers(r.oh!));
  assert.ok(r.oh64!.data instanceof Float64Array);
  assert.deepEqual(toNumbers(r.oh64!), [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0]); // id 3 ≥ depth 3 → all zeros
  assert.deepEqual(toNumbers(r.r5!), [0, 1, 2, 3, 4]);
  assert.ok(r.r5!.data instanceof BigInt64Array);
  assert.deepEqual(toNumbers(r.rT!), [0, 1, 2, 3]);
  assert.ok(r.rT!.data instanceof Float32Array);
  assert.deepEqual(toNumbers(r.rBT!), Array.from({ length: 12 }, (_, i) => i));
  assert.deepEqual(r.nAll!.shape, []);
  assert.deepEqual(toNumbers(r.nAll!), [24]);
  assert.deepEqual(toNumbers(r.n0!), [6]);
  assert.deepEqual(toNumbers(r.nStatic!), [3]);
  assert.deepEqual(toNumbers(r.dB!), [3]);
  assert.deepEqual(r.dB!.shape, []);
  assert.deepEqual(toNumbers(r.dBT!), [12]);
  assert.deepEqual(toNumbers(r.d7!), [7]);
});

test('argmax (axes, keepdims, first index on ties)', async () => {
  const g = new Graph('argmax');
  const a = g.input('a', 'float64', [2, 3]);
  const b = g.input('b', 'float32', ['B', 4]);
  const r = await runGraph(g, { last: F.argmax(a), first: F.argmax(a, 0, true), sym: F.argmax(b, -1) }, {
    a: f64([1, 5, 5, 7, 2, 0], [2, 3]), b: f32([0, 3, 1, 2, 9, 8, 7, 9], [2, 4]),
  });
  assert.ok(r.last!.data instanceof BigInt64Array);
  assert.deepEqual(r.last!.shape, [2]);
  assert.deepEqual(toNumbers(r.last!), [1, 0]);
  assert.deepEqual(r.first!.shape, [1, 3]);
  assert.deepEqual(toNumbers(r.first!), [1, 0, 0]);
  assert.deepEqual(toNumbers(r.sym!), [1, 0]);
});

test('ropeTables match the Hugging Face formula', async () => {
  const g = new Graph('rope');
  const pos = g.input('pos', 'int64', [2, 'T']);
  const headDim = 8, theta = 10000;
  const { cos, sin } = F.ropeTables(pos, headDim, theta);
  const positions = [0, 1, 2, 7, 100, 3];
  const r = await runGraph(g, { cos, sin }, { pos: i64(positions, [2, 3]) });
  assert.deepEqual(r.cos!.shape, [2, 3, headDim]);
  // HF: inv_freq = 1 / θ^(arange(0, d, 2)/d); freqs = pos ⊗ inv_freq; emb = cat(freqs, freqs).
  const inv = Array.from({ length: headDim / 2 }, (_, i) => 1 / theta ** ((2 * i) / headDim));
  const emb = positions.flatMap((p) => { const f = inv.map((v) => p * v); return [...f, ...f]; });
  const c = toNumbers(r.cos!), s = toNumbers(r.sin!);
  emb.forEach((e, i) => {
    assert.ok(Math.abs(c[i]! - Math.cos(e)) < 2e-5, `cos[${i}] ${c[i]} vs ${Math.cos(e)}`);
    assert.ok(Math.abs(s[i]! - Math.sin(e)) < 2e-5, `sin[${i}] ${s[i]} vs ${Math.sin(e)}`);
  });
});

test('full / zeros (static and symbolic shapes)', async () => {
  const g = new Graph('fill');
  const a = g.input('a', 'float32', ['B', 2]);
  const r = await runGraph(g, {
    f: F.full(g, [2, 3], 1.5, 'float64'), z: F.zeros(g, ['B', 2], 'int64'), fi: F.full(g, [2], 7, 'int64'),
    zf: F.zeros(g, [3]), fs: F.add(F.full(g, ['B', 2], -2), a),
  }, { a: f32([1, 2, 3, 4, 5, 6], [3, 2]) });
  assert.deepEqual(r.f!.shape, [2, 3]);
  assert.ok(r.f!.data instanceof Float64Array);
  assert.deepEqual(toNumbers(r.f!), [1.5, 1.5, 1.5, 1.5, 1.5, 1.5]);
  assert.deepEqual(r.z!.shape, [3, 2]);
  assert.ok(r.z!.data instanceof BigInt64Array);
  assert.deepEqual(toNumbers(r.z!), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(toNumbers(r.fi!), [7, 7]);
  assert.ok(r.zf!.data instanceof Float32Array);
  assert.deepEqual(toNumbers(r.zf!), [0, 0, 0]);
  assert.deepEqual(toNumbers(r.fs!), [-1, 0, 1, 2, 3, 4]);
});

test('comparisons, logical ops and where (forward)', async () => {
  const g = new Graph('cmp');
  const a = g.input('a', 'float64', [5]);
  const b = g.input('b', 'float64', [5]);
  const n = g.input('n', 'int64', [5]);
  const lt = F.less(a, b);
  const r = await runGraph(g, {
    eq: F.equal(a, b), lt, le: F.lessEqual(a, b), gt: F.greater(a, b), ge: F.greaterEqual(a, b),
    eqN: F.equal(n, 2), gtN: F.greater(n, 1), ltNum: F.less(a, 0),
    and: F.logicalAnd(lt, F.greater(a, 0)), or: F.logicalOr(F.equal(a, b), F.less(b, 0)), not: F.logicalNot(lt),
    sign: F.sign(F.sub(a, 0.5)), w: F.where(lt, a, b), w0: F.where(F.greaterEqual(n, 2), n, 0), wb: F.where(F.greater(a, 0), 1, b),
  }, { a: f64([1, 2, -3, 4, 0.5], [5]), b: f64([1, 3, -4, 5, -1], [5]), n: i64([0, 1, 2, 3, 2], [5]) });
  assert.deepEqual(toNumbers(r.eq!), [1, 0, 0, 0, 0]);
  assert.deepEqual(toNumbers(r.lt!), [0, 1, 0, 1, 0]);
  assert.deepEqual(toNumbers(r.le!), [1, 1, 0, 1, 0]);
  assert.deepEqual(toNumbers(r.gt!), [0, 0, 1, 0, 1]);
  assert.deepEqual(toNumbers(r.ge!), [1, 0, 1, 0, 1]);
  assert.equal(r.eq!.dtype, 'bool');
  assert.deepEqual(toNumbers(r.eqN!), [0, 0, 1, 0, 1]);
  assert.deepEqual(toNumbers(r.gtN!), [0, 0, 1, 1, 1]);
  assert.deepEqual(toNumbers(r.ltNum!), [0, 0, 1, 0, 0]);
  assert.deepEqual(toNumbers(r.and!), [0, 1, 0, 1, 0]);
  assert.deepEqual(toNumbers(r.or!), [1, 0, 1, 0, 1]);
  assert.deepEqual(toNumbers(r.not!), [1, 0, 1, 0, 1]);
  assert.deepEqual(toNumbers(r.sign!), [1, 1, -1, 1, 0]);
  assert.deepEqual(toNumbers(r.w!), [1, 2, -4, 4, -1]);
  assert.deepEqual(toNumbers(r.w0!), [0, 0, 2, 3, 2]);
  assert.deepEqual(toNumbers(r.wb!), [1, 1, -4, 1, 1]);
});

// The production dtype: ORT fuses some float32 subgraphs (QuickGelu, Gelu, LayerNorm, ...) that it
// leaves alone in float64, so check that the fused float32 forward still agrees with grad().
test('float32 spot checks (fused forward vs backward)', async () => {
  const T: GradcheckOptions = { h: 1e-2, atol: 5e-4, rtol: 5e-3 };
  const f = (shape: number[], more: Partial<InputSpec> = {}) => x(shape, { dtype: 'float32', ...more });
  await check('f32 gelu(tanh)', (_g, [a]) => F.gelu(a!, 'tanh'), [f([3, 4], { values: gen.uniform(-3, 3) })], T);
  await check('f32 gelu(erf)', (_g, [a]) => F.gelu(a!, 'erf'), [f([3, 4], { values: gen.uniform(-3, 3) })], T);
  await check('f32 softplus', (_g, [a]) => F.softplus(a!), [f([3, 4], { values: gen.signed(0.1, 4) })], T);
  await check('f32 layerNorm', (_g, [a, w, b]) => F.layerNorm(a!, w!, b!), [f([3, 5], { values: gen.uniform(-2, 2) }), f([5], { values: gen.uniform(0.5, 1.5) }), f([5])], T);
  await check('f32 rmsNorm', (_g, [a, w]) => F.rmsNorm(a!, w!), [f([3, 5]), f([5], { values: gen.uniform(0.5, 1.5) })], T);
  await check('f32 softmax', (_g, [a]) => F.softmax(a!), [f([3, 5], { values: gen.uniform(-2, 2) })], T);
  await check('f32 logSoftmax', (_g, [a]) => F.logSoftmax(a!, 0), [f([3, 5], { values: gen.uniform(-2, 2) })], T);
  await check('f32 linear+gelu', (_g, [a, w, b]) => F.gelu(F.linear(a!, w!, b!), 'tanh'), [f([2, 3, 4]), f([4, 5]), f([5])], T);
  // The contrib kernels themselves (float32 only): FastGelu / BiasGelu with the bias fused, and
  // LayerNormalization / SimplifiedLayerNormalization, against the formulas.
  const R = { ...T, refTol: 2e-6 };
  await check('f32 FastGelu+bias', (_g, [a, b]) => F.gelu(a!, 'tanh', b!), [f([3, 4], { values: gen.uniform(-3, 3) }), f([4])], { ...R, ref: biasRef(geluTanhRef, 4) });
  await check('f32 BiasGelu', (_g, [a, b]) => F.gelu(a!, 'erf', b!), [f([3, 4], { values: gen.uniform(-3, 3) }), f([4])], { ...R, ref: biasRef(geluErfRef, 4) });
  await check('f32 Gelu', (_g, [a]) => F.gelu(a!, 'erf'), [f([3, 4], { values: gen.uniform(-3, 3) })], { ...R, ref: ([X]) => X!.map(geluErfRef) });
  await check('f32 layerNorm values', (_g, [a, w, b]) => F.layerNorm(a!, w!, b!), [f([1, 4], { values: [1, 2, 3, 6] }), f([4], { values: [1, 2, 1, 1] }), f([4], { values: [0, 0, 1, 0] })], {
    ...R, ref: () => { const v = [1, 2, 3, 6], r = 1 / Math.sqrt(3.5 + 1e-5); return v.map((t, i) => (t - 3) * r * [1, 2, 1, 1][i]! + [0, 0, 1, 0][i]!); },
  });
  await check('f32 rmsNorm values', (_g, [a, w]) => F.rmsNorm(a!, w!), [f([1, 2], { values: [3, 4] }), f([2], { values: [1, 2] })], {
    ...R, ref: () => { const r = 1 / Math.sqrt(12.5 + 1e-6); return [3 * r, 8 * r]; },
  });
  await check('f32 linearT+silu', (_g, [a, w]) => F.silu(F.linearT(a!, w!)), [f([2, 3, 4]), f([5, 4])], T);
  await check('f32 embedding', (_g, [t, i]) => F.embedding(t!, i!), [f([5, 3]), ids([4], [1, 1, 4, 0])], T);
  await check('f32 logsumexp', (_g, [a]) => F.logsumexp(a!, -1), [f([3, 5], { values: gen.uniform(-2, 2) })], T);
});

// Keep the helper honest: a wrong gradient rule must be caught.
test('gradcheck itself rejects a wrong gradient', async () => {
  // stop_gradient hides half of d(p²)/dp: the checker must flag it.
  await assert.rejects(
    check('deliberately wrong', (_g, [a]) => F.mul(a!, F.stopGradient(a!)), [x([3], { values: gen.signed(0.5, 1) })]),
    /differ from central differences/,
  );
  const rep = await check('report', (_g, [a]) => F.exp(a!), [x([2, 2])]);
  assert.equal(rep.checked, 4);
  assert.ok(rep.worst <= 1);
  assert.deepEqual(hostTensor('int64', [2], [1, 2]).data, BigInt64Array.from([1n, 2n]));
});
