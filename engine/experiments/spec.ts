// The experiment spec: everything a paired study needs, validated by a schema, with every default
// written into the stored spec so a run can be reproduced from its record alone. JSON or YAML.

import { PRECISIONS, DEFAULT_PRECISION, type Precision } from '../../common/precision.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import YAML from 'yaml';
import { OBJECTIVES } from '../rlhf/aggregate.js';
import { PPO_DEFAULTS, type PpoConfig } from '../rlhf/ppo.js';
import { SFT_DEFAULTS, SFT_DATA_DEFAULTS, type SftConfig } from '../rlhf/sft.js';
import { LORA_DEFAULTS } from '../models/lora.js';
import { ENSEMBLE_DATA_DEFAULTS, ENSEMBLE_METHODS, resolveBootstrap } from '../rlhf/ensemble.js';
import { DEFAULT_LORA_RANK } from '../models/memory.js';
import { BRME_DEFAULTS, STAGE2_LOSSES } from '../rlhf/brme.js';
import { type EnsembleTrainOptions } from '../rlhf/ensemble-train.js';
import { ENSEMBLE_TRUNKS, DEFAULT_ENSEMBLE_TRUNKS } from '../../common/ensemble-methods.js';

/** Learning rates for a dataset world's pretrained Hugging Face model, used where the spec leaves them
 *  out. The other defaults below suit the built-in worlds' tiny decoders (SFT and PPO at 1e-3–3e-3 would
 *  wreck a pretrained model; 1e-6–2e-5 is the range TRL's and OpenRLHF's examples use). */
export const PRETRAINED_DEFAULTS = Object.freeze({ sftLr: 1e-5, ppoLr: 1e-5, rewardLr: 1e-5 });
const BUILTIN_LR = Object.freeze({ sft: SFT_DEFAULTS.lr, ppo: PPO_DEFAULTS.lr });

/** One objective of a study (also what `rrlhf reward serve` validates its objective options with). */
export const ObjectiveSchema = z.object({
  /** Name shown in charts and reports (e.g. "single", "robust λ=0.4"). */
  name: z.string().min(1),
  kind: z.enum(OBJECTIVES),
  lambda: z.number().min(0).max(1).default(0.4),
  minMode: z.enum(['sample', 'batch']).default('sample'),
  uwoC: z.number().min(0).default(0.5),
  softminBeta: z.number().positive().default(1),
  nominalMember: z.number().int().min(0).default(0),
}).strict();
const objective = ObjectiveSchema;
/** LoRA dropout on the adapters' inputs while training (PEFT's lora_dropout; docs/engine.md § LoRA). */
const loraDropout = z.number().min(0, 'must be in [0, 1): the probability of zeroing an adapter input while training').lt(1, 'must be in [0, 1): the probability of zeroing an adapter input while training (1 would drop every input)').default(LORA_DEFAULTS.dropout);

const builtinWorld = z.object({
  name: z.enum(['goodhart-lab', 'text-reviews']),
  seed: z.number().int().min(0).default(0),
  settings: z.record(z.string(), z.unknown()).default({}),
}).strict();

/** The user-data world: an imported preference dataset and a Hugging Face model folder (policy π₀ and
 *  reward-model trunk), with an optional held-out reward model as gold (null: no gold, proxy metrics
 *  only). Prompts longer than maxPromptTokens keep their end; responses are cut to maxResponseTokens
 *  (EOS included), which is also the most the policy generates. */
const datasetWorld = z.object({
  name: z.literal('dataset'),
  /** Seeds the hold-out of evaluation prompts when the dataset has no validation/test rows, SFT and reward training. */
  seed: z.number().int().min(0).default(0),
  datasetId: z.number().int().positive(),
  modelDir: z.string().min(1),
  gold: z.object({ rewardModelDir: z.string().min(1) }).strict().nullable().default(null),
  maxPromptTokens: z.number().int().min(2).default(128),
  maxResponseTokens: z.number().int().positive().default(64),
}).strict();

/** A built-in world by name (settings are the world's own; see engine/worlds) or a dataset world. A world
 *  without a name is the Goodhart lab, as before dataset worlds existed. */
const worldSpec = z.preprocess(
  (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) && (v as { name?: unknown }).name === undefined ? { ...v, name: 'goodhart-lab' } : v),
  z.discriminatedUnion('name', [builtinWorld, datasetWorld]),
).default({ name: 'goodhart-lab', seed: 0, settings: {} });

