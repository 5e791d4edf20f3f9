// The reproductions behind docs/science.md (docs/science.md § How to rerun). Not a test: it runs
// studies through the same runner and best-of-n code the app uses and prints what came out, including
// what does not reproduce.
//
//   npm run build && node scripts/science.mjs --study gao|coste|paper|defaults|validate|eisenstein|all
//        [--worlds 0-7] [--steps 60] [--data-dir DIR] [--out FILE.md] [--figures DIR]
//
// Replication is over Goodhart-lab WORLD seeds: each world seed is a new world (token values, coherence,
// π₀'s chain), a new π₀ trained by SFT, new preference data, new reward models and a new PPO seed, so
// an interval over world seeds covers every source of randomness, not only PPO's. Within a world seed
// every objective shares all of that and differs only in how the ensemble is aggregated, so objectives
// are paired by world seed (Student-t interval of the mean difference, n − 1 df).
//
// Development world seeds (0–7 by default) are the evidence the Quick preset's setting was chosen on;
// `--study validate` runs that preset on world seeds 100–104, which were not looked at before the choice.
import { parseArgs } from 'node:util';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../dist/engine/store/index.js';
import { parseSpec } from '../dist/engine/experiments/spec.js';
import { runExperiment, resumeExperiment } from '../dist/engine/experiments/runner.js';
import { runBon } from '../dist/engine/experiments/bon.js';
import { presetSpec } from '../dist/engine/service/presets.js';
import { pairedInterval, meanStd } from '../dist/engine/experiments/stats.js';
import { fitRl } from '../dist/engine/rlhf/bon.js';
import { lineChart, barChart } from '../dist/engine/report/svg.js';
import { METRIC } from '../dist/common/metrics.js';

const { values } = parseArgs({ options: {
  study: { type: 'string', default: 'all' }, worlds: { type: 'string' }, steps: { type: 'string', default: '60' },
  'data-dir': { type: 'string' }, out: { type: 'string' }, figures: { type: 'string' }, bon: { type: 'string', default: '256' },
} });
const range = (s) => s.split(',').flatMap((p) => { const [a, b] = p.split('-').map(Number); return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i); });
const DEV_WORLDS = range(values.worlds ?? '0-7');
const VALIDATION_WORLDS = range('100-104');
const steps = Number(values.steps);
const bonN = Number(values.bon);
const dataDir = values['data-dir'] ?? mkdtempSync(path.join(os.tmpdir(), 'rrlhf-science-'));
const figDir = values.figures ?? null;
if (figDir) mkdirSync(figDir, { recursive: true });
const store = openStore({ dataDir });
const t0 = Date.now();
const log = (m) => process.stderr.write(`[science ${((Date.now() - t0) / 1000).toFixed(0)}s] ${m}\n`);

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const ci = (r) => `${fmt(r.mean)} [${fmt(r.lo)}, ${fmt(r.hi)}]${r.significant ? ' *' : ''}`;
const svgFile = (name, svg) => {
  if (!figDir) return '';
  writeFileSync(path.join(figDir, name), svg.replace('<svg ', '<svg xmlns="http://www.w3.org/2000/svg" '));
  return `![${name}](science/${name})`;
};

// ---- replicated studies ------------------------------------------------------------------------

const cache = new Map();
/** One study per world seed: the spec with that world seed and PPO seed 0. Returns, per objective,
 *  one record per world: final/peak/onset and the evaluation series; and the ensemble reports. */
