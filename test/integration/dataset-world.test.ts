// The user-data path end to end: an imported preference dataset + a Hugging Face model folder as policy
// and reward trunk, (a) with no gold — proxy and KL only, no gold metrics, null gold in JSON, a
// comparison on the shared proxy at matched KL, and a report that says so — and (b) with a held-out
// reward model as gold, recorded as eval/gold. The model is a tiny GPT-2 built here whose vocabulary
// matches the bpe-tiny tokenizer fixture (660 ids), so everything runs on CPU in seconds.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, mkdir, readFile, rm, access, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../util/paths.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { importDataset } from '../../engine/data/index.js';
import { CausalLM } from '../../engine/models/model.js';
import { type Gpt2Config } from '../../engine/models/config.js';
import { Rng } from '../../engine/runtime/params.js';
import { datasetWorld } from '../../engine/worlds/index.js';
import { trainBradleyTerry } from '../../engine/rlhf/reward.js';
import { loadEnsemble } from '../../engine/rlhf/ensemble-train.js';
import { IndependentEnsemble } from '../../engine/rlhf/independent.js';
import { parseSpec, readSpecFile } from '../../engine/experiments/spec.js';
import { runExperiment, resumeExperiment } from '../../engine/experiments/runner.js';
import { exportReport } from '../../engine/report/index.js';
import { NO_GOLD_NOTICE } from '../../engine/report/model.js';

const TOK = path.join(repoRoot, 'test/fixtures/tokenizers/bpe-tiny');
const DATA = path.join(repoRoot, 'test/fixtures/data');
const BOS = 657, EOS = 656;

let tmp: string, dataDir: string, modelDir: string, store: Store, textId: number, chatId: number;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-dsworld-'));
  dataDir = path.join(tmp, 'data');
  modelDir = path.join(tmp, 'tiny-gpt2');
  const cfg: Gpt2Config = { arch: 'gpt2', vocabSize: 660, nPositions: 48, d: 32, nLayer: 1, nHead: 2, eps: 1e-5, activation: 'gelu_new', bosTokenId: BOS, eosTokenId: EOS };
  await CausalLM.init(cfg, 0).save(modelDir);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(path.join(TOK, f), path.join(modelDir, f));
  await mkdir(dataDir, { recursive: true });
  store = openStore({ dataDir });
  textId = (await importDataset(store, path.join(DATA, 'trl_explicit.jsonl'))).id;
  chatId = (await importDataset(store, path.join(DATA, 'trl_explicit_conversational.jsonl'))).id;
});

