// The reward server (docs/scaling.md § Reward server): real ensembles trained and stored the way the app
// trains them (tiny, on the text-reviews world), served over real HTTP and driven exactly as OpenRLHF's
// remote client drives it (openrlhf/utils/agent.py: POST {"query", "prompts", "labels"} as JSON, no
// headers of its own, the token on the URL). The rewards must be the objective's aggregate of the
// ensemble's scores of the same texts, so a wrong tokenisation, objective or normalisation fails.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../engine/store/index.js';
import { trainWorldEnsemble } from '../../engine/service/ensemble-train.js';
import { makeWorld, type TextWorld } from '../../engine/worlds/index.js';
import { Rng } from '../../engine/runtime/params.js';
import { scoreResponses } from '../../engine/rlhf/ensemble.js';
import { aggregate, RunningMoments, type ObjectiveConfig } from '../../engine/rlhf/aggregate.js';
import { loadStoredEnsemble, type LoadedEnsemble } from '../../engine/serve/ensemble-text.js';
import { startRewardServer, type RewardServer, type RewardServerOptions, type RewardResponse } from '../../engine/serve/reward-server.js';
import { repoRoot } from '../util/paths.js';
import { importDataset } from '../../engine/data/index.js';
import { CausalLM } from '../../engine/models/model.js';
import { type Gpt2Config } from '../../engine/models/config.js';
import { datasetWorld } from '../../engine/worlds/index.js';
import { Service } from '../../engine/service/api.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrlhf-reward-'));
const servers: RewardServer[] = [];
after(async () => { for (const s of servers) await s.close(); fs.rmSync(dataDir, { recursive: true, force: true }); });

const TOKEN = 'test-token-0123456789abcdef';
const world = makeWorld('text-reviews', {}, 0) as TextWorld;
let brme: LoadedEnsemble, indep: LoadedEnsemble, brmeId: number;

// Prompts and π₀ responses of the world, as ids and as the text a policy's tokenizer would decode.
const samples = world.sftSamples(7, new Rng(5)).map((s) => {
  const e = s.response.indexOf(world.eosId);
  const response = e >= 0 ? s.response.slice(0, e + 1) : [...s.response, world.eosId];
  return { promptIds: s.prompt, responseIds: response, prompt: world.render(s.prompt), response: ' ' + world.render(response) };
});

before(async () => {
  const tiny = { world: 'text-reviews', seed: 0, pairs: 32, valPairs: 16, sftSamples: 32, rewardEpochs: 1, stage2Epochs: 2, stage2Loss: 'mse', anchor: 0, unfreezeLastLayers: 0 } as const;
  const a = await trainWorldEnsemble({ ...tiny, heads: 3, method: 'brme' }, { dataDir, device: 'cpu' });
  const b = await trainWorldEnsemble({ ...tiny, heads: 2, method: 'independent' }, { dataDir, device: 'cpu' });
  const store = openStore({ dataDir });
  try {
    brme = await loadStoredEnsemble(store, a.id);
    indep = await loadStoredEnsemble(store, b.id);
  } finally { store.close(); }
  brmeId = a.id;
});

async function start(o: Partial<RewardServerOptions> & { objective: ObjectiveConfig }, ens = brme): Promise<RewardServer> {
  const s = await startRewardServer({ ensemble: ens.ensemble, encoder: ens.encoder, ensembleId: ens.id, port: 0, token: TOKEN, ...o });
  servers.push(s);
  return s;
}

/** What OpenRLHF's SingleTurnAgentExecutor._fetch_rewards_via_http sends (aiohttp `json=`). */
async function remoteRm(url: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, body: await r.json() as RewardResponse & { error?: string } };
}
const withToken = (s: RewardServer) => `${s.url}?token=${TOKEN}`;
const openrlhfBody = (xs = samples) => ({ query: xs.map((x) => x.prompt + x.response), prompts: xs.map((x) => x.prompt), labels: xs.map(() => null) });

const near = (a: number[], b: number[], what: string) => {
  assert.equal(a.length, b.length, what);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) <= 1e-5 * (1 + Math.abs(b[i]!)), `${what}[${i}]: ${x} vs ${b[i]}`));
};

