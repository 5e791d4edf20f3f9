// The metric keys a run logs, and that the analysis, the report and the screens read (docs/metrics.md
// defines each, under the section named beside each group). Typed constants, so a misspelt key fails the
// type check instead of reading an empty series; pure data, so the renderer shares them.

export const METRIC = {
  // § Evaluation: held-out evaluation every `eval.every` iterations.
  evalGold: 'eval/gold',
  evalGoldSe: 'eval/gold_se',
  evalProxy: 'eval/proxy',
  evalKl: 'eval/kl',
  evalSqrtKl: 'eval/sqrt_kl',
  /** The ensemble-mean reward of the evaluation samples: one proxy shared by every objective. */
  evalRewardMean: 'eval/reward_mean',
  /** Members'/heads' disagreement on the evaluation samples (the policy's own, off the pairs they were trained on). */
  evalMemberStd: 'eval/member_std',
  // § Rewards of the training batch, per PPO iteration.
  rewardProxy: 'reward/proxy',
  rewardNominal: 'reward/nominal',
  rewardRobust: 'reward/robust',
  rewardSingle: 'reward/single',
  goldTrain: 'gold/train',
  ensembleMean: 'ensemble/mean',
  ensembleStd: 'ensemble/std',
  ensembleMin: 'ensemble/min',
  ensembleMax: 'ensemble/max',
  // § PPO (TRL's names).
  objectiveKl: 'objective/kl',
  objectiveKlK3: 'objective/kl_k3',
  objectiveScores: 'objective/scores',
  objectiveRlhfReward: 'objective/rlhf_reward',
  objectiveKlCoef: 'objective/kl_coef',
  policyApproxKl: 'policy/approxkl_avg',
  policyClipfrac: 'policy/clipfrac_avg',
  policyEntropy: 'policy/entropy_avg',
  lossPolicy: 'loss/policy_avg',
  lossValue: 'loss/value_avg',
  valClipfrac: 'val/clipfrac_avg',
  valRatio: 'val/ratio',
  trainGradNorm: 'train/grad_norm',
  // Mixed precision only (memory.precision bf16 / fp16).
  trainSkippedFrac: 'train/skipped_frac',
  trainLossScale: 'train/loss_scale',
  responseLength: 'response/length',
  responseEosRate: 'response/eos_rate',
  timeRollout: 'time/rollout_s',
  timeScore: 'time/score_s',
  timeTrain: 'time/train_s',
  // § Imported runs: per-token KL, which only OpenRLHF and verl log.
  klTokenMean: 'kl/token_mean',
} as const;

export type MetricKey = (typeof METRIC)[keyof typeof METRIC];

/** Every key under § Evaluation starts with this (their √KL is computed from METRIC.evalKl). */
export const EVAL_PREFIX = 'eval/';

/** Benchmark scores recorded on a run by `rrlhf eval --run ID --record` start with this. */
export const BENCH_PREFIX = 'bench/';
