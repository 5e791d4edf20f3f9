// Best-of-n over seeds (docs/method.md § Best-of-n): where the policy and the ensemble come from (a
// built-in world's π₀ with ensembles trained per seed, a stored run's policy with its study's ensemble,
// or a Hugging Face model folder with a stored ensemble), the seeds' curves combined into paired
// Student-t intervals, and Gao's fit. The estimator itself is engine/rlhf/bon.ts.
//
// Seeds: with a built-in world each seed is a full replicate of the reward side — its own preference
// pairs, reward-model initialisation and samples — while π₀ (the world's SFT policy) is shared; with a
// run or a model the ensemble is fixed and seeds redraw the samples only. Within a seed every objective
// selects from the same N samples per prompt, so objectives are paired by seed.

import { ensembleMembersPhrase } from '../../common/ensemble-methods.js';
import { access, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { type Store } from '../store/index.js';
import { CausalLM } from '../models/model.js';
import { Rng, ParamStore } from '../runtime/params.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { makeWorld, datasetWorld } from '../worlds/index.js';
import { type World } from '../worlds/world.js';
import { sft } from '../rlhf/sft.js';
import { type Ensemble, resolveBootstrap } from '../rlhf/ensemble.js';
import { loadEnsemble, trainEnsemble } from '../rlhf/ensemble-train.js';
import { type ObjectiveConfig } from '../rlhf/aggregate.js';
import { bonCurves, bonNs, drawScored, fitBon, klBon, type BonFit, type BonObjective, type BonProgress, type BonSeedCurve, type BonSource } from '../rlhf/bon.js';
import { pairedInterval } from './stats.js';
import { parseSpec, sftConfig, ensembleTrainOptions, type ExperimentSpec } from './spec.js';
import { trainBuiltinPolicy, memberTrunks } from './trunks.js';
import { studyPaths } from './layout.js';

// ---- sources ------------------------------------------------------------------------------------

/** A built-in world, trained here: π₀ by the world's SFT recipe (as a study trains it) and one ensemble
 *  per seed with the study's ensemble settings. */
export interface WorldSourceSpec {
  kind: 'world';
  name: string;
  seed: number;
  /** The world's own settings (e.g. { labels: 'flip', flipRate: 0.25 } for Coste et al.'s label noise). */
  settings: Record<string, unknown>;
  /** The study's `ensemble` block (method, heads, pairs, stage2Loss, bootstrap, …); defaults as a study's. */
  ensemble: Record<string, unknown>;
}
export interface RunSourceSpec { kind: 'run'; runId: number }
export interface ModelSourceSpec { kind: 'model'; modelDir: string; ensembleId: number }
export type BonSourceSpec = WorldSourceSpec | RunSourceSpec | ModelSourceSpec;

/** A usage-level refusal (a missing run, a LoRA checkpoint, a tokenizer mismatch): exit code 1 with this line. */
export class BonSourceError extends Error {}

async function exists(p: string) { try { await access(p); return true; } catch { return false; } }
const hash = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);

export interface Resolved {
  /** The source for one seed (a world trains or loads that seed's ensemble). */
  forSeed(seed: number, say: (m: string) => void): Promise<BonSource>;
  hasGold: boolean;
  /** What was resolved, stored with the result. */
  about: Record<string, unknown>;
}

function goldOf(world: World): BonSource['gold'] {
  if (world.hasGold === false) return null;
  if (world.goldBatch) return (p, r) => world.goldBatch!(p, r);
  return async (p, r) => p.map((x, i) => world.gold(x, r[i]!));
}

function fromWorld(world: World, policy: CausalLM, ensemble: Ensemble, temperature: number): BonSource {
  return { policy, ensemble, prompts: world.evalPrompts, maxNewTokens: world.maxResponseTokens, eosId: world.eosId, padId: world.padId, temperature, gold: goldOf(world) };
}

