// Export a study as jobs for a distributed RLHF engine (docs/scaling.md § Export to OpenRLHF and verl):
// a folder the user copies to a cluster, with the starting policy π₀, the study's training prompts in
// the engine's data layout, one launch script per objective × seed (the study's PPO settings mapped to
// the engine's flags or Hydra keys; the reward comes from `rrlhf reward serve`), and a README with the
// commands in order and every setting the engine cannot express.
//
// The flag names are those of the engine versions named in ENGINE_SOURCES; test/reference/openrlhf_args.py
// (OpenRLHF's argparse, transcribed) and test/reference/verl_ppo_trainer_keys.json (verl's config keys)
// check every command this writes.
import { cp, mkdir, readdir, stat, writeFile, chmod, access } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { type Store } from '../store/index.js';
import { type ExperimentSpec, type ObjectiveSpec, ppoConfig } from '../experiments/spec.js';
import { studyPaths, studyEnsembleRecord } from '../experiments/layout.js';
import { splitPrompts, parseMessages } from '../worlds/dataset.js';
import { makeWorld } from '../worlds/index.js';
import { loadTokenizer, type ChatMessage } from '../models/tokenizer.js';
import { verlParquet, type VerlRow } from './verl-parquet.js';

export const EXPORT_ENGINES = ['openrlhf', 'verl'] as const;
export type ExportEngine = (typeof EXPORT_ENGINES)[number];

/** The engine sources the emitted flags and keys were read from. */
export const ENGINE_SOURCES = Object.freeze({
  openrlhf: { repo: 'OpenRLHF/OpenRLHF', version: '0.11.0', commit: '3c3be6234e0cb353e76bb8019947db9dfe99fca7', file: 'openrlhf/cli/train_ppo_ray.py' },
  verl: { repo: 'volcengine/verl', version: '0.8.0.dev', commit: 'b178a3cd56f58b2d502255daba591e92833930a7', file: 'verl/trainer/config/ppo_trainer.yaml' },
});

/** First port of the reward servers; job k uses REWARD_PORT_BASE + k (one fresh server per job, so a
 *  running normaliser starts from nothing for each run, as it does in a local run). */
export const REWARD_PORT_BASE = 5000;

export const ExportRequestSchema = z.strictObject({
  experimentId: z.number().int().positive(),
  engine: z.enum(EXPORT_ENGINES),
  /** The folder to write; it must be empty or absent unless `force`. */
  out: z.string().min(1),
  force: z.boolean().default(false),
  /** GPUs per node the launch scripts ask for (both engines' examples use 8). */
  gpus: z.number().int().positive().max(1024).default(8),
  /** false: the policy folder is not copied; the README names where it is. */
  copyPolicy: z.boolean().default(true),
});
export type ExportRequest = z.input<typeof ExportRequestSchema>;

/** A request that cannot be exported; `status` is the HTTP-like status the API answers with. */
export class ExportError extends Error {
  constructor(message: string, readonly status = 400) { super(message); }
}

export interface ExportJob {
  name: string;
  objective: string;
  kind: ObjectiveSpec['kind'];
  lambda: number | null;
  seed: number;
  /** The launch script, relative to the export folder. */
  script: string;
  /** The trainer's command as argv (values with $ROOT / $REWARD_URL / $RRLHF_REWARD_TOKEN are expanded by the script's shell). */
  argv: string[];
  /** The reward server this job needs, as argv of `rrlhf`. */
  rewardServe: string[];
  port: number;
  /** Where the job's TensorBoard events go (relative to the export folder) and the import command. */
  logs: string;
  importCommand: string[];
}

export interface ExportResult {
  out: string;
  engine: ExportEngine;
  experiment: number;
  source: (typeof ENGINE_SOURCES)[ExportEngine];
  policy: { path: string; copied: boolean; from: string; hf: boolean; note: string | null };
  ensemble: { id: number; path: string };
  prompts: { train: number; eval: number; file: string; evalFile: string; format: string };
  jobs: ExportJob[];
  /** Settings the engine cannot express, each naming the spec key. */
  unsupported: string[];
  warnings: string[];
  files: string[];
}

async function exists(p: string) { try { await access(p); return true; } catch { return false; } }

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'objective';

/** A shell word: $VAR references in our own values stay expandable (double quotes), the rest is single-quoted. */
function shellWord(s: string): string {
  if (/^[A-Za-z0-9_./:=,+@%-]+$/.test(s)) return s;
  if (s.includes('$')) return `"${s.replace(/["\\`]/g, (c) => '\\' + c)}"`;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
const shellLine = (argv: string[]) => argv.map(shellWord).join(' ');
/** A long command over several lines: the program and its module first, then each flag with its values. */
function commandLines(argv: string[]): string {
  const lines: string[][] = [argv.slice(0, 3)];
  for (const w of argv.slice(3)) {
    const cur = lines[lines.length - 1]!;
    // A flag starts a line and takes the values after it; a Hydra override (key=value) is a line of its own.
    if (w.startsWith('--') || lines.length === 1 || !cur[0]!.startsWith('--')) lines.push([w]);
    else cur.push(w);
  }
  return lines.map((l, i) => (i ? '  ' : '') + shellLine(l)).join(' \\\n');
}

/** A number as Python's float()/int() and Hydra read it. */
const num = (x: number) => String(x);
/** A Python float literal, as verl's Hydra config writes them (1 → 1.0). */
const float = (x: number) => (Number.isInteger(x) ? x.toFixed(1) : String(x));

interface Prompts {
  /** What the policy is prompted with: text, or a chat message list (conversational datasets). */
  train: (string | ChatMessage[])[];
  eval: (string | ChatMessage[])[];
  /** The prompt as the study's reward model saw it (text), for verl's reward function. */
  trainText: string[];
  evalText: string[];
  conversational: boolean;
  dataSource: string;
}

