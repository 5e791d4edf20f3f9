// How an objective is named, described and coloured, wherever it appears: the wizard's choices, the
// study page, the Runs overlay, the report and its charts. One table per fact, keyed by the objective's
// kind (never by the name a user typed), so a `single` objective called "baseline" is still standard
// RLHF in every view. Pure data and functions: the renderer imports this module as it is.

import type { ObjectiveKind } from '../engine/rlhf/aggregate.js';

/** The objective fields these words depend on (a stored ObjectiveSpec has them all). */
export interface ObjectiveLike {
  name: string;
  kind: string;
  lambda?: number;
  minMode?: 'sample' | 'batch';
  uwoC?: number;
  softminBeta?: number;
  nominalMember?: number;
}

/** Per kind: the name the wizard gives a new objective and the one-line explanation it shows. */
export const OBJECTIVE_CHOICES: readonly { kind: ObjectiveKind; defaultName: (lambda: number) => string; text: string }[] = [
  { kind: 'single', defaultName: () => 'standard', text: 'standard RLHF: PPO on the single stage-1 reward model (the baseline)' },
  { kind: 'robust', defaultName: (l) => `robust λ=${l}`, text: 'the paper: λ·nominal + (1−λ)·min over the heads' },
  { kind: 'nominal', defaultName: () => 'nominal (λ=1)', text: 'only the most confident head per response' },
  { kind: 'wco', defaultName: () => 'worst case (λ=0)', text: 'only the most pessimistic head (Coste et al.)' },
  { kind: 'mean', defaultName: () => 'mean', text: 'the average of the heads' },
  { kind: 'uwo', defaultName: () => 'uncertainty-weighted', text: 'mean − c × variance across heads' },
  { kind: 'softmin', defaultName: () => 'softmin', text: 'a smooth minimum between mean and worst case' },
  { kind: 'gold', defaultName: () => 'gold (upper bound)', text: 'trains on the gold reward itself: what perfect reward models would give' },
];

/** Plain-language label used in charts and prose, e.g. "robust RLHF (λ = 0.4)". */
export function objectiveLabel(o: ObjectiveLike): string {
  const batch = o.minMode === 'batch';
  switch (o.kind) {
    case 'single': return 'standard RLHF';
    case 'robust': return `robust RLHF (λ = ${o.lambda ?? 0.4}${batch ? ', batch min' : ''})`;
    case 'nominal': return 'BRME nominal (λ = 1)';
    case 'mean': return 'ensemble mean';
    case 'wco': return `worst case (min over heads${batch ? ', per batch' : ''})`;
    case 'uwo': return `uncertainty-weighted (c = ${o.uwoC ?? 0.5})`;
    case 'softmin': return `soft-min (β = ${o.softminBeta ?? 1})`;
    case 'gold': return 'gold reward (control)';
    default: return o.name;
  }
}

/** Labels for a study's objectives; two objectives with the same label get their names appended. */
export function objectiveLabels(objectives: readonly ObjectiveLike[]): string[] {
  const base = objectives.map(objectiveLabel);
  return base.map((l, i) => (base.filter((x) => x === l).length > 1 ? `${l} “${objectives[i]!.name}”` : l));
}

/** What the objective optimises, in one clause (method: the ensemble method, which decides what "nominal" is). */
export function describeObjective(o: ObjectiveLike, method: string | null): string {
  const lambda = o.lambda ?? 0.4;
  const nominal = method === 'independent' ? `member ${o.nominalMember ?? 0} of the ensemble` : 'the head with the smallest σ for each sample';
  const min = o.minMode === 'batch' ? 'the head with the lowest batch-mean reward' : 'the lowest head reward for each sample';
  const rest = Math.round((1 - lambda) * 1e6) / 1e6;
  switch (o.kind) {
    case 'single': return 'one Bradley–Terry reward model, BRME\'s stage 1';
    case 'nominal': return `the nominal reward only: ${nominal}`;
    case 'mean': return 'the mean of the ensemble heads';
    case 'wco': return `worst-case optimisation: ${min}`;
    case 'uwo': return `head mean − ${o.uwoC ?? 0.5}·variance across heads`;
    case 'softmin': return `entropic soft-min over heads with β = ${o.softminBeta ?? 1} (mean as β → ∞, min as β → 0)`;
    case 'robust': return `${lambda}·nominal + ${rest}·min, nominal being ${nominal} and min ${min}`;
    case 'gold': return 'the gold reward itself (an upper bound, not available in practice)';
    default: return 'a reward whose settings were not recorded with the run';
  }
}

/** Whether an objective reads the ensemble's heads (so flat heads leave it nothing to work with). */
export const usesHeads = (kind: string) => ['robust', 'wco', 'mean', 'uwo', 'softmin', 'nominal'].includes(kind);

/** The Okabe–Ito palette (distinguishable under the common forms of colour blindness), ordered for
 *  contrast on white, its yellow left out (too light for lines). */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'] as const;

/**
 * Palette index per objective, by meaning: the robust objective blue, standard RLHF (single)
 * vermillion, nominal green, worst case pink; the first objective of a kind takes its colour, any
 * other (a second robust λ, say) the next colour no objective of the list uses.
 */
export function objectiveStyles(kinds: readonly string[]): number[] {
  const preferred: Record<string, number> = { robust: 0, single: 1, nominal: 2, wco: 3 };
  const used = new Set<number>();
  const free = () => { let k = 4; while (used.has(k % PALETTE.length) && used.size < PALETTE.length) k++; return k % PALETTE.length; };
  return kinds.map((kind) => {
    const p = preferred[kind];
    const style = p !== undefined && !used.has(p) ? p : free();
    used.add(style);
    return style;
  });
}

export const styleColor = (style: number): string => PALETTE[((style % PALETTE.length) + PALETTE.length) % PALETTE.length]!;
