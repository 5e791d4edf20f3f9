// The report as one self-contained HTML file: inline CSS and SVG, no scripts, no fonts or images to
// fetch, no external reference of any kind (a Content-Security-Policy forbids them too), so it opens
// offline, survives e-mail and prints to PDF as it looks on screen. Every piece of user text (names,
// prompts, responses, spec values) is escaped.

import { type ReportModel, type CurvePoint, type ObjectiveInfo, type Stat, NO_GOLD_NOTICE } from './model.js';
import { lineChart, barChart, calibrationPlot, seriesStyle, esc as escSvg, type LineSeries } from './svg.js';
import { fmt, signed, pm, pct, count, capitalize, capLabel } from '../../common/format.js';
import { METRIC, BENCH_PREFIX } from '../../common/metrics.js';
import { bonCurves, bonStyles, fitCurve, fitText, turnoverText, baselineRows, intervalText, excludesZero, type BonCurve } from '../../common/bon.js';

/** Escapes user text; also breaks "scheme://" so no text can read as a link or URL reference. */
export const esc = (s: unknown) => escSvg(s).replace(/:\/\//g, ':&#47;&#47;');

const CSS = `
:root { --ink: #1b1f24; --muted: #5b6470; --line: #dde1e6; --soft: #f5f7f9; --accent: #0072B2; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff; font: 14px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 28px 28px 48px; }
h1 { font-size: 26px; line-height: 1.2; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--ink); }
h3 { font-size: 15px; margin: 20px 0 6px; }
p { margin: 6px 0 10px; }
.sub { color: var(--muted); margin: 0 0 18px; }
.verdict { border-left: 5px solid var(--accent); background: #eef5fb; padding: 12px 16px; margin: 12px 0 6px; border-radius: 0 6px 6px 0; }
.verdict .lead { font-size: 16.5px; font-weight: 600; margin: 0; }
.verdict ul { margin: 8px 0 0; padding-left: 18px; color: #2d3640; }
.explain { color: #38414b; max-width: 860px; }
.note { color: var(--muted); font-size: 12.5px; }
.warn { background: #fff6e5; border-left: 4px solid #E69F00; padding: 8px 12px; margin: 8px 0; border-radius: 0 4px 4px 0; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 14px 22px; align-items: start; }
.grid.three { grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); }
figure { margin: 0; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-size: 12.5px; color: var(--muted); margin-top: 2px; }
svg.chart { width: 100%; height: auto; display: block; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 12px; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; border-bottom: 1px solid #c9ced4; }
td.n, th.n { text-align: right; }
td.n { white-space: nowrap; }
td.obj { white-space: nowrap; }
td.hash { font-size: 11px; overflow-wrap: anywhere; word-break: break-all; }
tr { break-inside: avoid; page-break-inside: avoid; }
.sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
.cards { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; break-inside: avoid; page-break-inside: avoid; }
.card .who { font-size: 12.5px; color: var(--muted); margin-bottom: 4px; }
.mono { font-family: ui-monospace, 'SFMono-Regular', Menlo, Consolas, 'Liberation Mono', monospace; font-size: 12.5px; }
.resp { background: var(--soft); padding: 6px 8px; border-radius: 4px; white-space: pre-wrap; word-break: break-word; margin: 4px 0 6px; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-size: 13px; margin: 6px 0; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; overflow-wrap: anywhere; }
.gloss dt { font-weight: 600; margin-top: 6px; }
.gloss dd { margin: 0 0 4px 0; color: #38414b; }
pre.spec { column-count: 2; column-gap: 24px; background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: 10px; font-size: 11.5px; line-height: 1.35; white-space: pre-wrap; word-break: break-word; }
.sig { font-weight: 600; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
.toc { font-size: 13px; color: var(--muted); margin: 10px 0 0; }
.toc span + span::before { content: ' · '; }
.toc a { color: inherit; text-decoration: none; border-bottom: 1px dotted #9aa3ad; }
@page { size: A4; margin: 12mm 11mm 14mm; }
@media print {
  body { font-size: 11.5px; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; margin-top: 22px; }
  h3 { break-after: avoid; page-break-after: avoid; }
  .grid { gap: 8px 14px; }
  section.page { break-before: page; page-break-before: always; }
  table { font-size: 10.5px; }
}
`;

const swatch = (o: ObjectiveInfo | undefined) => (o ? `<span class="sw" style="background:${seriesStyle(o.style).color}"></span>` : '');
const num = (v: number | null | undefined, d?: number) => `<td class="n">${esc(fmt(v, d))}</td>`;
const statCell = (s: Stat, d?: number) => `<td class="n">${esc(pm(s.mean, s.std, s.n, d))}</td>`;

function table(head: string[], rows: string[][], numeric: boolean[] = []): string {
  return `<table><thead><tr>${head.map((h, i) => `<th${numeric[i] ? ' class="n"' : ''}>${h}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.join('')}</tr>`).join('')}</tbody></table>`;
}

function bandSeries(name: string, style: number, pts: CurvePoint[]): LineSeries {
  return { name, style, markers: true, points: pts.map((p) => ({ x: p.x, y: p.mean, lo: p.n > 1 ? p.mean - p.std : null, hi: p.n > 1 ? p.mean + p.std : null })) };
}

