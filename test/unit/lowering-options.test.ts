// Provider-specific lowerings write the same math differently (engine/graph/lowering.ts); they must
// agree with ONNX's own kernels, including at extreme logits where a naive log(softmax) would fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, F, emitOnnx } from '../../engine/graph/index.js';
import { compile } from '../../engine/runtime/session.js';
import { Rng } from '../../engine/runtime/params.js';

function build(dtype: 'float32' | 'float64') {
  const g = new Graph(`lsm_${dtype}`);
  const x = g.input('x', dtype, ['N', 7]);
  const labels = g.input('labels', 'int64', ['N']);
  g.output('logp', F.logSoftmax(x, -1));
  g.output('logp0', F.logSoftmax(x, 0));
  g.output('nll', F.softmaxCrossEntropy(x, labels));
  return g;
}

for (const dtype of ['float32', 'float64'] as const) {
  test(`decomposed log_softmax and cross-entropy equal ONNX's LogSoftmax (${dtype}, extreme logits)`, async () => {
    const rng = new Rng(3);
    const N = 5;
    const vals = Array.from({ length: N * 7 }, (_, i) => (i % 11 === 0 ? 1e4 : i % 13 === 0 ? -1e4 : rng.normal() * 20));
    const data = dtype === 'float64' ? Float64Array.from(vals) : Float32Array.from(vals);
    const feeds = { x: { dtype, shape: [N, 7], data }, labels: { dtype: 'int64' as const, shape: [N], data: BigInt64Array.from([0n, 3n, 6n, 2n, 1n]) } };
    const text = (o: { decomposeLogSoftmax?: boolean }) => Buffer.from(emitOnnx(build(dtype), undefined, o).bytes).toString('latin1');
    assert.ok(text({}).includes('LogSoftmax') && !text({}).includes('ReduceMax'));
    assert.ok(!text({ decomposeLogSoftmax: true }).includes('LogSoftmax') && text({ decomposeLogSoftmax: true }).includes('ReduceMax'));
    const native = await (await compile(build(dtype))).run(feeds);
    process.env.RRLHF_DECOMPOSE_LOGSOFTMAX = '1';
    let decomposed;
    try { decomposed = await (await compile(build(dtype))).run(feeds); } finally { delete process.env.RRLHF_DECOMPOSE_LOGSOFTMAX; }
    const tol = dtype === 'float64' ? 1e-12 : 1e-5;
    for (const k of ['logp', 'logp0', 'nll']) {
      const a = native[k]!.data as Float32Array, b = decomposed[k]!.data as Float32Array;
      assert.equal(a.length, b.length);
      a.forEach((v, i) => {
        assert.ok(Number.isFinite(b[i]!), `${k}[${i}] is finite`);
        assert.ok(Math.abs(v - b[i]!) <= tol * Math.max(1, Math.abs(v)), `${k}[${i}]: ${v} vs ${b[i]}`);
      });
    }
  });
}

// rms_norm: SimplifiedLayerNormalization's y and 1/rms output (CPU, CUDA), or reductions
// (decomposeRmsNorm, WebGPU): the same values and gradients.
test('decomposed rms_norm equals SimplifiedLayerNormalization (float32, values and gradients)', async () => {
  const { grad } = await import('../../engine/autodiff/grad.js');
  const rng = new Rng(5);
  const build = () => {
    const g = new Graph('rms');
    const x = g.input('x', 'float32', ['N', 6]), w = g.input('w', 'float32', [6]);
    const y = F.rmsNorm(x, w, 1e-5);
    g.output('y', y);
    const [gx, gw] = grad(F.sum(F.mul(y, y)), [x, w]);
    g.output('gx', gx!); g.output('gw', gw!);
    return g;
  };
  const text = (o: { decomposeRmsNorm?: boolean }) => Buffer.from(emitOnnx(build(), undefined, o).bytes).toString('latin1');
  assert.ok(text({}).includes('SimplifiedLayerNormalization'));
  assert.ok(!text({ decomposeRmsNorm: true }).includes('SimplifiedLayerNormalization'));
  const feeds = {
    x: { dtype: 'float32' as const, shape: [4, 6], data: Float32Array.from({ length: 24 }, () => rng.normal() * 3) },
    w: { dtype: 'float32' as const, shape: [6], data: Float32Array.from({ length: 6 }, () => 1 + rng.normal() * 0.2) },
  };
  const fused = await (await compile(build())).run(feeds);
  process.env.RRLHF_DECOMPOSE_RMSNORM = '1';
  let decomposed;
  try { decomposed = await (await compile(build())).run(feeds); } finally { delete process.env.RRLHF_DECOMPOSE_RMSNORM; }
  for (const k of ['y', 'gx', 'gw']) {
    const a = fused[k]!.data as Float32Array, b = decomposed[k]!.data as Float32Array;
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= 1e-5 * Math.max(1, Math.abs(v)), `${k}[${i}]: ${v} vs ${b[i]}`));
  }
});

// The float32 lowering uses the fused kernels (engine/graph/ops/fused.ts, nn.ts); float64 spells them out.
test('float32 gelu / layer_norm lower to ORT FastGelu, BiasGelu, LayerNormalization with its statistics', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    const g = new Graph('fused');
    const x = g.input('x', dtype, ['N', 4]), w = g.input('w', dtype, [4]), b = g.input('b', dtype, [4]);
    g.output('t', F.gelu(x, 'tanh', b));
    g.output('e', F.gelu(x, 'erf', b));
    g.output('n', F.layerNorm(x, w, b));
    const text = Buffer.from(emitOnnx(g).bytes).toString('latin1');
    for (const op of ['FastGelu', 'BiasGelu', 'com.microsoft', 'LayerNormalization']) {
      assert.equal(text.includes(op), dtype === 'float32' || op === 'BiasGelu' || op === 'com.microsoft', `${dtype}: ${op}`);
    }
  }
});