test('text is encoded as the ensemble\'s world encodes it', () => {
  for (const x of samples) {
    const e = brme.encoder.encode(x.prompt, x.response);
    assert.deepEqual(e.prompt, x.promptIds);
    assert.deepEqual(e.response, x.responseIds);
  }
});

test('every objective: rewards equal aggregate() of scoreResponses() on the same texts, in OpenRLHF\'s shape', async () => {
  const ref = await scoreResponses(brme.ensemble, samples.map((x) => x.promptIds), samples.map((x) => x.responseIds));
  assert.ok(ref.sigma, 'a BRME ensemble has σ');
  const objectives: ObjectiveConfig[] = [
    { kind: 'single' }, { kind: 'nominal' }, { kind: 'mean' }, { kind: 'wco' }, { kind: 'wco', minMode: 'batch' },
    { kind: 'uwo', uwoC: 2 }, { kind: 'softmin', softminBeta: 0.3 }, { kind: 'robust', lambda: 0.25 },
  ];
  const seen = new Set<string>();
  for (const objective of objectives) {
    const s = await start({ objective, batchSize: 3 });
    const r = await remoteRm(withToken(s), openrlhfBody());
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const want = aggregate(ref, objective);
    near(r.body.rewards, want, `${objective.kind}${objective.minMode ?? ''} rewards`);
    assert.deepEqual(r.body.scores, r.body.rewards);
    // Per-sample lists, as OpenRLHF's samples_generator turns each extra_logs value into a tensor.
    near(r.body.extra_logs['reward/nominal']!, aggregate(ref, { ...objective, kind: 'nominal' }), 'extra_logs reward/nominal');
    near(r.body.extra_logs['reward/proxy']!, want, 'extra_logs reward/proxy');
    assert.equal(r.body.rrlhf.samples.length, samples.length);
    r.body.rrlhf.samples.forEach((p, i) => {
      near(p.mu, ref.mu[i]!, `μ of sample ${i}`);
      near(p.sigma!, ref.sigma![i]!, `σ of sample ${i}`);
      near([p.min], [aggregate(ref, { ...objective, kind: 'wco' })[i]!], `min of sample ${i}`);
    });
    assert.equal(r.body.rrlhf.lambda, objective.kind === 'robust' ? 0.25 : null);
    seen.add(r.body.rewards.map((x) => x.toFixed(5)).join());
  }
  // The objectives really disagree on these samples, so serving the wrong one would fail above.
  assert.ok(seen.size >= objectives.length - 1, `only ${seen.size} distinct reward vectors for ${objectives.length} objectives`);
});

test('robust with λ = 1 is the nominal reward; with λ = 0 the min', async () => {
  const one = await start({ objective: { kind: 'robust', lambda: 1 } });
  const zero = await start({ objective: { kind: 'robust', lambda: 0 } });
  const a = (await remoteRm(withToken(one), openrlhfBody())).body, b = (await remoteRm(withToken(zero), openrlhfBody())).body;
  near(a.rewards, a.rrlhf.samples.map((p) => p.nominal), 'λ = 1');
  near(a.rewards, a.extra_logs['reward/nominal']!, 'λ = 1 vs extra_logs');
  near(b.rewards, b.rrlhf.samples.map((p) => p.min), 'λ = 0');
});

test('without prompts the whole query is the response to an empty prompt; batches and concurrency do not change rewards', async () => {
  const s = await start({ objective: { kind: 'mean' }, batchSize: 2 });
  const queries = samples.map((x) => x.prompt + x.response);
  const r = await remoteRm(withToken(s), { query: queries });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const ref = await scoreResponses(brme.ensemble, samples.map(() => [world.bosId]), samples.map((x) => [...x.promptIds.slice(1), ...x.responseIds]));
  near(r.body.rewards, aggregate(ref, { kind: 'mean' }), 'whole query');
  // OpenRLHF sends one query per request, many at once: the server batches them together.
  const one = await Promise.all(samples.map((x) => remoteRm(withToken(s), openrlhfBody([x]))));
  const full = await scoreResponses(brme.ensemble, samples.map((x) => x.promptIds), samples.map((x) => x.responseIds));
  near(one.map((x) => x.body.rewards[0]!), aggregate(full, { kind: 'mean' }), 'concurrent single-query requests');
});

