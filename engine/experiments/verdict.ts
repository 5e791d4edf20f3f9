// The verdict: the sentence a newcomer reads first about a study, and the caveats under it. One writer,
// so the study page, the experiments list, the home screen and the report word a study the same way.
// Plain words; numbers are gold (true quality) on held-out prompts, or — without gold — the one proxy
// every objective shares, at matched KL.

import { usesHeads } from '../../common/objectives.js';
import { fmt, signed, list, capitalize, capLabel } from '../../common/format.js';
import type { StudyAnalysis, ObjectiveSummary, Comparison } from './analysis.js';

export interface Verdict {
  text: string;
  caveats: string[];
}

/** Shown first in the verdict (and at the top of a report) of a study without gold. */
export const NO_GOLD_NOTICE = 'This study has no gold reward: only proxy metrics are shown.';

/** Heads that disagree by less than this share of the reward's spread give the min nothing to work with. */
export const FLAT_HEADS = 0.05;

type Facts = Omit<StudyAnalysis, 'verdict'>;

/** How much the heads disagree, over the reward's spread: on the policy's own samples at the end of
 *  training when the runs logged it (what the min over heads actually worked with; the largest among
 *  `objectives`), else on the ensemble's held-out pairs. */
function disagreement(a: Facts, objectives: string[]): { rel: number; where: string } | null {
  const rows = a.onPolicyDisagreement.filter((r) => r.relativeEnd !== null && objectives.includes(r.objective));
  if (rows.length) return { rel: Math.max(...rows.map((r) => r.relativeEnd!)), where: 'on the policy\'s own samples at the end of training' };
  return a.relativeDisagreement !== null ? { rel: a.relativeDisagreement, where: 'on held-out pairs' } : null;
}

export function writeVerdict(a: Facts, o: { seedsPlanned: number | null }): Verdict {
  const v = a.hasGold ? withGold(a, o.seedsPlanned) : withoutGold(a);
  const unfinished = a.runs.filter((r) => r.status !== 'finished' && r.status !== 'imported');
  if (unfinished.length) {
    v.caveats.unshift(`${unfinished.length} of ${a.runs.length} runs ${unfinished.length === 1 ? 'has' : 'have'} not finished (${list(unfinished.map((r) => `run ${r.id}: ${r.status}${r.final ? `, last evaluated at step ${r.final.step}` : ', not evaluated yet'}`))}); "final" values are their latest evaluations, so compare with care.`);
  }
  const finalSteps = new Set(a.runs.filter((r) => r.final).map((r) => r.final!.step));
  if (finalSteps.size > 1 && !unfinished.length) v.caveats.push(`Runs ended at different steps (${list([...finalSteps].sort((x, y) => x - y).map(String))}), so final values are not from the same point of training.`);
  return v;
}

const seedsWord = (n: number) => `${n} seed${n === 1 ? '' : 's'}`;
const interval = (c: Comparison) => (c.lo !== null && c.hi !== null ? `95% interval ${signed(c.lo)} to ${signed(c.hi)}` : null);

/** The headline comparison: the paper's robust objective when the study has one, else the second objective. */
function headline(a: Facts): Comparison | undefined {
  return a.comparisons.find((c) => a.objectives.find((o) => o.name === c.a)?.kind === 'robust') ?? a.comparisons[0];
}

