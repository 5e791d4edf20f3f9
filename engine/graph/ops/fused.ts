// Fused GELU (+ bias): one ONNX Runtime contrib kernel forward instead of the composite's 7–8
// elementwise passes, and a hand-written backward of fewer passes than autodiff through the composite.
// What is fused and what it measured: docs/engine.md § Fused kernels
//
// Kernels (ORT's CPU contrib registration list, onnxruntime/contrib_ops/cpu/cpu_contrib_kernels.cc,
// checked at commit 00544bb of microsoft/onnxruntime — the stored snapshot nearest the v1.30.0 tag — and
// confirmed by loading each op in this repo's onnxruntime-node 1.30.0): com.microsoft FastGelu, Gelu and
// BiasGelu (float only; float64 graphs spell the formula out or run erf in float32). The training kernels
// FastGeluGrad, GeluGrad and BiasGeluGrad_dX are not in the inference build ("not a registered
// function/op"), so the backward below is written in standard ONNX ops. CUDA's contrib list registers
// FastGelu (float, float16), Gelu and BiasGelu (float, double, float16) too; WebGPU's registers FastGelu,
// Gelu and BiasGelu. Not measured on a GPU yet.

import { type OpDef, type Tensor, type Attrs } from '../graph.js';
import { type Lowering, onnxType } from '../lowering.js';
import { type DType, GraphBuildError, dimEq, fmtShape, isFloat } from '../shape.js';
import { add, mul, sub, exp, tanh, unbroadcast, cast } from './elementwise.js';

export type GeluForm = 'tanh' | 'erf';
interface GeluAttrs extends Attrs { approximate: GeluForm }

// tanh form: 0.5·z·(1 + tanh(k·(z + A·z³))), k = √(2/π), A = 0.044715 (HF gelu_new / gelu_pytorch_tanh;
// the same constants as ORT's FastGelu).
const K = Math.sqrt(2 / Math.PI);
const A = 0.044715;

function inferGelu(name: string) {
  return ([x, b]: { dtype: string; shape: (number | string)[] }[]) => {
    if (!isFloat(x!.dtype as never)) throw new GraphBuildError(name, `needs a float input, got ${x!.dtype}${fmtShape(x!.shape)}`);
    if (b) {
      const d = x!.shape[x!.shape.length - 1]!;
      if (b.shape.length !== 1 || !dimEq(b.shape[0]!, d)) throw new GraphBuildError(name, `bias must be [${d}] for input ${fmtShape(x!.shape)}, got ${fmtShape(b.shape)}`);
      if (b.dtype !== x!.dtype) throw new GraphBuildError(name, `dtype mismatch: ${x!.dtype} vs ${b.dtype}`);
    }
    return [x!] as never;
  };
}

/** float64 graphs (gradient checks): ORT has no float64 Erf / Gelu / BiasGelu kernel, so the erf form runs
 *  in float32 inside, as the erf primitive does. */
function castTo(e: Lowering, name: string, to: DType): string {
  return e.node('Cast', [name], 1, { to: onnxType(to) })[0]!;
}

/** Dtypes the contrib kernels take: float32 everywhere, float16 on CUDA (CPU casts it internally). */
const kernelDtype = (d: DType) => d === 'float32' || d === 'float16';

export const Gelu: OpDef<GeluAttrs> = {
  name: 'gelu',
  infer: inferGelu('gelu') as OpDef['infer'],
  lower: (e, n) => {
    const ins = n.inputs.map((t) => e.name(t));
    const out = e.name(n.outputs[0]!);
    const dtype = n.inputs[0]!.dtype;
    if (n.attrs.approximate === 'tanh') {
      if (kernelDtype(dtype)) { e.msNode('FastGelu', ins, [out]); return; }
      // float64, bfloat16: FastGelu's function body uses float32 constants (~1e-7 off), so spell the formula out.
      const c = (v: number) => e.constScalar(v, dtype);
      const N = (op: string, xs: string[]) => e.node(op, xs)[0]!;
      const z = ins.length === 2 ? N('Add', ins) : ins[0]!;
      const t = N('Tanh', [N('Mul', [z, N('Add', [N('Mul', [N('Mul', [z, z]), c(K * A)]), c(K)])])]);
      e.node('Mul', [N('Mul', [z, c(0.5)]), N('Add', [t, c(1)])], [out]);
      return;
    }
    const op = ins.length === 2 ? 'BiasGelu' : 'Gelu';
    if (kernelDtype(dtype)) { e.msNode(op, ins, [out]); return; }
    const [y] = e.msNode(op, ins.map((i) => castTo(e, i, 'float32')));
    e.node('Cast', [y!], [out], { to: onnxType(dtype) });
  },
  grad: (n, [gy]) => {
    const [x, b] = n.inputs as [Tensor, Tensor | undefined];
    const gz = gy!.graph.apply(GeluGrad, [gy!, x, ...(b ? [b] : [])], n.attrs)[0]!;
    return b ? [gz, unbroadcast(gz, b.shape)] : [gz];
  },
};

