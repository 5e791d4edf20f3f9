// End-to-end checks of the engine: traced models, autodiff and in-graph AdamW learn tiny datasets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Graph, type Tensor, F } from '../../engine/graph/index.js';
import { ParamStore, Rng } from '../../engine/runtime/params.js';
import { Trainer } from '../../engine/runtime/optim.js';
import { compile, f32, i64 } from '../../engine/runtime/session.js';

test('an MLP overfits a tiny classification set', async () => {
  const rng = new Rng(11);
  const N = 16, D = 6, H = 32, C = 3;
  const X = Array.from({ length: N * D }, () => rng.normal());
  const labels = Array.from({ length: N }, () => rng.int(C));
  const store = new ParamStore();
  store.add('fc1.weight', [D, H], { kind: 'kaiming_uniform', fanIn: D }, rng);
  store.add('fc1.bias', [H], { kind: 'zeros' }, rng);
  store.add('fc2.weight', [H, C], { kind: 'kaiming_uniform', fanIn: H }, rng);
  store.add('fc2.bias', [C], { kind: 'zeros' }, rng);
  const t = await Trainer.create({
    params: store, optimizer: { lr: 0.02 },
    build: (g, p) => {
      const x = g.input('x', 'float32', ['N', D]);
      const y = g.input('y', 'int64', ['N']);
      const logits = F.linear(F.gelu(F.linear(x, p['fc1.weight']!, p['fc1.bias']!), 'tanh'), p['fc2.weight']!, p['fc2.bias']!);
      const nll = F.neg(F.mean(F.squeeze(F.takeAlongAxis(F.logSoftmax(logits, -1), F.unsqueeze(y, -1), -1), -1)));
      const acc = F.mean(F.cast(F.equal(F.cast(F.argmax(logits, -1), 'int64'), y), 'float32'));
      return { loss: nll, metrics: { accuracy: acc } };
    },
  });
  const batch = { x: f32(X, [N, D]), y: i64(labels, [N]) };
  const first = await t.run(batch);
  let last = first;
  for (let i = 0; i < 300; i++) last = await t.run(batch);
  assert.ok(last.loss < 0.02 * first.loss, `loss ${first.loss} → ${last.loss}`);
  assert.equal(last.metrics.accuracy, 1);
});

/** One pre-LN transformer block with causal self-attention, as in GPT-2, with symbolic B and T. */
function tinyGpt(g: Graph, p: Record<string, Tensor>, ids: Tensor, cfg: { d: number; heads: number; vocab: number }) {
  const { d, heads } = cfg;
  const dh = d / heads;
  const [B, T] = ids.shape as [string, string];
  const pos = F.range(g, T);
  let h = F.add(F.embedding(p['wte']!, ids), F.embedding(p['wpe']!, pos));
  const a = F.layerNorm(h, p['ln1.weight']!, p['ln1.bias']!);
  const [q, k, v] = F.split(F.linear(a, p['attn.c_attn.weight']!, p['attn.c_attn.bias']!), [d, d, d], -1).map(
    (x) => F.transpose(F.reshape(x, [B, T, heads, dh]), [0, 2, 1, 3]),
  ) as [Tensor, Tensor, Tensor];
  const scores = F.mul(F.matmul(q, F.mT(k)), 1 / Math.sqrt(dh));
  const masked = F.where(F.causalMask(g, T), scores, -1e9);
  const att = F.matmul(F.softmax(masked, -1), v);
  const merged = F.reshape(F.transpose(att, [0, 2, 1, 3]), [B, T, d]);
  h = F.add(h, F.linear(merged, p['attn.c_proj.weight']!, p['attn.c_proj.bias']!));
  const m = F.layerNorm(h, p['ln2.weight']!, p['ln2.bias']!);
  h = F.add(h, F.linear(F.gelu(F.linear(m, p['mlp.c_fc.weight']!, p['mlp.c_fc.bias']!), 'tanh'), p['mlp.c_proj.weight']!, p['mlp.c_proj.bias']!));
  const out = F.layerNorm(h, p['ln_f.weight']!, p['ln_f.bias']!);
  return F.matmul(out, F.mT(p['wte']!)); // tied LM head
}

