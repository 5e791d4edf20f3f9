// Report export end to end: a tiny real study (3 objectives × 2 seeds, a λ sweep) run through the
// experiment runner, then HTML, CSV, JSON and PDF exports checked for structure and content — the
// HTML is well formed, holds its charts, verdict, methods and reproducibility block and no external
// URL; the CSV has one row per stored metric value; the PDF renders (skipped, with the reason, when
// Chromium is not installed). Also the CLI's JSON contract and its refusals.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../util/paths.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { parseSpec } from '../../engine/experiments/spec.js';
import { runExperiment } from '../../engine/experiments/runner.js';
import { exportReport, findChromium, renderHtml, buildReportModel, CSV_HEADER, type ReportModel } from '../../engine/report/index.js';
import { withReportPage } from '../../engine/report/pdf.js';
import { esc } from '../../engine/report/html.js';
import { objectiveStyles } from '../../common/objectives.js';
import { METRIC } from '../../common/metrics.js';
import { niceTicks, seriesStyle } from '../../engine/report/svg.js';
import { exportReports, listReports } from '../../engine/service/reports.js';

const NAME = 'tiny <study> & "quotes" https://example.org';
const spec = parseSpec({
  name: NAME,
  sft: { samples: 256, epochs: 1, batchSize: 64 },
  ensemble: { heads: 3, pairs: 256, valPairs: 64 },
  objectives: [{ name: 'single', kind: 'single' }, { name: 'robust', kind: 'robust', lambda: 0.4 }, { name: 'robust <0.2>, "wide"', kind: 'robust', lambda: 0.2 }],
  seeds: [0, 1],
  ppo: { iterations: 6, batchSize: 16, miniBatches: 2, epochs: 2 },
  eval: { every: 2, samples: 16 },
  checkpointEvery: 3,
});
const cli = path.join(repoRoot, 'bin/rrlhf.js');

let tmp: string, dataDir: string, out: string, store: Store, experimentId: number;
let files: { html?: string; csv?: string; json?: string };
let html: string, model: ReportModel;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-report-'));
  dataDir = path.join(tmp, 'data');
  out = path.join(tmp, 'out');
  await mkdir(out);
  store = openStore({ dataDir });
  const r = await runExperiment(spec, { store, dataDir });
  experimentId = r.experiment;
  const e = await exportReport({ store, dataDir, experimentId, out: { html: path.join(out, 'r.html'), csv: path.join(out, 'r.csv'), json: path.join(out, 'r.json') } });
  files = e;
  model = e.model;
  html = await readFile(e.html!, 'utf8');
});

