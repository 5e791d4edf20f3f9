// Benchmark scoring on real models (real ORT sessions): each choice's log-likelihood recomputed here from
// unbatched forwards and the harness's tokenisation rule, the eval's argmax and length-normalised argmax
// checked against it (with an item where acc and acc_norm disagree), log-likelihoods against the PyTorch
// reference on two fixture models, a tiny model trained until it answers the fixture questions (MMLU by
// log-likelihood, GSM8K by greedy generation), and `rrlhf eval` end to end: the --json contract, skipped
// records on stderr, refusals, --run on a stored dataset-world run, and Ctrl-C.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, fixture } from '../util/paths.js';
import { CausalLM } from '../../engine/models/model.js';
import { loadTokenizer, type HfTokenizer } from '../../engine/models/tokenizer.js';
import { ParamStore } from '../../engine/runtime/params.js';
import { sft } from '../../engine/rlhf/sft.js';
import { readBenchmark } from '../../engine/eval/read.js';
import { buildContext, encodePair, loglikelihoods } from '../../engine/eval/score.js';
import { evaluateBenchmark, type McItem, type GenItem } from '../../engine/eval/run.js';
import { openStore } from '../../engine/store/index.js';
import { parseSpec } from '../../engine/experiments/spec.js';
import { buildReportModel } from '../../engine/report/model.js';
import { renderHtml } from '../../engine/report/html.js';
import { pairedInterval } from '../../engine/experiments/stats.js';
import { PyRandom } from '../../engine/eval/fewshot.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rrlhf-eval-')); dirs.push(d); return d; };
const bin = path.join(repoRoot, 'bin', 'rrlhf.js');
const rrlhf = (...args: string[]) => { const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' }); return { code: r.status, stdout: r.stdout, stderr: r.stderr }; };
const ev = (...p: string[]) => fixture('evals', ...p);

/** A tiny GPT-2 with the bpe-tiny tokenizer (and its chat template), saved as a Hugging Face folder. */
async function modelFolder(seed = 0): Promise<{ dir: string; model: CausalLM; tok: HfTokenizer }> {
  const dir = tmp();
  const model = CausalLM.init({ arch: 'gpt2', vocabSize: 660, nPositions: 512, d: 48, nLayer: 2, nHead: 2, eps: 1e-5, activation: 'gelu_new', bosTokenId: 657, eosTokenId: 656 }, seed);
  await model.save(dir);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(fixture('tokenizers', 'bpe-tiny', f), path.join(dir, f));
  return { dir, model: await CausalLM.load(dir), tok: await loadTokenizer(dir) };
}

/** log p(continuation | context) from one unpadded forward, the log-softmax done here in float64. */
async function independentLl(m: CausalLM, ids: number[], n: number): Promise<number> {
  const { logits } = await m.evaluate([ids]);
  const V = logits.shape[2]!, data = logits.data as Float32Array;
  let s = 0;
  for (let t = ids.length - n; t < ids.length; t++) {
    const row = data.subarray((t - 1) * V, t * V);
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x);
    let z = 0;
    for (const x of row) z += Math.exp(x - max);
    s += row[ids[t]!]! - max - Math.log(z);
  }
  return s;
}

const argmax = (xs: number[]) => xs.reduce((b, x, i) => (x > xs[b]! ? i : b), 0);

