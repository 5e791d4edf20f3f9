// OpenRLHF's and verl's metric names → ours (docs/metrics.md § Imported runs, which gives the same table
// with what each mapping means). A name maps only where the quantity is the same, so an overlay of a
// local and an imported run compares like with like; everything else is kept as `ext/<their name>`,
// never dropped. Where theirs is a per-token mean and ours a per-sequence sum (KL), it maps to the
// import-only key `kl/token_mean` rather than to `objective/kl`.
import { METRIC, type MetricKey } from '../../common/metrics.js';

export const ENGINES = ['openrlhf', 'verl'] as const;
export type Engine = (typeof ENGINES)[number];

/** Where a metric with no mapping is kept: `ext/` + its original name. */
export const EXT_PREFIX = 'ext/';

export const METRIC_MAP: Readonly<Record<Engine, Readonly<Record<string, MetricKey>>>> = {
  // openrlhf/utils/logging_utils.py writes status keys as train/<key> (and eval/<key>);
  // keys from openrlhf/trainer/ray/ppo_actor.py, ppo_critic.py, ppo_trainer.py.
  openrlhf: {
    'train/reward': METRIC.rewardProxy,
    'train/return': METRIC.objectiveRlhfReward,
    'train/kl': METRIC.klTokenMean,
    'train/policy_loss': METRIC.lossPolicy,
    'train/critic_loss': METRIC.lossValue,
    'train/response_length': METRIC.responseLength,
    'train/actor_grad_norm': METRIC.trainGradNorm,
    'train/timing/generation': METRIC.timeRollout,
  },
  // verl/trainer/ppo/metric_utils.py (compute_data_metrics, compute_timing_metrics), core_algos.py,
  // workers/actor/dp_actor.py.
  verl: {
    'critic/score/mean': METRIC.rewardProxy,
    'critic/rewards/mean': METRIC.objectiveRlhfReward,
    'actor/reward_kl_penalty': METRIC.klTokenMean,
    'actor/reward_kl_penalty_coeff': METRIC.objectiveKlCoef,
    'actor/pg_loss': METRIC.lossPolicy,
    'critic/vf_loss': METRIC.lossValue,
    'actor/pg_clipfrac': METRIC.policyClipfrac,
    'critic/vf_clipfrac': METRIC.valClipfrac,
    'actor/entropy': METRIC.policyEntropy,
    'actor/grad_norm': METRIC.trainGradNorm,
    'response_length/mean': METRIC.responseLength,
    'timing_s/gen': METRIC.timeRollout,
  },
};

export interface MappedName {
  from: string;
  to: string;
}

export interface MetricMapping {
  engine: Engine | null;
  /** Source name → stored name, for every source name. */
  names: Map<string, string>;
  mapped: MappedName[];
  /** Source names stored as ext/<name>. */
  kept: string[];
}

/** The engine whose names the tags match best (at least one known name), or null. */
export function detectEngine(tags: Iterable<string>): Engine | null {
  const list = [...tags];
  let best: Engine | null = null, bestHits = 0;
  for (const e of ENGINES) {
    const hits = list.filter((t) => t in METRIC_MAP[e]).length;
    if (hits > bestHits) { best = e; bestHits = hits; }
  }
  return best;
}

/** Maps each tag; with engine 'auto' (or undefined) it is detected from the tags themselves. */
export function mapMetrics(tags: Iterable<string>, engine: Engine | 'auto' = 'auto'): MetricMapping {
  const list = [...new Set(tags)].sort();
  const e = engine === 'auto' ? detectEngine(list) : engine;
  const table = e ? METRIC_MAP[e] : {};
  const names = new Map<string, string>();
  const mapped: MappedName[] = [];
  const kept: string[] = [];
  for (const tag of list) {
    const to = Object.hasOwn(table, tag) ? table[tag] : undefined;
    if (to !== undefined) { names.set(tag, to); mapped.push({ from: tag, to }); }
    else { names.set(tag, EXT_PREFIX + tag); kept.push(tag); }
  }
  return { engine: e, names, mapped, kept };
}