/** The prompts the study trained and evaluated on: for a dataset world the split splitPrompts makes
 *  (the same function the world uses); for a built-in world the world's prompts, rendered. */
async function studyPrompts(store: Store, spec: ExperimentSpec): Promise<Prompts> {
  const w = spec.world;
  if (w.name !== 'dataset') {
    const world = makeWorld(w.name, w.settings, w.seed);
    const train = world.trainPrompts.map((p) => world.render(p));
    const ev = world.evalPrompts.map((p) => world.render(p));
    return { train, eval: ev, trainText: train, evalText: ev, conversational: false, dataSource: `rrlhf/${w.name}` };
  }
  const ds = store.datasets.get(w.datasetId);
  if (!ds) throw new ExportError(`the study's dataset ${w.datasetId} is no longer in the store; it cannot be exported without its prompts`, 409);
  const rows: { prompt: string; split: 'train' | 'validation' | 'test' }[] = [];
  for (const r of store.datasets.iterate(w.datasetId)) rows.push({ prompt: r.prompt, split: r.split });
  const { trainTexts, evalTexts } = splitPrompts(rows, w.seed, `dataset ${w.datasetId} ("${ds.name}")`);
  const dataSource = `rrlhf/dataset-${w.datasetId}`;
  if (ds.content !== 'messages') return { train: trainTexts, eval: evalTexts, trainText: trainTexts, evalText: evalTexts, conversational: false, dataSource };
  // Conversational rows: the policy gets the message list; the reward model saw the prompt as the
  // dataset world rendered it (chat template with the generation prompt, or "role: content" lines).
  const tok = await loadTokenizer(w.modelDir).catch((e: Error) => { throw new ExportError(`cannot read the tokenizer of the study's model folder ${w.modelDir}: ${e.message.split('\n')[0]}`, 409); });
  const render = (msgs: ChatMessage[]) => (tok.applyChatTemplate
    ? tok.applyChatTemplate(msgs, { addGenerationPrompt: true })
    : `${msgs.length ? msgs.map((m) => `${m.role}: ${m.content}`).join('\n') + '\n' : ''}assistant:`);
  const tm = trainTexts.map((p) => parseMessages(p, 'prompt', w.datasetId));
  const em = evalTexts.map((p) => parseMessages(p, 'prompt', w.datasetId));
  return { train: tm, eval: em, trainText: tm.map(render), evalText: em.map(render), conversational: true, dataSource };
}

/** The objective options `rrlhf reward serve` takes for an objective (docs/scaling.md § Reward server). */
function rewardServeArgv(o: ObjectiveSpec, ensembleId: number, port: number, spec: ExperimentSpec, dataDir: string): string[] {
  const a = ['rrlhf', 'reward', 'serve', '--data-dir', dataDir, '--ensemble', String(ensembleId), '--objective', o.kind];
  if (o.kind === 'robust') a.push('--lambda', num(o.lambda));
  if (o.minMode !== 'sample') a.push('--min-mode', o.minMode);
  if (o.kind === 'uwo') a.push('--uwo-c', num(o.uwoC));
  if (o.kind === 'softmin') a.push('--softmin-beta', num(o.softminBeta));
  if (o.nominalMember !== 0) a.push('--nominal-member', String(o.nominalMember));
  a.push('--normalize', spec.normalize);
  // Study ensembles recorded before the world was written on their record need the tokenizer named.
  if (spec.world.name === 'dataset') a.push('--tokenizer', spec.world.modelDir);
  a.push('--port', String(port), '--token', '$RRLHF_REWARD_TOKEN');
  return a;
}

interface JobPlan { name: string; seed: number; objective: ObjectiveSpec; port: number }

/** Rollouts the study makes and how the engine's epoch/sample counts come closest to them. */
function rolloutPlan(spec: ExperimentSpec, nPrompts: number) {
  const b = spec.ppo.batchSize;
  const perEpisode = Math.floor(nPrompts / b);
  const wanted = spec.ppo.iterations * b;
  if (perEpisode === 0) return { maxSamples: nPrompts, episodes: spec.ppo.iterations, steps: 0, perEpisode };
  if (nPrompts >= wanted) return { maxSamples: wanted, episodes: 1, steps: spec.ppo.iterations, perEpisode: spec.ppo.iterations };
  const episodes = Math.ceil(spec.ppo.iterations / perEpisode);
  return { maxSamples: nPrompts, episodes, steps: episodes * perEpisode, perEpisode };
}