export const ExperimentSpecSchema = z.object({
  name: z.string().min(1).default('paired study'),
  world: worldSpec,
  /** Supervised fine-tuning of the starting policy π₀ on the world's base behaviour (for a dataset
   *  world: on prompt + chosen of the training split). `skip`: start from the model as it is; default
   *  false for built-in worlds (their π₀ is a random decoder SFT trains, so skipping is refused) and
   *  true for a dataset world (the imported model is already a policy; set false to fine-tune it on
   *  the chosen responses first, then lower lr — 3e-3 suits only the built-in worlds' tiny decoders). */
  sft: z.object({
    skip: z.boolean().optional(),
    samples: z.number().int().positive().default(SFT_DATA_DEFAULTS.samples),
    epochs: z.number().int().positive().default(SFT_DEFAULTS.epochs),
    batchSize: z.number().int().positive().default(SFT_DEFAULTS.batchSize),
    /** Absent: SFT_DEFAULTS.lr for a built-in world, PRETRAINED_DEFAULTS.sftLr for a dataset world. */
    lr: z.number().positive().optional(),
  }).strict().prefault({}),
  ensemble: z.object({
    method: z.enum(ENSEMBLE_METHODS).default('brme'),
    /** Method lora's members (Zhang et al. 2401.16635): adapters on the named modules of π₀'s frozen trunk;
     *  absent targetModules: the family's attention projections (models/memory.ts defaultLoraTargets). */
    lora: z.object({
      r: z.number().int().positive().default(DEFAULT_LORA_RANK),
      alpha: z.number().positive().default(LORA_DEFAULTS.alpha),
      dropout: loraDropout,
      targetModules: z.array(z.string().min(1)).min(1).optional(),
    }).strict().nullable().default(null),
    heads: z.number().int().min(1).max(16).default(BRME_DEFAULTS.heads),
    /** Independent members' trunks: 'shared' (all fine-tune π₀) or 'per-member' (member k > 0 fine-tunes
     *  a π₀ variant SFT-trained from its own seed; docs/science.md § Pretraining-seed members). */
    trunks: z.enum(ENSEMBLE_TRUNKS, { error: () => `must be one of ${ENSEMBLE_TRUNKS.map((t) => `'${t}'`).join(', ')} ('per-member': each independent member gets a trunk pretrained from its own seed)` }).default(DEFAULT_ENSEMBLE_TRUNKS),
    pairs: z.number().int().positive().default(ENSEMBLE_DATA_DEFAULTS.pairs),
    valPairs: z.number().int().positive().default(ENSEMBLE_DATA_DEFAULTS.valPairs),
    stage2Loss: z.enum(STAGE2_LOSSES).default(BRME_DEFAULTS.stage2Loss),
    /** Own bootstrap resample per head/member; null: the method's default (rlhf/ensemble.ts resolveBootstrap). */
    bootstrap: z.boolean().nullable().default(null),
    anchor: z.number().min(0).default(BRME_DEFAULTS.anchor),
    unfreezeLastLayers: z.number().int().min(0).default(BRME_DEFAULTS.unfreezeLastLayers),
    tau: z.number().positive().default(BRME_DEFAULTS.tau),
    alpha: z.number().positive().default(BRME_DEFAULTS.alpha),
    /** Learning rate of the Bradley–Terry reward model(s) (BRME stage 1, independent members), trunk
     *  included. null: the trainer's REWARD_DEFAULTS.lr for the built-in worlds' small decoders; a dataset world's
     *  absent or null value becomes PRETRAINED_DEFAULTS.rewardLr (1e-3 would wreck a pretrained trunk). */
    rewardLr: z.number().positive().nullable().default(null),
  }).strict().prefault({}),
  objectives: z.array(objective).min(1).default([
    { name: 'single', kind: 'single', lambda: 0.4, minMode: 'sample', uwoC: 0.5, softminBeta: 1, nominalMember: 0 },
    { name: 'robust', kind: 'robust', lambda: 0.4, minMode: 'sample', uwoC: 0.5, softminBeta: 1, nominalMember: 0 },
  ]),
  seeds: z.array(z.number().int().min(0)).min(1).default([0, 1]),
  /** The PPO policy: null trains every weight of π₀; `lora` trains LoRA adapters on the named HF
   *  modules (and the value head) with the base frozen, the reference being the base with adapters off
   *  (docs/engine.md § LoRA). Target names that match no module are refused when the run starts. */
  policy: z.object({
    lora: z.object({
      r: z.number().int().positive(),
      alpha: z.number().positive().default(LORA_DEFAULTS.alpha),
      dropout: loraDropout,
      targetModules: z.array(z.string().min(1)).min(1),
    }).strict().nullable().default(null),
  }).strict().prefault({}),
  ppo: z.object({
    iterations: z.number().int().positive().default(60),
    batchSize: z.number().int().positive().default(PPO_DEFAULTS.batchSize),
    miniBatches: z.number().int().positive().default(PPO_DEFAULTS.miniBatches),
    epochs: z.number().int().positive().default(PPO_DEFAULTS.epochs),
    /** Absent: PPO_DEFAULTS.lr for a built-in world, PRETRAINED_DEFAULTS.ppoLr for a dataset world. */
    lr: z.number().positive().optional(),
    klCoef: z.number().min(0).default(PPO_DEFAULTS.klCoef),
    adaptiveKl: z.object({ target: z.number().positive(), horizon: z.number().positive() }).nullable().default(PPO_DEFAULTS.adaptiveKl),
    temperature: z.number().positive().default(PPO_DEFAULTS.temperature),
    clipRange: z.number().positive().default(PPO_DEFAULTS.clipRange),
    vfCoef: z.number().min(0).default(PPO_DEFAULTS.vfCoef),
    rewardClip: z.number().positive().default(PPO_DEFAULTS.rewardClip),
  }).strict().prefault({}),
  /** Reward normalisation (not specified by the paper): whiten the aggregated score with running statistics. */
  normalize: z.enum(['running', 'none']).default('running'),
  /** Claim 3 (over- vs under-scoring): perturb a fraction of rollout rewards up or down. */
  perturb: z.object({ fraction: z.number().min(0).max(1), magnitude: z.number().min(0), direction: z.enum(['up', 'down']) }).strict().nullable().default(null),
  eval: z.object({
    every: z.number().int().positive().default(5),
    samples: z.number().int().positive().default(128),
  }).strict().prefault({}),
  /** Hacking onset: gold this far below its running maximum while the proxy rises. */
  onsetMargin: z.number().positive().default(0.1),
  checkpointEvery: z.number().int().positive().default(10),
  /** Memory and precision options. `gradientCheckpointing` (docs/engine.md § Gradient checkpointing):
   *  recompute each layer in the backward pass of the PPO update and of reward-model training instead of
   *  keeping its activations — the same gradients, less memory, one more forward pass of the layers per
   *  step. `precision` (docs/engine.md § Mixed precision): the reward models' training and scoring and
   *  the policy's rollouts, scoring and PPO update under bf16 / fp16 autocast with float32 master weights
   *  (bf16 on CUDA only). */
  memory: z.object({
    gradientCheckpointing: z.boolean().default(false),
    precision: z.enum(PRECISIONS).default(DEFAULT_PRECISION),
  }).strict().prefault({}),
}).strict().superRefine((s, ctx) => {
  if (s.world.name !== 'dataset' && s.sft.skip === true) {
    ctx.addIssue({ code: 'custom', path: ['sft', 'skip'], message: `the ${s.world.name} world's starting policy is a randomly initialised decoder that SFT trains; SFT can be skipped only for a dataset world's pretrained model` });
  }
  if (s.ensemble.trunks === 'per-member') {
    if (s.world.name === 'dataset') {
      ctx.addIssue({ code: 'custom', path: ['ensemble', 'trunks'], message: 'per-member trunks are pretrained here from different seeds, which only a built-in world\'s decoder can be; a dataset world has one pretrained model, so set ensemble.trunks to \'shared\' (or ensemble.method to \'lora\' for cheap members on that one trunk)' });
    } else if (s.ensemble.method !== 'independent') {
      ctx.addIssue({ code: 'custom', path: ['ensemble', 'trunks'], message: `per-member trunks need independent members (ensemble.method 'independent'): ${s.ensemble.method === 'brme' ? 'BRME heads share one trunk' : 'LoRA members adapt one frozen trunk'}; set ensemble.method to 'independent' or ensemble.trunks to 'shared'` });
    }
  }
  if (s.world.name === 'dataset' && !s.world.gold) {
    for (const [i, o] of s.objectives.entries()) {
      if (o.kind === 'gold') ctx.addIssue({ code: 'custom', path: ['objectives', i, 'kind'], message: `objective "${o.name}" optimises the gold reward, but this dataset world has none (world.gold is null)` });
    }
  }
}).transform((s) => {
  // Defaults that depend on the world, resolved here so the stored spec records the value used.
  const pretrained = s.world.name === 'dataset';
  return {
    ...s,
    sft: { ...s.sft, skip: s.sft.skip ?? pretrained, lr: s.sft.lr ?? (pretrained ? PRETRAINED_DEFAULTS.sftLr : BUILTIN_LR.sft) },
    ensemble: { ...s.ensemble, rewardLr: s.ensemble.rewardLr ?? (pretrained ? PRETRAINED_DEFAULTS.rewardLr : null) },
    ppo: { ...s.ppo, lr: s.ppo.lr ?? (pretrained ? PRETRAINED_DEFAULTS.ppoLr : BUILTIN_LR.ppo) },
  };
});

