// Elementwise ops: broadcasting arithmetic, unary math, comparisons, where, cast, stop_gradient, and the
// activations built from them. Each primitive's inference, ONNX lowering and gradient sit together.

import { type OpDef, type Tensor, type Attrs, graphOf, Tensor as T } from '../graph.js';
import { type DType, broadcastShapes, isFloat, isHalf, widerFloat, GraphBuildError, fmtShape } from '../shape.js';
import { sum } from './reduce.js';
import { onnxType as onnxTypeOf } from '../lowering.js';

type Operand = Tensor | number;

/** Turns number operands into scalar constants with the dtype of the tensor operand; under autocast,
 *  float tensors of different dtypes meet in the wider one. */
function lift(op: string, xs: Operand[]): Tensor[] {
  const g = graphOf(op, xs);
  const ts = promote(xs.filter((x): x is Tensor => x instanceof T));
  const dtype = ts[0]!.dtype;
  let k = 0;
  return xs.map((x) => (x instanceof T ? ts[k++]! : g.scalar(x, dtype)));
}

// ---- autocast (docs/engine.md § Mixed precision) ---------------------------------------------------
// torch.autocast's three lists, for the ops this IR has: matmuls run in the half dtype; ops that lose
// accuracy or overflow in 16 bits (norms, softmax, log-softmax, cross-entropy, sums and means, exp, log,
// pow, rsqrt) run in float32; everything else runs in its inputs' dtype, mixed inputs in the wider.
// Only the forward trace is cast: grad() clears g.autocast, so each rule computes in its node's dtype.

/** A matmul operand in the graph's half dtype (unchanged when autocast is off or x is not float32). */
export const toHalf = (x: Tensor): Tensor => (x.graph.autocast && x.dtype === 'float32' ? cast(x, x.graph.autocast) : x);
/** An operand of a float32-list op in float32 (unchanged when autocast is off or x is not half). */
export const toFloat32 = (x: Tensor): Tensor => (x.graph.autocast && isHalf(x.dtype) ? cast(x, 'float32') : x);
/** Float operands of one op in their widest dtype, under autocast only (otherwise a mismatch is an
 *  error the op reports). */
export function promote(xs: Tensor[]): Tensor[] {
  if (!xs[0]?.graph.autocast) return xs;
  const floats = xs.filter((x) => isFloat(x.dtype));
  if (floats.length < 2 || floats.every((x) => x.dtype === floats[0]!.dtype)) return xs;
  const to = floats.map((x) => x.dtype).reduce(widerFloat);
  return xs.map((x) => (isFloat(x.dtype) ? cast(x, to) : x));
}

/** Sums a broadcast gradient back to the shape of the operand it flowed from. */
export function unbroadcast(gy: Tensor, shape: readonly (number | string)[]): Tensor {
  let g = gy;
  const lead = g.rank - shape.length;
  if (lead > 0) g = sum(g, Array.from({ length: lead }, (_, i) => i), false);
  const axes: number[] = [];
  shape.forEach((d, i) => { if (d === 1 && g.shape[i] !== 1) axes.push(i); });
  if (axes.length) g = sum(g, axes, true);
  return g;
}

// ---- binary arithmetic -------------------------------------------------------------------------

function binaryInfer(name: string, outDtype?: DType) {
  return (ins: { dtype: DType; shape: (number | string)[] }[]) => {
    const [a, b] = ins as [typeof ins[0], typeof ins[0]];
    if (a.dtype !== b.dtype) throw new GraphBuildError(name, `dtype mismatch: ${a.dtype}${fmtShape(a.shape)} vs ${b.dtype}${fmtShape(b.shape)}`);
    return [{ dtype: outDtype ?? a.dtype, shape: broadcastShapes(name, a.shape, b.shape) }];
  };
}

function binary(name: string, onnx: string, grad?: OpDef['grad']): OpDef {
  return {
    name,
    infer: binaryInfer(name),
    lower: (e, n) => e.emit(onnx, n.inputs.map((x) => e.name(x)), n.outputs[0]!),
    grad,
  };
}

const ub = (g: Tensor | null, x: Tensor) => (g ? unbroadcast(g, x.shape) : null);

