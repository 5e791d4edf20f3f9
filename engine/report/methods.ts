// The report's prose written from the spec: the methods paragraphs (world, π₀, ensemble, PPO,
// evaluation) and the glossary. Words only; every number comes from the spec or the analysis.

import { type ExperimentSpec, type ObjectiveSpec } from '../experiments/spec.js';
import { describeObjective } from '../../common/objectives.js';
import type { ObjectiveInfo } from '../experiments/analysis.js';
import { resolveBootstrap } from '../rlhf/ensemble.js';
import { GOODHART_DEFAULTS } from '../worlds/goodhart.js';
import { TEXT_DEFAULTS } from '../worlds/text.js';
import { list, setting, count, pct } from '../../common/format.js';

export type Setup = Pick<ExperimentSpec, 'world' | 'ppo' | 'normalize' | 'perturb'> & Partial<ExperimentSpec>;

function worldSentence(w: ExperimentSpec['world']): string {
  if (w.name === 'dataset') {
    const gold = w.gold
      ? `Gold was a held-out reward model (${w.gold.rewardModelDir}) that no policy or proxy was trained on.`
      : 'The study has no gold reward, so only proxy rewards and KL could be measured.';
    return `The study used imported preference data (dataset ${w.datasetId}) with the pretrained model in ${w.modelDir} as starting policy and reward-model trunk; prompts were cut to their last ${w.maxPromptTokens} tokens and responses to ${w.maxResponseTokens}. ${gold}`;
  }
  if (w.name === 'goodhart-lab') {
    const s = { ...GOODHART_DEFAULTS, ...(w.settings as object) } as typeof GOODHART_DEFAULTS;
    const labels = s.labels === 'flip' ? `hard labels with ${pct(s.flipRate, 0)} flipped` : `Bradley–Terry labels at temperature τ = ${s.tau}`;
    return `The study used the built-in Goodhart lab world (seed ${w.seed}): ${s.prompts} prompts, a ${s.vocab}-token vocabulary and responses of ${s.length} tokens. `
      + `Its gold reward pays each token's prompt-specific value for up to k = ${s.k} copies, charges an overuse penalty γ·Σ max(0, c − k)^p (γ = ${s.gamma}, p = ${s.p}) and adds a coherence term (η = ${s.eta}); `
      + `the starting policy rarely repeats a token, so reward models trained on its samples must extrapolate, and a policy can exploit them by repetition. Preference labels were drawn from gold as ${labels}.`;
  }
  if (w.name === 'text-reviews') {
    const s = { ...TEXT_DEFAULTS, ...(w.settings as object) } as typeof TEXT_DEFAULTS;
    const labels = s.labels === 'flip' ? `hard labels with ${pct(s.flipRate, 0)} flipped` : `Bradley–Terry labels at temperature τ = ${s.tau}`;
    return `The study used the built-in text-reviews world (seed ${w.seed}): short English reviews from a template grammar, responses of up to ${s.maxResponseTokens} words. `
      + `Its gold reward is saturating sentiment (cap ${s.sentimentCap}) minus penalties for repeated content words (${s.repeatPenalty}) and bigrams (${s.bigramPenalty}) and for word pairs the grammar cannot produce (${s.fluencyPenalty}), so piling on praise words is the visible hack. Preference labels were drawn from gold as ${labels}.`;
  }
  return `The study used the world "${w.name}" (seed ${w.seed}).`;
}

function modelShape(w: ExperimentSpec['world']): string {
  if (w.name === 'dataset') return `the pretrained model from ${w.modelDir}`;
  const s = { ...(w.name === 'text-reviews' ? TEXT_DEFAULTS : GOODHART_DEFAULTS), ...(w.settings as object) } as { nLayer: number; d: number; nHead: number };
  return `a ${s.nLayer}-layer GPT-2-style decoder (width ${s.d}, ${s.nHead} attention heads)`;
}