after(async () => {
  store?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const exists = (p: string) => access(p).then(() => true, () => false);

function studySpec(name: string, world: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return parseSpec({
    name,
    world: { name: 'dataset', modelDir, maxPromptTokens: 24, maxResponseTokens: 12, ...world },
    ensemble: { heads: 2, pairs: 4, valPairs: 4 },
    objectives: [{ name: 'single', kind: 'single' }, { name: 'robust', kind: 'robust', lambda: 0.4 }],
    seeds: [0],
    ppo: { iterations: 4, batchSize: 8, miniBatches: 2, epochs: 1 },
    eval: { every: 2, samples: 8 },
    checkpointEvery: 2,
    ...extra,
  });
}

test('spec: dataset worlds skip SFT by default, built-in worlds keep their defaults', async () => {
  const builtin = parseSpec({});
  assert.deepEqual(builtin.world, { name: 'goodhart-lab', seed: 0, settings: {} });
  assert.equal(builtin.sft.skip, false);
  assert.equal(builtin.ensemble.rewardLr, null);
  assert.equal(parseSpec({ world: { seed: 3 } }).world.name, 'goodhart-lab');
  const ds = parseSpec({ world: { name: 'dataset', datasetId: 1, modelDir: 'm' } });
  assert.deepEqual(ds.world, { name: 'dataset', seed: 0, datasetId: 1, modelDir: 'm', gold: null, maxPromptTokens: 128, maxResponseTokens: 64 });
  assert.equal(ds.sft.skip, true);
  assert.equal(parseSpec({ world: { name: 'dataset', datasetId: 1, modelDir: 'm' }, sft: { skip: false } }).sft.skip, false);
  assert.throws(() => parseSpec({ sft: { skip: true } }), /sft\.skip: .*randomly initialised/);
  assert.throws(() => parseSpec({ world: { name: 'dataset', datasetId: 1, modelDir: 'm' }, objectives: [{ name: 'g', kind: 'gold' }] }), /objectives\.0\.kind: .*has none/);
  assert.throws(() => parseSpec({ world: { name: 'dataset', modelDir: 'm' } }), /world\.datasetId/);
  assert.throws(() => parseSpec({ world: { name: 'dataset', datasetId: 1, modelDir: 'm', settings: {} } }), /settings/);
  // A spec file's relative folders are relative to the file, so the stored spec resumes from anywhere.
  const file = path.join(tmp, 'spec.yaml');
  await writeFile(file, 'world: { name: dataset, datasetId: 1, modelDir: tiny-gpt2, gold: { rewardModelDir: ../judge } }\n');
  const fromFile = await readSpecFile(file);
  assert.ok(fromFile.world.name === 'dataset' && fromFile.world.modelDir === modelDir && fromFile.world.gold?.rewardModelDir === path.resolve(tmp, '../judge'));
  // A bad spec file names the line of each problem: the value's, an unknown key's own, or (missing) its parent's.
  const bad = path.join(tmp, 'bad.yaml');
  await writeFile(bad, 'name: x\nseeds: [0]\nobjectives:\n  - name: a\n    kind: robustt\nppo:\n  iterations: -3\n  bogus:\n    a: 1\nworld: { name: dataset, modelDir: m }\n');
  await assert.rejects(readSpecFile(bad), (e: Error) => {
    assert.match(e.message, /bad\.yaml: invalid experiment spec: /);
    for (const part of [/line 5: objectives\.0\.kind: /, /line 7: ppo\.iterations: /, /line 8: ppo: Unrecognized key: "bogus"/, /line 10: world\.datasetId: /]) assert.match(e.message, part);
    return true;
  });
  const badJson = path.join(tmp, 'bad.json');
  await writeFile(badJson, '{\n  "name": "x",\n  "objectives": [\n    {"name": "a", "kind": "robustt"}\n  ]\n}\n');
  await assert.rejects(readSpecFile(badJson), /bad\.json: invalid experiment spec: line 4: objectives\.0\.kind: /);
});

test('the world: tokenised prompts and pairs, chat templates, truncation, hold-out', async () => {
  const w = await datasetWorld({ store, datasetId: textId, modelDir, maxPromptTokens: 4, maxResponseTokens: 3, seed: 0 });
  assert.equal(w.name, 'dataset');
  assert.equal(w.hasGold, false);
  assert.ok(Number.isNaN(w.gold([BOS], [EOS])));
  assert.equal(w.goldBatch, undefined);
  assert.deepEqual([w.vocabSize, w.bosId, w.eosId, w.padId, w.maxResponseTokens], [660, BOS, EOS, EOS, 3]);
  // 4 rows, all in the train split: one prompt is held out by hash.
  assert.equal(w.settings.holdOut, 'hashed share of prompts');
  assert.equal(w.trainPairCount + w.heldOutPairCount, 4);
  assert.ok(w.heldOutPairCount >= 1 && w.trainPairCount >= 1);
  assert.equal(w.trainPrompts.length + w.evalPrompts.length, 4);
  for (const p of [...w.trainPrompts, ...w.evalPrompts]) { assert.equal(p[0], BOS); assert.ok(p.length <= 4); }
  const pairs = w.preferencePairs(100, new Rng(1));
  assert.equal(pairs.length, w.trainPairCount, 'at most the training pairs, without repetition');
  for (const pr of pairs) for (const r of [pr.chosen, pr.rejected]) assert.ok(r.length <= 3 && r.length >= 1);
  // Full length: the prompt text round-trips and a short response ends with EOS.
  const full = await datasetWorld({ store, datasetId: textId, modelDir, maxPromptTokens: 24, maxResponseTokens: 24, seed: 0 });
  const all = [...full.preferencePairs(10, new Rng(0)), ...full.heldOutPairs(10, new Rng(0))];
  const sky = all.find((p) => full.render(p.prompt).includes('sky'))!;
  assert.equal(full.render(sky.prompt), '<|begin_of_text|>What colour is the sky?');
  assert.equal(full.render(sky.chosen), 'Blue, on a clear day.<|endoftext|>');
  assert.equal(sky.chosen[sky.chosen.length - 1], EOS);
  assert.equal(full.sftSamples(10, new Rng(2)).length, 10);
  // Conversational rows with a chat template.
  const c = await datasetWorld({ store, datasetId: chatId, modelDir, maxPromptTokens: 32, maxResponseTokens: 16, seed: 0 });
  assert.equal(c.settings.tokenizer.chatTemplate, true);
  const cp = [...c.preferencePairs(10, new Rng(0)), ...c.heldOutPairs(10, new Rng(0))].find((p) => c.render(p.prompt).includes('Italy'))!;
  assert.equal(c.render(cp.prompt), '<|begin_of_text|><|im_start|>user\nCapital of Italy?<|im_end|>\n<|im_start|>assistant\n');
  assert.equal(c.render(cp.chosen), 'Rome.<|im_end|>\n<|endoftext|>');
  await assert.rejects(datasetWorld({ store, datasetId: 999, modelDir, seed: 0 }), /no dataset 999/);
  await assert.rejects(datasetWorld({ store, datasetId: textId, modelDir, seed: 0 }), /= 192 exceeds the model's 48 positions/);
  await assert.rejects(datasetWorld({ store, datasetId: textId, modelDir, maxPromptTokens: 40, maxResponseTokens: 40, seed: 0 }), /exceeds the model's 48 positions/);
});

test('no gold: proxy and KL only, null gold, comparison on the shared proxy, and the report says so', { timeout: 120_000 }, async () => {
  const spec = studySpec('dataset study without gold', { datasetId: textId });
  const r = await runExperiment(spec, { store, dataDir });
  assert.equal(r.hasGold, false);
  assert.equal(r.runs.length, 2);
  for (const run of r.runs) {
    assert.equal(run.status, 'finished');
    assert.ok(Number.isNaN(run.final.gold));
    assert.ok(Number.isFinite(run.final.proxy) && Number.isFinite(run.final.kl));
    const keys = store.metrics.keys(run.id);
    for (const k of ['eval/gold', 'eval/gold_se', 'gold/train']) assert.ok(!keys.includes(k), `${k} must not be recorded without gold`);
    for (const k of ['eval/proxy', 'eval/kl', 'eval/reward_mean', 'reward/proxy', 'objective/kl']) assert.ok(keys.includes(k), `${k} is recorded`);
    assert.deepEqual(store.metrics.series([run.id], 'eval/proxy')[0]!.points.map((p) => p.step), [0, 2, 4]);
  }
  const json = JSON.parse(JSON.stringify(r)) as { runs: { final: { gold: unknown } }[] };
  assert.equal(json.runs[0]!.final.gold, null);
  assert.equal(r.comparisons.length, 1);
  assert.equal(r.comparisons[0]!.metric, 'ensemble_mean_at_matched_kl');
  assert.match(r.comparisons[0]!.warning ?? '', /^no gold reward: compared on the ensemble-mean reward .* at matched KL/);
  assert.ok(Number.isFinite(r.comparisons[0]!.mean));
  // SFT was skipped: π₀ is the imported model, not a copy in the experiment folder.
  assert.equal(await exists(path.join(dataDir, 'experiments', String(r.experiment), 'base-policy')), false);
  // The ensemble is linked to its dataset.
  assert.ok(store.ensembles.list().some((e) => e.datasetId === textId));
  // Resuming a finished study gives the same summaries.
  const again = await resumeExperiment(r.experiment, { store, dataDir });
  assert.deepEqual(JSON.parse(JSON.stringify(again.runs)), JSON.parse(JSON.stringify(r.runs)));
  assert.deepEqual(again.comparisons, r.comparisons);

  // Exact resume in a dataset world: cancel after iteration 3 (checkpoint at 2), resume, same metrics.
  const ac = new AbortController();
  const cut = await runExperiment(studySpec('dataset study without gold, resumed', { datasetId: textId }), {
    store, dataDir, signal: ac.signal, onProgress: (ev) => { if (ev.phase === 'ppo' && ev.step === 3) ac.abort(); },
  }).then(() => null, (err: Error) => err);
  assert.equal(cut?.message, 'cancelled');
  const exp2 = store.experiments.list().at(-1)!.id;
  const resumed = await resumeExperiment(exp2, { store, dataDir });
  const metricsOf = (runId: number) => new Map(store.metrics.keys(runId).filter((k) => !k.startsWith('time/'))
    .flatMap((k) => store.metrics.series([runId], k)[0]!.points.map((p) => [`${k}@${p.step}`, p.y] as const)));
  for (const [i, run] of r.runs.entries()) {
    const a = metricsOf(run.id), b = metricsOf(resumed.runs[i]!.id);
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [k, v] of a) assert.ok(Object.is(v, b.get(k)) || Math.abs(v! - b.get(k)!) <= 1e-9 * Math.max(1, Math.abs(v!)), `${k}: uninterrupted ${v}, resumed ${b.get(k)}`);
  }

  const out = path.join(tmp, 'report-nogold.html');
  const e = await exportReport({ store, dataDir, experimentId: r.experiment, out: { html: out } });
  const html = await readFile(out, 'utf8');
  assert.equal(e.model.hasGold, false);
  assert.ok(html.includes(NO_GOLD_NOTICE), 'the report carries the no-gold notice');
  assert.ok(e.model.verdict.startsWith(NO_GOLD_NOTICE));
  assert.equal(e.model.comparisons.length, 0);
  assert.ok(e.model.runs.every((x) => x.evals.length === 3 && x.final !== null && Number.isFinite(x.final.proxy)), 'proxy evaluations are shown');
  assert.match(html, /Proxy reward vs training step/);
  assert.doesNotMatch(html, /Gold reward vs training step/);
});

test('gold: a held-out reward model is the gold reward (eval/gold recorded)', { timeout: 120_000 }, async () => {
  // The judge: a Bradley–Terry model on the same pairs, another seed, saved as a reward-model folder.
  const w = await datasetWorld({ store, datasetId: textId, modelDir, maxPromptTokens: 24, maxResponseTokens: 12, seed: 0 });
  const base = await CausalLM.load(modelDir);
  const pairs = w.preferencePairs(100, new Rng(5));
  const judge = await trainBradleyTerry(base, pairs, [], { seed: 11, epochs: 2, padId: w.padId });
  const goldDir = path.join(tmp, 'gold-rm');
  await judge.model.save(goldDir);

  const gw = await datasetWorld({ store, datasetId: textId, modelDir, maxPromptTokens: 24, maxResponseTokens: 12, gold: { rewardModelDir: goldDir }, seed: 0 });
  assert.equal(gw.hasGold, true);
  assert.throws(() => gw.gold([BOS], [EOS]), /goldBatch/);
  const direct = await judge.model.score([[...pairs[0]!.prompt, ...pairs[0]!.chosen]]);
  const viaWorld = await gw.goldBatch!([pairs[0]!.prompt], [pairs[0]!.chosen]);
  assert.ok(Math.abs(direct[0]! - viaWorld[0]!) < 1e-5, 'goldBatch scores with the judge');
  // A judge with its own tokenizer.json (here the same vocabulary, re-serialised, so a different file):
  // responses are decoded and re-encoded, which for plain text gives back the same ids and scores.
  const otherDir = path.join(tmp, 'gold-rm-own-tokenizer');
  await judge.model.save(otherDir);
  await writeFile(path.join(otherDir, 'tokenizer.json'), JSON.stringify(JSON.parse(await readFile(path.join(TOK, 'tokenizer.json'), 'utf8')), null, 1));
  await copyFile(path.join(TOK, 'tokenizer_config.json'), path.join(otherDir, 'tokenizer_config.json'));
  const ow = await datasetWorld({ store, datasetId: textId, modelDir, maxPromptTokens: 24, maxResponseTokens: 12, gold: { rewardModelDir: otherDir }, seed: 0 });
  assert.equal(ow.settings.gold?.retokenize, true);
  const viaText = await ow.goldBatch!(pairs.map((p) => p.prompt), pairs.map((p) => p.chosen));
  const directAll = await judge.model.score(pairs.map((p) => [...p.prompt, ...p.chosen]));
  for (let i = 0; i < pairs.length; i++) assert.ok(Math.abs(viaText[i]! - directAll[i]!) < 1e-5, `pair ${i}: re-encoded ${viaText[i]}, direct ${directAll[i]}`);

  // Also the SFT path of a dataset world (sft.skip false): π₀ is fine-tuned on prompt + chosen and saved.
  const spec = studySpec('dataset study with gold', { datasetId: textId, gold: { rewardModelDir: goldDir } }, { sft: { skip: false, samples: 16, epochs: 1, batchSize: 8, lr: 1e-3 } });
  const r = await runExperiment(spec, { store, dataDir });
  assert.equal(r.hasGold, true);
  assert.ok(await exists(path.join(dataDir, 'experiments', String(r.experiment), 'base-policy', 'model.safetensors')));
  for (const run of r.runs) {
    assert.equal(run.status, 'finished');
    const g = store.metrics.series([run.id], 'eval/gold')[0]!.points;
    assert.deepEqual(g.map((p) => p.step), [0, 2, 4]);
    assert.ok(g.every((p) => Number.isFinite(p.y)));
    assert.ok(store.metrics.keys(run.id).includes('gold/train'));
    assert.ok(Number.isFinite(run.final.gold) && run.final.gold === g[g.length - 1]!.y);
  }
  assert.equal(r.comparisons[0]!.metric, 'final_gold');
  const e = await exportReport({ store, dataDir, experimentId: r.experiment, out: { html: path.join(tmp, 'report-gold.html') } });
  assert.equal(e.model.hasGold, true);
  assert.ok(!(await readFile(e.html!, 'utf8')).includes(NO_GOLD_NOTICE));
});

test('chat data on a Qwen2-style model with a padded vocabulary (ids the tokenizer lacks render as <id N>)', { timeout: 120_000 }, async () => {
  const qwenDir = path.join(tmp, 'tiny-qwen2');
  await CausalLM.init({
    arch: 'qwen2', vocabSize: 672, d: 32, intermediate: 64, nLayer: 1, nHead: 4, nKvHead: 2, headDim: 8, eps: 1e-6, ropeTheta: 1e6, rope: null, slidingWindow: null, qkNorm: false, fused: false,
    maxPositions: 64, tied: true, qkvBias: true, oBias: false, mlpBias: false, bosTokenId: BOS, eosTokenId: EOS,
  }, 0).save(qwenDir);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(path.join(TOK, f), path.join(qwenDir, f));
  const w = await datasetWorld({ store, datasetId: chatId, modelDir: qwenDir, maxPromptTokens: 48, maxResponseTokens: 16, seed: 0 });
  assert.equal(w.vocabSize, 672);
  assert.equal(w.render([BOS, 661, EOS]), '<|begin_of_text|><id 661><|endoftext|>');
  const spec = parseSpec({
    name: 'chat on qwen2', world: { name: 'dataset', datasetId: chatId, modelDir: qwenDir, maxPromptTokens: 48, maxResponseTokens: 16 },
    ensemble: { method: 'independent', heads: 2, pairs: 4, valPairs: 4, bootstrap: false }, objectives: [{ name: 'single', kind: 'single' }, { name: 'wco', kind: 'wco' }],
    seeds: [0], ppo: { iterations: 2, batchSize: 8, epochs: 1 }, eval: { every: 2, samples: 8 },
  });
  const r = await runExperiment(spec, { store, dataDir });
  assert.equal(r.hasGold, false);
  assert.ok(r.runs.every((x) => x.status === 'finished' && Number.isFinite(x.final.proxy)));
  const s = store.samples.query({ runIds: [r.runs[0]!.id], limit: 1 })[0]!;
  assert.match(s.prompt, /^<\|begin_of_text\|><\|im_start\|>(system|user)\n[\s\S]*<\|im_start\|>assistant\n$/);
  assert.equal(s.gold, null);
  // bootstrap: false reaches the members (independent members used to bootstrap whatever the spec said).
  const ens = store.ensembles.list().find((e) => e.name.startsWith('chat on qwen2'))!;
  assert.equal((ens.config as { bootstrap: boolean }).bootstrap, false);
  const loaded = await loadEnsemble(path.join(dataDir, 'experiments', String(r.experiment), 'ensemble'));
  assert.ok(loaded instanceof IndependentEnsemble);
  assert.deepEqual(loaded.members.map((m) => m.info.bootstrap), [false, false]);
});

test('rrlhf ensemble train --dataset ID --model DIR: an ensemble on imported data, recorded with its dataset', async () => {
  const { spawnSync } = await import('node:child_process');
  const cli = path.join(repoRoot, 'bin/rrlhf.js');
  const args = ['ensemble', 'train', '--dataset', String(textId), '--model', modelDir, '--heads', '2', '--pairs', '16', '--val-pairs', '16', '--data-dir', dataDir, '--json'];
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { id: number; heads: number; world: string; accuracy: { per_head: number[] }; path: string };
  assert.equal(out.heads, 2);
  assert.equal(out.world, `dataset ${textId}`);
  assert.equal(out.accuracy.per_head.length, 2);
  assert.ok(await exists(out.path));
  const row = store.ensembles.get(out.id)!;
  assert.equal(row.datasetId, textId);
  // The same ensemble trained with gradient checkpointing (each trunk layer recomputed in the backward
  // pass): the same held-out accuracies, the gradients having agreed to float32 rounding.
  const ck = spawnSync(process.execPath, [cli, ...args, '--gradient-checkpointing'], { encoding: 'utf8' });
  assert.equal(ck.status, 0, ck.stderr);
  const outCk = JSON.parse(ck.stdout) as typeof out & { sigma_mean: number };
  assert.notEqual(outCk.id, out.id);
  assert.deepEqual(outCk.accuracy, out.accuracy);
  // Both halves are required, and a built-in world cannot be combined with a dataset.
  const bad = spawnSync(process.execPath, [cli, 'ensemble', 'train', '--dataset', String(textId), '--data-dir', dataDir], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--dataset ID and --model DIR go together/);
});

test('the researcher\'s one-machine setup together: a LoRA policy, LoRA reward members, fp16 and checkpointing on an imported dataset', async () => {
  const spec = studySpec('lora fp16 on a dataset', { datasetId: textId }, {
    policy: { lora: { r: 4, targetModules: ['c_attn'] } },
    ensemble: { method: 'lora', heads: 2, pairs: 4, valPairs: 4, lora: { r: 2 } },
    memory: { precision: 'fp16', gradientCheckpointing: true },
  });
  const r = await runExperiment(spec, { store, dataDir });
  assert.ok(r.runs.every((x) => x.status === 'finished' && Number.isFinite(x.final.proxy)), JSON.stringify(r.runs.map((x) => x.status)));
  // The ensemble trained as the spec said: LoRA members, each under fp16 (provenance saved with it).
  const loaded = await loadEnsemble(path.join(dataDir, 'experiments', String(r.experiment), 'ensemble'));
  assert.ok(loaded instanceof IndependentEnsemble && loaded.kind === 'lora');
  for (const m of loaded.members) {
    const c = m.info.config as { precision: string; gradientCheckpointing: boolean; lora: { r: number } };
    assert.equal(c.precision, 'fp16');
    assert.equal(c.gradientCheckpointing, true);
    assert.equal(c.lora.r, 2);
  }
  // The PPO runs logged the mixed-precision series.
  const id = r.runs[0]!.id;
  assert.equal(store.metrics.series([id], 'train/loss_scale')[0]!.points.length, spec.ppo.iterations);
});