export const Add = binary('add', 'Add', (n, [gy]) => [ub(gy!, n.inputs[0]!), ub(gy!, n.inputs[1]!)]);
export const Sub = binary('sub', 'Sub', (n, [gy]) => [ub(gy!, n.inputs[0]!), ub(neg(gy!), n.inputs[1]!)]);
export const Mul = binary('mul', 'Mul', (n, [gy]) => {
  const [a, b] = n.inputs as [Tensor, Tensor];
  return [ub(mul(gy!, b), a), ub(mul(gy!, a), b)];
});
export const Div = binary('div', 'Div', (n, [gy]) => {
  const [a, b] = n.inputs as [Tensor, Tensor];
  const y = n.outputs[0]!;
  return [ub(div(gy!, b), a), ub(neg(div(mul(gy!, y), b)), b)];
});
export const Pow = binary('pow', 'Pow', (n, [gy]) => {
  const [a, b] = n.inputs as [Tensor, Tensor];
  const y = n.outputs[0]!;
  // d/da a^b = b·a^(b−1); d/db a^b = a^b·log a (defined for a > 0).
  const ga = mul(gy!, mul(b, pow(a, sub(b, 1))));
  const gb = mul(gy!, mul(y, log(a)));
  return [ub(ga, a), ub(gb, b)];
});
export const Minimum = binary('minimum', 'Min', (n, [gy]) => {
  const [a, b] = n.inputs as [Tensor, Tensor];
  const pick = cast(lessEqual(a, b), gy!.dtype); // ties go to a
  return [ub(mul(gy!, pick), a), ub(mul(gy!, sub(1, pick)), b)];
});
export const Maximum = binary('maximum', 'Max', (n, [gy]) => {
  const [a, b] = n.inputs as [Tensor, Tensor];
  const pick = cast(greaterEqual(a, b), gy!.dtype);
  return [ub(mul(gy!, pick), a), ub(mul(gy!, sub(1, pick)), b)];
});

export const add = (a: Operand, b: Operand) => { const [x, y] = lift('add', [a, b]); return x!.graph.apply(Add, [x!, y!], {})[0]!; };
export const sub = (a: Operand, b: Operand) => { const [x, y] = lift('sub', [a, b]); return x!.graph.apply(Sub, [x!, y!], {})[0]!; };
export const mul = (a: Operand, b: Operand) => { const [x, y] = lift('mul', [a, b]); return x!.graph.apply(Mul, [x!, y!], {})[0]!; };
export const div = (a: Operand, b: Operand) => { const [x, y] = lift('div', [a, b]); return x!.graph.apply(Div, [x!, y!], {})[0]!; };
export const pow = (a: Operand, b: Operand) => { const [x, y] = lift('pow', [a, b]).map(toFloat32); return x!.graph.apply(Pow, [x!, y!], {})[0]!; };
export const minimum = (a: Operand, b: Operand) => { const [x, y] = lift('minimum', [a, b]); return x!.graph.apply(Minimum, [x!, y!], {})[0]!; };
export const maximum = (a: Operand, b: Operand) => { const [x, y] = lift('maximum', [a, b]); return x!.graph.apply(Maximum, [x!, y!], {})[0]!; };
export const clamp = (x: Tensor, lo: number | null, hi: number | null) => {
  let y = x;
  if (lo !== null) y = maximum(y, lo);
  if (hi !== null) y = minimum(y, hi);
  return y;
};

// ---- comparisons and where (not differentiable) ------------------------------------------------

function compare(name: string, onnx: string): OpDef {
  return { name, infer: binaryInfer(name, 'bool'), lower: (e, n) => e.emit(onnx, n.inputs.map((x) => e.name(x)), n.outputs[0]!) };
}
const Equal = compare('equal', 'Equal');
const Less = compare('less', 'Less');
const LessEqual = compare('less_equal', 'LessOrEqual');
const Greater = compare('greater', 'Greater');
const GreaterEqual = compare('greater_equal', 'GreaterOrEqual');
const cmp = (op: OpDef) => (a: Operand, b: Operand) => { const [x, y] = lift(op.name, [a, b]); return x!.graph.apply(op, [x!, y!], {})[0]!; };
export const equal = cmp(Equal);
export const less = cmp(Less);
export const lessEqual = cmp(LessEqual);
export const greater = cmp(Greater);
export const greaterEqual = cmp(GreaterEqual);

