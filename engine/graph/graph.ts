// The tensor-program IR. A model is ordinary TypeScript that calls ops on Tensors; each call appends a
// Node to the Graph that owns its inputs (tracing). Nodes are appended in creation order, so that order
// is already a topological order — autodiff and the emitter rely on it.
//
// Every op is an OpDef: shape/dtype inference (fails at build time naming the op and shapes), its ONNX
// lowering, and its gradient rule, written next to each other in engine/graph/ops/.

import { type DType, type Dim, type HalfDType, GraphBuildError, fmtShape, canonDim, dimSymbols, type TypedArray, toFloat16Bits, toBfloat16Bits } from './shape.js';
import type { Lowering } from './lowering.js';

export type Attrs = Record<string, unknown>;

export interface TensorType { dtype: DType; shape: Dim[] }

export interface OpDef<A extends Attrs = Attrs> {
  name: string;
  infer(inputs: TensorType[], attrs: A): TensorType[];
  lower(e: Lowering, node: Node<A>): void;
  /** Gradients of the node's inputs given the gradients of its outputs (null = no gradient flows).
   *  Omit for ops that are not differentiable (integer/boolean outputs, stop_gradient). */
  grad?(node: Node<A>, gys: (Tensor | null)[]): (Tensor | null)[];
}

export class Node<A extends Attrs = Attrs> {
  outputs: Tensor[] = [];
  constructor(
    readonly id: number,
    readonly op: OpDef<A>,
    readonly inputs: Tensor[],
    readonly attrs: A,
  ) {}
}

export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly dtype: DType,
    readonly shape: Dim[],
    readonly node: Node,
    readonly index: number,
  ) {}
  get rank(): number { return this.shape.length; }
  toString(): string { return `Tensor#${this.id}<${this.dtype}${fmtShape(this.shape)}> from ${this.node.op.name}`; }
}

export interface InputAttrs extends Attrs { name: string; kind: 'input' | 'param' }
export interface ConstAttrs extends Attrs { data: TypedArray; key: string }

