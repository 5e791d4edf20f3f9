// Neural-network ops: batched matmul, layer_norm / rms_norm, embedding (gather), take_along_axis,
// one_hot, causal masks, and rotary-embedding tables as Hugging Face computes them.

import { type OpDef, type Tensor, type Attrs, type Graph, type TensorType } from '../graph.js';
import { type DType, type Dim, GraphBuildError, broadcastShapes, dimEq, fmtShape, isFloat, normAxis } from '../shape.js';
import { type Lowering, onnxType, float, RRLHF_DOMAIN } from '../lowering.js';
import { add, sub, mul, neg, cast, lessEqual, greater, logicalAnd, unbroadcast, cos, sin, exp, toHalf, toFloat32 } from './elementwise.js';
import { mean, sum } from './reduce.js';
import { reshape, mT, unsqueeze, squeeze, range, concat, slice, expand, Transpose } from './shape.js';

// ---- matmul ------------------------------------------------------------------------------------

export const MatMul: OpDef = {
  name: 'matmul',
  infer: ([a, b]) => {
    if (a!.dtype !== b!.dtype || !isFloat(a!.dtype)) throw new GraphBuildError('matmul', `needs two float tensors of one dtype, got ${a!.dtype} and ${b!.dtype}`);
    if (a!.shape.length < 2 || b!.shape.length < 2) throw new GraphBuildError('matmul', `needs rank ≥ 2, got ${fmtShape(a!.shape)} @ ${fmtShape(b!.shape)}`);
    const [m, k1] = a!.shape.slice(-2) as [Dim, Dim];
    const [k2, n] = b!.shape.slice(-2) as [Dim, Dim];
    if (!dimEq(k1, k2) && typeof k1 === 'number' && typeof k2 === 'number') throw new GraphBuildError('matmul', `inner dims differ: ${fmtShape(a!.shape)} @ ${fmtShape(b!.shape)}`);
    const batch = broadcastShapes('matmul', a!.shape.slice(0, -2), b!.shape.slice(0, -2));
    return [{ dtype: a!.dtype, shape: [...batch, m, n] }];
  },
  lower: (e, n) => {
    const [a, b] = n.inputs as [Tensor, Tensor];
    if (e.options.decodeMatMul && a.dtype === 'float32' && b.rank === 2 && streamsWeight(b)) {
      // A decode step: the engine's kernel streams the weight once (native/matmul_op.c). x @ wᵀ reads w
      // in place rather than through the Transpose (which the emitter then drops as dead).
      const t = b.node.op === Transpose && (b.node.attrs as { perm: number[] }).perm[0] === 1 && b.node.inputs[0]!.rank === 2 ? b.node.inputs[0]! : null;
      e.node(t ? 'DecodeMatMulNT' : 'DecodeMatMul', [e.name(a), e.name(t ?? b)], [e.name(n.outputs[0]!)], {}, RRLHF_DOMAIN);
      return;
    }
    e.emit('MatMul', [e.name(a), e.name(b)], n.outputs[0]!);
  },
  grad: (n, [gy]) => {
    const [a, b] = n.inputs as [Tensor, Tensor];
    const ga = unbroadcast(matmul(gy!, mT(b)), a.shape);
    let gb: Tensor;
    if (b.rank === 2 && a.rank > 2) {
      // A weight shared across the batch: fold the batch into rows, one [K, N] product.
      const k = a.shape[a.rank - 1]!, nn = gy!.shape[gy!.rank - 1]!;
      gb = matmul(mT(reshape(a, [-1, k])), reshape(gy!, [-1, nn]));
    } else {
      gb = unbroadcast(matmul(mT(a), gy!), b.shape);
    }
    return [ga, gb];
  },
};
/** Weights from this many values on go through the decode kernel: smaller ones (LoRA's A and B at low
 *  rank) stay in cache between tokens, where ORT's MatMul is as fast and the kernel's tails are scalar. */