export async function resolveSource(spec: BonSourceSpec, o: { store: Store; dataDir: string; device?: DeviceRequest }): Promise<Resolved> {
  const device = o.device ?? 'cpu';
  if (spec.kind === 'world') {
    // parseSpec gives the same defaults (and refusals of unknown keys) a study of this world would have.
    let st: ExperimentSpec;
    try {
      st = parseSpec({ world: { name: spec.name, seed: spec.seed, settings: spec.settings }, ensemble: spec.ensemble }, 'bon');
    } catch (e) { throw new BonSourceError((e as Error).message); }
    if (st.world.name === 'dataset') throw new BonSourceError('--world takes a built-in world (goodhart-lab, text-reviews); for a dataset world use --run ID or --model DIR --ensemble ID');
    const w = st.world;
    let world: World;
    try { world = makeWorld(w.name, w.settings, w.seed); } catch (e) { throw new BonSourceError((e as Error).message); }
    const e = st.ensemble;
    const bootstrap = resolveBootstrap(e.method, e.bootstrap);
    const baseKey = hash({ world: w, sft: st.sft });
    const baseDir = path.join(o.dataDir, 'bon', 'policies', baseKey);
    let base: CausalLM | null = null;
    const getBase = async (say: (m: string) => void) => {
      if (base) return base;
      if (await exists(path.join(baseDir, 'model.safetensors'))) return (base = await CausalLM.load(baseDir, device));
      say(`training π₀ of ${w.name} (world seed ${w.seed}) on ${st.sft.samples} samples, as a study would`);
      const b = await trainBuiltinPolicy(world, w.seed, st.sft.samples, sftConfig(st, world.padId), device);
      await b.save(baseDir);
      return (base = b);
    };
    return {
      hasGold: world.hasGold !== false,
      about: { kind: 'world', world: w, ensemble: { ...e, bootstrap }, sft: st.sft, policy_dir: baseDir },
      async forSeed(seed, say) {
        const b = await getBase(say);
        // Shared trunks hash as before the setting existed, so earlier caches stay valid.
        const { trunks, ...eShared } = e;
        const ensDir = path.join(o.dataDir, 'bon', 'ensembles', hash({ baseKey, settings: w.settings, e: trunks === 'shared' ? eShared : e, bootstrap }), `seed-${seed}`);
        let ens: Ensemble;
        if (await exists(path.join(ensDir, 'done'))) ens = await loadEnsemble(ensDir, device);
        else {
          // Each seed is a replicate of the reward side: its own pairs (and label noise), init and order.
          const rng = new Rng(createHash('sha256').update(`bon-pairs:${w.seed}:${seed}`).digest().readUInt32LE(0));
          const train = world.preferencePairs(e.pairs, rng), val = world.preferencePairs(e.valPairs, rng);
          say(`seed ${seed}: training ${ensembleMembersPhrase(e.method, e.heads)} on ${train.length} pairs`);
          // Per-member trunks are a replicate's too: seeded by the seed, kept per seed (they do not depend on the world's settings).
          const trunkOf = trunks === 'per-member' ? memberTrunks({
            world, base: b, ensembleSeed: seed, samples: st.sft.samples, sft: sftConfig(st, world.padId), device,
            cacheDir: path.join(o.dataDir, 'bon', 'trunks', baseKey, `seed-${seed}`), onTrain: (k) => say(`seed ${seed}: training member ${k}'s own trunk (π₀ variant)`),
          }) : undefined;
          const r = await trainEnsemble(b, train, val, { ...ensembleTrainOptions(e, { seed, padId: world.padId, pretrained: false }), ...(trunkOf ? { trunkOf } : {}) });
          ens = r.ensemble;
          await ens.save(ensDir);
          await writeFile(path.join(ensDir, 'done'), JSON.stringify({ report: r.report ?? null }));
        }
        return fromWorld(world, b, ens, 1);
      },
    };
  }
  if (spec.kind === 'run') {
    const run = o.store.runs.get(spec.runId);
    if (!run) throw new BonSourceError(`run ${spec.runId} does not exist; \`rrlhf runs list\` shows the ids`);
    if (run.status === 'imported') throw new BonSourceError(`run ${spec.runId} was imported from another engine's logs and has no policy weights here`);
    if (run.experimentId === null) throw new BonSourceError(`run ${spec.runId} belongs to no experiment, so its world and ensemble are unknown`);
    const exp = o.store.experiments.get(run.experimentId);
    if (!exp) throw new BonSourceError(`run ${spec.runId}: experiment ${run.experimentId} is missing from the store`);
    const st = exp.spec as unknown as ExperimentSpec;
    if (st.policy?.lora) throw new BonSourceError(`run ${spec.runId} trained LoRA adapters; best-of-n loads full-weight run policies only (merge the adapters into a model folder and use --model DIR --ensemble ID)`);
    const ck = o.store.runs.latestCheckpoint(spec.runId);
    if (!ck) throw new BonSourceError(`run ${spec.runId} (${run.status}) has no checkpoint yet, so no trained policy`);
    const files = studyPaths(o.dataDir, run.experimentId);
    const baseDir = files.basePolicy;
    const w = st.world;
    const archDir = (await exists(path.join(baseDir, 'model.safetensors'))) ? baseDir : w.name === 'dataset' ? w.modelDir : null;
    if (!archDir) throw new BonSourceError(`run ${spec.runId}: ${baseDir} is missing (the study's folder was moved or deleted)`);
    if (!(await exists(files.ensembleReport))) throw new BonSourceError(`run ${spec.runId}: the study's ensemble in ${files.ensemble} is missing or unfinished`);
    const policy = await CausalLM.load(archDir, device);
    const weights = await ParamStore.load(path.join(ck.path, 'policy.safetensors'));
    const names = new Set(weights.names());
    const missing = policy.modelParamNames().filter((n) => !names.has(n));
    if (missing.length) throw new BonSourceError(`run ${spec.runId}: ${path.join(ck.path, 'policy.safetensors')} lacks ${missing.length} of the policy's tensors (${missing.slice(0, 3).join(', ')}…)`);
    for (const n of policy.modelParamNames()) { const t = weights.get(n); policy.params.set(n, t.data, t.shape); }
    const ensemble = await loadEnsemble(files.ensemble, device);
    const world = w.name === 'dataset'
      ? await datasetWorld({ store: o.store, datasetId: w.datasetId, modelDir: w.modelDir, gold: w.gold, maxPromptTokens: w.maxPromptTokens, maxResponseTokens: w.maxResponseTokens, seed: w.seed, device })
      : makeWorld(w.name, w.settings, w.seed);
    const src = fromWorld(world, policy, ensemble, st.ppo.temperature);
    return {
      hasGold: world.hasGold !== false,
      about: { kind: 'run', run: spec.runId, experiment: run.experimentId, objective: run.objective, seed: run.seed, step: ck.step, checkpoint: ck.path, world: w.name, temperature: st.ppo.temperature },
      forSeed: async () => src,
    };
  }
  const rec = o.store.ensembles.get(spec.ensembleId);
  if (!rec) throw new BonSourceError(`no ensemble ${spec.ensembleId} in the store; \`rrlhf ensemble train\` prints the id of a new one`);
  const art = rec.artifactId === null ? undefined : o.store.artifacts.get(rec.artifactId);
  if (!art) throw new BonSourceError(`ensemble ${spec.ensembleId} ("${rec.name}") has no saved weights (its training did not finish)`);
  const modelDir = path.resolve(spec.modelDir);
  if (!(await exists(path.join(modelDir, 'config.json')))) throw new BonSourceError(`${modelDir} is not a Hugging Face model folder (no config.json)`);
  const cfg = rec.config;
  let world: World;
  if (typeof cfg.datasetId === 'number' && typeof cfg.modelDir === 'string') {
    // The prompts are the dataset's held-out prompts in the ensemble's tokenisation; the policy must speak it.
    const [a, b] = await Promise.all([tokenizerHash(modelDir), tokenizerHash(cfg.modelDir)]);
    if (a !== b) throw new BonSourceError(`${modelDir}'s tokenizer differs from the one ensemble ${spec.ensembleId} was trained with (${cfg.modelDir}): best-of-n scores the policy's token ids directly, so both must use the same tokenizer`);
    world = await datasetWorld({ store: o.store, datasetId: cfg.datasetId, modelDir: cfg.modelDir, gold: null, seed: Number(cfg.seed ?? 0), device });
  } else if (typeof cfg.world === 'string' && (cfg.world === 'goodhart-lab' || cfg.world === 'text-reviews')) {
    world = makeWorld(cfg.world, {}, Number(cfg.seed ?? 0));
  } else {
    throw new BonSourceError(`ensemble ${spec.ensembleId} ("${rec.name}") records neither a built-in world nor a dataset, so there are no prompts to sample for`);
  }
  const policy = await CausalLM.load(modelDir, device);
  const ensemble = await loadEnsemble(art.path, device);
  if (policy.config.vocabSize !== ensemble.config.vocabSize) throw new BonSourceError(`${modelDir} has ${policy.config.vocabSize} token ids but ensemble ${spec.ensembleId}'s trunk has ${ensemble.config.vocabSize}: they do not share a tokenizer`);
  const src = fromWorld(world, policy, ensemble, 1);
  return { hasGold: world.hasGold !== false, about: { kind: 'model', model: modelDir, ensemble: spec.ensembleId, world: cfg.world ?? null }, forSeed: async () => src };
}