async function replicate(label, raw, worlds) {
  const key = JSON.stringify({ raw, worlds, steps });
  if (cache.has(key)) return cache.get(key);
  const byObjective = new Map(), ensembles = [];
  for (const ws of worlds) {
    const spec = parseSpec({ ...raw, name: `science: ${label} (world ${ws})`, world: { name: 'goodhart-lab', seed: ws, settings: raw.world?.settings ?? {} }, seeds: [0], ppo: { iterations: steps, ...raw.ppo } }, 'science');
    log(`${label}: world ${ws} (${spec.objectives.length} objectives)`);
    // With --data-dir of an earlier invocation, a study already run with this exact spec is read back
    // (resume loads its π₀ and ensemble and skips finished runs), so the page can be re-rendered cheaply.
    const prior = store.experiments.findBySpec(spec).at(-1);
    const opts = { store, dataDir, onProgress: (e) => { if (e.phase !== 'ppo') log(`  ${e.message}`); } };
    const res = prior ? await resumeExperiment(prior.id, opts) : await runExperiment(spec, opts);
    ensembles.push(res.ensemble);
    for (const r of res.runs) {
      const series = (k) => store.metrics.series([r.id], k)[0].points.map((p) => p.y);
      const rec = { world: ws, id: r.id, final: r.final, peak: r.peak, onset: r.onset,
        gold: series(METRIC.evalGold), proxy: series(METRIC.evalProxy), kl: series(METRIC.evalKl),
        std: store.metrics.series([r.id], METRIC.ensembleStd)[0].points.map((p) => p.y),
        robust: store.metrics.series([r.id], METRIC.rewardRobust)[0].points.map((p) => p.y),
        nominal: store.metrics.series([r.id], METRIC.rewardNominal)[0].points.map((p) => p.y) };
      if (!byObjective.has(r.objective)) byObjective.set(r.objective, []);
      byObjective.get(r.objective).push(rec);
    }
  }
  const out = { label, worlds, byObjective, ensembles };
  cache.set(key, out);
  return out;
}

/** Rows of a comparison table: each entry { name, runs } against the baseline's runs (paired by world). */
function table(entries, baseline) {
  const lines = ['| objective | final gold (mean ± sd) | peak gold | final proxy | final KL | runs with an onset | Δ final gold vs standard [95% CI] | Δ peak gold [95% CI] |', '|---|---|---|---|---|---|---|---|'];
  const base = new Map(baseline.map((r) => [r.world, r]));
  for (const { name, runs } of entries) {
    const rs = runs.filter((r) => base.has(r.world));
    const fg = meanStd(rs.map((r) => r.final.gold));
    const isBase = runs === baseline;
    const d = isBase ? null : pairedInterval(rs.map((r) => r.final.gold), rs.map((r) => base.get(r.world).final.gold));
    const dp = isBase ? null : pairedInterval(rs.map((r) => r.peak.gold), rs.map((r) => base.get(r.world).peak.gold));
    lines.push(`| ${name} | ${fmt(fg.mean)} ± ${fmt(fg.std)} | ${fmt(meanStd(rs.map((r) => r.peak.gold)).mean)} | ${fmt(meanStd(rs.map((r) => r.final.proxy)).mean)} | ${fmt(meanStd(rs.map((r) => r.final.kl)).mean, 1)} | ${rs.filter((r) => r.onset !== null).length}/${rs.length} | ${d ? ci(d) : '–'} | ${dp ? ci(dp) : '–'} |`);
  }
  return lines.join('\n');
}

function ensembleLine(study) {
  const m = (f) => meanStd(study.ensembles.map(f).filter(Number.isFinite)).mean;
  return `Ensemble (mean over ${study.ensembles.length} worlds): held-out accuracy single ${fmt(m((e) => e.accuracy?.single), 3)}, nominal ${fmt(m((e) => e.accuracy?.nominal), 3)}, mean ${fmt(m((e) => e.accuracy?.mean), 3)}; head disagreement relative to the reward scale ${fmt(m((e) => e.relative_disagreement), 4)}.`;
}

/** Seed-mean curve of y against √KL over the evaluation steps (the runs share their evaluation steps). */
function meanCurve(runs, y = 'gold') {
  const n = Math.min(...runs.map((r) => r.gold.length));
  return Array.from({ length: n }, (_, j) => {
    const ys = runs.map((r) => r[y][j]), xs = runs.map((r) => Math.sqrt(Math.max(0, r.kl[j])));
    const iv = pairedInterval(ys, ys.map(() => 0));
    return { x: meanStd(xs).mean, y: iv.mean, lo: Number.isFinite(iv.lo) ? iv.lo : null, hi: Number.isFinite(iv.hi) ? iv.hi : null };
  });
}

