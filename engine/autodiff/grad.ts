// Reverse-mode autodiff as a graph transform: grad(loss, wrt) appends the backward pass to the graph
// that holds `loss` and returns one gradient tensor per `wrt` entry. The rules live with the ops.
//
// Nodes are visited in reverse creation order (a valid reverse topological order). Only nodes on a
// path from some `wrt` to the loss are differentiated; integer/boolean values and stop_gradient carry
// no gradient, and any other op without a rule on that path is an error (not a silent zero).

import { type Tensor, type Node, GraphBuildError, isFloat, fmtShape, F } from '../graph/index.js';

export function grad(loss: Tensor, wrt: Tensor[], seed?: Tensor): Tensor[] {
  const g = loss.graph;
  if (!isFloat(loss.dtype)) throw new GraphBuildError('grad', `loss must be float, got ${loss.dtype}`);
  if (!seed && loss.rank !== 0) throw new GraphBuildError('grad', `loss must be a scalar (got ${fmtShape(loss.shape)}); reduce it or pass a seed gradient`);
  for (const w of wrt) {
    if (w.graph !== g) throw new GraphBuildError('grad', `${w} belongs to another graph`);
    if (!isFloat(w.dtype)) throw new GraphBuildError('grad', `cannot differentiate with respect to ${w.dtype} ${w}`);
  }

  // Which nodes lie between wrt and loss: forward reachability from wrt ∩ backward reachability from loss.
  const fromWrt = new Set<Node>(wrt.map((w) => w.node));
  const nodes = g.nodes.slice(0, g.nodes.indexOf(loss.node) + 1);
  for (const n of nodes) if (n.inputs.some((x) => fromWrt.has(x.node))) fromWrt.add(n);
  const toLoss = new Set<Node>(g.live([loss]));

  const grads = new Map<Tensor, Tensor>();
  const accumulate = (t: Tensor, gt: Tensor) => {
    const prev = grads.get(t);
    grads.set(t, prev ? F.add(prev, gt) : gt);
  };
  accumulate(loss, seed ?? g.scalar(1, loss.dtype));

  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!fromWrt.has(n) || !toLoss.has(n) || n.inputs.length === 0) continue;
    const gys = n.outputs.map((o) => grads.get(o) ?? null);
    if (gys.every((x) => x === null)) continue;
    if (!n.op.grad) {
      // Only stop_gradient blocks on purpose; any other rule-less op would silently give a zero gradient.
      if (n.op.name === 'stop_gradient' || !n.inputs.some((x) => isFloat(x.dtype) && fromWrt.has(x.node))) continue;
      throw new GraphBuildError('grad', `${n.op.name} has no gradient rule, so the gradient through it cannot be taken (wrap its input in stop_gradient if no gradient should flow)`);
    }
    const gxs = n.op.grad(n, gys);
    n.inputs.forEach((x, k) => {
      const gx = gxs[k];
      if (!gx || !isFloat(x.dtype) || !fromWrt.has(x.node)) return;
      if (gx.rank !== x.rank || gx.dtype !== x.dtype) {
        throw new GraphBuildError(`grad of ${n.op.name}`, `rule returned ${gx.dtype}${fmtShape(gx.shape)} for input ${x.dtype}${fmtShape(x.shape)}`);
      }
      accumulate(x, gx);
    });
  }
  // A wrt the loss does not depend on gets an explicit zero gradient of its own shape.
  return wrt.map((w) => grads.get(w) ?? F.zeros(g, w.shape, w.dtype));
}
