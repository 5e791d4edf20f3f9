// `rrlhf export` end to end on tiny real studies (a dataset world with text prompts, one with chat
// prompts, a built-in world): the folder's layout, the prompts against the study's own split, every
// OpenRLHF command parsed by OpenRLHF's argparse (test/reference/openrlhf_args.py) with the values the
// spec holds, every verl Hydra key checked against verl's config keys, verl's reward function scoring
// through a real `rrlhf reward serve`, the launch scripts' shell syntax, and the refusals.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, mkdir, readFile, readdir, rm, writeFile, access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../util/paths.js';
import { openStore } from '../../engine/store/index.js';
import { importDataset } from '../../engine/data/index.js';
import { CausalLM } from '../../engine/models/model.js';
import { type Gpt2Config } from '../../engine/models/config.js';
import { parseSpec, type ExperimentSpec } from '../../engine/experiments/spec.js';
import { runExperiment } from '../../engine/experiments/runner.js';
import { splitPrompts, parseMessages } from '../../engine/worlds/dataset.js';
import { Service } from '../../engine/service/api.js';
import { loadTokenizer, type ChatMessage } from '../../engine/models/tokenizer.js';
import type { ExportResult } from '../../engine/export/index.js';
import { parquetReadObjects, parquetMetadata } from 'hyparquet';

const cli = path.join(repoRoot, 'bin/rrlhf.js');
const TOK = path.join(repoRoot, 'test/fixtures/tokenizers/bpe-tiny');
const DATA = path.join(repoRoot, 'test/fixtures/data');
const PY = '/usr/bin/python3';
const OPENRLHF_ARGS = path.join(repoRoot, 'test/reference/openrlhf_args.py');
const VERL_KEYS = path.join(repoRoot, 'test/reference/verl_ppo_trainer_keys.json');
const havePython = spawnSync(PY, ['-c', 'import requests'], { encoding: 'utf8' }).status === 0;
const noPython = havePython ? false : `${PY} with requests is missing (Debian: apt-get install python3 python3-requests); the engines' argument checks need it`;

let tmp: string, dataDir: string, modelDir: string;
let textStudy: number, chatStudy: number, builtinStudy: number;
let textId: number, chatId: number;
const specs = new Map<number, ExperimentSpec>();

const rrlhf = (...args: string[]) => spawnSync(process.execPath, [cli, ...args, '--data-dir', dataDir], { encoding: 'utf8' });
const exists = (p: string) => access(p).then(() => true, () => false);

function datasetSpec(name: string, datasetId: number, seeds: number[], extra: Record<string, unknown> = {}) {
  return parseSpec({
    name,
    world: { name: 'dataset', datasetId, modelDir, maxPromptTokens: 24, maxResponseTokens: 12 },
    ensemble: { heads: 2, pairs: 4, valPairs: 4 },
    objectives: [{ name: 'single', kind: 'single' }, { name: 'robust λ=0.3', kind: 'robust', lambda: 0.3 }],
    seeds,
    ppo: { iterations: 3, batchSize: 8, miniBatches: 2, epochs: 2, klCoef: 0.05, clipRange: 0.15, temperature: 0.9, rewardClip: 4, adaptiveKl: { target: 6, horizon: 1000 } },
    eval: { every: 2, samples: 8 },
    checkpointEvery: 2,
    ...extra,
  });
}
// The text study trains a LoRA policy with gradient checkpointing (a real run of both), which the
// exports must carry; the chat study trains every weight.
const TEXT_EXTRA = { policy: { lora: { r: 4, alpha: 8, targetModules: ['c_attn'] } }, memory: { gradientCheckpointing: true, precision: 'fp16' } };

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-export-'));
  dataDir = path.join(tmp, 'data');
  modelDir = path.join(tmp, 'tiny-gpt2');
  const cfg: Gpt2Config = { arch: 'gpt2', vocabSize: 660, nPositions: 48, d: 32, nLayer: 1, nHead: 2, eps: 1e-5, activation: 'gelu_new', bosTokenId: 657, eosTokenId: 656 };
  await CausalLM.init(cfg, 0).save(modelDir);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(path.join(TOK, f), path.join(modelDir, f));
  await mkdir(dataDir, { recursive: true });
  const store = openStore({ dataDir });
  try {
    textId = (await importDataset(store, path.join(DATA, 'trl_explicit.jsonl'))).id;
    chatId = (await importDataset(store, path.join(DATA, 'trl_explicit_conversational.jsonl'))).id;
    for (const [spec, set] of [
      [datasetSpec('text study', textId, [0, 1], TEXT_EXTRA), (id: number) => { textStudy = id; }],
      [datasetSpec('chat study', chatId, [3]), (id: number) => { chatStudy = id; }],
      [parseSpec({ name: 'toy', sft: { samples: 64, epochs: 1, batchSize: 32 }, ensemble: { heads: 2, pairs: 64, valPairs: 16 }, seeds: [0], ppo: { iterations: 2, batchSize: 8, miniBatches: 2, epochs: 1 }, eval: { every: 2, samples: 8 } }), (id: number) => { builtinStudy = id; }],
    ] as const) {
      const id = (await runExperiment(spec, { store, dataDir })).experiment;
      set(id);
      specs.set(id, spec);
    }
  } finally {
    store.close();
  }
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function exportJson(...args: string[]): ExportResult {
  const r = rrlhf('export', ...args, '--json');
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as ExportResult;
}

