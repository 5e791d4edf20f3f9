// The paper's claims, measured on the Goodhart lab (docs/method.md § Claims; issue "RLHF core", item 8).
// Not a test: it runs two paired studies through the same runner the app uses and prints what came
// out, including where the paper's claim does not hold.
//
//   npm run build && node scripts/science.mjs [--seeds 5] [--steps 60] [--data-dir DIR] [--out FILE.md]
//
// Study A (the paper's BRME, plain MSE stage 2): single (standard RLHF), robust λ ∈ {0, .2, .4, .6, .8, 1}
//   (λ = 0 is the per-sample worst case, λ = 1 nominal only) and the ensemble mean.
// Study B (BRME with engineered head diversity: per-head bootstrap, anchoring, per-head BT):
//   single, robust λ = 0.4, worst case.
import { parseArgs } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../dist/engine/store/index.js';
import { parseSpec } from '../dist/engine/experiments/spec.js';
import { runExperiment } from '../dist/engine/experiments/runner.js';
import { pairedInterval, meanStd } from '../dist/engine/experiments/stats.js';

const { values } = parseArgs({ options: { seeds: { type: 'string', default: '5' }, steps: { type: 'string', default: '60' }, 'data-dir': { type: 'string' }, out: { type: 'string' } } });
const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i);
const steps = Number(values.steps);
const dataDir = values['data-dir'] ?? mkdtempSync(path.join(os.tmpdir(), 'rrlhf-science-'));
const store = openStore({ dataDir });
const t0 = Date.now();
const log = (m) => process.stderr.write(`[science ${((Date.now() - t0) / 1000).toFixed(0)}s] ${m}\n`);
const onProgress = (e) => { if (e.phase !== 'ppo' || e.step === e.total) log(e.message); };

const lambdas = [0, 0.2, 0.4, 0.6, 0.8, 1];
const studyA = parseSpec({
  name: 'science A: BRME (MSE stage) λ sweep',
  seeds,
  objectives: [
    { name: 'single', kind: 'single' },
    ...lambdas.map((l) => ({ name: `robust λ=${l}`, kind: 'robust', lambda: l })),
    { name: 'mean', kind: 'mean' },
  ],
  ppo: { iterations: steps },
});
const studyB = parseSpec({
  name: 'science B: BRME with head diversity',
  seeds,
  ensemble: { bootstrap: true, anchor: 1, stage2Loss: 'bt_per_head' },
  objectives: [{ name: 'single', kind: 'single' }, { name: 'robust λ=0.4', kind: 'robust', lambda: 0.4 }, { name: 'wco', kind: 'wco' }],
  ppo: { iterations: steps },
});

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
function table(res, spec) {
  const lines = ['| objective | final gold (mean ± sd) | peak gold | final proxy | final KL | runs with an onset | Δ final gold vs single [95% CI] |', '|---|---|---|---|---|---|---|'];
  const base = seeds.map((s) => res.runs.find((r) => r.objective === 'single' && r.seed === s).final.gold);
  for (const o of spec.objectives) {
    const rs = seeds.map((s) => res.runs.find((r) => r.objective === o.name && r.seed === s));
    const fg = meanStd(rs.map((r) => r.final.gold)), pk = meanStd(rs.map((r) => r.peak.gold));
    const ci = o.name === 'single' ? null : pairedInterval(rs.map((r) => r.final.gold), base);
    lines.push(`| ${o.name} | ${fmt(fg.mean)} ± ${fmt(fg.std)} | ${fmt(pk.mean)} | ${fmt(meanStd(rs.map((r) => r.final.proxy)).mean)} | ${fmt(meanStd(rs.map((r) => r.final.kl)).mean, 1)} | ${rs.filter((r) => r.onset !== null).length}/${rs.length} | ${ci ? `${fmt(ci.mean)} [${fmt(ci.lo)}, ${fmt(ci.hi)}]${ci.significant ? ' *' : ''}` : '–'} |`);
  }
  const e = res.ensemble;
  lines.push('', `Ensemble: held-out accuracy single ${fmt(e.accuracy?.single, 3)}, nominal ${fmt(e.accuracy?.nominal, 3)}, mean ${fmt(e.accuracy?.mean, 3)}, heads ${(e.accuracy?.per_head ?? []).map((x) => fmt(x, 3)).join(', ')}; σ mean ${fmt(e.sigma?.mean, 4)}; head disagreement ${fmt(e.disagreement, 4)} (relative to the reward scale: ${fmt(e.relative_disagreement, 4)}).`);
  return lines.join('\n');
}

log(`data dir ${dataDir}; ${seeds.length} seeds × ${steps} PPO iterations`);
const a = await runExperiment(studyA, { store, dataDir, onProgress });
const b = await runExperiment(studyB, { store, dataDir, onProgress });
const md = [
  `# Goodhart lab: the paper's claims, measured (${new Date().toISOString().slice(0, 10)})`,
  '',
  `${seeds.length} seeds, ${steps} PPO iterations of 64 rollouts each, default world and PPO settings; machine: ${os.cpus()[0]?.model} × ${os.cpus().length}; wall time ${((Date.now() - t0) / 60000).toFixed(1)} min.`,
  'Δ final gold is paired by seed (95% Student-t interval of the mean difference, n − 1 df); * = the CI excludes 0.',
  '',
  '## Study A — BRME as in the paper (plain MSE stage 2): λ sweep',
  table(a, studyA),
  '',
  '## Study B — BRME with engineered head diversity (bootstrap, anchoring, per-head BT)',
  table(b, studyB),
  '',
].join('\n');
process.stdout.write(md + '\n');
if (values.out) writeFileSync(values.out, md + '\n');
store.close();
