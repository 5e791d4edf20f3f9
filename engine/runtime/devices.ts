// Devices are ONNX Runtime execution providers. A device "works" when a tiny session initialises on it;
// otherwise the reason ORT gave is kept so the UI and CLI can say why (not installed, no driver, ...).

import os from 'node:os';
import ort from 'onnxruntime-node';

// Failed provider probes are reported through DeviceStatus.reason; keep ORT from also printing them.
// RRLHF_ORT_LOG=0..4 (verbose..fatal) shows ORT's own log instead, for diagnosing a provider.
const ORT_LOG = ((v) => (/^[0-4]$/.test(v) ? (Number(v) as 0 | 1 | 2 | 3 | 4) : undefined))(process.env.RRLHF_ORT_LOG ?? '');
ort.env.logLevel = ORT_LOG !== undefined ? (['verbose', 'info', 'warning', 'error', 'fatal'] as const)[ORT_LOG] : 'fatal';
import { encodeModel, OnnxDType } from '../graph/onnx-proto.js';
import type { LoweringOptions } from '../graph/lowering.js';
import { nativeBinding, NativeSession, cudaProviderInstalled, type NativeSessionOptions } from './native.js';

export const DEVICES = ['cpu', 'cuda', 'webgpu', 'dml', 'coreml'] as const;
export type Device = (typeof DEVICES)[number];
export type DeviceRequest = Device | 'auto';

/** Fastest first: what `auto` tries. */
const AUTO_ORDER: Device[] = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'];

/** `binding` says which binding ran the probe when it is not onnxruntime-node's; `note` what a user
 *  should know about a working device (where its state lives). */
export interface DeviceStatus { device: Device; available: boolean; reason?: string; binding?: Binding; note?: string }

export function isDeviceRequest(s: string): s is DeviceRequest {
  return s === 'auto' || (DEVICES as readonly string[]).includes(s);
}

/** How sessions on a device are run: onnxruntime-node's binding, or the engine's own (engine/runtime/
 *  native.ts), which binds outputs to ORT-owned memory and hands them back as handles. CPU uses the
 *  native binding too where it is built: weights, optimizer moments and KV caches then stay in ORT's
 *  memory between runs instead of being copied into a fresh JS ArrayBuffer on every run, which was most
 *  of a small model's step (docs/engine.md § CPU outputs stay in ONNX Runtime's memory (2026-12-07, issue 13)).
 *  RRLHF_BINDING=onnxruntime-node (or =native) picks one for CPU sessions explicitly. */
export type Binding = 'onnxruntime-node' | 'native';
let nativeCudaFailed: string | undefined; // why the native binding's CUDA probe failed, if it did
export function bindingFor(d: Device): Binding {
  if (d === 'cuda' && nativeBinding().addon && nativeCudaFailed === undefined) return 'native';
  if (d === 'cpu' && process.env.RRLHF_BINDING !== 'onnxruntime-node' && nativeBinding().addon) return 'native';
  return 'onnxruntime-node';
}

/** Whether outputs can stay on the device between runs: WebGPU through onnxruntime-node's gpu-buffer
 *  IO binding, CUDA through the native binding. onnxruntime-node's own CUDA path (used only when the
 *  native binding is not built) cannot bind device outputs ("Failed to find allocator for device …
 *  DeviceType:1"), so there state round-trips through host memory. */
export const keepsOutputs = (d: Device, binding: Binding) => binding === 'native' || d === 'webgpu';
export const keepsOutputsOnDevice = (d: Device) => keepsOutputs(d, bindingFor(d));

/** How graphs are written for a provider and binding (engine/graph/lowering.ts): WebGPU has no
 *  LogSoftmax kernel in ORT 1.29–1.30 (profiled on an H100: it ran on the CPU with the logits copied both
 *  ways); the native binding's CPU sessions have the engine's fused AdamW (RRLHF_FUSED_ADAMW=0: not used)
 *  and, for a decode graph, its decode MatMul (RRLHF_DECODE_MATMUL=0: not used). */
export function loweringFor(d: Device, binding: Binding = bindingFor(d), graph: { decode?: boolean } = {}): LoweringOptions {
  const ownKernels = d === 'cpu' && binding === 'native';
  return {
    ...(ownKernels && process.env.RRLHF_FUSED_ADAMW !== '0' ? { fusedAdamW: true } : {}),
    ...(ownKernels && graph.decode && process.env.RRLHF_DECODE_MATMUL !== '0' ? { decodeMatMul: true } : {}),
    ...(d === 'webgpu' || process.env.RRLHF_DECOMPOSE_LOGSOFTMAX === '1' ? { decomposeLogSoftmax: true } : {}),
    ...(d === 'webgpu' || process.env.RRLHF_DECOMPOSE_RMSNORM === '1' ? { decomposeRmsNorm: true } : {}),
  };
}