const DECODE_MIN_VALUES = 1 << 14;
function streamsWeight(b: Tensor): boolean {
  const [k, n] = b.shape;
  return typeof k === 'number' && typeof n === 'number' && k * n >= DECODE_MIN_VALUES && Math.min(k, n) >= 16;
}
/** a @ b; under autocast in the graph's half dtype (docs/engine.md § Mixed precision). */
export const matmul = (a: Tensor, b: Tensor) => a.graph.apply(MatMul, [toHalf(a), toHalf(b)], {})[0]!;

/** A bias added to a matmul's output in that output's dtype, as torch's linear does under autocast. */
export const biasOf = (y: Tensor, b: Tensor) => (y.graph.autocast && b.dtype !== y.dtype ? cast(b, y.dtype) : b);
/** x @ w (+ b) for weights stored [in, out] (GPT-2 Conv1D). */
export const linear = (x: Tensor, w: Tensor, b?: Tensor) => { const y = matmul(x, w); return b ? add(y, biasOf(y, b)) : y; };
/** x @ wᵀ (+ b) for weights stored [out, in] (torch nn.Linear, Llama). */
export const linearT = (x: Tensor, w: Tensor, b?: Tensor) => { const y = matmul(x, mT(w)); return b ? add(y, biasOf(y, b)) : y; };

// ---- normalisation -----------------------------------------------------------------------------

interface NormAttrs extends Attrs { eps: number }

function checkNormParams(name: string, x: TensorType, params: TensorType[]): void {
  const d = x.shape[x.shape.length - 1]!;
  for (const p of params) {
    if (p.shape.length !== 1 || !dimEq(p.shape[0]!, d)) throw new GraphBuildError(name, `scale/bias must be [${d}] for input ${fmtShape(x.shape)}, got ${fmtShape(p.shape)}`);
    if (p.dtype !== x.dtype) throw new GraphBuildError(name, `dtype mismatch: ${x.dtype} vs ${p.dtype}`);
  }
}
/** The per-row statistics a norm returns beside its output: [..., 1] (kept axis), in the input dtype. */
const statType = (x: TensorType): TensorType => ({ dtype: x.dtype, shape: [...x.shape.slice(0, -1), 1] });

/** float64 graphs (gradient checks) compute the statistics with reductions in float64: ORT's float64
 *  LayerNormalization / SimplifiedLayerNormalization kernels stash them in float32 only. */
function lowerNormStats(e: Lowering, x: string, eps: number, dtype: DType, centered: boolean): { xc: string; mean?: string; rstd: string } {
  const axes = e.constI64([-1]);
  const mean = centered ? e.node('ReduceMean', [x, axes], 1, { keepdims: 1 })[0]! : undefined;
  const xc = mean ? e.node('Sub', [x, mean])[0]! : x;
  const [ms] = e.node('ReduceMean', [e.node('Mul', [xc, xc])[0]!, axes], 1, { keepdims: 1 });
  const [rstd] = e.node('Reciprocal', [e.node('Sqrt', [e.node('Add', [ms!, e.constScalar(eps, dtype)])[0]!])[0]!]);
  return { xc, mean, rstd: rstd! };
}

/** LayerNorm over the last axis. Outputs y, mean and 1/√(var + eps) (ONNX LayerNormalization's Mean and
 *  InvStdDev), so the backward reuses the statistics instead of recomputing them. */
