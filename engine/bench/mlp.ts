// The MLP train-step benchmark: Linear(D,H) → ReLU → Linear(H,D), MSE loss, Adam, one graph per step.
// test/reference/bench_mlp.py runs the identical step in PyTorch for comparison (npm run bench).

import { F } from '../graph/index.js';
import { ParamStore, Rng } from '../runtime/params.js';
import { Trainer } from '../runtime/optim.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { f32 } from '../runtime/session.js';

export interface MlpBenchConfig { batch: number; in: number; hidden: number; steps: number; warmup?: number; device?: DeviceRequest }

export async function benchMlp(cfg: MlpBenchConfig, progress?: (done: number, total: number) => void) {
  const { batch: B, in: D, hidden: H, steps } = cfg;
  const rng = new Rng(0);
  const params = new ParamStore();
  params.add('fc1.weight', [D, H], { kind: 'kaiming_uniform', fanIn: D }, rng);
  params.add('fc1.bias', [H], { kind: 'kaiming_uniform', fanIn: D }, rng);
  params.add('fc2.weight', [H, D], { kind: 'kaiming_uniform', fanIn: H }, rng);
  params.add('fc2.bias', [D], { kind: 'kaiming_uniform', fanIn: H }, rng);
  const trainer = await Trainer.create({
    name: 'mlp', params, device: cfg.device ?? 'cpu', optimizer: { lr: 1e-3, weightDecay: 0 },
    build: (g, p) => {
      const x = g.input('x', 'float32', [B, D]);
      const y = g.input('y', 'float32', [B, D]);
      const h = F.relu(F.linear(x, p['fc1.weight']!, p['fc1.bias']!));
      const out = F.linear(h, p['fc2.weight']!, p['fc2.bias']!);
      const d = F.sub(out, y);
      return { loss: F.mean(F.mul(d, d)) };
    },
  });
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const batch = { x: f32(rand(B * D), [B, D]), y: f32(rand(B * D), [B, D]) };
  const warmup = cfg.warmup ?? 5;
  for (let i = 0; i < warmup; i++) await trainer.run(batch);
  const t0 = process.hrtime.bigint();
  let loss = 0;
  for (let i = 0; i < steps; i++) {
    loss = (await trainer.run(batch)).loss;
    progress?.(i + 1, steps);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / steps;
  const flops = 3 * 2 * B * (D * H + H * D); // forward matmuls ×3 for forward + backward
  return {
    name: 'mlp', impl: 'rrlhf-engine', device: trainer.spec.device ?? 'cpu',
    config: { batch: B, in: D, hidden: H, steps },
    ms_per_step: ms, gflops: flops / (ms / 1e3) / 1e9, final_loss: loss,
  };
}