function goodhartCharts(m: ReportModel): string {
  const obj = (name: string) => m.objectives.find((o) => o.name === name)!;
  const seedLines = (y: 'gold' | 'proxy', x: 'step' | 'sqrt_kl'): LineSeries[] => m.runs.map((r) => ({
    name: `run ${r.id}`, style: obj(r.objective).style, faint: true,
    points: r.evals.map((e) => ({ x: x === 'step' ? e.step : Math.sqrt(Math.max(0, e.kl)), y: e[y] })),
  }));
  const onsets = m.runs.filter((r) => r.onset !== null);
  const chart = (y: 'gold' | 'proxy', x: 'step' | 'sqrt_kl') => {
    const key = x === 'step' ? y : (`${y}VsSqrtKl` as const);
    const series = [...(m.runs.length > m.objectives.length ? seedLines(y, x) : []), ...m.curves.eval.map((c) => bandSeries(obj(c.objective).label, obj(c.objective).style, c[key]))];
    const what = y === 'gold' ? 'Gold reward' : 'Proxy reward';
    return lineChart({
      title: `${what} vs ${x === 'step' ? 'training step' : '√KL'}`,
      xLabel: x === 'step' ? 'PPO iteration' : '√KL(π ‖ π₀)  (nats^½)', yLabel: `${y} (eval mean)`, series,
      vlines: y === 'gold' && x === 'step' && onsets.length && m.objectives.length <= 3
        ? [...new Set(onsets.map((r) => `${r.objective}\u0000${r.onset}`))].slice(0, 4).map((k) => { const [o, s] = k.split('\u0000'); return { x: Number(s), label: `onset`, style: obj(o!).style }; })
        : undefined,
      description: `${what} of each objective against ${x === 'step' ? 'PPO iteration' : 'the square root of the KL divergence from the starting policy'}; lines are seed means, shaded bands ± one standard deviation across seeds, thin lines single seeds.`,
    });
  };
  if (!m.hasGold) {
    return `<div class="grid">
<figure>${chart('proxy', 'step')}<figcaption>Proxy — the reward each policy was trained on — on held-out evaluation samples. Levels differ by objective; compare trends.</figcaption></figure>
<figure>${chart('proxy', 'sqrt_kl')}<figcaption>Proxy against distance from π₀ (√KL). There is no gold reward, so these curves cannot show whether the policy hacked the proxy.</figcaption></figure>
</div>`;
  }
  return `<div class="grid">
<figure>${chart('gold', 'step')}<figcaption>Gold — the true quality — on held-out evaluation samples. A curve that rises then falls is reward hacking. Dashed verticals: hacking onsets.</figcaption></figure>
<figure>${chart('gold', 'sqrt_kl')}<figcaption>The same against distance from π₀ (√KL, Gao et al.). At equal √KL, a higher curve got more gold for the same drift.</figcaption></figure>
<figure>${chart('proxy', 'step')}<figcaption>Proxy — the reward each policy was trained on. Proxy rising while gold falls is the signature of hacking. Levels differ by objective; compare trends.</figcaption></figure>
<figure>${chart('proxy', 'sqrt_kl')}<figcaption>Proxy against √KL.</figcaption></figure>
</div>`;
}

const TRAIN_TITLES: Record<string, [string, string, string]> = {
  [METRIC.goldTrain]: ['Gold on training rollouts', 'gold (batch mean)', 'Gold of the responses PPO trained on, every iteration (noisier than the evaluations).'],
  [METRIC.rewardProxy]: ['Proxy on training rollouts', 'proxy (before whitening)', 'The objective\'s reward before normalisation, per iteration.'],
  [METRIC.objectiveKl]: ['KL from π₀ during training', 'KL (nats per response)', 'How fast each objective moves away from the starting policy.'],
  [METRIC.ensembleStd]: ['Ensemble disagreement on policy samples', 'std over heads', 'Mean spread of the heads\' rewards on the policy\'s own samples; rising disagreement is an early hacking signal.'],
};

function trainingCharts(m: ReportModel): string {
  const figs = Object.entries(m.curves.train).map(([key, groups]) => {
    const [title, yLabel, caption] = TRAIN_TITLES[key] ?? [key, key, ''];
    const series = groups.map((g) => { const o = m.objectives.find((x) => x.name === g.objective)!; return { ...bandSeries(o.label, o.style, g.points), markers: false }; });
    return `<figure>${lineChart({ title, xLabel: 'PPO iteration', yLabel, series, height: 250 })}<figcaption>${esc(caption)}</figcaption></figure>`;
  });
  return figs.length ? `<div class="grid">${figs.join('\n')}</div>` : '<p class="note">No per-iteration training metrics were recorded.</p>';
}

function glance(m: ReportModel): string {
  const rows = m.summaries.map((s) => {
    const o = m.objectives.find((x) => x.name === s.objective)!;
    const c = m.comparisons.find((x) => x.a === s.objective);
    const diff = !m.hasGold ? '–' : c ? `${esc(signed(c.mean))}${c.lo !== null ? ` <span class="note">[${esc(signed(c.lo))}, ${esc(signed(c.hi))}]</span>` : ''}${c.significant ? ' <span class="sig" title="95% CI excludes 0">*</span>' : ''}` : '<span class="note">baseline</span>';
    return [
      `<td class="obj">${swatch(o)}${esc(capLabel(o.label))}</td>`, `<td class="n">${s.n}</td>`, statCell(s.startGold), statCell(s.finalGold),
      `<td class="n">${esc(pm(s.peakGold.mean, s.peakGold.std, s.peakGold.n))} <span class="note">@ ${esc(fmt(s.peakStep.mean, 0))}</span></td>`,
      statCell(s.finalKl, 1), `<td class="n">${s.onsets} / ${s.n}</td>`, `<td class="n">${diff}</td>`,
    ];
  });
  return table(['Objective', 'Seeds', 'Gold at start', 'Final gold', 'Peak gold @ step', 'Final KL', 'Hacking onsets', 'Δ final gold vs baseline [95% CI]'], rows, [false, true, true, true, true, true, true, true])
    + '<p class="note">Mean ± standard deviation across seeds. Δ is the paired per-seed difference from the first objective (the baseline) with its 95% paired t interval; * marks an interval that excludes 0.</p>';
}