export const LayerNorm: OpDef<NormAttrs> = {
  name: 'layer_norm',
  infer: ([x, w, b]) => { checkNormParams('layer_norm', x!, [w!, b!]); return [x!, statType(x!), statType(x!)]; },
  lower: (e, n) => {
    const [x, w, b] = n.inputs.map((t) => e.name(t)) as [string, string, string];
    const outs = n.outputs.map((t) => e.name(t));
    if (n.inputs[0]!.dtype === 'float32') { e.node('LayerNormalization', [x, w, b], outs, { axis: -1, epsilon: float(n.attrs.eps) }); return; }
    const { xc, mean, rstd } = lowerNormStats(e, x, n.attrs.eps, n.inputs[0]!.dtype, true);
    e.node('Identity', [mean!], [outs[1]!]);
    e.node('Identity', [rstd], [outs[2]!]);
    e.node('Add', [e.node('Mul', [e.node('Mul', [xc, rstd])[0]!, w])[0]!, b], [outs[0]!]);
  },
  // With x̂ = (x − μ)·r and g = gy·w: gx = r·(g − mean(g) − x̂·mean(g·x̂)), gw = Σ gy·x̂, gb = Σ gy.
  // Gradients reaching μ and r (only when a backward pass is differentiated again) add
  // gμ/D and −gr·r²·x̂/D (var's dependence on μ cancels).
  grad: (n, [gy, gmean, grstd]) => {
    const [x, w] = n.inputs as [Tensor, Tensor];
    const [, mu, rstd] = n.outputs as [Tensor, Tensor, Tensor];
    const xhat = mul(sub(x, mu), rstd);
    const D = x.shape[x.rank - 1] as number;
    let gx: Tensor | null = null, gw: Tensor | null = null, gb: Tensor | null = null;
    if (gy) {
      const g = mul(gy, w);
      gx = mul(rstd, sub(sub(g, mean(g, -1, true)), mul(xhat, mean(mul(g, xhat), -1, true))));
      gw = unbroadcast(mul(gy, xhat), w.shape);
      gb = unbroadcast(gy, w.shape);
    }
    const more = (t: Tensor) => { gx = gx ? add(gx, t) : t; };
    if (gmean) more(expand(mul(gmean, 1 / D), x.shape));
    if (grstd) more(mul(xhat, mul(mul(grstd, mul(rstd, rstd)), -1 / D)));
    return [gx, gw, gb];
  },
};
// Norms are float32-list ops under autocast (docs/engine.md § Mixed precision).
export const layerNorm = (x: Tensor, w: Tensor, b: Tensor, eps = 1e-5) => x.graph.apply(LayerNorm, [toFloat32(x), w, b], { eps })[0]!;

/** RMSNorm as Llama computes it: x · rsqrt(mean(x²) + eps) · w, lowered to ORT's
 *  SimplifiedLayerNormalization (its ONNX-domain contrib kernel, float on CPU; CUDA and WebGPU register
 *  it too), which also outputs r = rsqrt(mean(x²) + eps) for the backward (on WebGPU r comes from
 *  reductions: LoweringOptions.decomposeRmsNorm). */
export const RmsNorm: OpDef<NormAttrs> = {
  name: 'rms_norm',
  infer: ([x, w]) => { checkNormParams('rms_norm', x!, [w!]); return [x!, statType(x!)]; },
  lower: (e, n) => {
    const [x, w] = n.inputs.map((t) => e.name(t)) as [string, string];
    const outs = n.outputs.map((t) => e.name(t));
    if (n.inputs[0]!.dtype === 'float32' && !e.options.decomposeRmsNorm) { e.node('SimplifiedLayerNormalization', [x, w], outs, { axis: -1, epsilon: float(n.attrs.eps) }); return; }
    const { rstd } = lowerNormStats(e, x, n.attrs.eps, n.inputs[0]!.dtype, false);
    e.node('Identity', [rstd], [outs[1]!]);
    e.node('Mul', [e.node('Mul', [x, rstd])[0]!, w], [outs[0]!]);
  },
  // x̂ = x·r, g = gy·w: gx = r·(g − x̂·mean(g·x̂)), gw = Σ gy·x̂; a gradient reaching r adds −gr·r³·x/D.
  grad: (n, [gy, grstd]) => {
    const [x, w] = n.inputs as [Tensor, Tensor];
    const rstd = n.outputs[1]!;
    const xhat = mul(x, rstd);
    let gx: Tensor | null = null, gw: Tensor | null = null;
    if (gy) {
      const g = mul(gy, w);
      gx = mul(rstd, sub(g, mul(xhat, mean(mul(g, xhat), -1, true))));
      gw = unbroadcast(mul(gy, xhat), w.shape);
    }
    if (grstd) {
      const D = x.shape[x.rank - 1] as number;
      const t = mul(xhat, mul(mul(grstd, mul(rstd, rstd)), -1 / D));
      gx = gx ? add(gx, t) : t;
    }
    return [gx, gw];
  },
};
export const rmsNorm = (x: Tensor, w: Tensor, eps = 1e-6) => x.graph.apply(RmsNorm, [toFloat32(x), w], { eps })[0]!;

