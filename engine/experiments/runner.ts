// Running a paired study: one world, one starting policy π₀, one reward ensemble, then PPO once per
// (seed × objective) — objectives share prompts, seeds and the evaluation set, so they differ only
// in how the ensemble's heads are aggregated. Everything is written to the store as it happens;
// a run checkpoints every N iterations and resumes exactly (same metrics as an uninterrupted run).
//
// Worlds: a built-in world (π₀ = a fresh decoder trained by SFT), or a dataset world — an imported
// preference dataset with a Hugging Face model as π₀ and reward trunk (SFT skipped by default) and an
// optional held-out reward model as gold (World.goldBatch). A world without gold (hasGold = false)
// records proxy, ensemble-mean reward and KL only (no eval/gold, gold/train), its run summaries carry
// NaN gold (null in JSON), and objectives are compared on the ensemble-mean reward at matched KL.

import { type LossScalerState } from '../runtime/precision.js';
import { ensembleMembersPhrase } from '../../common/ensemble-methods.js';
import { mkdir, readFile, writeFile, rename, access } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import ort from 'onnxruntime-node';
import { type Store } from '../store/index.js';
import { type Run } from '../store/runs.js';
import { CausalLM } from '../models/model.js';
import { generate, scoreLogprobs } from '../models/sampler.js';
import { Rng, ParamStore } from '../runtime/params.js';
import { type DeviceRequest, resolveDevice, describeResolution } from '../runtime/devices.js';
import { makeWorld, datasetWorld, isDatasetWorld } from '../worlds/index.js';
import { type World } from '../worlds/world.js';
import { sft } from '../rlhf/sft.js';
import { type Ensemble } from '../rlhf/ensemble.js';
import { loadEnsemble, trainEnsemble } from '../rlhf/ensemble-train.js';
import { aggregate, ensembleStats, memberStd, RunningMoments, type ObjectiveConfig } from '../rlhf/aggregate.js';
import { PpoTrainer } from '../rlhf/ppo.js';
import { withLora } from '../models/lora.js';
import { hackingOnset, onsetAlerts, peak, type EvalPoint } from '../rlhf/gold.js';
import { analyseStudy, evalPoints } from './analysis.js';
import { studyPaths } from './layout.js';
import { APP_VERSION } from '../version.js';
import { METRIC } from '../../common/metrics.js';
import { assertStudyFits } from './memory.js';
import { type ExperimentSpec, type ObjectiveSpec, resolveSpecPaths, sftConfig, ensembleTrainOptions, ppoConfig } from './spec.js';
import { trainBuiltinPolicy, memberTrunks } from './trunks.js';

export interface ProgressEvent {
  phase: 'setup' | 'sft' | 'reward' | 'ensemble' | 'ppo' | 'done';
  message: string;
  runId?: number;
  objective?: string;
  seed?: number;
  step?: number;
  total?: number;
  /** Seconds left for the current phase (PPO: this run), from the average step time so far. */
  etaS?: number;
  metrics?: Record<string, number>;
}

export interface RunnerOptions {
  store: Store;
  /** Folder for models, ensembles and checkpoints (the data dir). */
  dataDir: string;
  device?: DeviceRequest;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
}

export interface RunSummary {
  id: number; objective: string; seed: number; status: string;
  /** gold is NaN (null in JSON) when the world has no gold reward. */
  final: { gold: number; proxy: number; kl: number };
  /** NaN gold and step (null in JSON) when the world has no gold reward. */
  peak: { gold: number; step: number };
  onset: number | null;
}

export interface ExperimentResult {
  experiment: number;
  /** False when the world has no gold reward: runs' gold is null and comparisons use a shared proxy. */
  hasGold: boolean;
  runs: RunSummary[];
  ensemble: Record<string, unknown>;
  /** Paired differences against the first objective: of final gold, or — without gold — of the
   *  ensemble-mean reward (one proxy for every objective) at the largest KL both runs of a seed reached. */
  comparisons: { a: string; b: string; metric: 'final_gold' | 'ensemble_mean_at_matched_kl'; mean: number; lo: number; hi: number; significant: boolean; warning: string | null }[];
}

