// The policies of a stored study, loadable for evaluation. π₀ is the study's starting policy
// (experiments/ID/base-policy when the runner fine-tuned or saved it, else the dataset world's
// modelDir); a run's checkpoint holds what PPO trained (policy.safetensors: every weight, or only the
// LoRA adapters when the study trained `policy.lora`, with the value head beside them), put back on π₀'s
// architecture. Built-in worlds' policies speak their own small vocabularies, not text a benchmark could
// be written in, so only studies of a dataset world (a Hugging Face model) are evaluated.
import fs from 'node:fs';
import path from 'node:path';
import { CausalLM } from '../models/model.js';
import { withLora, type LoraConfig } from '../models/lora.js';
import { loadTokenizer, type HfTokenizer } from '../models/tokenizer.js';
import { ParamStore } from '../runtime/params.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { type Store, type Experiment } from '../store/index.js';
import { studyPaths } from '../experiments/layout.js';

export interface RunPolicy {
  model: CausalLM;
  tokenizer: HfTokenizer;
  about: { run: number; experiment: number; objective: string; seed: number; status: string; step: number; checkpoint: string; architecture_from: string };
}

export class RunPolicyError extends Error {}

interface TextWorld { name: 'dataset'; modelDir: string }

/** The study's world when its policy speaks text (a dataset world), else a refusal naming the world. */
function textWorld(exp: Experiment, what: string): TextWorld {
  const world = (exp.spec as { world?: { name?: string; modelDir?: string } }).world;
  if (world?.name !== 'dataset' || typeof world.modelDir !== 'string') {
    throw new RunPolicyError(`${what} trained a policy of the built-in "${world?.name ?? 'goodhart-lab'}" world, whose vocabulary is the world's own symbols, not text; benchmarks evaluate studies of a dataset world (a Hugging Face model)`);
  }
  return world as TextWorld;
}

/** Where π₀'s architecture and weights are: the copy the runner saved with the study, else the model folder. */
function baseDirOf(dataDir: string, experimentId: number, world: TextWorld): string {
  const saved = studyPaths(dataDir, experimentId).basePolicy;
  return fs.existsSync(path.join(saved, 'model.safetensors')) ? saved : world.modelDir;
}

async function tokenizerOf(baseDir: string, world: TextWorld): Promise<HfTokenizer> {
  return loadTokenizer(fs.existsSync(path.join(baseDir, 'tokenizer.json')) ? baseDir : world.modelDir);
}

function needExperiment(store: Store, id: number): Experiment {
  const exp = store.experiments.get(id);
  if (!exp) throw new RunPolicyError(`experiment ${id} does not exist; \`rrlhf experiment list\` shows the ids`);
  return exp;
}

/** The study's starting policy π₀, the same for every run (what "before" means in a benchmark comparison). */
export async function loadStudyBase(store: Store, dataDir: string, experimentId: number, device: DeviceRequest = 'cpu'): Promise<{ model: CausalLM; tokenizer: HfTokenizer; baseDir: string }> {
  const world = textWorld(needExperiment(store, experimentId), `study ${experimentId}`);
  const baseDir = baseDirOf(dataDir, experimentId, world);
  return { model: await CausalLM.load(baseDir, device), tokenizer: await tokenizerOf(baseDir, world), baseDir };
}

/** A run's policy at its latest checkpoint, or at the checkpoint of `step` when given. */
export async function loadRunPolicy(store: Store, dataDir: string, runId: number, device: DeviceRequest = 'cpu', step?: number): Promise<RunPolicy> {
  const run = store.runs.get(runId);
  if (!run) throw new RunPolicyError(`run ${runId} does not exist; \`rrlhf runs list\` shows the ids`);
  if (run.status === 'imported') throw new RunPolicyError(`run ${runId} was imported from another engine's logs and has no policy weights here; evaluate that engine's saved model with --model DIR`);
  if (run.experimentId === null) throw new RunPolicyError(`run ${runId} belongs to no experiment, so its starting model is unknown`);
  const exp = store.experiments.get(run.experimentId);
  if (!exp) throw new RunPolicyError(`run ${runId}: experiment ${run.experimentId} is missing from the store`);
  const world = textWorld(exp, `run ${runId}`);
  const ck = step === undefined ? store.runs.latestCheckpoint(runId) : store.runs.checkpoints(runId).filter((c) => c.step === step).pop();
  if (!ck) {
    throw new RunPolicyError(step === undefined
      ? `run ${runId} (${run.status}) has no checkpoint yet, so no trained policy to evaluate`
      : `run ${runId} has no checkpoint at step ${step} (it has ${store.runs.checkpoints(runId).map((c) => c.step).join(', ') || 'none'})`);
  }
  const weights = path.join(ck.path, 'policy.safetensors');
  if (!fs.existsSync(weights)) throw new RunPolicyError(`run ${runId}: ${weights} is missing (the checkpoint folder was moved or deleted)`);
  const baseDir = baseDirOf(dataDir, run.experimentId, world);
  const base = await CausalLM.load(baseDir, device);
  // A LoRA study checkpoints only the adapters: rebuild them on π₀ with the study's settings, then load.
  const lora = (exp.spec as { policy?: { lora?: LoraConfig | null } }).policy?.lora;
  const model = lora ? await withLora(base, { ...lora, bias: 'none' }, run.seed) : base;
  const trained = await ParamStore.load(weights);
  const names = new Set(trained.names());
  const wanted = model.lora ? model.lora.paramNames() : model.modelParamNames();
  const missing = wanted.filter((n) => !names.has(n));
  if (missing.length) throw new RunPolicyError(`run ${runId}: ${weights} lacks ${missing.length} of the policy's tensors (${missing.slice(0, 3).join(', ')}...); it does not match ${baseDir}${lora ? ` with the study's LoRA (r ${lora.r})` : ''}`);
  for (const n of wanted) {
    const t = trained.get(n);
    if (t.shape.join() !== model.params.shape(n).join()) throw new RunPolicyError(`run ${runId}: ${n} is [${t.shape}] in ${weights} but [${model.params.shape(n)}] in ${baseDir}`);
    model.params.set(n, t.data, t.shape);
  }
  return {
    model, tokenizer: await tokenizerOf(baseDir, world),
    about: { run: runId, experiment: run.experimentId, objective: run.objective, seed: run.seed, status: run.status, step: ck.step, checkpoint: ck.path, architecture_from: baseDir },
  };
}