// ---- embedding / gather ------------------------------------------------------------------------

const isIndex = (d: DType) => d === 'int64' || d === 'int32';

export const Embedding: OpDef = {
  name: 'embedding',
  infer: ([w, ids]) => {
    if (!isIndex(ids!.dtype)) throw new GraphBuildError('embedding', `ids must be int64/int32, got ${ids!.dtype}`);
    if (w!.shape.length < 1) throw new GraphBuildError('embedding', 'table must have rank ≥ 1');
    return [{ dtype: w!.dtype, shape: [...ids!.shape, ...w!.shape.slice(1)] }];
  },
  lower: (e, n) => e.emit('Gather', n.inputs.map((x) => e.name(x)), n.outputs[0]!, { axis: 0 }),
  grad: (n, [gy]) => [gy!.graph.apply(EmbeddingGrad, [gy!, n.inputs[1]!, n.inputs[0]!], {})[0]!, null],
};

/** Scatter-add of row gradients into a zero table (repeated ids accumulate). */
const EmbeddingGrad: OpDef = {
  name: 'embedding_grad',
  infer: ([gy, _ids, w]) => [{ dtype: gy!.dtype, shape: w!.shape }],
  lower: (e, n) => {
    const [gy, ids, w] = n.inputs as [Tensor, Tensor, Tensor];
    const rowShape = w.shape.slice(1);
    const [table] = e.node('ConstantOfShape', [e.shapeTensor(w.shape)], 1, {
      value: { tensor: { name: 'value', dataType: onnxType(gy.dtype), dims: [1], raw: new Uint8Array(gy.dtype === 'float64' ? 8 : 4) } },
    });
    const [idx64] = ids.dtype === 'int64' ? [e.name(ids)] : e.node('Cast', [e.name(ids)], 1, { to: onnxType('int64') });
    const [idx] = e.node('Reshape', [idx64!, e.constI64([-1, 1])]);
    const [upd] = e.node('Reshape', [e.name(gy), e.shapeTensor([-1 as Dim, ...rowShape])]);
    e.emit('ScatterND', [table!, idx!, upd!], n.outputs[0]!, { reduction: 'add' });
  },
  grad: (n, [gz]) => [gz ? embedding(gz, n.inputs[1]!) : null, null, null],
};
export const embedding = (table: Tensor, ids: Tensor) => table.graph.apply(Embedding, [table, ids], {})[0]!;

// ---- take_along_axis (per-token log-probs) -----------------------------------------------------

