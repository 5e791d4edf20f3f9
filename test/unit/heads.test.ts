import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../../engine/graph/index.js';
import { compile, f32, i64 } from '../../engine/runtime/session.js';
import { ParamStore, Rng } from '../../engine/runtime/params.js';
import { poolLast, brmeHead, brmeHeadParams, valueHead, valueHeadParams, rewardHead, rewardHeadParams } from '../../engine/models/heads.js';

const B = 3, T = 4, d = 2;
// hidden[b, t] = [10b + t, −(10b + t)]
const hidden = Array.from({ length: B * T * d }, (_, i) => { const b = Math.floor(i / (T * d)), t = Math.floor(i / d) % T; return (i % 2 ? -1 : 1) * (10 * b + t); });

test('poolLast picks the last real token with left padding, right padding and none', async () => {
  const g = new Graph('pool');
  const h = g.input('h', 'float32', ['B', 'T', d]);
  const m = g.input('m', 'int64', ['B', 'T']);
  g.output('pooled', poolLast(g, h, m));
  const c = await compile(g);
  const r = await c.run({ h: f32(hidden, [B, T, d]), m: i64([0, 0, 1, 1, /* left */ 1, 1, 0, 0, /* right */ 1, 1, 1, 1], [B, T]) });
  assert.deepEqual(Array.from(r.pooled!.data as Float32Array), [3, -3, 11, -11, 23, -23]);
});

test('heads: shapes, σ = exp(s/τ) > 0, and the values follow the parameters', async () => {
  const rng = new Rng(1);
  const store = new ParamStore();
  const cfg = { heads: 5, width: 3, tau: 10, activation: 'none' as const };
  for (const s of [...brmeHeadParams(d, cfg), ...valueHeadParams(d), ...rewardHeadParams(d)]) store.add(s.name, s.shape, s.init, rng);
  const g = new Graph('heads');
  const p: Record<string, ReturnType<Graph['param']>> = {};
  for (const [n, prm] of store.entries()) p[n] = g.param(n, prm.shape);
  const h = g.input('h', 'float32', ['B', 'T', d]);
  const m = g.input('m', 'int64', ['B', 'T']);
  const { mu, sigma, logStd } = brmeHead(g, p, h, m, cfg);
  g.output('mu', mu); g.output('sigma', sigma); g.output('log_std', logStd);
  g.output('values', valueHead(p, h));
  g.output('reward', rewardHead(g, p, h, m));
  const c = await compile(g);
  const feeds: Record<string, ReturnType<typeof f32>> = {};
  for (const [n, prm] of store.entries()) feeds[n] = f32(prm.data, prm.shape);
  const r = await c.run({ ...feeds, h: f32(hidden, [B, T, d]), m: i64(Array(B * T).fill(1), [B, T]) });
  assert.deepEqual(r.mu!.shape, [B, 5]);
  assert.deepEqual(r.values!.shape, [B, T]);
  assert.deepEqual(r.reward!.shape, [B]);
  const sig = r.sigma!.data as Float32Array, ls = r.log_std!.data as Float32Array;
  sig.forEach((s, i) => assert.ok(Math.abs(s - Math.exp(ls[i]!)) < 1e-5 && s > 0));
  // Reference in JS for row 0 (pooled at t = 3: [3, −3]).
  const W = (n: string) => store.get(n).data;
  const x = [3, -3];
  const shared = [0, 1, 2].map((j) => W('brme.shared.weight')[j * d]! * x[0]! + W('brme.shared.weight')[j * d + 1]! * x[1]! + W('brme.shared.bias')[j]!);
  for (let k = 0; k < 5; k++) {
    let v = W('brme.mu.bias')[k]!;
    for (let j = 0; j < 3; j++) v += W('brme.mu.weight')[k * 3 + j]! * shared[j]!;
    assert.ok(Math.abs(v - (r.mu!.data as Float32Array)[k]!) < 1e-4, `mu[0,${k}]`);
  }
  const reward0 = W('score.weight')[0]! * 3 + W('score.weight')[1]! * -3;
  assert.ok(Math.abs(reward0 - (r.reward!.data as Float32Array)[0]!) < 1e-4);
});
