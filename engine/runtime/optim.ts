// Training steps as single graphs: forward, backward (autodiff) and the AdamW update are traced into
// one ONNX model, compiled once, and run once per step. Parameters and optimizer moments flow in as
// inputs and out as outputs; the learning rate and step count are inputs too, so schedules and bias
// correction need no recompilation.
//
// AdamW follows torch.optim.AdamW exactly:
//   p ← p·(1 − lr·wd);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
//   p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
// with optional global-norm clipping first (torch.nn.utils.clip_grad_norm_: coef = min(1, max/(‖g‖+1e-6))).
// Gradient accumulation: micro-batches add their gradients into accumulators (one graph), then a
// second graph applies AdamW to the mean gradient.

import { Graph, type Tensor, F } from '../graph/index.js';
import { grad } from '../autodiff/grad.js';
import ort from 'onnxruntime-node';
import { compile, type CompiledGraph, type Feed, type HostTensor, scalarF32, toHost } from './session.js';
import { type ParamStore } from './params.js';
import { type DeviceRequest, resolveDevice } from './devices.js';
import { HALF_DTYPE, LossScaler, precisionRefusal, type LossScalerState, type Precision } from './precision.js';

export interface AdamWConfig {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Clip the global gradient norm to this value; null/undefined = no clipping. */
  maxGradNorm?: number | null;
  /** Which parameters get weight decay; default: matrices (rank ≥ 2), not biases or norm gains. */
  decay?: (name: string, shape: number[]) => boolean;
}

const defaultDecay = (_name: string, shape: number[]) => shape.length >= 2;

/** Parameters updated together. Small tensors that share optimizer settings are updated as one flat
 *  vector: a model with hundreds of small tensors then costs a dozen elementwise kernels per step
 *  instead of a dozen per tensor. A large tensor is its own group, updated in its own shape, so it
 *  pays no concatenation or slicing pass. */
export interface ParamGroup { name: string; params: string[]; shapes: number[][]; sizes: number[]; size: number; decay: boolean; shape: number[] }

/** Tensors at least this large are updated on their own (the copy into a flat vector would cost more
 *  than the kernel launches it saves). */
const OWN_GROUP_VALUES = 1 << 16;

export function paramGroups(names: string[], shapeOf: (n: string) => number[], cfg: AdamWConfig): ParamGroup[] {
  const decay = cfg.decay ?? defaultDecay;
  const wd = (cfg.weightDecay ?? 0) > 0;
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const groups: ParamGroup[] = [];
  for (const gname of ['decay', 'no_decay'] as const) {
    const members = names.filter((n) => (wd && decay(n, shapeOf(n))) === (gname === 'decay'));
    for (const n of members.filter((m) => size(shapeOf(m)) >= OWN_GROUP_VALUES)) {
      const shape = shapeOf(n);
      groups.push({ name: `${gname}:${n}`, params: [n], shapes: [shape], sizes: [size(shape)], size: size(shape), decay: gname === 'decay', shape });
    }
    const small = members.filter((m) => size(shapeOf(m)) < OWN_GROUP_VALUES);
    if (!small.length) continue;
    const shapes = small.map(shapeOf);
    const sizes = shapes.map(size);
    const total = sizes.reduce((a, b) => a + b, 0);
    groups.push({ name: gname, params: small, shapes, sizes, size: total, decay: gname === 'decay', shape: small.length === 1 ? shapes[0]! : [total] });
  }
  return groups;
}

/** At most this many tensors per Concat: WebGPU binds one storage buffer per operand (16 at most). */
const MAX_OPERANDS = 8;

/** Concatenates tensors of a group into one flat vector (a tree of small Concats); a lone tensor
 *  keeps its shape. */
export function flatten(ts: Tensor[]): Tensor {
  if (ts.length === 1) return ts[0]!;
  let level = ts.map((t) => F.reshape(t, [-1]));
  while (level.length > 1) {
    const next: Tensor[] = [];
    for (let i = 0; i < level.length; i += MAX_OPERANDS) next.push(F.concat(level.slice(i, i + MAX_OPERANDS), 0));
    level = next;
  }
  return level[0]!;
}

/** Cuts a group's flat vector back into tensors of the original shapes (one slice each, rather than
 *  one Split with hundreds of outputs, which WebGPU cannot bind). */
