// The metric keys the runner writes and the analysis, the report and the screens read
// (docs/metrics.md defines each, § Evaluation and on). Typed constants, so a misspelt key fails the type
// check instead of reading an empty series.

export const METRIC = {
  /** Held-out evaluation every `eval.every` iterations: gold (with its standard error), proxy, KL. */
  evalGold: 'eval/gold',
  evalGoldSe: 'eval/gold_se',
  evalProxy: 'eval/proxy',
  evalKl: 'eval/kl',
  evalSqrtKl: 'eval/sqrt_kl',
  /** The ensemble-mean reward of the evaluation samples: one proxy shared by every objective. */
  evalRewardMean: 'eval/reward_mean',
  /** Per PPO iteration, on the training samples. */
  goldTrain: 'gold/train',
  rewardProxy: 'reward/proxy',
  objectiveKl: 'objective/kl',
  ensembleStd: 'ensemble/std',
  responseLength: 'response/length',
} as const;

export type MetricKey = (typeof METRIC)[keyof typeof METRIC];

/** Benchmark scores recorded on a run by `rrlhf eval --run ID --record` start with this. */
export const BENCH_PREFIX = 'bench/';