/** ORT's memory pattern plans one block for a run's intermediates; on CPU that block is reserved from the
 *  system allocator on each run and released after it (it bypasses the arena), so a training step writes
 *  hundreds of MB of fresh pages, each a page fault (LM train step, 6L d384, batch 8: ~18k faults per
 *  step fewer without it, docs/engine.md § Measured performance (November 2026) and what it means). Without the pattern each intermediate
 *  comes from the arena, which keeps its memory between runs. GPU providers keep it (not measured there). */
export const memPatternOn = (d: Device) => d !== 'cpu';

/** Options for a native-binding session, mirroring sessionOptions() below. */
export function nativeSessionOptions(device: Device, opts: { float64?: boolean; threads?: number } = {}): NativeSessionOptions {
  if (device !== 'cpu' && device !== 'cuda') throw new Error(`the native binding runs cpu and cuda, not ${device}`);
  const configs: [string, string][] = [];
  if (opts.float64) configs.push(['optimization.disable_specified_optimizers', 'QuickGeluFusion']);
  if (process.env.RRLHF_SPIN === '0') configs.push(['session.intra_op.allow_spinning', '0']);
  const threads = process.env.RRLHF_THREADS ? Number(process.env.RRLHF_THREADS) : opts.threads;
  return {
    provider: device,
    configs,
    // TF32 off unless asked for (see the NVIDIA_TF32_OVERRIDE note below); this binding can say so directly.
    ...(device === 'cuda' ? { providerOptions: [['use_tf32', process.env.RRLHF_TF32 === '1' ? '1' : '0']] as [string, string][] } : {}),
    ...(threads ? { threads } : {}),
    ...(memPatternOn(device) ? {} : { memPattern: 0 as const }),
    ...(process.env.RRLHF_ORT_PROFILE ? { profilePrefix: process.env.RRLHF_ORT_PROFILE } : {}),
    ...(ORT_LOG !== undefined ? { logLevel: ORT_LOG } : {}),
  };
}

/** ORT session options for a device (onnxruntime-node binding). */
export function sessionOptions(device: Device, opts: { float64?: boolean; keepOnDevice?: string[]; threads?: number } = {}): ort.InferenceSession.SessionOptions {
  return {
    // On GPU providers the named outputs (weights, optimizer state, KV caches) stay in device memory
    // and are fed back as they are; everything else (losses, metrics, logits) comes back to the host.
    ...(keepsOutputs(device, 'onnxruntime-node') && opts.keepOnDevice?.length
      ? { preferredOutputLocation: Object.fromEntries(opts.keepOnDevice.map((n) => [n, 'gpu-buffer'])) as Record<string, 'gpu-buffer'> }
      : {}),
    // ORT's QuickGeluFusion rewrites x·sigmoid(x) into a float32-only kernel; float64 graphs (gradient
    // checks) must skip it or they fail to load.
    extra: {
      ...(opts.float64 ? { optimization: { disable_specified_optimizers: 'QuickGeluFusion' } } : {}),
      ...(process.env.RRLHF_SPIN === '0' ? { session: { 'intra_op.allow_spinning': '0' } } : {}),
    },
    executionProviders: [device],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    enableMemPattern: memPatternOn(device),
    // Intra-op threads: RRLHF_THREADS if set, else what the caller chose (small graphs run faster on
    // one thread: a parallel kernel on a tiny tensor costs more in thread wake-ups than it saves),
    // else ORT's default of one per core.
    ...(process.env.RRLHF_THREADS ? { intraOpNumThreads: Number(process.env.RRLHF_THREADS) } : opts.threads ? { intraOpNumThreads: opts.threads } : {}),
    logSeverityLevel: ORT_LOG ?? 3,
    // RRLHF_ORT_PROFILE=prefix writes ORT's per-node timing trace (chrome://tracing JSON) for each session.
    ...(process.env.RRLHF_ORT_PROFILE ? { enableProfiling: true, profileFilePrefix: process.env.RRLHF_ORT_PROFILE } : {}),
  };
}