export type ExperimentSpec = z.infer<typeof ExperimentSpecSchema>;
export type WorldSpec = ExperimentSpec['world'];
export type DatasetWorldSpec = Extract<WorldSpec, { name: 'dataset' }>;
export type ObjectiveSpec = ExperimentSpec['objectives'][number];
export type EnsembleSpec = ExperimentSpec['ensemble'];

// ---- the spec → each trainer's configuration ---------------------------------------------------
// The one place a study's settings become what SFT, the ensemble trainers and PPO take, so the runner,
// best-of-n, `ensemble train` and the cluster export read the same values; what the spec does not
// expose comes from the trainer's own *_DEFAULTS.

/** SFT of a study's starting policy π₀ (seeded by the world's seed). */
export function sftConfig(spec: ExperimentSpec, padId: number): SftConfig {
  return { ...SFT_DEFAULTS, epochs: spec.sft.epochs, batchSize: spec.sft.batchSize, lr: spec.sft.lr, seed: spec.world.seed, padId };
}

/** The ensemble settings a study and `ensemble train` share; τ, α and the reward lr may be absent
 *  (`ensemble train` does not take them), and then the trainers' defaults apply. */
export type EnsembleSettings = Pick<EnsembleSpec, 'method' | 'heads' | 'stage2Loss' | 'bootstrap' | 'anchor' | 'unfreezeLastLayers'> & Partial<Pick<EnsembleSpec, 'tau' | 'alpha' | 'rewardLr' | 'lora' | 'trunks'>>;