function comparisonSection(m: ReportModel): string {
  if (!m.hasGold) return `<p class="note">${esc(NO_GOLD_NOTICE)} Final and peak gold, their paired comparison and gold at matched KL need one.</p>${proxyComparisons(m)}`;
  const out: string[] = [];
  const bars = m.summaries.map((s) => {
    const o = m.objectives.find((x) => x.name === s.objective)!;
    return { label: o.label, value: s.finalGold.mean ?? NaN, err: s.finalGold.n > 1 ? s.finalGold.std ?? undefined : undefined, style: o.style, dots: m.runs.filter((r) => r.objective === s.objective && r.final).map((r) => r.final!.gold) };
  });
  const peaks = m.summaries.map((s) => {
    const o = m.objectives.find((x) => x.name === s.objective)!;
    return { label: o.label, value: s.peakGold.mean ?? NaN, err: s.peakGold.n > 1 ? s.peakGold.std ?? undefined : undefined, style: o.style, dots: m.runs.filter((r) => r.objective === s.objective && r.peak).map((r) => r.peak!.gold) };
  });
  out.push(`<div class="grid"><figure>${barChart({ title: 'Final gold', yLabel: 'gold at the last evaluation', bars })}<figcaption>Bars: mean across seeds; whiskers ± 1 std; dots: individual seeds.</figcaption></figure>`
    + `<figure>${barChart({ title: 'Peak gold', yLabel: 'best gold during training', bars: peaks })}<figcaption>The best evaluation of each run, wherever it happened. A large gap between peak and final gold means the run over-optimised.</figcaption></figure></div>`);
  if (m.comparisons.length) {
    out.push('<h3>Paired comparison of final gold</h3>');
    for (const c of m.comparisons) {
      const a = m.objectives.find((o) => o.name === c.a), b = m.objectives.find((o) => o.name === c.b);
      const rows = c.perSeed.map((p) => [`<td class="n">${p.seed}</td>`, num(p.b), num(p.a), `<td class="n">${esc(signed(p.diff))}</td>`]);
      rows.push([`<td class="n"><b>mean</b></td>`, `<td></td>`, `<td></td>`, `<td class="n"><b>${esc(signed(c.mean))}</b>${c.lo !== null ? ` <span class="note">95% CI [${esc(signed(c.lo))}, ${esc(signed(c.hi))}]</span>` : ''}</td>`]);
      out.push(`<p>${swatch(a)}<b>${esc(capLabel(c.aLabel))}</b> minus ${swatch(b)}<b>${esc(c.bLabel)}</b>: higher on ${c.wins} of ${c.n} seed${c.n === 1 ? '' : 's'}${c.significant ? '; the 95% interval excludes 0' : c.lo !== null ? '; the 95% interval includes 0' : ''}.</p>`);
      out.push(table(['Seed', `${esc(c.bLabel)}`, `${esc(c.aLabel)}`, 'Difference'], rows, [true, true, true, true]));
      if (c.warning) out.push(`<div class="warn">${esc(capitalize(c.warning))}.</div>`);
    }
  }
  if (m.matchedKl) {
    const mk = m.matchedKl;
    out.push('<h3>Gold at matched KL</h3><p class="explain">Objectives move away from π₀ at different speeds, so final gold alone can reward the one that simply moved less. Here each run\'s gold is interpolated at the same KL values — up to the largest KL that every run reached.</p>');
    out.push(table(['Objective', ...mk.kls.map((k) => `KL = ${esc(String(k))}`)], mk.rows.map((r) => [`<td>${swatch(m.objectives.find((o) => o.name === r.objective))}${esc(capLabel(r.label))}</td>`, ...r.gold.map((s) => statCell(s))]), [false, ...mk.kls.map(() => true)]));
  }
  return out.join('\n');
}