interface AxisAttrs extends Attrs { axis: number }
export const TakeAlongAxis: OpDef<AxisAttrs> = {
  name: 'take_along_axis',
  infer: ([x, idx], a) => {
    if (!isIndex(idx!.dtype)) throw new GraphBuildError('take_along_axis', `indices must be int64/int32, got ${idx!.dtype}`);
    if (idx!.shape.length !== x!.shape.length) throw new GraphBuildError('take_along_axis', `indices ${fmtShape(idx!.shape)} must have the rank of ${fmtShape(x!.shape)}`);
    idx!.shape.forEach((d, i) => {
      if (i !== a.axis && !dimEq(d, x!.shape[i]!) && typeof d === 'number' && typeof x!.shape[i] === 'number') throw new GraphBuildError('take_along_axis', `indices ${fmtShape(idx!.shape)} do not fit ${fmtShape(x!.shape)} off axis ${a.axis}`);
    });
    return [{ dtype: x!.dtype, shape: idx!.shape }];
  },
  lower: (e, n) => e.emit('GatherElements', n.inputs.map((x) => e.name(x)), n.outputs[0]!, { axis: n.attrs.axis }),
  grad: (n, [gy]) => [gy!.graph.apply(TakeAlongAxisGrad, [gy!, n.inputs[1]!, n.inputs[0]!], n.attrs)[0]!, null],
};
const TakeAlongAxisGrad: OpDef<AxisAttrs> = {
  name: 'take_along_axis_grad',
  infer: ([gy, _idx, x]) => [{ dtype: gy!.dtype, shape: x!.shape }],
  lower: (e, n) => {
    const [gy, idx, x] = n.inputs as [Tensor, Tensor, Tensor];
    const [shape] = e.node('Shape', [e.name(x)]);
    const [z] = e.node('ConstantOfShape', [shape!], 1, {
      value: { tensor: { name: 'value', dataType: onnxType(gy.dtype), dims: [1], raw: new Uint8Array(gy.dtype === 'float64' ? 8 : 4) } },
    });
    e.emit('ScatterElements', [z!, e.name(idx), e.name(gy)], n.outputs[0]!, { axis: n.attrs.axis, reduction: 'add' });
  },
  grad: (n, [gz]) => [gz ? takeAlongAxis(gz, n.inputs[1]!, n.attrs.axis) : null, null, null],
};
export const takeAlongAxis = (x: Tensor, idx: Tensor, axis: number) =>
  x.graph.apply(TakeAlongAxis, [x, idx], { axis: normAxis('take_along_axis', axis, x.rank) })[0]!;

// ---- one_hot -----------------------------------------------------------------------------------

interface OneHotAttrs extends Attrs { depth: number; dtype: DType }
export const OneHot: OpDef<OneHotAttrs> = {
  name: 'one_hot',
  // Its value depends on shapes or integer indices only: no gradient flows to any input (not an unknown rule).
  grad: (n) => n.inputs.map(() => null),
  infer: ([ids], a) => {
    if (!isIndex(ids!.dtype)) throw new GraphBuildError('one_hot', `indices must be int64/int32, got ${ids!.dtype}`);
    return [{ dtype: a.dtype, shape: [...ids!.shape, a.depth] }];
  },
  lower: (e, n) => {
    // ORT's CPU OneHot kernels with an int64 depth take int64 indices and float32 or int64 values only
    // (no float64, int32 or bool values; no int32 indices): compute in one of those and cast.
    const ids = n.inputs[0]!;
    const [idx] = ids.dtype === 'int64' ? [e.name(ids)] : e.node('Cast', [e.name(ids)], 1, { to: onnxType('int64') });
    const kernel: DType = n.attrs.dtype === 'int64' ? 'int64' : 'float32';
    const values = kernel === 'int64' ? e.constI64([0, 1]) : e.node('Cast', [e.constI64([0, 1])], 1, { to: onnxType(kernel) })[0]!;
    const args = [idx!, e.constI64([n.attrs.depth], []), values];
    if (kernel === n.attrs.dtype) { e.emit('OneHot', args, n.outputs[0]!, { axis: -1 }); return; }
    const [y] = e.node('OneHot', args, 1, { axis: -1 });
    e.emit('Cast', [y!], n.outputs[0]!, { to: onnxType(n.attrs.dtype) });
  },
};
export const oneHot = (ids: Tensor, depth: number, dtype: DType = 'float32') => ids.graph.apply(OneHot, [ids], { depth, dtype })[0]!;

// ---- dims as values, causal masks --------------------------------------------------------------