const readJsonl = async (f: string) => (await readFile(f, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
const toArrayBuffer = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
/** The rows of a Parquet file as hyparquet (a reader independent of the writer) reads them. */
const readParquet = async (f: string) => (await parquetReadObjects({ file: toArrayBuffer(await readFile(f)) })) as Record<string, unknown>[];

async function datasetRows(id: number) {
  const store = openStore({ dataDir });
  try { return [...store.datasets.iterate(id)].map((r) => ({ prompt: r.prompt, split: r.split })); } finally { store.close(); }
}

test('export --engine openrlhf: layout, the policy folder, prompts equal to the study\'s split, one job per objective × seed, README commands', async () => {
  const out = path.join(tmp, 'openrlhf');
  const r = exportJson(String(textStudy), '--engine', 'openrlhf', '--out', out, '--gpus', '2');
  assert.equal(r.engine, 'openrlhf');
  assert.equal(r.source.commit, '3c3be6234e0cb353e76bb8019947db9dfe99fca7');
  assert.deepEqual(r.files, ['README.md', 'data/eval.jsonl', 'data/train.jsonl', 'jobs/robust-0-3-seed0.sh', 'jobs/robust-0-3-seed1.sh', 'jobs/single-seed0.sh', 'jobs/single-seed1.sh', 'study.json']);
  // SFT is skipped for a dataset world by default: π₀ is the model folder itself, copied byte for byte.
  assert.equal(r.policy.from, modelDir);
  assert.equal(r.policy.hf, true);
  for (const f of await readdir(modelDir)) assert.deepEqual(await readFile(path.join(out, 'policy', f)), await readFile(path.join(modelDir, f)), f);

  const split = splitPrompts(await datasetRows(textId), 0, 'text');
  assert.deepEqual((await readJsonl(path.join(out, 'data/train.jsonl'))).map((x) => x.prompt), split.trainTexts);
  assert.deepEqual((await readJsonl(path.join(out, 'data/eval.jsonl'))).map((x) => x.prompt), split.evalTexts);
  assert.ok(split.trainTexts.length > 0 && split.evalTexts.length > 0);

  assert.deepEqual(r.jobs.map((j) => [j.objective, j.seed, j.kind, j.lambda, j.port]), [
    ['single', 0, 'single', null, 5000], ['robust λ=0.3', 0, 'robust', 0.3, 5001], ['single', 1, 'single', null, 5002], ['robust λ=0.3', 1, 'robust', 0.3, 5003],
  ]);
  const robust = r.jobs[1]!;
  const serve = robust.rewardServe.join(' ');
  assert.match(serve, /--ensemble \d+ --objective robust --lambda 0\.3 --normalize running --tokenizer \S+ --port 5001 --token \$RRLHF_REWARD_TOKEN/);
  assert.deepEqual(robust.importCommand.slice(0, 10), ['rrlhf', 'runs', 'import', 'runs/robust-0-3-seed0/tensorboard', '--experiment', String(textStudy), '--objective', 'robust λ=0.3', '--seed', '0']);

  const readme = await readFile(path.join(out, 'README.md'), 'utf8');
  assert.match(readme, /3c3be6234e0cb353e76bb8019947db9dfe99fca7/);
  // The commands in order, per job: reward server, job, import.
  for (const j of r.jobs) {
    const a = readme.indexOf(`--port ${j.port} --token`), b = readme.indexOf(`bash ${j.script}`), c = readme.indexOf(`runs import runs/${j.name}/tensorboard`);
    assert.ok(a > 0 && a < b && b < c, `${j.name}: reward server, then job, then import`);
  }
  assert.match(readme, /## Settings OpenRLHF cannot express[\s\S]*ppo\.vfCoef \(0\.5\)[\s\S]*eval\.samples \(8\)/);
  assert.match(readme, /ppo\.iterations \(3\)( with ppo\.batchSize 8: there are fewer training prompts than one rollout batch|: OpenRLHF counts rollouts)/, 'a tiny dataset cannot give 3 rollouts of 8 prompts: said, not hidden');
  // The scripts are valid bash and need the token.
  for (const j of r.jobs) {
    const sh = path.join(out, j.script);
    assert.equal(spawnSync('bash', ['-n', sh]).status, 0, j.script);
    const run = spawnSync('bash', [sh], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /set RRLHF_REWARD_TOKEN/);
  }
});

test('every OpenRLHF command parses with OpenRLHF\'s argparse to the study\'s settings', { skip: noPython }, async () => {
  const out = path.join(tmp, 'openrlhf-args');
  const r = exportJson(String(textStudy), '--engine', 'openrlhf', '--out', out, '--gpus', '2');
  const s = specs.get(textStudy)!;
  const w = s.world as Extract<ExperimentSpec['world'], { name: 'dataset' }>;
  for (const j of r.jobs) {
    assert.deepEqual(j.argv.slice(0, 3), ['python', '-m', 'openrlhf.cli.train_ppo_ray']);
    const p = spawnSync(PY, [OPENRLHF_ARGS, ...j.argv.slice(3)], { encoding: 'utf8' });
    assert.equal(p.status, 0, `${j.name}: OpenRLHF's argparse refused the command: ${p.stderr.split('\n').slice(-2).join(' ')}`);
    const a = JSON.parse(p.stdout) as Record<string, unknown>;
    const expect: Record<string, unknown> = {
      'actor.adam.lr': s.ppo.lr, 'critic.adam.lr': s.ppo.lr, 'algo.kl.init_coef': 0.05, 'algo.kl.target': 6, 'algo.kl.horizon': 1000,
      'actor.eps_clip': 0.15, 'train.max_epochs': 2, 'rollout.batch_size': 8, 'train.batch_size': 4, 'train.seed': j.seed,
      'rollout.max_new_tokens': w.maxResponseTokens, 'data.max_len': w.maxPromptTokens + w.maxResponseTokens,
      'rollout.temperature': 0.9, 'eval.temperature': 0.9, 'reward.clip_range': [-4, 4], 'algo.advantage.gamma': 1, 'algo.advantage.lambd': 0.95,
      'data.input_key': 'prompt', 'data.apply_chat_template': false, 'reward.normalize_enable': false, 'eval.steps': 2, 'ckpt.save_steps': 2,
      'actor.num_gpus_per_node': 2, 'reward.remote_url': '${REWARD_URL}?token=${RRLHF_REWARD_TOKEN}', 'logger.tensorboard_dir': `$ROOT/runs/${j.name}/tensorboard`,
      'algo.advantage.estimator': 'gae', 'algo.kl.estimator': 'k1', 'actor.lr_scheduler': 'constant', 'actor.lr_warmup_ratio': 0,
      'ds.lora.rank': 4, 'ds.lora.alpha': 8, 'ds.lora.dropout': 0, 'ds.lora.target_modules': ['c_attn'], 'actor.gradient_checkpointing_enable': true, 'ds.param_dtype': 'fp16',
    };
    for (const [k, v] of Object.entries(expect)) assert.deepEqual(a[k], v, `${j.name}: ${k}`);
  }
  // The check can fail: the pre-0.10 name of the remote reward flag and a mistyped value are refused.
  assert.equal(spawnSync(PY, [OPENRLHF_ARGS, '--remote_rm_url', 'http://x'], { encoding: 'utf8' }).status, 2);
  assert.match(spawnSync(PY, [OPENRLHF_ARGS, '--train.seed', '0.5'], { encoding: 'utf8' }).stderr, /invalid int value/);
});

test('export --engine verl of a chat study: rows in verl\'s layout, every Hydra key in verl\'s config, scripts and reward file', async () => {
  const out = path.join(tmp, 'verl');
  const r = exportJson(String(chatStudy), '--engine', 'verl', '--out', out, '--gpus', '1');
  assert.deepEqual(r.files, ['README.md', 'data/eval.parquet', 'data/train.parquet', 'jobs/robust-0-3-seed3.sh', 'jobs/single-seed3.sh', 'reward/rrlhf_reward.py', 'study.json']);
  const split = splitPrompts(await datasetRows(chatId), 0, 'chat');
  const rows = await readParquet(path.join(out, 'data/train.parquet'));
  const tok = await loadTokenizer(modelDir);
  assert.deepEqual(rows.map((x) => x.prompt), split.trainTexts.map((p) => parseMessages(p, 'prompt', chatId)));
  for (const row of rows) {
    assert.deepEqual(Object.keys(row).sort(), ['data_source', 'extra_info', 'prompt', 'reward_model']);
    assert.deepEqual(row.reward_model, { style: 'model', ground_truth: '' });
    assert.equal(row.data_source, `rrlhf/dataset-${chatId}`);
    const info = row.extra_info as { prompt: string; split: string; index: bigint };
    assert.equal(info.split, 'train');
    assert.equal(info.index, BigInt(rows.indexOf(row)));
    // The prompt text the reward model saw: the model's chat template with the generation prompt.
    assert.equal(info.prompt, tok.applyChatTemplate!(row.prompt as ChatMessage[], { addGenerationPrompt: true }));
    assert.match(info.prompt, /<\|im_start\|>assistant\n$/);
  }
  assert.equal((await readParquet(path.join(out, 'data/eval.parquet'))).length, split.evalTexts.length);
  // A real nested schema (list<struct>, struct), not JSON strings: what pyarrow hands verl's chat template.
  const meta = parquetMetadata(toArrayBuffer(await readFile(path.join(out, 'data/train.parquet'))));
  assert.deepEqual(meta.schema.map((e) => e.name), ['schema', 'prompt', 'list', 'element', 'role', 'content', 'data_source', 'reward_model', 'style', 'ground_truth', 'extra_info', 'split', 'index', 'prompt']);
  assert.equal(meta.schema[2]!.repetition_type, 'REPEATED');

  const keys = new Set((JSON.parse(await readFile(VERL_KEYS, 'utf8')) as { commit: string; keys: string[] }).keys);
  assert.ok(keys.size > 500);
  const s = specs.get(chatStudy)!;
  for (const j of r.jobs) {
    assert.deepEqual(j.argv.slice(0, 3), ['python', '-m', 'verl.trainer.main_ppo']);
    const overrides = new Map(j.argv.slice(3).map((o) => { const i = o.indexOf('='); return [o.slice(0, i), o.slice(i + 1)] as const; }));
    for (const k of overrides.keys()) assert.ok(keys.has(k), `${j.name}: verl has no config key ${k}`);
    assert.equal(overrides.get('actor_rollout_ref.actor.optim.lr'), String(s.ppo.lr));
    assert.equal(overrides.get('algorithm.kl_ctrl.kl_coef'), '0.05');
    assert.equal(overrides.get('algorithm.kl_ctrl.type'), 'adaptive');
    assert.equal(overrides.get('actor_rollout_ref.actor.clip_ratio'), '0.15');
    assert.equal(overrides.get('actor_rollout_ref.actor.ppo_epochs'), '2');
    assert.equal(overrides.get('actor_rollout_ref.actor.ppo_mini_batch_size'), '4');
    assert.equal(overrides.get('data.train_batch_size'), '8');
    assert.equal(overrides.get('trainer.total_training_steps'), '3');
    assert.equal(overrides.get('data.seed'), '3');
    assert.equal(overrides.get('custom_reward_function.path'), '$ROOT/reward/rrlhf_reward.py');
    assert.equal(spawnSync('bash', ['-n', path.join(out, j.script)]).status, 0, j.script);
  }
  for (const j of r.jobs) assert.ok(!j.argv.some((a) => /lora|gradient_checkpointing/.test(a)), `${j.name}: a full fine-tuning study without checkpointing sets neither`);
  // The LoRA, checkpointed text study: adapters and checkpointing on the actor and the critic.
  const lora = exportJson(String(textStudy), '--engine', 'verl', '--out', path.join(tmp, 'verl-lora'));
  for (const j of lora.jobs) {
    const o = new Map(j.argv.slice(3).map((a) => { const i = a.indexOf('='); return [a.slice(0, i), a.slice(i + 1)] as const; }));
    for (const k of o.keys()) assert.ok(keys.has(k), `${j.name}: verl has no config key ${k}`);
    for (const m of ['actor_rollout_ref.model', 'critic.model']) {
      assert.equal(o.get(`${m}.lora_rank`), '4');
      assert.equal(o.get(`${m}.lora_alpha`), '8');
      assert.equal(o.get(`${m}.target_modules`), '[c_attn]');
      assert.equal(o.get(`${m}.enable_gradient_checkpointing`), 'True');
    }
    for (const k of ['actor_rollout_ref.actor.fsdp_config.dtype', 'actor_rollout_ref.ref.fsdp_config.dtype', 'critic.model.fsdp_config.dtype', 'actor_rollout_ref.rollout.dtype']) {
      assert.equal(o.get(k), 'float16', `${j.name}: ${k} carries memory.precision fp16`);
    }
  }
  for (const j of r.jobs) assert.equal(new Map(j.argv.slice(3).map((a) => a.split('=') as [string, string])).get('actor_rollout_ref.rollout.dtype'), 'float32', 'an fp32 study asks verl for float32');
  const readme = await readFile(path.join(out, 'README.md'), 'utf8');
  assert.match(readme, /ppo\.rewardClip \(±4\): verl has no clip/);
  assert.match(readme, /Parquet files as verl's RLHFDataset reads them/);
});

test('verl\'s reward function scores through the job\'s own `rrlhf reward serve`', { skip: noPython }, async () => {
  const out = path.join(tmp, 'verl-serve');
  const r = exportJson(String(chatStudy), '--engine', 'verl', '--out', out);
  const job = r.jobs.find((j) => j.kind === 'robust')!;
  const token = 'a'.repeat(40);
  // The job's reward-server command as the README gives it, on a free port, without running statistics
  // (so one request's reward does not depend on the one before).
  const args = job.rewardServe.slice(1).map((a) => (a === '$RRLHF_REWARD_TOKEN' ? token : a));
  args[args.indexOf('--port') + 1] = '0';
  args[args.indexOf('--normalize') + 1] = 'none';
  const server = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '', err = '';
      server.stdout.on('data', (d: Buffer) => { buf += d; const nl = buf.indexOf('\n'); if (nl >= 0) resolve(buf.slice(0, nl).replace(/\?token=.*$/, '')); });
      server.stderr.on('data', (d: Buffer) => { err += d; });
      server.on('exit', (c) => reject(new Error(`reward server exited (${c}): ${err}`)));
    });
    const row = (await readParquet(path.join(out, 'data/train.parquet')))[0]!;
    const info = row.extra_info as { prompt: string };
    const response = 'Hello there';
    const py = [
      'import json, sys; sys.path.insert(0, sys.argv[1]); import rrlhf_reward as r',
      'print(json.dumps(r.compute_score("x", sys.argv[2], "", extra_info=json.loads(sys.argv[3]))))',
    ].join('\n');
    const p = spawnSync(PY, ['-c', py, path.join(out, 'reward'), response, JSON.stringify(row.extra_info, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))], { encoding: 'utf8', env: { ...process.env, RRLHF_REWARD_URL: url, RRLHF_REWARD_TOKEN: token } });
    assert.equal(p.status, 0, p.stderr);
    const viaVerl = JSON.parse(p.stdout) as number;
    const direct = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: [info.prompt + response], prompts: [info.prompt] }) });
    assert.equal(direct.status, 200);
    const body = await direct.json() as { rewards: number[]; rrlhf: { objective: { kind: string; lambda: number } } };
    assert.ok(Number.isFinite(viaVerl));
    assert.equal(viaVerl, body.rewards[0]);
    assert.equal(body.rrlhf.objective.kind, 'robust');
    assert.equal(body.rrlhf.objective.lambda, 0.3);
    // A wrong token: the reward function raises, naming the server's answer.
    const bad = spawnSync(PY, ['-c', py, path.join(out, 'reward'), response, JSON.stringify(row.extra_info, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))], { encoding: 'utf8', env: { ...process.env, RRLHF_REWARD_URL: url, RRLHF_REWARD_TOKEN: 'wrong' } });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /answered 401/);
  } finally {
    server.kill('SIGTERM');
  }
});

