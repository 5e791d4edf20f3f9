// The engine's own binding to ONNX Runtime (native/ort_binding.c), used where onnxruntime-node cannot
// keep outputs in device memory: on CUDA its IO binding only knows WebGPU buffers, so weights, optimizer
// moments and KV caches would cross PCIe on every run. Sessions here bind each output to host or device
// memory; a device output is returned as an ort.Tensor of location 'gpu-buffer' whose buffer is our
// handle, so ParamStore, the Trainer and the sampler treat it exactly like a WebGPU tensor (feed it
// back, dispose() to free; downloads go through session.ts's downloadAll(), as for WebGPU tensors).
//
// The addon is built by scripts/build-native.js into dist/native/ (skipped, with a notice, where there is
// no C compiler); without it CUDA falls back to onnxruntime-node's provider with host round trips.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { OnnxDType } from '../graph/onnx-proto.js';
import type { DType } from '../graph/index.js';

type Handle = { readonly __nativeHandle: unique symbol };
interface HostIn { type: number; dims: readonly number[]; data: ArrayBufferView }
interface Out { type: number; dims: number[]; data?: ArrayBuffer; handle?: Handle }
interface Addon {
  init(libPath: string): string;
  createSession(bytes: Uint8Array, opts: NativeSessionOptions): Promise<Handle>;
  run(session: Handle, inputNames: string[], inputs: (HostIn | Handle)[], outputNames: string[], onDevice: boolean[]): Promise<Out[]>;
  release(h: Handle): void;
  tuneHostAllocator(): boolean;
}

export type NativeProvider = 'cpu' | 'cuda';
export interface NativeSessionOptions {
  provider: NativeProvider;
  deviceId?: number;
  threads?: number;
  logLevel?: number;
  profilePrefix?: string;
  /** 0: no memory pattern (memPatternOn in devices.ts says why). */
  memPattern?: 0 | 1;
  /** ORT session config entries (e.g. optimization.disable_specified_optimizers). */
  configs?: [string, string][];
  /** CUDA provider options (e.g. use_tf32). */
  providerOptions?: [string, string][];
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** Where scripts/build-native.js puts the addon (dist/native, next to dist/engine). */
export const ADDON_PATH = path.resolve(here, '../../native/rrlhf_ort.node');

let loaded: { addon?: Addon; version?: string; reason?: string; libDir?: string } | undefined;

/** The addon, initialised against onnxruntime-node's own libonnxruntime; or why it is not there. */
export function nativeBinding(): { addon?: Addon; version?: string; reason?: string; libDir?: string } {
  if (loaded) return loaded;
  if (process.env.RRLHF_NATIVE === '0') return (loaded = { reason: 'the native binding is switched off (RRLHF_NATIVE=0)' });
  if (!existsSync(ADDON_PATH)) return (loaded = { reason: `the native binding is not built (${ADDON_PATH}; run npm run build with a C compiler)` });
  try {
    const require = createRequire(import.meta.url);
    const addon = require(ADDON_PATH) as Addon;
    const ortDir = path.dirname(require.resolve('onnxruntime-node/package.json'));
    const lib = path.join(ortDir, 'bin', 'napi-v6', process.platform, process.arch, process.platform === 'darwin' ? 'libonnxruntime.dylib' : 'libonnxruntime.so.1');
    const version = addon.init(lib);
    return (loaded = { addon, version, libDir: path.dirname(lib) });
  } catch (err) {
    return (loaded = { reason: `the native binding did not load: ${(err as Error).message}` });
  }
}

let tuned: boolean | undefined;
/** Asks glibc's malloc, once per process, to keep freed blocks for reuse (native/ort_binding.c says why);
 *  a no-op where the addon is not built or switched off, or not on glibc. Needs no init(). */
export function tuneHostAllocator(): boolean {
  if (tuned !== undefined) return tuned;
  tuned = false;
  if (process.env.RRLHF_NATIVE === '0' || !existsSync(ADDON_PATH)) return tuned;
  try {
    tuned = (createRequire(import.meta.url)(ADDON_PATH) as Addon).tuneHostAllocator();
  } catch { /* an addon built before this function existed, or one that does not load: nothing to tune */ }
  return tuned;
}

const ONNX_TYPE: Record<string, number> = { float32: OnnxDType.float32, float64: OnnxDType.float64, int64: OnnxDType.int64, int32: OnnxDType.int32, bool: OnnxDType.bool, uint8: OnnxDType.uint8, float16: OnnxDType.float16 };
const TYPE_NAME = new Map(Object.entries(ONNX_TYPE).map(([k, v]) => [v, k as DType | 'uint8' | 'float16']));
const ARRAY: Record<string, new (b: ArrayBuffer) => ArrayBufferView> = { float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array, bool: Uint8Array, uint8: Uint8Array, float16: Uint16Array };
// Types an ort.Tensor may carry as a 'gpu-buffer' (onnxruntime-common's rule); others come back to the host.
const DEVICE_TYPES = new Set(['float32', 'float16', 'int32', 'int64', 'uint8', 'bool']);

/** Whether ONNX Runtime's CUDA provider library sits next to libonnxruntime (where ORT loads it from). */
export function cudaProviderInstalled(): boolean {
  const dir = nativeBinding().libDir;
  return !!dir && existsSync(path.join(dir, 'libonnxruntime_providers_cuda.so'));
}

/** A session over the native binding with the same run() shape as ort.InferenceSession. */
export class NativeSession {
  private constructor(
    private readonly addon: Addon,
    private handle: Handle | undefined,
    readonly provider: NativeProvider,
    readonly outputNames: readonly string[],
    private readonly keep: ReadonlySet<string>,
  ) {}

