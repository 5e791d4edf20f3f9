// Compiling a Graph into an ORT session and running it with named feeds. Sessions are cached by the
// SHA-256 of the emitted model plus the device, so rebuilding the same step (same shapes, same ops)
// costs a graph trace, not a recompile. Feeds are checked against the declared inputs before ORT
// sees them, so a wrong feed is reported by its tensor name and expected type.

import { createHash } from 'node:crypto';
import ort from 'onnxruntime-node';
import { Graph, F, type Tensor, type DType, type Dim, emitOnnx, fmtShape } from '../graph/index.js';
import { type TypedArray } from '../graph/shape.js';
import { type Device, type Binding, sessionOptions, nativeSessionOptions, bindingFor, resolveDevice, keepsOutputs, loweringFor, type DeviceRequest } from './devices.js';
import { NativeSession, tuneHostAllocator } from './native.js';
import { trace, tracing } from './trace.js';

export interface HostTensor { dtype: DType; shape: number[]; data: TypedArray }
export type Feed = HostTensor | ort.Tensor;

export class FeedError extends Error {
  constructor(graph: string, message: string) {
    super(`graph "${graph}": ${message}`);
    this.name = 'FeedError';
  }
}

/** What runs a compiled graph: an onnxruntime-node session, or one of the native binding's (CUDA). */
export interface Runner {
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
  /** Writes ORT's profile (RRLHF_ORT_PROFILE); a native session writes it when released. */
  endProfiling(): void;
}

const sessionCache = new Map<string, Promise<Runner>>();
const SMALL_MODEL_VALUES = 1_000_000;

export interface CompileOptions {
  device?: DeviceRequest;
  outputs?: Map<string, Tensor>;
  /** Outputs that stay in device memory on GPU providers (ignored on CPU). Read them with runRaw(). */
  keepOnDevice?: (outputName: string) => boolean;
  /** Which binding runs it (default: bindingFor(device)); downloads use the one that made the tensor. */
  binding?: Binding;
  /** A decode step: few rows (one token per sequence) meet every weight (LoweringOptions.decodeMatMul). */
  decode?: boolean;
}

export class CompiledGraph {
  private constructor(
    readonly name: string,
    readonly device: Device,
    readonly inputs: { name: string; dtype: DType; shape: Dim[]; kind: string }[],
    readonly outputs: { name: string; dtype: DType; shape: Dim[] }[],
    readonly session: Runner,
    readonly modelBytes: Uint8Array,
    readonly binding: Binding,
  ) {}

  static async compile(graph: Graph, opts: CompileOptions = {}): Promise<CompiledGraph> {
    const { device } = await resolveDevice(opts.device ?? 'cpu');
    const binding = opts.binding ?? bindingFor(device);
    const emitted = emitOnnx(graph, opts.outputs, loweringFor(device, binding, { decode: opts.decode }));
    // Only the element types an ort.Tensor can hold as a device buffer stay there.
    const keepOnDevice = keepsOutputs(device, binding) && opts.keepOnDevice ? emitted.outputs.filter((o) => DEVICE_DTYPES.has(o.dtype) && opts.keepOnDevice!(o.name)).map((o) => o.name) : [];
    const key = `${device}:${binding}:${keepOnDevice.join(',')}:${createHash('sha256').update(emitted.bytes).digest('hex')}`;
    let sp = sessionCache.get(key);
    if (!sp) {
      tuneHostAllocator();
      trace(`compile ${graph.name} on ${device} via ${binding} (${graph.nodes.length} ops, ${emitted.bytes.length} bytes of ONNX)`);
      const float64 = emitted.inputs.some((i) => i.dtype === 'float64') || graph.nodes.some((n) => n.outputs.some((o) => o.dtype === 'float64'));
      // Graphs over small models (under ~1M parameter values) are dominated by per-kernel overhead,
      // where a second thread only adds synchronisation: run them single-threaded on CPU.
      const paramValues = emitted.inputs.filter((i) => i.kind === 'param').reduce((a, i) => a + i.shape.reduce<number>((p, d) => p * (typeof d === 'number' ? d : 1), 1), 0);
      const threads = device === 'cpu' && paramValues > 0 && paramValues < SMALL_MODEL_VALUES ? 1 : undefined;
      sp = binding === 'native'
        ? (async (): Promise<Runner> => {
          const ns = await NativeSession.create(emitted.bytes, nativeSessionOptions(device, { float64, threads }), emitted.outputs.map((o) => o.name), keepOnDevice);
          // A native session writes its profile when released: drop it from the cache too.
          return { run: (f) => ns.run(f), release: () => ns.release(), endProfiling: () => { sessionCache.delete(key); void ns.release(); } };
        })()
        : ort.InferenceSession.create(emitted.bytes, sessionOptions(device, { float64, keepOnDevice, threads })) as Promise<Runner>;
      sessionCache.set(key, sp);
      sp.catch(() => sessionCache.delete(key));
    }
    let session: Runner;
    try {
      session = await sp;
    } catch (err) {
      throw new Error(`graph "${graph.name}" failed to load in ONNX Runtime on ${device}: ${(err as Error).message}`);
    }
    return new CompiledGraph(graph.name, device, emitted.inputs, emitted.outputs, session, emitted.bytes, binding);
  }

