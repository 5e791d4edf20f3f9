// Shape ops: reshape, transpose, concat, split, slice, expand, squeeze/unsqueeze, zeros, range.
// Target shapes may hold symbolic dims; the lowering turns them into runtime shape tensors.

import { type OpDef, type Tensor, type Attrs, type Graph, type Node } from '../graph.js';
import { type DType, type Dim, GraphBuildError, dimDiv, dimEq, numel, fmtShape, normAxis, broadcastShapes, typedArrayFor, isHalf, toFloat16Bits, toBfloat16Bits } from '../shape.js';
import { type Lowering, onnxType, rawBytes } from '../lowering.js';
import { unbroadcast, promote } from './elementwise.js';

// ---- reshape -----------------------------------------------------------------------------------

interface ReshapeAttrs extends Attrs { shape: Dim[] }
export const Reshape: OpDef<ReshapeAttrs> = {
  name: 'reshape',
  infer: ([x], a) => [{ dtype: x!.dtype, shape: a.shape }],
  lower: (e, n) => e.emit('Reshape', [e.name(n.inputs[0]!), e.shapeTensor(n.attrs.shape)], n.outputs[0]!),
  grad: (n, [gy]) => [reshape(gy!, n.inputs[0]!.shape)],
};

/** Reshape; one dim may be -1 (inferred). Element counts are checked, symbolically where needed. */
export function reshape(x: Tensor, shape: readonly Dim[]): Tensor {
  const holes = shape.filter((d) => d === -1).length;
  if (holes > 1) throw new GraphBuildError('reshape', `at most one -1 allowed, got ${fmtShape(shape)}`);
  let out = [...shape];
  const total = numel(x.shape);
  if (holes === 1) {
    const known = numel(shape.filter((d) => d !== -1));
    const hole = dimDiv(total, known);
    if (hole === undefined) throw new GraphBuildError('reshape', `cannot infer -1 reshaping ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
    out = shape.map((d) => (d === -1 ? hole : d));
  }
  if (!dimEq(numel(out), total)) throw new GraphBuildError('reshape', `cannot reshape ${fmtShape(x.shape)} (${total} elements) to ${fmtShape(out)} (${numel(out)} elements)`);
  if (out.length === x.rank && out.every((d, i) => dimEq(d, x.shape[i]!))) return x;
  return x.graph.apply(Reshape, [x], { shape: out })[0]!;
}

export function squeeze(x: Tensor, axes: number | number[]): Tensor {
  const list = (Array.isArray(axes) ? axes : [axes]).map((a) => normAxis('squeeze', a, x.rank));
  for (const a of list) if (x.shape[a] !== 1) throw new GraphBuildError('squeeze', `axis ${a} of ${fmtShape(x.shape)} is not 1`);
  return reshape(x, x.shape.filter((_, i) => !list.includes(i)));
}

export function unsqueeze(x: Tensor, axes: number | number[]): Tensor {
  const rank = x.rank + (Array.isArray(axes) ? axes.length : 1);
  const list = (Array.isArray(axes) ? axes : [axes]).map((a) => normAxis('unsqueeze', a, rank));
  const out: Dim[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(list.includes(i) ? 1 : x.shape[k++]!);
  return reshape(x, out);
}

// ---- transpose ---------------------------------------------------------------------------------

interface PermAttrs extends Attrs { perm: number[] }
export const Transpose: OpDef<PermAttrs> = {
  name: 'transpose',
  infer: ([x], a) => {
    const r = x!.shape.length;
    if (a.perm.length !== r || [...a.perm].sort((p, q) => p - q).some((p, i) => p !== i)) throw new GraphBuildError('transpose', `perm [${a.perm}] is not a permutation of ${r} axes (input ${fmtShape(x!.shape)})`);
    return [{ dtype: x!.dtype, shape: a.perm.map((p) => x!.shape[p]!) }];
  },
  lower: (e, n) => e.emit('Transpose', [e.name(n.inputs[0]!)], n.outputs[0]!, { perm: n.attrs.perm }),
  grad: (n, [gy]) => {
    const inv = new Array<number>(n.attrs.perm.length);
    n.attrs.perm.forEach((p, i) => { inv[p] = i; });
    return [transpose(gy!, inv)];
  },
};
export const transpose = (x: Tensor, perm: number[]) => x.graph.apply(Transpose, [x], { perm: perm.map((p) => normAxis('transpose', p, x.rank)) })[0]!;
/** Swaps the last two axes. */
export function mT(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 1], perm[x.rank - 2]] = [perm[x.rank - 2]!, perm[x.rank - 1]!];
  return transpose(x, perm);
}

// ---- concat and split --------------------------------------------------------------------------

interface AxisAttrs extends Attrs { axis: number }
export const Concat: OpDef<AxisAttrs> = {
  name: 'concat',
  infer: (xs, a) => {
    const first = xs[0]!;
    let size: Dim = 0;
    for (const x of xs) {
      if (x.dtype !== first.dtype || x.shape.length !== first.shape.length) throw new GraphBuildError('concat', `inputs differ: ${xs.map((t) => t.dtype + fmtShape(t.shape)).join(', ')}`);
      x.shape.forEach((d, i) => {
        if (i !== a.axis && !dimEq(d, first.shape[i]!)) throw new GraphBuildError('concat', `inputs differ off axis ${a.axis}: ${xs.map((t) => fmtShape(t.shape)).join(', ')}`);
      });
      size = addDims(size, x.shape[a.axis]!);
    }
    return [{ dtype: first.dtype, shape: first.shape.map((d, i) => (i === a.axis ? size : d)) }];
  },
  lower: (e, n) => e.emit('Concat', n.inputs.map((x) => e.name(x)), n.outputs[0]!, { axis: n.attrs.axis }),
  grad: (n, [gy]) => split(gy!, n.inputs.map((x) => x.shape[n.attrs.axis]!), n.attrs.axis),
};

/** a + b for dims: static when both are; otherwise a symbol "a+b" (read at run time from the output). */
function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  return `(${a}+${b})`.replace(/\*/g, '·');
}

export function concat(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new GraphBuildError('concat', 'needs at least one input');
  if (xs.length === 1) return xs[0]!;
  const ax = normAxis('concat', axis, xs[0]!.rank);
  const y = xs[0]!.graph.apply(Concat, promote(xs), { axis: ax })[0]!;
  defineDerived(y, ax);
  return y;
}

interface SplitAttrs extends Attrs { axis: number; sizes: Dim[] }
export const Split: OpDef<SplitAttrs> = {
  name: 'split',
  infer: ([x], a) => {
    const total = a.sizes.reduce<Dim>((s, d) => addDims(s, d), 0);
    const d = x!.shape[a.axis]!;
    if (typeof d === 'number' && typeof total === 'number' && d !== total) throw new GraphBuildError('split', `sizes [${a.sizes}] do not add up to axis ${a.axis} of ${fmtShape(x!.shape)}`);
    return a.sizes.map((s) => ({ dtype: x!.dtype, shape: x!.shape.map((dd, i) => (i === a.axis ? s : dd)) }));
  },
  lower: (e, n) => { e.node('Split', [e.name(n.inputs[0]!), e.shapeTensor(n.attrs.sizes)], n.outputs.map((o) => e.name(o)), { axis: n.attrs.axis }); },
  grad: (n, gys) => [concat(gys.map((g, i) => g ?? zeros(n.inputs[0]!.graph, n.outputs[i]!.shape, n.outputs[i]!.dtype)), n.attrs.axis)],
};
export function split(x: Tensor, sizes: Dim[], axis: number): Tensor[] {
  return x.graph.apply(Split, [x], { axis: normAxis('split', axis, x.rank), sizes })!;
}

// ---- slice -------------------------------------------------------------------------------------

interface SliceAttrs extends Attrs { axis: number; start: number; end: number | null }
const END = 2 ** 53; // "to the end" for ONNX Slice (clamped to the dim)

export const Slice: OpDef<SliceAttrs> = {
  name: 'slice',
  infer: ([x], a) => [{ dtype: x!.dtype, shape: x!.shape.map((d, i) => (i === a.axis ? sliceDim(d, a.start, a.end) : d)) }],
  lower: (e, n) => e.emit('Slice', [e.name(n.inputs[0]!), e.constI64([n.attrs.start]), e.constI64([n.attrs.end ?? END]), e.constI64([n.attrs.axis])], n.outputs[0]!),
  grad: (n, [gy]) => [gy!.graph.apply(SliceGrad, [gy!, n.inputs[0]!], n.attrs)[0]!],
};

function sliceDim(d: Dim, start: number, end: number | null): Dim {
  if (typeof d === 'number') {
    const s = Math.min(Math.max(start < 0 ? d + start : start, 0), d);
    const e = end === null ? d : Math.min(Math.max(end < 0 ? d + end : end, 0), d);
    return Math.max(e - s, 0);
  }
  // Symbolic: sizes like "T-1" are exact when start/end are counted from the edges.
  const base = d.replace(/\*/g, '·');
  if (end === null && start >= 0) return start === 0 ? d : `${base}-${start}`;
  if (end === null && start < 0) return -start;
  if (end !== null && end < 0 && start >= 0) return `${base}-${start - end}`;
  if (end !== null && end >= 0 && start >= 0) return end - start; // assumes the dim is at least `end`
  if (end !== null && end < 0 && start < 0) return end - start;
  throw new GraphBuildError('slice', `cannot size slice [${start}:${end}] of symbolic dim ${d}`);
}

/** The adjoint of slice: pads the gradient with zeros back to the input's extent (computed at run time). */
const SliceGrad: OpDef<SliceAttrs> = {
  name: 'slice_grad',
  infer: ([gy, x]) => [{ dtype: gy!.dtype, shape: x!.shape }],
  lower: (e, n) => {
    const { axis, start } = n.attrs;
    // A negative start counts from the end and clamps at 0, as the forward Slice does.
    padBack(e, n, (dimX) => (start >= 0 ? e.constI64([start]) : e.node('Max', [e.node('Add', [dimX, e.constI64([start])])[0]!, e.constI64([0])])[0]!), null);
  },
  grad: (n, [gz]) => [gz ? slice(gz, n.attrs.axis, n.attrs.start, n.attrs.end) : null, null],
};

/** Lowers a slice's adjoint: pads gy (node input 0) with zeros back to x's extent (input 1) along the
 *  node's axis, `before(dimX)` zeros in front and the rest (or `after`, when given) behind. */
function padBack(e: Lowering, n: Node<SliceAttrs | TailAttrs>, before: (dimX: string, dimG: string) => string, after: number | null): void {
  const [gy, x] = n.inputs as [Tensor, Tensor];
  const { axis } = n.attrs;
  const [dimX] = e.node('Shape', [e.name(x)], 1, { start: axis, end: axis + 1 });
  const [dimG] = e.node('Shape', [e.name(gy)], 1, { start: axis, end: axis + 1 });
  const b = before(dimX!, dimG!);
  const a = after !== null ? e.constI64([after]) : e.node('Sub', [e.node('Sub', [dimX!, dimG!])[0]!, b])[0]!;
  const [pads] = e.node('Concat', [b, a], 1, { axis: 0 });
  e.emit('Pad', [e.name(gy), pads!, '', e.constI64([axis])], n.outputs[0]!, { mode: 'constant' });
}

/** x[..., start:end, ...] along one axis (negative indices count from the end; end null = to the end). */
export function slice(x: Tensor, axis: number, start: number, end: number | null = null): Tensor {
  const ax = normAxis('slice', axis, x.rank);
  const y = x.graph.apply(Slice, [x], { axis: ax, start, end })[0]!;
  defineDerived(y, ax);
  return y;
}

// ---- tail_like: the last n positions, n read from another tensor at run time ---------------------
// x[..., D−skip−n : D−skip, ...] along `axis`, where n is `like`'s size along `likeAxis`. Static
// slices cannot say "the last R" when R varies from run to run (PPO's response length); this can, and
// the result carries like's symbolic dim, so it lines up with tensors of that shape.

interface TailAttrs extends Attrs { axis: number; likeAxis: number; skip: number }
export const TailLike: OpDef<TailAttrs> = {
  name: 'tail_like',
  infer: ([x, like], a) => [{ dtype: x!.dtype, shape: x!.shape.map((d, i) => (i === a.axis ? like!.shape[a.likeAxis]! : d)) }],
  lower: (e, n) => {
    const [x, like] = n.inputs as [Tensor, Tensor];
    const { axis, likeAxis, skip } = n.attrs;
    const [len] = e.node('Shape', [e.name(like)], 1, { start: likeAxis, end: likeAxis + 1 });
    const [start] = e.node('Neg', [skip ? e.node('Add', [len!, e.constI64([skip])])[0]! : len!]);
    e.emit('Slice', [e.name(x), start!, e.constI64([skip ? -skip : END]), e.constI64([axis])], n.outputs[0]!);
  },
  grad: (n, [gy]) => [gy!.graph.apply(TailLikeGrad, [gy!, n.inputs[0]!], n.attrs)[0]!, null],
};

/** The adjoint of tail_like: zeros before (D − skip − n of them) and `skip` zeros after. */
const TailLikeGrad: OpDef<TailAttrs> = {
  name: 'tail_like_grad',
  infer: ([gy, x]) => [{ dtype: gy!.dtype, shape: x!.shape }],
  lower: (e, n) => {
    const { skip } = n.attrs;
    padBack(e, n, (dimX, dimG) => {
      const [rest] = e.node('Sub', [dimX, dimG]);
      return skip ? e.node('Sub', [rest!, e.constI64([skip])])[0]! : rest!;
    }, skip);
  },
  grad: (n, [gz]) => [gz ? tailLike(gz, n.attrs.axis, n.inputs[0]!, n.attrs.axis, n.attrs.skip) : null, null],
};

/** The last n positions of x along `axis` before its final `skip` ones, n = like.shape[likeAxis] at run
 *  time: x[..., −(n+skip) : −skip]. `like` contributes only its shape (no gradient flows to it). */
export function tailLike(x: Tensor, axis: number, like: Tensor, likeAxis: number, skip = 0): Tensor {
  const ax = normAxis('tail_like', axis, x.rank), lax = normAxis('tail_like', likeAxis, like.rank);
  if (!Number.isInteger(skip) || skip < 0) throw new GraphBuildError('tail_like', `skip must be a whole number ≥ 0, got ${skip}`);
  return x.graph.apply(TailLike, [x, like], { axis: ax, likeAxis: lax, skip })[0]!;
}

/** A new symbolic dim (e.g. "T-1") is read at run time from the tensor that first produced it. */
function defineDerived(y: Tensor, axis: number) {
  const d = y.shape[axis]!;
  if (typeof d === 'string' && !d.includes('*') && !y.graph.symbols.has(d)) y.graph.defineSymbol(d, y, axis);
}

// ---- expand and zeros --------------------------------------------------------------------------

interface ShapeAttrs extends Attrs { shape: Dim[] }
export const Expand: OpDef<ShapeAttrs> = {
  name: 'expand',
  infer: ([x], a) => [{ dtype: x!.dtype, shape: broadcastShapes('expand', x!.shape, a.shape) }],
  lower: (e, n) => e.emit('Expand', [e.name(n.inputs[0]!), e.shapeTensor(n.attrs.shape)], n.outputs[0]!),
  grad: (n, [gy]) => [unbroadcast(gy!, n.inputs[0]!.shape)],
};
export function expand(x: Tensor, shape: readonly Dim[]): Tensor {
  if (shape.length === x.rank && shape.every((d, i) => dimEq(d, x.shape[i]!))) return x;
  return x.graph.apply(Expand, [x], { shape: [...shape] })[0]!;
}

interface ZerosAttrs extends Attrs { shape: Dim[]; dtype: DType; value: number }
export const Fill: OpDef<ZerosAttrs> = {
  name: 'fill',
  // Its value depends on shapes or integer indices only: no gradient flows to any input (not an unknown rule).
  grad: (n) => n.inputs.map(() => null),
  infer: (_ins, a) => [{ dtype: a.dtype, shape: a.shape }],
  lower: (e, n) => {
    const v = typedArrayFor(n.attrs.dtype, 1);
    if (v instanceof BigInt64Array) v[0] = BigInt(n.attrs.value);
    else if (isHalf(n.attrs.dtype)) v[0] = n.attrs.dtype === 'float16' ? toFloat16Bits(n.attrs.value) : toBfloat16Bits(n.attrs.value);
    else v[0] = n.attrs.value;
    e.emit('ConstantOfShape', [e.shapeTensor(n.attrs.shape)], n.outputs[0]!, {
      value: { tensor: { name: 'value', dataType: onnxType(n.attrs.dtype), dims: [1], raw: rawBytes(v) } },
    });
  },
};
export const full = (g: Graph, shape: readonly Dim[], value: number, dtype: DType = 'float32') => g.apply(Fill, [], { shape: [...shape], dtype, value })[0]!;
export const zeros = (g: Graph, shape: readonly Dim[], dtype: DType = 'float32') => full(g, shape, 0, dtype);

// ---- range -------------------------------------------------------------------------------------

interface RangeAttrs extends Attrs { n: Dim; dtype: DType }
export const Range: OpDef<RangeAttrs> = {
  name: 'range',
  // Its value depends on shapes or integer indices only: no gradient flows to any input (not an unknown rule).
  grad: (n) => n.inputs.map(() => null),
  infer: (_ins, a) => [{ dtype: a.dtype, shape: [a.n] }],
  lower: (e, n) => {
    const [limit] = e.node('Reshape', [e.dimValue(n.attrs.n), e.constI64([], [0])]);
    const [r] = e.node('Range', [e.constScalar(0, 'int64'), limit!, e.constScalar(1, 'int64')]);
    e.emit('Cast', [r!], n.outputs[0]!, { to: onnxType(n.attrs.dtype) });
  },
};
/** [0, 1, …, n−1]; n may be symbolic. */
export const range = (g: Graph, n: Dim, dtype: DType = 'int64') => g.apply(Range, [], { n, dtype })[0]!;

