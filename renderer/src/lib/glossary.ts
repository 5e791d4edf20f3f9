// Plain-language explanations shown next to the terms they explain ("?" buttons and tooltips).
export const GLOSSARY = {
  gold: {
    term: 'gold',
    text: 'The true quality of a response. The built-in worlds know it exactly (a formula), which real RLHF never does; that is what lets you see whether training really helped. Measured on held-out prompts the policy never trained on.',
  },
  proxy: {
    term: 'proxy reward',
    text: 'The reward the policy is actually trained on: a reward model\'s (or ensemble\'s) score, learned from preference pairs. It is only an estimate of gold. When the proxy keeps rising while gold falls, the policy is exploiting the reward model\'s mistakes — reward hacking.',
  },
  kl: {
    term: 'KL',
    text: 'How far the trained policy has drifted from where it started (π₀), as the KL divergence summed over a response. RLHF pays a penalty β·KL to stay close; more KL means more optimisation — and more room to find the reward model\'s blind spots. Charts can use √KL on the x-axis, as in Gao et al.\'s overoptimisation curves.',
  },
  brme: {
    term: 'BRME',
    text: 'Bayesian Reward-Model Ensemble (the paper\'s method): one reward model whose last layer has K heads, each predicting a reward μ and its own uncertainty σ. Stage 1 trains an ordinary reward model; stage 2 trains the K heads on its targets. Where heads disagree, the reward is uncertain.',
  },
  lambda: {
    term: 'λ (lambda)',
    text: 'The robust objective\'s mix: λ × nominal reward + (1 − λ) × the lowest head\'s reward. λ = 1 trusts the most confident head alone; λ = 0 trusts only the most pessimistic head. The paper found λ between 0.2 and 0.4 best; 0.4 is the default.',
  },
  nominal: {
    term: 'nominal reward',
    text: 'For each response, the reward of the ensemble head that is most certain about it (smallest σ). "Nominal only" training is the robust objective with λ = 1.',
  },
  standard: {
    term: 'standard RLHF',
    text: 'PPO against one reward model (the stage-1 Bradley–Terry model): what most RLHF pipelines do. The baseline every other objective is compared with.',
  },
  robust: {
    term: 'reward-robust RLHF',
    text: 'PPO against λ·nominal + (1−λ)·min over the ensemble\'s heads (arXiv 2409.15360): when the heads disagree, the pessimistic head holds the reward down, so the policy has less to gain from the reward model\'s errors.',
  },
  ensembleStd: {
    term: 'ensemble std',
    text: 'How much the ensemble\'s heads disagree about the policy\'s responses (standard deviation across heads). Rising disagreement means the policy is moving where the reward models were never trained — a warning sign of hacking.',
  },
  onset: {
    term: 'hacking onset',
    text: 'The first evaluation where gold has fallen a set margin (0.1, and more than the evaluation noise) below its best so far while the proxy reward is still rising, and from which gold does not recover: the point where optimising the reward model stopped helping. While a run is going, an onset is provisional and withdrawn if gold comes back.',
  },
  seeds: {
    term: 'seeds',
    text: 'Independent repetitions with different random numbers. Standard and robust runs with the same seed share prompts and evaluation sets, so their difference is a fair pair. The 95% interval of the mean difference is Student’s t over the seeds: with 2 seeds it is very wide, from 5 on it starts to tell objectives apart. The verdict says when a difference could be luck.',
  },
  ppo: {
    term: 'PPO',
    text: 'Proximal Policy Optimization, the RL algorithm of RLHF: each iteration samples responses, scores them, and nudges the policy toward higher reward minus the KL penalty, in small clipped steps.',
  },
  sigma: {
    term: 'σ (sigma)',
    text: 'Each BRME head\'s own estimate of how uncertain its reward is for a response. With the paper\'s plain MSE loss σ tends to shrink towards zero for every head, which makes the heads nearly identical — the app shows this rather than hiding it.',
  },
  disagreement: {
    term: 'head disagreement',
    text: 'The standard deviation of the heads\' rewards for the same response. If it is tiny compared with the reward\'s spread, min ≈ nominal ≈ mean and the robust objective behaves like standard RLHF. Bootstrap subsets, per-head Bradley–Terry training or anchoring make heads more diverse.',
  },
  calibration: {
    term: 'calibration',
    text: 'Whether the ensemble\'s predicted preference probabilities match how often the preferred response really wins. A well-calibrated model lies on the diagonal; ECE (expected calibration error) is the average gap.',
  },
  presets: {
    term: 'presets',
    text: 'Quick runs standard RLHF against the robust objective (λ = 0.4) and the ensemble mean over five independent reward models: on 8 development worlds that was the only ensemble whose objectives did not lose to standard RLHF, while the paper\'s BRME lost at every λ. On 5 worlds not used to choose it, it did not beat standard RLHF either (the differences were within noise): in this world every reward model shares the same blind spot. Ensembles clearly help best-of-n under label noise. Paper\'s BRME is the method exactly as published. Evidence: docs/science.md.',
  },
  method: {
    term: 'ensemble method',
    text: 'BRME: one shared network with K heads (the paper). Independent: K separate Bradley–Terry reward models trained on bootstrap resamples (Coste et al.), more diverse but K times the training cost.',
  },
  stage2: {
    term: 'stage-2 loss',
    text: 'How the K heads are trained. mse: the paper\'s regression on stage-1 targets (heads end up similar). gaussian_nll: also learns σ properly. bt_gaussian: a Bradley–Terry loss through each head\'s Gaussian. bt_per_head: each head trained on the preference labels directly (more diverse).',
  },
  sqrtKl: {
    term: 'x = √KL',
    text: 'Plotting against √KL instead of the step puts runs that drift at different speeds on one scale: it compares objectives at the same distance from the starting policy (Gao et al. 2022).',
  },
  bands: {
    term: 'seed bands',
    text: 'The line is the mean over seeds of one objective; the shaded band is ± one standard deviation across seeds. Overlapping bands mean the seeds disagree more than the objectives do.',
  },
} as const;

export type Term = keyof typeof GLOSSARY;