// CUDA matmuls default to TF32 on Ampere and newer (10 mantissa bits): logits then differ from float32
// by ~1e-2, and PyTorch eager (our baseline) keeps TF32 off for matmuls. ORT's Node binding passes no
// CUDA provider options, so switch TF32 off through cuBLAS's own override before the provider loads,
// unless RRLHF_TF32=1 asks for the faster, less exact path.
if (process.env.RRLHF_TF32 !== '1' && process.env.NVIDIA_TF32_OVERRIDE === undefined) process.env.NVIDIA_TF32_OVERRIDE = '0';

let probeModel: Uint8Array | undefined;
function tinyModel(): Uint8Array {
  probeModel ??= encodeModel({
    irVersion: 8, producer: 'rrlhf-probe', opsets: [{ domain: '', version: 18 }],
    graph: {
      name: 'probe', initializers: [],
      nodes: [{ opType: 'Add', inputs: ['x', 'x'], outputs: ['y'], attrs: {} }],
      inputs: [{ name: 'x', elemType: OnnxDType.float32, dims: [2] }],
      outputs: [{ name: 'y', elemType: OnnxDType.float32, dims: [2] }],
    },
  });
  return probeModel;
}

const probes = new Map<Device, Promise<DeviceStatus>>();

/** Whether a device initialises here (cached per process). */
export function probeDevice(device: Device): Promise<DeviceStatus> {
  let p = probes.get(device);
  if (!p) {
    p = (async (): Promise<DeviceStatus> => {
      if (device !== 'cpu' && bindingFor(device) === 'native') {
        if (device === 'cuda' && !cudaProviderInstalled()) return { device, available: false, reason: 'ONNX Runtime\'s CUDA provider is not installed (install it: see README, "GPU")' };
        try {
          // The probe keeps its output on the device and feeds it to a run whose output comes back to
          // the host: the paths that device-resident training and its downloads depend on.
          const keep = await NativeSession.create(tinyModel(), nativeSessionOptions(device), ['y'], ['y']);
          const back = await NativeSession.create(tinyModel(), nativeSessionOptions(device), ['y']);
          const first = await keep.run({ x: new ort.Tensor('float32', new Float32Array([1, 2]), [2]) });
          const y = (await back.run({ x: first.y! })).y!.data as Float32Array;
          first.y!.dispose();
          await keep.release(); await back.release();
          if (y[0] !== 4 || y[1] !== 8) return { device, available: false, reason: `${device} computed a wrong result on a probe` };
          return { device, available: true, binding: 'native', note: `weights, optimizer state and KV caches stay in GPU memory (the engine's ONNX Runtime ${nativeBinding().version} binding)` };
        } catch (err) {
          // Fall back to onnxruntime-node's own provider (state then crosses to the host each run).
          nativeCudaFailed = (err as Error).message.split('\n')[0]!.slice(0, 300);
        }
      }
      const backends = ort.listSupportedBackends().map((b) => b.name);
      if (device !== 'cpu' && !backends.includes(device)) {
        if (device === 'cuda' && nativeCudaFailed) return { device, available: false, reason: `cuda did not initialise: ${nativeCudaFailed}` };
        const hint = device === 'cuda' ? ' (install the CUDA provider: see README, "GPU")' : '';
        return { device, available: false, reason: `this onnxruntime-node build has no ${device} provider on ${process.platform}/${process.arch}${hint}` };
      }
      try {
        const s = await ort.InferenceSession.create(tinyModel(), sessionOptions(device));
        const out = await s.run({ x: new ort.Tensor('float32', new Float32Array([1, 2]), [2]) });
        const y = out.y!.data as Float32Array;
        await s.release();
        if (y[0] !== 2 || y[1] !== 4) return { device, available: false, reason: `${device} computed a wrong result on a probe` };
        if (device === 'cuda') return { device, available: true, note: `slower: state is copied between host and GPU on every run (${nativeCudaFailed ? `the native binding failed: ${nativeCudaFailed}` : nativeBinding().reason})` };
        if (device === 'webgpu') return { device, available: true, note: 'weights, optimizer state and KV caches stay in GPU memory' };
        return { device, available: true };
      } catch (err) {
        return { device, available: false, reason: `${device} did not initialise: ${initFailure((err as Error).message)}` };
      }
    })();
    probes.set(device, p);
  }
  return p;
}

export interface ResolvedDevice { device: Device; tried: DeviceStatus[] }