function unflatten(flat: Tensor, grp: ParamGroup): Tensor[] {
  if (grp.params.length === 1) return [flat];
  let offset = 0;
  return grp.sizes.map((n, i) => {
    const part = F.slice(flat, 0, offset, offset + n);
    offset += n;
    return F.reshape(part, grp.shapes[i]!);
  });
}

/** Appends global-norm clipping and the AdamW update over flat per-group gradients; returns the new
 *  parameters (by name), the new moments (by group) and ‖g‖. Moments are graph inputs m:<group>, v:<group>. */
export function appendAdamW(g: Graph, groups: ParamGroup[], params: Record<string, Tensor>, flatGrads: Record<string, Tensor>, cfg: AdamWConfig, lr: Tensor, step: Tensor) {
  const b1 = cfg.beta1 ?? 0.9, b2 = cfg.beta2 ?? 0.999, eps = cfg.eps ?? 1e-8, wd = cfg.weightDecay ?? 0;
  // g² per group serves both the global norm and the second moment, and the clip coefficient rides on
  // the moments' scalars (m ← β₁m + (c(1−β₁))·g, v ← β₂v + (c²(1−β₂))·g²) instead of a pass of its own.
  // Each group's update is one adamw_step (engine/graph/ops/adamw.ts): on the native binding's CPU
  // sessions one pass of the engine's own kernel, elsewhere 12 elementwise ONNX ops. Unclipped (c = 1)
  // this is bit for bit the unfolded form.
  const sq = Object.fromEntries(groups.map((grp) => [grp.name, F.mul(flatGrads[grp.name]!, flatGrads[grp.name]!)]));
  const gradNorm = F.sqrt(groups.map((grp) => F.sum(sq[grp.name]!)).reduce((a, b) => F.add(a, b)));
  const coef = cfg.maxGradNorm ? F.minimum(F.div(cfg.maxGradNorm, F.add(gradNorm, 1e-6)), 1) : null;
  const mScale = coef ? F.mul(coef, 1 - b1) : 1 - b1;
  const vScale = coef ? F.mul(F.mul(coef, coef), 1 - b2) : 1 - b2;
  // m̂/(√v̂ + ε) = c·m/(√v + c·ε) with c = √(1−β₂ᵗ): folding the scalars saves a pass per parameter.
  const bc1 = F.sub(1, F.pow(g.scalar(b1), step));
  const c = F.sqrt(F.sub(1, F.pow(g.scalar(b2), step)));
  const stepSize = F.mul(F.div(lr, bc1), c);
  const epsC = F.mul(c, eps);
  const newParams: Record<string, Tensor> = {}, moments: Record<string, { m: Tensor; v: Tensor }> = {};
  for (const grp of groups) {
    const m = g.input(`m:${grp.name}`, 'float32', grp.shape);
    const v = g.input(`v:${grp.name}`, 'float32', grp.shape);
    const p = flatten(grp.params.map((n) => params[n]!));
    const decay = grp.decay && wd > 0 ? F.sub(1, F.mul(lr, wd)) : null;
    const [p2, m2, v2] = F.adamwStep(p, flatGrads[grp.name]!, sq[grp.name]!, m, v, { decay, b1, mScale, b2, vScale, epsC, stepSize });
    unflatten(p2, grp).forEach((t, i) => { newParams[grp.params[i]!] = t; });
    moments[grp.name] = { m: m2, v: v2 };
  }
  return { newParams, moments, gradNorm };
}

export interface TrainerSpec {
  name?: string;
  params: ParamStore;
  /** Traces the loss. Declare data inputs with g.input(); `p` holds every parameter of the store. */
  build: (g: Graph, p: Record<string, Tensor>) => { loss: Tensor; metrics?: Record<string, Tensor> };
  optimizer: AdamWConfig;
  /** Parameters to train (default: all). The others are fed but not updated. */
  trainable?: string[];
  device?: DeviceRequest;
  /** Gradient checkpointing: recompute each layer in the backward pass (docs/engine.md § Gradient checkpointing). */
  recompute?: boolean;
  /** bf16 / fp16: `build` is traced under autocast; parameters, gradients, moments and the update stay
   *  float32; fp16 scales the loss (docs/engine.md § Mixed precision). Default fp32. */
  precision?: Precision;
}

/** Mixed precision only — skipped: the gradients were not finite, so the update was not applied;
 *  scale: the loss scale the step used (fp16). */
