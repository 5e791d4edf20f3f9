// The report's words that are not the verdict's (engine/experiments/verdict.ts) or the methods text
// (methods.ts): what the ensemble's quality figures mean, the caveat on imported runs, the title lines
// and how to repeat the study.

import path from 'node:path';
import { type Run, type Experiment } from '../store/index.js';
import { type ObjectiveInfo } from '../experiments/analysis.js';
import { fmt, list, pct } from '../../common/format.js';
import { type Setup } from './methods.js';
import { type EnsembleDiagnostics, type RunReport } from './schema.js';

/** Plain-language findings on the ensemble's quality report. */
export function ensembleNotes(d: EnsembleDiagnostics): string[] {
  const notes: string[] = [];
  if (d.relativeDisagreement !== null && d.heads > 1) {
    if (d.relativeDisagreement < 0.05) {
      notes.push(`The heads are nearly identical: their spread is ${pct(d.relativeDisagreement)} of the reward's own scale, so min ≈ nominal ≈ mean and the robust term can change little. This is the known weakness of the plain MSE stage (σ → 0, heads trained on the same targets); per-head bootstrap, BT-per-head training, the Gaussian-NLL or BT-Gaussian losses, anchoring or an unfrozen trunk add diversity.`);
    } else {
      notes.push(`The heads disagree by ${pct(d.relativeDisagreement)} of the reward's scale on held-out pairs, so the min over heads differs from the nominal head where they disagree.`);
    }
  }
  const onPolicy = d.onPolicy.filter((r) => r.relativeEnd !== null);
  if (onPolicy.length && d.relativeDisagreement !== null && d.heads > 1) {
    const more = onPolicy.filter((r) => r.relativeEnd! > d.relativeDisagreement!);
    notes.push(`On the policy's own samples the heads disagree by ${list(onPolicy.map((r) => `${pct(r.relativeStart)} → ${pct(r.relativeEnd)} under ${r.label}`))} of the same reward scale (first → last evaluation), against ${pct(d.relativeDisagreement)} on held-out pairs: ${more.length ? `more than on held-out pairs by the end under ${list(more.map((r) => r.label))}, as the policy moves where the members were not trained` : 'no more than on held-out pairs'}.`);
  }
  if (d.sigma && d.sigma.mean < 0.05 && d.method === 'brme') notes.push(`The heads' σ is small (mean ${fmt(d.sigma.mean)}): under the MSE stage the loss is (μ − t)² + σ², which drives σ towards 0, so σ says little about where a head is wrong.`);
  if (d.stdErrorCorrelation !== null) notes.push(`Correlation between head disagreement and ranking errors: ${fmt(d.stdErrorCorrelation, 2)} (positive means disagreement flags the pairs the ensemble gets wrong).`);
  if (d.accuracy.single !== null && d.accuracy.nominal !== null && d.accuracy.single - d.accuracy.nominal > 0.02) notes.push(`The stage-1 reward model ranks held-out pairs better than the nominal head (${pct(d.accuracy.single)} vs ${pct(d.accuracy.nominal)}).`);
  return notes;
}

/** The caveat when some runs were imported from another engine's logs (null when none were). */
export function importedRunsCaveat(runReports: RunReport[], runs: Run[]): string | null {
  const imported = runReports.filter((r) => r.status === 'imported');
  if (!imported.length) return null;
  const from = (id: number) => {
    const src = runs.find((x) => x.id === id)?.source;
    return src ? `${src.engine ?? 'an unknown engine'}, ${src.format} log ${path.basename(src.path)}` : 'another engine';
  };
  return `${imported.length} of ${runReports.length} runs ${imported.length === 1 ? 'was' : 'were'} imported from another engine (${list(imported.map((r) => `run ${r.id}: ${from(r.id)}`))}): their training curves join their objective's under our metric names (docs/metrics.md § Imported runs), but they have no evaluations of this study's, so final, peak and gold figures come from the local runs only.`;
}

/** How to repeat a study from its report. */
export const REPEAT_COMMAND = 'Save the spec below as spec.json and run `rrlhf experiment run spec.json` (same seeds, same device type) to repeat the study.';

/** The report's title and the line under it (experiment, world, objectives × seeds, iterations). */
export function reportTitles(o: { exp: Experiment | null; expIds: number[]; runIds: number[]; setup: Setup | null; hasGold: boolean; objectives: ObjectiveInfo[]; seeds: number[] }): { title: string; subtitle: string } {
  const { exp, setup, objectives, seeds } = o;
  const title = exp ? exp.name : `Runs ${list(o.runIds.map(String))}`;
  const subtitle = [
    exp ? `Experiment ${exp.id}` : o.expIds.length > 1 ? `${o.expIds.length} experiments` : 'Selected runs',
    setup ? (setup.world.name === 'goodhart-lab' ? 'Goodhart lab world' : setup.world.name === 'text-reviews' ? 'text-reviews world' : setup.world.name === 'dataset' ? `dataset ${setup.world.datasetId}${o.hasGold ? '' : ' (no gold)'}` : setup.world.name) : null,
    `${objectives.length} objective${objectives.length > 1 ? 's' : ''} × ${seeds.length} seed${seeds.length > 1 ? 's' : ''}`,
    setup ? `${setup.ppo.iterations} PPO iterations` : null,
  ].filter(Boolean).join(' · ');
  return { title, subtitle };
}
