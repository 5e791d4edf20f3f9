// Independent members pretrained from different seeds (ensemble.trunks 'per-member'; docs/science.md
// § Pretraining-seed members): member k > 0 fine-tunes its own π₀ variant, member 0 fine-tunes π₀ and is
// the very member a shared-trunk ensemble trains; variants are cached, and a per-member study runs PPO.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeWorld } from '../../engine/worlds/index.js';
import { Rng } from '../../engine/runtime/params.js';
import { CausalLM } from '../../engine/models/model.js';
import { SFT_DEFAULTS } from '../../engine/rlhf/sft.js';
import { trunkNames, pairRows, type RewardModel } from '../../engine/rlhf/reward.js';
import { trainEnsemble } from '../../engine/rlhf/ensemble-train.js';
import { IndependentEnsemble } from '../../engine/rlhf/independent.js';
import { trainBuiltinPolicy, memberTrunks, memberTrunkSeed } from '../../engine/experiments/trunks.js';

/** Root-mean-square difference of the trunk weights of two models (reward model or policy). Two fresh
 *  initialisations are ~0.026 apart here and reward training moves a trunk ~0.005, so "near" is 2× nearer. */
function trunkDistance(a: { params: RewardModel['params']; config: RewardModel['config'] }, b: { params: RewardModel['params'] }): number {
  let s = 0, n = 0;
  for (const name of trunkNames(a.config)) {
    const x = a.params.get(name).data, y = b.params.get(name).data;
    for (let i = 0; i < x.length; i++) { s += (x[i]! - y[i]!) ** 2; n++; }
  }
  return Math.sqrt(s / n);
}

const SFT = { ...SFT_DEFAULTS, epochs: 1, batchSize: 64 };

test('per-member trunks: member 0 is the shared ensemble\'s member 0, the others fine-tune their own π₀ variants (cached, loaded back as trained)', { timeout: 240_000 }, async () => {
  const world = makeWorld('goodhart-lab', {}, 0);
  const base = await trainBuiltinPolicy(world, 0, 256, { ...SFT, padId: world.padId });
  const rng = new Rng(5);
  const train = world.preferencePairs(192, rng), val = world.preferencePairs(48, rng);
  const opts = { method: 'independent' as const, heads: 3, bootstrap: true, reward: { seed: 0, padId: world.padId } };
  const shared = await trainEnsemble(base, train, val, opts);
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-trunks-'));
  const trained: number[] = [];
  const trunkOf = memberTrunks({ world, base, ensembleSeed: 0, samples: 256, sft: { ...SFT, padId: world.padId }, cacheDir, onTrain: (k) => trained.push(k) });
  const own = await trainEnsemble(base, train, val, { ...opts, trunkOf });
  assert.deepEqual(trained, [1, 2], 'member 0 keeps π₀; members 1 and 2 each train a variant');
  assert.deepEqual((await readdir(cacheDir)).sort(), ['member-1', 'member-2']);
  const se = shared.ensemble as IndependentEnsemble, oe = own.ensemble as IndependentEnsemble;
  assert.equal(oe.info.trunks, 'per-member');
  assert.equal(se.info.trunks, 'shared');

  // Member 0: the same reward model as the shared ensemble's (same trunk, seed and resample).
  const rows = pairRows(val);
  assert.deepEqual(await oe.members[0]!.score(rows), await se.members[0]!.score(rows));

  // Members 1, 2: each is near its own variant and far from π₀ (and the variants differ from each other).
  const variants = [null, await CausalLM.load(path.join(cacheDir, 'member-1')), await CausalLM.load(path.join(cacheDir, 'member-2'))];
  const d = (k: number, m: { params: RewardModel['params'] }) => trunkDistance(oe.members[k]!, m);
  for (const k of [1, 2]) {
    assert.ok(d(k, variants[k]!) * 2 < d(k, base), `member ${k}: ${d(k, variants[k]!)} from its variant, ${d(k, base)} from π₀`);
    // A shared-trunk member stays near π₀.
    assert.ok(trunkDistance(se.members[k]!, base) * 2 < trunkDistance(se.members[k]!, variants[k]!), `shared member ${k} stays near π₀`);
  }
  assert.ok(d(0, base) * 2 < d(0, variants[1]!), 'member 0 fine-tunes π₀');
  assert.ok(trunkDistance(variants[1]!, variants[2]!) > 1e-3, 'the two variants differ');
  assert.notDeepEqual(await oe.members[1]!.score(rows), await se.members[1]!.score(rows));
  assert.notEqual(memberTrunkSeed(0, 1), memberTrunkSeed(0, 2));
  assert.notEqual(memberTrunkSeed(0, 1), memberTrunkSeed(1, 1));
  assert.throws(() => memberTrunkSeed(0, 0), /member 0 uses π₀/);

  // A second pass (a resumed study) loads the cached variants instead of training them again: same ensemble.
  trained.length = 0;
  const again = await trainEnsemble(base, train, val, { ...opts, trunkOf: memberTrunks({ world, base, ensembleSeed: 0, samples: 256, sft: { ...SFT, padId: world.padId }, cacheDir, onTrain: (k) => trained.push(k) }) });
  assert.deepEqual(trained, []);
  for (const k of [0, 1, 2]) assert.deepEqual(await (again.ensemble as IndependentEnsemble).members[k]!.score(rows), await oe.members[k]!.score(rows), `member ${k}`);
  // Refused with LoRA or BRME.
  await assert.rejects(trainEnsemble(base, train, val, { ...opts, method: 'lora', trunkOf }), /per-member trunks are for independent members, not lora/);
});

