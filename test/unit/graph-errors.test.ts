// Bad graphs and bad feeds fail early with messages that name the op (or the tensor) and the shapes
// or dtypes involved: build-time errors are GraphBuildError ("op: ..."), run-time feed errors are
// FeedError ('graph "name": ... feed "x" ...').
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, F } from '../../engine/graph/index.js';
import { grad } from '../../engine/autodiff/grad.js';
import { compile, f32, f64, i64 } from '../../engine/runtime/session.js';

const build = (re: RegExp) => ({ name: 'GraphBuildError', message: re });
const feed = (re: RegExp) => ({ name: 'FeedError', message: re });

test('broadcast shape mismatch names the op and both shapes', () => {
  const g = new Graph('e');
  const a = g.input('a', 'float32', [2, 3]);
  const b = g.input('b', 'float32', [4, 3]);
  assert.throws(() => F.add(a, b), build(/^add: cannot broadcast shapes \[2, 3\] and \[4, 3\]/));
  assert.throws(() => F.mul(a, b), build(/^mul: .*\[2, 3\].*\[4, 3\]/));
  assert.throws(() => F.where(F.greater(a, 0), a, b), build(/^where: .*\[2, 3\].*\[4, 3\]/));
  assert.throws(() => F.expand(a, [3, 3]), build(/^expand: .*\[2, 3\].*\[3, 3\]/));
});

test('matmul inner-dim mismatch and bad operands name matmul', () => {
  const g = new Graph('e');
  const a = g.input('a', 'float32', [2, 3]);
  const b = g.input('b', 'float32', [4, 5]);
  assert.throws(() => F.matmul(a, b), build(/^matmul: inner dims differ: \[2, 3\] @ \[4, 5\]/));
  assert.throws(() => F.matmul(g.input('v', 'float32', [3]), b), build(/^matmul: needs rank ≥ 2, got \[3\] @ \[4, 5\]/));
  assert.throws(() => F.matmul(a, g.input('i', 'int64', [3, 2])), build(/^matmul: .*float32 and int64/));
  assert.throws(() => F.matmul(g.input('c', 'float32', [2, 3, 4]), g.input('d', 'float32', [3, 4, 5])), build(/^matmul: cannot broadcast shapes \[2\] and \[3\]/));
});

test('dtype mismatches name the op and both dtypes', () => {
  const g = new Graph('e');
  const a = g.input('a', 'float32', [2]);
  const n = g.input('n', 'int64', [2]);
  assert.throws(() => F.add(a, n), build(/^add: dtype mismatch: float32\[2\] vs int64\[2\]/));
  assert.throws(() => F.less(a, n), build(/^less: dtype mismatch: float32\[2\] vs int64\[2\]/));
  assert.throws(() => F.where(F.greater(a, 0), a, n), build(/^where: branches differ in dtype: float32 vs int64/));
  assert.throws(() => F.where(a, a, a), build(/^where: condition must be bool, got float32/));
  assert.throws(() => F.exp(n), build(/^exp: needs a float input, got int64\[2\]/));
  assert.throws(() => F.softmax(n), build(/^softmax: needs a float input, got int64\[2\]/));
  assert.throws(() => F.logicalAnd(F.greater(a, 0), n), build(/^logical_and: needs bool inputs, got bool, int64/));
  assert.throws(() => F.sum(F.greater(a, 0)), build(/^sum: cannot reduce a bool tensor/));
  assert.throws(() => F.layerNorm(a, g.input('w', 'float64', [2]), g.input('b', 'float64', [2])), build(/^layer_norm: dtype mismatch: float32 vs float64/));
  assert.throws(() => F.embedding(g.input('t', 'float32', [4, 2]), a), build(/^embedding: ids must be int64\/int32, got float32/));
  assert.throws(() => F.takeAlongAxis(g.input('x', 'float32', [2, 3]), g.input('ix', 'float32', [2, 1]), 1), build(/^take_along_axis: indices must be int64\/int32, got float32/));
  assert.throws(() => F.oneHot(a, 3), build(/^one_hot: indices must be int64\/int32, got float32/));
});

test('reshape with a wrong element count names reshape', () => {
  const g = new Graph('e');
  const a = g.input('a', 'float32', [2, 3]);
  assert.throws(() => F.reshape(a, [4, 2]), build(/^reshape: cannot reshape \[2, 3\] \(6 elements\) to \[4, 2\] \(8 elements\)/));
  assert.throws(() => F.reshape(a, [-1, 4]), build(/^reshape: cannot infer -1 reshaping \[2, 3\] to \[-1, 4\]/));
  assert.throws(() => F.reshape(a, [-1, -1]), build(/^reshape: at most one -1 allowed/));
  const s = g.input('s', 'float32', ['B', 3]);
  assert.throws(() => F.reshape(s, ['T', 3]), build(/^reshape: cannot reshape \[B, 3\] \(3\*B elements\) to \[T, 3\]/));
  assert.throws(() => F.squeeze(a, 0), build(/^squeeze: axis 0 of \[2, 3\] is not 1/));
});