after(async () => {
  store?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);

/** A small well-formedness check: every non-void tag closes in order, no stray '<' or '&'. */
function checkWellFormed(doc: string): void {
  assert.match(doc, /^<!DOCTYPE html>\n<html lang="en">/);
  const body = doc.replace(/<!DOCTYPE html>/, '').replace(/<style>[\s\S]*?<\/style>/, '<style></style>');
  const stack: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[^\s=>/]+(?:="[^"]*")?)*)\s*(\/?)>/g;
  let last = 0, m: RegExpExecArray | null;
  while ((m = re.exec(body))) {
    const between = body.slice(last, m.index);
    assert.ok(!between.includes('<'), `stray "<" before offset ${m.index}: ${JSON.stringify(between.slice(between.indexOf('<'), between.indexOf('<') + 40))}`);
    assert.ok(!/&(?!(amp|lt|gt|quot|#39|#47|#\d+);)/.test(between), `unescaped "&" near offset ${m.index}: ${JSON.stringify(between.slice(0, 80))}`);
    last = re.lastIndex;
    const [, close, tag, , self] = m;
    const t = tag!.toLowerCase();
    if (self || (!close && VOID.has(t))) continue;
    if (close) {
      const open = stack.pop();
      assert.equal(open, t, `</${t}> closes <${open}> at offset ${m.index}`);
    } else stack.push(t);
  }
  assert.ok(!body.slice(last).includes('<'), 'stray "<" after the last tag');
  assert.deepEqual(stack, [], `unclosed tags: ${stack.join(', ')}`);
}

function section(id: string): string {
  const i = html.indexOf(`<section id="${id}"`);
  assert.ok(i >= 0, `section #${id} is missing`);
  return html.slice(i, html.indexOf('</section>', i));
}

test('the HTML is well formed, self-contained and escapes user text', () => {
  checkWellFormed(html);
  assert.doesNotMatch(html, /https?:\/\//, 'no external URL anywhere');
  assert.doesNotMatch(html, /<script|<link|<img|<iframe|@import|url\(/i, 'no scripts, stylesheets, images or url() references');
  assert.ok(html.includes('Content-Security-Policy'));
  assert.ok(!html.includes('<study>') && html.includes('&lt;study&gt;'), 'the experiment name is escaped');
  assert.ok(!html.includes('robust <0.2>') && html.includes('robust &lt;0.2&gt;'), 'objective names are escaped');
});

test('the HTML holds the Goodhart curves with one line per objective, and the other charts', () => {
  const curves = section('curves');
  assert.ok((curves.match(/<svg class="chart"/g) ?? []).length >= 4, 'gold and proxy against step and √KL');
  for (const o of model.objectives) {
    const n = curves.split(`data-series="${esc(o.label)}"`).length - 1;
    assert.ok(n >= 4, `objective ${o.name}: a line in each of the 4 Goodhart charts (found ${n})`);
  }
  assert.ok(curves.includes('class="band"'), 'seed bands are shaded');
  assert.ok(curves.includes('√KL'), 'an x axis in √KL');
  assert.ok((html.match(/<svg class="chart"/g) ?? []).length >= 10, 'Goodhart, bars, λ sweep, training and ensemble charts');
  assert.ok(section('lambda').includes('λ'), 'the λ sweep is shown when robust objectives differ in λ');
  assert.ok(section('ensemble').includes('Calibration'), 'the calibration plot');
});

test('verdict, methods, per-seed table, gallery and reproducibility are present', () => {
  const verdict = section('verdict');
  assert.ok(verdict.includes(esc(model.verdict)), 'the verdict sentence');
  assert.match(model.verdict, /Robust RLHF \(λ = 0\.4\) ended with (higher|lower|the same)/);
  assert.match(model.verdict, /standard RLHF/);
  const methods = section('methods');
  for (const s of ['Goodhart lab', 'PPO for 6 iterations of 16', 'BRME', '3 Gaussian heads', '0.4·nominal + 0.6·min', 'seeds (0 and 1)', 'whitened', 'Gold', 'Nominal']) {
    assert.ok(methods.includes(esc(s)), `methods mention "${s}"`);
  }
  const cmp = section('comparison');
  assert.ok(cmp.includes('95% CI'), 'a confidence interval');
  const runs = section('runs');
  for (const r of model.runs) assert.ok(runs.includes(`<td class="n">${r.id}</td>`), `run ${r.id} in the per-run table`);
  assert.ok(model.gallery.length > 0 && section('samples').includes('Per-head reward'), 'hacked samples with per-head rewards');
  const repro = section('repro');
  for (const s of [model.reproducibility.specHash!, 'ONNX Runtime', model.reproducibility.ortVersions[0]!, 'Seeds', 'base-policy/model.safetensors', 'cpu']) {
    assert.ok(repro.includes(esc(s)), `reproducibility block mentions ${s}`);
  }
  // Each run records how its device was chosen; these ran on an explicit cpu.
  assert.deepEqual(model.reproducibility.deviceNotes, ['cpu']);
  assert.ok(repro.includes('Device choice'));
});

test('the report model: summaries, paired comparisons, matched KL, λ sweep, ensemble', () => {
  assert.equal(model.runs.length, 6);
  assert.equal(model.objectives.length, 3);
  // Colours by meaning, as in the app: standard (single) vermillion, the first robust objective blue.
  assert.deepEqual(model.objectives.map((o) => [o.kind, seriesStyle(o.style).color]), [['single', '#D55E00'], ['robust', '#0072B2'], ['robust', '#E69F00']]);
  assert.deepEqual(objectiveStyles(['mean', 'wco', 'nominal', 'single', 'robust', 'uwo', 'softmin', 'gold']), [4, 3, 2, 1, 0, 5, 6, 4]);
  assert.equal(model.comparisons.length, 2);
  for (const c of model.comparisons) {
    assert.equal(c.n, 2);
    assert.equal(c.perSeed.length, 2);
    assert.ok(c.mean !== null && Math.abs(c.mean - (c.perSeed[0]!.diff + c.perSeed[1]!.diff) / 2) < 1e-12);
    assert.ok(c.lo! <= c.mean! && c.mean! <= c.hi!);
  }
  for (const r of model.runs) {
    assert.deepEqual(r.evals.map((e) => e.step), [0, 2, 4, 6]);
    assert.equal(r.final!.step, 6);
    assert.ok(r.peak!.gold >= r.final!.gold);
  }
  assert.deepEqual(model.lambdaSweep!.map((r) => r.lambda), [0.2, 0.4]);
  assert.ok(model.matchedKl && model.matchedKl.kls.length > 0);
  assert.equal(model.ensemble!.heads, 3);
  assert.equal(model.ensemble!.accuracy.perHead.length, 3);
  // The runner logged the heads' spread at every evaluation (steps 0, 2, 4, 6), and the report sets it beside the held-out figure.
  for (const r of store.runs.list({ experimentId })) {
    const pts = store.metrics.series([r.id], METRIC.evalMemberStd)[0]?.points ?? [];
    assert.deepEqual(pts.map((p) => p.step), [0, 2, 4, 6], `run ${r.id} eval/member_std steps`);
    assert.ok(pts.every((p) => Number.isFinite(p.y) && p.y! >= 0), `run ${r.id} eval/member_std values`);
  }
  assert.equal(model.ensemble!.onPolicy.length, 3);
  assert.ok(model.ensemble!.onPolicy.every((d) => d.start.n === 2 && d.end.n === 2 && d.relativeEnd !== null));
  // Every run starts from π₀ and is evaluated at step 0 on its seed's prompts, so the start is shared by objectives.
  assert.ok(model.ensemble!.onPolicy.every((d) => Math.abs(d.start.mean! - model.ensemble!.onPolicy[0]!.start.mean!) < 1e-9));
  assert.match(html, /On-policy disagreement/);
  assert.ok(model.curves.eval.every((c) => c.gold.length === 4 && c.goldVsSqrtKl.length === 4));
  assert.ok(model.curves.train['objective/kl']!.length === 3);
});

test('CSV: header and one row per stored metric value; JSON is the report model', async () => {
  const csv = await readFile(files.csv!, 'utf8');
  const lines = csv.split('\r\n');
  assert.equal(lines.pop(), '', 'ends with a line break');
  assert.equal(lines[0], CSV_HEADER.join(','));
  const ids = model.runs.map((r) => r.id);
  const stored = store.db.prepare(`SELECT COUNT(*) FROM metrics WHERE run_id IN (${ids.map(() => '?').join(',')})`).pluck().get(...ids) as number;
  assert.equal(lines.length - 1, stored);
  const quoted = lines.filter((l) => l.includes(',"robust <0.2>, ""wide""",'));
  assert.ok(quoted.length > 0 && lines.slice(1).filter((l) => !l.includes('"')).every((l) => l.split(',').length === 6));
  const first = lines.find((l) => l.includes(',eval/gold,'))!.split(',');
  const [runId, , seed, step, , value] = first;
  const r = model.runs.find((x) => x.id === Number(runId))!;
  assert.equal(Number(seed), r.seed);
  assert.equal(Number(value), r.evals.find((e) => e.step === Number(step))!.gold);
  const json = JSON.parse(await readFile(files.json!, 'utf8')) as ReportModel;
  assert.equal(json.schema, 'rrlhf-report/1');
  assert.equal(json.verdict, model.verdict);
  assert.equal(json.runs.length, 6);
  assert.deepEqual((await readdir(out)).filter((f) => f.endsWith('.tmp')), [], 'no temporary files left');
});

test('a report on chosen runs (no experiment id) and the output-path checks', async () => {
  const pick = model.runs.filter((r) => r.seed === 0).map((r) => r.id);
  const m = await buildReportModel({ store, dataDir, runIds: pick });
  assert.equal(m.runs.length, 3);
  assert.equal(m.experiment?.id, experimentId, 'runs of one experiment keep its spec');
  assert.equal(m.comparisons[0]!.n, 1);
  assert.ok(m.comparisons[0]!.lo === null && !m.comparisons[0]!.significant && /one seed/.test(m.comparisons[0]!.warning!));
  checkWellFormed(renderHtml(m));
  await assert.rejects(exportReport({ store, dataDir, experimentId, out: { html: path.join(tmp, 'missing', 'r.html') } }), /does not exist/);
  await assert.rejects(exportReport({ store, dataDir, experimentId, out: { html: out } }), /is a folder/);
  await assert.rejects(exportReport({ store, dataDir, experimentId, out: { html: path.join(out, 'a'), csv: path.join(out, 'a') } }), /same file/);
  await assert.rejects(exportReport({ store, dataDir, experimentId: 999, out: { html: path.join(out, 'x.html') } }), /experiment 999 does not exist/);
  assert.deepEqual(niceTicks(0.03, 0.97, 5).ticks.map((v) => Number(v.toFixed(9))), [0, 0.2, 0.4, 0.6, 0.8, 1]);
});

test('exporting twice into one chosen folder keeps the first report: the second goes into a new folder inside it', async () => {
  const chosen = path.join(tmp, 'chosen');
  const first = await exportReports(store, dataDir, { experimentId, formats: ['html', 'json'], folder: chosen });
  assert.equal(first.folder, chosen, 'an empty (here: missing) folder is used as chosen');
  const before = await readFile(path.join(chosen, 'report.json'), 'utf8');
  const pick = model.runs.filter((r) => r.seed === 1).map((r) => r.id);
  const second = await exportReports(store, dataDir, { runIds: pick, formats: ['json'], folder: chosen });
  assert.equal(path.dirname(second.folder), chosen, 'a new folder inside the chosen one');
  assert.match(path.basename(second.folder), /^runs-/);
  assert.equal(await readFile(path.join(chosen, 'report.json'), 'utf8'), before, 'the first report is untouched');
  assert.equal((JSON.parse(await readFile(second.files[0]!.path, 'utf8')) as ReportModel).runs.length, pick.length);
  const listed = listReports(store).filter((r) => r.id === first.id || r.id === second.id);
  assert.deepEqual(listed.map((r) => r.folder).sort(), [chosen, second.folder].sort(), 'both stay listed with their own files');
});

test('chosen runs must share a world: name, world seed, dataset and gold judge', async () => {
  const run = model.runs[0]!;
  const world = store.runs.get(run.id)!.config.world as Record<string, unknown>;
  const other = (w: Record<string, unknown>) => store.runs.create({ objective: 'single', seed: 0, config: { ...store.runs.get(run.id)!.config, world: w } }).id;
  const reseeded = other({ ...world, seed: 7 });
  await assert.rejects(exportReports(store, dataDir, { runIds: [run.id, reseeded], formats: ['json'] }),
    new RegExp(`different worlds \\(run ${run.id} on goodhart-lab \\(world seed 0\\); run ${reseeded} on goodhart-lab \\(world seed 7\\)\\)`));
  const judged = other({ name: 'dataset', datasetId: 1, modelDir: '/m', gold: { rewardModelDir: '/judge-a' } });
  const judgedOther = other({ name: 'dataset', datasetId: 1, modelDir: '/m', gold: { rewardModelDir: '/judge-b' } });
  await assert.rejects(exportReports(store, dataDir, { runIds: [judged, judgedOther], formats: ['json'] }), /imported dataset 1 judged by \/judge-a; .*imported dataset 1 judged by \/judge-b/);
});

test('rrlhf report: JSON contract, exit codes and refusals', async () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'report', ...args, '--data-dir', dataDir], { encoding: 'utf8' });
  const h = path.join(out, 'cli.html'), c = path.join(out, 'cli.csv');
  const ok = run(`exp:${experimentId}`, '--out', h, '--csv', c, '--json');
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout), { html: h, csv: c });
  assert.ok((await stat(h)).size > 10_000);
  const byRun = run(String(model.runs[0]!.id), String(model.runs[1]!.id), '--out', h, '--json');
  assert.equal(byRun.status, 0, byRun.stderr);
  assert.deepEqual(JSON.parse(byRun.stdout), { html: h });
  const flag = run(String(experimentId), '--experiment', '--out', h, '--json');
  assert.equal(flag.status, 0, flag.stderr);
  const bad = run('banana', '--out', h, '--json');
  assert.equal(bad.status, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /not a run or experiment id/);
  const noOut = run(`exp:${experimentId}`, '--json');
  assert.equal(noOut.status, 2);
  const dir = run(`exp:${experimentId}`, '--out', out, '--json');
  assert.notEqual(dir.status, 0);
  assert.match(dir.stderr, /is a folder/);
  const missing = run('exp:999', '--out', h, '--json');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /experiment 999 does not exist/);
});