export interface StepResult { loss: number; gradNorm: number; metrics: Record<string, number>; skipped?: boolean; scale?: number }

export class Trainer {
  /** Optimizer state: first and second moments per parameter group, flat (host arrays on CPU, device
   *  tensors on GPU providers), and the step count. */
  m = new Map<string, Feed>();
  v = new Map<string, Feed>();
  step = 0;
  private fused?: CompiledGraph;
  private accum?: { micro: CompiledGraph; apply: CompiledGraph };
  readonly trainable: string[];

  readonly groups: ParamGroup[];
  /** Mixed precision only: fp16's dynamic loss scale and the count of skipped (non-finite) steps. */
  readonly scaler: LossScaler | null;

  private constructor(readonly spec: TrainerSpec) {
    const precision = spec.precision ?? 'fp32';
    this.scaler = precision === 'fp32' ? null : new LossScaler(precision === 'fp16');
    this.trainable = spec.trainable ?? spec.params.names();
    this.groups = paramGroups(this.trainable, (n) => spec.params.shape(n), spec.optimizer);
    for (const grp of this.groups) {
      this.m.set(grp.name, { dtype: 'float32', shape: grp.shape, data: new Float32Array(grp.size) });
      this.v.set(grp.name, { dtype: 'float32', shape: grp.shape, data: new Float32Array(grp.size) });
    }
  }

  static async create(spec: TrainerSpec): Promise<Trainer> {
    if (spec.precision && spec.precision !== 'fp32') {
      const why = precisionRefusal(spec.precision, (await resolveDevice(spec.device ?? 'cpu')).device);
      if (why) throw new Error(why);
    }
    const t = new Trainer(spec);
    t.fused = await t.buildFused();
    return t;
  }

  /** Updated weights and moments stay in device memory on GPU providers. */
  private static readonly keepOnDevice = (name: string) => name.startsWith('new:');

  private trace(g: Graph) {
    const p: Record<string, Tensor> = {};
    for (const name of this.spec.params.names()) p[name] = g.param(name, this.spec.params.shape(name));
    g.autocast = HALF_DTYPE[this.spec.precision ?? 'fp32'];
    const { loss, metrics = {} } = this.spec.build(g, p);
    g.autocast = null;
    const wrt = this.trainable.map((n) => p[n]!);
    // fp16: the backward pass starts from the scaled loss, so small gradients survive in 16 bits.
    const seed = this.scaler?.dynamic ? g.input('opt:loss_scale', 'float32', []) : undefined;
    const grads = grad(loss, wrt, { seed, recompute: this.spec.recompute ?? false });
    g.output('loss', loss);
    for (const [k, t] of Object.entries(metrics)) g.output(`metric:${k}`, t);
    return { p, grads };
  }

  private async buildFused(): Promise<CompiledGraph> {
    const g = new Graph(`${this.spec.name ?? 'train'}_step`);
    const { p, grads } = this.trace(g);
    const byName = Object.fromEntries(this.trainable.map((n, i) => [n, grads[i]!]));
    const unscale = this.scaler?.dynamic ? F.div(1, g.inputs.get('opt:loss_scale')!) : null;
    const flat = Object.fromEntries(this.groups.map((grp) => {
      const f = flatten(grp.params.map((n) => byName[n]!));
      return [grp.name, unscale ? F.mul(f, unscale) : f];
    }));
    const upd = appendAdamW(g, this.groups, p, flat, this.spec.optimizer, g.input('opt:lr', 'float32', []), g.input('opt:step', 'float32', []));
    this.outputUpdates(g, this.gated(g, upd, p));
    return compile(g, { device: this.spec.device, keepOnDevice: Trainer.keepOnDevice });
  }

  /** Mixed precision: a step whose gradient norm is not finite writes back the old weights and moments
   *  (torch's GradScaler skips optimizer.step() the same way); `grad_finite` tells the host. */
  private gated(g: Graph, upd: ReturnType<typeof appendAdamW>, p: Record<string, Tensor>): ReturnType<typeof appendAdamW> {
    if (!this.scaler) return upd;
    const finite = F.equal(F.sub(upd.gradNorm, upd.gradNorm), 0); // inf − inf and NaN − NaN are NaN
    g.output('grad_finite', F.cast(finite, 'float32'));
    const keep = (a: Tensor, b: Tensor) => F.where(finite, a, b);
    return {
      gradNorm: upd.gradNorm,
      newParams: Object.fromEntries(Object.entries(upd.newParams).map(([n, t]) => [n, keep(t, p[n]!)])),
      moments: Object.fromEntries(Object.entries(upd.moments).map(([grp, mv]) => [grp, { m: keep(mv.m, g.inputs.get(`m:${grp}`)!), v: keep(mv.v, g.inputs.get(`v:${grp}`)!) }])),
    };
  }

