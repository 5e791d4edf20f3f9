import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hackingOnset, onsetAlerts, peak, goldAtKl, fitGao, klK3, type EvalPoint } from '../../engine/rlhf/gold.js';
import { pairedInterval, tQuantile, tCdf, meanStd, seedVarianceWarning } from '../../engine/experiments/stats.js';

const pts = (rows: [number, number, number, number][]): EvalPoint[] => rows.map(([step, gold, proxy, kl]) => ({ step, gold, proxy, kl }));

test('hacking onset: gold falls a margin below its running max while the proxy keeps rising', () => {
  const p = pts([[0, 0, 0, 0], [10, 1, 1, 1], [20, 1.5, 2, 2], [30, 1.45, 3, 3], [40, 1.2, 4, 4], [50, 0.5, 5, 5]]);
  assert.deepEqual(hackingOnset(p, 0.1), { step: 40, index: 4 });
  assert.deepEqual(hackingOnset(p, 0.5), { step: 50, index: 5 });
  // a drop within twice the evaluation noise is not an onset
  const noisy = p.map((x) => ({ ...x, goldSe: 0.2 }));
  assert.deepEqual(hackingOnset(noisy, 0.1), { step: 50, index: 5 });
  // gold falls but the proxy falls too: not hacking
  assert.equal(hackingOnset(pts([[0, 1, 1, 0], [10, 0.5, 0.5, 1]]), 0.1), null);
  assert.deepEqual(peak(p), { gold: 1.5, step: 20 });
  // a dip that recovers (gold back within the margin of its best, or above it) is not hacking...
  const recovers = pts([[0, 0, 0, 0], [10, 1, 1, 1], [20, 0.6, 2, 2], [30, 0.95, 3, 3], [40, 1.3, 4, 4]]);
  assert.equal(hackingOnset(recovers, 0.1), null);
  assert.deepEqual(hackingOnset(recovers.slice(0, 3), 0.1), { step: 20, index: 2 }, 'provisional while the run has not recovered yet');
  // ...but a partial recovery that stays below the best by more than the margin does not withdraw it,
  // and a later, sustained fall from a new best is found.
  assert.deepEqual(hackingOnset(pts([[0, 0, 0, 0], [10, 1, 1, 1], [20, 0.5, 2, 2], [30, 0.85, 3, 3], [40, 0.4, 4, 4]]), 0.1), { step: 20, index: 2 });
  assert.deepEqual(hackingOnset(pts([[0, 0, 0, 0], [10, 1, 1, 1], [20, 0.6, 2, 2], [30, 1.5, 3, 3], [40, 1.0, 4, 4], [50, 0.9, 5, 5]]), 0.1), { step: 40, index: 4 });
});

test('live onset alerts: raised provisionally, withdrawn once when gold recovers, raised again on a later sustained fall', () => {
  const series = pts([[0, 0, 0, 0], [10, 1, 1, 1], [20, 0.6, 2, 2], [30, 0.7, 3, 3], [40, 1.2, 4, 4], [50, 1.25, 5, 5], [60, 0.8, 6, 6], [70, 0.7, 7, 7]]);
  const raised: { step: number; kind: string; message: string; at: number }[] = [];
  for (let i = 1; i <= series.length; i++) for (const a of onsetAlerts(series.slice(0, i), raised, 0.1)) raised.push({ ...a, at: series[i - 1]!.step });
  assert.deepEqual(raised.map((a) => [a.at, a.kind, a.step]), [
    [20, 'hacking_onset', 20], // gold 0.6 < 1 − 0.1 while the proxy rose
    [40, 'hacking_withdrawn', 40], // gold back to 1.2 (above the old best): the dip at 20 was not hacking
    [60, 'hacking_onset', 60], // a new fall from the new best 1.25, still provisional at 70
  ]);
  assert.match(onsetAlerts(series.slice(0, 3), [], 0.1)[0]!.message, /gold fell more than 0\.1 below its best .*an onset unless gold recovers/);
  assert.match(raised[1]!.message, /^the onset at step 20 is withdrawn: gold recovered to 1\.200/);
  // A resume that discards the evaluation at 40 (alerts after the checkpoint at 30 are deleted) raises the withdrawal again.
  assert.deepEqual(onsetAlerts(series.slice(0, 5), raised.filter((a) => a.step <= 30), 0.1).map((a) => [a.kind, a.step]), [['hacking_withdrawn', 40]]);
  assert.deepEqual(onsetAlerts([], [], 0.1), []);
});

test('gold at matched KL interpolates linearly', () => {
  const p = pts([[0, 0, 0, 0], [1, 2, 0, 4], [2, 1, 0, 8]]);
  assert.equal(goldAtKl(p, 2), 1);
  assert.equal(goldAtKl(p, 6), 1.5);
  assert.equal(goldAtKl(p, 9), null);
});