// Leaves: graph inputs (fed at run time) and constants (embedded in the emitted model).
export const InputOp: OpDef<InputAttrs> = {
  name: 'input',
  infer: () => { throw new Error('unreachable'); },
  lower: () => { /* graph inputs are declared by the emitter */ },
};
export const ConstOp: OpDef<ConstAttrs> = {
  name: 'constant',
  infer: () => { throw new Error('unreachable'); },
  lower: (e, node) => e.initializer(node.outputs[0]!, node.attrs.data),
};

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs = new Map<string, Tensor>();
  readonly outputs = new Map<string, Tensor>();
  /** symbol -> where its runtime value can be read: a tensor (an input, or the op output that derived
   *  the symbol, e.g. a slice giving "T-1") and the axis of it. */
  readonly symbols = new Map<string, { tensor: Tensor; axis: number }>();
  /** Node ranges [start, end) of `g.nodes` traced inside checkpoint(): what grad(…, { recompute: true })
   *  traces again in the backward pass instead of keeping (docs/engine.md § Gradient checkpointing). */
  readonly checkpoints: { start: number; end: number }[] = [];
  private inCheckpoint = false;
  /** Mixed precision (docs/engine.md § Mixed precision): while set, matmuls take their float32 operands in
   *  this dtype, a few ops (norms, softmax, reductions, exp/log/pow) take theirs in float32, and binary ops
   *  promote mixed float operands to the wider dtype — torch.autocast's rules. grad() clears it while it
   *  applies the rules, so the backward pass computes each gradient in its forward value's dtype. */
  autocast: HalfDType | null = null;
  private nextId = 0;
  private constCache = new Map<string, Tensor>();

  constructor(readonly name = 'graph') {}

  private leaf<A extends Attrs>(op: OpDef<A>, attrs: A, dtype: DType, shape: Dim[]): Tensor {
    const node = new Node(this.nextId++, op as OpDef<A>, [], attrs);
    const t = new Tensor(this, this.nextId++, dtype, shape.map(canonDim), node as unknown as Node, 0);
    node.outputs.push(t);
    this.nodes.push(node as unknown as Node);
    return t;
  }

  /** A value fed at run time. String dims are symbolic (e.g. 'B', 'T'). */
  input(name: string, dtype: DType, shape: Dim[], kind: 'input' | 'param' = 'input'): Tensor {
    if (this.inputs.has(name)) throw new GraphBuildError('input', `an input named "${name}" already exists`);
    shape.forEach((d) => {
      if (typeof d === 'number' && (!Number.isInteger(d) || d < 0)) throw new GraphBuildError('input', `"${name}" has an invalid dim ${d}`);
    });
    const t = this.leaf(InputOp, { name, kind }, dtype, shape);
    shape.forEach((d, axis) => { if (typeof d === 'string' && !d.includes('*')) this.defineSymbol(d, t, axis); });
    this.inputs.set(name, t);
    return t;
  }

  /** Records where a symbol's runtime value can be read (first definition wins). */
  defineSymbol(sym: string, tensor: Tensor, axis: number): void {
    if (!this.symbols.has(sym)) this.symbols.set(sym, { tensor, axis });
  }

  /** A trainable float32 parameter: an input the runtime feeds from a parameter store. */
  param(name: string, shape: number[]): Tensor {
    return this.input(name, 'float32', shape, 'param');
  }

  /** A constant embedded in the model. Small identical constants are shared. */
  constant(data: TypedArray, dtype: DType, shape: number[]): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new GraphBuildError('constant', `data has ${data.length} elements but shape ${fmtShape(shape)} needs ${n}`);
    const key = n <= 16 ? `${dtype}${fmtShape(shape)}:${Array.from(data as ArrayLike<number | bigint>, String).join(',')}` : '';
    if (key && this.constCache.has(key)) return this.constCache.get(key)!;
    const t = this.leaf(ConstOp, { data, key }, dtype, shape);
    if (key) this.constCache.set(key, t);
    return t;
  }

  scalar(value: number, dtype: DType = 'float32'): Tensor {
    const data = dtype === 'float32' ? new Float32Array([value])
      : dtype === 'float16' ? new Uint16Array([toFloat16Bits(value)])
      : dtype === 'bfloat16' ? new Uint16Array([toBfloat16Bits(value)])
      : dtype === 'float64' ? new Float64Array([value])
      : dtype === 'int64' ? new BigInt64Array([BigInt(value)])
      : dtype === 'int32' ? new Int32Array([value]) : new Uint8Array([value ? 1 : 0]);
    return this.constant(data, dtype, []);
  }

  output(name: string, t: Tensor): Tensor {
    if (t.graph !== this) throw new GraphBuildError('output', `"${name}" belongs to another graph`);
    if (this.outputs.has(name)) throw new GraphBuildError('output', `an output named "${name}" already exists`);
    this.outputs.set(name, t);
    return t;
  }

  /** Traces `fn` as one checkpointed segment (a model calls it once per layer). Marking costs nothing:
   *  only a grad() asked to recompute treats the segment differently. Segments do not nest. */
  checkpoint<T>(fn: () => T): T {
    if (this.inCheckpoint) throw new GraphBuildError('checkpoint', 'checkpointed segments do not nest');
    const start = this.nodes.length;
    this.inCheckpoint = true;
    try {
      const out = fn();
      if (this.nodes.length > start) this.checkpoints.push({ start, end: this.nodes.length });
      return out;
    } finally { this.inCheckpoint = false; }
  }

  /** Appends a node for `op`; used by the op functions in engine/graph/ops. */
  apply<A extends Attrs>(op: OpDef<A>, inputs: Tensor[], attrs: A): Tensor[] {
    for (const x of inputs) {
      if (x.graph !== this) throw new GraphBuildError(op.name, 'inputs come from different graphs');
    }
    const types = op.infer(inputs.map((x) => ({ dtype: x.dtype, shape: x.shape })), attrs);
    const node = new Node(this.nextId++, op, inputs, attrs);
    node.outputs = types.map((ty, i) => new Tensor(this, this.nextId++, ty.dtype, ty.shape.map(canonDim), node as unknown as Node, i));
    this.nodes.push(node as unknown as Node);
    return node.outputs;
  }

  /** Nodes needed to compute the outputs (dead-code elimination), in topological order. */
  live(outputs: Iterable<Tensor> = this.outputs.values()): Node[] {
    const need = new Set<Node>();
    const stack = [...outputs].map((t) => t.node);
    while (stack.length) {
      const n = stack.pop()!;
      if (need.has(n)) continue;
      need.add(n);
      for (const x of n.inputs) stack.push(x.node);
      // A symbolic dim is read at run time from the tensor that defined it, so that tensor is live too.
      for (const t of n.outputs) {
        for (const d of t.shape) {
          if (typeof d !== 'string') continue;
          for (const s of dimSymbols(d).syms) { const src = this.symbols.get(s); if (src) stack.push(src.tensor.node); }
        }
      }
    }
    return this.nodes.filter((n) => need.has(n));
  }
}

/** The graph shared by a list of operands (numbers become constants of it). */
export function graphOf(op: string, xs: (Tensor | number)[]): Graph {
  const t = xs.find((x): x is Tensor => x instanceof Tensor);
  if (!t) throw new GraphBuildError(op, 'needs at least one Tensor operand');
  return t.graph;
}