test('--normalize running whitens with RunningMoments as a local study does, across requests', async () => {
  const s = await start({ objective: { kind: 'robust', lambda: 0.4 }, normalize: 'running' });
  const ref = await scoreResponses(brme.ensemble, samples.map((x) => x.promptIds), samples.map((x) => x.responseIds));
  const raw = aggregate(ref, { kind: 'robust', lambda: 0.4 });
  const m = new RunningMoments();
  for (const part of [samples.slice(0, 4), samples.slice(4)]) {
    const r = await remoteRm(withToken(s), openrlhfBody(part));
    const lo = samples.indexOf(part[0]!);
    const x = raw.slice(lo, lo + part.length);
    m.update(x);
    near(r.body.rewards, m.whiten(x), 'whitened rewards');
    near(r.body.rrlhf.samples.map((p) => p.raw), x, 'raw aggregate');
  }
});

test('an independent ensemble (no σ): single is the nominal member, samples carry no σ', async () => {
  const s = await start({ objective: { kind: 'single' } }, indep);
  const r = await remoteRm(withToken(s), openrlhfBody());
  const ref = await scoreResponses(indep.ensemble, samples.map((x) => x.promptIds), samples.map((x) => x.responseIds));
  assert.equal(ref.sigma, undefined);
  near(r.body.rewards, ref.single, 'single');
  assert.ok(r.body.rrlhf.samples.every((p) => p.sigma === undefined && p.mu.length === 2));
  const h = await (await fetch(s.url.replace(/get_reward$/, 'health'), { headers: { Authorization: `Bearer ${TOKEN}` } })).json() as Record<string, unknown>;
  assert.deepEqual({ ensemble: h.ensemble, heads: h.heads, kind: h.kind, objective: h.objective }, { ensemble: indep.id, heads: 2, kind: 'independent', objective: { kind: 'single' } });
});

test('bad requests: 400 for malformed bodies, 413 for too large, 401 without the token, 415 for non-JSON', async () => {
  const s = await start({ objective: { kind: 'mean' }, maxBodyBytes: 4096, maxQueries: 8 });
  const u = withToken(s);
  const bad = async (body: unknown, status: number, re: RegExp, headers?: Record<string, string>, url = u) => {
    const r = await remoteRm(url, body, headers);
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.match(r.body.error!, re);
  };
  await bad('{"query": [', 400, /not valid JSON/);
  await bad({ query: 'one text' }, 400, /query.*list of strings/);
  await bad({ query: [] }, 400, /at least one/);
  await bad({ query: [1, 2] }, 400, /query/);
  await bad({ query: ['a', 'b'], prompts: ['a'] }, 400, /prompts.*1 entries for 2/);
  await bad({ query: ['review of the camera: great'], prompts: ['review of the phone:'] }, 400, /query 0 does not start with prompts\[0\]/);
  await bad({ query: ['review of the camera: zyzzyva'] }, 400, /query 0: .*"zyzzyva"/);
  await bad({ query: Array.from({ length: 9 }, () => 'great') }, 413, /9 queries.*at most 8/);
  await bad({ query: ['x'.repeat(5000)] }, 413, /too large/);
  await bad(openrlhfBody(), 401, /token/, {}, s.url);
  await bad(openrlhfBody(), 401, /token/, {}, `${s.url}?token=wrong-token-0123456789abcde`);
  const ok = await remoteRm(s.url, openrlhfBody(samples.slice(0, 2)), { Authorization: `Bearer ${TOKEN}` });
  assert.equal(ok.status, 200);
  const r = await fetch(u, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(openrlhfBody()) });
  assert.equal(r.status, 415);
  const fromPage = await fetch(u, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: 'http://evil.example' }, body: JSON.stringify(openrlhfBody()) });
  assert.equal(fromPage.status, 403);
});

