// The experiment spec: everything a paired study needs, validated by a schema, with every default
// written into the stored spec so a run can be reproduced from its record alone. JSON or YAML.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import YAML from 'yaml';
import { OBJECTIVES } from '../rlhf/aggregate.js';

const objective = z.object({
  /** Name shown in charts and reports (e.g. "single", "robust λ=0.4"). */
  name: z.string().min(1),
  kind: z.enum(OBJECTIVES),
  lambda: z.number().min(0).max(1).default(0.4),
  minMode: z.enum(['sample', 'batch']).default('sample'),
  uwoC: z.number().min(0).default(0.5),
  softminBeta: z.number().positive().default(1),
  nominalMember: z.number().int().min(0).default(0),
}).strict();

export const ExperimentSpecSchema = z.object({
  name: z.string().min(1).default('paired study'),
  world: z.object({
    name: z.enum(['goodhart-lab', 'text-reviews']).default('goodhart-lab'),
    seed: z.number().int().min(0).default(0),
    settings: z.record(z.string(), z.unknown()).default({}),
  }).strict().default({ name: 'goodhart-lab', seed: 0, settings: {} }),
  /** Supervised fine-tuning of the starting policy π₀ on the world's base behaviour. */
  sft: z.object({
    samples: z.number().int().positive().default(2048),
    epochs: z.number().int().positive().default(3),
    batchSize: z.number().int().positive().default(64),
    lr: z.number().positive().default(3e-3),
  }).strict().default({ samples: 2048, epochs: 3, batchSize: 64, lr: 3e-3 }),
  ensemble: z.object({
    method: z.enum(['brme', 'independent']).default('brme'),
    heads: z.number().int().min(1).max(16).default(5),
    pairs: z.number().int().positive().default(2000),
    valPairs: z.number().int().positive().default(500),
    stage2Loss: z.enum(['mse', 'gaussian_nll', 'bt_gaussian', 'bt_per_head']).default('mse'),
    bootstrap: z.boolean().default(false),
    anchor: z.number().min(0).default(0),
    unfreezeLastLayers: z.number().int().min(0).default(0),
    tau: z.number().positive().default(10),
    alpha: z.number().positive().default(10),
  }).strict().default({ method: 'brme', heads: 5, pairs: 2000, valPairs: 500, stage2Loss: 'mse', bootstrap: false, anchor: 0, unfreezeLastLayers: 0, tau: 10, alpha: 10 }),
  objectives: z.array(objective).min(1).default([
    { name: 'single', kind: 'single', lambda: 0.4, minMode: 'sample', uwoC: 0.5, softminBeta: 1, nominalMember: 0 },
    { name: 'robust', kind: 'robust', lambda: 0.4, minMode: 'sample', uwoC: 0.5, softminBeta: 1, nominalMember: 0 },
  ]),
  seeds: z.array(z.number().int().min(0)).min(1).default([0, 1]),
  ppo: z.object({
    iterations: z.number().int().positive().default(60),
    batchSize: z.number().int().positive().default(64),
    miniBatches: z.number().int().positive().default(2),
    epochs: z.number().int().positive().default(4),
    lr: z.number().positive().default(1e-3),
    klCoef: z.number().min(0).default(0.02),
    adaptiveKl: z.object({ target: z.number().positive(), horizon: z.number().positive() }).nullable().default(null),
    temperature: z.number().positive().default(1),
    clipRange: z.number().positive().default(0.2),
    vfCoef: z.number().min(0).default(0.5),
    rewardClip: z.number().positive().default(10),
  }).strict().default({ iterations: 60, batchSize: 64, miniBatches: 2, epochs: 4, lr: 1e-3, klCoef: 0.02, adaptiveKl: null, temperature: 1, clipRange: 0.2, vfCoef: 0.5, rewardClip: 10 }),
  /** Reward normalisation (not specified by the paper): whiten the aggregated score with running statistics. */
  normalize: z.enum(['running', 'none']).default('running'),
  /** Claim 3 (over- vs under-scoring): perturb a fraction of rollout rewards up or down. */
  perturb: z.object({ fraction: z.number().min(0).max(1), magnitude: z.number().min(0), direction: z.enum(['up', 'down']) }).strict().nullable().default(null),
  eval: z.object({
    every: z.number().int().positive().default(5),
    samples: z.number().int().positive().default(128),
  }).strict().default({ every: 5, samples: 128 }),
  /** Hacking onset: gold this far below its running maximum while the proxy rises. */
  onsetMargin: z.number().positive().default(0.1),
  checkpointEvery: z.number().int().positive().default(10),
}).strict();

export type ExperimentSpec = z.infer<typeof ExperimentSpecSchema>;
export type ObjectiveSpec = ExperimentSpec['objectives'][number];

/** Validates a spec object; errors list each problem with its path. */
export function parseSpec(raw: unknown, source = 'spec'): ExperimentSpec {
  const r = ExperimentSpecSchema.safeParse(raw ?? {});
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source}: invalid experiment spec:\n${lines.join('\n')}`);
  }
  return r.data;
}

/** Reads a .json / .yaml / .yml spec file. */
export async function readSpecFile(file: string): Promise<ExperimentSpec> {
  const abs = path.resolve(file);
  let text: string;
  try { text = await readFile(abs, 'utf8'); } catch { throw new Error(`${abs}: cannot read the spec file`); }
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(abs) ? YAML.parse(text) : JSON.parse(text);
  } catch (e) {
    throw new Error(`${abs}: not valid ${/\.ya?ml$/i.test(abs) ? 'YAML' : 'JSON'}: ${(e as Error).message}`);
  }
  return parseSpec(raw, abs);
}