/** What every run of an experiment shares: world, π₀, the reward ensemble. Built once, cached on disk. */
interface Shared { world: World; hasGold: boolean; base: CausalLM; ensemble: Ensemble; files: ReturnType<typeof studyPaths>; report: Record<string, unknown> }

const VERSIONS = { app: APP_VERSION, ort: ort.env.versions.node ?? 'unknown', node: process.version };

async function exists(p: string) { try { await access(p); return true; } catch { return false; } }

/** Writes JSON atomically (temp file + rename), so a kill never leaves half a file. */
async function writeJsonAtomic(file: string, value: unknown) {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, file);
}

/** The study's world: a built-in one by name, or the dataset world the spec describes. */
async function buildWorld(spec: ExperimentSpec, o: RunnerOptions): Promise<World> {
  const w = spec.world;
  if (w.name === 'dataset') {
    return datasetWorld({ store: o.store, datasetId: w.datasetId, modelDir: w.modelDir, gold: w.gold, maxPromptTokens: w.maxPromptTokens, maxResponseTokens: w.maxResponseTokens, seed: w.seed, device: o.device ?? 'cpu' });
  }
  return makeWorld(w.name, w.settings, w.seed);
}

async function prepareShared(spec: ExperimentSpec, experimentId: number, o: RunnerOptions): Promise<Shared> {
  const say = (phase: ProgressEvent['phase'], message: string, extra: Partial<ProgressEvent> = {}) => o.onProgress?.({ phase, message, ...extra });
  const world = await buildWorld(spec, o);
  const files = studyPaths(o.dataDir, experimentId);
  await mkdir(files.dir, { recursive: true });
  const baseDir = files.basePolicy, ensDir = files.ensemble, reportFile = files.ensembleReport;
  const device = o.device ?? 'cpu';
  const sftProgress = (p: { epoch: number; step: number; steps: number; loss: number }) => say('sft', `SFT epoch ${p.epoch + 1}/${spec.sft.epochs}`, { step: p.step, total: p.steps, metrics: { loss: p.loss } });
  const runSft = async (base: CausalLM, what: string) => {
    say('sft', `training the starting policy π₀ on ${spec.sft.samples} samples of ${what}`);
    const rng = new Rng(spec.world.seed * 7919 + 1);
    await sft(base, world.sftSamples(spec.sft.samples, rng), sftConfig(spec, world.padId), sftProgress);
    await base.save(baseDir);
  };
  let base: CausalLM;
  if (await exists(path.join(baseDir, 'model.safetensors'))) {
    base = await CausalLM.load(baseDir, device);
  } else if (spec.world.name === 'dataset') {
    // The imported model is π₀; with SFT skipped it is used as it is (and read from modelDir again on resume).
    say('setup', `loading the starting policy π₀ from ${spec.world.modelDir}`);
    base = await CausalLM.load(spec.world.modelDir, device);
    if (spec.sft.skip !== true) await runSft(base, 'prompt + chosen responses from the dataset\'s training split');
  } else {
    say('sft', `training the starting policy π₀ on ${spec.sft.samples} samples of the world's base behaviour`);
    base = await trainBuiltinPolicy(world, spec.world.seed, spec.sft.samples, sftConfig(spec, world.padId), device, sftProgress);
    await base.save(baseDir);
  }
  let ensemble: Ensemble;
  let report: Record<string, unknown>;
  if (await exists(reportFile)) {
    ensemble = await loadEnsemble(ensDir, device);
    ensemble.precision = spec.memory.precision; // score as it was trained
    report = JSON.parse(await readFile(reportFile, 'utf8'));
  } else {
    const rng = new Rng(spec.world.seed * 104729 + 2);
    const train = world.preferencePairs(spec.ensemble.pairs, rng);
    // A dataset world validates on its held-out split; built-in worlds draw fresh pairs.
    const val = isDatasetWorld(world) ? world.heldOutPairs(spec.ensemble.valPairs, rng) : world.preferencePairs(spec.ensemble.valPairs, rng);
    const e = spec.ensemble;
    const opts = ensembleTrainOptions(e, { seed: spec.world.seed, padId: world.padId, pretrained: isDatasetWorld(world), gradientCheckpointing: spec.memory.gradientCheckpointing, precision: spec.memory.precision });
    const { bootstrap } = opts;
    // Stage 2 is announced once, as stage 1 ends (or at its first step, should stage 1 not report its last).
    let announced = false;
    const stage2 = () => { if (!announced) { announced = true; say('ensemble', `training ${e.heads} BRME heads (${e.stage2Loss}${bootstrap ? ', bootstrap' : ''}${e.anchor ? ', anchored' : ''})`); } };
    // Per-member trunks (built-in worlds only, refused otherwise by the spec): each variant is SFT-trained
    // once and kept beside π₀, so a resumed study does not train it again. Absent in specs stored before the setting.
    const trunkOf = (e.trunks ?? 'shared') === 'per-member' ? memberTrunks({
      world, base, ensembleSeed: spec.world.seed, samples: spec.sft.samples, sft: sftConfig(spec, world.padId), device, cacheDir: files.memberTrunks,
      onTrain: (k) => say('sft', `training member ${k}'s own trunk: a π₀ variant from another seed, on ${spec.sft.samples} samples`),
      onProgress: (_k, p) => sftProgress(p),
    }) : undefined;
    if (e.method === 'brme') say('reward', `training the stage-1 Bradley–Terry reward model on ${train.length} pairs`);
    else say('ensemble', `training ${ensembleMembersPhrase(e.method, e.heads)}${trunkOf ? ', each (but member 0) on its own pretrained trunk,' : ''}${bootstrap ? ' on bootstrap resamples' : ''}`);
    const r = await trainEnsemble(base, train, val, { ...opts, ...(trunkOf ? { trunkOf } : {}) }, (p) => {
      if (p.phase === 'stage1') {
        say('reward', `reward model epoch ${p.epoch! + 1}`, { step: p.step, total: p.steps, metrics: { loss: p.loss, accuracy: p.accuracy! } });
        if (p.step === p.steps) stage2();
      } else if (p.phase === 'stage2') stage2();
    });
    ensemble = r.ensemble;
    report = (r.stage1 ? { ...(r.report ?? {}), stage1: { val_accuracy: r.stage1.valAccuracy ?? null } } : (r.report ?? {})) as Record<string, unknown>;
    await ensemble.save(ensDir);
    await writeJsonAtomic(reportFile, report);
    const art = o.store.artifacts.add({ kind: 'ensemble', path: ensDir, name: `${spec.name} ensemble (experiment ${experimentId})` });
    o.store.ensembles.add({
      name: `${spec.name} (experiment ${experimentId})`, heads: ensemble.K, method: e.method, artifactId: art.id, metrics: report,
      // The world, as `ensemble train` records it, so that `rrlhf reward serve` (and an export) knows how to encode text for it.
      config: { ...e, bootstrap, world: spec.world.name === 'dataset' ? `dataset ${spec.world.datasetId}` : spec.world.name, seed: spec.world.seed, ...(spec.world.name === 'dataset' ? { datasetId: spec.world.datasetId, modelDir: spec.world.modelDir } : {}) },
      ...(spec.world.name === 'dataset' ? { datasetId: spec.world.datasetId } : {}),
    });
  }
  return { world, hasGold: world.hasGold !== false, base, ensemble, files, report };
}

