// Reverse-mode autodiff as a graph transform: grad(loss, wrt) appends the backward pass to the graph
// that holds `loss` and returns one gradient tensor per `wrt` entry. The rules live with the ops.
//
// Nodes are visited in reverse creation order (a valid reverse topological order). Only nodes on a
// path from some `wrt` to the loss are differentiated; integer/boolean values and stop_gradient carry
// no gradient, and any other op without a rule on that path is an error (not a silent zero).
//
// With `recompute`, each segment the model traced inside g.checkpoint() (one per layer) is traced a
// second time when the backward pass reaches it, and its rules read that copy, so the forward pass's
// intermediates die inside the forward pass and only the segments' inputs live until the backward
// (docs/engine.md § Gradient checkpointing).

import { type Tensor, type Node, GraphBuildError, isFloat, fmtShape, F } from '../graph/index.js';

export interface GradOptions {
  /** Seed gradient of a non-scalar loss. */
  seed?: Tensor;
  /** Trace checkpointed segments again in the backward pass instead of keeping their activations. */
  recompute?: boolean;
}

export function grad(loss: Tensor, wrt: Tensor[], opts: Tensor | GradOptions = {}): Tensor[] {
  const { seed, recompute = false } = 'graph' in opts ? { seed: opts } : opts;
  const g = loss.graph;
  if (!isFloat(loss.dtype)) throw new GraphBuildError('grad', `loss must be float, got ${loss.dtype}`);
  if (!seed && loss.rank !== 0) throw new GraphBuildError('grad', `loss must be a scalar (got ${fmtShape(loss.shape)}); reduce it or pass a seed gradient`);
  for (const w of wrt) {
    if (w.graph !== g) throw new GraphBuildError('grad', `${w} belongs to another graph`);
    if (!isFloat(w.dtype)) throw new GraphBuildError('grad', `cannot differentiate with respect to ${w.dtype} ${w}`);
  }

  // Which nodes lie between wrt and loss: forward reachability from wrt ∩ backward reachability from loss.
  const fromWrt = new Set<Node>(wrt.map((w) => w.node));
  const end = g.nodes.indexOf(loss.node) + 1;
  const nodes = g.nodes.slice(0, end);
  for (const n of nodes) if (n.inputs.some((x) => fromWrt.has(x.node))) fromWrt.add(n);
  const toLoss = new Set<Node>(g.live([loss]));

  const grads = new Map<Tensor, Tensor>();
  const accumulate = (t: Tensor, gt: Tensor) => {
    const prev = grads.get(t);
    grads.set(t, prev ? F.add(prev, gt) : gt);
  };
  accumulate(loss, seed ?? g.scalar(1, loss.dtype));

  /** Applies node `n`'s rule. `orig` is the traced node it stands for (itself, or what a recomputed
   *  copy copies); `target` maps each input to the tensor its gradient belongs to. */
  const backprop = (n: Node, orig: Node, target: (x: Tensor) => Tensor, origin: (x: Tensor) => Node) => {
    if (!fromWrt.has(orig) || !toLoss.has(orig) || n.inputs.length === 0) return;
    const gys = n.outputs.map((o) => grads.get(o) ?? null);
    if (gys.every((x) => x === null)) return;
    if (!n.op.grad) {
      // Only stop_gradient blocks on purpose; any other rule-less op would silently give a zero gradient.
      if (n.op.name === 'stop_gradient' || !n.inputs.some((x) => isFloat(x.dtype) && fromWrt.has(origin(x)))) return;
      throw new GraphBuildError('grad', `${n.op.name} has no gradient rule, so the gradient through it cannot be taken (wrap its input in stop_gradient if no gradient should flow)`);
    }
    const gxs = n.op.grad(n, gys);
    n.inputs.forEach((x, k) => {
      const gx = gxs[k];
      if (!gx || !isFloat(x.dtype) || !fromWrt.has(origin(x))) return;
      if (gx.rank !== x.rank || gx.dtype !== x.dtype) {
        throw new GraphBuildError(`grad of ${n.op.name}`, `rule returned ${gx.dtype}${fmtShape(gx.shape)} for input ${x.dtype}${fmtShape(x.shape)}`);
      }
      accumulate(target(x), gx);
    });
  };
  const self = (x: Tensor) => x, nodeOf = (x: Tensor) => x.node;

  // Segment of each traced node (recompute only) and the segments already differentiated.
  const segmentOf = new Map<Node, { start: number; end: number }>();
  if (recompute) for (const s of g.checkpoints) for (let j = s.start; j < Math.min(s.end, end); j++) segmentOf.set(g.nodes[j]!, s);
  const done = new Set<{ start: number; end: number }>();
  let previousLeafGrads: Tensor[] = [];

  /** Traces segment `s` again, fed from its inputs made to depend on a gradient of its outputs, and
   *  differentiates the copy. The dependency is what makes the copy run in the backward pass (ORT
   *  orders nodes only by their inputs) and what keeps ORT's common-subexpression elimination from
   *  merging it back into the forward pass: input + 0 · (one element of an output's gradient). A
   *  non-finite gradient there turns the copy's gradients NaN — a step that would be skipped anyway. */
  const recomputeSegment = (s: { start: number; end: number }) => {
    const seg = g.nodes.slice(s.start, Math.min(s.end, end));
    const inSeg = new Set(seg);
    const anchorGrad = seg.flatMap((n) => n.outputs).map((t) => grads.get(t)).find((t) => t !== undefined);
    if (!anchorGrad) return; // no gradient reaches the segment
    // The zero also reads the parameter gradients of the segment recomputed before this one (the layer
    // above): ORT orders nodes by a depth-first walk from the outputs, which would otherwise leave each
    // layer's weight gradients (and the activations they read) for the optimizer's concat at the end.
    const corner = (t: Tensor) => { let c = t; for (let a = 0; a < c.rank; a++) c = F.slice(c, a, 0, 1); return F.reshape(c, []); };
    const zero = F.mul([anchorGrad, ...previousLeafGrads.filter((t) => t.dtype === anchorGrad.dtype)].map(corner).reduce((a, b) => F.add(a, b)), 0);
    // copy: traced tensor → its copy; origOf: copy or anchored input → the tensor it stands for.
    const copy = new Map<Tensor, Tensor>(), origOf = new Map<Tensor, Tensor>();
    const anchored = new Map<Tensor, Tensor>(), unanchor = new Map<Tensor, Tensor>();
    const feed = (x: Tensor): Tensor => {
      if (inSeg.has(x.node)) return copy.get(x) ?? x;
      // Leaves (parameters, inputs, constants) live anyway; so do values of another dtype, few and small.
      if (x.node.inputs.length === 0 || x.dtype !== zero.dtype) return x;
      let y = anchored.get(x);
      if (!y) { y = F.add(x, zero); anchored.set(x, y); unanchor.set(y, x); origOf.set(y, x); }
      return y;
    };
    const copies: [Node, Node][] = [];
    for (const n of seg) {
      if (n.inputs.length === 0) continue; // a constant traced inside the segment is shared
      const outs = g.apply(n.op, n.inputs.map(feed), n.attrs);
      outs.forEach((o, i) => { copy.set(n.outputs[i]!, o); origOf.set(o, n.outputs[i]!); });
      copies.push([outs[0]!.node, n]);
    }
    // What the layers after the segment sent back to its outputs now reaches the copy's outputs.
    for (const n of seg) for (const t of n.outputs) { const gt = grads.get(t); if (gt && copy.has(t)) grads.set(copy.get(t)!, gt); }
    // An anchored input's gradient is its source's (d(x + 0)/dx = 1); the zero itself gets none.
    const target = (x: Tensor) => unanchor.get(x) ?? x;
    const origin = (x: Tensor) => (origOf.get(x) ?? x).node;
    for (let i = copies.length - 1; i >= 0; i--) backprop(copies[i]![0], copies[i]![1], target, origin);
    const leaves = new Set(seg.flatMap((n) => n.inputs).filter((x) => x.node.inputs.length === 0 && !inSeg.has(x.node)));
    previousLeafGrads = [...leaves].map((x) => grads.get(x)).filter((t): t is Tensor => t !== undefined);
  };

  // The rules compute each gradient in its forward value's dtype: autocast's casts are already nodes of
  // the forward trace (their rule casts the gradient back), so no rule may be cast again.
  const autocast = g.autocast;
  g.autocast = null;
  try {
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i]!;
      const s = segmentOf.get(n);
      if (s) {
        if (!done.has(s)) { done.add(s); recomputeSegment(s); }
        continue;
      }
      backprop(n, n, self, nodeOf);
    }
  } finally { g.autocast = autocast; }
  // A wrt the loss does not depend on gets an explicit zero gradient of its own shape.
  return wrt.map((w) => grads.get(w) ?? F.zeros(g, w.shape, w.dtype));
}