async function tokenizerHash(dir: string): Promise<string> {
  try { return createHash('sha256').update(await readFile(path.join(dir, 'tokenizer.json'))).digest('hex'); } catch { return `missing:${dir}`; }
}

// ---- over seeds ---------------------------------------------------------------------------------

/** A mean over seeds with its 95 % Student-t interval (null bounds in JSON with one seed or no spread). */
export interface Interval { mean: number; lo: number; hi: number }
export type Paired = Interval & { significant: boolean };

export interface BonPoint {
  n: number;
  kl_bon: number;
  /** The chosen sample's score under the objective that chose it. */
  proxy: Interval;
  /** The chosen sample's gold (absent without gold). */
  gold?: Interval;
  /** gold(n) − gold(1), paired by seed: what choosing among n bought. */
  gold_gain?: Paired;
  /** gold(n) of this objective − gold(n) of the baseline objective (the first), paired by seed. */
  gold_vs_baseline?: Paired;
}

export interface BonObjectiveResult {
  name: string;
  config: ObjectiveConfig;
  curve: BonPoint[];
  /** Gao's R_bon(d) = d(α − βd) fitted to the seed-mean gold − gold(1) (without gold: the proxy). */
  fit: BonFit | null;
  fit_of: 'gold' | 'proxy';
  /** The n of highest mean gold, and gold there minus gold at N paired by seed (> 0 and significant: gold turned over). */
  peak: { n: number; drop_to_N: Paired } | null;
  per_seed: { seed: number; proxy: number[]; gold: number[] | null }[];
}