test('loopback without a token works; a non-loopback host without one is refused at startup', async () => {
  const s = await start({ objective: { kind: 'mean' }, token: null });
  assert.equal((await remoteRm(s.url, openrlhfBody(samples.slice(0, 1)))).status, 200);
  await assert.rejects(startRewardServer({ ensemble: brme.ensemble, encoder: brme.encoder, ensembleId: 1, objective: { kind: 'mean' }, host: '0.0.0.0', port: 0, token: null }), /0\.0\.0\.0.*without a token/);
  await assert.rejects(startRewardServer({ ensemble: brme.ensemble, encoder: brme.encoder, ensembleId: 1, objective: { kind: 'gold' }, port: 0 }), /gold/);
});

function cli(args: string[]) {
  return spawn(process.execPath, [path.join(repoRoot, 'bin', 'rrlhf.js'), 'reward', 'serve', '--data-dir', dataDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}
const exit = (p: ReturnType<typeof cli>) => new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));

test('rrlhf reward serve: --json prints {url, port, token, ensemble, objective}; Ctrl+C stops it; bad options exit 2', async () => {
  const p = cli(['--ensemble', String(brmeId), '--objective', 'robust', '--lambda', '0.3', '--port', '0', '--json']);
  let stderr = '';
  p.stderr.on('data', (d) => { stderr += d; });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    p.stdout.on('data', (d) => { buf += d; if (buf.includes('\n')) resolve(buf.split('\n')[0]!); });
    p.on('close', () => reject(new Error(`exited before printing: ${stderr}`)));
  });
  const info = JSON.parse(line) as { url: string; port: number; token: string; ensemble: number; objective: ObjectiveConfig };
  assert.equal(info.ensemble, brmeId);
  assert.equal(info.objective.kind, 'robust');
  assert.equal(info.objective.lambda, 0.3);
  assert.ok(info.token.length >= 32);
  const r = await remoteRm(`${info.url}?token=${info.token}`, openrlhfBody());
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const ref = await scoreResponses(brme.ensemble, samples.map((x) => x.promptIds), samples.map((x) => x.responseIds));
  near(r.body.rewards, aggregate(ref, info.objective), 'CLI server rewards');
  p.kill('SIGINT');
  assert.equal(await exit(p), 0, stderr);

  const refused = cli(['--ensemble', String(brmeId), '--objective', 'mean', '--host', '0.0.0.0', '--no-token']);
  let err = '';
  refused.stderr.on('data', (d) => { err += d; });
  assert.equal(await exit(refused), 2);
  assert.match(err, /--no-token is refused with --host 0\.0\.0\.0/);
  const gold = cli(['--ensemble', String(brmeId), '--objective', 'gold']);
  assert.equal(await exit(gold), 2);
});

