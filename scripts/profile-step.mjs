// Developer tool: where a train step spends its time, per ONNX op type, from ORT's profiler.
//   node scripts/profile-step.mjs mlp [B D H]
//   node scripts/profile-step.mjs lm  [B T]       (GPT-2 shape: 6 layers, d 384, 6 heads, vocab 8192)
//   node scripts/profile-step.mjs gen [B P N]     (the same model sampling N tokens after P: the decode graph, then
//                                                  the prefill and KV-merge graphs per run)
//   node scripts/profile-step.mjs ppo [B P N]     (one PPO iteration of the same model, 4 epochs x 2 minibatches:
//                                                  every session's trace, largest first, per run)
// PROFILE_DEVICE=cuda|webgpu runs it there; PROFILE_SHAPE=gpt2-small uses 12 layers, d 768, vocab 50257.
import { readFileSync, readdirSync, statSync, rmSync } from 'node:fs';
process.env.RRLHF_ORT_PROFILE = '/tmp/rrlhf-prof';
for (const f of readdirSync('/tmp')) if (f.startsWith('rrlhf-prof')) rmSync(`/tmp/${f}`); // only this run's traces
const [kind = 'mlp', ...nums] = process.argv.slice(2);
const args = nums.map(Number);
const { loadedSessions } = await import('../dist/engine/runtime/session.js');
let runs;
if (kind === 'ppo') {
  const { benchPpo } = await import('../dist/engine/bench/ppo.js');
  const [B = 16, P = 32, N = 32] = args;
  const r = await benchPpo({ arch: 'gpt2', layers: 6, d: 384, heads: 6, vocab: 8192, batch: B, promptLen: P, newTokens: N, epochs: 4, miniBatches: 2, iterations: 1, warmup: 1 });
  console.log(`ppo iteration (profiling on): rollout ${r.ms_rollout.toFixed(0)} ms, scoring ${r.ms_score.toFixed(0)} ms, update ${r.ms_train.toFixed(0)} ms`);
  runs = 0; // per session: its own run count
} else if (kind === 'mlp') {
  const { benchMlp } = await import('../dist/engine/bench/mlp.js');
  const [B = 256, D = 512, H = 2048] = args;
  await benchMlp({ batch: B, in: D, hidden: H, steps: 20, warmup: 3 });
  runs = 23;
} else {
  const { benchLmTrain, benchConfig } = await import('../dist/engine/bench/lm.js');
  const { CausalLM } = await import('../dist/engine/models/model.js');
  const shape = process.env.PROFILE_SHAPE === 'gpt2-small'
    ? { arch: 'gpt2', layers: 12, d: 768, heads: 12, vocab: 50257 } : { arch: 'gpt2', layers: 6, d: 384, heads: 6, vocab: 8192 };
  const m = CausalLM.init(benchConfig(shape), 0, process.env.PROFILE_DEVICE ?? 'cpu');
  if (kind === 'gen') {
    const { generate } = await import('../dist/engine/models/sampler.js');
    const [B = 16, P = 32, N = 32] = args;
    const prompts = Array.from({ length: B }, (_, b) => Array.from({ length: P }, (_, t) => 1 + ((b * 7 + t * 13) % (shape.vocab - 1))));
    await generate(m, prompts, { maxNewTokens: N, temperature: 1, seed: 1 });
    const t0 = performance.now();
    await generate(m, prompts, { maxNewTokens: N, temperature: 1, seed: 2 });
    console.log(`generate ${B}x(${P}+${N}) on ${m.device}: ${(performance.now() - t0).toFixed(0)} ms, ${((performance.now() - t0) / N).toFixed(1)} ms per token (wall, profiling on)`);
    runs = 2 * (N - 1); // decode runs in the decode graph's trace
  } else {
    const [B = 16, T = 128] = args;
    await benchLmTrain(m, { batch: B, seq: T, steps: 3, warmup: 1 });
    runs = 4;
  }
}
for await (const s of loadedSessions()) s.endProfiling();
// Native sessions write their profile when released, a large one over seconds: wait until the traces stop growing.
const traceSizes = () => readdirSync('/tmp').filter((f) => f.startsWith('rrlhf-prof')).map((f) => `${f}:${statSync(`/tmp/${f}`).size}`).join(',');
for (let last = '', i = 0; i < 120; i++) {
  await new Promise((r) => setTimeout(r, 500));
  const now = traceSizes();
  if (now === last) break;
  last = now;
}
const files = readdirSync('/tmp').filter((f) => f.startsWith('rrlhf-prof')).map((f) => `/tmp/${f}`);
files.sort((a, b) => statSync(b).size - statSync(a).size);
if (kind === 'gen') files.forEach((f, i) => report(f, i === 0 ? runs : 0)); // decode, then prefill and the KV cache's merge, per run
else for (const file of kind === 'ppo' ? files.slice(0, 6) : files.slice(0, 1)) report(file, runs);

function report(file, runs) {
const ev = JSON.parse(readFileSync(file, 'utf8'));
const by = new Map();
for (const e of ev) if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) {
  const k = e.args.op_name; const v = by.get(k) ?? { us: 0, n: 0 }; v.us += e.dur; v.n++; by.set(k, v);
}
const rows = [...by].sort((a, b) => b[1].us - a[1].us);
const tot = rows.reduce((a, [, v]) => a + v.us, 0);
const modelRuns = ev.filter((e) => e.cat === 'Session' && e.name === 'model_run');
if (!runs) runs = Math.max(modelRuns.length, 1);
const runMs = modelRuns.reduce((a, e) => a + e.dur, 0) / Math.max(modelRuns.length, 1) / 1000;
// Providers per op: where the nodes ran (a CPU node inside a GPU graph means copies across PCIe).
const providers = new Map();
for (const e of ev) if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) providers.set(e.args.provider, (providers.get(e.args.provider) ?? 0) + 1);
console.log(`${file}: ${(tot / runs / 1000).toFixed(2)} ms/step in kernels; ${modelRuns.length} runs of ${runMs.toFixed(2)} ms on average; nodes by provider ${JSON.stringify(Object.fromEntries(providers))}`);
const cpuOps = new Map();
for (const e of ev) if (e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.args.provider === 'CPUExecutionProvider') cpuOps.set(e.args.op_name, (cpuOps.get(e.args.op_name) ?? 0) + 1);
if (providers.size > 1) console.log(`  on CPU: ${JSON.stringify(Object.fromEntries(cpuOps))}`);
for (const [k, v] of rows.slice(0, 25)) console.log(`  ${k.padEnd(24)} ${(v.us / runs / 1000).toFixed(2)} ms  x${Math.round(v.n / runs)}`);
}
