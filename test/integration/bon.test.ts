// Best-of-n on real policies and ensembles (docs/method.md § Best-of-n): the Goodhart lab's π₀ with
// independent reward models trained here, real ORT sampling and scoring, real SQLite; then the CLI's
// --json contract, the stored record through the service API, a stored run's policy, and refusals.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../util/paths.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { resolveSource, runBon, type BonResult } from '../../engine/experiments/bon.js';
import { bestOfN, bestOfNSampled, bonCurves, bonNs, drawScored } from '../../engine/rlhf/bon.js';
import { aggregate } from '../../engine/rlhf/aggregate.js';
import { Rng } from '../../engine/runtime/params.js';
import { parseSpec } from '../../engine/experiments/spec.js';
import { runExperiment } from '../../engine/experiments/runner.js';
import { Service } from '../../engine/service/api.js';
import { buildReportModel, renderHtml } from '../../engine/report/index.js';
import { fmt, signed } from '../../common/format.js';

const bin = path.join(repoRoot, 'bin', 'rrlhf.js');
let dataDir: string, store: Store;
const rrlhf = (...args: string[]) => { const r = spawnSync(process.execPath, [bin, ...args, '--data-dir', dataDir], { encoding: 'utf8' }); return { code: r.status, stdout: r.stdout, stderr: r.stderr }; };
// Three independent Bradley–Terry models on 1000 pairs: small enough for a test, and member 0 alone
// (the "single" objective) is overoptimised by best-of-256 on world seed 0.
const WORLD = { kind: 'world' as const, name: 'goodhart-lab', seed: 0, settings: {}, ensemble: { method: 'independent', heads: 3, pairs: 1000 } };
const obj = (k: 'single' | 'wco' | 'mean' | 'gold') => ({ name: k, config: { kind: k } });

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-bon-'));
  store = openStore({ dataDir });
});
after(async () => { store.close(); await rm(dataDir, { recursive: true, force: true }); });

test('on the Goodhart lab the estimator matches random subsets of the real samples, and a single reward model is overoptimised', async () => {
  const r = await resolveSource(WORLD, { store, dataDir });
  assert.equal(r.hasGold, true);
  const src = await r.forSeed(0, () => {});
  const N = 256;
  const groups = await drawScored({ ...src, prompts: src.prompts.slice(0, 8) }, N, 0);
  assert.equal(groups.length, 8);
  assert.equal(groups[0]!.scores.mu.length, N);
  assert.equal(groups[0]!.scores.mu[0]!.length, 3);
  // The estimator against drawing subsets, on one prompt's real scores (ties included, as they occur).
  const g = groups[0]!;
  const single = aggregate({ ...g.scores, gold: g.gold }, { kind: 'single' });
  const rng = new Rng(1);
  for (const n of [4, 32, 128]) {
    const [[, est]] = bestOfN(single, [single, g.gold], [n]) as [number[]];
    const [mc] = bestOfNSampled(single, [g.gold], n, 20000, rng);
    assert.ok(Math.abs(est! - mc!) < 0.1, `n=${n}: estimator ${est} vs sampled subsets ${mc}`);
  }
  const ns = bonNs(N);
  const curves = bonCurves(groups, [obj('single'), obj('wco'), obj('gold')], ns);
  const s = curves.get('single')!, oracle = curves.get('gold')!;
  // The proxy of the chosen sample rises with n, always.
  for (let j = 1; j < ns.length; j++) assert.ok(s.proxy[j]! > s.proxy[j - 1]!, `proxy rises at n=${ns[j]}: ${s.proxy}`);
  // Gold does not: it peaks and falls back by more than half a unit at n = 256 (the gap opens).
  const peak = Math.max(...s.gold);
  assert.ok(s.gold.indexOf(peak) < ns.length - 1 && peak - s.gold[ns.length - 1]! > 0.5, `single's gold turns over: ${s.gold.map((x) => x.toFixed(2))}`);
  assert.ok(s.gold[ns.indexOf(8)]! > s.gold[0]! + 0.5, 'a little selection helps first');
  // Choosing by gold is the upper bound at every n; n = 1 is the same sample whoever chooses.
  ns.forEach((_, j) => assert.ok(oracle.gold[j]! >= s.gold[j]! - 1e-9 && oracle.gold[j]! >= curves.get('wco')!.gold[j]! - 1e-9));
  assert.ok(Math.abs(s.gold[0]! - oracle.gold[0]!) < 1e-9);
});

