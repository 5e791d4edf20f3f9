// One study, two renderings: the service's study view (what the study page, the experiments list and
// the home screen show) and the report model must agree on the verdict, its caveats, every compared
// number and every objective's colour, because both render the one StudyAnalysis. The study is
// written into a real SQLite store with known evaluation curves, so the expected figures are known:
// a `single` objective named "baseline" (the old app coloured by name, the report by kind), a robust
// objective that keeps gold up, and heads that barely disagree.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../engine/store/index.js';
import { parseSpec } from '../../engine/experiments/spec.js';
import { analyseStudy } from '../../engine/experiments/analysis.js';
import { METRIC } from '../../common/metrics.js';
import { studyPaths } from '../../engine/experiments/layout.js';
import { studyView } from '../../engine/service/summary.js';
import { buildReportModel } from '../../engine/report/model.js';
import { styleColor, PALETTE } from '../../common/objectives.js';

let tmp: string, store: Store, expId: number;
const seeds = [0, 1, 2];
// gold per eval step (0, 2, 4, 6): the baseline peaks and falls (hacked), robust keeps rising.
const curves = {
  baseline: (s: number) => [0, 1.0 + 0.1 * s, 0.4 + 0.05 * s, -0.5 + 0.1 * s],
  robust: (s: number) => [0, 0.6 + 0.1 * s, 0.9 + 0.05 * s, 1.1 + 0.12 * s],
};

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-analysis-'));
  store = openStore({ dataDir: tmp });
  const spec = parseSpec({
    name: 'agreement', seeds,
    objectives: [{ name: 'baseline', kind: 'single' }, { name: 'robust', kind: 'robust', lambda: 0.4 }],
    ppo: { iterations: 6 }, eval: { every: 2, samples: 16 },
  });
  const exp = store.experiments.create({ name: spec.name, spec: spec as unknown as Record<string, unknown> });
  expId = exp.id;
  // Recorded as the runner records a study's ensemble: with its artifact, the study's ensemble folder.
  const art = store.artifacts.add({ kind: 'ensemble', path: studyPaths(tmp, exp.id).ensemble, name: 'ensemble' });
  store.ensembles.add({ name: `ensemble (experiment ${exp.id})`, heads: 3, method: 'brme', artifactId: art.id, metrics: { relative_disagreement: 0.01 } });
  for (const seed of seeds) for (const o of spec.objectives) {
    const r = store.runs.create({ experimentId: exp.id, objective: o.name, seed, config: { objective: o, world: spec.world, ppo: spec.ppo } });
    const gold = curves[o.name as keyof typeof curves](seed);
    store.metrics.appendMany(r.id, gold.map((g, i) => ({
      step: 2 * i,
      record: { [METRIC.evalGold]: g, [METRIC.evalProxy]: 0.5 * i + (o.kind === 'single' ? 0.3 * i : 0), [METRIC.evalKl]: (o.kind === 'single' ? 3 : 2) * i, [METRIC.evalGoldSe]: 0.01 },
    })));
    store.runs.update(r.id, { status: 'finished' });
  }
});

