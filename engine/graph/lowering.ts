// Lowering a Graph to an ONNX model. Each OpDef.lower() emits one or more ONNX nodes through a
// Lowering context, which also knows how to produce the runtime value of a symbolic dim (Shape of the
// graph input it came from), so reshape/expand to symbolic shapes need no recompilation per size.

import { type Graph, type Tensor } from './graph.js';
import { type DType, type Dim, dimSymbols, type TypedArray, GraphBuildError, toFloat16Bits, toBfloat16Bits } from './shape.js';
import { type AttrValue, type NodeProto, type TensorProto, OnnxDType, encodeModel } from './onnx-proto.js';

export const OPSET = 18;
/** ONNX Runtime's contrib-op domain (FastGelu, Gelu, BiasGelu: engine/graph/ops/fused.ts). */
export const MS_DOMAIN = 'com.microsoft';
/** The engine's own CPU kernels (AdamWStep: engine/graph/ops/adamw.ts; DecodeMatMul: ops/nn.ts), which
 *  the native binding registers (native/custom_ops.h RRLHF_OP_DOMAIN names the same). */
export const RRLHF_DOMAIN = 'ai.rrlhf';

/** Attribute values written by op lowerings: numbers are INT, arrays INTS, wrap floats with float(). */
export type LAttr = number | number[] | string | { float: number } | { floats: number[] } | { tensor: TensorProto };
export const float = (value: number) => ({ float: value });

export function onnxType(d: DType): number {
  return OnnxDType[d];
}

function toAttr(v: LAttr): AttrValue {
  if (typeof v === 'number') return { type: 'int', value: v };
  if (typeof v === 'string') return { type: 'string', value: v };
  if (Array.isArray(v)) return { type: 'ints', value: v };
  if ('float' in v) return { type: 'float', value: v.float };
  if ('floats' in v) return { type: 'floats', value: v.floats };
  return { type: 'tensor', value: v.tensor };
}