/** Without gold: each objective against the baseline on the one proxy they share (the ensemble-mean reward) at matched KL, as the study page shows. */
function proxyComparisons(m: ReportModel): string {
  if (!m.proxyComparisons.length) return '';
  const out = ['<h3>Paired comparison: ensemble-mean reward at matched KL</h3><p class="explain">Every run is scored with the ensemble-mean reward (one proxy for every objective) and, seed by seed, the two runs are compared at the largest KL both reached. This says which objective buys more proxy reward per unit of drift; it cannot show reward hacking.</p>'];
  for (const c of m.proxyComparisons) {
    const a = m.objectives.find((o) => o.name === c.a), b = m.objectives.find((o) => o.name === c.b);
    const rows = c.perSeed.map((p) => [`<td class="n">${p.seed}</td>`, num(p.b), num(p.a), `<td class="n">${esc(signed(p.diff))}</td>`]);
    rows.push([`<td class="n"><b>mean</b></td>`, `<td></td>`, `<td></td>`, `<td class="n"><b>${esc(signed(c.mean))}</b>${c.lo !== null ? ` <span class="note">95% CI [${esc(signed(c.lo))}, ${esc(signed(c.hi))}]</span>` : ''}</td>`]);
    out.push(`<p>${swatch(a)}<b>${esc(capLabel(c.aLabel))}</b> minus ${swatch(b)}<b>${esc(c.bLabel)}</b>, ${c.n} seed${c.n === 1 ? '' : 's'}.</p>`);
    out.push(table(['Seed', `${esc(c.bLabel)}`, `${esc(c.aLabel)}`, 'Difference'], rows, [true, true, true, true]));
  }
  return out.join('\n');
}

const interval = (c: { mean: number; lo: number | null; hi: number | null } | null) => (!c ? '–'
  : `${signed(c.mean)}${c.lo !== null ? ` [${signed(c.lo)}, ${signed(c.hi)}]` : ''}`);

function benchmarkSection(m: ReportModel): string {
  const bs = m.benchmarks!;
  const obj = (name: string) => m.objectives.find((o) => o.name === name)!;
  const out = ['<p class="explain">π₀ and each run\'s final policy scored on a benchmark file as lm-evaluation-harness scores it (accuracy in [0, 1]). Final: mean ± std over seeds (n runs). Change: final − π₀, run by run, with its 95 % t interval. The last column compares each objective\'s final score with the baseline\'s, seed by seed. Scored with the study page\'s Benchmarks panel or <span class="mono">rrlhf eval --run ID --record</span>.</p>'];
  const rows = bs.flatMap((b) => b.rows.map((r, i) => {
    const c = b.comparisons.find((x) => x.a === r.objective);
    return [
      i === 0 ? `<td class="mono" rowspan="${b.rows.length}">${esc(b.key.slice(BENCH_PREFIX.length))}</td>` : '',
      i === 0 ? `<td class="n" rowspan="${b.rows.length}">${esc(fmt(b.start, 3))}</td>` : '',
      `<td>${swatch(obj(r.objective))}${esc(capLabel(r.label))}</td>`, statCell(r.final, 3),
      `<td class="n">${esc(interval(r.change))}</td>`,
      `<td class="n">${c ? `${esc(interval(c))} <span class="note">${c.wins}/${c.n} seeds higher</span>` : i === 0 ? '<span class="note">baseline</span>' : '–'}</td>`,
    ].filter(Boolean);
  }));
  out.push(table(['Benchmark / metric', 'π₀', 'Objective', 'Final', 'Change from π₀', 'Against the baseline'], rows, [false, true, false, true, true, true]));
  // Accuracy against step, where checkpoints were scored.
  for (const b of bs.filter((x) => x.rows.some((r) => r.curve.length >= 3))) {
    out.push(`<figure>${lineChart({
      title: `${b.key.slice(BENCH_PREFIX.length)} vs training step`, xLabel: 'PPO iteration', yLabel: b.key.split('/').pop()!,
      series: b.rows.map((r) => ({ name: capLabel(r.label), style: obj(r.objective).style, markers: true, points: r.curve.map((p) => ({ x: p.step, y: p.mean })) })),
      description: `Benchmark ${b.key} of each objective against PPO iteration: seed means, π₀ at step 0.`,
    })}<figcaption>Does a policy keep its skills as training goes on? Seed means of ${esc(b.key.slice(BENCH_PREFIX.length))} at each scored checkpoint; step 0 is π₀.</figcaption></figure>`);
  }
  return out.join('\n');
}

function lambdaSection(m: ReportModel): string {
  const rows = m.lambdaSweep!;
  const base = m.summaries[0]!;
  const baseGold = base.finalGold.mean;
  const chart = lineChart({
    title: 'Final and peak gold against λ', xLabel: 'λ (weight of the nominal reward; 0 = worst case, 1 = nominal only)', yLabel: 'gold',
    series: [
      { name: 'final gold', style: 0, markers: true, points: rows.map((r) => ({ x: r.lambda, y: r.finalGold.mean, lo: r.finalGold.n > 1 ? r.finalGold.mean! - r.finalGold.std! : null, hi: r.finalGold.n > 1 ? r.finalGold.mean! + r.finalGold.std! : null })) },
      { name: 'peak gold', style: 1, markers: true, points: rows.map((r) => ({ x: r.lambda, y: r.peakGold.mean })) },
      ...(baseGold !== null && !rows.some((r) => r.objective === base.objective)
        ? [{ name: `${base.label}: final gold`, style: 6, points: [{ x: rows[0]!.lambda, y: baseGold }, { x: rows[rows.length - 1]!.lambda, y: baseGold }] }]
        : []),
    ],
  });
  const t = table(['λ', 'Objective', 'Seeds', 'Final gold', 'Peak gold', 'Final KL', 'Δ final gold vs baseline [95% CI]'], rows.map((r) => [
    `<td class="n">${esc(String(r.lambda))}</td>`, `<td>${swatch(m.objectives.find((o) => o.name === r.objective))}${esc(r.label)}</td>`, `<td class="n">${r.n}</td>`,
    statCell(r.finalGold), statCell(r.peakGold), statCell(r.finalKl, 1),
    `<td class="n">${r.vsBase ? `${esc(signed(r.vsBase.mean))}${r.vsBase.lo !== null ? ` <span class="note">[${esc(signed(r.vsBase.lo))}, ${esc(signed(r.vsBase.hi))}]</span>` : ''}` : '<span class="note">baseline</span>'}</td>`,
  ]), [true, false, true, true, true, true, true]);
  const best = rows.filter((r) => r.finalGold.mean !== null).sort((a, b) => b.finalGold.mean! - a.finalGold.mean!)[0];
  const finding = best ? `<p class="explain">Here the highest final gold came with λ = ${esc(String(best.lambda))} (${esc(fmt(best.finalGold.mean))}${best.finalGold.n > 1 ? ` ± ${esc(fmt(best.finalGold.std))}` : ''} across ${best.n} seed${best.n === 1 ? '' : 's'}); check the intervals in the table before calling a winner.</p>` : '';
  return `<div class="grid"><figure>${chart}</figure><div><p class="explain">The robust objective is λ·nominal + (1 − λ)·min over heads. The paper reports λ ≈ 0.2–0.4 as best and λ = 1 (nominal only) still better than a single reward model; pure worst case (λ = 0) can be too conservative. Nominal-only (λ = 1) and worst-case (λ = 0) runs join the sweep when the study has them.</p>${finding}</div></div>${t}`;
}

