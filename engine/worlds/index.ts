// The built-in worlds by name (docs/method.md § Worlds), for experiment specs and the CLI.

import { GOODHART_DEFAULTS, goodhartLab } from './goodhart.js';
import { TEXT_DEFAULTS, textWorld } from './text.js';
import { type World } from './world.js';

export { goodhartLab, goldStats, labelPair, GOODHART_DEFAULTS, type GoodhartSettings, type GoodhartWorld, type GoldStats } from './goodhart.js';
export { textWorld, TEXT_DEFAULTS, type TextSettings, type TextWorld } from './text.js';
// The user-data world (an imported dataset + a Hugging Face model; async, so not in makeWorld/WORLDS).
export { datasetWorld, isDatasetWorld, DATASET_WORLD_DEFAULTS, HOLD_OUT_FRACTION, type DatasetWorld, type DatasetWorldOptions, type DatasetWorldSettings } from './dataset.js';
export type { World, Sample, PreferencePair } from './world.js';

export const WORLDS = {
  'goodhart-lab': goodhartLab,
  'text-reviews': textWorld,
} as const;

export type WorldName = keyof typeof WORLDS;
export const WORLD_NAMES = Object.keys(WORLDS) as WorldName[];

const DEFAULTS: Record<WorldName, Readonly<Record<string, unknown>>> = {
  'goodhart-lab': GOODHART_DEFAULTS,
  'text-reviews': TEXT_DEFAULTS,
};

/** Builds a world by name. Settings are the world's own (GoodhartSettings or TextSettings); unknown
 *  keys are rejected, so a typo in a spec fails loudly instead of being ignored. A `seed` key (as in a
 *  stored `world.settings`) is accepted when it agrees with the seed argument. */
export function makeWorld(name: string, settings: Record<string, unknown> = {}, seed = 0): World {
  if (!Object.hasOwn(WORLDS, name)) throw new Error(`unknown world "${name}"; built-in worlds: ${WORLD_NAMES.join(', ')}`);
  const known = DEFAULTS[name as WorldName];
  const { seed: seedInSettings, ...rest } = settings;
  if (seedInSettings !== undefined && seedInSettings !== seed) throw new Error(`world "${name}": settings.seed (${String(seedInSettings)}) disagrees with seed ${seed}`);
  const unknown = Object.keys(rest).filter((k) => !Object.hasOwn(known, k));
  if (unknown.length) throw new Error(`world "${name}": unknown setting${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${Object.keys(known).join(', ')})`);
  const make = WORLDS[name as WorldName] as (s: Record<string, unknown>, seed: number) => World;
  return make(rest, seed);
}
