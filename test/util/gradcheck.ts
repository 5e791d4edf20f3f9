// A reusable finite-difference gradient checker for the engine's ops.
//
// gradcheck(build, specs) builds a graph with one input per spec, applies `build` to get an output of
// any shape, and reduces it to a scalar loss = Σ out ⊙ R with R a fixed random float64 tensor of the
// output's shape (so every output element matters and no symmetry hides a wrong rule). It appends
// grad(loss, float inputs), compiles the backward graph once and the forward-only loss graph once, and
// compares each analytic gradient element with a central difference (f(x+h) − f(x−h)) / 2h, two
// forward runs per element. Everything is seeded (mulberry32), so a failure reproduces exactly.
//
// The tolerance is |a − n| ≤ atol + rtol·|n|. Defaults suit float64 (h = 1e-6, atol = 1e-6,
// rtol = 1e-5); ops computed in float32 inside (erf) need a larger h and looser tolerances.

import assert from 'node:assert/strict';
import { Graph, F, type Tensor, type DType, type Dim, isFloat } from '../../engine/graph/index.js';
import { grad } from '../../engine/autodiff/grad.js';
import { compile, type HostTensor, type CompiledGraph } from '../../engine/runtime/session.js';
import { typedArrayFor, type TypedArray } from '../../engine/graph/shape.js';

// ---- seeded randomness -------------------------------------------------------------------------

export type Rng = () => number;

/** mulberry32: a tiny, fast 32-bit PRNG with uniform output in [0, 1). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Generates the n values of one input. */
export type Generator = (rng: Rng, n: number) => number[];

/** Value generators for input specs. */
export const gen = {
  /** Uniform in [lo, hi). */
  uniform: (lo = -1, hi = 1): Generator => (rng, n) => Array.from({ length: n }, () => lo + (hi - lo) * rng()),
  /** Random sign, magnitude uniform in [lo, hi): keeps values away from 0 (relu, abs, division). */
  signed: (lo = 0.2, hi = 1.5): Generator => (rng, n) => Array.from({ length: n }, () => (rng() < 0.5 ? -1 : 1) * (lo + (hi - lo) * rng())),
  /** Uniform in [lo, hi) but at least `margin` away from each of `points` (kinks of clamp etc.). */
  avoiding: (points: number[], margin = 0.05, lo = -1, hi = 1): Generator => (rng, n) => Array.from({ length: n }, () => {
    for (;;) {
      const v = lo + (hi - lo) * rng();
      if (points.every((p) => Math.abs(v - p) >= margin)) return v;
    }
  }),
  /** Pairwise distinct values ≥ `spacing` apart in a random order (no ties for max/min). */
  distinct: (spacing = 0.1): Generator => (rng, n) => {
    const perm = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) { const j = Math.floor(rng() * (i + 1)); [perm[i], perm[j]] = [perm[j]!, perm[i]!]; }
    const off = (n - 1) * spacing / 2;
    return perm.map((p) => p * spacing - off + (rng() - 0.5) * spacing * 0.2);
  },
  /** Integers uniform in [lo, hi]. */
  ints: (lo: number, hi: number): Generator => (rng, n) => Array.from({ length: n }, () => lo + Math.floor(rng() * (hi - lo + 1))),
};

// ---- host tensors ------------------------------------------------------------------------------

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export function hostTensor(dtype: DType, shape: number[], values: ArrayLike<number>): HostTensor {
  const data = typedArrayFor(dtype, values.length);
  for (let i = 0; i < values.length; i++) {
    (data as unknown as (number | bigint)[])[i] = dtype === 'int64' ? BigInt(Math.round(values[i]!)) : dtype === 'bool' ? (values[i] ? 1 : 0) : values[i]!;
  }
  return { dtype, shape, data };
}

/** A host tensor's values as plain numbers. */
export const toNumbers = (t: HostTensor | { data: TypedArray }): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);

