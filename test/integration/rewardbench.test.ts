// Reward-model benchmarks (docs/evals.md § Reward models): a tiny BRME ensemble trained on the
// text-reviews world as the app trains it, a RewardBench-layout file written here (subsets of each
// section, one RewardBench does not know, bad records), scored by `rrlhf ensemble bench --json`. Every
// accuracy is recomputed here from the ensemble's scores of each text alone: a pair is right when chosen
// scores strictly higher; min, mean and the robust aggregate by hand; sections weighted by RewardBench's
// example counts. A wrong pairing of chosen and rejected, a wrong aggregate or weight fails.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../engine/store/index.js';
import { trainWorldEnsemble } from '../../engine/service/ensemble-train.js';
import { makeWorld, type TextWorld } from '../../engine/worlds/index.js';
import { Rng } from '../../engine/runtime/params.js';
import { loadStoredEnsemble, type LoadedEnsemble } from '../../engine/serve/ensemble-text.js';
import { REWARDBENCH_WEIGHTS, type RewardBenchResult } from '../../engine/eval/rewardbench.js';
import { repoRoot } from '../util/paths.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrlhf-rmbench-'));
after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
const bin = path.join(repoRoot, 'bin', 'rrlhf.js');
const rrlhf = (...args: string[]) => spawnSync(process.execPath, [bin, ...args, '--data-dir', dataDir], { encoding: 'utf8' });

const world = makeWorld('text-reviews', {}, 0) as TextWorld;
let ens: LoadedEnsemble, ensId: number;
before(async () => {
  const r = await trainWorldEnsemble({ world: 'text-reviews', seed: 0, pairs: 32, valPairs: 16, sftSamples: 32, rewardEpochs: 1, stage2Epochs: 2, stage2Loss: 'mse', anchor: 0, unfreezeLastLayers: 0, heads: 3, method: 'brme' }, { dataDir, device: 'cpu' });
  ensId = r.id;
  const store = openStore({ dataDir });
  try { ens = await loadStoredEnsemble(store, r.id); } finally { store.close(); }
});

const SUBSETS = ['alpacaeval-easy', 'mt-bench-med', 'mt-bench-hard', 'llmbar-natural', 'refusals-dangerous', 'xstest-should-respond', 'math-prm', 'hep-python', 'my-own'];

function writeBench(file: string) {
  const samples = world.sftSamples(2 * SUBSETS.length * 3, new Rng(11)).map((s) => {
    const e = s.response.indexOf(world.eosId);
    return { prompt: world.render(s.prompt), response: ' ' + world.render(e >= 0 ? s.response.slice(0, e + 1) : [...s.response, world.eosId]) };
  });
  const lines: string[] = [];
  const pairs: { prompt: string; chosen: string; rejected: string; subset: string }[] = [];
  for (let i = 0; i + 1 < samples.length; i += 2) {
    const p = { prompt: samples[i]!.prompt, chosen: samples[i]!.response, rejected: samples[i + 1]!.response, subset: SUBSETS[(i / 2) % SUBSETS.length]! };
    if (p.chosen === p.rejected) continue;
    pairs.push(p);
    lines.push(JSON.stringify({ ...p, id: i }));
  }
  // Bad records at known lines: a missing answer, a null, identical answers, not JSON.
  lines.splice(3, 0, JSON.stringify({ prompt: 'x', chosen: 'a', subset: 'mt-bench-med' }));
  lines.splice(6, 0, JSON.stringify({ prompt: 'x', chosen: null, rejected: 'b' }));
  lines.splice(8, 0, JSON.stringify({ prompt: 'x', chosen: 'same', rejected: 'same' }));
  lines.splice(10, 0, '{not json');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return pairs;
}