function runsTable(m: ReportModel): string {
  const rows = m.runs.map((r) => {
    const o = m.objectives.find((x) => x.name === r.objective);
    return [
      `<td class="n">${r.id}</td>`, `<td>${swatch(o)}${esc(r.objective)}</td>`, `<td class="n">${r.seed}</td>`,
      `<td>${esc(r.status)}${r.error ? `<div class="note">${esc(r.error)}</div>` : ''}</td>`,
      num(r.final?.gold), num(r.final?.proxy), num(r.final?.kl, 1),
      `<td class="n">${esc(fmt(r.peak?.gold))} <span class="note">@ ${r.peak ? r.peak.step : '–'}</span></td>`,
      `<td class="n">${r.onset ?? '—'}</td>`,
      `<td class="n">${r.gao ? `${esc(fmt(r.gao.alpha))} / ${esc(fmt(r.gao.beta))}` : '–'}</td>`, num(r.gao?.r2, 2),
    ];
  });
  const alerts = m.runs.flatMap((r) => r.alerts.map((a) => `<li>Run ${r.id} (${esc(r.objective)}, seed ${r.seed}), step ${a.step}: <b>${esc(a.kind.replace(/_/g, ' '))}</b> — ${esc(a.message)}</li>`));
  return table(['Run', 'Objective', 'Seed', 'Status', 'Final gold', 'Final proxy', 'Final KL', 'Peak gold @ step', 'Onset', 'Gao α / β', 'Gao R²'], rows, [true, false, true, false, true, true, true, true, true, true, true])
    + `<p class="note">Final = last gold evaluation. Onset = first evaluation where gold fell ≥ ${esc(String(m.onsetMargin))} below its best while the proxy kept rising (— = none). Gao fit: gold − gold₀ = d(α − β·log d) with d = √KL; β &gt; 0 means gold turns down as the policy drifts further, peaking at d = exp(α/β − 1).</p>`
    + (alerts.length ? `<h3>Alerts raised during training</h3><ul>${alerts.join('')}</ul>` : '');
}