/** Compiles `outputs` of `g` and runs them once. */
export async function runGraph(g: Graph, outputs: Record<string, Tensor>, feeds: Record<string, HostTensor> = {}): Promise<Record<string, HostTensor>> {
  const c = await compile(g, { outputs: new Map(Object.entries(outputs)) });
  return c.run(feeds);
}

// ---- the checker -------------------------------------------------------------------------------

export interface InputSpec {
  /** Declared shape; string dims are symbolic. */
  shape: Dim[];
  /** The concrete shape fed at run time (required when `shape` has symbolic dims). */
  feed?: number[];
  /** Default float64. */
  dtype?: DType;
  /** Fixed values, or a generator (default: uniform in [-1, 1)). Integer inputs need fixed values or gen.ints. */
  values?: ArrayLike<number> | Generator;
  /** Whether to check the gradient w.r.t. this input (default: yes for float inputs). */
  wrt?: boolean;
  /** Input name (default x0, x1, …). */
  name?: string;
}

export interface GradcheckOptions {
  seed?: number;
  h?: number;
  atol?: number;
  rtol?: number;
  /** Label used in failure messages and the graph name. */
  label?: string;
  /** Optional forward reference: the inputs' values (flat) → the expected output values (flat). */
  ref?: (xs: number[][]) => ArrayLike<number>;
  /** Tolerance for `ref` (absolute + relative, default 1e-9). */
  refTol?: number;
}

export interface GradcheckReport {
  outShape: number[];
  /** Analytic and numeric gradients, one per checked input (in spec order, skipping unchecked ones). */
  analytic: number[][];
  numeric: number[][];
  /** Largest |a − n| / (atol + rtol·|n|) seen; ≤ 1 passes. */
  worst: number;
  /** How many gradient elements were compared. */
  checked: number;
}

/**
 * Checks the gradients of `build(g, inputs)` against central differences. Throws an AssertionError
 * listing the mismatching elements (input, flat index, analytic, numeric) on failure.
 */