function openrlhfArgv(spec: ExperimentSpec, job: JobPlan, p: Prompts, gpus: number, plan: ReturnType<typeof rolloutPlan>): string[] {
  const s = ppoConfig(spec);
  const maxResp = spec.world.name === 'dataset' ? spec.world.maxResponseTokens : null;
  const maxPrompt = spec.world.name === 'dataset' ? spec.world.maxPromptTokens : null;
  const run = `$ROOT/runs/${job.name}`;
  const a = [
    'python', '-m', 'openrlhf.cli.train_ppo_ray',
    '--actor.num_nodes', '1', '--actor.num_gpus_per_node', String(gpus),
    '--ref.num_nodes', '1', '--ref.num_gpus_per_node', String(gpus),
    '--critic.num_nodes', '1', '--critic.num_gpus_per_node', String(gpus),
    '--vllm.num_engines', String(gpus), '--vllm.tensor_parallel_size', '1', '--vllm.gpu_memory_utilization', '0.5',
    '--train.colocate_all', '--vllm.enable_sleep', '--ds.enable_sleep',
    '--actor.model_name_or_path', '$ROOT/policy',
    '--critic.model_name_or_path', '$ROOT/policy',
    '--reward.remote_url', '${REWARD_URL}?token=${RRLHF_REWARD_TOKEN}',
    '--data.prompt_dataset', '$ROOT/data/train.jsonl', '--data.input_key', 'prompt',
    ...(p.conversational ? ['--data.apply_chat_template'] : []),
    '--data.max_samples', String(plan.maxSamples), '--train.num_episodes', String(plan.episodes),
    '--eval.dataset', '$ROOT/data/eval.jsonl', '--eval.steps', String(spec.eval.every),
    '--eval.temperature', num(s.temperature), '--eval.n_samples_per_prompt', '1',
    '--rollout.batch_size', String(s.batchSize), '--rollout.n_samples_per_prompt', '1',
    '--train.batch_size', String(s.batchSize / s.miniBatches), '--train.max_epochs', String(s.epochs),
    ...(maxResp !== null ? ['--rollout.max_new_tokens', String(maxResp), '--data.max_len', String(maxPrompt! + maxResp)] : []),
    '--rollout.temperature', num(s.temperature), '--rollout.top_p', '1',
    '--actor.adam.lr', num(s.lr), '--critic.adam.lr', num(s.lr),
    '--actor.adam.betas', '0.9', '0.999', '--critic.adam.betas', '0.9', '0.999',
    '--actor.adam.weight_decay', num(s.weightDecay), '--critic.adam.weight_decay', num(s.weightDecay),
    '--actor.lr_scheduler', 'constant', '--critic.lr_scheduler', 'constant',
    '--actor.lr_warmup_ratio', '0', '--critic.lr_warmup_ratio', '0',
    '--actor.max_norm', num(s.maxGradNorm), '--critic.max_norm', num(s.maxGradNorm),
    '--actor.eps_clip', num(s.clipRange), '--critic.value_clip', num(s.clipRangeValue),
    '--algo.advantage.estimator', 'gae', '--algo.advantage.gamma', num(s.gamma), '--algo.advantage.lambd', num(s.lam),
    '--algo.kl.estimator', 'k1', '--algo.kl.init_coef', num(s.klCoef),
    ...(s.adaptiveKl ? ['--algo.kl.target', num(s.adaptiveKl.target), '--algo.kl.horizon', String(Math.max(1, Math.round(s.adaptiveKl.horizon)))] : []),
    '--reward.clip_range', num(-s.rewardClip), num(s.rewardClip),
    '--train.seed', String(job.seed),
    '--ckpt.save_steps', String(spec.checkpointEvery), '--ckpt.path', `${run}/ckpt`, '--ckpt.output_dir', `${run}/final`, '--ckpt.save_hf',
    '--logger.logging_steps', '1', '--logger.tensorboard_dir', `${run}/tensorboard`,
    ...openrlhfMemory(spec),
  ];
  return a;
}

/** Hydra overrides for `python -m verl.trainer.main_ppo`: [key, value] pairs (checked against verl's keys). */
function verlOverrides(spec: ExperimentSpec, job: JobPlan, gpus: number): [string, string][] {
  const s = ppoConfig(spec), iterations = spec.ppo.iterations;
  const run = `$ROOT/runs/${job.name}`;
  const maxResp = spec.world.name === 'dataset' ? spec.world.maxResponseTokens : null;
  const maxPrompt = spec.world.name === 'dataset' ? spec.world.maxPromptTokens : null;
  const mini = s.batchSize / s.miniBatches;
  const o: [string, string][] = [
    ['algorithm.adv_estimator', 'gae'], ['algorithm.gamma', float(s.gamma)], ['algorithm.lam', float(s.lam)],
    ['algorithm.use_kl_in_reward', 'True'], ['algorithm.kl_penalty', 'kl'],
    ['algorithm.kl_ctrl.type', s.adaptiveKl ? 'adaptive' : 'fixed'], ['algorithm.kl_ctrl.kl_coef', num(s.klCoef)],
    ...(s.adaptiveKl ? [['algorithm.kl_ctrl.target_kl', num(s.adaptiveKl.target)], ['algorithm.kl_ctrl.horizon', String(Math.max(1, Math.round(s.adaptiveKl.horizon)))]] as [string, string][] : []),
    ['data.train_files', '$ROOT/data/train.parquet'], ['data.val_files', '$ROOT/data/eval.parquet'], ['data.prompt_key', 'prompt'],
    ['data.train_batch_size', String(s.batchSize)], ['data.truncation', 'left'], ['data.filter_overlong_prompts', 'False'],
    ['data.shuffle', 'True'], ['data.seed', String(job.seed)],
    ...(maxResp !== null ? [['data.max_prompt_length', String(maxPrompt)], ['data.max_response_length', String(maxResp)]] as [string, string][] : []),
    ['actor_rollout_ref.model.path', '$ROOT/policy'],
    ['actor_rollout_ref.actor.optim.lr', num(s.lr)], ['actor_rollout_ref.actor.optim.weight_decay', float(s.weightDecay)],
    ['actor_rollout_ref.actor.optim.lr_warmup_steps_ratio', '0.0'], ['actor_rollout_ref.actor.optim.lr_scheduler_type', 'constant'],
    ['actor_rollout_ref.actor.optim.clip_grad', float(s.maxGradNorm)],
    ['actor_rollout_ref.actor.ppo_mini_batch_size', String(mini)], ['actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu', '1'],
    ['actor_rollout_ref.actor.ppo_epochs', String(s.epochs)], ['actor_rollout_ref.actor.clip_ratio', num(s.clipRange)],
    ['actor_rollout_ref.actor.use_kl_loss', 'False'], ['actor_rollout_ref.actor.entropy_coeff', '0'],
    ['actor_rollout_ref.actor.loss_agg_mode', 'token-mean'], ['actor_rollout_ref.actor.data_loader_seed', String(job.seed)],
    ['actor_rollout_ref.rollout.name', 'vllm'], ['actor_rollout_ref.rollout.n', '1'],
    ['actor_rollout_ref.rollout.temperature', num(s.temperature)], ['actor_rollout_ref.rollout.top_p', '1.0'],
    ['actor_rollout_ref.rollout.tensor_model_parallel_size', '1'], ['actor_rollout_ref.rollout.gpu_memory_utilization', '0.5'],
    ['actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu', '1'],
    ['actor_rollout_ref.rollout.val_kwargs.temperature', num(s.temperature)], ['actor_rollout_ref.rollout.val_kwargs.do_sample', 'True'],
    ['actor_rollout_ref.rollout.val_kwargs.n', '1'],
    ['actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu', '1'],
    ['critic.model.path', '$ROOT/policy'], ['critic.optim.lr', num(s.lr)], ['critic.optim.weight_decay', float(s.weightDecay)],
    ['critic.optim.lr_warmup_steps_ratio', '0.0'], ['critic.optim.clip_grad', float(s.maxGradNorm)],
    ['critic.cliprange_value', float(s.clipRangeValue)], ['critic.ppo_micro_batch_size_per_gpu', '1'],
    ['custom_reward_function.path', '$ROOT/reward/rrlhf_reward.py'], ['custom_reward_function.name', 'compute_score'],
    ['trainer.total_training_steps', String(iterations)], ['trainer.total_epochs', String(iterations)],
    ['trainer.test_freq', String(spec.eval.every)], ['trainer.save_freq', String(spec.checkpointEvery)], ['trainer.val_before_train', 'True'],
    ['trainer.logger', '["console","tensorboard"]'], ['trainer.project_name', 'rrlhf'], ['trainer.experiment_name', job.name],
    ['trainer.default_local_dir', `${run}/ckpt`], ['trainer.nnodes', '1'], ['trainer.n_gpus_per_node', String(gpus)],
    ...verlMemory(spec),
  ];
  return o;
}

