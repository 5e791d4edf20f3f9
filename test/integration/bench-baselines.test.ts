// The PyTorch baseline of `npm run bench`'s PPO rows (test/reference/bench_ppo.py) runs in both of its
// head-position modes and describes the same iteration as the engine's `rrlhf bench ppo`: a baseline that
// crashes or drifts from the engine's work makes every PPO speedup in docs/engine.md meaningless.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../util/paths.js';
import { torchPython } from '../util/python.js';

const py = torchPython();
const SHAPE = ['--layers', '1', '--d', '16', '--heads', '2', '--vocab', '11', '--batch', '4', '--prompt-len', '3', '--new-tokens', '4', '--epochs', '1', '--mini-batches', '2', '--iterations', '1'];

const lastJson = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown> & { config: Record<string, unknown> };

test('bench_ppo.py runs over the response positions (the engine\'s work) and over all positions (TRL\'s), describing the engine\'s iteration', { skip: py ? false : 'PyTorch is not installed (apt-get install python3-torch)' }, () => {
  const engine = spawnSync(process.execPath, [path.join(repoRoot, 'bin/rrlhf.js'), 'bench', 'ppo', ...SHAPE, '--json'], { encoding: 'utf8' });
  assert.equal(engine.status, 0, engine.stderr);
  const e = lastJson(engine.stdout);
  for (const mode of ['response', 'all']) {
    const r = spawnSync(py!, [path.join(repoRoot, 'test/reference/bench_ppo.py'), ...SHAPE, '--threads', '1', '--head-positions', mode], { encoding: 'utf8' });
    assert.equal(r.status, 0, `bench_ppo.py --head-positions ${mode}: ${r.stderr}`);
    const t = lastJson(r.stdout);
    assert.equal(t.config.head_positions, mode);
    for (const k of ['ms_per_iteration', 'ms_rollout', 'ms_score', 'ms_train']) assert.ok(Number.isFinite(t[k]) && (t[k] as number) > 0, `${mode}: ${k} = ${t[k]}`);
    for (const k of ['layers', 'd', 'heads', 'vocab', 'batch', 'prompt_len', 'new_tokens', 'epochs', 'mini_batches']) assert.equal(t.config[k], e.config[k], `${mode}: config.${k}`);
  }
});