const goldKlChart = (title, entries, y = 'gold') => lineChart({
  title, xLabel: '√KL(π ‖ π₀) (nats^½, seed mean)', yLabel: y === 'gold' ? 'gold reward (held-out)' : 'proxy reward (held-out)',
  series: entries.map(({ name, runs }, i) => ({ name, style: i, markers: true, points: meanCurve(runs, y) })),
  description: title,
});

const deltaBars = (title, entries, baseline) => {
  const base = new Map(baseline.map((r) => [r.world, r]));
  return barChart({
    title, yLabel: 'Δ final gold vs standard (95% CI)', width: Math.max(560, 120 * entries.length), height: 300,
    bars: entries.map(({ name, runs }, i) => {
      const diffs = runs.map((r) => r.final.gold - base.get(r.world).final.gold);
      const iv = pairedInterval(diffs, diffs.map(() => 0));
      return { label: name, value: iv.mean, lo: iv.lo, hi: iv.hi, dots: diffs, style: i + 1 };
    }),
    description: title,
  });
};

function bonTable(res) {
  const lines = [`| objective | ${res.ns.map((n) => `n=${n}`).join(' | ')} | peak n | gold(peak) − gold(N) [95% CI] | Gao fit α, β (R²) |`, `|---|${res.ns.map(() => '---').join('|')}|---|---|---|`];
  for (const o of res.objectives) {
    lines.push(`| ${o.name} | ${o.curve.map((p) => fmt(p.gold?.mean)).join(' | ')} | ${o.peak?.n ?? '–'} | ${o.peak ? ci(o.peak.drop_to_N) : '–'} | ${o.fit ? `${fmt(o.fit.alpha)}, ${fmt(o.fit.beta)} (${fmt(o.fit.r2)})` : '–'} |`);
  }
  const vs = res.objectives.slice(1).map((o) => `${o.name} ${ci(o.curve[o.curve.length - 1].gold_vs_baseline)}`);
  if (vs.length) lines.push('', `Gold at n = ${res.N} minus ${res.baseline}'s, paired by seed [95% CI]: ${vs.join('; ')}.`);
  return lines.join('\n');
}

const bonChart = (title, res) => lineChart({
  title, xLabel: '√KL_bon = √(log n − (n−1)/n)', yLabel: 'gold of the chosen sample',
  series: res.objectives.map((o, i) => ({ name: o.name, style: i, markers: true, points: o.curve.map((p) => ({ x: Math.sqrt(p.kl_bon), y: p.gold.mean, lo: p.gold.lo, hi: p.gold.hi })) })),
  description: title,
});

async function bon(label, source, objectives, seeds) {
  log(`${label}: best-of-${bonN} over ${seeds.length} seeds`);
  return runBon(source, { store, dataDir, objectives, N: bonN, prompts: 64, seeds, onProgress: (e) => { if (!e.phase) log(`  ${e.message}`); } });
}

// ---- the studies -------------------------------------------------------------------------------

const BRME_DIVERSE = { bootstrap: true, anchor: 1, stage2Loss: 'bt_per_head' };
const PAPER_OBJECTIVES = [
  { name: 'single', kind: 'single' },
  ...[0, 0.2, 0.4, 0.6, 0.8, 1].map((l) => ({ name: `robust λ=${l}`, kind: 'robust', lambda: l })),
  { name: 'mean', kind: 'mean' },
];
const paperBrme = () => replicate('paper BRME (MSE stage 2)', { objectives: PAPER_OBJECTIVES }, DEV_WORLDS);