/** trainEnsemble's options for ensemble settings: the bootstrap resolved for the method (`bootstrap`,
 *  also given to BRME's stage 2), the reward lr of a pretrained trunk, and `seed` for every stage. */
export function ensembleTrainOptions(e: EnsembleSettings, ctx: { seed: number; padId: number; pretrained: boolean; gradientCheckpointing?: boolean; precision?: Precision }): Pick<EnsembleTrainOptions, 'method' | 'heads' | 'bootstrap' | 'reward' | 'brme' | 'lora'> {
  const bootstrap = resolveBootstrap(e.method, e.bootstrap);
  // null or absent (also in specs stored before the setting existed): the trainer's default for built-in worlds.
  const lr = e.rewardLr ?? (ctx.pretrained ? PRETRAINED_DEFAULTS.rewardLr : null);
  return {
    method: e.method, heads: e.heads, bootstrap, lora: e.lora ?? null,
    reward: { seed: ctx.seed, padId: ctx.padId, ...(lr !== null ? { lr } : {}), ...(ctx.gradientCheckpointing ? { gradientCheckpointing: true } : {}), ...(ctx.precision ? { precision: ctx.precision } : {}) },
    brme: {
      ...(e.tau !== undefined ? { tau: e.tau } : {}), ...(e.alpha !== undefined ? { alpha: e.alpha } : {}),
      stage2Loss: e.stage2Loss, bootstrap, anchor: e.anchor, unfreezeLastLayers: e.unfreezeLastLayers, seed: ctx.seed,
    },
  };
}

/** What PPO's configuration of every run of a study holds: all but the run's seed and the world's token
 *  limit (and the pad/EOS ids, which PpoTrainer takes beside it). */