export async function gradcheck(
  build: (g: Graph, xs: Tensor[]) => Tensor,
  specs: InputSpec[],
  opts: GradcheckOptions = {},
): Promise<GradcheckReport> {
  const seed = opts.seed ?? 1234;
  const h = opts.h ?? 1e-6;
  const atol = opts.atol ?? 1e-6;
  const rtol = opts.rtol ?? 1e-5;
  const label = opts.label ?? 'gradcheck';
  const rng = mulberry32(seed);
  const where = () => `${label} (seed ${seed}, inputs ${specs.map((s) => `${s.dtype ?? 'float64'}[${(s.feed ?? s.shape).join(', ')}]`).join(', ')})`;

  // Inputs and their values.
  const g = new Graph(`gradcheck:${label}`);
  const names = specs.map((s, k) => s.name ?? `x${k}`);
  const xs = specs.map((s, k) => g.input(names[k]!, s.dtype ?? 'float64', s.shape));
  const feeds: Record<string, HostTensor> = {};
  specs.forEach((s, k) => {
    const shape = s.feed ?? s.shape;
    if (!shape.every((d): d is number => typeof d === 'number')) throw new Error(`${label}: input ${names[k]} has symbolic dims; give its concrete shape in "feed"`);
    const n = prod(shape);
    const dtype = s.dtype ?? 'float64';
    const v = typeof s.values === 'function' ? s.values(rng, n) : s.values ? Array.from(s.values) : isFloat(dtype) ? gen.uniform()(rng, n) : undefined;
    if (!v) throw new Error(`${label}: integer input ${names[k]} needs values`);
    if (v.length !== n) throw new Error(`${label}: input ${names[k]} has ${v.length} values for shape [${shape}]`);
    feeds[names[k]!] = hostTensor(dtype, [...shape], v);
  });

  const out = build(g, xs);
  assert.equal(out.graph, g, `${label}: the builder returned a tensor of another graph`);
  assert.ok(isFloat(out.dtype), `${label}: the output must be float, got ${out.dtype}`);

  // The output's concrete shape (and values, when checking a reference).
  let outShape: number[];
  const symbolic = out.shape.some((d) => typeof d !== 'number');
  if (symbolic || opts.ref) {
    const r = (await runGraph(g, { out }, feeds)).out!;
    outShape = r.shape;
    if (opts.ref) {
      const want = Array.from(opts.ref(specs.map((_, k) => toNumbers(feeds[names[k]!]!))));
      const got = toNumbers(r);
      assert.equal(got.length, want.length, `${where()}: forward has ${got.length} values, reference ${want.length}`);
      const tol = opts.refTol ?? 1e-9;
      got.forEach((v, i) => {
        assert.ok(Math.abs(v - want[i]!) <= tol * (1 + Math.abs(want[i]!)), `${where()}: forward value ${i} is ${v}, reference ${want[i]}`);
      });
    }
  } else {
    outShape = out.shape as number[];
  }
  for (let i = 0; i < outShape.length; i++) {
    const d = out.shape[i]!;
    if (typeof d === 'number') assert.equal(outShape[i], d, `${where()}: output declared [${out.shape.join(', ')}] but ran as [${outShape.join(', ')}]`);
  }

  // loss = Σ out ⊙ R in float64; R is a constant, or an input when the output shape is symbolic.
  const rVals = gen.uniform(-1, 1)(rng, prod(outShape));
  const out64 = F.cast(out, 'float64');
  let R: Tensor;
  if (symbolic) {
    R = g.input('__R', 'float64', out.shape);
    feeds.__R = hostTensor('float64', outShape, rVals);
  } else {
    R = g.constant(Float64Array.from(rVals), 'float64', outShape);
  }
  const loss = F.sum(F.mul(out64, R));

  const checked = specs.map((s, k) => ({ k, s })).filter(({ s }) => s.wrt ?? isFloat(s.dtype ?? 'float64'));
  const grads = grad(loss, checked.map(({ k }) => xs[k]!));
  const backward = await compile(g, { outputs: new Map(grads.map((t, i) => [`grad${i}`, t])) });
  const forward = await compile(g, { outputs: new Map([['loss', loss]]) });
  const res = await backward.run(feeds);

  const lossAt = async (c: CompiledGraph) => Number((await c.run(feeds)).loss!.data[0]);
  const report: GradcheckReport = { outShape, analytic: [], numeric: [], worst: 0, checked: 0 };
  const failures: string[] = [];
  for (let i = 0; i < checked.length; i++) {
    const { k } = checked[i]!;
    const name = names[k]!;
    const feed = feeds[name]!;
    const a = res[`grad${i}`]!;
    assert.deepEqual(a.shape, feed.shape, `${where()}: gradient of ${name} has shape [${a.shape}], input is [${feed.shape}]`);
    const analytic = toNumbers(a);
    const numeric: number[] = [];
    const data = feed.data as Float32Array | Float64Array;
    for (let j = 0; j < data.length; j++) {
      const x0 = data[j]!;
      data[j] = x0 + h; const xp = data[j]!; // the stored value (rounded, for float32 inputs)
      const fp = await lossAt(forward);
      data[j] = x0 - h; const xm = data[j]!;
      const fm = await lossAt(forward);
      data[j] = x0;
      const nd = (fp - fm) / (xp - xm);
      numeric.push(nd);
      const err = Math.abs(analytic[j]! - nd);
      const bound = atol + rtol * Math.abs(nd);
      report.worst = Math.max(report.worst, err / bound);
      report.checked++;
      if (!(err <= bound)) failures.push(`d/d${name}[${j}]: analytic ${analytic[j]}, numeric ${nd} (|diff| ${err.toExponential(2)} > ${bound.toExponential(2)})`);
    }
    report.analytic.push(analytic);
    report.numeric.push(numeric);
  }
  if (failures.length) {
    assert.fail(`${where()}: ${failures.length} of ${report.checked} gradient elements differ from central differences (h=${h}):\n  ${failures.slice(0, 12).join('\n  ')}${failures.length > 12 ? `\n  … ${failures.length - 12} more` : ''}`);
  }
  return report;
}