/**
 * KL(π‖π_ref) per sequence, the sampled-token estimate Σ_t (log π − log π_ref) over the RESPONSE tokens
 * only: the prompt was not sampled from π, so the log-ratios of its tokens (which drift as training
 * moves the shared weights) are no part of the KL that PPO penalises and objective/kl reports.
 */
export async function responseKl(policy: CausalLM, ref: CausalLM, prompts: number[][], responses: number[][], padId: number, temperature = 1): Promise<number[]> {
  const seqs = prompts.map((p, i) => [...p, ...responses[i]!]);
  const [lp, lr] = await Promise.all([scoreLogprobs(policy, seqs, padId, temperature), scoreLogprobs(ref, seqs, padId, temperature)]);
  // Rows are left-padded, so each row's last |response| log-probs are its response tokens'.
  return lp.map((row, i) => {
    let s = 0;
    for (let t = row.length - responses[i]!.length; t < row.length; t++) s += row[t]! - lr[i]![t]!;
    return s;
  });
}

/** Deterministic seed for evaluation sampling at an iteration (so resumed runs evaluate identically). */
const evalSeed = (seed: number, step: number) => createHash('sha256').update(`eval:${seed}:${step}`).digest().readUInt32LE(0);

/** The aggregator's configuration of a study objective (also used by the reward server, engine/serve). */
export function objectiveConfig(o: ObjectiveSpec): ObjectiveConfig {
  return { kind: o.kind, lambda: o.lambda, minMode: o.minMode, uwoC: o.uwoC, softminBeta: o.softminBeta, nominalMember: o.nominalMember };
}