after(async () => {
  store?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('the study page and the report show the same verdict, caveats, numbers and colours', async () => {
  const exp = store.experiments.get(expId)!;
  const view = studyView(store, exp);
  const model = await buildReportModel({ store, experimentId: expId });
  assert.equal(view.status, 'finished');
  assert.ok(view.verdict && view.verdict.length > 40);
  assert.equal(view.verdict, model.verdict);
  assert.deepEqual(view.caveats, model.caveats);

  // Colours by kind: `single` is vermillion even though it is called "baseline"; robust is blue.
  assert.deepEqual(view.objectives.map((o) => o.color), model.objectives.map((o) => styleColor(o.style)));
  assert.equal(view.objectives[0]!.color, PALETTE[1]);
  assert.equal(view.objectives[1]!.color, PALETTE[0]);
  assert.deepEqual(view.objectives.map((o) => o.label), model.objectives.map((o) => o.label));

  // The numbers: final gold per objective and the paired difference, computed by hand.
  const finalOf = (name: keyof typeof curves) => seeds.map((s) => curves[name](s)[3]!);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const diff = mean(finalOf('robust')) - mean(finalOf('baseline'));
  assert.ok(Math.abs(view.objectives[1]!.finalGold!.mean - mean(finalOf('robust'))) < 1e-12);
  assert.equal(model.summaries[1]!.finalGold.mean, view.objectives[1]!.finalGold!.mean);
  const [vc] = view.comparisons, [mc] = model.comparisons;
  assert.ok(vc && mc);
  assert.ok(Math.abs(vc.mean! - diff) < 1e-12);
  assert.deepEqual([vc.mean, vc.lo, vc.hi, vc.seeds, vc.significant], [mc.mean, mc.lo, mc.hi, mc.n, mc.significant]);
  assert.equal(view.objectives[0]!.hacked, 3, 'the baseline peaked at step 2 and fell in every seed');
  assert.equal(view.objectives[1]!.hacked, 0);

  // What the verdict says follows from those facts.
  assert.match(view.verdict!, /^Robust RLHF \(λ = 0\.4\) ended with higher final gold than standard RLHF on 3 of 3 seeds/);
  assert.match(view.verdict!, /standard RLHF started reward hacking in 3 of 3 seeds and robust RLHF \(λ = 0\.4\) in none/);
  assert.ok(model.caveats.some((c) => /heads barely disagree \(1\.0% of the reward's spread on held-out pairs\)/.test(c)), 'flat heads are named, by the held-out figure when runs did not log eval/member_std');
  assert.deepEqual(view.onPolicyDisagreement, [], 'no run logged eval/member_std');
  // Both found the study's one ensemble record (by its artifact, as the export does).
  assert.equal(view.ensemble?.relativeDisagreement, 0.01);
});

test('the runner-facing analysis and the view agree on who was compared with whom', () => {
  const a = analyseStudy(store, expId);
  assert.equal(a.comparisons.length, 1);
  assert.equal(a.comparisons[0]!.a, 'robust');
  assert.equal(a.comparisons[0]!.b, 'baseline');
  assert.equal(a.comparisons[0]!.metric, 'final_gold');
  assert.equal(a.comparisons[0]!.complete, true);
  assert.deepEqual(a.comparisons[0]!.perSeed.map((p) => p.seed), seeds);
});

test('on-policy disagreement: start and end per objective, over the held-out reward scale, and the verdict reads it', async () => {
  // Held-out disagreement is flat (1 %) but on the policy's samples the heads spread out: the robust
  // runs end at 0.3 + 0.01·seed over a reward scale of 2 (≈ 15 %), so the verdict must not call them flat.
  const spec = parseSpec({
    name: 'on-policy', seeds,
    objectives: [{ name: 'baseline', kind: 'single' }, { name: 'robust', kind: 'robust', lambda: 0.4 }],
    ppo: { iterations: 6 }, eval: { every: 2, samples: 16 },
  });
  const exp = store.experiments.create({ name: spec.name, spec: spec as unknown as Record<string, unknown> });
  const art = store.artifacts.add({ kind: 'ensemble', path: studyPaths(tmp, exp.id).ensemble, name: 'ensemble 2' });
  store.ensembles.add({ name: `ensemble (experiment ${exp.id})`, heads: 3, method: 'brme', artifactId: art.id, metrics: { relative_disagreement: 0.01, reward_scale: 2 } });
  const spreads = { baseline: (s: number) => [0.02, 0.1, 0.4, 0.6 + 0.01 * s], robust: (s: number) => [0.02, 0.05, 0.1, 0.3 + 0.01 * s] };
  for (const seed of seeds) for (const o of spec.objectives) {
    const r = store.runs.create({ experimentId: exp.id, objective: o.name, seed, config: { objective: o, world: spec.world, ppo: spec.ppo } });
    const gold = curves[o.name as keyof typeof curves](seed), sd = spreads[o.name as keyof typeof spreads](seed);
    store.metrics.appendMany(r.id, gold.map((g, i) => ({
      step: 2 * i,
      record: { [METRIC.evalGold]: g, [METRIC.evalProxy]: 0.5 * i, [METRIC.evalKl]: 2 * i, [METRIC.evalGoldSe]: 0.01, [METRIC.evalMemberStd]: sd[i]! },
    })));
    store.runs.update(r.id, { status: 'finished' });
  }
  const a = analyseStudy(store, exp.id);
  assert.equal(a.rewardScale, 2);
  const [b, rb] = a.onPolicyDisagreement;
  assert.deepEqual([b!.objective, rb!.objective], ['baseline', 'robust']);
  assert.ok(Math.abs(rb!.start.mean! - 0.02) < 1e-12 && rb!.start.n === 3);
  assert.ok(Math.abs(rb!.end.mean! - 0.31) < 1e-12, 'seed mean of the last evaluation');
  assert.ok(Math.abs(rb!.relativeEnd! - 0.155) < 1e-12 && Math.abs(rb!.relativeStart! - 0.01) < 1e-12);
  assert.ok(Math.abs(b!.end.mean! - 0.61) < 1e-12);
  assert.ok(!a.verdict.caveats.some((c) => /barely disagree/.test(c)) && !/barely disagree/.test(a.verdict.text), 'the on-policy figure, not the held-out one, decides');
  const view = studyView(store, store.experiments.get(exp.id)!);
  assert.deepEqual(view.onPolicyDisagreement, a.onPolicyDisagreement);
  const model = await buildReportModel({ store, experimentId: exp.id });
  assert.deepEqual(model.ensemble?.onPolicy, a.onPolicyDisagreement);
  assert.ok(model.ensemble?.notes.some((n) => /more than on held-out pairs by the end under standard RLHF and robust RLHF/.test(n)), model.ensemble?.notes.join(' | '));
});