test('an ensemble trained on an imported dataset: its model\'s tokenizer, with the dataset world\'s rules and truncation', async () => {
  // The fixture setup of dataset-world.test.ts: a tiny GPT-2 with the bpe-tiny tokenizer, TRL text rows.
  const BOS = 657, EOS = 656;
  const modelDir = path.join(dataDir, 'tiny-gpt2');
  const cfg: Gpt2Config = { arch: 'gpt2', vocabSize: 660, nPositions: 48, d: 32, nLayer: 1, nHead: 2, eps: 1e-5, activation: 'gelu_new', bosTokenId: BOS, eosTokenId: EOS };
  await CausalLM.init(cfg, 0).save(modelDir);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(repoRoot, 'test/fixtures/tokenizers/bpe-tiny', f), path.join(modelDir, f));
  const store = openStore({ dataDir });
  let loaded: LoadedEnsemble, world;
  try {
    const datasetId = (await importDataset(store, path.join(repoRoot, 'test/fixtures/data/trl_explicit.jsonl'))).id;
    const t = await trainWorldEnsemble({ world: 'goodhart-lab', datasetId, modelDir, seed: 0, heads: 2, method: 'brme', stage2Loss: 'mse', anchor: 0, unfreezeLastLayers: 0, pairs: 16, valPairs: 16, sftSamples: 16, rewardEpochs: 1, stage2Epochs: 2 }, { dataDir, device: 'cpu' });
    loaded = await loadStoredEnsemble(store, t.id);
    world = await datasetWorld({ store, datasetId, modelDir, maxPromptTokens: 24, maxResponseTokens: 24, seed: 0 });
  } finally { store.close(); }
  assert.match(loaded.encoder.source, /bpe-tiny|tiny-gpt2/);
  const pairs = [...world.preferencePairs(10, new Rng(0)), ...world.heldOutPairs(10, new Rng(0))];
  // OpenRLHF's query: the decoded prompt + response, special tokens written out (skip_special_tokens=False).
  const texts = pairs.map((p) => ({ prompt: world.render(p.prompt).replace('<|begin_of_text|>', ''), response: world.render(p.chosen).replace('<|endoftext|>', '') }));
  texts.forEach((x, i) => {
    const e = loaded.encoder.encode(x.prompt, x.response);
    assert.deepEqual(e.prompt, pairs[i]!.prompt, `prompt ${i}`);
    assert.deepEqual(e.response, pairs[i]!.chosen, `response ${i}`);
  });
  // The prompt as OpenRLHF decodes it, BOS written out: still one BOS.
  assert.deepEqual(loaded.encoder.encode('<|begin_of_text|>' + texts[0]!.prompt, texts[0]!.response).prompt, pairs[0]!.prompt);
  // A response that was generated up to EOS keeps it once (the text after it is cut, as the world cuts it).
  const withEos = loaded.encoder.encode(texts[0]!.prompt, texts[0]!.response + '<|endoftext|>');
  assert.deepEqual(withEos.response, pairs[0]!.chosen);
  // Too long for the trunk's 48 positions: the response keeps its start, the prompt its BOS and end.
  const long = loaded.encoder.encode('What colour is the sky? '.repeat(20), ' Blue, on a clear day.'.repeat(20));
  assert.ok(long.prompt.length + long.response.length <= 48);
  assert.equal(long.prompt[0], BOS);
  const s = await start({ objective: { kind: 'robust', lambda: 0.4 } }, loaded);
  const r = await remoteRm(withToken(s), { query: texts.map((x) => x.prompt + x.response), prompts: texts.map((x) => x.prompt), labels: texts.map(() => null) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const ref = await scoreResponses(loaded.ensemble, pairs.map((p) => p.prompt), pairs.map((p) => p.chosen));
  near(r.body.rewards, aggregate(ref, { kind: 'robust', lambda: 0.4 }), 'dataset ensemble rewards');
});

test('the service (Ensembles screen): serve, list, refuse a second server, stop; closing the service stops its servers', async () => {
  const service = Service.open({ dataDir });
  try {
    const bad = await service.call('ensembles.serveReward', { id: brmeId, objective: 'gold' });
    assert.equal(bad.ok, false);
    assert.equal((await service.call('ensembles.serveReward', { id: 999, objective: 'mean' })).ok, false);
    const r = await service.call('ensembles.serveReward', { id: brmeId, objective: 'robust', lambda: 0.3 });
    assert.ok(r.ok, JSON.stringify(r));
    const info = r.result as { url: string; remoteUrl: string; token: string; objective: ObjectiveConfig };
    assert.equal(info.remoteUrl, `${info.url}?token=${info.token}`);
    const got = await remoteRm(info.remoteUrl, openrlhfBody());
    assert.equal(got.status, 200);
    const ref = await scoreResponses(brme.ensemble, samples.map((x) => x.promptIds), samples.map((x) => x.responseIds));
    near(got.body.rewards, aggregate(ref, { kind: 'robust', lambda: 0.3 }), 'served from the app');
    assert.equal((await remoteRm(info.url, openrlhfBody())).status, 401);
    const again = await service.call('ensembles.serveReward', { id: brmeId, objective: 'mean' });
    assert.equal(again.ok, false);
    assert.equal(!again.ok && again.status, 409);
    const list = await service.call('ensembles.rewardServers', {});
    assert.deepEqual(list.ok && (list.result as { ensembleId: number }[]).map((x) => x.ensembleId), [brmeId]);
    assert.deepEqual((await service.call('ensembles.stopReward', { id: brmeId })), { ok: true, result: { stopped: true } });
    await assert.rejects(fetch(info.remoteUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(openrlhfBody()) }));
    const last = await service.call('ensembles.serveReward', { id: brmeId, objective: 'mean' });
    assert.ok(last.ok);
    await service.close();
    await assert.rejects(fetch((last.result as { remoteUrl: string }).remoteUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(openrlhfBody()) }));
  } finally { await service.close().catch(() => undefined); }
});