let bonId = 0;
test('rrlhf bon --world --json: curves with intervals over seeds, the fit, stored and read back through the API', async () => {
  const r = rrlhf('bon', '--world', 'goodhart-lab', '--method', 'independent', '--heads', '3', '--n', '64', '--prompts', '4', '--seeds', '2', '--objectives', 'single,wco,mean', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /best-of-n \d+: N = 64/);
  const j = JSON.parse(r.stdout) as BonResult & { id: number; wall_s: number };
  bonId = j.id;
  assert.deepEqual(j.seeds, [0, 1]);
  assert.deepEqual(j.objectives.map((o) => o.name), ['single', 'wco', 'mean']);
  assert.equal(j.baseline, 'single');
  for (const o of j.objectives) {
    assert.deepEqual(o.curve.map((p) => p.n), [1, 2, 4, 8, 16, 32, 64]);
    assert.ok(Math.abs(o.curve[6]!.kl_bon - (Math.log(64) - 63 / 64)) < 1e-12);
    for (const p of o.curve) {
      assert.ok(p.gold && Number.isFinite(p.gold.mean) && Number.isFinite(p.proxy.mean));
      if (p.n > 1) assert.ok(p.gold.lo! <= p.gold.mean && p.gold.mean <= p.gold.hi!, 'a t interval around the mean over 2 seeds');
    }
    assert.equal(o.per_seed.length, 2);
    assert.ok(o.fit && Number.isFinite(o.fit.alpha) && Number.isFinite(o.fit.r2));
  }
  assert.ok(j.objectives[1]!.curve[3]!.gold_vs_baseline, 'objectives other than the baseline are compared to it, paired by seed');
  // The same N samples per seed: at n = 1 every objective's gold is the same number.
  assert.ok(Math.abs(j.objectives[0]!.curve[0]!.gold!.mean - j.objectives[2]!.curve[0]!.gold!.mean) < 1e-9);

  const service = Service.open({ dataDir });
  try {
    const list = await service.call('bon.list', {});
    assert.ok(list.ok);
    const rows = list.result as { id: number; status: string; result?: unknown }[];
    assert.equal(rows[0]!.id, bonId);
    assert.equal(rows[0]!.status, 'finished');
    const got = await service.call('bon.get', { id: bonId });
    assert.ok(got.ok);
    const rec = got.result as { result: BonResult; source: { kind: string } };
    assert.equal(rec.source.kind, 'world');
    assert.deepEqual(rec.result.objectives[0]!.curve, j.objectives[0]!.curve);
    const missing = await service.call('bon.get', { id: 9999 });
    assert.ok(!missing.ok && missing.status === 404);
    const bad = await service.call('bon.run', { source: { kind: 'world', name: 'goodhart-lab' }, n: 0 });
    assert.ok(!bad.ok && bad.status === 400 && /n/.test(bad.error));
    const extra = await service.call('bon.run', { source: { kind: 'run', runId: 1, extra: 1 } });
    assert.ok(!extra.ok && extra.status === 400);
    const noRun = await service.call('bon.run', { source: { kind: 'run', runId: 4242 } });
    assert.ok(!noRun.ok && noRun.status === 404, noRun.ok ? '' : noRun.error);
  } finally { await service.close(); }
});

test('rrlhf bon refusals: exit 2 for usage, 1 with the reason for a missing run; nothing is recorded', () => {
  const before = store.bon.list().length;
  const both = rrlhf('bon', '--world', 'goodhart-lab', '--run', '3');
  assert.equal(both.code, 2); assert.match(both.stderr, /exactly one of --world NAME, --run ID and --model DIR/);
  const world = rrlhf('bon', '--world', 'nowhere');
  assert.equal(world.code, 2); assert.match(world.stderr, /--world must be one of goodhart-lab, text-reviews/);
  const obj = rrlhf('bon', '--world', 'goodhart-lab', '--objectives', 'single,best');
  assert.equal(obj.code, 2); assert.match(obj.stderr, /unknown: best/);
  const runOnly = rrlhf('bon', '--run', '3', '--label-noise', '0.25');
  assert.equal(runOnly.code, 2); assert.match(runOnly.stderr, /--label-noise applies to --world only/);
  const noRun = rrlhf('bon', '--run', '4242', '--json');
  assert.equal(noRun.code, 1); assert.equal(noRun.stdout, ''); assert.match(noRun.stderr, /run 4242 does not exist/);
  const noEns = rrlhf('bon', '--model', repoRoot, '--ensemble', '77');
  assert.equal(noEns.code, 1); assert.match(noEns.stderr, /no ensemble 77/);
  assert.equal(store.bon.list().length, before);
});