async function gao() {
  const s = await replicate('Gao: single reward model, long PPO', { objectives: [{ name: 'single', kind: 'single' }], ppo: { iterations: steps * 2 } }, DEV_WORLDS);
  const runs = s.byObjective.get('single');
  // The turnover, read at the step where the seed-mean gold peaks (each run's own maximum would be
  // biased upwards by evaluation noise): gold there minus final gold, paired by world.
  const curve = meanCurve(runs);
  const jStar = curve.reduce((b, p, j) => (p.y > curve[b].y ? j : b), 0);
  const drop = pairedInterval(runs.map((r) => r.gold[jStar]), runs.map((r) => r.final.gold));
  const proxyRise = pairedInterval(runs.map((r) => r.final.proxy), runs.map((r) => r.proxy[0]));
  // Gao's RL form on the seed-mean curve, gold relative to π₀'s.
  const fit = fitRl(curve.map((p) => ({ kl: p.x * p.x, y: p.y - curve[0].y })));
  const b = await bon('Gao: best-of-n, single reward model', { kind: 'world', name: 'goodhart-lab', seed: 0, settings: {}, ensemble: {} }, [{ name: 'single', config: { kind: 'single' } }], DEV_WORLDS);
  return [
    '## Gao et al.: overoptimisation of one reward model',
    '',
    `PPO against a single Bradley–Terry reward model for ${steps * 2} iterations on ${runs.length} world seeds. The seed-mean gold peaks at ${fmt(curve[jStar].y)} (evaluation ${jStar} of ${curve.length - 1}, √KL ${fmt(curve[jStar].x)}) and ends at ${fmt(meanStd(runs.map((r) => r.final.gold)).mean)}: gold there − final gold ${ci(drop)}, while the proxy rose by ${ci(proxyRise)} over the run. ${runs.filter((r) => r.onset !== null).length}/${runs.length} runs have a sustained hacking onset. Gao's RL form R(d) = d(α − β ln d) fitted to the seed-mean gold gain: ${fit ? `α ${fmt(fit.alpha)}, β ${fmt(fit.beta)}, R² ${fmt(fit.r2)}, turnover at √KL ${fmt(fit.dPeak)}` : 'no fit'}.`,
    '',
    svgFile('gao-ppo-gold.svg', goldKlChart('Gold (solid) against √KL, single reward model', [{ name: 'gold', runs }])),
    svgFile('gao-ppo-proxy.svg', goldKlChart('Proxy against √KL, single reward model', [{ name: 'proxy', runs }], 'proxy')),
    '',
    `Best-of-n from π₀ (world seed 0; each seed retrains the reward model on its own preference pairs; 64 prompts, N = ${bonN}, Coste et al.'s unbiased estimator):`,
    '',
    bonTable(b),
    '',
    svgFile('gao-bon.svg', bonChart('Best-of-n gold against √KL_bon, single reward model', b)),
  ].join('\n');
}

async function coste() {
  const settings = { labels: 'flip', flipRate: 0.25 };
  const objs = [{ name: 'single', kind: 'single' }, { name: 'mean', kind: 'mean' }, { name: 'wco', kind: 'wco' }, { name: 'uwo', kind: 'uwo' }];
  const s = await replicate('Coste: 25% label flips, 5 independent members', { world: { settings }, ensemble: { method: 'independent' }, objectives: objs }, DEV_WORLDS);
  const entries = objs.map((o) => ({ name: o.name, runs: s.byObjective.get(o.name) }));
  const b = await bon('Coste: best-of-n with label noise', { kind: 'world', name: 'goodhart-lab', seed: 0, settings, ensemble: { method: 'independent' } }, objs.map((o) => ({ name: o.name, config: { kind: o.kind } })), DEV_WORLDS);
  return [
    '## Coste et al.: conservative ensembles under 25 % label noise',
    '',
    `Preference labels are the gold order flipped with probability 0.25; five independent Bradley–Terry members (bootstrap resamples, own seeds, centred); PPO at the default KL coefficient (0.02, small β), ${steps} iterations, ${DEV_WORLDS.length} world seeds. "single" is member 0 alone.`,
    '',
    table(entries, entries[0].runs),
    '',
    ensembleLine(s),
    '',
    svgFile('coste-ppo.svg', goldKlChart('PPO with label noise: gold against √KL', entries)),
    '',
    `Best-of-n (world seed 0, each seed its own preference data and members; 64 prompts, N = ${bonN}):`,
    '',
    bonTable(b),
    '',
    svgFile('coste-bon.svg', bonChart('Best-of-n with label noise: gold against √KL_bon', b)),
  ].join('\n');
}

