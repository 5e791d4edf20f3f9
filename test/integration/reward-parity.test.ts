// Reward models of every family against the PyTorch reference of transformers' *ForSequenceClassification:
// a reward model made from each parity fixture (its trunk + a random score head) is saved as an HF
// folder (trunk + score.weight, no LM head) and scored by check_hf_folder.py, which pools the
// rightmost token that is not pad_token_id as transformers does. Left-padded rows whose last token is
// never the pad id make that the last real token, which is what the engine pools.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fixture, repoRoot } from '../util/paths.js';
import { CausalLM } from '../../engine/models/model.js';
import { RewardModel, padRows } from '../../engine/rlhf/reward.js';
import { readSafetensorsFolder } from '../../engine/runtime/safetensors.js';

function torchPython(): string | null {
  for (const py of [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[]) {
    if (spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}
const py = torchPython();
const FAMILIES = ['gpt2-tiny', 'llama-tiny-gqa', 'qwen2-tiny', 'mistral-tiny', 'qwen3-tiny', 'phi3-tiny', 'gemma2-tiny', 'pythia-tiny', 'neox-seq-tiny', 'qwen2-yarn-tiny', 'phi4-mini-tiny', 'gemma3-tiny', 'gemma-tiny'];
const PAD = 93; // in every fixture's vocabulary (96), and never a row's last token below

test('reward models: scores equal the PyTorch *ForSequenceClassification reference for every family', { skip: py ? false : 'PyTorch is not installed (apt-get install python3-torch)' }, async () => {
  const rows = [[5, 17, 33, 2, 71, 9], [12, 40, 8], [1, 88, 64, 22, 7, 50, 30, 11], [PAD, 44, 6, 19]];
  for (const name of FAMILIES) {
    const lm = await CausalLM.load(fixture('models', name));
    const rm = await RewardModel.fromPolicy(lm, PAD, 7);
    // A non-trivial head so every hidden dim matters.
    rm.params.set('score.weight', rm.params.get('score.weight').data.map((_, i) => Math.sin(i + 1)));
    const dir = await mkdtemp(path.join(os.tmpdir(), `rrlhf-rm-${name}-`));
    await rm.save(dir);
    const names = [...(await readSafetensorsFolder(dir)).keys()];
    assert.ok(!names.some((n) => /^(lm_head|embed_out)\./.test(n)), `${name}: an HF reward model has no LM head (${names.filter((n) => /head|embed_out/.test(n))})`);
    const cfg = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as { architectures: string[]; pad_token_id: number };
    assert.match(cfg.architectures[0]!, /ForSequenceClassification$/);
    assert.equal(cfg.pad_token_id, PAD);

    const ours = await rm.score(rows);
    const { ids, mask, B, T } = padRows(rows, PAD);
    const grid = (xs: number[]) => Array.from({ length: B }, (_, b) => xs.slice(b * T, (b + 1) * T));
    const r = spawnSync(py!, [path.join(repoRoot, 'test/reference/check_hf_folder.py'), dir, '--input-ids', JSON.stringify(grid(ids)), '--attention-mask', JSON.stringify(grid(mask))], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const ref = (JSON.parse(r.stdout) as { scores: number[][] }).scores.map((s) => s[0]!);
    ours.forEach((x, i) => assert.ok(Math.abs(x - ref[i]!) <= 1e-4 * Math.max(1, Math.abs(ref[i]!)), `${name} row ${i}: ours ${x} vs PyTorch ${ref[i]}`));
    // The reference folder loads back in the engine with the same scores.
    const again = await RewardModel.load(dir);
    assert.deepEqual(await again.score(rows), ours);
  }
});

test('a longrope reward model refuses rows past its original length instead of scoring them with the short factors', async () => {
  const rm = await RewardModel.fromPolicy(await CausalLM.load(fixture('models', 'phi4-mini-tiny')), PAD, 7);
  assert.equal((await rm.score([Array.from({ length: 16 }, (_, i) => i + 1)])).length, 1);
  await assert.rejects(rm.score([Array.from({ length: 17 }, (_, i) => i + 1)]), /a sequence of 17 positions is longer than this model's 16: its rope type "longrope"/);
});