function ensembleSentence(e: ExperimentSpec['ensemble']): string {
  const extras: string[] = [];
  if (e.method === 'brme' && resolveBootstrap(e.method, e.bootstrap)) extras.push('each head on its own bootstrap resample of the pairs');
  if (e.anchor > 0) extras.push(`heads anchored to their random initialisation (c = ${e.anchor})`);
  if (e.unfreezeLastLayers > 0) extras.push(`the last ${e.unfreezeLastLayers} trunk layer${e.unfreezeLastLayers > 1 ? 's' : ''} unfrozen`);
  if (e.method === 'independent') {
    return `The reward ensemble consisted of ${e.heads} independent Bradley–Terry reward models (different seeds${resolveBootstrap(e.method, e.bootstrap) ? ', each on its own bootstrap resample' : ''}) trained on ${count(e.pairs)} preference pairs (${count(e.valPairs)} held out for validation); member 0 serves as the single reward model and, where an objective needs one, as the nominal member.`;
  }
  const loss = {
    mse: `the MSE loss on reparameterised samples μ + σε against the stage-1 model's soft targets (α = ${e.alpha})`,
    gaussian_nll: `a Gaussian negative log-likelihood against the stage-1 model's soft targets (α = ${e.alpha})`,
    bt_gaussian: 'a Bradley–Terry loss averaged over the Gaussian margin N(μ_c − μ_r, σ_c² + σ_r²)',
    bt_per_head: 'a Bradley–Terry loss per head on the preference labels',
  }[e.stage2Loss];
  return `The reward ensemble was a Bayesian reward-model ensemble (BRME) trained on ${count(e.pairs)} preference pairs (${count(e.valPairs)} held out): `
    + `stage 1 trained one Bradley–Terry reward model r* (also the reward of standard RLHF); stage 2 put ${e.heads} Gaussian heads (mean μ_k, σ_k = exp(s_k/τ), τ = ${e.tau}) on its frozen trunk and trained them with ${loss}${extras.length ? `, with ${list(extras)}` : ''}.`;
}

function ppoSentence(p: ExperimentSpec['ppo']): string {
  const kl = p.adaptiveKl ? `an adaptive KL coefficient (initial β = ${setting(p.klCoef)}, target KL ${p.adaptiveKl.target}, horizon ${p.adaptiveKl.horizon})` : `a fixed KL coefficient β = ${setting(p.klCoef)}`;
  return `Each policy started from π₀ and was trained with PPO for ${p.iterations} iterations of ${p.batchSize} sampled responses (${p.epochs} epochs × ${p.miniBatches} minibatches per iteration, AdamW learning rate ${setting(p.lr)}, policy and value clip ${p.clipRange}, value coefficient ${p.vfCoef}, reward clip ±${p.rewardClip}, sampling temperature ${p.temperature}, GAE γ = 1, λ = 0.95), `
    + `with the per-token penalty −β·log(π/π_ref) and ${kl}; π₀ is the frozen reference.`;
}