async function paper() {
  const a = await paperBrme();
  const entries = PAPER_OBJECTIVES.map((o) => ({ name: o.name, runs: a.byObjective.get(o.name) }));
  const base = entries[0].runs;
  // Claim 3: over-scoring (rewards pushed up) hurts more than under-scoring.
  const pert = {};
  for (const direction of ['up', 'down']) {
    const p = await replicate(`paper: perturb ${direction}`, { objectives: [{ name: 'single', kind: 'single' }, { name: 'robust λ=0.4', kind: 'robust', lambda: 0.4 }], perturb: { fraction: 0.2, magnitude: 1, direction } }, DEV_WORLDS);
    pert[direction] = p;
  }
  const pertLines = ['| objective | no perturbation | 20 % pushed up by 1 | 20 % pushed down by 1 | up − down [95% CI] |', '|---|---|---|---|---|'];
  for (const name of ['single', 'robust λ=0.4']) {
    const g = (s) => s.byObjective.get(name).map((r) => r.final.gold);
    const none = a.byObjective.get(name).map((r) => r.final.gold);
    pertLines.push(`| ${name} | ${fmt(meanStd(none).mean)} | ${fmt(meanStd(g(pert.up)).mean)} | ${fmt(meanStd(g(pert.down)).mean)} | ${ci(pairedInterval(g(pert.up), g(pert.down)))} |`);
  }
  // Flattening: does the heads' disagreement on the training rollouts grow as the policy moves away from
  // π₀, and does the robust reward then climb less than the nominal one?
  const flatLines = ['| objective | ensemble/std, first 5 iterations | last 5 iterations | change [95% CI] | nominal − robust reward, first 5 | last 5 |', '|---|---|---|---|---|---|'];
  const first = (xs) => meanStd(xs.slice(0, 5)).mean, last = (xs) => meanStd(xs.slice(-5)).mean;
  for (const name of ['single', 'robust λ=0.4', 'robust λ=0']) {
    const rs = a.byObjective.get(name);
    const s0 = rs.map((r) => first(r.std)), s1 = rs.map((r) => last(r.std));
    const g0 = rs.map((r) => first(r.nominal) - first(r.robust)), g1 = rs.map((r) => last(r.nominal) - last(r.robust));
    flatLines.push(`| ${name} | ${fmt(meanStd(s0).mean, 4)} | ${fmt(meanStd(s1).mean, 4)} | ${ci(pairedInterval(s1, s0))} | ${fmt(meanStd(g0).mean, 3)} | ${fmt(meanStd(g1).mean, 3)} |`);
  }
  return [
    '## The paper: BRME and the robust objective',
    '',
    `BRME as the paper describes it (five Gaussian heads on the stage-1 trunk, plain MSE stage 2), ${steps} PPO iterations, ${DEV_WORLDS.length} world seeds.`,
    '',
    '### λ sweep (claims 1 and 2)',
    '',
    table(entries, base),
    '',
    ensembleLine(a),
    '',
    svgFile('paper-lambda.svg', deltaBars('Δ final gold against standard RLHF, by λ (dots: world seeds)', entries.slice(1), base)),
    '',
    '### Over- vs under-scoring (claim 3)',
    '',
    'Final gold when 20 % of the training rewards are pushed up (over-scoring) or down (under-scoring) by 1 (raw reward units, before the running normalisation):',
    '',
    pertLines.join('\n'),
    '',
    '### Flattening as heads disagree (claim 4)',
    '',
    flatLines.join('\n'),
  ].join('\n');
}