function withGold(a: Facts, seedsPlanned: number | null): Verdict {
  const caveats: string[] = [];
  const margin = a.onsetMargin;
  const base = a.summaries[0];
  if (!base) return { text: 'The study has no runs yet, so there is nothing to report.', caveats };
  const goldOf = (label: string) => (/[)”]$/.test(label) ? `gold under ${label}` : `${label}'s gold`);
  const fell = (s: ObjectiveSummary) => !!s.meanCurve && s.meanCurve.peakStep < s.meanCurve.finalStep && s.meanCurve.finalGold <= s.meanCurve.peakGold - margin;
  const hackNote = (s: ObjectiveSummary) => (s.onsets ? `reward hacking began in ${s.onsets} of ${seedsWord(s.n)} (around step ${Math.round(s.onsetStep!)})` : null);

  const c = headline(a);
  if (!c) {
    const mc = base.meanCurve;
    if (!mc) return { text: `${capLabel(base.label)} has no gold evaluations yet, so there is nothing to report.`, caveats };
    const start = base.startGold.mean;
    const moved = start !== null ? `moved gold from ${fmt(start)} to ${fmt(mc.finalGold)} over ${mc.finalStep} steps` : `ended with final gold ${fmt(mc.finalGold)} at step ${mc.finalStep}`;
    const course = fell(base) ? `it peaked at step ${mc.peakStep} (${fmt(mc.peakGold)}) and fell afterwards` : `it ended within ${margin} of its peak`;
    const hack = hackNote(base);
    return { text: `${capLabel(base.label)} ${moved}; ${course}${hack ? `; ${hack}` : ''}. Only one objective is in this study, so there is nothing to compare it with: add a second objective.`, caveats };
  }
  const other = a.summaries.find((s) => s.objective === c.a)!;

  // The comparison itself.
  let first: string;
  if (!c.n) {
    first = `${capLabel(c.aLabel)} and ${c.bLabel} have no seed with gold evaluations from both, so they cannot be compared yet`;
  } else {
    const ci = interval(c);
    const losses = c.perSeed.filter((p) => p.diff < 0).length;
    const on = (k: number) => (c.n === 1 ? 'on its one paired seed' : `on ${k} of ${c.n} seeds`);
    const noise = ci && !c.significant ? ' — within the spread across seeds' : '';
    const avg = `${signed(c.mean)} on average${ci ? `, ${ci}` : ''}`;
    if (c.mean === null || c.mean === 0) first = `${capLabel(c.aLabel)} ended with the same final gold as ${c.bLabel} on average (${on(c.wins)} higher)`;
    else if (c.mean > 0) first = `${capLabel(c.aLabel)} ended with higher final gold than ${c.bLabel} ${on(c.wins)} (${avg})${noise}`;
    else first = `${capLabel(c.aLabel)} ended with lower final gold than ${c.bLabel} ${on(losses)} (${avg})${noise}`;
  }
  const parts = [first];

  // How the curves went: did gold peak and fall (the over-optimisation shape)?
  const shape = (s: ObjectiveSummary, also: boolean): string | null => {
    const mc = s.meanCurve;
    if (!mc) return null;
    if (fell(s)) {
      return mc.peakStep === 0
        ? `${goldOf(s.label)} ${also ? 'also ' : ''}never rose above its starting value (${fmt(mc.peakGold)}) and fell to ${fmt(mc.finalGold)} by step ${mc.finalStep}`
        : `${goldOf(s.label)} ${also ? 'also ' : ''}peaked at step ${mc.peakStep} (${fmt(mc.peakGold)}) and fell to ${fmt(mc.finalGold)} by step ${mc.finalStep}`;
    }
    return also ? null : `${goldOf(s.label)} ${mc.peakStep === mc.finalStep ? 'was still at its highest at the end' : `stayed within ${margin} of its peak`} (${fmt(mc.finalGold)} at step ${mc.finalStep})`;
  };
  const bShape = shape(base, false);
  if (bShape) parts.push(bShape);
  const aShape = shape(other, fell(base));
  if (aShape) parts.push(aShape);
  if (base.onsets || other.onsets) {
    parts.push(base.onsets && !other.onsets
      ? `${base.label} started reward hacking in ${base.onsets} of ${seedsWord(base.n)} and ${c.aLabel} in none`
      : `reward hacking began in ${base.onsets} of ${base.n} ${base.label} run${base.n === 1 ? '' : 's'} and ${other.onsets} of ${other.n} ${c.aLabel} run${other.n === 1 ? '' : 's'}`);
  }

  // Why, and what to do next.
  const dc = disagreement(a, [c.a]);
  const flat = usesHeads(a.objectives.find((o) => o.name === c.a)!.kind) && dc !== null && dc.rel < FLAT_HEADS;
  const flatText = flat ? `the ensemble's heads barely disagree (${(100 * dc!.rel).toFixed(1)}% of the reward's spread ${dc!.where}), so the robust term had little to work with — try head diversity (bootstrap, the bt_per_head loss) on the Ensembles screen` : null;
  let why = '';
  if (c.n === 1) why = ' — run at least 2 seeds before trusting the difference';
  else if (c.n > 1 && c.significant && c.mean! < 0) {
    const klO = other.finalKl.mean, klS = base.finalKl.mean;
    if (klO !== null && klS !== null) {
      why = klO > klS ? ` — ${c.aLabel} drifted further from the starting policy (KL ${fmt(klO)} vs ${fmt(klS)}) and was hacked harder`
        : ` — ${c.aLabel} stayed closer to the starting policy (KL ${fmt(klO)} vs ${fmt(klS)}): too cautious here`;
    }
    if (flatText) why += `${why ? '; ' : ' — '}${flatText}`;
  } else if (c.n > 1 && !c.significant) {
    why = flatText ? ` — ${flatText}` : seedsPlanned !== null && seedsPlanned < 5 ? ' — run more seeds (the Thorough preset) to tell them apart' : '';
  }
  const text = `${parts.join('; ')}${why}.`;

  // Caveats: the same comparison at matched KL, the seed spread, the other comparisons, flat heads.
  if (a.matchedKl) {
    const k = a.matchedKl.kls.length - 1;
    const ga = a.matchedKl.rows.find((r) => r.objective === c.a)?.gold[k], gb = a.matchedKl.rows.find((r) => r.objective === c.b)?.gold[k];
    if (ga?.mean != null && gb?.mean != null) {
      caveats.push(`At the same distance from π₀ (KL = ${a.matchedKl.kls[k]}, the most every run reached), gold was ${fmt(ga.mean)} for ${c.aLabel} and ${fmt(gb.mean)} for ${c.bLabel} (seed means).`);
    }
  }
  if (c.warning) caveats.push(capitalize(`${c.warning}.`.replace(/\.\.$/, '.')));
  else if (c.n > 1 && !c.significant) caveats.push('The confidence interval includes 0: the difference is not established at this number of seeds.');
  for (const x of a.comparisons) {
    if (x === c) continue;
    caveats.push(`${capLabel(x.aLabel)} vs ${x.bLabel}: final-gold difference ${signed(x.mean)}${x.lo !== null ? ` (95% CI ${signed(x.lo)} to ${signed(x.hi)})` : ''}, higher on ${x.wins} of ${x.n} seeds.`);
  }
  const da = disagreement(a, a.objectives.filter((ob) => usesHeads(ob.kind)).map((ob) => ob.name));
  if (!(flatText && why.includes(flatText)) && da !== null && da.rel < FLAT_HEADS && a.objectives.some((ob) => usesHeads(ob.kind))) {
    caveats.push(`The ensemble heads barely disagree (${(100 * da.rel).toFixed(1)}% of the reward's spread ${da.where}), so the robust objectives here behave much like a single reward model (see the ensemble diagnostics).`);
  }
  return { text, caveats };
}