  /** Checks feeds against declared inputs: presence, dtype, rank, static dims, consistent symbols. */
  private check(feeds: Record<string, Feed>): Record<string, ort.Tensor> {
    const out: Record<string, ort.Tensor> = {};
    const symbols = new Map<string, { value: number; from: string }>();
    for (const inp of this.inputs) {
      const f = feeds[inp.name];
      if (!f) throw new FeedError(this.name, `missing feed "${inp.name}" (${inp.dtype}${fmtShape(inp.shape)})`);
      const isOrt = f instanceof ort.Tensor;
      const dims = (isOrt ? f.dims : (f as HostTensor).shape) as readonly number[];
      const dtype = isOrt ? (f.type as DType) : (f as HostTensor).dtype;
      if (dtype !== inp.dtype) throw new FeedError(this.name, `feed "${inp.name}" has dtype ${dtype}, expected ${inp.dtype}${fmtShape(inp.shape)}`);
      if (dims.length !== inp.shape.length) throw new FeedError(this.name, `feed "${inp.name}" has shape ${fmtShape(dims)}, expected ${fmtShape(inp.shape)}`);
      inp.shape.forEach((d, i) => {
        const got = dims[i]!;
        if (typeof d === 'number') {
          if (d !== got) throw new FeedError(this.name, `feed "${inp.name}" has shape ${fmtShape(dims)}, expected ${fmtShape(inp.shape)} (axis ${i})`);
        } else if (!d.includes('*')) {
          const seen = symbols.get(d);
          if (seen && seen.value !== got) throw new FeedError(this.name, `dim "${d}" is ${seen.value} in "${seen.from}" but ${got} in "${inp.name}"`);
          symbols.set(d, { value: got, from: inp.name });
        }
      });
      if (isOrt) { out[inp.name] = f; continue; }
      const h = f as HostTensor;
      const n = dims.reduce((a, b) => a * b, 1);
      if (h.data.length !== n) throw new FeedError(this.name, `feed "${inp.name}" has ${h.data.length} values for shape ${fmtShape(dims)} (${n})`);
      out[inp.name] = ortTensor(h);
    }
    const known = new Set(this.inputs.map((i) => i.name));
    for (const k of Object.keys(feeds)) {
      if (!known.has(k) && !this.declaredButDead(k)) throw new FeedError(this.name, `unknown feed "${k}"; inputs are ${[...known].join(', ')}`);
    }
    return out;
  }

  private deadInputs = new Set<string>();
  private declaredButDead(name: string): boolean { return this.deadInputs.has(name); }
  /** Inputs the graph declared but the outputs do not need; feeding them is allowed and ignored. */
  allowUnused(names: Iterable<string>): this { for (const n of names) this.deadInputs.add(n); return this; }

  async runRaw(feeds: Record<string, Feed>): Promise<Record<string, ort.Tensor>> {
    const checked = this.check(feeds);
    if (tracing) trace(`run ${this.name} on ${this.device}: ${this.inputs.filter((i) => i.kind !== 'param').map((i) => `${i.name}[${checked[i.name]?.dims.join(',')}]`).join(' ')}`);
    const out = await this.session.run(checked);
    for (const t of Object.values(out)) if (t.location !== 'cpu') residentOn.set(t, { device: this.device, binding: this.binding });
    return out;
  }

  /** Runs and returns every output on the host (device-resident outputs are downloaded). */
  async run(feeds: Record<string, Feed>): Promise<Record<string, HostTensor>> {
    const res = await this.runRaw(feeds);
    const tensors = this.outputs.map((o) => res[o.name]!);
    try {
      const data = await downloadAll(tensors);
      const out: Record<string, HostTensor> = {};
      this.outputs.forEach((o, i) => { out[o.name] = { dtype: o.dtype, shape: [...tensors[i]!.dims], data: data[i]! }; });
      return out;
    } finally {
      for (const t of tensors) if (t.location !== 'cpu') t.dispose();
    }
  }
}