/** The candidates the Quick preset's robust setting was chosen from, on the development world seeds. */
async function defaults() {
  const a = await paperBrme();
  const diverse = await replicate('defaults: BRME with head diversity', { ensemble: BRME_DIVERSE, objectives: [{ name: 'robust λ=0.4', kind: 'robust', lambda: 0.4 }, { name: 'wco', kind: 'wco' }, { name: 'mean', kind: 'mean' }] }, DEV_WORLDS);
  const indep = await replicate('defaults: independent members', { ensemble: { method: 'independent' }, objectives: [{ name: 'robust λ=0.4', kind: 'robust', lambda: 0.4 }, { name: 'wco', kind: 'wco' }, { name: 'uwo', kind: 'uwo' }, { name: 'mean', kind: 'mean' }] }, DEV_WORLDS);
  const base = a.byObjective.get('single');
  const entries = [
    { name: 'standard (single BT)', runs: base },
    { name: 'BRME paper, robust λ=0.4', runs: a.byObjective.get('robust λ=0.4') },
    ...['robust λ=0.4', 'wco', 'mean'].map((n) => ({ name: `BRME diverse, ${n}`, runs: diverse.byObjective.get(n) })),
    ...['robust λ=0.4', 'wco', 'uwo', 'mean'].map((n) => ({ name: `independent, ${n}`, runs: indep.byObjective.get(n) })),
  ];
  const bm = new Map(base.map((r) => [r.world, r.final.gold]));
  const ranked = entries.slice(1).map((e) => ({ name: e.name, d: pairedInterval(e.runs.map((r) => r.final.gold), e.runs.map((r) => bm.get(r.world))) })).sort((x, y) => y.d.mean - x.d.mean);
  return [
    '## Choosing the default robust setting',
    '',
    `Every candidate on world seeds ${DEV_WORLDS[0]}–${DEV_WORLDS[DEV_WORLDS.length - 1]}, ${steps} PPO iterations; standard is the BRME study's stage-1 reward model (the same runs as the λ sweep).`,
    '',
    table(entries, base),
    '',
    `${ensembleLine(diverse).replace('Ensemble', 'BRME diverse')}`,
    `${ensembleLine(indep).replace('Ensemble', 'Independent')}`,
    '',
    svgFile('defaults.svg', deltaBars('Δ final gold against standard RLHF, candidates (dots: world seeds)', entries.slice(1), base)),
    '',
    `Ranked by mean Δ final gold: ${ranked.map((r) => `${r.name} ${fmt(r.d.mean)}`).join('; ')}.`,
  ].join('\n');
}

/** The Quick preset exactly as the app runs it, on world seeds nobody looked at before choosing it. */
async function validate() {
  const q = presetSpec('quick');
  const raw = { ensemble: q.ensemble, objectives: q.objectives, ppo: { iterations: q.ppo.iterations } };
  const s = await replicate('validate: the Quick preset on unseen world seeds', raw, VALIDATION_WORLDS);
  // Standard RLHF as a user would run it: one Bradley–Terry model on all the pairs (the preset's own
  // "standard" is member 0 of the ensemble, trained on a bootstrap resample).
  const full = await replicate('validate: standard on all pairs', { objectives: [{ name: 'single', kind: 'single' }], ppo: { iterations: q.ppo.iterations } }, VALIDATION_WORLDS);
  const entries = [{ name: 'standard (one BT model on all pairs)', runs: full.byObjective.get('single') }, ...q.objectives.map((o) => ({ name: `Quick: ${o.name}`, runs: s.byObjective.get(o.name) }))];
  return [
    '## Validation on unseen world seeds',
    '',
    `The Quick preset's objectives and ensemble settings (${q.objectives.map((o) => o.name).join(' vs ')}; ensemble ${JSON.stringify({ method: q.ensemble.method, heads: q.ensemble.heads, bootstrap: q.ensemble.bootstrap, stage2Loss: q.ensemble.stage2Loss, anchor: q.ensemble.anchor })}) on world seeds ${VALIDATION_WORLDS.join(', ')}, ${q.ppo.iterations} iterations, against standard RLHF trained on all the pairs.`,
    '',
    table(entries, entries[0].runs),
    '',
    ensembleLine(s),
    '',
    svgFile('validate-delta.svg', deltaBars('Unseen world seeds: Δ final gold against standard RLHF', entries.slice(1), entries[0].runs)),
    svgFile('validate.svg', goldKlChart('Unseen world seeds: gold against √KL', entries)),
  ].join('\n');
}