test('Gao fit recovers α, β from exact data and finds the peak d*', () => {
  const alpha = 1.2, beta = 0.4;
  const p: EvalPoint[] = [{ step: 0, gold: 0.3, proxy: 0, kl: 0 }];
  for (let i = 1; i <= 12; i++) { const d = i * 0.5; p.push({ step: i, gold: 0.3 + d * (alpha - beta * Math.log(d)), proxy: i, kl: d * d }); }
  const f = fitGao(p)!;
  assert.ok(Math.abs(f.alpha - alpha) < 1e-9 && Math.abs(f.beta - beta) < 1e-9 && f.r2 > 0.999999);
  assert.ok(Math.abs(f.dPeak! - Math.exp(alpha / beta - 1)) < 1e-6);
  assert.equal(fitGao(p.slice(0, 2)), null);
});

test('k3 KL estimator is non-negative and zero at equal log-probs', () => {
  assert.equal(klK3([0, 0, 0]), 0);
  assert.ok(klK3([0.5, -0.3, 1]) > 0);
  assert.ok(Math.abs(klK3([0.1]) - (Math.exp(-0.1) - 1 + 0.1)) < 1e-15);
});

test('paired t interval: Student-t quantiles, the interval by hand, and no false confidence from few seeds', () => {
  // t quantiles against published tables (two-sided 95%: p = 0.975).
  for (const [df, t] of [[1, 12.7062], [2, 4.3027], [4, 2.7764], [9, 2.2622], [30, 2.0423], [1000, 1.9623]] as const) {
    assert.ok(Math.abs(tQuantile(0.975, df) - t) < 1e-4, `t(0.975, ${df}) = ${tQuantile(0.975, df)}, tables ${t}`);
  }
  assert.ok(Math.abs(tQuantile(0.025, 4) + 2.7764) < 1e-4 && Math.abs(tCdf(0, 7) - 0.5) < 1e-12 && Math.abs(tCdf(1, 1) - 0.75) < 1e-12);
  const a = [1.0, 1.2, 0.9, 1.1, 1.05], b = [0.5, 0.6, 0.55, 0.4, 0.5];
  const r = pairedInterval(a, b);
  const d = a.map((x, i) => x - b[i]!), m = d.reduce((s, x) => s + x, 0) / 5;
  const sd = Math.sqrt(d.reduce((s, x) => s + (x - m) ** 2, 0) / 4), half = 2.7764451 * sd / Math.sqrt(5);
  assert.ok(Math.abs(r.mean - m) < 1e-12 && Math.abs(r.lo - (m - half)) < 1e-6 && Math.abs(r.hi - (m + half)) < 1e-6);
  assert.ok(r.significant && r.lo > 0);
  assert.ok(!pairedInterval([1, -1, 1, -1], [0, 0, 0, 0]).significant);
  // Two seeds that agree in sign (−3.76, −2.80, as a study page once showed) are not a clear difference.
  const two = pairedInterval([-3.76, -2.80], [0, 0]);
  assert.ok(!two.significant && two.lo < -9 && two.hi > 2, `[${two.lo}, ${two.hi}]`);
  assert.throws(() => pairedInterval([1], [1, 2]));
  // Identical differences on every seed: no spread, so no interval and no claim.
  const flat = pairedInterval([1.5, 2.5], [1, 2]);
  assert.ok(!flat.significant && Number.isNaN(flat.lo) && flat.mean === 0.5);
  assert.match(seedVarianceWarning([1.5, 2.5], [1, 2])!, /same difference/);
  // One seed: a difference of 0.5 is not evidence of anything, whatever its size.
  const one = pairedInterval([1], [0.5]);
  assert.equal(one.mean, 0.5); assert.ok(!one.significant && Number.isNaN(one.lo) && Number.isNaN(one.hi));
  assert.match(seedVarianceWarning([1], [0.5])!, /one seed/);
  assert.equal(meanStd([1, 3]).std, Math.SQRT2);
  assert.match(seedVarianceWarning([0, 2], [0.1, 2.1])!, /spread/);
  assert.equal(seedVarianceWarning(a, b), null);
});

