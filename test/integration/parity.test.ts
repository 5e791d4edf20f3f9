// Parity with PyTorch: tiny random GPT-2, Llama (GQA) and Qwen2 (q/k/v bias, tied embeddings) models
// saved as Hugging Face folders by test/reference/make_model_fixtures.py, with logits, loss and
// per-parameter gradient sums computed by the PyTorch reference in float64.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fixture, repoRoot } from '../util/paths.js';
import { CausalLM, gradSums } from '../../engine/models/model.js';

interface Expected {
  input_ids: number[][]; logits: number[][][]; loss: number;
  grads: Record<string, { sum: number; abs_sum: number; wsum: number }>;
  padded: { input_ids: number[][]; attention_mask: number[][]; logits: number[][][] };
}

const MODELS = ['gpt2-tiny', 'llama-tiny-gqa', 'qwen2-tiny', 'sharded-llama'];

function maxAbsDiff(got: Float32Array, want: number[][][], mask?: number[][]): number {
  const V = want[0]![0]!.length, T = want[0]!.length;
  let worst = 0;
  want.forEach((row, b) => row.forEach((v, t) => {
    if (mask && mask[b]![t] === 0) return;
    for (let k = 0; k < V; k++) worst = Math.max(worst, Math.abs(got[(b * T + t) * V + k]! - v[k]!));
  }));
  return worst;
}

for (const name of MODELS) {
  test(`parity with PyTorch: ${name} (logits ≤ 1e-4, loss, gradients ≤ 1e-3 relative)`, async () => {
    const dir = fixture('models', name);
    const exp = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
    const m = await CausalLM.load(dir);
    assert.deepEqual(m.unusedTensors, []);
    const r = await m.evaluate(exp.input_ids, { grads: true });
    const err = maxAbsDiff(r.logits.data as Float32Array, exp.logits);
    assert.ok(err <= 1e-4, `max |logits − reference| = ${err}`);
    assert.ok(Math.abs(r.loss - exp.loss) <= 1e-5 * Math.max(1, exp.loss), `loss ${r.loss} vs ${exp.loss}`);
    const sums = gradSums(r.grads!);
    assert.deepEqual(Object.keys(sums).sort(), Object.keys(exp.grads).sort(), 'the same parameters, under HF names');
    for (const [p, want] of Object.entries(exp.grads)) {
      const g = r.grads![p]!;
      let wsum = 0;
      g.forEach((x, i) => { wsum += x * ((i % 7) - 3); });
      const got = sums[p]!;
      // sum and wsum can be ~0 by symmetry: their tolerance scales with abs_sum.
      assert.ok(Math.abs(got.abs_sum - want.abs_sum) <= 1e-3 * want.abs_sum, `${p} abs_sum ${got.abs_sum} vs ${want.abs_sum}`);
      assert.ok(Math.abs(got.sum - want.sum) <= 1e-3 * want.abs_sum + 1e-7, `${p} sum ${got.sum} vs ${want.sum}`);
      assert.ok(Math.abs(wsum - want.wsum) <= 1e-3 * want.abs_sum * 3 + 1e-7, `${p} wsum ${wsum} vs ${want.wsum}`);
    }
    // Left-padded rows: logits at real positions match the reference's masked forward.
    const pr = await m.evaluate(exp.padded.input_ids, { attentionMask: exp.padded.attention_mask });
    const perr = maxAbsDiff(pr.logits.data as Float32Array, exp.padded.logits, exp.padded.attention_mask);
    assert.ok(perr <= 1e-4, `padded: max |logits − reference| = ${perr}`);
  });
}

/** Debian's python3-torch, when installed, checks that PyTorch reads the folders we write. */
function torchPython(): string | null {
  for (const py of [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[]) {
    const r = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

const py = torchPython();
test('a model saved by this engine loads in the PyTorch reference with the same logits', { skip: py ? false : 'PyTorch is not installed (apt-get install python3-torch); the folder format is still covered by the save → load tests' }, async () => {
  for (const name of ['gpt2-tiny', 'qwen2-tiny']) {
    const m = await CausalLM.load(fixture('models', name));
    // Perturb the weights so the saved model differs from the fixture PyTorch already knows.
    for (const [n, p] of m.params.entries()) m.params.set(n, p.data.map((x, i) => x + 0.01 * Math.cos(i)));
    const out = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-saved-'));
    await m.save(out);
    const ids = [[1, 5, 9, 2, 7, 3]];
    const ours = await m.evaluate(ids);
    const r = spawnSync(py!, [path.join(repoRoot, 'test/reference/check_hf_folder.py'), out, '--input-ids', JSON.stringify(ids)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const ref = JSON.parse(r.stdout) as { logits: number[][][]; loss: number };
    const err = maxAbsDiff(ours.logits.data as Float32Array, ref.logits);
    assert.ok(err <= 1e-4, `${name}: saved by us, PyTorch logits differ by ${err}`);
    assert.ok(Math.abs(ours.loss - ref.loss) < 1e-4);
  }
});