export type StudyPpoConfig = Omit<PpoConfig, 'seed' | 'maxNewTokens'>;

/** PPO's settings for a study's runs: the spec's ppo section over PPO_DEFAULTS (γ, λ, the value clip,
 *  gradient clip and weight decay, which the spec does not expose, come from there). */
export function ppoConfig(spec: ExperimentSpec): StudyPpoConfig {
  const { seed: _seed, maxNewTokens: _maxNewTokens, ...defaults } = PPO_DEFAULTS;
  const p = spec.ppo;
  return {
    ...defaults, batchSize: p.batchSize, miniBatches: p.miniBatches, epochs: p.epochs, lr: p.lr, klCoef: p.klCoef, adaptiveKl: p.adaptiveKl,
    temperature: p.temperature, clipRange: p.clipRange, vfCoef: p.vfCoef, rewardClip: p.rewardClip,
    gradientCheckpointing: spec.memory.gradientCheckpointing,
  };
}

/** Validates a spec object; errors list each problem with its path (and its line, given `lineOf`). */
export function parseSpec(raw: unknown, source = 'spec', lineOf?: (at: PropertyKey[]) => number | null): ExperimentSpec {
  const r = ExperimentSpecSchema.safeParse(raw ?? {});
  if (!r.success) {
    // One line (the CLI's contract for errors), every problem with its path.
    const problems = r.error.issues.map((i) => {
      const line = lineOf?.(i.code === 'unrecognized_keys' ? [...i.path, i.keys[0]!] : i.path); // an unknown key: its own line
      return `${line ? `line ${line}: ` : ''}${i.path.map(String).join('.') || '(root)'}: ${i.message}`;
    });
    throw new Error(`${source}: invalid experiment spec: ${problems.join('; ')}`);
  }
  return r.data;
}

/** A dataset world's folders (modelDir, gold.rewardModelDir) made absolute against `baseDir` (a spec
 *  file's folder, or the working directory), so a stored spec resumes from anywhere. Other specs are
 *  returned unchanged. */
export function resolveSpecPaths(spec: ExperimentSpec, baseDir = process.cwd()): ExperimentSpec {
  const w = spec.world;
  if (w.name !== 'dataset') return spec;
  const abs = (p: string) => path.resolve(baseDir, p);
  return { ...spec, world: { ...w, modelDir: abs(w.modelDir), gold: w.gold ? { rewardModelDir: abs(w.gold.rewardModelDir) } : null } };
}

/** Reads a .json / .yaml / .yml spec file; a dataset world's relative folders are relative to the file. */
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
  return resolveSpecPaths(parseSpec(raw, abs, lineLocator(text)), path.dirname(abs));
}

/**
 * The line of the entry at a path of a spec file: a key's own line (not its value's, which may start on
 * the next), an array element's line, or, for a key that is missing, the line of the key that holds the
 * object lacking it. JSON is YAML, so one parser locates both.
 */
function lineLocator(text: string): (at: PropertyKey[]) => number | null {
  // Parsed again, with positions, only when a problem has to be located (a valid spec never is).
  let parsed: { lines: YAML.LineCounter; doc: YAML.Document } | null = null;
  return (at) => {
    if (!parsed) { const lines = new YAML.LineCounter(); parsed = { lines, doc: YAML.parseDocument(text, { lineCounter: lines }) }; }
    return locateIn(parsed.doc, parsed.lines, at);
  };
}

function locateIn(doc: YAML.Document, lines: YAML.LineCounter, at: PropertyKey[]): number | null {
  const lineOf = (node: unknown) => (YAML.isNode(node) && node.range ? lines.linePos(node.range[0]).line : null);
  const entryLine = (at: PropertyKey[]): number | null => {
    if (!at.length) return lineOf(doc.contents);
    const parent = at.length > 1 ? doc.getIn(at.slice(0, -1), true) : doc.contents;
    const last = at[at.length - 1];
    if (YAML.isMap(parent)) {
      const pair = parent.items.find((p) => (YAML.isScalar(p.key) ? p.key.value : p.key) === last);
      return pair ? lineOf(pair.key) : null;
    }
    if (YAML.isSeq(parent) && typeof last === 'number') return lineOf(parent.items[last]);
    return null;
  };
  for (let n = at.length; n >= 0; n--) {
    const line = entryLine(at.slice(0, n));
    if (line !== null) return line;
  }
  return null;
}