test('evaluation KL sums log π − log π_ref over the response tokens only, not the prompt\'s', async () => {
  const { CausalLM } = await import('../../engine/models/model.js');
  const { scoreLogprobs } = await import('../../engine/models/sampler.js');
  const { responseKl } = await import('../../engine/experiments/runner.js');
  const cfg = { arch: 'gpt2' as const, vocabSize: 12, nPositions: 16, d: 16, nLayer: 1, nHead: 2, eps: 1e-5, activation: 'gelu_new' as const, bosTokenId: 10, eosTokenId: 11 };
  const policy = CausalLM.init(cfg, 1), ref = CausalLM.init(cfg, 2); // differ everywhere, prompt tokens included
  const prompts = [[10, 3], [10, 4, 5], [10, 6]], responses = [[1, 2, 11], [7], [8, 9]];
  const kl = await responseKl(policy, ref, prompts, responses, 11);
  for (let i = 0; i < prompts.length; i++) {
    // Scored alone (no padding): position t predicts token t+1, response token j sits at |prompt| + j.
    const seq = [...prompts[i]!, ...responses[i]!];
    const [lp] = await scoreLogprobs(policy, [seq]), [lr] = await scoreLogprobs(ref, [seq]);
    let resp = 0, all = 0;
    for (let t = 0; t < seq.length - 1; t++) { const d = lp![t]! - lr![t]!; all += d; if (t + 1 >= prompts[i]!.length) resp += d; }
    assert.ok(Math.abs(kl[i]! - resp) < 1e-5, `row ${i}: ${kl[i]} vs response-only ${resp}`);
    assert.ok(Math.abs(all - resp) > 1e-3, 'the prompt tokens\' log-ratios are not negligible here');
  }
});

test('evaluation scoring at a temperature gives the log-probs generate() sampled with; τ = 1 is the plain softmax', async () => {
  const { CausalLM } = await import('../../engine/models/model.js');
  const { generate, scoreLogprobs } = await import('../../engine/models/sampler.js');
  const { responseKl } = await import('../../engine/experiments/runner.js');
  const cfg = { arch: 'gpt2' as const, vocabSize: 12, nPositions: 16, d: 16, nLayer: 1, nHead: 2, eps: 1e-5, activation: 'gelu_new' as const, bosTokenId: 10, eosTokenId: 11 };
  const policy = CausalLM.init(cfg, 3), ref = CausalLM.init(cfg, 4);
  const prompts = [[10, 3], [10, 4, 5]];
  for (const temperature of [0.5, 1, 2]) {
    const g = await generate(policy, prompts, { maxNewTokens: 4, temperature, eosId: 11, padId: 11, seed: 7 });
    for (let i = 0; i < prompts.length; i++) {
      const seq = [...prompts[i]!, ...g.tokens[i]!];
      const [lp] = await scoreLogprobs(policy, [seq], 11, temperature);
      const resp = lp!.slice(prompts[i]!.length - 1);
      resp.forEach((x, j) => assert.ok(Math.abs(x - g.logprobs[i]![j]!) < 1e-4, `τ=${temperature} row ${i} token ${j}: ${x} vs sampled ${g.logprobs[i]![j]}`));
    }
    const kl = await responseKl(policy, ref, prompts, g.tokens, 11, temperature);
    const kl1 = await responseKl(policy, ref, prompts, g.tokens, 11);
    if (temperature === 1) assert.deepEqual(kl, kl1);
    else assert.ok(kl.some((x, i) => Math.abs(x - kl1[i]!) > 1e-3), `the KL at τ=${temperature} is of the tempered distributions`);
  }
  await assert.rejects(scoreLogprobs(policy, [[10, 3]], 11, 0), /temperature must be positive/);
});

test('the exported report detects a hacking onset with the evaluation noise, as the runner and the run views do', async () => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const { openStore } = await import('../../engine/store/index.js');
  const { buildReportModel } = await import('../../engine/report/model.js');
  const { parseSpec } = await import('../../engine/experiments/spec.js');
  const { runView } = await import('../../engine/service/summary.js');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-onset-'));
  const store = openStore({ dataDir: dir });
  try {
    const spec = parseSpec({ objectives: [{ name: 'single', kind: 'single' }], seeds: [0] });
    const exp = store.experiments.create({ name: 'onset', spec: spec as unknown as Record<string, unknown> });
    const run = store.runs.create({ experimentId: exp.id, objective: 'single', seed: 0, config: { objective: spec.objectives[0] } });
    // Gold dips 0.15 below its best (more than the 0.1 margin) while the proxy rises, but each gold mean
    // has a standard error of 0.2: the dip is within twice the noise, so it is not an onset.
    const evals = [[0, 1.0, 0.0, 0], [5, 1.5, 1.0, 1], [10, 1.35, 2.0, 2]] as const;
    for (const [step, gold, proxy, kl] of evals) store.metrics.append(run.id, step, { 'eval/gold': gold, 'eval/gold_se': 0.2, 'eval/proxy': proxy, 'eval/kl': kl });
    store.runs.update(run.id, { status: 'finished' });
    const noisy = evals.map(([step, gold, proxy, kl]) => ({ step, gold, proxy, kl, goldSe: 0.2 }));
    assert.equal(hackingOnset(noisy, spec.onsetMargin), null, 'the runner\'s criterion');
    assert.equal(runView(store, store.runs.get(run.id)!).onset ?? null, null, 'the run view');
    const model = await buildReportModel({ store, experimentId: exp.id });
    assert.equal(model.runs[0]!.onset, null, 'the report');
    assert.equal(model.summaries[0]!.onsets, 0);
  } finally {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
