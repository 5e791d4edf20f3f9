// Parameters: named float32 tensors with seeded initialisation, plus the seeded RNG the whole engine
// uses (so the same seed gives the same weights, batches and samples on every machine).

import type ort from 'onnxruntime-node';
import { readSafetensorsFile, writeSafetensorsFile, type NamedTensor } from './safetensors.js';
import { type HostTensor, compile, downloadAll } from './session.js';
import { Graph, F } from '../graph/index.js';
import { type DeviceRequest, resolveDevice, keepsOutputsOnDevice } from './devices.js';
import { trace } from './trace.js';

/** xoshiro128** seeded through splitmix32: fast, small state, good statistical quality. Its state can
 *  be saved and restored, which resumable runs need. */
export class Rng {
  private s = new Uint32Array(4);
  private spare: number | null = null;

  constructor(seed = 0) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!; s[3]! ^= s[1]!; s[1]! ^= s[2]!; s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  uniform(): number { return this.nextU32() / 4294967296; }
  /** Uniform integer in [0, n). */
  int(n: number): number { return Math.floor(this.uniform() * n); }
  /** Standard normal (Box–Muller, caching the second value). */
  normal(): number {
    if (this.spare !== null) { const v = this.spare; this.spare = null; return v; }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  /** A new generator whose stream is independent of this one's future draws. */
  fork(): Rng { return new Rng(this.nextU32()); }

  getState(): number[] { return [...this.s, this.spare === null ? NaN : this.spare]; }
  setState(st: number[]): void { this.s.set(st.slice(0, 4)); this.spare = Number.isNaN(st[4]) ? null : st[4]!; }
}

function rotl(x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0; }

export type Init =
  | { kind: 'zeros' } | { kind: 'ones' } | { kind: 'constant'; value: number }
  | { kind: 'normal'; std: number; mean?: number }
  | { kind: 'uniform'; low: number; high: number }
  /** torch.nn.Linear's default: U(−1/√fan_in, 1/√fan_in). */
  | { kind: 'kaiming_uniform'; fanIn: number }
  | { kind: 'xavier_uniform'; fanIn: number; fanOut: number };

export function initTensor(shape: number[], init: Init, rng: Rng): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  switch (init.kind) {
    case 'zeros': break;
    case 'ones': a.fill(1); break;
    case 'constant': a.fill(init.value); break;
    case 'normal': for (let i = 0; i < n; i++) a[i] = (init.mean ?? 0) + init.std * rng.normal(); break;
    case 'uniform': for (let i = 0; i < n; i++) a[i] = init.low + (init.high - init.low) * rng.uniform(); break;
    case 'kaiming_uniform': { const b = 1 / Math.sqrt(init.fanIn); for (let i = 0; i < n; i++) a[i] = -b + 2 * b * rng.uniform(); break; }
    case 'xavier_uniform': { const b = Math.sqrt(6 / (init.fanIn + init.fanOut)); for (let i = 0; i < n; i++) a[i] = -b + 2 * b * rng.uniform(); break; }
  }
  return a;
}

export interface Param { shape: number[]; data: Float32Array }

/** Named float32 parameters in insertion order. Values are replaced, never mutated in place, so a
 *  graph run can read one version while the next is produced.
 *
 *  On GPU providers a parameter can live in device memory (a gpu-buffer ORT tensor produced by a
 *  training step): `feed()` hands that tensor to the next graph without a round trip, and the host
 *  copy is refreshed only at explicit sync points (`await sync()`: checkpoints, saving, reports). */
export class ParamStore {
  private map = new Map<string, Param>();
  private dev = new Map<string, ort.Tensor>();
  private stale = new Set<string>();

  add(name: string, shape: number[], init: Init, rng: Rng): Param {
    if (this.map.has(name)) throw new Error(`parameter "${name}" already exists`);
    const p = { shape: [...shape], data: initTensor(shape, init, rng) };
    this.map.set(name, p);
    return p;
  }

  get(name: string): Param {
    const p = this.map.get(name);
    if (!p) throw new Error(`no parameter named "${name}"`);
    if (this.stale.has(name)) throw new Error(`parameter "${name}" was updated on the device; await store.sync() before reading it on the host`);
    return p;
  }

  shape(name: string): number[] {
    const p = this.map.get(name);
    if (!p) throw new Error(`no parameter named "${name}"`);
    return p.shape;
  }