const logical = (name: string, onnx: string): OpDef => ({
  name,
  infer: (ins) => {
    if (ins.some((t) => t.dtype !== 'bool')) throw new GraphBuildError(name, `needs bool inputs, got ${ins.map((t) => t.dtype).join(', ')}`);
    return [{ dtype: 'bool', shape: broadcastShapes(name, ...ins.map((t) => t.shape)) }];
  },
  lower: (e, n) => e.emit(onnx, n.inputs.map((x) => e.name(x)), n.outputs[0]!),
});
const And = logical('logical_and', 'And');
const Or = logical('logical_or', 'Or');
const Not = logical('logical_not', 'Not');
export const logicalAnd = (a: Tensor, b: Tensor) => a.graph.apply(And, [a, b], {})[0]!;
export const logicalOr = (a: Tensor, b: Tensor) => a.graph.apply(Or, [a, b], {})[0]!;
export const logicalNot = (a: Tensor) => a.graph.apply(Not, [a], {})[0]!;

export const Where: OpDef = {
  name: 'where',
  infer: ([c, a, b]) => {
    if (c!.dtype !== 'bool') throw new GraphBuildError('where', `condition must be bool, got ${c!.dtype}`);
    if (a!.dtype !== b!.dtype) throw new GraphBuildError('where', `branches differ in dtype: ${a!.dtype} vs ${b!.dtype}`);
    return [{ dtype: a!.dtype, shape: broadcastShapes('where', c!.shape, a!.shape, b!.shape) }];
  },
  lower: (e, n) => e.emit('Where', n.inputs.map((x) => e.name(x)), n.outputs[0]!),
  grad: (n, [gy]) => {
    const [c, a, b] = n.inputs as [Tensor, Tensor, Tensor];
    const zero = gy!.graph.scalar(0, gy!.dtype);
    return [null, ub(where(c, gy!, zero), a), ub(where(c, zero, gy!), b)];
  },
};
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  // Two numbers make float32 scalars (e.g. an additive attention mask: where(mask, 0, −1e9)).
  const [x, y] = typeof a === 'number' && typeof b === 'number' ? [cond.graph.scalar(a), cond.graph.scalar(b)] : lift('where', [a, b]);
  return cond.graph.apply(Where, [cond, x!, y!], {})[0]!;
}

// ---- unary -------------------------------------------------------------------------------------

function unary(name: string, onnx: string | ((e: Parameters<OpDef['lower']>[0], x: string, out: string, dtype: DType) => void), grad?: (x: Tensor, y: Tensor, gy: Tensor) => Tensor): OpDef {
  return {
    name,
    infer: ([x]) => {
      if (!isFloat(x!.dtype) && name !== 'neg' && name !== 'abs') throw new GraphBuildError(name, `needs a float input, got ${x!.dtype}${fmtShape(x!.shape)}`);
      return [{ dtype: x!.dtype, shape: x!.shape }];
    },
    lower: (e, n) => {
      const out = e.name(n.outputs[0]!);
      if (typeof onnx === 'string') e.node(onnx, [e.name(n.inputs[0]!)], [out]);
      else onnx(e, e.name(n.inputs[0]!), out, n.inputs[0]!.dtype);
    },
    grad: grad && ((n, [gy]) => [grad(n.inputs[0]!, n.outputs[0]!, gy!)]),
  };
}

export const Neg = unary('neg', 'Neg', (_x, _y, gy) => neg(gy));
export const Exp = unary('exp', 'Exp', (_x, y, gy) => mul(gy, y));
export const Log = unary('log', 'Log', (x, _y, gy) => div(gy, x));
export const Sqrt = unary('sqrt', 'Sqrt', (_x, y, gy) => div(mul(gy, 0.5), y));
export const Rsqrt = unary('rsqrt', (e, x, out) => { const [s] = e.node('Sqrt', [x]); e.node('Reciprocal', [s!], [out]); },
  (_x, y, gy) => mul(gy, mul(pow(y, 3), -0.5)));