/** Without gold: what can be said (shared proxy reward per unit of drift), and what cannot (hacking). */
function withoutGold(a: Facts): Verdict {
  const caveats = a.summaries.filter((s) => s.finalProxy.n > 0).map((s) => `${capLabel(s.label)}: final proxy ${fmt(s.finalProxy.mean)}, final KL ${fmt(s.finalKl.mean, 1)} (mean of ${seedsWord(s.finalProxy.n)}).`);
  caveats.push('Each objective\'s proxy has its own scale (a minimum over heads sits below a single model\'s reward), so compare trends and KL, not levels. To measure over-optimisation, give the study a held-out reward model as gold (world.gold.rewardModelDir).');
  const c = headline(a);
  const judge = 'add a held-out reward model as gold to compare true quality';
  let rest: string;
  if (!c || !c.n) rest = a.objectives.length < 2 ? 'with a single objective there is nothing to compare' : 'no seed has evaluations of both objectives yet, so they cannot be compared';
  else if (c.n < 2) rest = `at the same distance from the starting model, ${c.aLabel} vs ${c.bLabel} differ by ${signed(c.mean)} ensemble-mean reward from a single seed — run at least 2 seeds, and ${judge}`;
  else {
    const diff = `${signed(c.mean)} ensemble-mean reward at matched KL (${interval(c) ?? 'no interval'} over ${seedsWord(c.n)})`;
    rest = c.significant
      ? `at the same distance from the starting model, ${c.mean! > 0 ? c.aLabel : c.bLabel} earned more of the shared proxy reward: ${c.aLabel} vs ${c.bLabel} ${diff} — ${judge}, to see which one really did better`
      : `at the same distance from the starting model, ${c.aLabel} and ${c.bLabel} earned about the same shared proxy reward (${diff}) — ${judge}`;
  }
  return { text: `${NO_GOLD_NOTICE} Without a gold reward the study cannot show reward hacking; ${rest}.`, caveats };
}
