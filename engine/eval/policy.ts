// The policy of a stored run, loadable for evaluation: the run's last checkpoint holds the PPO policy's
// weights (policy.safetensors, with its value head beside them); its architecture and tokenizer are those
// of the study's starting policy π₀ (experiments/ID/base-policy when the runner fine-tuned or saved it,
// else the dataset world's modelDir). Built-in worlds' policies speak their own small vocabularies, not
// text a benchmark could be written in, so only runs of a dataset world (a Hugging Face model) are
// evaluated.
import fs from 'node:fs';
import path from 'node:path';
import { CausalLM } from '../models/model.js';
import { loadTokenizer, type HfTokenizer } from '../models/tokenizer.js';
import { ParamStore } from '../runtime/params.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { type Store } from '../store/index.js';

export interface RunPolicy {
  model: CausalLM;
  tokenizer: HfTokenizer;
  about: { run: number; experiment: number; objective: string; seed: number; status: string; step: number; checkpoint: string; architecture_from: string };
}

export class RunPolicyError extends Error {}

export async function loadRunPolicy(store: Store, dataDir: string, runId: number, device: DeviceRequest = 'cpu'): Promise<RunPolicy> {
  const run = store.runs.get(runId);
  if (!run) throw new RunPolicyError(`run ${runId} does not exist; \`rrlhf runs list\` shows the ids`);
  if (run.status === 'imported') throw new RunPolicyError(`run ${runId} was imported from another engine's logs and has no policy weights here; evaluate that engine's saved model with --model DIR`);
  if (run.experimentId === null) throw new RunPolicyError(`run ${runId} belongs to no experiment, so its starting model is unknown`);
  const exp = store.experiments.get(run.experimentId);
  if (!exp) throw new RunPolicyError(`run ${runId}: experiment ${run.experimentId} is missing from the store`);
  const world = (exp.spec as { world?: { name?: string; modelDir?: string } }).world;
  if (world?.name !== 'dataset' || typeof world.modelDir !== 'string') {
    throw new RunPolicyError(`run ${runId} trained a policy of the built-in "${world?.name ?? 'goodhart-lab'}" world, whose vocabulary is the world's own symbols, not text; benchmarks evaluate runs of a dataset world (a Hugging Face model)`);
  }
  const ck = store.runs.latestCheckpoint(runId);
  if (!ck) throw new RunPolicyError(`run ${runId} (${run.status}) has no checkpoint yet, so no trained policy to evaluate`);
  const weights = path.join(ck.path, 'policy.safetensors');
  if (!fs.existsSync(weights)) throw new RunPolicyError(`run ${runId}: ${weights} is missing (the checkpoint folder was moved or deleted)`);
  const saved = path.join(dataDir, 'experiments', String(run.experimentId), 'base-policy');
  const baseDir = fs.existsSync(path.join(saved, 'model.safetensors')) ? saved : world.modelDir;
  const model = await CausalLM.load(baseDir, device);
  const trained = await ParamStore.load(weights);
  const names = new Set(trained.names());
  const missing = model.modelParamNames().filter((n) => !names.has(n));
  if (missing.length) throw new RunPolicyError(`run ${runId}: ${weights} lacks ${missing.length} of the model's tensors (${missing.slice(0, 3).join(', ')}...); it does not match ${baseDir}`);
  for (const n of model.modelParamNames()) {
    const t = trained.get(n);
    if (t.shape.join() !== model.params.shape(n).join()) throw new RunPolicyError(`run ${runId}: ${n} is [${t.shape}] in ${weights} but [${model.params.shape(n)}] in ${baseDir}`);
    model.params.set(n, t.data, t.shape);
  }
  const tokenizer = await loadTokenizer(fs.existsSync(path.join(baseDir, 'tokenizer.json')) ? baseDir : world.modelDir);
  return {
    model, tokenizer,
    about: { run: runId, experiment: run.experimentId, objective: run.objective, seed: run.seed, status: run.status, step: ck.step, checkpoint: ck.path, architecture_from: baseDir },
  };
}
