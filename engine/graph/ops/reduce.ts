// Reductions and the normalising ops built on them: sum/mean/max, logsumexp, softmax, log_softmax,
// cumsum. Axes are normalised at build time; gradients broadcast back with expand().

import { type OpDef, type Tensor, type Attrs } from '../graph.js';
import { type DType, type Dim, GraphBuildError, isFloat, normAxis, fmtShape, numel as numelOf } from '../shape.js';
import { onnxType } from '../lowering.js';
import { expand, reshape } from './shape.js';
import { mul, div, sub, exp, log, add, equal, cast, stopGradient, toFloat32 } from './elementwise.js';

interface ReduceAttrs extends Attrs { axes: number[]; keepdims: boolean }

function reducedShape(shape: Dim[], axes: number[], keepdims: boolean): Dim[] {
  return keepdims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

function reduceOp(name: string, onnx: string, grad: OpDef<ReduceAttrs>['grad']): OpDef<ReduceAttrs> {
  return {
    name,
    infer: ([x], a) => {
      if (x!.dtype === 'bool') throw new GraphBuildError(name, 'cannot reduce a bool tensor; cast it first');
      return [{ dtype: x!.dtype, shape: reducedShape(x!.shape, a.axes, a.keepdims) }];
    },
    // Empty axes reduce nothing (ONNX would reduce every axis unless noop_with_empty_axes is set).
    lower: (e, n) => e.emit(onnx, [e.name(n.inputs[0]!), e.constI64(n.attrs.axes)], n.outputs[0]!, {
      keepdims: n.attrs.keepdims ? 1 : 0, noop_with_empty_axes: n.attrs.axes.length === 0 ? 1 : undefined,
    }),
    grad,
  };
}

/** The gradient of a reduced value, reshaped so it broadcasts against the input again. */
function keepShape(gy: Tensor, x: Tensor, a: ReduceAttrs): Tensor {
  return a.keepdims ? gy : reshape(gy, reducedShape(x.shape, a.axes, true));
}

export const Sum = reduceOp('sum', 'ReduceSum', (n, [gy]) => [expand(keepShape(gy!, n.inputs[0]!, n.attrs), n.inputs[0]!.shape)]);
export const Mean = reduceOp('mean', 'ReduceMean', (n, [gy]) => {
  const x = n.inputs[0]!;
  return [div(expand(keepShape(gy!, x, n.attrs), x.shape), numel(x, n.attrs.axes))];
});
export const Max = reduceOp('max', 'ReduceMax', (n, [gy]) => {
  // The gradient goes to the maxima, split evenly between ties.
  const x = n.inputs[0]!;
  const y = keepShape(n.outputs[0]!, x, n.attrs);
  const mask = cast(equal(x, y), x.dtype);
  const count = sum(mask, n.attrs.axes, true);
  return [mul(mask, div(keepShape(gy!, x, n.attrs), count))];
});

function axesOf(op: string, x: Tensor, axes?: number | number[]): number[] {
  const list = axes === undefined ? x.shape.map((_, i) => i) : Array.isArray(axes) ? axes : [axes];
  const out = [...new Set(list.map((a) => normAxis(op, a, x.rank)))].sort((a, b) => a - b);
  return out;
}

export const sum = (x: Tensor, axes?: number | number[], keepdims = false) => x.graph.apply(Sum, [toFloat32(x)], { axes: axesOf('sum', x, axes), keepdims })[0]!;
export const mean = (x: Tensor, axes?: number | number[], keepdims = false) => x.graph.apply(Mean, [toFloat32(x)], { axes: axesOf('mean', x, axes), keepdims })[0]!;
export const max = (x: Tensor, axes?: number | number[], keepdims = false) => x.graph.apply(Max, [x], { axes: axesOf('max', x, axes), keepdims })[0]!;

/** log Σ exp(x) along axes, shifted by the (gradient-free) max for stability. */
export function logsumexp(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
  const m = stopGradient(max(x, axes, true));
  const s = add(log(sum(exp(sub(x, m)), axes, true)), m);
  return keepdims ? s : reshape(s, reducedShape(x.shape, axesOf('logsumexp', x, axes), false));
}

// ---- numel: the runtime element count over some axes (symbolic dims allowed) -------------------

interface NumelAttrs extends Attrs { axes: number[]; dtype: DType }
export const Numel: OpDef<NumelAttrs> = {
  name: 'numel',
  // Its value depends on shapes or integer indices only: no gradient flows to any input (not an unknown rule).
  grad: (n) => n.inputs.map(() => null),
  infer: (_ins, a) => [{ dtype: a.dtype, shape: [] }],
  lower: (e, n) => {
    const x = n.inputs[0]!;
    const dims = n.attrs.axes.map((i) => x.shape[i]!);
    const count = numelOf(dims);
    if (typeof count === 'number') {
      e.emit('Identity', [e.constScalar(count, n.attrs.dtype)], n.outputs[0]!);
      return;
    }
    const [shape] = e.node('Shape', [e.name(x)]);
    const [picked] = e.node('Gather', [shape!, e.constI64(n.attrs.axes)], 1, { axis: 0 });
    const [prod] = e.node('ReduceProd', [picked!], 1, { keepdims: 0 });
    e.emit('Cast', [prod!], n.outputs[0]!, { to: onnxType(n.attrs.dtype) });
  },
};
export const numel = (x: Tensor, axes?: number | number[], dtype: DType = x.dtype) =>
  x.graph.apply(Numel, [x], { axes: axesOf('numel', x, axes), dtype: isFloat(dtype) ? dtype : 'float32' })[0]!;

// ---- softmax family ----------------------------------------------------------------------------

interface AxisAttrs extends Attrs { axis: number }
function floatAxisInfer(name: string) {
  return ([x]: { dtype: DType; shape: Dim[] }[], a: AxisAttrs) => {
    if (!isFloat(x!.dtype)) throw new GraphBuildError(name, `needs a float input, got ${x!.dtype}${fmtShape(x!.shape)}`);
    normAxis(name, a.axis, x!.shape.length);
    return [x!];
  };
}

export const Softmax: OpDef<AxisAttrs> = {
  name: 'softmax',
  infer: floatAxisInfer('softmax'),
  lower: (e, n) => e.emit('Softmax', [e.name(n.inputs[0]!)], n.outputs[0]!, { axis: n.attrs.axis }),
  // dx = y ⊙ (dy − Σ dy⊙y)
  grad: (n, [gy]) => {
    const y = n.outputs[0]!;
    return [mul(y, sub(gy!, sum(mul(gy!, y), n.attrs.axis, true)))];
  },
};
export const LogSoftmax: OpDef<AxisAttrs> = {
  name: 'log_softmax',
  infer: floatAxisInfer('log_softmax'),
  lower: (e, n) => e.logSoftmax(e.name(n.inputs[0]!), e.name(n.outputs[0]!), n.attrs.axis),
  // dx = dy − softmax ⊙ Σ dy
  grad: (n, [gy]) => [sub(gy!, mul(exp(n.outputs[0]!), sum(gy!, n.attrs.axis, true)))],
};
// softmax, log_softmax, sum and mean are float32-list ops under autocast (docs/engine.md § Mixed precision).
export const softmax = (x: Tensor, axis = -1) => x.graph.apply(Softmax, [toFloat32(x)], { axis: normAxis('softmax', axis, x.rank) })[0]!;
export const logSoftmax = (x: Tensor, axis = -1) => x.graph.apply(LogSoftmax, [toFloat32(x)], { axis: normAxis('log_softmax', axis, x.rank) })[0]!;

// ---- cumsum ------------------------------------------------------------------------------------

interface CumsumAttrs extends Attrs { axis: number; exclusive: boolean; reverse: boolean }
export const Cumsum: OpDef<CumsumAttrs> = {
  name: 'cumsum',
  infer: ([x], a) => { normAxis('cumsum', a.axis, x!.shape.length); return [x!]; },
  lower: (e, n) => e.emit('CumSum', [e.name(n.inputs[0]!), e.constI64([n.attrs.axis], [])], n.outputs[0]!, {
    exclusive: n.attrs.exclusive ? 1 : 0, reverse: n.attrs.reverse ? 1 : 0,
  }),
  // The adjoint of a running sum is the running sum in the other direction.
  grad: (n, [gy]) => [gy!.graph.apply(Cumsum, [gy!], { ...n.attrs, reverse: !n.attrs.reverse })[0]!],
};
export const cumsum = (x: Tensor, axis: number, opts: { exclusive?: boolean; reverse?: boolean } = {}) =>
  x.graph.apply(Cumsum, [x], { axis: normAxis('cumsum', axis, x.rank), exclusive: !!opts.exclusive, reverse: !!opts.reverse })[0]!;

// ---- argmax (not differentiable) ---------------------------------------------------------------

interface ArgAttrs extends Attrs { axis: number; keepdims: boolean }
export const ArgMax: OpDef<ArgAttrs> = {
  name: 'argmax',
  // Its value depends on shapes or integer indices only: no gradient flows to any input (not an unknown rule).
  grad: (n) => n.inputs.map(() => null),
  infer: ([x], a) => [{ dtype: 'int64', shape: reducedShape(x!.shape, [a.axis], a.keepdims) }],
  lower: (e, n) => e.emit('ArgMax', [e.name(n.inputs[0]!)], n.outputs[0]!, { axis: n.attrs.axis, keepdims: n.attrs.keepdims ? 1 : 0 }),
};
/** Index of the largest value along an axis (the first one on ties), as int64. */
export const argmax = (x: Tensor, axis = -1, keepdims = false) =>
  x.graph.apply(ArgMax, [x], { axis: normAxis('argmax', axis, x.rank), keepdims })[0]!;