interface DimAttrs extends Attrs { dim: Dim; dtype: DType }
export const DimValue: OpDef<DimAttrs> = {
  name: 'dim_value',
  // Its value depends on shapes or integer indices only: no gradient flows to any input (not an unknown rule).
  grad: (n) => n.inputs.map(() => null),
  infer: (_ins, a) => [{ dtype: a.dtype, shape: [] }],
  lower: (e, n) => {
    const [s] = e.node('Reshape', [e.dimValue(n.attrs.dim), e.constI64([], [0])]);
    e.emit('Cast', [s!], n.outputs[0]!, { to: onnxType(n.attrs.dtype) });
  },
};
/** The runtime value of a (possibly symbolic) dim as a scalar tensor. */
export const dimValue = (g: Graph, dim: Dim, dtype: DType = 'int64') => g.apply(DimValue, [], { dim, dtype })[0]!;

/** Boolean [tq, tk] mask, true where key j may be attended from query i: j ≤ i + (tk − tq).
 *  With tq = tk this is the usual lower triangle; with a KV cache the queries are the last tq positions.
 *  A sliding window w also hides keys w or more positions back (HF masking_utils: kv > q − w). */
export function causalMask(g: Graph, tq: Dim, tk: Dim = tq, window: number | null = null): Tensor {
  const q = unsqueeze(range(g, tq), 1);
  const k = unsqueeze(range(g, tk), 0);
  const shift = dimEq(tq, tk) ? q : add(q, sub(dimValue(g, tk), dimValue(g, tq)));
  const causal = lessEqual(k, shift);
  return window === null ? causal : logicalAnd(causal, greater(k, sub(shift, window)));
}

// ---- rotary embeddings -------------------------------------------------------------------------

/** cos/sin tables [..., T, 2·invFreq.length] for integer positions [..., T], as HF's LlamaRotaryEmbedding:
 *  freqs = pos ⊗ inv_freq, emb = cat(freqs, freqs). `invFreq` is the table (models/rope.ts) or θ for
 *  the default rope, 1/θ^(2i/d) over headDim. */
export function ropeTables(positions: Tensor, headDim: number, invFreqOrTheta: Float32Array | number = 10000): { cos: Tensor; sin: Tensor } {
  const g = positions.graph;
  let inv: Float32Array;
  if (typeof invFreqOrTheta === 'number') {
    inv = new Float32Array(headDim / 2);
    for (let i = 0; i < inv.length; i++) inv[i] = 1 / Math.pow(invFreqOrTheta, (2 * i) / headDim);
  } else inv = invFreqOrTheta;
  const invFreq = g.constant(inv, 'float32', [inv.length]);
  const freqs = mul(unsqueeze(cast(positions, 'float32'), -1), invFreq);
  const emb = concat([freqs, freqs], -1);
  return { cos: cos(emb), sin: sin(emb) };
}

/** x·cos + rotate_half(x)·sin, rotate_half(x) = cat(−x₂, x₁) over the last axis (HF convention). */
export function applyRope(x: Tensor, cosT: Tensor, sinT: Tensor): Tensor {
  const d = x.shape[x.rank - 1] as number;
  const x1 = slice(x, -1, 0, d / 2);
  const x2 = slice(x, -1, d / 2, null);
  return add(mul(x, cosT), mul(concat([neg(x2), x1], -1), sinT));
}


// ---- fused softmax cross-entropy ---------------------------------------------------------------

/** −log softmax(logits)[label] per position. One primitive instead of log_softmax + take_along_axis
 *  so the backward is softmax − onehot written straight into one [.., V] buffer (LM heads make V big). */