// The policy's LoRA, gradient checkpointing and precision (docs/scaling.md § Export to OpenRLHF and verl):
// the study trains the value head on the LoRA trunk; both engines' critics get the same adapters.
// OpenRLHF's DeepSpeed --ds.param_dtype takes bf16 or fp16 only; verl's fsdp_config.dtype is the FSDP
// mixed-precision compute dtype (fp32 master weights: model_dtype) and rollout.dtype the generator's.
const VERL_DTYPE = { fp32: 'float32', bf16: 'bfloat16', fp16: 'float16' } as const;
function openrlhfMemory(spec: ExperimentSpec): string[] {
  const l = spec.policy.lora;
  return [
    ...(l ? ['--ds.lora.rank', String(l.r), '--ds.lora.alpha', String(Math.round(l.alpha)), '--ds.lora.dropout', num(l.dropout), '--ds.lora.target_modules', ...l.targetModules] : []),
    ...(spec.memory.gradientCheckpointing ? ['--actor.gradient_checkpointing_enable'] : []),
    ...(spec.memory.precision !== 'fp32' ? ['--ds.param_dtype', spec.memory.precision] : []),
  ];
}

function verlMemory(spec: ExperimentSpec): [string, string][] {
  const l = spec.policy.lora;
  const lora = (m: string): [string, string][] => (l ? [[`${m}.lora_rank`, String(l.r)], [`${m}.lora_alpha`, num(l.alpha)], [`${m}.target_modules`, `[${l.targetModules.join(',')}]`]] : []);
  const ckpt = (m: string): [string, string][] => (spec.memory.gradientCheckpointing ? [[`${m}.enable_gradient_checkpointing`, 'True']] : []);
  const dtype = VERL_DTYPE[spec.memory.precision];
  const precision: [string, string][] = ['actor_rollout_ref.actor.fsdp_config.dtype', 'actor_rollout_ref.ref.fsdp_config.dtype', 'critic.model.fsdp_config.dtype', 'actor_rollout_ref.rollout.dtype'].map((k) => [k, dtype]);
  return [...lora('actor_rollout_ref.model'), ...lora('critic.model'), ...ckpt('actor_rollout_ref.model'), ...ckpt('critic.model'), ...precision];
}

/** verl's custom reward function: each response POSTed to the job's reward server (docs/scaling.md § Reward server). */
const VERL_REWARD_PY = `# verl custom reward function (custom_reward_function.path / .name = compute_score), written by
# \`rrlhf export\`: each response is scored by \`rrlhf reward serve\` (OpenRLHF's remote reward protocol,
# docs/scaling.md § Reward server of Robust RLHF Studio). The prompt is the study's prompt text, kept in
# extra_info["prompt"] by the export, so the ensemble scores (prompt, response) as it did in the study.
# RRLHF_REWARD_URL and RRLHF_REWARD_TOKEN must be set where verl's reward workers run (the job script
# exports them; on a Ray cluster started beforehand, set them when starting Ray).
import os

import requests

URL = os.environ.get("RRLHF_REWARD_URL", "http://127.0.0.1:5000/get_reward")
TOKEN = os.environ.get("RRLHF_REWARD_TOKEN", "")
_session = requests.Session()


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    prompt = (extra_info or {}).get("prompt", "")
    r = _session.post(
        URL,
        json={"query": [prompt + solution_str], "prompts": [prompt]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=120,
    )
    if r.status_code != 200:
        raise RuntimeError(f"rrlhf reward server {URL} answered {r.status_code}: {r.text[:300]}")
    return float(r.json()["rewards"][0])
`;