  private outputUpdates(g: Graph, upd: ReturnType<typeof appendAdamW>) {
    for (const [n, t] of Object.entries(upd.newParams)) g.output(`new:${n}`, t);
    for (const [grp, mv] of Object.entries(upd.moments)) {
      g.output(`new:m:${grp}`, mv.m);
      g.output(`new:v:${grp}`, mv.v);
    }
    g.output('grad_norm', upd.gradNorm);
  }

  private async buildAccum() {
    const mg = new Graph(`${this.spec.name ?? 'train'}_micro`);
    const { grads } = this.trace(mg);
    const byName = Object.fromEntries(this.trainable.map((n, i) => [n, grads[i]!]));
    for (const grp of this.groups) {
      const acc = mg.input(`acc:${grp.name}`, 'float32', grp.shape);
      mg.output(`new:acc:${grp.name}`, F.add(acc, flatten(grp.params.map((n) => byName[n]!))));
    }
    const ag = new Graph(`${this.spec.name ?? 'train'}_apply`);
    const scale = ag.input('acc:scale', 'float32', []);
    const p: Record<string, Tensor> = {};
    for (const n of this.trainable) p[n] = ag.param(n, this.spec.params.shape(n));
    // acc:scale is 1 / (micro-batches × loss scale): the mean and the unscaling in one multiply.
    const flat = Object.fromEntries(this.groups.map((grp) => [grp.name, F.mul(ag.input(`acc:${grp.name}`, 'float32', grp.shape), scale)]));
    this.outputUpdates(ag, this.gated(ag, appendAdamW(ag, this.groups, p, flat, this.spec.optimizer, ag.input('opt:lr', 'float32', []), ag.input('opt:step', 'float32', [])), p));
    const opts = { device: this.spec.device, keepOnDevice: Trainer.keepOnDevice };
    return { micro: await compile(mg, opts), apply: await compile(ag, opts) };
  }

  private paramFeeds(names = this.spec.params.names()): Record<string, Feed> {
    const f: Record<string, Feed> = {};
    for (const n of names) f[n] = this.spec.params.feed(n);
    return f;
  }

  private optFeeds(lr: number): Record<string, Feed> {
    const f: Record<string, Feed> = { 'opt:lr': scalarF32(lr), 'opt:step': scalarF32(this.step + 1) };
    if (this.scaler?.dynamic) f['opt:loss_scale'] = scalarF32(this.scaler.scale);
    for (const grp of this.groups) {
      f[`m:${grp.name}`] = this.m.get(grp.name)!;
      f[`v:${grp.name}`] = this.v.get(grp.name)!;
    }
    return f;
  }

  /** Takes the step's outputs as the new state: host arrays on CPU, device tensors on GPU. A skipped
   *  step's outputs are the old state; only the step count (AdamW's bias correction) does not advance.
   *  Returns whether the step was skipped. */
  private absorb(r: Record<string, ort.Tensor>): boolean {
    const keep = (map: Map<string, Feed>, n: string, t: ort.Tensor) => {
      const old = map.get(n);
      if (old instanceof ort.Tensor && old !== t) old.dispose();
      map.set(n, t.location === 'cpu' ? { dtype: 'float32', shape: [...t.dims], data: t.data as Float32Array } : t);
    };
    for (const n of this.trainable) {
      const p = r[`new:${n}`]!;
      if (p.location === 'cpu') this.spec.params.set(n, p.data as Float32Array);
      else this.spec.params.setDevice(n, p);
    }
    for (const grp of this.groups) {
      keep(this.m, grp.name, r[`new:m:${grp.name}`]!);
      keep(this.v, grp.name, r[`new:v:${grp.name}`]!);
    }
    const finite = !this.scaler || Number(r.grad_finite!.data[0]) === 1;
    this.scaler?.update(finite);
    if (finite) this.step++;
    return !finite;
  }