  /** What to feed a graph: the device copy when there is one, else the host array. */
  feed(name: string): HostTensor | ort.Tensor {
    const d = this.dev.get(name);
    if (d) return d;
    const p = this.get(name);
    return { dtype: 'float32', shape: p.shape, data: p.data };
  }

  /** Records a newer value that lives in device memory (the previous device copy is released). */
  setDevice(name: string, t: ort.Tensor): void {
    if (!this.map.has(name)) throw new Error(`no parameter named "${name}"`);
    const old = this.dev.get(name);
    if (old && old !== t) old.dispose();
    this.dev.set(name, t);
    this.stale.add(name);
  }

  /** Puts host values in device memory once (an identity graph whose outputs stay on the device), so
   *  graphs that read the same weights run after run (sampling, scoring) do not upload them each time.
   *  Does nothing on devices that cannot keep outputs, nor on the CPU, where a run reads host arrays in
   *  place (a copy would only double the frozen weights in memory). */
  async upload(names: string[], device: DeviceRequest): Promise<void> {
    const { device: dev } = await resolveDevice(device);
    if (dev === 'cpu' || !keepsOutputsOnDevice(dev)) return;
    const todo = names.filter((n) => !this.dev.has(n));
    if (!todo.length) return;
    const g = new Graph('upload');
    todo.forEach((n, i) => g.output(`dev:${i}`, F.identity(g.param(`in:${i}`, this.shape(n)))));
    const c = await compile(g, { device: dev, keepOnDevice: () => true });
    const feeds: Record<string, HostTensor> = {};
    todo.forEach((n, i) => { const p = this.get(n); feeds[`in:${i}`] = { dtype: 'float32', shape: p.shape, data: p.data }; });
    const r = await c.runRaw(feeds);
    todo.forEach((n, i) => this.dev.set(n, r[`dev:${i}`]!)); // host and device agree: not stale
  }

  /** Copies device-resident values back to the host (they stay on the device too). */
  async sync(): Promise<void> {
    const names = [...this.stale];
    if (!names.length) return;
    trace(`sync ${names.length} parameter(s) to the host`);
    const data = await downloadAll(names.map((n) => this.dev.get(n)!));
    names.forEach((name, i) => {
      this.map.set(name, { shape: this.map.get(name)!.shape, data: data[i] as Float32Array });
      this.stale.delete(name);
    });
  }

  has(name: string): boolean { return this.map.has(name); }

  set(name: string, data: Float32Array, shape?: number[]): void {
    const prev = this.map.get(name);
    const s = shape ?? prev?.shape;
    if (!s) throw new Error(`parameter "${name}" needs a shape`);
    const n = s.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new Error(`parameter "${name}": ${data.length} values for shape [${s.join(', ')}]`);
    if (prev && shape && shape.join() !== prev.shape.join()) throw new Error(`parameter "${name}": shape [${shape}] differs from [${prev.shape}]`);
    this.map.set(name, { shape: [...s], data });
    // A host write supersedes any device copy.
    this.dev.get(name)?.dispose();
    this.dev.delete(name);
    this.stale.delete(name);
  }

  names(): string[] { return [...this.map.keys()]; }
  /** Host values; throws if some were updated on the device and not synced. */
  entries(): [string, Param][] {
    if (this.stale.size) throw new Error(`${this.stale.size} parameters were updated on the device; await store.sync() first`);
    return [...this.map.entries()];
  }
  get size(): number { return this.map.size; }
  numel(): number { let n = 0; for (const p of this.map.values()) n += p.shape.reduce((a, b) => a * b, 1); return n; }

  clone(): ParamStore {
    if (this.stale.size) throw new Error('parameters were updated on the device; await store.sync() before clone()');
    const c = new ParamStore();
    for (const [k, p] of this.map) c.map.set(k, { shape: [...p.shape], data: p.data.slice() });
    return c;
  }

  async save(file: string, metadata?: Record<string, string>): Promise<void> {
    await writeSafetensorsFile(file, new Map(this.entries() as [string, NamedTensor][]), metadata);
  }

  static async load(file: string): Promise<ParamStore> {
    const s = new ParamStore();
    for (const [k, t] of await readSafetensorsFile(file)) s.map.set(k, { shape: t.shape, data: t.data });
    return s;
  }
}
