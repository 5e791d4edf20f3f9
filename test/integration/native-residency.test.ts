// The engine's device-residency paths (weights, AdamW moments and KV caches kept as device values,
// fed back run after run, downloaded at checkpoints, restored on resume, tokens picked inside the
// graph) run on GPUs only, so this file runs existing tests again on CPU through the native binding,
// whose "device" values take exactly those paths: kill -9 + exact resume, AdamW against its reference,
// PPO, and a transformer that must overfit. RRLHF_BINDING is inherited by the CLI processes they spawn.
import { test } from 'node:test';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ADDON_PATH } from '../../engine/runtime/native.js';

const skipped = path.join(path.dirname(ADDON_PATH), 'SKIPPED');
if (!existsSync(ADDON_PATH) && existsSync(skipped)) {
  test('device-residency paths through the native binding', { skip: `the native binding was not built here: ${readFileSync(skipped, 'utf8').trim()}` }, () => {});
} else {
  process.env.RRLHF_BINDING = 'native';
  await import('./resume.test.js');
  await import('../unit/optim.test.js');
  await import('../unit/ppo.test.js');
  await import('./overfit.test.js');
}
