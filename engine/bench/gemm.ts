// The GEMM probe `npm run bench` prints next to its table: one large fp32 MatMul in an ORT session made
// the way the engine makes every CPU session (engine/runtime/session.ts), so "share of GEMM" below says
// how close a benchmark row comes to what this machine's ORT matmul kernel does on one big product.

import { Graph, F } from '../graph/index.js';
import { compile, f32 } from '../runtime/session.js';
import { Rng } from '../runtime/params.js';
import { type DeviceRequest } from '../runtime/devices.js';

/** Median GFLOP/s of an [n, n] @ [n, n] product (2n³ FLOPs) over `reps` runs after one warm-up. */
export async function benchGemm(o: { n?: number; reps?: number; device?: DeviceRequest } = {}) {
  const n = o.n ?? 1024, reps = o.reps ?? 15;
  const g = new Graph('gemm');
  g.output('c', F.matmul(g.input('a', 'float32', [n, n]), g.input('b', 'float32', [n, n])));
  const cg = await compile(g, { device: o.device ?? 'cpu' });
  const rng = new Rng(0);
  const feeds = { a: f32(Float32Array.from({ length: n * n }, () => rng.normal()), [n, n]), b: f32(Float32Array.from({ length: n * n }, () => rng.normal()), [n, n]) };
  await cg.run(feeds);
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    await cg.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  const median = ms[Math.floor(ms.length / 2)]!;
  return { name: 'gemm', impl: 'onnxruntime', n, ms_median: median, gflops: (2 * n ** 3) / (median / 1e3) / 1e9 };
}
