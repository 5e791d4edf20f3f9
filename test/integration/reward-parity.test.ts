// Reward models of every family against the PyTorch reference of transformers' *ForSequenceClassification:
// a reward model made from each parity fixture (its trunk + a random score head) is saved as an HF
// folder (trunk + score.weight, no LM head) and scored by check_hf_folder.py, which pools the
// rightmost token that is not pad_token_id as transformers does. Left-padded rows whose last token is
// never the pad id make that the last real token, which is what the engine pools.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, rm as rm_ } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fixture, repoRoot } from '../util/paths.js';
import { CausalLM } from '../../engine/models/model.js';
import { RewardModel, padRows } from '../../engine/rlhf/reward.js';
import { readSafetensorsFolder } from '../../engine/runtime/safetensors.js';
import { torchPython } from '../util/python.js';

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

/** Reference scores of `rows`, each run alone (batch 1, unpadded) or as one right-padded batch. */
function reference(dir: string, rows: number[][], rightPad?: number): number[] {
  const run = (ids: number[][]) => {
    const r = spawnSync(py!, [path.join(repoRoot, 'test/reference/check_hf_folder.py'), dir, '--input-ids', JSON.stringify(ids)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as { scores: number[][] }).scores.map((s) => s[0]!);
  };
  if (rightPad === undefined) return rows.flatMap((row) => run([row]));
  const T = Math.max(...rows.map((r) => r.length));
  return run(rows.map((r) => [...r, ...Array.from({ length: T - r.length }, () => rightPad)]));
}

test('an imported HF reward model pools as transformers does: the last token that is not pad_token_id, pads inside or at the end', { skip: py ? false : 'PyTorch is not installed' }, async () => {
  const HF_PAD = 2; // e.g. a checkpoint whose pad is its EOS
  for (const name of ['llama-tiny-gqa', 'gemma2-tiny', 'gpt2-tiny']) {
    const rm = await RewardModel.fromPolicy(await CausalLM.load(fixture('models', name)), PAD, 7);
    rm.params.set('score.weight', rm.params.get('score.weight').data.map((_, i) => Math.sin(i + 1)));
    const dir = await mkdtemp(path.join(os.tmpdir(), `rrlhf-hfrm-${name}-`));
    await rm.save(dir);
    // As an HF folder: no rrlhf.json, pad_token_id 2.
    await rm_(path.join(dir, 'rrlhf.json'));
    const cfg = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, pad_token_id: HF_PAD }, null, 2));
    const imported = await RewardModel.load(dir);
    assert.equal(imported.hfPad, HF_PAD);
    // pad inside, trailing pads (one and two), a pad first, only pads, none at all
    const rows = [[5, HF_PAD, 33, 9, HF_PAD], [12, 40, HF_PAD, HF_PAD], [HF_PAD, 44, 6, 19, 7, 30], [HF_PAD, HF_PAD], [1, 88, 64]];
    const ours = await imported.score(rows);
    for (const ref of [reference(dir, rows), reference(dir, rows, HF_PAD)]) {
      ours.forEach((x, i) => assert.ok(Math.abs(x - ref[i]!) <= 1e-4 * Math.max(1, Math.abs(ref[i]!)), `${name} row ${i}: ours ${x} vs PyTorch ${ref[i]}`));
    }
    // Pooling the last real token instead (the lab's own rule) differs on the rows ending in the pad id.
    const lab = new RewardModel(imported.config, imported.params, imported.padId);
    const asLab = await lab.score(rows);
    assert.ok(Math.abs(asLab[0]! - ours[0]!) > 1e-3 && Math.abs(asLab[1]! - ours[1]!) > 1e-3, `${name}: the fixture must tell the two rules apart`);
    // Saved again by the lab, it keeps HF's pooling (rrlhf.json hf_pad, config pad_token_id).
    const again = path.join(dir, 'resaved');
    await imported.save(again);
    assert.deepEqual(await (await RewardModel.load(again)).score(rows), ours);
    // No pad_token_id: HF scores a single row at its last token, as the engine does.
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, pad_token_id: null }, null, 2));
    const noPad = await RewardModel.load(dir);
    assert.equal(noPad.hfPad, null);
    const single = await noPad.score([rows[0]!]);
    const ref = reference(dir, [rows[0]!]);
    assert.ok(Math.abs(single[0]! - ref[0]!) <= 1e-4 * Math.max(1, Math.abs(ref[0]!)), `${name} without a pad id: ${single[0]} vs ${ref[0]}`);
  }
});

test('a longrope reward model refuses rows past its original length instead of scoring them with the short factors', async () => {
  const rm = await RewardModel.fromPolicy(await CausalLM.load(fixture('models', 'phi4-mini-tiny')), PAD, 7);
  assert.equal((await rm.score([Array.from({ length: 16 }, (_, i) => i + 1)])).length, 1);
  await assert.rejects(rm.score([Array.from({ length: 17 }, (_, i) => i + 1)]), /a sequence of 17 positions is longer than this model's 16: its rope type "longrope"/);
});