test('multiple choice: the eval picks the argmax of independently computed log-likelihoods, acc_norm divides by characters', async () => {
  const { model, tok } = await modelFolder();
  let disagreements = 0;
  for (const [file, shots] of [['mmlu.jsonl', 0], ['arc.jsonl', 0], ['arc_lengths.jsonl', 0], ['hellaswag.jsonl', 1]] as const) {
    const bench = await readBenchmark(ev(file));
    const res = await evaluateBenchmark(model, tok, bench, { shots, batchSize: 5 });
    const scored = bench.docs.slice(shots);
    assert.equal(res.n, scored.length, file);
    for (const [i, rd] of scored.entries()) {
      const item = res.per_item[i] as McItem;
      const ctx = buildContext(rd.doc, bench.docs.slice(0, shots).map((d) => d.doc));
      const lls: number[] = [];
      for (const choice of rd.doc.choices!) {
        // The harness's rule written out: encode the context and the whole; the continuation is the rest.
        const whole = tok.encode(`${ctx} ${choice}`), c = tok.encode(ctx);
        assert.deepEqual(whole.slice(0, c.length), c, 'the context\'s tokens start the whole\'s');
        lls.push(await independentLl(model, whole, whole.length - c.length));
      }
      lls.forEach((ll, k) => assert.ok(Math.abs(ll - item.loglikelihoods[k]!) < 2e-3, `${file} item ${i} choice ${k}: eval ${item.loglikelihoods[k]}, recomputed ${ll}`));
      const chars = rd.doc.choices!.map((c) => [...c].length);
      assert.equal(item.prediction, argmax(lls));
      assert.equal(item.prediction_norm, argmax(lls.map((ll, k) => ll / chars[k]!)));
      assert.equal(item.correct, item.prediction === rd.doc.gold);
      assert.equal(item.correct_norm, item.prediction_norm === rd.doc.gold);
      if (item.prediction !== item.prediction_norm) disagreements++;
    }
    assert.equal(res.accuracy, res.per_item.filter((p) => p.correct).length / res.n);
    assert.equal(res.acc_norm, (res.per_item as McItem[]).filter((p) => p.correct_norm).length / res.n);
  }
  // "x" (1 character) against a 67-character answer: the short one has the larger summed log-likelihood,
  // the long one the larger per-character one, and the long one is right.
  const res = await evaluateBenchmark(model, tok, await readBenchmark(ev('arc_lengths.jsonl')));
  const it = res.per_item[0] as McItem;
  assert.deepEqual([it.prediction, it.prediction_norm, it.correct, it.correct_norm], [0, 1, false, true]);
  assert.deepEqual([res.accuracy, res.acc_norm], [0, 1]);
  assert.ok(disagreements >= 1);
});

test('log-likelihoods of batched, left-padded rows match the PyTorch reference (float64) on two fixture models', async () => {
  const ref = JSON.parse(fs.readFileSync(ev('loglik_reference.json'), 'utf8')) as { models: Record<string, { context: number[]; continuation: number[]; loglikelihood: number }[]> };
  for (const [name, cases] of Object.entries(ref.models)) {
    const m = await CausalLM.load(fixture('models', name));
    const lls = await loglikelihoods(m, cases.map((c) => [...c.context, ...c.continuation]), cases.map((c) => c.continuation.length), 0);
    cases.forEach((c, i) => assert.ok(Math.abs(lls[i]! - c.loglikelihood) < 1e-4 * Math.max(1, Math.abs(c.loglikelihood)), `${name} case ${i}: ${lls[i]} vs PyTorch ${c.loglikelihood}`));
  }
});

test('a tiny model trained on the answers gets them right: MMLU by log-likelihood, GSM8K by greedy generation and "#### N"', async () => {
  const { model, tok } = await modelFolder(1);
  const mmlu = await readBenchmark(ev('mmlu.jsonl'));
  const gsm = await readBenchmark(ev('gsm8k.jsonl'));
  const before = await evaluateBenchmark(model, tok, gsm, { maxGenToks: 40 });
  assert.equal(before.accuracy, 0, 'an untrained model does not write "#### N"');
  // Supervised on each prompt followed by its right continuation (GSM8K: the worked answer, then EOS).
  const samples = [
    ...mmlu.docs.map((d) => { const [p, r] = encodePair(tok, buildContext(d.doc, []), ` ${d.doc.target}`); return { prompt: p, response: r }; }),
    ...gsm.docs.map((d) => { const [p, r] = encodePair(tok, buildContext(d.doc, []), ` ${d.doc.target}`); return { prompt: p, response: [...r, tok.eosId!] }; }),
  ];
  await sft(model, samples, { epochs: 150, batchSize: samples.length, lr: 1e-2, padId: tok.padId! });
  const mc = await evaluateBenchmark(model, tok, mmlu);
  assert.equal(mc.accuracy, 1, JSON.stringify(mc.per_item.map((p) => [p.prediction, p.answer])));
  const g = await evaluateBenchmark(model, tok, gsm, { maxGenToks: 40 });
  const items = g.per_item as GenItem[];
  assert.deepEqual(items.map((p) => p.generation), gsm.docs.map((d) => ` ${d.doc.target}`), 'the worked answers, stopped at EOS');
  assert.deepEqual(items.map((p) => [p.prediction, p.answer, p.correct]), [['7', '7', true], ['1,200', '1200', true], ['-5', '-5', true]]);
  assert.deepEqual(g.exact_match, { strict: 1, flexible: 1 });
});

