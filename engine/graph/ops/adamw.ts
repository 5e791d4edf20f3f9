// One AdamW update of a parameter group as a single op: the engine's own CPU kernel where the native
// binding runs the graph (native/adamw_op.c, ONNX domain ai.rrlhf), else the same arithmetic in standard
// ONNX ops. engine/runtime/optim.ts appendAdamW computes the scalars; docs/engine.md § Fused AdamW says
// what it saves. Both lowerings round alike (each product and sum in float32, in this order), so a run
// gives the same numbers whichever binding runs it (test/integration/fused-adamw.test.ts).
//
//   m' = m·b1 + g·mScale;  v' = v·b2 + g²·vScale;  p' = p·decay − (m' / (√v' + epsC))·stepSize

import { type OpDef, type Tensor, type Attrs } from '../graph.js';
import { RRLHF_DOMAIN } from '../lowering.js';
import { GraphBuildError, dimEq, fmtShape, numel } from '../shape.js';

/** Groups smaller than this stay in standard ops: a custom-op call costs ~30 µs more than ORT's own small
 *  kernels (measured: the 33 k-parameter MLP step 0.41 vs 0.38 ms fused), while from ~10⁵ values on the
 *  saved memory passes win (a 6-layer LM step 334 vs 372 ms). Symbolic sizes count as large. */
const FUSED_MIN_VALUES = 1 << 16;

/** The scalars of one step (float32 scalars, or numbers that become constants); decay null: no weight decay. */
export interface AdamWScalars { decay: Tensor | null; b1: number; mScale: Tensor | number; b2: number; vScale: Tensor | number; epsC: Tensor | number; stepSize: Tensor | number }
const SCALARS = ['decay', 'b1', 'mScale', 'b2', 'vScale', 'epsC', 'stepSize'] as const;

interface AdamWAttrs extends Attrs { decays: boolean }
export const AdamWStep: OpDef<AdamWAttrs> = {
  name: 'adamw_step',
  infer: ([p, g, sq, m, v, ...s]) => {
    for (const [what, t] of [['g', g], ['g²', sq], ['m', m], ['v', v]] as const) {
      if (t!.dtype !== 'float32' || t!.shape.length !== p!.shape.length || !t!.shape.every((d, i) => dimEq(d, p!.shape[i]!))) {
        throw new GraphBuildError('adamw_step', `${what} must be float32 ${fmtShape(p!.shape)} like the parameter, got ${t!.dtype}${fmtShape(t!.shape)}`);
      }
    }
    if (p!.dtype !== 'float32') throw new GraphBuildError('adamw_step', `float32 master weights only, got ${p!.dtype}`);
    s.forEach((t, i) => { if (t.shape.length !== 0 || t.dtype !== 'float32') throw new GraphBuildError('adamw_step', `${SCALARS[i]} must be a float32 scalar, got ${t.dtype}${fmtShape(t.shape)}`); });
    return [p!, p!, p!];
  },
  lower: (e, n) => {
    const [p, g, sq, m, v, decay, b1, mScale, b2, vScale, epsC, stepSize] = n.inputs.map((t) => e.name(t)) as string[] as [string, string, string, string, string, string, string, string, string, string, string, string];
    const [pOut, mOut, vOut] = n.outputs.map((t) => e.name(t)) as [string, string, string];
    const size = numel(n.inputs[0]!.shape);
    if (e.options.fusedAdamW && (typeof size !== 'number' || size >= FUSED_MIN_VALUES)) {
      e.node('AdamWStep', [p, g, m, v, decay, b1, mScale, b2, vScale, epsC, stepSize], [pOut, mOut, vOut], {}, RRLHF_DOMAIN);
      return;
    }
    const N = (op: string, xs: string[], out?: string) => e.node(op, xs, out ? [out] : 1)[0]!;
    N('Add', [N('Mul', [m, b1]), N('Mul', [g, mScale])], mOut);
    N('Add', [N('Mul', [v, b2]), N('Mul', [sq, vScale])], vOut);
    // Without weight decay the ×1 is exact and skipped here (the kernel does it in registers).
    N('Sub', [n.attrs.decays ? N('Mul', [p, decay]) : p, N('Mul', [N('Div', [mOut, N('Add', [N('Sqrt', [vOut]), epsC])]), stepSize])], pOut);
  },
  // An update, not part of any loss: nothing differentiates through it.
};

/** p', m', v' of one AdamW step over a group: p the parameters, g their gradient and sq = g·g (the
 *  global norm needs g² anyway; the ONNX lowering reuses it, the fused kernel recomputes it in registers). */
export function adamwStep(p: Tensor, g: Tensor, sq: Tensor, m: Tensor, v: Tensor, s: AdamWScalars): [Tensor, Tensor, Tensor] {
  const graph = p.graph;
  const scalar = (x: Tensor | number) => (typeof x === 'number' ? graph.scalar(x) : x);
  const outs = graph.apply(AdamWStep, [p, g, sq, m, v, ...SCALARS.map((k) => scalar(s[k] ?? 1))], { decays: s.decay !== null })!;
  return [outs[0]!, outs[1]!, outs[2]!];
}
