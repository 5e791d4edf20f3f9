// DecodeMatMul / DecodeMatMulNT (native/matmul_op.c): the native binding's kernels for the few rows of a
// decode step. They sum in another order than ORT's MatMul, so they are checked against float64 sums with
// a float32 rounding bound, over shapes that reach every tail of the vector code; and generation through
// them must pick the tokens, and report the log-probs, that generation through ORT's MatMul does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ADDON_PATH } from '../../engine/runtime/native.js';
import { Graph, F } from '../../engine/graph/index.js';
import { compile, f32 } from '../../engine/runtime/session.js';
import { emitOnnx } from '../../engine/graph/lowering.js';
import { loweringFor } from '../../engine/runtime/devices.js';
import { Rng } from '../../engine/runtime/params.js';
import { CausalLM } from '../../engine/models/model.js';
import { benchConfig } from '../../engine/bench/lm.js';
import { generate } from '../../engine/models/sampler.js';

const skipped = path.join(path.dirname(ADDON_PATH), 'SKIPPED');
const skip = !existsSync(ADDON_PATH) && existsSync(skipped) ? `the native binding was not built here: ${readFileSync(skipped, 'utf8').trim()}` : false;
const text = (g: Graph, decode: boolean) => new TextDecoder().decode(emitOnnx(g, g.outputs, loweringFor('cpu', 'native', { decode })).bytes);

function matmulGraph(K: number, N: number, transposed: boolean) {
  const g = new Graph('decode_matmul');
  const x = g.input('x', 'float32', ['B', 1, K]);
  const w = g.input('w', 'float32', transposed ? [N, K] : [K, N]);
  g.output('y', F.matmul(x, transposed ? F.mT(w) : w));
  return g;
}

for (const transposed of [false, true]) {
  const op = transposed ? 'DecodeMatMulNT' : 'DecodeMatMul';
  test(`${op}: x @ ${transposed ? 'wᵀ' : 'w'} within float32 rounding of the float64 sum, every tail of the vector code included`, { skip }, async () => {
    const lowered = text(matmulGraph(129, 131, transposed), true);
    assert.ok(lowered.includes(op), `a decode graph lowers x @ ${transposed ? 'wᵀ' : 'w'} to ${op}`);
    if (transposed) assert.ok(!lowered.includes('Transpose'), 'w is read in place: the Transpose is dropped as dead');
    assert.ok(!text(matmulGraph(129, 131, transposed), false).includes(op), 'other graphs keep ORT\'s MatMul');
    assert.ok(!text(matmulGraph(16, 64, transposed), true).includes(op), 'weights under 2¹⁴ values keep ORT\'s MatMul');
    // M = 1..9 rows (tiles of 4 and 2 rows and their remainders); K 129 (k past blocks of 16 and of 8);
    // N 131 (columns past panels of 16 and groups of 4); 384 × 1536 a GPT-2 MLP weight, 16 × 1024 the narrowest allowed.
    for (const [K, N] of [[129, 131], [384, 1536], [16, 1024], [1024, 16]] as const) {
      const c = await compile(matmulGraph(K, N, transposed), { binding: 'native', decode: true });
      const rng = new Rng(K * N);
      const w = Float32Array.from({ length: K * N }, () => rng.normal());
      for (const B of [1, 2, 3, 4, 5, 8, 9]) {
        const x = Float32Array.from({ length: B * K }, () => rng.normal());
        const y = (await c.run({ x: f32(x, [B, 1, K]), w: f32(w, transposed ? [N, K] : [K, N]) })).y!;
        assert.deepEqual(y.shape, [B, 1, N]);
        for (let m = 0; m < B; m++) {
          for (let n = 0; n < N; n++) {
            let sum = 0, abs = 0;
            for (let k = 0; k < K; k++) {
              const p = x[m * K + k]! * w[transposed ? n * K + k : k * N + n]!;
              sum += p; abs += Math.abs(p);
            }
            const got = (y.data as Float32Array)[m * N + n]!;
            // A float32 sum of K products is within K·2⁻²⁴·Σ|p| of the exact one.
            assert.ok(Math.abs(got - sum) <= K * 2 ** -24 * abs + 1e-30, `${op} K${K} N${N} B${B} y[${m}, ${n}] = ${got}, float64 sum ${sum}`);
          }
        }
      }
    }
  });
}

for (const arch of ['gpt2', 'llama'] as const) {
  test(`${arch}: generation through the decode kernels picks the tokens generation through ORT's MatMul picks, with the same log-probs to 1e-4`, { skip }, async () => {
    const shape = { arch, layers: 2, d: 128, heads: 4, vocab: 512, ...(arch === 'llama' ? { kvHeads: 2 } : {}) };
    const prompts = [[5, 6, 7], [8, 9], [10, 11, 12, 13], [1], [2, 3]];
    const run = async (kernel: boolean, temperature: number) => {
      const prev = process.env.RRLHF_DECODE_MATMUL;
      process.env.RRLHF_DECODE_MATMUL = kernel ? '1' : '0';
      try {
        const m = CausalLM.init(benchConfig(shape, 64), 3, 'cpu');
        return await generate(m, prompts, { maxNewTokens: 12, temperature, seed: 4, stopAtEos: false });
      } finally { if (prev === undefined) delete process.env.RRLHF_DECODE_MATMUL; else process.env.RRLHF_DECODE_MATMUL = prev; }
    };
    for (const temperature of [0, 1]) {
      const viaKernel = await run(true, temperature), viaOrt = await run(false, temperature);
      assert.deepEqual(viaKernel.tokens, viaOrt.tokens, `temperature ${temperature}`);
      viaKernel.logprobs.flat().forEach((lp, i) => assert.ok(Math.abs(lp - viaOrt.logprobs.flat()[i]!) < 1e-4, `temperature ${temperature}: ${lp} vs ${viaOrt.logprobs.flat()[i]}`));
    }
  });
}