  private static scalars(r: Record<string, ort.Tensor>): { loss: number; gradNorm: number; metrics: Record<string, number> } {
    const metrics: Record<string, number> = {};
    for (const [k, t] of Object.entries(r)) if (k.startsWith('metric:')) metrics[k.slice(7)] = Number(t.data[0]);
    return { loss: Number(r.loss?.data[0]), gradNorm: Number(r.grad_norm?.data[0]), metrics };
  }

  /** One optimizer step on one batch, or on the mean gradient of several micro-batches. */
  async run(batch: Record<string, Feed> | Record<string, Feed>[], opts: { lr?: number } = {}): Promise<StepResult> {
    const lr = opts.lr ?? this.spec.optimizer.lr;
    const micro = Array.isArray(batch) ? batch : [batch];
    if (micro.length === 1) {
      const scale = this.scaler?.scale;
      const r = await this.fused!.runRaw({ ...this.paramFeeds(), ...this.optFeeds(lr), ...micro[0] });
      const out = Trainer.scalars(r);
      return { ...out, skipped: this.absorb(r), scale };
    }
    this.accum ??= await this.buildAccum();
    let acc: Record<string, Feed> = {};
    for (const grp of this.groups) acc[`acc:${grp.name}`] = { dtype: 'float32', shape: grp.shape, data: new Float32Array(grp.size) };
    let loss = 0;
    const metrics: Record<string, number> = {};
    for (const mb of micro) {
      const r = await this.accum.micro.runRaw({ ...this.paramFeeds(), ...acc, ...mb, ...(this.scaler?.dynamic ? { 'opt:loss_scale': scalarF32(this.scaler.scale) } : {}) });
      const next: Record<string, Feed> = {};
      for (const grp of this.groups) next[`acc:${grp.name}`] = r[`new:acc:${grp.name}`]!;
      for (const t of Object.values(acc)) if (t instanceof ort.Tensor && t.location !== 'cpu') t.dispose();
      acc = next;
      const s = Trainer.scalars(r);
      loss += s.loss / micro.length;
      for (const [k, v] of Object.entries(s.metrics)) metrics[k] = (metrics[k] ?? 0) + v / micro.length;
    }
    const { 'opt:loss_scale': _unused, ...opt } = this.optFeeds(lr);
    const r = await this.accum.apply.runRaw({ ...this.paramFeeds(this.trainable), ...opt, ...acc, 'acc:scale': scalarF32(1 / (micro.length * (this.scaler?.scale ?? 1))) });
    for (const t of Object.values(acc)) if (t instanceof ort.Tensor && t.location !== 'cpu') t.dispose();
    const gradNorm = Trainer.scalars(r).gradNorm, scale = this.scaler?.scale;
    return { loss, gradNorm, metrics, skipped: this.absorb(r), scale };
  }

  /** Host copies of the optimizer moments per group (for checkpoints), downloading device-resident ones. */
  async moments(): Promise<{ m: Map<string, Float32Array>; v: Map<string, Float32Array> }> {
    const get = async (f: Feed) => (f instanceof ort.Tensor ? ((await toHost(f)).data as Float32Array).slice() : (f as HostTensor).data as Float32Array);
    const m = new Map<string, Float32Array>(), v = new Map<string, Float32Array>();
    for (const grp of this.groups) { m.set(grp.name, await get(this.m.get(grp.name)!)); v.set(grp.name, await get(this.v.get(grp.name)!)); }
    return { m, v };
  }

  /** Restores optimizer state saved by moments() (resuming a run), and the loss scaler's. */
  restore(state: { m: Map<string, Float32Array>; v: Map<string, Float32Array>; step: number; scaler?: LossScalerState }): void {
    if (state.scaler && this.scaler) this.scaler.restore(state.scaler);
    for (const grp of this.groups) {
      const m = state.m.get(grp.name), v = state.v.get(grp.name);
      if (!m || !v || m.length !== grp.size || v.length !== grp.size) throw new Error(`optimizer state does not match parameter group "${grp.name}" (${grp.size} values)`);
      this.m.set(grp.name, { dtype: 'float32', shape: grp.shape, data: m });
      this.v.set(grp.name, { dtype: 'float32', shape: grp.shape, data: v });
    }
    this.step = state.step;
  }
}