/** Settings of the spec the engine cannot express, each naming its spec key (never dropped silently). */
function unsupportedSettings(spec: ExperimentSpec, engine: ExportEngine, plan: ReturnType<typeof rolloutPlan>): string[] {
  const s = spec.ppo;
  const u: string[] = [];
  u.push(`ppo.vfCoef (${s.vfCoef}): the study's value head shares the policy trunk and its loss is weighted by vfCoef; ${engine === 'openrlhf' ? 'OpenRLHF' : 'verl'} trains a separate critic initialised from π₀ with its own optimiser (same lr), so there is no weight to set`);
  if (engine === 'openrlhf') {
    if (plan.steps !== s.iterations) {
      u.push(plan.steps === 0
        ? `ppo.iterations (${s.iterations}) with ppo.batchSize ${s.batchSize}: there are fewer training prompts than one rollout batch, so OpenRLHF makes no rollout; lower ppo.batchSize`
        : `ppo.iterations (${s.iterations}): OpenRLHF counts rollouts as episodes × ⌊prompts / rollout.batch_size⌋; with ${plan.perEpisode} per episode it makes ${plan.steps} (--train.num_episodes ${plan.episodes})`);
    }
    u.push('prompt order: the study draws each rollout batch at random (with its own RNG); OpenRLHF walks its shuffled dataset, one pass per episode');
  } else {
    u.push(`ppo.rewardClip (±${s.rewardClip}): verl has no clip of the sequence reward; clip in the reward function if it matters`);
    u.push('prompt order: the study draws each rollout batch at random (with its own RNG); verl walks its shuffled dataset (data.seed)');
  }
  const lora = spec.policy.lora;
  if (lora && engine === 'openrlhf' && !Number.isInteger(lora.alpha)) u.push(`policy.lora.alpha (${lora.alpha}): OpenRLHF's --ds.lora.alpha takes an integer; rounded to ${Math.round(lora.alpha)}`);
  if (engine === 'openrlhf' && spec.memory.precision === 'fp32') u.push('memory.precision (fp32): OpenRLHF\'s --ds.param_dtype takes bf16 or fp16 only, so its job trains in bf16 (its default)');
  if (lora && engine === 'verl' && lora.dropout > 0) u.push(`policy.lora.dropout (${lora.dropout}): verl has no LoRA dropout key, so its adapters train without dropout`);
  if (s.adaptiveKl && !Number.isInteger(s.adaptiveKl.horizon)) u.push(`ppo.adaptiveKl.horizon (${s.adaptiveKl.horizon}): the engine takes an integer; rounded to ${Math.max(1, Math.round(s.adaptiveKl.horizon))}`);
  if (spec.perturb) u.push(`perturb (${JSON.stringify(spec.perturb)}): the reward server does not perturb rewards, so these runs are unperturbed`);
  u.push(`eval.samples (${spec.eval.samples}): the engine evaluates every prompt of data/eval at each evaluation; the study used ${spec.eval.samples} per evaluation`);
  u.push('eval gold and hacking onset (onsetMargin): the engines do not know the world\'s gold reward; imported runs compare on training curves only (docs/scaling.md § Importing runs)');
  for (const o of spec.objectives) if (o.kind === 'gold') u.push(`objective "${o.name}" (kind gold): optimises the world's gold reward, which no reward server can serve; no job was written for it`);
  u.push('seeds: the seed sets the engine\'s own RNGs (sampling, data order, critic init), so a run does not repeat the local run\'s trajectory, only its settings');
  if (spec.world.name === 'dataset') {
    u.push(`world.maxPromptTokens (${spec.world.maxPromptTokens}): the study keeps the end of a longer prompt; ${engine === 'openrlhf' ? 'OpenRLHF bounds prompt + response by --data.max_len' : 'verl keeps the end too (data.truncation=left)'} `.trimEnd());
    if (engine === 'verl') u.push('text prompts: verl always applies the tokenizer\'s chat template to data["prompt"], so each text prompt is written as one user message; the study prompted with the raw text (the reward server still scores the raw prompt text)');
  }
  return u;
}

async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...await listFiles(p, base));
    else out.push(path.relative(base, p).split(path.sep).join('/'));
  }
  return out.sort();
}