test('a one-block transformer overfits a tiny sequence set (symbolic batch and length)', async () => {
  const rng = new Rng(5);
  const cfg = { d: 32, heads: 2, vocab: 12 };
  const store = new ParamStore();
  const n = (name: string, shape: number[]) => store.add(name, shape, { kind: 'normal', std: 0.1 }, rng);
  const z = (name: string, shape: number[]) => store.add(name, shape, { kind: 'zeros' }, rng);
  const o = (name: string, shape: number[]) => store.add(name, shape, { kind: 'ones' }, rng);
  n('wte', [cfg.vocab, cfg.d]); n('wpe', [16, cfg.d]);
  o('ln1.weight', [cfg.d]); z('ln1.bias', [cfg.d]);
  n('attn.c_attn.weight', [cfg.d, 3 * cfg.d]); z('attn.c_attn.bias', [3 * cfg.d]);
  n('attn.c_proj.weight', [cfg.d, cfg.d]); z('attn.c_proj.bias', [cfg.d]);
  o('ln2.weight', [cfg.d]); z('ln2.bias', [cfg.d]);
  n('mlp.c_fc.weight', [cfg.d, 4 * cfg.d]); z('mlp.c_fc.bias', [4 * cfg.d]);
  n('mlp.c_proj.weight', [4 * cfg.d, cfg.d]); z('mlp.c_proj.bias', [cfg.d]);
  o('ln_f.weight', [cfg.d]); z('ln_f.bias', [cfg.d]);

  // Four sequences of 8 tokens; each continues deterministically from its first token.
  const seqs = [[1, 3, 5, 7, 9, 11, 2, 4], [2, 4, 6, 8, 10, 1, 3, 5], [3, 6, 9, 1, 4, 7, 10, 2], [4, 8, 1, 5, 9, 2, 6, 10]];
  const lmLoss = (g: Graph, p: Record<string, Tensor>) => {
    const ids = g.input('ids', 'int64', ['B', 'T']);
    const logits = tinyGpt(g, p, ids, cfg);
    const logp = F.logSoftmax(F.slice(logits, 1, 0, -1), -1);          // predictions for positions 0..T-2
    const targets = F.unsqueeze(F.slice(ids, 1, 1, null), -1);          // tokens 1..T-1
    return F.neg(F.mean(F.takeAlongAxis(logp, targets, -1)));
  };
  const t = await Trainer.create({ params: store, optimizer: { lr: 1e-2, weightDecay: 0.0, maxGradNorm: 1.0 }, build: (g, p) => ({ loss: lmLoss(g, p) }) });
  const batch = { ids: i64(seqs.flat(), [4, 8]) };
  const first = await t.run(batch);
  assert.ok(first.loss > Math.log(cfg.vocab) - 0.2 && first.loss < Math.log(cfg.vocab) + 0.6, `initial loss ${first.loss} should be near ln V = ${Math.log(cfg.vocab)}`);
  let last = first;
  for (let i = 0; i < 150; i++) last = await t.run(batch);
  assert.ok(last.loss < 0.05, `loss ${first.loss} → ${last.loss}`);

  // The same trained weights, evaluated on a different batch size and length without recompiling
  // anything by hand: symbolic dims at work. Greedy next tokens reproduce the memorised sequences.
  const { Graph: G } = await import('../../engine/graph/index.js');
  const g = new G('eval');
  const p: Record<string, Tensor> = {};
  await store.sync();
  for (const [name, prm] of store.entries()) p[name] = g.param(name, prm.shape);
  const ids = g.input('ids', 'int64', ['B', 'T']);
  g.output('next', F.argmax(tinyGpt(g, p, ids, cfg), -1));
  const c = await compile(g);
  const feeds: Record<string, ReturnType<typeof f32>> = {};
  for (const [name, prm] of store.entries()) feeds[name] = f32(prm.data, prm.shape);
  const r = await c.run({ ...feeds, ids: i64([...seqs[1]!.slice(0, 5), ...seqs[3]!.slice(0, 5)], [2, 5]) });
  const next = Array.from(r.next!.data as BigInt64Array, Number);
  assert.deepEqual(next.slice(0, 4), seqs[1]!.slice(1, 5));
  assert.deepEqual(next.slice(5, 9), seqs[3]!.slice(1, 5));
});