test('rrlhf eval: one JSON document on stdout, progress and skipped records on stderr, refusals with reasons', async () => {
  const { dir } = await modelFolder();
  const r = rrlhf('eval', ev('mmlu.jsonl'), '--model', dir, '--json', '--limit', '3', '--shots', '2');
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  assert.equal(res.format, 'mmlu');
  assert.equal(res.n, 3);
  assert.equal(res.shots, 2);
  assert.equal(res.fewshot_source, 'file');
  assert.deepEqual(res.per_item.map((p: McItem) => p.line), [3, 4, 5], 'the first two items are the examples, not scored');
  for (const p of res.per_item) assert.deepEqual(Object.keys(p).slice(0, 4), ['index', 'file', 'line', 'prediction']);
  assert.match(r.stderr, /eval mmlu \(choices scored\) 12\/12/);

  const bad = rrlhf('eval', ev('malformed', 'mmlu_bad.jsonl'), '--model', dir, '--json');
  assert.equal(bad.code, 0, bad.stderr);
  assert.equal(JSON.parse(bad.stdout).n, 2);
  assert.ok(bad.stderr.includes(`skipped ${ev('malformed', 'mmlu_bad.jsonl')}:3: answer 4 is out of range`));
  assert.equal(JSON.parse(bad.stdout).rejected.length, 7);

  const g = rrlhf('eval', ev('gsm8k'), '--model', dir, '--shots', '1', '--max-gen-toks', '8', '--json');
  assert.equal(g.code, 0, g.stderr);
  const gr = JSON.parse(g.stdout);
  assert.equal(gr.split, 'test');
  assert.match(gr.fewshot_from, /\(train split\)$/, 'a dataset folder draws examples from the few-shot split the task names');
  assert.equal(gr.n, 3, 'all test items are scored');
  assert.equal(gr.max_gen_toks, 8);
  const mf = rrlhf('eval', ev('hub', 'mmlu', 'all'), '--model', dir, '--shots', '2', '--json');
  assert.equal(mf.code, 0, mf.stderr);
  const mr = JSON.parse(mf.stdout);
  assert.deepEqual([mr.n, mr.split, mr.fewshot_source], [4, 'test', 'fewshot-file'], 'MMLU examples from the dev split; all four test items scored');
  assert.match(mr.fewshot_from, /\(dev split\)$/);
  const f = rrlhf('eval', ev('gsm8k.jsonl'), '--model', dir, '--fewshot-file', ev('gsm8k', 'main', 'train-00000-of-00001.parquet'), '--shots', '2', '--max-gen-toks', '4', '--json');
  assert.equal(f.code, 0, f.stderr);
  const fr = JSON.parse(f.stdout);
  assert.deepEqual([fr.n, fr.shots, fr.fewshot_source], [3, 2, 'fewshot-file'], 'examples from the other file: every item scored');

  const refusals: [string[], number, RegExp][] = [
    [[ev('truthfulqa.jsonl'), '--model', dir, '--shots', '1'], 1, /truthfulqa is zero-shot in lm-evaluation-harness/],
    [[ev('mmlu.jsonl'), '--model', dir, '--run', '1'], 2, /exactly one of --model DIR and --run ID/],
    [[ev('mmlu.jsonl'), '--model', dir, '--format', 'squad'], 2, /--format must be auto or one of mmlu, arc, hellaswag, truthfulqa, gsm8k; got "squad"/],
    [[ev('malformed', 'arc_bad.jsonl'), '--model', dir], 1, /no item of .*arc_bad\.jsonl can be scored: all 3 records were rejected \(first: .*arc_bad\.jsonl:1: answerKey "C"/],
    [[ev('malformed', 'unknown.jsonl'), '--model', dir], 1, /cannot tell the benchmark from the columns "prompt", "chosen", "rejected"/],
    [[ev('gsm8k.jsonl'), '--model', dir, '--shots', '0', '--max-gen-toks', '512'], 1,
      /--max-gen-toks 512 leaves no room for the question in the model's 512-token window/],
    [[ev('gsm8k.jsonl'), '--model', dir], 1, /--shots 5: the benchmark has only 3 readable items \(the first K are the examples, the rest are scored\)/],
    [[path.join(os.tmpdir(), 'no-such-benchmark.jsonl'), '--model', dir], 1, /no-such-benchmark\.jsonl does not exist; pass a benchmark file/],
  ];
  for (const [args, code, re] of refusals) {
    const x = rrlhf('eval', ...args);
    assert.equal(x.code, code, `${args.join(' ')}: ${x.stderr}`);
    assert.match(x.stderr, re);
    assert.equal(x.stdout, '');
  }
});

test('rrlhf eval --run: a dataset-world run\'s last checkpoint on its starting model; built-in worlds and unknown runs refused', async () => {
  const base = await modelFolder(0), trained = await modelFolder(7);
  const dataDir = tmp();
  const store = openStore({ dataDir });
  let runId: number, goodhartRun: number, expId: number;
  try {
    const spec = parseSpec({ world: { name: 'dataset', modelDir: base.dir, datasetId: 1 } });
    const exp = store.experiments.create({ name: 'study', spec: spec as unknown as Record<string, unknown> });
    expId = exp.id;
    runId = store.runs.create({ experimentId: exp.id, objective: 'robust', seed: 0, config: { objective: spec.objectives[1] } }).id;
    // The runner saves policy.params: the decoder's tensors and the PPO value head beside them.
    for (const step of [5, 10]) {
      const ck = path.join(dataDir, 'experiments', String(exp.id), 'runs', String(runId), `step-${step}`);
      fs.mkdirSync(ck, { recursive: true });
      const ps = new ParamStore();
      const src = step === 10 ? trained.model : base.model;
      for (const n of src.modelParamNames()) { const p = src.params.get(n); ps.set(n, p.data, p.shape); }
      ps.set('value_head.weight', new Float32Array(48), [1, 48]);
      await ps.save(path.join(ck, 'policy.safetensors'));
      store.runs.addCheckpoint({ runId, step, path: ck, sha256: 'x' });
    }
    store.runs.update(runId, { status: 'finished' });
    const g = store.experiments.create({ name: 'lab', spec: { world: { name: 'goodhart-lab', seed: 0, settings: {} } } });
    goodhartRun = store.runs.create({ experimentId: g.id, objective: 'single', seed: 0 }).id;
  } finally { store.close(); }
  const viaRun = rrlhf('eval', ev('arc.jsonl'), '--run', String(runId), '--data-dir', dataDir, '--json', '--record');
  assert.equal(viaRun.code, 0, viaRun.stderr);
  const viaModel = rrlhf('eval', ev('arc.jsonl'), '--model', trained.dir, '--json');
  const a = JSON.parse(viaRun.stdout), b = JSON.parse(viaModel.stdout);
  assert.deepEqual(a.per_item.map((p: McItem) => p.loglikelihoods), b.per_item.map((p: McItem) => p.loglikelihoods), 'the step-10 weights, not the starting model\'s');
  assert.notDeepEqual(a.per_item.map((p: McItem) => p.loglikelihoods), JSON.parse(rrlhf('eval', ev('arc.jsonl'), '--model', base.dir, '--json').stdout).per_item.map((p: McItem) => p.loglikelihoods));
  assert.deepEqual([a.policy.run, a.policy.step, a.policy.status, a.policy.architecture_from], [runId, 10, 'finished', base.dir]);
  // --record: the scores on the run at the checkpoint's step, and in the report's Benchmarks table.
  assert.match(viaRun.stderr, new RegExp(`recorded bench/arc_0shot/acc, bench/arc_0shot/acc_norm on run ${runId} at step 10`));
  const s2 = openStore({ dataDir });
  try {
    const last = s2.metrics.last(runId);
    assert.deepEqual(last['bench/arc_0shot/acc'], { step: 10, value: a.accuracy });
    assert.deepEqual(last['bench/arc_0shot/acc_norm'], { step: 10, value: a.acc_norm });
    const model = await buildReportModel({ store: s2, experimentId: expId });
    // One run scored after training and π₀ never: a final score, no change from π₀ to pair.
    assert.deepEqual(model.benchmarks!.map((b) => [b.key, b.start, b.rows.map((r) => [r.objective, r.final, r.change])]), [
      ['bench/arc_0shot/acc', null, [['robust', { mean: a.accuracy, std: 0, n: 1 }, null]]],
      ['bench/arc_0shot/acc_norm', null, [['robust', { mean: a.acc_norm, std: 0, n: 1 }, null]]],
    ]);
    assert.match(renderHtml(model), /<section id="benchmarks"[^>]*>\n<h2>Benchmarks<\/h2>/);
  } finally { s2.close(); }
  assert.match(rrlhf('eval', ev('arc.jsonl'), '--model', base.dir, '--record').stderr, /--record stores the scores on a run: it goes with --run ID/);
  const gr = rrlhf('eval', ev('arc.jsonl'), '--run', String(goodhartRun), '--data-dir', dataDir);
  assert.equal(gr.code, 1);
  assert.match(gr.stderr, /built-in "goodhart-lab" world, whose vocabulary is the world's own symbols/);
  const none = rrlhf('eval', ev('arc.jsonl'), '--run', '99', '--data-dir', dataDir);
  assert.match(none.stderr, /run 99 does not exist/);
});

test('Ctrl-C stops after the batch in flight and prints the scores of the items finished', async () => {
  const { dir } = await modelFolder();
  const big = path.join(tmp(), 'many.jsonl');
  const line = fs.readFileSync(ev('mmlu.jsonl'), 'utf8').split('\n')[0]!;
  fs.writeFileSync(big, `${line}\n`.repeat(3000));
  const child = spawn(process.execPath, [bin, 'eval', big, '--model', dir, '--json', '--batch-size', '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  let sent = false;
  child.stderr.on('data', (d) => {
    stderr += d;
    if (!sent && /eval mmlu/.test(stderr)) { sent = true; setTimeout(() => child.kill('SIGINT'), 300); }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 1, stderr);
  const res = JSON.parse(stdout);
  assert.ok(res.interrupted && res.interrupted.of === 3000 && res.interrupted.scored > 0 && res.interrupted.scored < 3000, JSON.stringify(res.interrupted));
  assert.equal(res.n, res.interrupted.scored);
  assert.equal(res.per_item.length, res.n);
  assert.match(stderr, /stopping after the batch in flight/);
  assert.match(stderr, new RegExp(`interrupted after ${res.n} of 3000 items`));
});

test('a study scored through experiments.evaluate: π₀ at step 0 on every run, each checkpoint\'s own weights, paired before/after and against the baseline, the same in the app and the report', async () => {
  const base = await modelFolder(0);
  const dataDir = tmp();
  const store = openStore({ dataDir });
  const spec = parseSpec({ world: { name: 'dataset', modelDir: base.dir, datasetId: 1 } });
  const [o0, o1] = [spec.objectives[0]!, spec.objectives[1]!];
  // Two objectives × two seeds, checkpoints at 5 and 10, each holding a different model's weights.
  const weightsOf = new Map<string, CausalLM>();
  let expId: number, worldExp: number;
  try {
    expId = store.experiments.create({ name: 'study', spec: spec as unknown as Record<string, unknown> }).id;
    let seedModel = 10;
    for (const ob of [o0, o1]) for (const seed of [0, 1]) {
      const runId = store.runs.create({ experimentId: expId, objective: ob.name, seed, config: { objective: ob } }).id;
      for (const step of [5, 10]) {
        const m = (await modelFolder(seedModel++)).model;
        weightsOf.set(`${runId}:${step}`, m);
        const ck = path.join(dataDir, 'experiments', String(expId), 'runs', String(runId), `step-${step}`);
        fs.mkdirSync(ck, { recursive: true });
        const ps = new ParamStore();
        for (const n of m.modelParamNames()) { const p = m.params.get(n); ps.set(n, p.data, p.shape); }
        await ps.save(path.join(ck, 'policy.safetensors'));
        store.runs.addCheckpoint({ runId, step, path: ck, sha256: 'x' });
      }
      store.runs.update(runId, { status: 'finished' });
    }
    worldExp = store.experiments.create({ name: 'lab', spec: { world: { name: 'goodhart-lab', seed: 0, settings: {} } } }).id;
  } finally { store.close(); }

  const { Service } = await import('../../engine/service/api.js');
  const service = Service.open({ dataDir });
  try {
    const wait = async (id: string) => {
      for (;;) {
        const j = await service.call('jobs.get', { id });
        assert.ok(j.ok, JSON.stringify(j));
        const info = j.result as { state: string; error?: string; result?: unknown };
        if (info.state === 'done' || info.state === 'error') return info;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const started = await service.call('experiments.evaluate', { experimentId: expId, file: ev('arc.jsonl'), checkpoints: 'all' });
    assert.ok(started.ok, JSON.stringify(started));
    const done = await wait((started.result as { id: string }).id);
    assert.equal(done.state, 'done', done.error);
    const res = done.result as { scored: { run: number | null; step: number; scores: Record<string, number> }[]; keys: string[]; skipped: unknown[] };
    assert.deepEqual(res.keys, ['bench/arc_0shot/acc', 'bench/arc_0shot/acc_norm']);
    assert.equal(res.scored.length, 1 + 4 * 2);
    assert.deepEqual(res.skipped, []);

    // Each score is that checkpoint's model scored directly; π₀'s is the base folder's.
    const bench = await readBenchmark(ev('arc.jsonl'));
    const direct = async (m: CausalLM) => (await evaluateBenchmark(m, base.tok, bench)).accuracy;
    const start = await direct(base.model);
    for (const s of res.scored) {
      const want = s.run === null ? start : await direct(weightsOf.get(`${s.run}:${s.step}`)!);
      assert.equal(s.scores['bench/arc_0shot/acc'], want, `run ${s.run} step ${s.step}`);
    }
    const finalOf = (run: number) => res.scored.find((s) => s.run === run && s.step === 10)!.scores['bench/arc_0shot/acc']!;

    const view = await service.call('experiments.get', { id: expId });
    assert.ok(view.ok);
    const benchmarks = (view.result as { benchmarks: import('../../engine/experiments/analysis.js').BenchmarkAnalysis[] }).benchmarks;
    const acc = benchmarks.find((b) => b.key === 'bench/arc_0shot/acc')!;
    assert.equal(acc.start, start);
    const s2 = openStore({ dataDir });
    try {
      const runsOf = (name: string) => s2.runs.list({ experimentId: expId }).filter((r) => r.objective === name).sort((a, b) => a.seed - b.seed);
      for (const [i, ob] of [o0, o1].entries()) {
        const row = acc.rows[i]!;
        const finals = runsOf(ob.name).map((r) => finalOf(r.id));
        assert.equal(row.objective, ob.name);
        assert.ok(Math.abs(row.final.mean! - (finals[0]! + finals[1]!) / 2) < 1e-12);
        const ci = pairedInterval(finals, [start, start]);
        assert.equal(row.change!.mean, ci.mean);
        assert.equal(row.change!.lo, Number.isFinite(ci.lo) ? ci.lo : null);
        assert.deepEqual(row.curve.map((p) => p.step), [0, 5, 10]);
        assert.deepEqual(row.curve.map((p) => p.n), [2, 2, 2]);
      }
      const a = runsOf(o1.name).map((r) => finalOf(r.id)), b = runsOf(o0.name).map((r) => finalOf(r.id));
      assert.equal(acc.comparisons.length, 1);
      assert.equal(acc.comparisons[0]!.mean, pairedInterval(a, b).mean);
      assert.equal(acc.comparisons[0]!.wins, a.filter((x, i) => x > b[i]!).length);
      // The report renders the same analysis: table and accuracy-against-step chart.
      const model = await buildReportModel({ store: s2, experimentId: expId });
      assert.deepEqual(model.benchmarks, benchmarks);
      const html = renderHtml(model);
      assert.match(html, /<section id="benchmarks"[^>]*>\n<h2>Benchmarks<\/h2>/);
      assert.match(html, /arc_0shot\/acc vs training step/);
    } finally { s2.close(); }

    // Refusals: a built-in world's study, a file that is not there.
    const world = await service.call('experiments.evaluate', { experimentId: worldExp, file: ev('arc.jsonl') });
    assert.ok(world.ok);
    const wdone = await wait((world.result as { id: string }).id);
    assert.equal(wdone.state, 'error');
    assert.match(wdone.error!, /built-in "goodhart-lab" world/);
    const missing = await service.call('experiments.evaluate', { experimentId: expId, file: path.join(dataDir, 'nope.jsonl') });
    assert.ok(!missing.ok);
    assert.match((missing as { error: string }).error, /cannot read .*nope\.jsonl: choose a benchmark file/);
  } finally { await service.close(); }
});

test('rrlhf eval --map: a file whose columns are named otherwise scores as the layout it is mapped to', async () => {
  const { dir } = await modelFolder(3);
  const renamed = path.join(tmp(), 'mmlu_renamed.jsonl');
  const rows = fs.readFileSync(ev('mmlu.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { question: string; subject: string; choices: string[]; answer: number });
  fs.writeFileSync(renamed, rows.map((r) => JSON.stringify({ stem: r.question, subject: r.subject, options: r.choices, gold: r.answer })).join('\n') + '\n');
  const want = JSON.parse(rrlhf('eval', ev('mmlu.jsonl'), '--model', dir, '--json').stdout);
  const unmapped = rrlhf('eval', renamed, '--model', dir, '--json');
  assert.equal(unmapped.code, 1);
  assert.match(unmapped.stderr, /cannot tell the benchmark from the columns "stem", "subject", "options", "gold".*--map field=column/);
  const got = rrlhf('eval', renamed, '--model', dir, '--map', 'question=stem, choices=options, answer=gold', '--json');
  assert.equal(got.code, 0, got.stderr);
  const g = JSON.parse(got.stdout);
  assert.equal(g.format, 'mmlu');
  assert.deepEqual(g.per_item.map((p: McItem) => p.loglikelihoods), want.per_item.map((p: McItem) => p.loglikelihoods));
  const bad = rrlhf('eval', renamed, '--model', dir, '--map', 'question');
  assert.match(bad.stderr, /--map expects field=column pairs separated by commas/);
});

test('examples from a separate few-shot pool are drawn as the harness draws them: a seeded sample per item (ARC), the first K (MMLU)', async () => {
  const { model, tok } = await modelFolder(5);
  const poolFile = path.join(tmp(), 'arc_train.jsonl');
  const words = ['rain', 'wind', 'salt', 'iron', 'moss', 'clay', 'milk', 'sand'];
  fs.writeFileSync(poolFile, words.map((w, i) => JSON.stringify({ id: `t${i}`, question: `What is ${w}?`, choices: { text: [w, 'no'], label: ['A', 'B'] }, answerKey: 'A' })).join('\n') + '\n');
  const pool = (await readBenchmark(poolFile)).docs;
  const bench = await readBenchmark(ev('arc.jsonl'));
  const res = await evaluateBenchmark(model, tok, bench, { shots: 2, fewshot: pool, batchSize: 4 });
  assert.equal(res.n, bench.docs.length, 'a separate pool: every item scored');
  // random.Random(1234).sample(pool, 2) once per item, in order (lm_eval/api/samplers.py ContextSampler).
  const rnd = new PyRandom(1234);
  const contexts = bench.docs.map((rd) => buildContext(rd.doc, rnd.sample(pool, 2).map((d) => d.doc)));
  assert.ok(new Set(contexts.map((c) => c.split('\n\n').slice(0, 2).join())).size > 1, 'items get different examples');
  for (const [i, rd] of bench.docs.entries()) {
    const item = res.per_item[i] as McItem;
    for (const [k, choice] of rd.doc.choices!.entries()) {
      const whole = tok.encode(`${contexts[i]} ${choice}`), c = tok.encode(contexts[i]!);
      const ll = await independentLl(model, whole, whole.length - c.length);
      assert.ok(Math.abs(ll - item.loglikelihoods[k]!) < 2e-3, `item ${i} choice ${k}: ${item.loglikelihoods[k]} vs ${ll} with the harness's examples`);
    }
  }
  // MMLU's first_n: the pool's first K for every item.
  const mmlu = await readBenchmark(ev('mmlu.jsonl'));
  const mres = await evaluateBenchmark(model, tok, mmlu, { shots: 2, fewshot: mmlu.docs.slice(3), limit: 2 });
  for (const [i, rd] of mmlu.docs.slice(0, 2).entries()) {
    const ctx = buildContext(rd.doc, mmlu.docs.slice(3, 5).map((d) => d.doc));
    const ch = rd.doc.choices![0]!;
    const whole = tok.encode(`${ctx} ${ch}`), c = tok.encode(ctx);
    assert.ok(Math.abs(await independentLl(model, whole, whole.length - c.length) - (mres.per_item[i] as McItem).loglikelihoods[0]!) < 2e-3);
  }
});