interface RunState { dataRng: number[]; norm: { count: number; mean: number; m2: number }; evals: EvalPoint[] }

/** Runs (or resumes) one PPO run of the study. */
async function executeRun(run: Run, spec: ExperimentSpec, sh: Shared, o: RunnerOptions): Promise<RunSummary> {
  const { store } = o;
  const obj = spec.objectives.find((x) => x.name === run.objective);
  if (!obj) throw new Error(`run ${run.id}: objective "${run.objective}" is not in the experiment spec`);
  const ocfg = objectiveConfig(obj);
  const { world, ensemble, hasGold } = sh;
  if (!hasGold && obj.kind === 'gold') throw new Error(`run ${run.id}: objective "${obj.name}" optimises the gold reward, but the world has none`);
  const runDir = sh.files.run(run.id);
  await mkdir(runDir, { recursive: true });
  // A LoRA policy shares π₀'s weight arrays and its reference is π₀ read without the adapters: no copy.
  const lora = spec.policy.lora;
  const policy = lora ? await withLora(sh.base, { ...lora, bias: 'none' }, run.seed) : await sh.base.clone();
  const ref = lora ? policy.withoutAdapters() : sh.base;
  // Rollouts, both scorings and the update under the study's precision (docs/engine.md § Mixed precision).
  policy.precision = ref.precision = spec.memory.precision;
  const ppo = await PpoTrainer.create(policy, ref, { ...ppoConfig(spec), maxNewTokens: world.maxResponseTokens, padId: world.padId, eosId: world.eosId, seed: run.seed });
  let dataRng = new Rng(run.seed * 31337 + 17);
  let norm = new RunningMoments();
  let evals: EvalPoint[] = [];
  let start = 0;

  // Resume from the last checkpoint: weights, optimizer, RNGs, KL controller, reward normaliser.
  const { checkpoint: ckpt } = store.runs.resume(run.id);
  if (ckpt) {
    const st = JSON.parse(await readFile(path.join(ckpt.path, 'state.json'), 'utf8')) as RunState & { ppo: Record<string, unknown> };
    const weights = await ParamStore.load(path.join(ckpt.path, 'policy.safetensors'));
    for (const n of weights.names()) policy.params.set(n, weights.get(n).data, weights.get(n).shape);
    const moments = await ParamStore.load(path.join(ckpt.path, 'optimizer.safetensors'));
    const m = new Map<string, Float32Array>(), v = new Map<string, Float32Array>();
    for (const n of moments.names()) (n.startsWith('m:') ? m : v).set(n.slice(2), moments.get(n).data);
    const p = st.ppo as { iteration: number; klCoef: number; rng: number[]; optimizerStep: number; scaler?: LossScalerState };
    ppo.restore({ ...p, m, v });
    dataRng = new Rng(0); dataRng.setState(st.dataRng);
    norm = RunningMoments.from(st.norm);
    evals = st.evals;
    start = ckpt.step;
  }
  const dev = await resolveDevice(o.device ?? 'cpu');
  // How the device was chosen (and, for auto, why faster ones were not) goes on the run's record.
  store.runs.start(run.id, { device: dev.device, versions: { ...VERSIONS, device: describeResolution(o.device ?? 'cpu', dev) } });

  const goldOf = async (prompts: number[][], responses: number[][]): Promise<number[]> => {
    if (!hasGold) return prompts.map(() => NaN);
    if (world.goldBatch) return world.goldBatch(prompts, responses);
    return prompts.map((p, i) => world.gold(p, responses[i]!));
  };
  const scoreBatch = async (prompts: number[][], responses: number[][]) => {
    const seqs = prompts.map((p, i) => [...p, ...responses[i]!]);
    const s = await ensemble.score(seqs);
    const gold = await goldOf(prompts, responses);
    return { ...s, gold };
  };

  /** Evaluation on held-out prompts; also the ensemble-mean reward, the shared proxy of no-gold worlds. */
  const evaluate = async (step: number): Promise<EvalPoint & { rewardMean: number; memberStd: number }> => {
    const rng = new Rng(evalSeed(run.seed, step));
    const prompts = Array.from({ length: spec.eval.samples }, () => world.evalPrompts[rng.int(world.evalPrompts.length)]!);
    // The policy is evaluated as it is trained and deployed: sampled at the PPO temperature, with the KL
    // taken between the two tempered distributions (what objective/kl reports during training).
    const temperature = spec.ppo.temperature;
    const g = await generate(policy, prompts, { maxNewTokens: world.maxResponseTokens, temperature, eosId: world.eosId, padId: world.padId, seed: rng.nextU32() });
    const s = await scoreBatch(prompts, g.tokens);
    const proxy = aggregate(s, ocfg);
    const kls = await responseKl(policy, ref, prompts, g.tokens, world.padId, temperature);
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const gm = avg(s.gold);
    const se = Math.sqrt(s.gold.reduce((a, x) => a + (x - gm) ** 2, 0) / Math.max(1, s.gold.length - 1) / s.gold.length);
    const rewardMean = avg(s.mu.map((row) => avg(row)));
    // On-policy disagreement: the same spread as the ensemble report's, but on the policy's samples.
    return { step, gold: gm, proxy: avg(proxy), kl: Math.max(0, avg(kls)), goldSe: se, rewardMean, memberStd: memberStd(s.mu) };
  };

  let recentSampleIds: number[] = [];
  const recordEval = ({ rewardMean, memberStd: spread, ...p }: EvalPoint & { rewardMean: number; memberStd: number }) => {
    evals.push(p);
    if (!hasGold) {
      store.metrics.append(run.id, p.step, { [METRIC.evalProxy]: p.proxy, [METRIC.evalRewardMean]: rewardMean, [METRIC.evalKl]: p.kl, [METRIC.evalSqrtKl]: Math.sqrt(p.kl), [METRIC.evalMemberStd]: spread });
      return;
    }
    store.metrics.append(run.id, p.step, { [METRIC.evalGold]: p.gold, [METRIC.evalGoldSe]: p.goldSe ?? NaN, [METRIC.evalProxy]: p.proxy, [METRIC.evalKl]: p.kl, [METRIC.evalSqrtKl]: Math.sqrt(p.kl), [METRIC.evalMemberStd]: spread });
    for (const a of onsetAlerts(evals, store.alerts.list(run.id), spec.onsetMargin)) {
      // An onset is linked to the samples of the latest iteration: what the policy was producing when gold turned.
      store.alerts.add({ runId: run.id, ...a, sampleIds: a.kind === 'hacking_onset' ? recentSampleIds : [] });
    }
  };

  if (start === 0) recordEval(await evaluate(0));
  const t0 = Date.now();
  const total = spec.ppo.iterations;
  try {
    for (let it = start + 1; it <= total; it++) {
      if (o.signal?.aborted) { store.runs.update(run.id, { status: 'cancelled' }); throw new Error('cancelled'); }
      const prompts = Array.from({ length: spec.ppo.batchSize }, () => world.trainPrompts[dataRng.int(world.trainPrompts.length)]!);
      let last: Awaited<ReturnType<typeof scoreBatch>> | undefined;
      let raw: number[] = [];
      const res = await ppo.step(prompts, async (ps, rs) => {
        last = await scoreBatch(ps, rs);
        raw = aggregate(last, ocfg);
        let scores = raw;
        if (spec.perturb) {
          // Claim 3: push a random fraction of rewards up (over-scoring) or down (under-scoring).
          const sign = spec.perturb.direction === 'up' ? 1 : -1;
          scores = scores.map((x) => (dataRng.uniform() < spec.perturb!.fraction ? x + sign * spec.perturb!.magnitude : x));
        }
        if (spec.normalize === 'running') { norm.update(scores); scores = norm.whiten(scores); }
        const es = ensembleStats(last.mu);
        const nominal = aggregate(last, { ...ocfg, kind: 'nominal' });
        const robust = aggregate(last, { ...ocfg, kind: 'robust', lambda: ocfg.kind === 'robust' ? ocfg.lambda : 0.4 });
        const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
        return {
          scores,
          metrics: {
            [METRIC.ensembleMean]: es.mean, [METRIC.ensembleStd]: es.std, [METRIC.ensembleMin]: es.min, [METRIC.ensembleMax]: es.max,
            [METRIC.rewardNominal]: mean(nominal), [METRIC.rewardRobust]: mean(robust), [METRIC.rewardSingle]: mean(last.single), [METRIC.rewardProxy]: mean(raw),
            ...(hasGold ? { [METRIC.goldTrain]: mean(last.gold) } : {}),
          },
        };
      });
      store.metrics.append(run.id, it, res.metrics);
      // A few samples per iteration for the sample browser (the highest- and lowest-scored).
      if (last) {
        const order = raw.map((_, i) => i).sort((a, b) => raw[b]! - raw[a]!);
        const keep = [...new Set([order[0]!, order[1]!, order[order.length - 1]!])];
        recentSampleIds = store.samples.add(run.id, keep.map((i) => {
          const mu = last!.mu[i]!;
          const m = mu.reduce((a, b) => a + b, 0) / mu.length;
          return {
            step: it, prompt: world.render(res.rollout.prompts[i]!), response: world.render(res.rollout.responses[i]!), rewards: mu,
            nominal: aggregate({ ...last!, mu: [mu], sigma: last!.sigma ? [last!.sigma[i]!] : undefined, single: [last!.single[i]!], gold: [last!.gold[i]!] }, { ...ocfg, kind: 'nominal' })[0],
            min: Math.min(...mu), mean: m, std: Math.sqrt(mu.reduce((a, x) => a + (x - m) ** 2, 0) / mu.length),
            proxy: raw[i], gold: hasGold ? last!.gold[i] : undefined, kl: res.rollout.kl[i], length: res.rollout.responses[i]!.length,
          };
        }));
      }
      if (it % spec.eval.every === 0 || it === total) recordEval(await evaluate(it));
      const el = (Date.now() - t0) / 1000, done = it - start;
      o.onProgress?.({ phase: 'ppo', message: `${run.objective} seed ${run.seed}: iteration ${it}/${total}`, runId: run.id, objective: run.objective, seed: run.seed, step: it, total, etaS: (el / done) * (total - it), metrics: res.metrics });
      if (it % spec.checkpointEvery === 0 || it === total) await checkpoint(it);
      store.runs.heartbeat(run.id);
    }
  } catch (err) {
    if ((err as Error).message !== 'cancelled') store.runs.update(run.id, { status: 'failed', error: (err as Error).message.split('\n')[0]! });
    throw err;
  }
  store.runs.update(run.id, { status: 'finished' });
  return summarize(run, evals, spec, hasGold);

  async function checkpoint(step: number) {
    const dir = path.join(runDir, `step-${step}`);
    await mkdir(dir, { recursive: true });
    await policy.params.sync();
    // A LoRA run's frozen base is π₀ itself (on disk with the study); only what trains is checkpointed.
    const own = new ParamStore();
    for (const n of policy.trainableNames()) { const p = policy.params.get(n); own.set(n, p.data, p.shape); }
    await own.save(path.join(dir, 'policy.safetensors'));
    const st = await ppo.state();
    const opt = new ParamStore();
    for (const [n, a] of st.m) opt.set(`m:${n}`, a, [a.length]);
    for (const [n, a] of st.v) opt.set(`v:${n}`, a, [a.length]);
    await opt.save(path.join(dir, 'optimizer.safetensors'));
    const { m: _m, v: _v, ...ppoRest } = st;
    const state = { ppo: ppoRest, dataRng: dataRng.getState(), norm: norm.state(), evals } satisfies RunState & { ppo: unknown };
    await writeJsonAtomic(path.join(dir, 'state.json'), state);
    const sha = createHash('sha256').update(JSON.stringify(state)).digest('hex');
    store.runs.addCheckpoint({ runId: run.id, step, path: dir, sha256: sha });
  }
}