export function rawBytes(data: TypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export class Lowering {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private tmpId = 0;
  private dimCache = new Map<string, string>();
  private constCache = new Map<string, string>();

  /** Tensors computed directly under a graph-output name (saves an Identity copy per output). */
  readonly rename = new Map<Tensor, string>();

  constructor(readonly graph: Graph, readonly options: LoweringOptions = {}) {}

  /** log_softmax along an axis: ONNX's LogSoftmax, or (options.decomposeLogSoftmax) the same
   *  x − max − log Σ exp(x − max) from reductions, for providers without a LogSoftmax kernel. */
  logSoftmax(x: string, out: string, axis: number): void {
    if (!this.options.decomposeLogSoftmax) { this.node('LogSoftmax', [x], [out], { axis }); return; }
    const axes = this.constI64([axis]);
    const [m] = this.node('ReduceMax', [x, axes], 1, { keepdims: 1 });
    const [shifted] = this.node('Sub', [x, m!]);
    const [ex] = this.node('Exp', [shifted!]);
    const [z] = this.node('ReduceSum', [ex!, axes], 1, { keepdims: 1 });
    const [lz] = this.node('Log', [z!]);
    this.node('Sub', [shifted!, lz!], [out]);
  }

  /** The ONNX value name of a tensor. */
  name(t: Tensor): string {
    if (t.node.op.name === 'input') return (t.node.attrs as { name: string }).name;
    return this.rename.get(t) ?? `t${t.id}`;
  }

  tmp(hint = 'tmp'): string {
    return `_${hint}${this.tmpId++}`;
  }

  /** Emits an ONNX node; returns its output names (fresh temporaries when given a count). */
  node(opType: string, inputs: string[], outputs: string[] | number = 1, attrs: Record<string, LAttr | undefined> = {}, domain?: typeof MS_DOMAIN | typeof RRLHF_DOMAIN): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.tmp(opType)) : outputs;
    const a: Record<string, AttrValue> = {};
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) a[k] = toAttr(v);
    this.nodes.push({ opType, inputs, outputs: outs, attrs: a, ...(domain ? { domain } : {}) });
    return outs;
  }

  /** An ONNX Runtime contrib op (com.microsoft domain, version 1); the model then imports that domain. */
  msNode(opType: string, inputs: string[], outputs: string[] | number = 1, attrs: Record<string, LAttr | undefined> = {}): string[] {
    return this.node(opType, inputs, outputs, attrs, MS_DOMAIN);
  }

  /** Shorthand: one ONNX node computing exactly the output of the Tensor. */
  emit(opType: string, inputs: string[], out: Tensor, attrs: Record<string, LAttr | undefined> = {}): void {
    this.node(opType, inputs, [this.name(out)], attrs);
  }

  initializer(t: Tensor, data: TypedArray): void {
    this.initializers.push({ name: this.name(t), dataType: onnxType(t.dtype), dims: t.shape as number[], raw: rawBytes(data) });
  }

  /** An int64 constant (1-D unless shape is given). */
  constI64(values: number[], shape: number[] = [values.length]): string {
    const key = `i64${shape.join('x')}:${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.tmp('c');
    this.initializers.push({ name, dataType: OnnxDType.int64, dims: shape, raw: rawBytes(BigInt64Array.from(values, (v) => BigInt(v))) });
    this.constCache.set(key, name);
    return name;
  }

  constScalar(value: number, dtype: DType): string {
    const key = `${dtype}:${value}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.tmp('c');
    const data = dtype === 'float64' ? new Float64Array([value]) : dtype === 'int64' ? new BigInt64Array([BigInt(value)])
      : dtype === 'float16' ? new Uint16Array([toFloat16Bits(value)]) : dtype === 'bfloat16' ? new Uint16Array([toBfloat16Bits(value)]) : new Float32Array([value]);
    const stored: DType = dtype === 'float64' || dtype === 'int64' || dtype === 'float16' || dtype === 'bfloat16' ? dtype : 'float32';
    this.initializers.push({ name, dataType: onnxType(stored), dims: [], raw: rawBytes(data) });
    this.constCache.set(key, name);
    return name;
  }

  /** Runtime value of a dim as an int64 tensor of shape [1]. */
  dimValue(d: Dim): string {
    if (typeof d === 'number') return this.constI64([d]);
    const hit = this.dimCache.get(d);
    if (hit) return hit;
    const { coef, syms } = dimSymbols(d);
    let acc: string | null = coef === 1 ? null : this.constI64([coef]);
    for (const s of syms) {
      const src = this.graph.symbols.get(s);
      if (!src) throw new GraphBuildError('lower', `symbolic dim "${s}" does not come from any graph input`);
      const [v] = this.node('Shape', [this.name(src.tensor)], 1, { start: src.axis, end: src.axis + 1 });
      acc = acc === null ? v! : this.node('Mul', [acc, v!])[0]!;
    }
    this.dimCache.set(d, acc!);
    return acc!;
  }

  /** Runtime value of a whole shape as a 1-D int64 tensor. */
  shapeTensor(dims: readonly Dim[]): string {
    if (dims.every((d) => typeof d === 'number')) return this.constI64(dims as number[]);
    if (dims.length === 1) return this.dimValue(dims[0]!);
    return this.node('Concat', dims.map((d) => this.dimValue(d)), 1, { axis: 0 })[0]!;
  }
}