export interface BonResult {
  N: number;
  ns: number[];
  prompts: number;
  seeds: number[];
  has_gold: boolean;
  baseline: string;
  objectives: BonObjectiveResult[];
}

/** Combines per-seed curves (same ns, same objectives) into intervals, paired comparisons and fits. */
export function summarizeBon(perSeed: { seed: number; curves: Map<string, BonSeedCurve> }[], objectives: BonObjective[], N: number, prompts: number, hasGold: boolean): BonResult {
  if (perSeed.length === 0) throw new Error('best-of-n needs at least one seed');
  const ns = bonNs(N);
  const baseline = objectives[0]!.name;
  const iv = (xs: number[]): Interval => { const r = pairedInterval(xs, xs.map(() => 0)); return { mean: r.mean, lo: r.lo, hi: r.hi }; };
  const pair = (a: number[], b: number[]): Paired => { const r = pairedInterval(a, b); return { mean: r.mean, lo: r.lo, hi: r.hi, significant: r.significant }; };
  const col = (name: string, what: 'proxy' | 'gold', j: number) => perSeed.map((s) => s.curves.get(name)![what][j]!);
  const objs = objectives.map((o): BonObjectiveResult => {
    const curve: BonPoint[] = ns.map((n, j) => ({
      n, kl_bon: klBon(n), proxy: iv(col(o.name, 'proxy', j)),
      ...(hasGold ? {
        gold: iv(col(o.name, 'gold', j)),
        gold_gain: pair(col(o.name, 'gold', j), col(o.name, 'gold', 0)),
        ...(o.name !== baseline ? { gold_vs_baseline: pair(col(o.name, 'gold', j), col(baseline, 'gold', j)) } : {}),
      } : {}),
    }));
    const y = (p: BonPoint) => (hasGold ? p.gold!.mean : p.proxy.mean);
    const fit = fitBon(curve.map((p) => ({ kl: p.kl_bon, y: y(p) - y(curve[0]!) })));
    let peak: BonObjectiveResult['peak'] = null;
    if (hasGold) {
      let jp = 0;
      curve.forEach((p, j) => { if (p.gold!.mean > curve[jp]!.gold!.mean) jp = j; });
      peak = { n: ns[jp]!, drop_to_N: pair(col(o.name, 'gold', jp), col(o.name, 'gold', ns.length - 1)) };
    }
    return {
      name: o.name, config: o.config, curve, fit, fit_of: hasGold ? 'gold' : 'proxy', peak,
      per_seed: perSeed.map((s) => ({ seed: s.seed, proxy: s.curves.get(o.name)!.proxy, gold: hasGold ? s.curves.get(o.name)!.gold : null })),
    };
  });
  return { N, ns, prompts, seeds: perSeed.map((s) => s.seed), has_gold: hasGold, baseline, objectives: objs };
}