// Eisenstein et al. (2312.09244): members pretrained from different seeds (ensemble.trunks 'per-member')
// against members that share π₀ as trunk, under Coste's label noise; best-of-n only (inference, cheap).
// Each seed is run on its own so the two settings can be paired by seed (the seed's ensemble, pairs and
// samples are the same draws in both; only members 1–4's trunks differ, docs/science.md § Pretraining-seed members).
async function eisenstein() {
  const settings = { labels: 'flip', flipRate: 0.25 };
  const objs = [{ name: 'single', kind: 'single' }, { name: 'mean', kind: 'mean' }, { name: 'wco', kind: 'wco' }, { name: 'uwo', kind: 'uwo' }];
  const bonObjs = objs.map((o) => ({ name: o.name, config: { kind: o.kind } }));
  const at = { shared: new Map(), 'per-member': new Map() };
  const whole = {};
  for (const trunks of ['shared', 'per-member']) {
    const source = { kind: 'world', name: 'goodhart-lab', seed: 0, settings, ensemble: { method: 'independent', heads: 5, trunks } };
    for (const seed of DEV_WORLDS) {
      const r = await bon(`Eisenstein: ${trunks} trunks, seed ${seed}`, source, bonObjs, [seed]);
      for (const o of r.objectives) { if (!at[trunks].has(o.name)) at[trunks].set(o.name, []); at[trunks].get(o.name).push(o.curve[o.curve.length - 1].gold.mean); }
    }
    whole[trunks] = await bon(`Eisenstein: ${trunks} trunks, all seeds`, source, bonObjs, DEV_WORLDS); // cached ensembles: sampling only
  }
  const rows = objs.map((o) => {
    const a = at['per-member'].get(o.name), b = at.shared.get(o.name);
    return `| ${o.name} | ${fmt(meanStd(b).mean)} | ${fmt(meanStd(a).mean)} | ${ci(pairedInterval(a, b))} |`;
  });
  return [
    '### Measured: best-of-n, shared vs per-member trunks',
    '',
    `25 % label flips, 5 independent members (bootstrap), world seed 0, seeds ${DEV_WORLDS[0]}–${DEV_WORLDS[DEV_WORLDS.length - 1]} (each its own pairs, members and, per-member, trunks), 64 prompts, N = ${bonN}. Gold of the chosen sample at n = N:`,
    '',
    '| objective | shared trunk | per-member trunks | per-member − shared, paired by seed [95% CI] |',
    '|---|---|---|---|',
    ...rows,
    '',
    svgFile('eisenstein-bon.svg', lineChart({
      title: 'Best-of-n with label noise: shared vs per-member trunks (markers)', xLabel: '√KL_bon = √(log n − (n−1)/n)', yLabel: 'gold of the chosen sample',
      series: ['shared', 'per-member'].flatMap((t, ti) => whole[t].objectives.filter((o) => o.name !== 'single' || ti === 0).map((o, i) => ({ name: `${o.name} (${t})`, style: ti * 4 + i, markers: ti === 1, points: o.curve.map((p) => ({ x: Math.sqrt(p.kl_bon), y: p.gold.mean })) }))),
      description: 'Best-of-n gold against √KL_bon for shared and per-member trunks',
    })),
  ].join('\n');
}

const STUDIES = { gao, coste, paper, defaults, validate, eisenstein };
const names = values.study === 'all' ? Object.keys(STUDIES) : values.study.split(',');
for (const n of names) if (!STUDIES[n]) { process.stderr.write(`unknown study "${n}"; choose from ${Object.keys(STUDIES).join(', ')} or all\n`); process.exit(2); }
const parts = [];
for (const n of names) { parts.push(await STUDIES[n]()); log(`${n} done`); }
const md = [
  `<!-- scripts/science.mjs --study ${values.study} --worlds ${values.worlds ?? '0-7'} --steps ${steps} --bon ${bonN}; ${new Date().toISOString().slice(0, 10)}; ${os.cpus()[0]?.model} × ${os.cpus().length}; ${((Date.now() - t0) / 60000).toFixed(1)} min -->`,
  '',
  ...parts.flatMap((p) => [p, '']),
].join('\n');
process.stdout.write(md + '\n');
if (values.out) writeFileSync(values.out, md + '\n');
store.close();