test('rrlhf ensemble bench: each head and aggregate scored per subset, RewardBench\'s sections and score, bad records by line', async () => {
  const file = path.join(dataDir, 'rb.jsonl');
  const pairs = writeBench(file);
  const r = rrlhf('ensemble', 'bench', file, '--ensemble', String(ensId), '--lambda', '0.3', '--json');
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as RewardBenchResult;
  assert.equal(res.n, pairs.length);
  assert.deepEqual(res.rejected.map((x) => x.line), [4, 7, 9, 11]);
  assert.match(res.rejected[0]!.reason, /missing field "rejected"/);
  assert.match(res.rejected[1]!.reason, /field "chosen" is null, expected text/);
  assert.match(res.rejected[2]!.reason, /chosen is identical to rejected/);
  assert.match(r.stderr, /skipped .*rb\.jsonl:4: missing field "rejected"/);

  // Each text scored alone; the aggregates by hand.
  const one = async (p: string, t: string) => { const e = ens.encoder.encode(p, t); const s = await ens.ensemble.score([[...e.prompt, ...e.response]]); return { mu: s.mu[0]!, sigma: s.sigma![0]!, single: s.single[0]! }; };
  const views = (x: { mu: number[]; sigma: number[]; single: number }) => {
    const nominal = x.mu[x.sigma.indexOf(Math.min(...x.sigma))]!, min = Math.min(...x.mu);
    return { single: x.single, nominal, mean: x.mu.reduce((a, b) => a + b, 0) / x.mu.length, min, robust: 0.3 * nominal + 0.7 * min, ...Object.fromEntries(x.mu.map((m, k) => [`head_${k}`, m])) } as Record<string, number>;
  };
  const right: Record<string, boolean>[] = [];
  for (const p of pairs) {
    const c = views(await one(p.prompt, p.chosen)), rj = views(await one(p.prompt, p.rejected));
    right.push(Object.fromEntries(Object.keys(c).map((k) => [k, c[k]! > rj[k]!])));
  }
  const ids = res.scorers.map((s) => s.id);
  assert.deepEqual(ids, ['single', 'nominal', 'mean', 'min', 'robust', 'head_0', 'head_1', 'head_2']);
  const accOf = (idx: number[], k: string) => idx.filter((i) => right[i]![k]).length / idx.length;
  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);
  for (const k of ids) close(res.overall[k]!, accOf(pairs.map((_, i) => i), k), `overall ${k}`);
  for (const s of res.subsets) {
    const idx = pairs.flatMap((p, i) => (p.subset === s.subset ? [i] : []));
    assert.equal(s.n, idx.length);
    for (const k of ids) close(s.accuracy[k]!, accOf(idx, k), `${s.subset} ${k}`);
  }
  assert.equal(res.subsets.find((s) => s.subset === 'my-own')!.section, null, 'a subset RewardBench does not know joins no section');
  // Reasoning: math-prm weighs 984 against hep-python's 164.
  const sub = (name: string, k: string) => res.subsets.find((s) => s.subset === name)!.accuracy[k]!;
  const reasoning = res.sections.find((s) => s.section === 'Reasoning')!;
  assert.deepEqual(reasoning.subsets, ['math-prm', 'hep-python']);
  assert.equal(REWARDBENCH_WEIGHTS['math-prm'], 984);
  for (const k of ids) close(reasoning.accuracy[k]!, (984 * sub('math-prm', k) + 164 * sub('hep-python', k)) / (984 + 164), `Reasoning ${k}`);
  assert.deepEqual(res.sections.map((s) => s.section), ['Chat', 'Chat Hard', 'Safety', 'Reasoning']);
  for (const k of ids) close(res.score![k]!, res.sections.reduce((a, s) => a + s.accuracy[k]!, 0) / 4, `score ${k}`);

  // The human table names every subset and section.
  const human = rrlhf('ensemble', 'bench', file, '--ensemble', String(ensId));
  assert.equal(human.status, 0, human.stderr);
  for (const name of [...SUBSETS, '[Chat Hard]', '[RewardBench score]']) assert.ok(human.stdout.includes(name), name);
});

test('rrlhf ensemble bench refuses what it cannot score, naming why', () => {
  const bad = path.join(dataDir, 'nocols.jsonl');
  fs.writeFileSync(bad, JSON.stringify({ question: 'q', answer: 'a' }) + '\n');
  const a = rrlhf('ensemble', 'bench', bad, '--ensemble', String(ensId));
  assert.equal(a.status, 1);
  assert.match(a.stderr, /nocols\.jsonl: no "prompt" field \(columns: "question", "answer"\)/);
  const b = rrlhf('ensemble', 'bench', bad, '--ensemble', '99');
  assert.match(b.stderr, /no ensemble 99 in the store|no "prompt" field/);
  const c = rrlhf('ensemble', 'bench', bad);
  assert.equal(c.status, 2);
  assert.match(c.stderr, /--ensemble expects an ensemble id/);
});
