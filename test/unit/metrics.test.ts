// The metric keys (common/metrics.ts): one name per key, and each one defined in docs/metrics.md, so a
// key added to the code without its meaning, or renamed in one place only, fails here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { METRIC, EVAL_PREFIX } from '../../common/metrics.js';

test('every METRIC key is distinct and documented in docs/metrics.md', () => {
  const values = Object.values(METRIC);
  assert.equal(new Set(values).size, values.length, 'two METRIC names share a key');
  const docs = fs.readFileSync('docs/metrics.md', 'utf8');
  for (const [name, key] of Object.entries(METRIC)) assert.ok(docs.includes(`\`${key}\``), `METRIC.${name} (${key}) is not in docs/metrics.md`);
  // The evaluation keys are the ones whose √KL comes from eval/kl (renderer charts rely on the prefix).
  assert.deepEqual(values.filter((k) => k.startsWith(EVAL_PREFIX)).sort(), [METRIC.evalGold, METRIC.evalGoldSe, METRIC.evalKl, METRIC.evalProxy, METRIC.evalRewardMean, METRIC.evalSqrtKl, METRIC.evalMemberStd].sort());
});