test('bad transpose perms name transpose', () => {
  const g = new Graph('e');
  const a = g.input('a', 'float32', [2, 3, 4]);
  assert.throws(() => F.transpose(a, [0, 0, 1]), build(/^transpose: perm \[0,0,1\] is not a permutation of 3 axes \(input \[2, 3, 4\]\)/));
  assert.throws(() => F.transpose(a, [1, 0]), build(/^transpose: perm \[1,0\] is not a permutation of 3 axes/));
  assert.throws(() => F.transpose(a, [0, 1, 3]), build(/^transpose: axis 3 is out of range for rank 3/));
  // A valid perm of rank ≥ 11 is accepted (perms are compared numerically, not as strings).
  const big = g.input('big', 'float32', [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]);
  assert.deepEqual(F.transpose(big, [10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).shape, [2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
});

test('out-of-range axes name the op, the axis and the rank', () => {
  const g = new Graph('e');
  const a = g.input('a', 'float32', [2, 3]);
  assert.throws(() => F.sum(a, 2), build(/^sum: axis 2 is out of range for rank 2/));
  assert.throws(() => F.mean(a, [0, -3]), build(/^mean: axis -3 is out of range for rank 2/));
  assert.throws(() => F.max(a, 5), build(/^max: axis 5 is out of range for rank 2/));
  assert.throws(() => F.softmax(a, 2), build(/^softmax: axis 2 is out of range for rank 2/));
  assert.throws(() => F.logSoftmax(a, -3), build(/^log_softmax: axis -3 is out of range for rank 2/));
  assert.throws(() => F.cumsum(a, 2), build(/^cumsum: axis 2 is out of range for rank 2/));
  assert.throws(() => F.concat([a, a], 2), build(/^concat: axis 2 is out of range for rank 2/));
  assert.throws(() => F.slice(a, -3, 0, 1), build(/^slice: axis -3 is out of range for rank 2/));
  assert.throws(() => F.split(a, [1, 2], 3), build(/^split: axis 3 is out of range for rank 2/));
  assert.throws(() => F.unsqueeze(a, 4), build(/^unsqueeze: axis 4 is out of range for rank 3/));
  assert.throws(() => F.squeeze(a, 2), build(/^squeeze: axis 2 is out of range for rank 2/));
  assert.throws(() => F.takeAlongAxis(a, g.input('ix', 'int64', [2, 1]), 2), build(/^take_along_axis: axis 2 is out of range for rank 2/));
  assert.throws(() => F.argmax(a, 2), build(/^argmax: axis 2 is out of range for rank 2/));
});

test('other malformed graphs name the op', () => {
  const g = new Graph('e');
  const a = g.input('a', 'float32', [2, 3]);
  assert.throws(() => F.concat([a, g.input('b', 'float32', [3, 3])], 1), build(/^concat: inputs differ off axis 1: \[2, 3\], \[3, 3\]/));
  assert.throws(() => F.concat([a, g.input('c', 'float32', [2])], 0), build(/^concat: inputs differ: float32\[2, 3\], float32\[2\]/));
  assert.throws(() => F.split(a, [1, 1], 1), build(/^split: sizes \[1,1\] do not add up to axis 1 of \[2, 3\]/));
  assert.throws(() => F.layerNorm(a, g.input('w', 'float32', [2]), g.input('lb', 'float32', [3])), build(/^layer_norm: scale\/bias must be \[3\] for input \[2, 3\], got \[2\]/));
  assert.throws(() => F.takeAlongAxis(a, g.input('ix', 'int64', [2]), 1), build(/^take_along_axis: indices \[2\] must have the rank of \[2, 3\]/));
  assert.throws(() => F.takeAlongAxis(a, g.input('iy', 'int64', [3, 1]), 1), build(/^take_along_axis: indices \[3, 1\] do not fit \[2, 3\] off axis 1/));
  assert.throws(() => g.input('a', 'float32', [1]), build(/^input: an input named "a" already exists/));
  assert.throws(() => g.input('neg', 'float32', [-2]), build(/^input: "neg" has an invalid dim -2/));
  assert.throws(() => g.constant(new Float32Array(3), 'float32', [2, 2]), build(/^constant: data has 3 elements but shape \[2, 2\] needs 4/));
  const other = new Graph('other');
  const o = other.input('o', 'float32', [2, 3]);
  assert.throws(() => F.add(a, o), build(/^add: inputs come from different graphs/));
  assert.throws(() => g.output('o', o), build(/^output: "o" belongs to another graph/));
  g.output('y', a);
  assert.throws(() => g.output('y', a), build(/^output: an output named "y" already exists/));
});

test('grad rejects a non-scalar loss and non-float targets', async () => {
  const g = new Graph('e');
  const a = g.input('a', 'float32', [2, 3]);
  const n = g.input('n', 'int64', [2]);
  assert.throws(() => grad(F.mul(a, 2), [a]), build(/^grad: loss must be a scalar \(got \[2, 3\]\)/));
  assert.throws(() => grad(F.sum(n), [a]), build(/^grad: loss must be float, got int64/));
  assert.throws(() => grad(F.sum(a), [n]), build(/^grad: cannot differentiate with respect to int64 Tensor#\d+<int64\[2\]> from input/));
  const other = new Graph('other');
  assert.throws(() => grad(F.sum(a), [other.input('o', 'float32', [1])]), build(/^grad: Tensor#\d+<float32\[1\]> from input belongs to another graph/));
  // A non-scalar loss is fine with an explicit seed of its shape, and the seed is the upstream gradient:
  // grad(y, [a], s) is the vector-Jacobian product sᵀ·∂y/∂a (here y = a², so 2·a·s element by element).
  const [ga] = grad(F.mul(a, 2), [a], F.full(g, [2, 3], 1));
  assert.deepEqual(ga!.shape, [2, 3]);
  const s = g.input('s', 'float32', [2, 3]);
  const [gsq] = grad(F.mul(a, a), [a], s);
  const r = await compile(g, { outputs: new Map([['ga', ga!], ['gsq', gsq!]]) }).then((c) => c.run({
    a: f32([1, 2, 3, -1, -2, 0.5], [2, 3]), s: f32([1, -1, 0.5, 2, 1, 3], [2, 3]),
  }));
  assert.deepEqual(Array.from(r.ga!.data as Float32Array), [2, 2, 2, 2, 2, 2]);
  assert.deepEqual(Array.from(r.gsq!.data as Float32Array), [2, -4, 3, -4, -4, 3]);
});

test('compile rejects a graph without outputs', async () => {
  const g = new Graph('empty');
  g.input('a', 'float32', [1]);
  await assert.rejects(compile(g), build(/^emit: graph "empty" has no outputs/));
});

test('compile rejects a symbolic dim that no input defines', async () => {
  const g = new Graph('nosym');
  g.output('z', F.zeros(g, ['Q', 2]));
  await assert.rejects(compile(g), build(/^lower: symbolic dim "Q" does not come from any graph input/));
});

// ---- feeds -------------------------------------------------------------------------------------

async function feedGraph() {
  const g = new Graph('feeds');
  const xT = g.input('x', 'float64', ['B', 3]);
  const yT = g.input('y', 'float64', ['B', 3]);
  const n = g.input('n', 'int64', [2]);
  g.output('out', F.add(F.add(xT, yT), F.sum(F.cast(n, 'float64'))));
  return compile(g);
}
const good = () => ({ x: f64([1, 2, 3, 4, 5, 6], [2, 3]), y: f64([1, 2, 3, 4, 5, 6], [2, 3]), n: i64([1, 2], [2]) });

test('feeds: a good feed runs', async () => {
  const c = await feedGraph();
  const r = await c.run(good());
  assert.deepEqual(Array.from(r.out!.data as Float64Array), [5, 7, 9, 11, 13, 15]);
});

test('feeds: a missing feed names the input and its type', async () => {
  const c = await feedGraph();
  const { x, n } = good();
  await assert.rejects(c.run({ x, n }), feed(/^graph "feeds": missing feed "y" \(float64\[B, 3\]\)/));
});

test('feeds: a wrong dtype names the input, the dtype given and the one expected', async () => {
  const c = await feedGraph();
  await assert.rejects(c.run({ ...good(), x: f32([1, 2, 3, 4, 5, 6], [2, 3]) }), feed(/feed "x" has dtype float32, expected float64\[B, 3\]/));
  await assert.rejects(c.run({ ...good(), n: f64([1, 2], [2]) }), feed(/feed "n" has dtype float64, expected int64\[2\]/));
});

test('feeds: a wrong static dim or rank names the input and the axis', async () => {
  const c = await feedGraph();
  await assert.rejects(c.run({ ...good(), x: f64([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]) }), feed(/feed "x" has shape \[2, 4\], expected \[B, 3\] \(axis 1\)/));
  await assert.rejects(c.run({ ...good(), n: i64([1, 2, 3], [3]) }), feed(/feed "n" has shape \[3\], expected \[2\] \(axis 0\)/));
  await assert.rejects(c.run({ ...good(), x: f64([1, 2, 3], [3]) }), feed(/feed "x" has shape \[3\], expected \[B, 3\]/));
  await assert.rejects(c.run({ ...good(), x: { dtype: 'float64', shape: [2, 3], data: new Float64Array(5) } }), feed(/feed "x" has 5 values for shape \[2, 3\] \(6\)/));
});

test('feeds: one symbolic dim with two sizes names both inputs', async () => {
  const c = await feedGraph();
  await assert.rejects(c.run({ ...good(), y: f64([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3]) }), feed(/dim "B" is 2 in "x" but 3 in "y"/));
});

test('feeds: an unknown feed name is reported with the known inputs', async () => {
  const c = await feedGraph();
  await assert.rejects(c.run({ ...good(), z: f64([1], [1]) }), feed(/unknown feed "z"; inputs are x, y, n/));
});