test('PDF prints through Chromium, and the HTML renders there with every chart', async (t) => {
  const exe = await findChromium();
  if (!exe) {
    const reason = 'Chromium is not installed (apt-get install -y chromium); PDF export not tested';
    console.log(`# skipped: ${reason}`);
    t.skip(reason);
    return;
  }
  const pdfFile = path.join(out, 'r.pdf');
  const r = await exportReport({ store, dataDir, experimentId, out: { pdf: pdfFile } });
  assert.equal(r.pdf, pdfFile);
  const pdf = await readFile(pdfFile);
  assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
  const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page(?![a-z])/g) ?? []).length;
  assert.ok(pages > 1 || pdf.length > 50_000, `a multi-page PDF (pages ${pages}, ${pdf.length} bytes)`);
  const seen = await withReportPage(html, async (page) => page.evaluate(() => ({
    charts: document.querySelectorAll('svg.chart').length,
    series: document.querySelectorAll('#curves polyline.series').length,
    verdict: document.querySelector('#verdict .lead')?.textContent ?? '',
    h2: [...document.querySelectorAll('h2')].map((e) => e.textContent),
    scripts: document.scripts.length,
  })));
  assert.ok(seen.charts >= 10);
  assert.ok(seen.series >= 4 * model.objectives.length);
  assert.equal(seen.verdict, model.verdict);
  assert.equal(seen.scripts, 0);
  for (const h of ['Goodhart curves', 'Ensemble diagnostics', 'Hacked samples', 'Methods', 'Reproducibility']) assert.ok(seen.h2.includes(h), `heading ${h}`);
});