/** Per-provider choices of how an op is written in ONNX (the math is the same). */
export interface LoweringOptions {
  /** ORT's WebGPU provider has no LogSoftmax kernel: it would run on the CPU, copying the whole
   *  [tokens, vocab] tensor out of and back into GPU memory. */
  decomposeLogSoftmax?: boolean;
  /** ORT's WebGPU SimplifiedLayerNormalization writes the row mean of x, not 1/rms, into its second
   *  output (webgpu/nn/layer_norm.cc shares LayerNormalization's Mean slot): compute rms_norm's
   *  statistic with reductions there. */
  decomposeRmsNorm?: boolean;
  /** AdamW as the engine's one-pass CPU kernel (ai.rrlhf AdamWStep), which only the native binding's
   *  sessions have; elsewhere the same arithmetic in standard ops. */
  fusedAdamW?: boolean;
  /** x @ w for a weight w as the engine's decode kernel (ai.rrlhf DecodeMatMul / DecodeMatMulNT), which
   *  streams w once for the few rows of a decode step; only the native binding's CPU sessions have it,
   *  and only the decode graph asks for it (docs/engine.md § Decode MatMul). */
  decodeMatMul?: boolean;
}

export interface EmitResult { bytes: Uint8Array; inputs: { name: string; dtype: DType; shape: Dim[]; kind: string }[]; outputs: { name: string; dtype: DType; shape: Dim[] }[] }

/** Removes ONNX nodes none of whose outputs is read (a lowering that reads an op's input directly, as the
 *  decode MatMul reads w past its Transpose, leaves that op's node unread). */
function dropDeadNodes(nodes: { inputs: string[]; outputs: string[] }[], graphOutputs: Iterable<string>): void {
  const read = new Set(graphOutputs);
  const keep = new Array<boolean>(nodes.length);
  for (let i = nodes.length - 1; i >= 0; i--) {
    keep[i] = nodes[i]!.outputs.some((o) => read.has(o));
    if (keep[i]) for (const x of nodes[i]!.inputs) read.add(x);
  }
  let j = 0;
  for (let i = 0; i < nodes.length; i++) if (keep[i]) nodes[j++] = nodes[i]!;
  nodes.length = j;
}

/** Emits the ONNX model computing the graph's outputs; dead nodes and unused inputs are dropped. */
export function emitOnnx(graph: Graph, outputs: Map<string, Tensor> = graph.outputs, options: LoweringOptions = {}): EmitResult {
  if (outputs.size === 0) throw new GraphBuildError('emit', `graph "${graph.name}" has no outputs`);
  const live = graph.live(outputs.values());
  const e = new Lowering(graph, options);
  // Symbols are read from inputs, so every input a symbol comes from must stay declared.
  const needed = new Set(live.filter((n) => n.op.name === 'input').map((n) => (n.attrs as { name: string }).name));
  // An output computed by an op is produced under its output name; inputs, constants and a tensor
  // exported twice go through Identity.
  for (const [name, t] of outputs) {
    if (t.node.op.name !== 'input' && t.node.op.name !== 'constant' && !e.rename.has(t)) e.rename.set(t, name);
  }
  for (const n of live) n.op.lower(e, n);
  const outs = [...outputs.entries()].map(([name, t]) => {
    if (e.name(t) !== name) e.node('Identity', [e.name(t)], [name]);
    return { name, dtype: t.dtype, shape: t.shape };
  });
  dropDeadNodes(e.nodes, outputs.keys());
  for (const node of e.nodes) for (const i of node.inputs) if (graph.inputs.has(i)) needed.add(i);
  const inputs = [...graph.inputs.entries()].filter(([name]) => needed.has(name)).map(([name, t]) => ({
    name, dtype: t.dtype, shape: t.shape, kind: (t.node.attrs as { kind: string }).kind,
  }));
  const bytes = encodeModel({
    irVersion: 8,
    producer: 'rrlhf-engine',
    opsets: [{ domain: '', version: OPSET }, ...[MS_DOMAIN, RRLHF_DOMAIN].filter((d) => e.nodes.some((n) => n.domain === d)).map((domain) => ({ domain, version: 1 }))],
    graph: {
      name: graph.name,
      nodes: e.nodes,
      initializers: e.initializers,
      inputs: inputs.map((i) => ({ name: i.name, elemType: onnxType(i.dtype), dims: i.shape })),
      outputs: outs.map((o) => ({ name: o.name, elemType: onnxType(o.dtype), dims: o.shape })),
    },
  });
  return { bytes, inputs, outputs: outs };
}