function ensembleSection(m: ReportModel): string {
  const e = m.ensemble;
  if (!e) return '<p class="note">No ensemble report is stored for these runs (runs from several experiments, or the ensemble files are not in this data directory).</p>';
  const out: string[] = [];
  out.push(`<p class="explain">${e.method === 'brme' ? `A BRME with ${e.heads} heads on one trunk` : `${e.heads} independent reward models`}, evaluated on ${e.pairs !== null ? count(e.pairs) : 'the'} held-out preference pairs. Accuracy is the share of pairs ranked as labelled (the labels are noisy, so even gold does not reach 100%). Calibration compares the ensemble's predicted preference probability σ(Δμ) with how often the pair was actually preferred.</p>`);
  const bars = [
    ...(e.accuracy.single !== null ? [{ label: 'stage 1', value: e.accuracy.single, style: 0 }] : []),
    ...(e.accuracy.nominal !== null ? [{ label: 'nominal', value: e.accuracy.nominal, style: 1 }] : []),
    ...(e.accuracy.mean !== null ? [{ label: 'mean', value: e.accuracy.mean, style: 2 }] : []),
    ...(e.accuracy.min !== null ? [{ label: 'min', value: e.accuracy.min, style: 3 }] : []),
    ...e.accuracy.perHead.map((v, k) => ({ label: `h${k + 1}`, value: v, style: 5 })),
  ];
  const accs = bars.map((b) => b.value);
  const lo = Math.max(0, Math.floor((Math.min(0.5, ...accs) - 0.05) * 10) / 10);
  const accChart = bars.length ? barChart({ title: 'Held-out accuracy', width: 620, yLabel: 'pairs ranked correctly', bars, yRange: [lo, Math.min(1, Math.max(...accs) + 0.05)], refLine: lo <= 0.5 ? { y: 0.5, label: 'chance' } : undefined, valueDigits: 3 }) : '';
  const cal = e.calibration ? calibrationPlot({ bins: e.calibration.bins, title: 'Calibration (mean of heads)', ece: e.calibration.ece ?? undefined }) : '';
  out.push(`<div class="grid three"><figure>${accChart}<figcaption>Stage 1: the single Bradley–Terry model (the reward of standard RLHF). Nominal: per sample, the head with the smallest σ. Mean and min: over the heads. h1…hK: each head alone.</figcaption></figure><figure>${cal}<figcaption>On the diagonal = calibrated. Point size ∝ pairs in the bin.</figcaption></figure></div>`);
  const kv: [string, string][] = [
    ['σ of the heads', e.sigma ? `mean ${fmt(e.sigma.mean)}, std ${fmt(e.sigma.std)}, range ${fmt(e.sigma.min)} to ${fmt(e.sigma.max)}` : 'not defined (independent members)'],
    ['Head disagreement', e.disagreement !== null ? `${fmt(e.disagreement)} (std of μ across heads, mean over responses)` : '–'],
    ['Reward scale', e.rewardScale !== null ? `${fmt(e.rewardScale)} (std of the mean reward across responses)` : '–'],
    ['Relative disagreement', e.relativeDisagreement !== null ? pct(e.relativeDisagreement) : '–'],
    ['On-policy disagreement', e.onPolicy.length ? e.onPolicy.map((r) => `${r.label}: ${fmt(r.start.mean)} → ${fmt(r.end.mean)}${r.relativeStart !== null && r.relativeEnd !== null ? ` (${pct(r.relativeStart)} → ${pct(r.relativeEnd)})` : ''}`).join('; ') + ' (std over heads on the evaluation samples, first → last evaluation)' : '–'],
    ['Margin disagreement', e.pairDisagreement !== null ? fmt(e.pairDisagreement) : '–'],
    ['Calibration error (ECE)', e.calibration?.ece !== null && e.calibration?.ece !== undefined ? fmt(e.calibration.ece, 3) : '–'],
    ['Disagreement–error correlation', e.stdErrorCorrelation !== null ? fmt(e.stdErrorCorrelation, 2) : '–'],
    ['σ–error correlation', e.sigmaErrorCorrelation !== null ? fmt(e.sigmaErrorCorrelation, 2) : '–'],
    ['Settings', Object.entries(e.settings).map(([k, v]) => `${k} = ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ') || '–'],
    ['Source', e.source],
  ];
  out.push(`<dl class="kv">${kv.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`);
  for (const n of e.notes) out.push(`<p class="${/nearly identical|small \(/.test(n) ? 'warn' : 'explain'}">${esc(n)}</p>`);
  return out.join('\n');
}

function headBars(rewards: number[], lo: number, hi: number): string {
  if (!rewards.length) return '';
  const w = 150, h = 34, bw = Math.max(4, Math.min(18, (w - 4) / rewards.length - 3));
  const span = hi - lo || 1;
  const zero = h - 4 - ((Math.max(lo, Math.min(hi, 0)) - lo) / span) * (h - 8);
  const bars = rewards.map((v, k) => {
    const y = h - 4 - ((v - lo) / span) * (h - 8);
    const x = 2 + k * (bw + 3);
    return `<rect x="${x.toFixed(1)}" y="${Math.min(y, zero).toFixed(1)}" width="${bw.toFixed(1)}" height="${Math.max(1, Math.abs(zero - y)).toFixed(1)}" fill="${seriesStyle(5).color}"><title>head ${k + 1}: ${fmt(v)}</title></rect>`;
  }).join('');
  return `<svg class="heads" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="per-head rewards"><line x1="0" y1="${zero.toFixed(1)}" x2="${w}" y2="${zero.toFixed(1)}" stroke="#999" stroke-width="0.6"/>${bars}</svg>`;
}

function gallerySection(m: ReportModel): string {
  if (!m.hasGold) return `<p class="note">${esc(NO_GOLD_NOTICE)} Hacked samples — where the proxy overrated a response relative to gold — cannot be identified without one; the app's sample browser still lists the policy's samples.</p>`;
  if (!m.gallery.length) return '<p class="note">No policy samples were stored for these runs.</p>';
  const all = m.gallery.flatMap((g) => g.rewards).filter(Number.isFinite);
  const lo = Math.min(0, ...all), hi = Math.max(0, ...all);
  const cards = m.gallery.map((g) => {
    const o = m.objectives.find((x) => x.name === g.objective);
    const heads = g.rewards.length ? `<div class="note">Per-head reward μ_k: <span class="mono">${g.rewards.map((v) => esc(fmt(v))).join(' · ')}</span></div>${headBars(g.rewards, lo, hi)}` : '';
    return `<div class="card"><div class="who">${swatch(o)}${esc(capLabel(g.label))} · seed ${g.seed} · step ${g.step} · run ${g.runId}</div>`
      + `<div class="mono"><b>prompt</b> ${esc(g.prompt)}</div><div class="mono resp">${esc(g.response)}</div>`
      + `<div><b>gold ${esc(fmt(g.gold))}</b> · proxy ${esc(fmt(g.proxy))} · gap ${esc(signed(g.gap))}${g.std !== null ? ` · head std ${esc(fmt(g.std))}` : ''}${g.nominal !== null ? ` · nominal ${esc(fmt(g.nominal))}` : ''}${g.min !== null ? ` · min ${esc(fmt(g.min))}` : ''}${g.kl !== null ? ` · KL ${esc(fmt(g.kl, 1))}` : ''}</div>${heads}</div>`;
  });
  return `<p class="explain">Training samples where the proxy most overrated the response relative to gold (largest proxy − gold gap; at most a few per objective). These are what the policy learned to exploit. Proxy and gold are on different scales, so the gap ranks samples rather than measuring the damage.</p><div class="cards">${cards.join('\n')}</div>`;
}

/** Best-of-n (docs/method.md § Best-of-n): per result, gold (or proxy) against KL_bon with 95 % intervals
 *  over seeds and Gao's fitted curves (faint), gold against the baseline paired by seed, the fit and
 *  turnover in words and the table by n. The figures are common/bon.ts's, as the app's. */
function bestOfNSection(m: ReportModel): string {
  const XL = 'KL_bon = log n − (n−1)/n';
  return (m.bestOfN ?? []).map((b) => {
    const r = b.result;
    const what = r.has_gold ? 'gold' : 'proxy';
    const series = (curves: BonCurve[]): LineSeries[] => curves.map((c) => ({ name: c.name, style: c.style, markers: true, points: c.points.map((p) => ({ x: p.x, y: p.y, lo: p.lo, hi: p.hi })) }));
    const styles = bonStyles(r);
    const fits: LineSeries[] = r.objectives.flatMap((o, i) => { const f = fitCurve(o); return f ? [{ name: `${o.name} fit`, style: styles[i]!, faint: true, points: f.map((p) => ({ x: p.x, y: p.y })) }] : []; });
    const main = lineChart({
      title: `${what === 'gold' ? 'Gold' : 'Proxy'} of the chosen sample vs KL_bon`, xLabel: XL, yLabel: `${what} (seed mean)`, series: [...series(bonCurves(r, what)), ...fits],
      description: `${what} of the sample each objective chooses among n, against KL_bon; shaded: 95 % Student-t intervals over ${r.seeds.length} seeds; thin lines: Gao's fit.`,
    });
    const vs = bonCurves(r, 'vs_baseline');
    const vsChart = vs.length ? lineChart({
      title: `Gold minus ${r.baseline}'s, paired by seed`, xLabel: XL, yLabel: 'gold difference', series: series(vs),
      description: `Gold of each objective's chosen sample minus the baseline's (${r.baseline}) at the same n, paired by seed, with 95 % intervals.`,
    }) : '';
    const rows = baselineRows(r);
    const base = r.objectives.find((o) => o.name === r.baseline)!;
    const tbl = rows.length ? table(['n', 'KL_bon', `${esc(r.baseline)}: gold`, ...rows[0]!.cells.map((c) => `${esc(c.name)} − ${esc(r.baseline)}`)],
      rows.map((row, j) => [`<td class="n">${row.n}</td>`, num(row.kl), `<td class="n">${esc(intervalText(base.curve[j]!.gold))}</td>`, ...row.cells.map((c) => `<td class="n${excludesZero(c.v) ? ' sig' : ''}">${esc(intervalText(c.v, true))}</td>`)]),
      [true, true, true, ...rows[0]!.cells.map(() => true)]) : '';
    return `<h3 id="bon-${b.id}">${esc(b.name)} (best-of-n ${b.id}, ${esc(b.relation)})</h3>
<p class="explain">${esc(b.source)}; N = ${r.N} samples per prompt, ${r.prompts} prompts, ${r.seeds.length} seeds (${esc(r.seeds.join(', '))}). Each seed's objectives choose from the same samples, so they are compared paired by seed; the baseline is ${esc(r.baseline)}.${r.has_gold ? '' : ' There is no gold reward: the curves are the proxy each objective chose by.'}</p>
<div class="grid"><figure>${main}</figure>${vsChart ? `<figure>${vsChart}</figure>` : ''}</div>
<ul class="explain">${r.objectives.map((o) => `<li>${esc(fitText(o))}${r.has_gold ? ` ${esc(turnoverText(o, r.N))}` : ''}</li>`).join('')}</ul>
${tbl ? `<p class="explain">Gold minus ${esc(r.baseline)}'s gold by n: mean [95 % interval], bold where the interval excludes 0.</p>${tbl}` : ''}`;
  }).join('\n');
}