test('a built-in world: the README says plainly that the toy policy is not a Hugging Face text model', async () => {
  const out = path.join(tmp, 'toy');
  const r = rrlhf('export', String(builtinStudy), '--engine', 'openrlhf', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /not a Hugging Face text model/);
  assert.match(r.stderr, /goodhart-lab world's sequences are not text/);
  const readme = await readFile(path.join(out, 'README.md'), 'utf8');
  assert.match(readme, /\*\*Not a Hugging Face text model\.\*\* The goodhart-lab world's starting policy/);
  assert.ok(await exists(path.join(out, 'policy/model.safetensors')));
});

test('refusals: unknown study, a non-empty folder without --force, a bad engine; the API method', async () => {
  const unknown = rrlhf('export', '999', '--engine', 'openrlhf', '--out', path.join(tmp, 'x'));
  assert.equal(unknown.status, 1);
  assert.equal(unknown.stdout, '');
  assert.match(unknown.stderr, /study 999 does not exist/);

  const full = path.join(tmp, 'full');
  await mkdir(full, { recursive: true });
  await writeFile(path.join(full, 'notes.txt'), 'mine');
  const refused = rrlhf('export', String(textStudy), '--engine', 'verl', '--out', full);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /is not empty \(1 entries\).*--force/);
  assert.equal(await exists(path.join(full, 'README.md')), false, 'nothing written');
  const forced = rrlhf('export', String(textStudy), '--engine', 'verl', '--out', full, '--force');
  assert.equal(forced.status, 0, forced.stderr);
  assert.equal(await readFile(path.join(full, 'notes.txt'), 'utf8'), 'mine');
  assert.ok(await exists(path.join(full, 'README.md')));

  const engine = rrlhf('export', String(textStudy), '--engine', 'trl', '--out', path.join(tmp, 'y'));
  assert.equal(engine.status, 2);
  assert.match(engine.stderr, /--engine must be one of openrlhf, verl, got "trl"/);
  assert.equal(rrlhf('export', String(textStudy), '--engine', 'verl').status, 2);

  const service = Service.open({ dataDir });
  try {
    const nf = await service.call('experiments.export', { experimentId: 999, engine: 'verl' });
    assert.deepEqual([nf.ok, !nf.ok && nf.status], [false, 404]);
    const bad = await service.call('experiments.export', { experimentId: textStudy, engine: 'trl' });
    assert.deepEqual([bad.ok, !bad.ok && bad.status], [false, 400]);
    const ok = await service.call('experiments.export', { experimentId: textStudy, engine: 'openrlhf', copyPolicy: false });
    assert.equal(ok.ok, true, JSON.stringify(ok));
    const res = (ok as { result: ExportResult }).result;
    assert.ok(res.out.startsWith(path.join(dataDir, 'exports') + path.sep), res.out);
    assert.equal(res.policy.copied, false);
    assert.equal(await exists(path.join(res.out, 'policy')), false);
    assert.match(await readFile(path.join(res.out, 'README.md'), 'utf8'), /not copied: it is /);
    const again = await service.call('experiments.export', { experimentId: textStudy, engine: 'openrlhf', out: res.out });
    assert.deepEqual([again.ok, !again.ok && again.status], [false, 409]);
  } finally {
    await service.close();
  }
});