test('a per-member study on the Goodhart lab trains the variants beside π₀, runs PPO to finished runs, and resumes without retraining', { timeout: 300_000 }, async () => {
  const { openStore } = await import('../../engine/store/index.js');
  const { parseSpec } = await import('../../engine/experiments/spec.js');
  const { runExperiment, resumeExperiment } = await import('../../engine/experiments/runner.js');
  const { studyPaths } = await import('../../engine/experiments/layout.js');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-trunks-study-'));
  const store = openStore({ dataDir });
  try {
    const spec = parseSpec({
      sft: { samples: 256, epochs: 1, batchSize: 64 },
      ensemble: { method: 'independent', trunks: 'per-member', heads: 3, pairs: 192, valPairs: 48 },
      objectives: [{ name: 'standard', kind: 'single' }, { name: 'robust', kind: 'robust', lambda: 0.4 }],
      seeds: [0], ppo: { iterations: 2, batchSize: 16, miniBatches: 2, epochs: 1 }, eval: { every: 2, samples: 16 },
    }, 'test');
    const messages: string[] = [];
    const r = await runExperiment(spec, { store, dataDir, onProgress: (e) => messages.push(e.message) });
    assert.deepEqual(r.runs.map((x) => [x.objective, x.status]), [['standard', 'finished'], ['robust', 'finished']]);
    for (const x of r.runs) assert.ok(Number.isFinite(x.final.gold) && Number.isFinite(x.final.kl), JSON.stringify(x));
    assert.equal(messages.filter((m) => /training member \d's own trunk/.test(m)).length, 2, messages.join('\n'));
    const files = studyPaths(dataDir, r.experiment);
    assert.deepEqual((await readdir(files.memberTrunks)).sort(), ['member-1', 'member-2']);
    const ens = await IndependentEnsemble.load(files.ensemble);
    const base = await CausalLM.load(files.basePolicy);
    const v1 = await CausalLM.load(path.join(files.memberTrunks, 'member-1'));
    assert.ok(trunkDistance(ens.members[1]!, v1) * 2 < trunkDistance(ens.members[1]!, base), 'the saved member 1 fine-tuned its own trunk');
    assert.ok(trunkDistance(ens.members[0]!, base) * 2 < trunkDistance(ens.members[0]!, v1), 'the saved member 0 fine-tuned π₀');
    assert.equal((store.experiments.get(r.experiment)!.spec as { ensemble: { trunks: string } }).ensemble.trunks, 'per-member', 'the stored spec records the setting');
    // Resume of the finished study: nothing is trained again, the result is the same.
    messages.length = 0;
    const again = await resumeExperiment(r.experiment, { store, dataDir, onProgress: (e) => messages.push(e.message) });
    assert.deepEqual(again.runs.map((x) => x.final), r.runs.map((x) => x.final));
    assert.equal(messages.filter((m) => /trunk|SFT/.test(m)).length, 0, messages.join('\n'));
  } finally { store.close(); }
});