export const Tanh = unary('tanh', 'Tanh', (_x, y, gy) => mul(gy, sub(1, mul(y, y))));
export const Sigmoid = unary('sigmoid', 'Sigmoid', (_x, y, gy) => mul(gy, mul(y, sub(1, y))));
export const Relu = unary('relu', 'Relu', (x, _y, gy) => where(greater(x, 0), gy, 0));
export const Abs = unary('abs', 'Abs', (x, _y, gy) => mul(gy, sign(x)));
export const Sin = unary('sin', 'Sin', (x, _y, gy) => mul(gy, cos(x)));
export const Cos = unary('cos', 'Cos', (x, _y, gy) => neg(mul(gy, sin(x))));
// ORT's CPU Erf has no float64 kernel; float64 graphs (gradient checks) compute it in float32.
export const Erf = unary('erf', (e, x, out, dtype) => {
  if (dtype !== 'float64') { e.node('Erf', [x], [out]); return; }
  const [x32] = e.node('Cast', [x], 1, { to: onnxTypeOf('float32') });
  const [y32] = e.node('Erf', [x32!]);
  e.node('Cast', [y32!], [out], { to: onnxTypeOf('float64') });
}, (x, _y, gy) => mul(gy, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI))));
const Sign = unary('sign', 'Sign');

const un = (op: OpDef) => (x: Tensor) => x.graph.apply(op, [x], {})[0]!;
/** A float32-list op under autocast (see above). */
const un32 = (op: OpDef) => (x: Tensor) => x.graph.apply(op, [toFloat32(x)], {})[0]!;
export const neg = un(Neg);
export const exp = un32(Exp);
export const log = un32(Log);
export const sqrt = un(Sqrt);
export const rsqrt = un32(Rsqrt);
export const tanh = un(Tanh);
export const sigmoid = un(Sigmoid);
export const relu = un(Relu);
export const abs = un(Abs);
export const sin = un(Sin);
export const cos = un(Cos);
export const erf = un(Erf);
export const sign = un(Sign);

// Activations composed from primitives: their gradients come from the primitives' rules (gelu is a
// fused op: ./fused.ts).
export const silu = (x: Tensor) => mul(x, sigmoid(x));
/** log σ(x), computed stably as −softplus(−x). */
export const logSigmoid = (x: Tensor) => neg(softplus(neg(x)));
/** log(1 + eˣ) = max(x, 0) + log(1 + e^−|x|), stable for large |x|. */
export const softplus = (x: Tensor) => add(relu(x), log(add(exp(neg(abs(x))), 1)));

// ---- cast and stop_gradient --------------------------------------------------------------------

interface CastAttrs extends Attrs { to: DType }
export const Cast: OpDef<CastAttrs> = {
  name: 'cast',
  infer: ([x], a) => [{ dtype: a.to, shape: x!.shape }],
  lower: (e, n) => e.emit('Cast', [e.name(n.inputs[0]!)], n.outputs[0]!, { to: onnxTypeOf(n.attrs.to) }),
  grad: (n, [gy]) => (isFloat(n.inputs[0]!.dtype) && isFloat(n.attrs.to) ? [cast(gy!, n.inputs[0]!.dtype)] : [null]),
};
export const cast = (x: Tensor, to: DType): Tensor => (x.dtype === to ? x : x.graph.apply(Cast, [x], { to })[0]!);

/** Identity in the forward pass; blocks gradients in the backward pass (no grad rule). */
export const StopGradient: OpDef = {
  name: 'stop_gradient',
  infer: ([x]) => [x!],
  lower: (e, n) => e.emit('Identity', [e.name(n.inputs[0]!)], n.outputs[0]!),
};
export const stopGradient = (x: Tensor) => x.graph.apply(StopGradient, [x], {})[0]!;

/** Identity (used to name or copy values). */
export const Identity: OpDef = {
  name: 'identity',
  infer: ([x]) => [x!],
  lower: (e, n) => e.emit('Identity', [e.name(n.inputs[0]!)], n.outputs[0]!),
  grad: (_n, [gy]) => [gy],
};
export const identity = (x: Tensor) => x.graph.apply(Identity, [x], {})[0]!;