function reproSection(m: ReportModel): string {
  const r = m.reproducibility;
  const kv: [string, string][] = [
    ['App version (runs)', r.appVersions.join(', ') || 'not recorded'],
    ['ONNX Runtime', r.ortVersions.join(', ') || 'not recorded'],
    ['Node.js (runs)', r.nodeVersions.join(', ') || 'not recorded'],
    ['Device', r.devices.join(', ') || 'not recorded'],
    ...(r.deviceNotes.length ? [['Device choice', r.deviceNotes.join(' · ')] as [string, string]] : []),
    ['Seeds', r.seeds.join(', ')],
    ['World seed', r.worldSeed !== null ? String(r.worldSeed) : '–'],
    ['Experiment', r.experiment ? `${r.experiment.id} — ${r.experiment.name} (created ${r.experiment.created})` : 'runs from several experiments'],
    ['Spec hash (sha256)', r.specHash ?? '–'],
    ['Report generated', `${m.generated} by rrlhf ${r.generatedBy.app ?? '?'} on Node ${r.generatedBy.node} (${r.generatedBy.platform})`],
  ];
  const out = [`<dl class="kv mono-values">${kv.map(([k, v]) => `<dt>${esc(k)}</dt><dd${/hash/.test(k) ? ' class="mono"' : ''}>${esc(v)}</dd>`).join('')}</dl>`];
  if (r.datasets.length) out.push(table(['Dataset', 'Content hash'], r.datasets.map((d) => [`<td>${esc(d.name)} (id ${d.id})</td>`, `<td class="mono hash">${esc(d.hash)}</td>`])));
  if (r.files.length) out.push('<h3>Model files</h3>' + table(['What', 'File (in the data directory)', 'Size', 'sha256'], r.files.map((f) => [`<td>${esc(f.what)}</td>`, `<td class="mono">${esc(f.path)}</td>`, `<td class="n">${esc(count(f.bytes))} B</td>`, `<td class="mono hash">${esc(f.sha256)}</td>`]), [false, false, true, false]));
  const cks = m.runs.filter((x) => x.checkpoint);
  if (cks.length) out.push('<h3>Final checkpoints</h3>' + table(['Run', 'Objective', 'Seed', 'Step', 'State sha256'], cks.map((x) => [`<td class="n">${x.id}</td>`, `<td>${esc(x.objective)}</td>`, `<td class="n">${x.seed}</td>`, `<td class="n">${x.checkpoint!.step}</td>`, `<td class="mono hash">${esc(x.checkpoint!.sha256)}</td>`]), [true, false, true, true, false]));
  if (r.command) out.push(`<p class="explain">${esc(r.command)}</p>`);
  if (m.spec) out.push(`<h3>Experiment spec (every default written in)</h3><pre class="spec mono">${esc(JSON.stringify(m.spec, null, 2))}</pre>`);
  if (m.differences.length) out.push('<h3>Settings that differ between runs</h3>' + table(['Setting', 'Values'], m.differences.map((d) => [`<td class="mono">${esc(d.path)}</td>`, `<td class="mono">${esc(d.values.join(' | '))}</td>`])));
  return out.join('\n');
}