test("best-of-n on a stored run's policy (its last checkpoint) with its study's ensemble", async () => {
  const spec = parseSpec({
    name: 'bon run source', seeds: [0], objectives: [{ name: 'single', kind: 'single' }],
    sft: { samples: 256, epochs: 1 }, ensemble: { heads: 2, pairs: 200, valPairs: 64 },
    ppo: { iterations: 2, batchSize: 16 }, eval: { every: 2, samples: 16 }, checkpointEvery: 2,
  });
  const res = await runExperiment(spec, { store, dataDir });
  const runId = res.runs[0]!.id;
  const r = await runBon({ kind: 'run', runId }, { store, dataDir, N: 16, prompts: 4, seeds: [0, 1], objectives: [obj('single'), obj('mean')] });
  assert.equal(r.source.run, runId);
  assert.equal(r.source.step, 2, "the policy is the run's last checkpoint, not π₀");
  assert.equal(r.has_gold, true);
  assert.deepEqual(r.ns, [1, 2, 4, 8, 16]);
  assert.ok(r.objectives.every((o) => o.curve.every((p) => Number.isFinite(p.gold!.mean))));
  // The CLI on the same run stores it under the run.
  const c = rrlhf('bon', '--run', String(runId), '--n', '8', '--prompts', '2', '--seeds', '2', '--objectives', 'single', '--json');
  assert.equal(c.code, 0, c.stderr);
  assert.equal(store.bon.list({ runId }).length, 1);
});

test("the study's report has a Best-of-n section: the results on its runs and on its world, with charts and the table by n", async () => {
  const runId = store.bon.list().find((b) => b.runId !== null)!.runId!;
  const experimentId = store.runs.get(runId)!.experimentId!;
  const m = await buildReportModel({ store, dataDir, experimentId, now: new Date('2026-01-01T00:00:00Z') });
  assert.ok(m.bestOfN, 'the report gathers best-of-n results');
  // The CLI's world result (goodhart-lab, world seed 0, like this study) and the one on the study's run.
  assert.deepEqual(m.bestOfN.map((b) => b.relation), ["on this study's world (goodhart-lab, world seed 0)", `on run ${runId}'s policy`]);
  const world = m.bestOfN[0]!;
  assert.equal(world.id, bonId);
  const html = renderHtml(m);
  assert.match(html, /<section id="bon">\n<h2>Best-of-n<\/h2>/);
  assert.match(html, /<a href="#bon">Best-of-n<\/a>/);
  assert.ok(html.includes(`<h3 id="bon-${bonId}">best-of-64 on goodhart-lab (best-of-n ${bonId}, on this study`), 'a heading per result');
  const section = html.slice(html.indexOf('<section id="bon">'), html.indexOf('</section>', html.indexOf('<section id="bon">')));
  assert.equal((section.match(/<svg class="chart"/g) ?? []).length, 3, 'gold vs KL_bon and gold vs the baseline for the world result, gold only for the run result (one objective)');
  assert.match(section, /aria-label="gold of the sample each objective chooses among n, against KL_bon; shaded: 95 % Student-t intervals over 2 seeds/);
  // The table by n: the last row's wco − single cell is the stored paired interval, as fmt writes it.
  const v = world.result.objectives[1]!.curve.at(-1)!.gold_vs_baseline!;
  const cell = `${signed(v.mean)} [${fmt(v.lo)}, ${fmt(v.hi)}]`;
  assert.ok(section.includes(`>${cell}</td><td class="n`), `the table shows ${cell}`);
  assert.match(section, /<td class="n">64<\/td><td class="n">3\.17<\/td>/, 'n = 64 at KL_bon = log 64 − 63/64');
  // At n = 1 every objective takes the same samples: the differences are 0, never marked as significant.
  const first = section.slice(section.indexOf('<td class="n">1</td><td class="n">0</td>'));
  assert.ok(first.length < section.length, 'the row for n = 1');
  assert.ok(!first.slice(0, first.indexOf('</tr>')).includes(' sig'), first.slice(0, first.indexOf('</tr>')));
  assert.match(section, /single: gold − gold\(n = 1\) ≈ d\(α − β·d\) with α = /);
  // Without results the section is left out.
  for (const b of store.bon.list()) store.bon.delete(b.id);
  const none = await buildReportModel({ store, dataDir, experimentId });
  assert.equal(none.bestOfN, null);
  assert.ok(!renderHtml(none).includes('id="bon"'));
});