/** gy · gelu′(x + bias), recomputing the pre-activation instead of keeping it from the forward pass. */
const GeluGrad: OpDef<GeluAttrs> = {
  name: 'gelu_grad',
  infer: ([gy]) => [gy!],
  lower: (e, n) => {
    const [gy, x, b] = n.inputs as [Tensor, Tensor, Tensor | undefined];
    const dtype = x.dtype;
    const c = (v: number) => e.constScalar(v, dtype);
    const N = (op: string, ins: string[]) => e.node(op, ins)[0]!;
    const z = b ? N('Add', [e.name(x), e.name(b)]) : e.name(x);
    const out = [e.name(n.outputs[0]!)];
    if (n.attrs.approximate === 'tanh') {
      // 0.5·(1 + tanh(u)) = σ(2u), so gelu(z) = z·σ(v) with v = 2u = z·(2k + 2kA·z²), and
      // gelu′(z) = σ(v) + z·σ(v)(1 − σ(v))·v′ = s·(1 + z·v′·(1 − s)), v′ = 2k + 6kA·z².
      const z2 = N('Mul', [z, z]);
      const v = N('Mul', [z, N('Add', [N('Mul', [z2, c(2 * K * A)]), c(2 * K)])]);
      const s = N('Sigmoid', [v]);
      const zdv = N('Mul', [z, N('Add', [N('Mul', [z2, c(6 * K * A)]), c(2 * K)])]);
      const d = N('Mul', [s, N('Add', [N('Mul', [zdv, N('Sub', [c(1), s])]), c(1)])]);
      e.node('Mul', [e.name(gy), d], out);
      return;
    }
    // gelu′(z) = Φ(z) + z·φ(z) = 0.5·(1 + erf(a) + (2/√π)·a·e^(−a²)), a = z/√2.
    const a = N('Mul', [z, c(Math.SQRT1_2)]);
    const erfA = dtype === 'float32' ? N('Erf', [a]) : castTo(e, N('Erf', [castTo(e, a, 'float32')]), dtype);
    const bump = N('Mul', [N('Mul', [a, N('Exp', [N('Neg', [N('Mul', [a, a])])])]), c(2 / Math.sqrt(Math.PI))]);
    const d = N('Add', [N('Add', [erfA, bump]), c(1)]);
    e.node('Mul', [N('Mul', [e.name(gy), c(0.5)]), d], out);
  },
  // Differentiated again (a gradient of a gradient): ∂/∂gy = gz·gelu′(z) and ∂/∂z = gz·gy·gelu″(z).
  grad: (n, [gz]) => {
    if (!gz) return n.inputs.map(() => null);
    const [gy, x, b] = n.inputs as [Tensor, Tensor, Tensor | undefined];
    const ggy = gz.graph.apply(GeluGrad, [gz, x, ...(b ? [b] : [])], n.attrs)[0]!;
    const z = b ? add(x, b) : x;
    const gzz = mul(mul(gz, gy), geluSecond(z, n.attrs.approximate));
    return b ? [ggy, gzz, unbroadcast(gzz, b.shape)] : [ggy, gzz];
  },
};

/** gelu″(z) from primitives (only traced when a GELU backward is itself differentiated). */
function geluSecond(z: Tensor, form: GeluForm): Tensor {
  if (form === 'erf') {
    // d/dz (Φ + zφ) = 2φ + zφ′ = φ·(2 − z²), φ = e^(−z²/2)/√(2π).
    const z2 = mul(z, z);
    return mul(mul(exp(mul(z2, -0.5)), 1 / Math.sqrt(2 * Math.PI)), sub(2, z2));
  }
  // u = k(z + Az³), t = tanh u: gelu′ = ½(1 + t) + ½z(1 − t²)u′, so gelu″ = (1 − t²)·(u′ + ½z·(u″ − 2t·u′²)).
  const z2 = mul(z, z);
  const t = tanh(mul(add(z, mul(mul(z2, z), A)), K));
  const du = add(mul(z2, 3 * K * A), K);
  const ddu = mul(z, 6 * K * A);
  const sech2 = sub(1, mul(t, t));
  return mul(sech2, add(du, mul(mul(z, 0.5), sub(ddu, mul(mul(t, 2), mul(du, du))))));
}

/** GELU of x (+ bias over the last axis, fused into the kernel). 'tanh' is GPT-2's approximation
 *  (HF gelu_new / gelu_pytorch_tanh: ORT FastGelu), 'erf' the exact form (HF gelu: ORT Gelu / BiasGelu). */
export const gelu = (x: Tensor, approximate: GeluForm = 'erf', bias?: Tensor): Tensor =>
  x.graph.apply(Gelu, bias ? [x, x.graph.autocast && bias.dtype !== x.dtype ? cast(bias, x.dtype) : bias] : [x], { approximate })[0]!;