/** Renders the report model as one self-contained HTML document. */
export function renderHtml(m: ReportModel): string {
  const sections: [string, string, string][] = [
    ['curves', 'Goodhart curves', `<p class="explain">${m.hasGold ? `Gold is what we actually want; the proxy is what each policy was optimised for. Every ${m.spec?.eval.every ?? 'few'} iterations the policy was sampled on evaluation prompts and scored by both.` : `${esc(NO_GOLD_NOTICE)} Every ${m.spec?.eval.every ?? 'few'} iterations the policy was sampled on held-out prompts and scored by the proxy it was optimised for.`} Lines are means across seeds, shaded bands ± 1 standard deviation, thin lines individual seeds.</p>${goodhartCharts(m)}`],
    ['comparison', 'Final and peak gold', comparisonSection(m)],
    ...(m.lambdaSweep ? [['lambda', 'λ sweep', lambdaSection(m)] as [string, string, string]] : []),
    ...(m.benchmarks ? [['benchmarks', 'Benchmarks', benchmarkSection(m)] as [string, string, string]] : []),
    ['training', 'Training dynamics', trainingCharts(m)],
    ['runs', 'Per-run results', runsTable(m)],
    ['ensemble', 'Ensemble diagnostics', ensembleSection(m)],
    ...(m.bestOfN ? [['bon', 'Best-of-n', bestOfNSection(m)] as [string, string, string]] : []),
    ['samples', 'Hacked samples', gallerySection(m)],
    ['methods', 'Methods', `${m.methods.map((p) => `<p class="explain">${esc(p)}</p>`).join('\n')}<h3>Terms</h3><dl class="gloss">${m.glossary.map((g) => `<dt>${esc(g.term)}</dt><dd>${esc(g.text)}</dd>`).join('')}</dl>`],
    ['repro', 'Reproducibility', reproSection(m)],
  ];
  const pageBreak = new Set(['methods']);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="Robust RLHF Studio ${esc(m.reproducibility.generatedBy.app ?? '')}">
<title>${esc(m.title)} — RLHF report</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>${esc(m.title)}</h1>
<p class="sub">${esc(m.subtitle)} · report generated ${esc(m.generated.slice(0, 16).replace('T', ' '))} UTC</p>
</header>
${m.hasGold === false ? `<div class="warn" id="no-gold"><b>No gold reward.</b> Gold columns are empty (–) and gold charts are left out; proxy and KL are this study's only measurements.</div>\n` : ''}<section id="verdict" class="verdict" aria-label="Verdict">
<p class="lead">${esc(m.verdict)}</p>
${m.caveats.length ? `<ul>${m.caveats.map((c) => `<li>${esc(c)}</li>`).join('')}</ul>` : ''}
</section>
<h2 id="glance">At a glance</h2>
${glance(m)}
<nav class="toc" aria-label="Contents">${sections.map(([id, title]) => `<span><a href="#${id}">${esc(title)}</a></span>`).join('')}</nav>
${sections.map(([id, title, body]) => `<section id="${id}"${pageBreak.has(id) ? ' class="page"' : ''}>\n<h2>${esc(title)}</h2>\n${body}\n</section>`).join('\n')}
<footer>Robust RLHF Studio report · method: “Reward-Robust RLHF in LLMs” (Yan et al., arXiv 2409.15360) · Goodhart curves after Gao et al. (arXiv 2210.10760). This file is self-contained: no scripts, no network access.</footer>
</main>
</body>
</html>
`;
}