export const SoftmaxCrossEntropy: OpDef = {
  name: 'softmax_cross_entropy',
  infer: ([logits, labels]) => {
    if (!isFloat(logits!.dtype)) throw new GraphBuildError('softmax_cross_entropy', `logits must be float, got ${logits!.dtype}`);
    if (!isIndex(labels!.dtype)) throw new GraphBuildError('softmax_cross_entropy', `labels must be int64/int32, got ${labels!.dtype}`);
    const lead = logits!.shape.slice(0, -1);
    if (labels!.shape.length !== lead.length || labels!.shape.some((d, i) => typeof d === 'number' && typeof lead[i] === 'number' && d !== lead[i]))
      throw new GraphBuildError('softmax_cross_entropy', `labels ${fmtShape(labels!.shape)} do not match logits ${fmtShape(logits!.shape)} without the class axis`);
    return [{ dtype: logits!.dtype, shape: lead }, { dtype: logits!.dtype, shape: logits!.shape }];
  },
  lower: (e, n) => {
    const [logits, labels] = n.inputs as [Tensor, Tensor];
    const [nll, logp] = n.outputs as [Tensor, Tensor];
    e.logSoftmax(e.name(logits), e.name(logp), -1);
    const [idx] = e.node('Unsqueeze', [e.name(labels), e.constI64([-1])]);
    const [picked] = e.node('GatherElements', [e.name(logp), idx!], 1, { axis: -1 });
    const [sq] = e.node('Squeeze', [picked!, e.constI64([-1])]);
    e.emit('Neg', [sq!], nll);
  },
  // gy: gradient of the nll output. glogp reaches the internal log-softmax output only when a gradient is
  // differentiated again (SoftmaxCrossEntropyGrad reads it): d logp / d logits = glogp − softmax·Σ glogp.
  grad: (n, [gy, glogp]) => {
    const logp = n.outputs[1]!;
    let g = gy ? gy.graph.apply(SoftmaxCrossEntropyGrad, [logp, n.inputs[1]!, gy], {})[0]! : null;
    if (glogp) {
      const d = sub(glogp, mul(exp(logp), sum(glogp, -1, true)));
      g = g ? add(g, d) : d;
    }
    return [g, null];
  },
};
/** d nll / d logits = (softmax − onehot(label)) · gy, as exp(logp)·gy with −gy scattered in at the labels. */
const SoftmaxCrossEntropyGrad: OpDef = {
  name: 'softmax_cross_entropy_grad',
  infer: ([logp]) => [logp!],
  lower: (e, n) => {
    const [logp, labels, gy] = n.inputs as [Tensor, Tensor, Tensor];
    const [g1] = e.node('Unsqueeze', [e.name(gy), e.constI64([-1])]);
    const [p] = e.node('Exp', [e.name(logp)]);
    const [scaled] = e.node('Mul', [p!, g1!]);
    const [idx] = e.node('Unsqueeze', [e.name(labels), e.constI64([-1])]);
    const [neg] = e.node('Neg', [g1!]);
    e.emit('ScatterElements', [scaled!, idx!, neg!], n.outputs[0]!, { axis: -1, reduction: 'add' });
  },
  // z = exp(logp)·gy − onehot(label)·gy (gy broadcast over the class axis), differentiated again:
  // ∂/∂logp = gz·exp(logp)·gy;  ∂/∂gy = Σ_c gz·exp(logp) − gz[label].
  grad: (n, [gz]) => {
    if (!gz) return [null, null, null];
    const [logp, labels, gy] = n.inputs as [Tensor, Tensor, Tensor];
    const gp = mul(gz, exp(logp));
    const atLabel = squeeze(takeAlongAxis(gz, unsqueeze(labels, -1), -1), -1);
    return [mul(gp, unsqueeze(gy, -1)), null, sub(sum(gp, -1), atLabel)];
  },
};
export const softmaxCrossEntropy = (logits: Tensor, labels: Tensor) => logits.graph.apply(SoftmaxCrossEntropy, [toFloat32(logits), labels], {})[0]!;
/** The same op with its [.., V] log-softmax too, so a diagnostic over the whole distribution (PPO's entropy)
 *  reads it instead of running a second log-softmax pass. Outside the loss's path it takes no gradient. */
export function softmaxCrossEntropyWithLogp(logits: Tensor, labels: Tensor): { nll: Tensor; logp: Tensor } {
  const [nll, logp] = logits.graph.apply(SoftmaxCrossEntropy, [toFloat32(logits), labels], {});
  return { nll: nll!, logp: logp! };
}