export interface BonRunOptions {
  store: Store;
  dataDir: string;
  device?: DeviceRequest;
  objectives: BonObjective[];
  N: number;
  /** How many of the source's prompts (cycled when there are fewer). */
  prompts: number;
  seeds: number[];
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (e: { message: string } & Partial<BonProgress>) => void;
  /** Drop a 'gold' objective (instead of refusing it) when the source has no gold reward. */
  dropGoldWithoutGold?: boolean;
}

/** Best-of-n on a source (a spec, or one resolveSource already checked) over seeds: draw, score,
 *  curves per seed, then the summary. */
export async function runBon(spec: BonSourceSpec | Resolved, o: BonRunOptions): Promise<BonResult & { source: Record<string, unknown> }> {
  if (!o.objectives.length) throw new BonSourceError('best-of-n needs at least one objective');
  if (!Number.isInteger(o.N) || o.N < 1) throw new BonSourceError(`N must be a positive integer, got ${o.N}`);
  const say = (message: string) => o.onProgress?.({ message });
  const r = 'forSeed' in spec ? spec : await resolveSource(spec, o);
  const objectives = !r.hasGold && o.dropGoldWithoutGold ? o.objectives.filter((x) => x.config.kind !== 'gold') : o.objectives;
  const gold = objectives.find((x) => x.config.kind === 'gold');
  if (gold && !r.hasGold) throw new BonSourceError(`objective "${gold.name}" selects by gold, but this source has no gold reward`);
  const ns = bonNs(o.N);
  const perSeed: { seed: number; curves: Map<string, BonSeedCurve> }[] = [];
  for (const seed of o.seeds) {
    if (o.signal?.aborted) throw new Error('cancelled');
    const src = await r.forSeed(seed, say);
    if (!src.prompts.length) throw new BonSourceError('the source has no evaluation prompts');
    const prompts = Array.from({ length: o.prompts }, (_, i) => src.prompts[i % src.prompts.length]!);
    say(`seed ${seed}: ${o.N} samples × ${prompts.length} prompts`);
    const groups = await drawScored({ ...src, prompts }, o.N, seed, { batchSize: o.batchSize, signal: o.signal, onProgress: (p) => o.onProgress?.({ message: `seed ${seed}: ${p.phase} ${p.done}/${p.total}`, ...p }) });
    perSeed.push({ seed, curves: bonCurves(groups, objectives, ns) });
  }
  return { ...summarizeBon(perSeed, objectives, o.N, o.prompts, r.hasGold), source: r.about };
}
