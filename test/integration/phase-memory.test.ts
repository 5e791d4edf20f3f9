// The per-phase peak-memory probe (engine/bench/phase-memory.ts) and `rrlhf bench ppo`'s per-phase peaks
// (docs/engine.md § Memory plan).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { existsSync } from 'node:fs';
import { PhaseMemory } from '../../engine/bench/phase-memory.js';
import { repoRoot } from '../util/paths.js';

const linux = existsSync('/proc/self/clear_refs');

test('PhaseMemory: a phase that touched 256 MB peaks 256 MB above its start; the next phase, after it is freed, does not (the reset works); the overall peak keeps it', { skip: !linux && 'no /proc/self/clear_refs on this system' }, () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const mem = PhaseMemory.open<'big' | 'after'>();
  assert.ok(mem instanceof PhaseMemory, JSON.stringify(mem));
  mem.begin('big');
  let big: Float64Array | null = new Float64Array(32 * 2 ** 20).fill(1); // 256 MB, every page touched
  assert.equal(big[big.length - 1], 1);
  big = null;
  gc();
  mem.begin('after');
  mem.end();
  const rec = mem.iterations[0]!;
  assert.ok(rec.big!.peak_mb - rec.big!.start_mb >= 250, `big: ${JSON.stringify(rec.big)}`);
  // Freed (a mapping this large goes back to the OS): without the reset the mark would still be at big's peak.
  assert.ok(rec.after!.peak_mb < rec.big!.peak_mb - 200, `after ${JSON.stringify(rec.after)} vs big ${JSON.stringify(rec.big)}`);
  assert.ok(mem.overallMb() >= rec.big!.peak_mb, `overall ${mem.overallMb()}`);
  assert.deepEqual(mem.peaks(), { big: rec.big!.peak_mb, after: rec.after!.peak_mb });
});

test('rrlhf bench ppo reports each phase\'s peak RSS (rollout, score, train) per iteration and overall, with the plan per phase', { skip: !linux && 'no /proc/self/clear_refs on this system' }, () => {
  const args = ['bench', 'ppo', '--arch', 'llama', '--layers', '2', '--d', '64', '--heads', '4', '--kv-heads', '2', '--intermediate', '128', '--vocab', '4096',
    '--batch', '8', '--prompt-len', '16', '--new-tokens', '16', '--epochs', '1', '--mini-batches', '1', '--iterations', '1', '--json'];
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/rrlhf.js'), ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  type Peak = { start_mb: number; peak_mb: number };
  const out = JSON.parse(r.stdout) as {
    peak_memory_mb: number; peak_memory_source: string; peak_memory_mb_by_phase: Record<string, number>;
    memory_mb_by_iteration: ({ warmup: boolean } & Record<'rollout' | 'score' | 'train', Peak>)[];
    planned_memory_mb: number; planned_memory_mb_by_phase: Record<string, number>;
  };
  assert.match(out.peak_memory_source, /VmHWM/);
  const phases = ['rollout', 'score', 'train'] as const;
  assert.deepEqual(Object.keys(out.peak_memory_mb_by_phase).sort(), [...phases].sort());
  for (const p of phases) {
    const v = out.peak_memory_mb_by_phase[p]!;
    assert.ok(v > 10 && v <= out.peak_memory_mb, `${p} peak ${v} MB, overall ${out.peak_memory_mb}`);
  }
  assert.ok(out.peak_memory_mb >= Math.max(...Object.values(out.peak_memory_mb_by_phase)));
  assert.deepEqual(out.memory_mb_by_iteration.map((i) => i.warmup), [true, false]);
  for (const it of out.memory_mb_by_iteration) {
    for (const p of phases) assert.ok(it[p].start_mb > 0 && it[p].start_mb <= it[p].peak_mb + 1, `${p}: ${JSON.stringify(it[p])}`);
  }
  // The warm-up's update holds the LM head's logits and their gradient at least: 8 × 32 × 4096 × 4 B = 4 MB each.
  const w = out.memory_mb_by_iteration[0]!;
  assert.ok(w.train.peak_mb - w.train.start_mb >= 8, `warm-up train growth ${JSON.stringify(w.train)}`);
  const plan = out.planned_memory_mb_by_phase;
  assert.ok(Math.abs(plan.resident! + plan.rollout! + plan.score! + plan.train! - out.planned_memory_mb) < 1e-6, JSON.stringify(plan));
});