function summarize(run: Run, evals: EvalPoint[], spec: ExperimentSpec, hasGold = true): RunSummary {
  const last = evals[evals.length - 1] ?? { gold: NaN, proxy: NaN, kl: NaN, step: 0 };
  if (!hasGold) {
    // No gold: NaN, never a stale value (a checkpoint's state.json holds NaN as null).
    return { id: run.id, objective: run.objective, seed: run.seed, status: 'finished', final: { gold: NaN, proxy: last.proxy ?? NaN, kl: last.kl ?? NaN }, peak: { gold: NaN, step: NaN }, onset: null };
  }
  const onset = hackingOnset(evals, spec.onsetMargin);
  return { id: run.id, objective: run.objective, seed: run.seed, status: 'finished', final: { gold: last.gold, proxy: last.proxy, kl: last.kl }, peak: peak(evals), onset: onset?.step ?? null };
}

/** Runs a whole study: shared setup, then every (seed × objective) run, then the paired comparison. */
export async function runExperiment(specIn: ExperimentSpec, o: RunnerOptions): Promise<ExperimentResult> {
  const spec = resolveSpecPaths(specIn); // a dataset world's folders, stored absolute
  await assertStudyFits(spec, o.device ?? 'cpu'); // refused before anything is recorded (docs/engine.md § Memory plan)
  const exp = o.store.experiments.create({ name: spec.name, spec: spec as unknown as Record<string, unknown> });
  o.onProgress?.({ phase: 'setup', message: `experiment ${exp.id}: ${spec.objectives.length} objectives × ${spec.seeds.length} seeds on ${spec.world.name}` });
  const sh = await prepareShared(spec, exp.id, o);
  const runs: Run[] = [];
  for (const seed of spec.seeds) for (const obj of spec.objectives) {
    runs.push(o.store.runs.create({ experimentId: exp.id, objective: obj.name, seed, config: { objective: obj, ppo: spec.ppo, world: spec.world, normalize: spec.normalize, perturb: spec.perturb } }));
  }
  const summaries: RunSummary[] = [];
  for (const r of runs) summaries.push(await executeRun(r, spec, sh, o));
  o.onProgress?.({ phase: 'done', message: `experiment ${exp.id} finished` });
  return { experiment: exp.id, hasGold: sh.hasGold, runs: summaries, ensemble: sh.report, comparisons: compare(o.store, exp.id) };
}