/** Writes the export folder (see the header comment). */
export async function exportStudy(store: Store, dataDir: string, reqIn: ExportRequest): Promise<ExportResult> {
  const req = ExportRequestSchema.parse(reqIn);
  const exp = store.experiments.get(req.experimentId);
  if (!exp) throw new ExportError(`study ${req.experimentId} does not exist; \`rrlhf runs list\` shows each run with its experiment id`, 404);
  const spec = exp.spec as unknown as ExperimentSpec;
  const out = path.resolve(req.out);
  if (await exists(out)) {
    const st = await stat(out);
    if (!st.isDirectory()) throw new ExportError(`${out} is a file; give a folder to write the export into`);
    const inside = await readdir(out);
    if (inside.length && !req.force) throw new ExportError(`${out} is not empty (${inside.length} entries); choose an empty or new folder, or pass --force to write over it`, 409);
  }
  const files = studyPaths(path.resolve(dataDir), exp.id);
  const record = studyEnsembleRecord(store, exp.id);
  if (!record) throw new ExportError(`study ${exp.id} has no trained reward ensemble yet (its setup has not finished); run or resume it first`, 409);
  const ens = { id: record.id, path: files.ensemble, world: typeof record.config.world === 'string' ? record.config.world : null };
  const basePolicy = files.basePolicy;
  const sftDone = await exists(path.join(basePolicy, 'model.safetensors'));
  let policyFrom: string;
  let hf: boolean;
  let policyNote: string | null = null;
  if (spec.world.name === 'dataset') {
    policyFrom = sftDone ? basePolicy : spec.world.modelDir;
    hf = true;
    if (!await exists(path.join(policyFrom, 'config.json'))) throw new ExportError(`the study's starting policy folder ${policyFrom} is missing (config.json not found); it cannot be exported`, 409);
  } else {
    if (!sftDone) throw new ExportError(`study ${exp.id} has no starting policy yet (experiments/${exp.id}/base-policy; its setup has not finished); run or resume it first`, 409);
    policyFrom = basePolicy;
    hf = false;
    policyNote = `The ${spec.world.name} world's starting policy is a small decoder saved in Hugging Face layout (config.json, model.safetensors) whose tokens are the world's own ids: it has no tokenizer and no text form, so OpenRLHF and verl cannot prompt it with text. These jobs show how the study maps onto the engine; to run them, export a study on a dataset world (an imported preference dataset and a Hugging Face model).`;
  }

  const prompts = await studyPrompts(store, spec);
  const plan = rolloutPlan(spec, prompts.train.length);
  const warnings: string[] = [];
  if (spec.ppo.batchSize % spec.ppo.miniBatches !== 0) warnings.push(`ppo.batchSize ${spec.ppo.batchSize} is not divisible by ppo.miniBatches ${spec.ppo.miniBatches}; the engine's mini-batch is ${spec.ppo.batchSize / spec.ppo.miniBatches}, not an integer — adjust it in the scripts`);
  if ((spec.ppo.batchSize / spec.ppo.miniBatches) % req.gpus !== 0) warnings.push(`the mini-batch of ${spec.ppo.batchSize / spec.ppo.miniBatches} prompts is not a multiple of ${req.gpus} GPUs; both engines split it evenly across GPUs — change --gpus or the study's ppo.batchSize / ppo.miniBatches`);
  if (spec.world.name === 'goodhart-lab') warnings.push(`the goodhart-lab world's sequences are not text, so \`rrlhf reward serve\` cannot serve this study's ensemble ${ens.id} to an engine`);
  else if (spec.world.name === 'text-reviews' && ens.world !== 'text-reviews') warnings.push(`ensemble ${ens.id} was saved before studies recorded their world on it, so \`rrlhf reward serve\` does not know it holds text-reviews words; run the study again to serve it`);
  if (!hf && policyNote) warnings.push(`the ${spec.world.name} world's policy is not a Hugging Face text model (no tokenizer); the jobs are written but cannot run as they are`);

  const plans: JobPlan[] = [];
  for (const seed of spec.seeds) for (const o of spec.objectives) {
    if (o.kind === 'gold') continue;
    plans.push({ name: `${slug(o.name)}-seed${seed}`, seed, objective: o, port: REWARD_PORT_BASE + plans.length });
  }
  const dupe = plans.find((p, i) => plans.findIndex((q) => q.name === p.name) !== i);
  if (dupe) throw new ExportError(`two objectives of study ${exp.id} give the same job name "${dupe.name}"; objective names must differ in letters or digits`);
  if (!plans.length) throw new ExportError(`study ${exp.id} has only gold objectives, which no reward server can serve; there is nothing to export`);

  await mkdir(out, { recursive: true });
  for (const d of ['data', 'jobs', 'runs']) await mkdir(path.join(out, d), { recursive: true });

  // ---- the policy ----
  const policyPath = req.copyPolicy ? path.join(out, 'policy') : policyFrom;
  if (req.copyPolicy) {
    // Hidden entries (.git, .cache) are not part of a model folder.
    await cp(policyFrom, path.join(out, 'policy'), { recursive: true, force: true, filter: (src) => !path.basename(src).startsWith('.') || src === policyFrom });
  }

  // ---- prompts ----
  const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
  let file: string, evalFile: string, format: string;
  if (req.engine === 'openrlhf') {
    file = 'data/train.jsonl'; evalFile = 'data/eval.jsonl'; format = 'JSON lines {"prompt": ...} (--data.input_key prompt)';
    await writeFile(path.join(out, file), jsonl(prompts.train.map((p) => ({ prompt: p }))));
    await writeFile(path.join(out, evalFile), jsonl(prompts.eval.map((p) => ({ prompt: p }))));
  } else {
    // verl's RLHFDataset reads Parquet (datasets' parquet loader) with the nested columns it expects.
    file = 'data/train.parquet'; evalFile = 'data/eval.parquet'; format = 'Parquet {prompt: list<{role, content}>, data_source, reward_model: {style, ground_truth}, extra_info} (verl RLHFDataset)';
    const rows = (ps: (string | ChatMessage[])[], texts: string[], split: string): VerlRow[] => ps.map((p, i) => ({
      prompt: typeof p === 'string' ? [{ role: 'user', content: p }] : p.map((m) => ({ role: m.role, content: m.content })),
      data_source: prompts.dataSource,
      reward_model: { style: 'model', ground_truth: '' },
      extra_info: { split, index: i, prompt: texts[i]! },
    }));
    await writeFile(path.join(out, file), verlParquet(rows(prompts.train, prompts.trainText, 'train')));
    await writeFile(path.join(out, evalFile), verlParquet(rows(prompts.eval, prompts.evalText, 'eval')));
    await mkdir(path.join(out, 'reward'), { recursive: true });
    await writeFile(path.join(out, 'reward/rrlhf_reward.py'), VERL_REWARD_PY);
  }

  // ---- jobs ----
  const dataDirAbs = path.resolve(dataDir);
  const jobs: ExportJob[] = [];
  for (const p of plans) {
    const argv = req.engine === 'openrlhf'
      ? openrlhfArgv(spec, p, prompts, req.gpus, plan)
      : ['python', '-m', 'verl.trainer.main_ppo', ...verlOverrides(spec, p, req.gpus).map(([k, v]) => `${k}=${v}`)];
    const logs = `runs/${p.name}/tensorboard`;
    const script = `jobs/${p.name}.sh`;
    const rewardServe = rewardServeArgv(p.objective, ens.id, p.port, spec, dataDirAbs);
    const importCommand = ['rrlhf', 'runs', 'import', `${logs}`, '--experiment', String(exp.id), '--objective', p.objective.name, '--seed', String(p.seed), '--engine', req.engine, '--data-dir', dataDirAbs];
    const lines = [
      '#!/usr/bin/env bash',
      `# ${req.engine === 'openrlhf' ? 'OpenRLHF' : 'verl'} job for study ${exp.id} ("${exp.name}"): objective "${p.objective.name}" (${p.objective.kind}${p.objective.kind === 'robust' ? `, λ = ${p.objective.lambda}` : ''}), seed ${p.seed}. Written by \`rrlhf export\`; see ../README.md.`,
      '# Its reward server (on the machine with the study\'s data folder; reachable from here, e.g. through an SSH tunnel):',
      `#   ${shellLine(rewardServe)}`,
      'set -euo pipefail',
      'ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"',
      ': "${RRLHF_REWARD_TOKEN:?set RRLHF_REWARD_TOKEN to the token the reward server was started with}"',
      `REWARD_URL="\${RRLHF_REWARD_URL:-http://127.0.0.1:${p.port}/get_reward}"`,
      ...(req.engine === 'verl' ? ['export RRLHF_REWARD_URL="$REWARD_URL" RRLHF_REWARD_TOKEN', `export TENSORBOARD_DIR="$ROOT/${logs}"`] : []),
      `mkdir -p "$ROOT/runs/${p.name}"`,
      commandLines(argv),
      '',
    ];
    await writeFile(path.join(out, script), lines.join('\n'));
    await chmod(path.join(out, script), 0o755);
    jobs.push({ name: p.name, objective: p.objective.name, kind: p.objective.kind, lambda: p.objective.kind === 'robust' ? p.objective.lambda : null, seed: p.seed, script, argv, rewardServe, port: p.port, logs, importCommand });
  }

  const unsupported = unsupportedSettings(spec, req.engine, plan);
  const source = ENGINE_SOURCES[req.engine];
  const policy = { path: policyPath, copied: req.copyPolicy, from: policyFrom, hf, note: policyNote };
  const result: ExportResult = {
    out, engine: req.engine, experiment: exp.id, source, policy, ensemble: { id: ens.id, path: ens.path },
    prompts: { train: prompts.train.length, eval: prompts.eval.length, file, evalFile, format }, jobs, unsupported, warnings, files: [],
  };
  await writeFile(path.join(out, 'README.md'), readme(result, exp.name, spec));
  await writeFile(path.join(out, 'study.json'), JSON.stringify({ experiment: exp.id, name: exp.name, engine: req.engine, source, spec, ensemble: result.ensemble, policy, jobs: jobs.map(({ argv: _a, ...j }) => j), unsupported }, null, 2) + '\n');
  result.files = (await listFiles(out)).filter((f) => !f.startsWith('policy/'));
  return result;
}