  static async create(bytes: Uint8Array, opts: NativeSessionOptions, outputNames: readonly string[], keepOnDevice: Iterable<string> = []): Promise<NativeSession> {
    const b = nativeBinding();
    if (!b.addon) throw new Error(b.reason);
    return new NativeSession(b.addon, await b.addon.createSession(bytes, opts), opts.provider, outputNames, new Set(keepOnDevice));
  }

  async run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    if (!this.handle) throw new Error('the session was released');
    const names = Object.keys(feeds);
    const inputs = names.map((n) => toNative(n, feeds[n]!));
    const onDevice = this.outputNames.map((n) => this.keep.has(n));
    const outs = await this.addon.run(this.handle, names, inputs, [...this.outputNames], onDevice);
    const result: Record<string, ort.Tensor> = {};
    try {
      outs.forEach((o, i) => { result[this.outputNames[i]!] = this.fromNative(o); });
    } catch (err) {
      // Free every device output now rather than whenever the garbage collector gets to them.
      for (const o of outs) if (o.handle) this.addon.release(o.handle);
      throw err;
    }
    return result;
  }

  private fromNative(o: Out): ort.Tensor {
    const type = TYPE_NAME.get(o.type);
    if (!type) throw new Error(`the native binding returned an unsupported element type ${o.type}`);
    if (o.data) {
      const Arr = ARRAY[type];
      if (!Arr) throw new Error(`no host array type for ${type}`);
      return new ort.Tensor(type as 'float32', new Arr(o.data) as Float32Array, o.dims);
    }
    const handle = o.handle!;
    if (!DEVICE_TYPES.has(type)) throw new Error(`a ${type} output cannot stay on the device`);
    const addon = this.addon, dims = o.dims;
    return ort.Tensor.fromGpuBuffer(handle as unknown as ort.Tensor.GpuBufferType, {
      dataType: type as 'float32',
      dims,
      // One mechanism reads device values back: session.ts's downloadAll() (a graph run, which also
      // keeps this tensor valid). getData() would turn the tensor into a host one.
      download: async () => { throw new Error('a device tensor of the native binding is read with downloadAll() or toHost() (engine/runtime/session.ts), not getData()'); },
      dispose: () => addon.release(handle),
    });
  }

  async release(): Promise<void> {
    if (this.handle) this.addon.release(this.handle);
    this.handle = undefined;
  }
}

/** A feed for the addon. Host arrays are read in place while the run is in flight: do not transfer
 *  (postMessage) or write them until the run's promise settles. */
function toNative(name: string, t: ort.Tensor): HostIn | Handle {
  if (t.location === 'gpu-buffer') return t.gpuBuffer as unknown as Handle;
  if (t.location === 'none') throw new Error(`feed "${name}" was disposed (its device memory is released)`);
  if (t.location !== 'cpu') throw new Error(`feed "${name}" is in ${t.location} memory, which the native binding cannot read`);
  const type = ONNX_TYPE[t.type];
  if (type === undefined) throw new Error(`feed "${name}" has type ${t.type}, which the native binding does not handle`);
  return { type, dims: t.dims, data: t.data as ArrayBufferView };
}