/** Resumes an experiment's unfinished runs (after a crash, kill or cancel). */
export async function resumeExperiment(experimentId: number, o: RunnerOptions): Promise<ExperimentResult> {
  const exp = o.store.experiments.get(experimentId);
  if (!exp) throw new Error(`experiment ${experimentId} does not exist; \`rrlhf runs list\` shows each run with its experiment id`);
  const spec = exp.spec as unknown as ExperimentSpec;
  o.store.runs.recoverInterrupted();
  await assertStudyFits(spec, o.device ?? 'cpu');
  const sh = await prepareShared(spec, exp.id, o);
  const summaries: RunSummary[] = [];
  for (const r of o.store.runs.list({ experimentId })) {
    if (r.status === 'imported') continue; // another engine's run: nothing to resume, and not this runner's result
    if (r.status === 'finished') {
      const evals = evalPoints(o.store, r.id, sh.hasGold);
      summaries.push(summarize(r, evals, spec, sh.hasGold));
    } else {
      summaries.push(await executeRun(r, spec, sh, o));
    }
  }
  return { experiment: exp.id, hasGold: sh.hasGold, runs: summaries, ensemble: sh.report, comparisons: compare(o.store, exp.id) };
}

/** The paired comparisons of the study's analysis (engine/experiments/analysis.ts), in the CLI's result shape. */
function compare(store: Store, experimentId: number): ExperimentResult['comparisons'] {
  const nan = (x: number | null) => x ?? NaN;
  return analyseStudy(store, experimentId).comparisons.map((c) => ({
    a: c.a, b: c.b, metric: c.metric, mean: nan(c.mean), lo: nan(c.lo), hi: nan(c.hi), significant: c.significant, warning: c.warning,
  }));
}
