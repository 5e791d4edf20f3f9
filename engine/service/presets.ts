// The guided wizard's presets and its time estimate.
//
// "Quick" is the built-in paired study (`rrlhf quickstart`): standard RLHF (one reward model) against
// the robust objective (λ = 0.4) and the ensemble mean over five independently trained reward models on
// the Goodhart lab, 2 seeds × 60 PPO iterations — well under a minute on a laptop CPU, long enough for the
// standard run to start hacking its reward model. Why independent members and not the paper's BRME:
// docs/science.md § Choosing the default robust setting (on 8 development world seeds the paper's BRME
// lost final gold to a single reward model at every λ, independent members did not).
// "Paper" is the paper-exact BRME (five Gaussian heads on one trunk, plain MSE stage 2) against standard.
// "Thorough" adds seeds, iterations, more preference data and the baselines the paper compares against
// (BRME nominal only, λ = 1; worst case, λ = 0).
//
// RRLHF_PRESET_SIZE=tiny shrinks the presets to a study of seconds; the end-to-end tests set it on the
// server they start, and the wizard then says so next to the preset buttons.
import { parseSpec, type ExperimentSpec } from '../experiments/spec.js';

export const PRESET_NAMES = ['quick', 'paper', 'thorough'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** The wizard's button label and one-line description of each preset. */
export const PRESET_LABELS: Readonly<Record<PresetName, { label: string; summary: string }>> = Object.freeze({
  quick: { label: 'Quick', summary: 'standard vs robust λ=0.4 and the mean over 5 independent reward models' },
  paper: { label: "Paper's BRME", summary: 'standard vs robust λ=0.4 over the paper-exact BRME (5 heads, MSE stage 2)' },
  thorough: { label: 'Thorough', summary: '4 objectives over BRME, more data' },
});

/** The Quick preset's ensemble and objectives (docs/science.md § Choosing the default robust setting). */
const QUICK_ENSEMBLE = { method: 'independent' } as const;
const QUICK_OBJECTIVES = [
  { name: 'standard', kind: 'single' },
  { name: 'robust λ=0.4', kind: 'robust', lambda: 0.4 },
  { name: 'ensemble mean', kind: 'mean' },
] as const;
const PAPER_OBJECTIVES = [{ name: 'standard', kind: 'single' }, { name: 'robust λ=0.4', kind: 'robust', lambda: 0.4 }] as const;

export const tinyPresets = () => process.env.RRLHF_PRESET_SIZE === 'tiny';

/** The (raw) spec of a preset on a world; parseSpec fills in every default. */
export function presetSpec(name: PresetName, world: 'goodhart-lab' | 'text-reviews' = 'goodhart-lab'): ExperimentSpec {
  const worldPart = { name: world, seed: 0, settings: {} };
  // What Quick compares; Paper's BRME and (at test size) Thorough compare standard with robust over BRME.
  const compared = name === 'quick' ? { ensemble: QUICK_ENSEMBLE, objectives: QUICK_OBJECTIVES } : { ensemble: {}, objectives: PAPER_OBJECTIVES };
  if (tinyPresets()) {
    return parseSpec({
      name: `${PRESET_LABELS[name].label} study (test size): standard vs robust RLHF`,
      world: worldPart,
      sft: { samples: 256, epochs: 1, batchSize: 64 },
      ensemble: { heads: 3, pairs: 256, valPairs: 64, ...compared.ensemble },
      objectives: compared.objectives,
      seeds: [0, 1],
      ppo: { iterations: 8, batchSize: 16, miniBatches: 2, epochs: 2 },
      eval: { every: 2, samples: 16 },
      checkpointEvery: 2,
    }, 'preset');
  }
  if (name !== 'thorough') {
    return parseSpec({
      name: name === 'quick' ? 'Quick study: standard vs robust RLHF' : "Paper's BRME: standard vs robust RLHF",
      world: worldPart,
      ...compared,
      seeds: [0, 1],
      ppo: { iterations: 60 },
    }, 'preset');
  }
  return parseSpec({
    name: 'Thorough study: standard vs robust RLHF and baselines',
    world: worldPart,
    ensemble: { pairs: 4000, valPairs: 1000 },
    objectives: [
      { name: 'standard', kind: 'single' },
      { name: 'nominal (λ=1)', kind: 'nominal' },
      { name: 'robust λ=0.4', kind: 'robust', lambda: 0.4 },
      { name: 'worst case (λ=0)', kind: 'wco' },
    ],
    seeds: [0, 1, 2, 3, 4],
    ppo: { iterations: 120 },
    eval: { every: 5, samples: 256 },
  }, 'preset');
}

/**
 * Seconds per unit of work on this machine. The defaults are the Quick study's phases measured on the
 * 2-core build machine (2026-12-07, in process: SFT 1.42 s for 2048 × 3 samples, reward models 3.96 s
 * for 2000 pairs, 5.3 s of PPO and evaluation per run, split in the earlier defaults' 0.0075 : 0.0022
 * ratio; 26.7 s in all, 34 s as a CLI process). The earlier defaults overestimated that study 6×
 * (164 s). The service replaces them with what it measures on each finished study (settings.json,
 * "calibration"), so a slower or faster machine is right from its second study on.
 */
export interface Calibration {
  /** SFT: seconds per (sample × epoch). */
  sft: number;
  /** Reward models: seconds per preference pair for a whole BRME (stage 1 + stage 2), or per pair per member. */
  rewardPerPair: number;
  /** PPO: seconds per rollout sample per iteration (4 epochs of updates). */
  ppoPerSample: number;
  /** Gold evaluation: seconds per evaluated sample. */
  evalPerSample: number;
  /** Best-of-n: seconds per drawn sample (generation, π₀'s and the policy's log-probs, ensemble and gold
   *  scoring). Measured 2026-12-07 on the 2-core build machine: goodhart-lab, a 3-head BRME, 2 seeds ×
   *  256 samples × 8 prompts in 1.23 s with the ensembles cached (0.00030 s a sample; 0.00033 at n = 64). */
  bonPerSample: number;
}

export const DEFAULT_CALIBRATION: Calibration = { sft: 0.00023, rewardPerPair: 0.00198, ppoPerSample: 0.00121, evalPerSample: 0.000355, bonPerSample: 0.0003 };

export interface Estimate {
  /** null: cannot be told before the study runs (a study on your own model: it depends on the model's size). */
  seconds: number | null;
  parts: { setup: number; ppo: number; eval: number };
  runs: number;
  iterations: number;
  /** Where the figures come from: the defaults, or measurements from studies run here ('unknown': your own model). */
  basis: 'defaults' | 'measured' | 'unknown';
}

/** The extra SFT runs of per-member trunks: K − 1 (member 0 keeps π₀); none for shared trunks or absent (older specs). */
const memberTrunkSfts = (e: ExperimentSpec['ensemble']) => ((e.trunks ?? 'shared') === 'per-member' ? e.heads - 1 : 0);

export function estimate(spec: ExperimentSpec, cal: Calibration = DEFAULT_CALIBRATION, basis: Estimate['basis'] = 'defaults'): Estimate {
  const runs = spec.seeds.length * spec.objectives.length;
  if (spec.world.name === 'dataset') {
    // The calibration is for the built-in worlds' tiny decoders; an imported model's cost scales with its size.
    return { seconds: null, parts: { setup: 0, ppo: 0, eval: 0 }, runs, iterations: runs * spec.ppo.iterations, basis: 'unknown' };
  }
  // Per-member trunks: one more SFT (a π₀ variant) for each member but member 0 (docs/science.md § Pretraining-seed members).
  const sfts = 1 + memberTrunkSfts(spec.ensemble);
  const sft = spec.sft.skip ? 0 : sfts * spec.sft.samples * spec.sft.epochs * cal.sft;
  // Independent and LoRA members train one by one (a LoRA member still runs the whole trunk forward and back).
  const members = spec.ensemble.method === 'brme' ? 1 : spec.ensemble.heads;
  const reward = spec.ensemble.pairs * members * cal.rewardPerPair;
  const ppo = runs * spec.ppo.iterations * spec.ppo.batchSize * cal.ppoPerSample * (spec.ppo.epochs / 4);
  const evals = runs * (Math.floor(spec.ppo.iterations / spec.eval.every) + 2) * spec.eval.samples * cal.evalPerSample;
  return { seconds: sft + reward + ppo + evals, parts: { setup: sft + reward, ppo, eval: evals }, runs, iterations: runs * spec.ppo.iterations, basis };
}

/** What the best-of-n estimate needs of a request (engine/service/bon.ts BonRequest). */
export interface BonEstimateInput {
  n: number;
  prompts: number;
  seeds: number[];
  source: { kind: 'world'; name: string; seed: number; settings: Record<string, unknown>; ensemble: Record<string, unknown> } | { kind: 'run' | 'model' };
}

export interface BonEstimate {
  /** null: cannot be told up front (a model folder of your own, or a run on a dataset world: it depends on the model's size). */
  seconds: number | null;
  /** setup: a built-in world's π₀ (SFT) and one ensemble per seed, when not already trained by an earlier
   *  best-of-n with the same settings (they are cached in the data dir); sampling: n × prompts per seed. */
  parts: { setup: number; sampling: number };
  samples: number;
  basis: Estimate['basis'];
}

/** How long a best-of-n takes here: the calibration is for the built-in worlds' tiny decoders, so a run
 *  source counts only when `builtinWorld` says its study was on one. */
export function estimateBon(req: BonEstimateInput, cal: Calibration = DEFAULT_CALIBRATION, basis: Estimate['basis'] = 'defaults', builtinWorld = req.source.kind === 'world'): BonEstimate {
  const samples = req.seeds.length * req.n * req.prompts;
  if (req.source.kind === 'model' || !builtinWorld) return { seconds: null, parts: { setup: 0, sampling: 0 }, samples, basis: 'unknown' };
  let setup = 0;
  if (req.source.kind === 'world') {
    // The defaults a study of this world would have, as the best-of-n runner reads them (engine/experiments/bon.ts).
    const st = parseSpec({ world: { name: req.source.name, seed: req.source.seed, settings: req.source.settings }, ensemble: req.source.ensemble }, 'bon');
    const members = st.ensemble.method === 'brme' ? 1 : st.ensemble.heads;
    // Per-member trunks are trained per seed (each seed replicates the reward side).
    const sftRun = st.sft.samples * st.sft.epochs * cal.sft;
    setup = sftRun + req.seeds.length * (memberTrunkSfts(st.ensemble) * sftRun + st.ensemble.pairs * members * cal.rewardPerPair);
  }
  const sampling = samples * cal.bonPerSample;
  return { seconds: setup + sampling, parts: { setup, sampling }, samples, basis };
}