/** Compiles a graph: emits ONNX, loads it (cached), and returns a runner. Declared inputs that DCE
 *  removed may still be fed (they are ignored), so callers can feed a fixed set. */
export async function compile(graph: Graph, opts: CompileOptions = {}): Promise<CompiledGraph> {
  const c = await CompiledGraph.compile(graph, opts);
  return c.allowUnused(graph.inputs.keys());
}

// ORT tensors wrap host arrays without copying; reusing the wrapper for the same array (weights fed on
// every step and every generated token) also skips re-creating it.
const wrappers = new WeakMap<TypedArray, ort.Tensor>();
function ortTensor(h: HostTensor): ort.Tensor {
  const hit = wrappers.get(h.data);
  if (hit && hit.dims.length === h.shape.length && hit.dims.every((d, i) => d === h.shape[i])) return hit;
  const t = new ort.Tensor(h.dtype as 'float32', h.data as Float32Array, h.shape);
  wrappers.set(h.data, t);
  return t;
}

/** Where each device-resident tensor an engine session returned lives, and which binding made it:
 *  its download runs there. */
const residentOn = new WeakMap<ort.Tensor, { device: Device; binding: Binding }>();
/** Element types an ort.Tensor can carry as a device ('gpu-buffer') tensor. */
const DEVICE_DTYPES = new Set<DType>(['float32', 'int32', 'int64', 'bool']);

/** Host copies of tensors, downloading device-resident ones with one identity graph per device whose
 *  outputs are bound to host memory. The device tensors stay valid and on the device. (Not
 *  Tensor.getData(): onnxruntime-node's download of a WebGPU tensor is unimplemented and throws a C++
 *  exception that ends the process — measured on an H100 — and getData also turns the tensor into a
 *  host one, so the next run would upload it again.) */
export async function downloadAll(ts: readonly ort.Tensor[]): Promise<TypedArray[]> {
  const out: TypedArray[] = new Array(ts.length);
  const groups = new Map<string, { device: Device; binding: Binding; idx: number[] }>();
  ts.forEach((t, i) => {
    if (t.location === 'cpu' || t.location === 'cpu-pinned') { out[i] = t.data as TypedArray; return; }
    const at = residentOn.get(t);
    if (!at) throw new Error(`cannot download a ${t.type}${fmtShape(t.dims)} tensor in ${t.location} memory that no engine session produced`);
    const k = `${at.device}:${at.binding}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { ...at, idx: [] }));
    g.idx.push(i);
  });
  for (const { device, binding, idx } of groups.values()) {
    const g = new Graph('download');
    idx.forEach((i, j) => {
      const t = ts[i]!;
      g.output(`y${j}`, F.identity(g.input(`x${j}`, t.type as DType, t.dims.map((_, k) => `d${j}_${k}`))));
    });
    trace(`download ${idx.length} tensor(s) from ${device}`);
    const c = await compile(g, { device, binding });
    const r = await c.run(Object.fromEntries(idx.map((i, j) => [`x${j}`, ts[i]!])));
    idx.forEach((i, j) => { out[i] = r[`y${j}`]!.data; });
  }
  return out;
}

/** An ORT tensor's values on the host (a device-resident tensor is downloaded and stays valid). */
export async function toHost(t: ort.Tensor, dtype: DType = t.type as DType): Promise<HostTensor> {
  const [data] = await downloadAll([t]);
  return { dtype, shape: [...t.dims], data: data! };
}

// ---- host tensor helpers -----------------------------------------------------------------------

export const f32 = (data: ArrayLike<number>, shape: number[]): HostTensor => ({ dtype: 'float32', shape, data: Float32Array.from(data) });
export const f64 = (data: ArrayLike<number>, shape: number[]): HostTensor => ({ dtype: 'float64', shape, data: Float64Array.from(data) });
export const i64 = (data: ArrayLike<number>, shape: number[]): HostTensor => ({ dtype: 'int64', shape, data: BigInt64Array.from(Array.from(data), (v) => BigInt(v)) });
export const scalarF32 = (v: number): HostTensor => ({ dtype: 'float32', shape: [], data: new Float32Array([v]) });

/** Loaded sessions (for developer profiling with RRLHF_ORT_PROFILE). */
export async function* loadedSessions(): AsyncGenerator<Runner> {
  for (const p of sessionCache.values()) yield await p;
}