function readme(r: ExportResult, name: string, spec: ExperimentSpec): string {
  const eng = r.engine === 'openrlhf' ? 'OpenRLHF' : 'verl';
  const src = r.source;
  const L: string[] = [];
  L.push(`# Study ${r.experiment} ("${name}") as ${eng} jobs`, '');
  L.push(`Written by \`rrlhf export\` of Robust RLHF Studio. One job per objective × seed of the study, with the study's PPO settings as ${eng} ${r.engine === 'openrlhf' ? 'flags' : 'Hydra overrides'}; the reward of each job is the study's ensemble with that job's objective, served by \`rrlhf reward serve\`. Flags and keys are those of ${src.repo} ${src.version} (commit ${src.commit}, ${src.file}); other versions may name them differently.`, '');
  L.push('## What is here', '');
  L.push(`- \`policy/\`: the starting policy π₀ ${r.policy.copied ? `(copied from ${r.policy.from})` : `— not copied: it is ${r.policy.from}; copy that folder here as \`policy/\``}. ${r.policy.hf ? (r.policy.from.endsWith('base-policy') ? 'It is the study\'s model after its SFT, in Hugging Face layout with the model\'s tokenizer files.' : 'It is the study\'s Hugging Face model folder as the study used it (SFT was skipped).') : ''}`);
  if (r.policy.note) L.push('', `  **Not a Hugging Face text model.** ${r.policy.note}`, '');
  L.push(`- The reward model is not a folder the engine loads: it is the study's ensemble (id ${r.ensemble.id}, weights in ${r.ensemble.path}), served over HTTP by \`rrlhf reward serve\` on the machine that holds the study's data folder. The engine reaches it through an SSH tunnel or a network the cluster shares.`);
  L.push(`- \`${r.prompts.file}\`: the ${r.prompts.train} training prompts the study trained on; \`${r.prompts.evalFile}\`: its ${r.prompts.eval} held-out evaluation prompts. Format: ${r.prompts.format}.`);
  if (r.engine === 'verl') L.push('  Parquet files as verl\'s RLHFDataset reads them; each row has `prompt` (a list of {role, content} chat messages), `data_source`, `reward_model` ({style, ground_truth}) and `extra_info` (split, index and the prompt text the reward server scores).', '- `reward/rrlhf_reward.py`: the custom reward function (`custom_reward_function.path` / `.name=compute_score`) that POSTs each response to the reward server.');
  L.push('- `jobs/*.sh`: one launch script per job; `study.json`: the study\'s spec and this export\'s plan.', '');
  L.push('## Commands, in order', '');
  L.push('1. Copy this folder to the cluster. On the machine with the study\'s data folder, choose one token for the reward servers:', '', '```sh', 'export RRLHF_REWARD_TOKEN=$(openssl rand -hex 32)', '```', '');
  L.push(`2. For each job: start its reward server, run the job with the same token (and \`RRLHF_REWARD_URL\` if the server is not on 127.0.0.1 of the cluster node, e.g. \`ssh -L PORT:127.0.0.1:PORT\`), stop the server, then import the run's logs into the study. Start a fresh server per job${spec.normalize === 'running' ? ': the study whitens rewards with running statistics (`normalize: running`), and a server keeps them from its start' : ''}.`, '');
  for (const j of r.jobs) {
    L.push(`### ${j.name}: objective "${j.objective}" (${j.kind}${j.lambda !== null ? `, λ = ${j.lambda}` : ''}), seed ${j.seed}`, '', '```sh');
    L.push(`${shellLine(j.rewardServe)} &`);
    L.push(`RRLHF_REWARD_TOKEN=$RRLHF_REWARD_TOKEN bash ${j.script}`);
    L.push(`kill %1   # stop the reward server`);
    L.push(shellLine(j.importCommand));
    L.push('```', '');
  }
  L.push(`The imports bring each run into study ${r.experiment} as an imported run (docs/scaling.md § Importing runs of the app): it overlays the local runs on the Runs screen and in the report, compared on the training curves.`, '');
  L.push(`## Settings ${eng} cannot express`, '');
  for (const u of r.unsupported) L.push(`- ${u}`);
  if (r.warnings.length) { L.push('', '## Warnings', ''); for (const w of r.warnings) L.push(`- ${w}`); }
  L.push('', '## How the study\'s settings map', '');
  const s = spec.ppo, c = ppoConfig(spec), gae = `${c.gamma} / ${c.lam}`;
  const m = r.engine === 'openrlhf'
    ? [
      ['ppo.lr', s.lr, '--actor.adam.lr, --critic.adam.lr (constant schedule, no warm-up, AdamW β = 0.9/0.999, no weight decay, grad-norm clip 1)'],
      ['ppo.klCoef / adaptiveKl', `${s.klCoef} / ${JSON.stringify(s.adaptiveKl)}`, '--algo.kl.init_coef (k1 per token in the reward) / --algo.kl.target, --algo.kl.horizon'],
      ['ppo.clipRange', s.clipRange, '--actor.eps_clip (value clip 0.2: --critic.value_clip)'],
      ['ppo.epochs', s.epochs, '--train.max_epochs'],
      ['ppo.batchSize / miniBatches', `${s.batchSize} / ${s.miniBatches}`, '--rollout.batch_size / --train.batch_size = batchSize ÷ miniBatches'],
      ['ppo.iterations', s.iterations, '--data.max_samples, --train.num_episodes'],
      ['ppo.temperature', s.temperature, '--rollout.temperature, --eval.temperature'],
      ['ppo.rewardClip', s.rewardClip, '--reward.clip_range −c c'],
      ['γ / λ (GAE)', gae, '--algo.advantage.gamma / --algo.advantage.lambd'],
      ['world.maxResponseTokens / maxPromptTokens', spec.world.name === 'dataset' ? `${spec.world.maxResponseTokens} / ${spec.world.maxPromptTokens}` : '(world)', '--rollout.max_new_tokens / --data.max_len (prompt + response)'],
      ['seed', spec.seeds.join(', '), '--train.seed'],
      ['normalize', spec.normalize, 'the reward server\'s --normalize (OpenRLHF\'s own --reward.normalize_enable stays off)'],
      ['eval.every / checkpointEvery', `${spec.eval.every} / ${spec.checkpointEvery}`, '--eval.steps / --ckpt.save_steps'],
    ]
    : [
      ['ppo.lr', s.lr, 'actor_rollout_ref.actor.optim.lr, critic.optim.lr (constant, no warm-up, no weight decay, clip_grad 1)'],
      ['ppo.klCoef / adaptiveKl', `${s.klCoef} / ${JSON.stringify(s.adaptiveKl)}`, 'algorithm.use_kl_in_reward=True, algorithm.kl_ctrl.kl_coef / .type=adaptive, .target_kl, .horizon'],
      ['ppo.clipRange', s.clipRange, 'actor_rollout_ref.actor.clip_ratio (critic.cliprange_value 0.2)'],
      ['ppo.epochs', s.epochs, 'actor_rollout_ref.actor.ppo_epochs'],
      ['ppo.batchSize / miniBatches', `${s.batchSize} / ${s.miniBatches}`, 'data.train_batch_size / actor_rollout_ref.actor.ppo_mini_batch_size = batchSize ÷ miniBatches'],
      ['ppo.iterations', s.iterations, 'trainer.total_training_steps'],
      ['ppo.temperature', s.temperature, 'actor_rollout_ref.rollout.temperature, .val_kwargs.temperature'],
      ['γ / λ (GAE)', gae, 'algorithm.gamma / algorithm.lam'],
      ['world.maxResponseTokens / maxPromptTokens', spec.world.name === 'dataset' ? `${spec.world.maxResponseTokens} / ${spec.world.maxPromptTokens}` : '(world)', 'data.max_response_length / data.max_prompt_length (data.truncation=left)'],
      ['seed', spec.seeds.join(', '), 'data.seed, actor_rollout_ref.actor.data_loader_seed'],
      ['normalize', spec.normalize, 'the reward server\'s --normalize'],
      ['eval.every / checkpointEvery', `${spec.eval.every} / ${spec.checkpointEvery}`, 'trainer.test_freq / trainer.save_freq'],
    ];
  L.push('| study setting | value | engine |', '| --- | --- | --- |');
  for (const [k, v, e] of m) L.push(`| ${k} | ${String(v)} | ${e} |`);
  L.push('', `The job scripts ask for ${r.engine === 'openrlhf' ? 'actor, reference and critic on the same GPUs with vLLM engines colocated (`--train.colocate_all`)' : 'one node (trainer.nnodes, trainer.n_gpus_per_node)'}; edit the GPU counts for your cluster — they do not change the method.`, '');
  return L.join('\n');
}