/** Resolves a request to a working device. `auto` falls back to CPU with the reasons recorded;
 *  a named device that does not work is an error naming the reason. */
export async function resolveDevice(req: DeviceRequest = 'cpu'): Promise<ResolvedDevice> {
  if (req !== 'auto') {
    const st = await probeDevice(req);
    if (!st.available) throw new Error(`device "${req}" is unavailable: ${st.reason}. Use --device cpu or --device auto.`);
    return { device: req, tried: [st] };
  }
  const tried: DeviceStatus[] = [];
  for (const d of AUTO_ORDER) {
    const st = await probeDevice(d);
    tried.push(st);
    if (st.available) return { device: d, tried };
  }
  throw new Error(`no device initialised: ${tried.map((t) => t.reason).join('; ')}`);
}

/** One line for a run's record: the device used, how its state is kept, and (for `auto`) why faster
 *  devices were passed over. */
export function describeResolution(req: DeviceRequest, r: ResolvedDevice): string {
  const used = r.tried.find((t) => t.device === r.device);
  const skipped = r.tried.filter((t) => !t.available).map((t) => `${t.device}: ${t.reason}`);
  return [
    req === 'auto' ? `auto chose ${r.device}` : r.device,
    used?.note ? ` (${used.note})` : '',
    skipped.length ? `; not used: ${skipped.join('; ')}` : '',
  ].join('');
}

/** How much memory a device has for a study's plan (docs/engine.md § Memory plan). The CPU's is the
 *  operating system's free memory (Linux's MemAvailable; on macOS the total); no provider here reports a GPU's, so a
 *  GPU plan is shown but not checked. RRLHF_MEMORY_MB sets the memory a study may use on its device
 *  instead (a GPU's size, or a share of a machine used by others). */
export interface DeviceMemory { device: Device; kind: 'cpu' | 'gpu'; totalBytes: number | null; availableBytes: number | null; source: string }

export function deviceMemory(device: Device): DeviceMemory {
  const kind = device === 'cpu' ? 'cpu' : 'gpu';
  const limit = process.env.RRLHF_MEMORY_MB;
  if (limit !== undefined && limit !== '') {
    const mb = Number(limit);
    if (!(mb > 0)) throw new Error(`RRLHF_MEMORY_MB must be a positive number of MiB, got "${limit}"`);
    return { device, kind, totalBytes: mb * 2 ** 20, availableBytes: mb * 2 ** 20, source: 'RRLHF_MEMORY_MB' };
  }
  if (kind === 'cpu') {
    // macOS counts as free only pages no one holds, not the cache it reclaims on demand, so a busy Mac
    // reports a few hundred MB free with gigabytes usable: there the check is against the total.
    if (process.platform === 'darwin') return { device, kind, totalBytes: os.totalmem(), availableBytes: os.totalmem(), source: 'total memory (macOS does not report the memory it can reclaim as free)' };
    return { device, kind, totalBytes: os.totalmem(), availableBytes: os.freemem(), source: 'free memory reported by the operating system' };
  }
  return { device, kind, totalBytes: null, availableBytes: null, source: `the ${device} provider reports no memory size, so the plan is not checked (set RRLHF_MEMORY_MB to the GPU's memory to check it)` };
}

export async function listDevices(): Promise<DeviceStatus[]> {
  return Promise.all(DEVICES.map((d) => probeDevice(d)));
}

/**
 * ORT's initialisation errors as a person can read them: without the C++ source location and
 * assertion text in front ("…/webgpu_context.cc:136 …::<lambda()> x == y was false. "), cut at a word
 * boundary, and with what to do for the common WebGPU case.
 */
export function initFailure(message: string): string {
  let msg = message.split('\n')[0]!.trim();
  const asserted = msg.lastIndexOf(' was false. ');
  const status = /\[ONNXRuntimeError\] : \d+ : \w+ : (.+)$/.exec(msg);
  if (asserted >= 0) msg = msg.slice(asserted + ' was false. '.length);
  else if (status) msg = status[1]!;
  else msg = msg.replace(/^\S+\.(?:cc|cpp|h):\d+ \S+(?:\([^)]*\))* /, '');
  if (/WebGPU adapter/i.test(msg)) msg = `${msg.replace(/\.?$/, '')}. WebGPU needs a GPU driver it can use: Vulkan on Linux, Direct3D 12 on Windows, Metal on macOS`;
  return msg.length <= 300 ? msg : `${msg.slice(0, msg.lastIndexOf(' ', 297))}…`;
}