export function methodsParagraphs(setup: Setup | null, objectives: ObjectiveInfo[], specs: ObjectiveSpec[], seeds: number[], method: string | null, margin: number, nExperiments: number, oneStudy: boolean): string[] {
  const out: string[] = [];
  let explained = false;
  const objs = objectives.map((o, i) => {
    const sp = specs[i]!;
    if (sp.kind === 'robust' && explained) return `${o.label}, the same with ${sp.lambda}·nominal + ${Math.round((1 - sp.lambda) * 1e6) / 1e6}·min`;
    if (sp.kind === 'robust') explained = true;
    return `${o.label}, which optimises ${describeObjective(sp, method)}`;
  });
  out.push(`We compared ${objectives.length === 1 ? 'one reward objective' : `${objectives.length} reward objectives`}: ${objs.join('; ')}. `
    + (oneStudy
      ? `${objectives.length > 1 ? 'The study is paired: every objective' : 'It'} was trained with the same seeds (${list(seeds.map(String))}), the same PPO settings, the same prompts in the same order and the same evaluation set${objectives.length > 1 ? ', so the objectives differ only in how the ensemble\'s rewards are aggregated' : ''}.`
      : `The runs were chosen individually${nExperiments > 1 ? ` from ${nExperiments} experiments` : ' and do not all belong to one experiment'}; they are compared as they are, paired by seed where seeds match (seeds ${list(seeds.map(String))}), and settings that differ between them are listed under Reproducibility. The setup below is that of the first run.`));
  if (!setup) return out;
  const world: string[] = [worldSentence(setup.world)];
  if (setup.sft?.skip) {
    world.push(`The starting policy π₀ was ${modelShape(setup.world)} as it is (no supervised fine-tuning); reward-model trunks start from π₀.`);
  } else if (setup.sft) {
    world.push(`The starting policy π₀, ${modelShape(setup.world)}, was fine-tuned on ${count(setup.sft.samples)} samples of the world's base behaviour (${setup.sft.epochs} epoch${setup.sft.epochs > 1 ? 's' : ''}, batch ${setup.sft.batchSize}, learning rate ${setting(setup.sft.lr)}); reward-model trunks start from π₀.`);
  }
  out.push(world.join(' '));
  if (setup.ensemble) out.push(ensembleSentence(setup.ensemble));
  const norm = setup.normalize === 'running'
    ? 'Each objective\'s aggregated reward was whitened with running mean and standard deviation before PPO — the same normalisation for every objective (the paper leaves normalisation open).'
    : 'Aggregated rewards were passed to PPO without normalisation.';
  const perturb = setup.perturb ? ` To test over- against under-scoring, ${pct(setup.perturb.fraction, 0)} of rollout rewards were shifted ${setup.perturb.direction} by ${setup.perturb.magnitude} at random.` : '';
  out.push(`${ppoSentence(setup.ppo)} ${norm}${perturb}`);
  if (setup.eval && setup.world.name === 'dataset' && !setup.world.gold) {
    out.push(`Every ${setup.eval.every} iterations (and at the start and end), ${count(setup.eval.samples)} responses to held-out prompts were sampled at the PPO temperature (${setup.ppo.temperature}) and scored with the objective's own reward (the proxy) and with the ensemble-mean reward; KL(π‖π_ref) is the per-sequence sum of log π − log π_ref over the sampled response tokens. Without gold, neither reward-hacking onsets nor final-gold differences can be measured.`);
  } else if (setup.eval) {
    out.push(`Every ${setup.eval.every} iterations (and at the start and end), ${count(setup.eval.samples)} responses to evaluation prompts were sampled at the PPO temperature (${setup.ppo.temperature}) and scored with the gold reward and with the objective's own reward (the proxy); KL(π‖π_ref) is the per-sequence sum of log π − log π_ref over the sampled response tokens, and √KL is the distance of Gao et al. `
      + `Hacking onset is the first evaluation where gold is more than ${margin} (and more than twice the combined standard error) below its running maximum while the proxy is still above its value at that maximum, and after which gold never comes back within ${margin} of that maximum. `
      + `We fit Gao et al.'s form gold − gold₀ = d(α − β·log d), d = √KL, to each run by least squares. Final-gold differences between objectives are paired by seed; their 95% confidence interval is Student's t over seeds (mean ± t·sd/√n, n − 1 degrees of freedom: wide with few seeds, as it should be), and a warning is shown when the spread across seeds exceeds the difference.`);
  }
  return out;
}

export const GLOSSARY = [
  { term: 'Gold', text: 'the true quality of a response — in the built-in worlds a known formula, so we can see whether optimisation really helped. The policy never sees it during training.' },
  { term: 'Proxy', text: 'the reward the policy was actually trained on: a learned reward model (or an aggregate of an ensemble). Its scale differs between objectives, so compare its trend, not its level.' },
  { term: 'Reward hacking', text: 'the proxy keeps rising while gold falls: the policy found what the reward model over-scores (Goodhart\'s law).' },
  { term: 'KL and √KL', text: 'how far the policy has moved from the starting policy π₀, in nats per response. Gao et al. plot reward against d = √KL; comparing objectives at the same KL compares them at the same "distance travelled".' },
  { term: 'BRME', text: 'Bayesian reward-model ensemble: one reward-model trunk with K heads, each predicting a Gaussian reward (mean μ_k, uncertainty σ_k).' },
  { term: 'Nominal', text: 'for each sample, the reward of the head with the smallest σ — the head most certain about that sample.' },
  { term: 'λ (lambda)', text: 'the weight of the nominal reward in the robust objective λ·nominal + (1 − λ)·min over heads. λ = 1 is nominal only; λ = 0 is pure worst case. The paper found 0.2–0.4 best.' },
  { term: 'Paired confidence interval', text: 'the 95% Student-t interval of the mean per-seed difference between two objectives run on the same seeds. With few seeds it is wide; an interval excluding 0 suggests a real difference.' },
];
