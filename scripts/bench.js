// `npm run bench`: the engine next to PyTorch eager doing the same work, on this machine, in the same
// run: the MLP train step, a GPT-2-shaped LM train step, KV-cache generation and a PPO iteration.
// Not a test: it prints figures and asserts nothing about time.
//
// For each case it runs `node bin/rrlhf.js bench <name> ... --json` and the matching
// `python3 test/reference/bench_<name>.py ...` (alternating which goes first, so neither always gets the
// cooler or warmer machine), with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from both
// environments, prints a table and writes dist/bench-results.json. PyTorch runs each case twice, with 1
// and with 2 intra-op threads (--threads; OpenBLAS's own pool as the environment leaves it), and the
// faster run is its figure: which setting wins differs by row and by machine load, and a baseline at a
// losing setting would flatter the engine. The table says which setting won and what the other took. `npm run bench -- mlp ppo` runs
// only the named benchmarks; `npm run bench -- smollm2` only the SmolLM2-shaped PPO rows, `-- smollm2-long` those at 2 × (256 + 256) tokens.
// Exit status: non-zero only when the engine fails; a missing PyTorch is reported, not fatal.
// PYTHON=/path/to/python3 picks the interpreter; otherwise the first of python3, /usr/bin/python3
// that can import torch is used.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const GPT2_SMALLISH = ['--layers', '6', '--d', '384', '--heads', '6', '--vocab', '8192'];
// SmolLM2-135M's shape (random weights): a PPO iteration of 16 × (32 + 32) tokens, full fine-tuning
// against LoRA r 8 (q_proj + v_proj) with the same hand-written LoRA in PyTorch, and full fine-tuning
// with gradient checkpointing (torch.utils.checkpoint per layer in PyTorch). One epoch of one
// minibatch and one timed iteration: on a 2-core CPU each run takes minutes.
const SMOLLM2 = ['--arch', 'llama', '--layers', '30', '--d', '576', '--heads', '9', '--kv-heads', '3', '--intermediate', '1536', '--vocab', '49152',
  '--batch', '16', '--prompt-len', '32', '--new-tokens', '32', '--epochs', '1', '--mini-batches', '1', '--iterations', '1'];
// The same shape with long sequences, 2 × (256 + 256) tokens (`npm run bench -- smollm2-long`): where the
// layers' activations are a large part of the update, so checkpointing shows (docs/engine.md § Memory plan).
const SMOLLM2_LONG = [...SMOLLM2.slice(0, SMOLLM2.indexOf('--batch')), '--batch', '2', '--prompt-len', '256', '--new-tokens', '256', '--epochs', '1', '--mini-batches', '1', '--iterations', '1'];
const CASES = [
  { bench: 'mlp', py: 'bench_mlp.py', args: ['--batch', '64', '--in', '64', '--hidden', '256', '--steps', '200'] },
  { bench: 'mlp', py: 'bench_mlp.py', args: ['--batch', '256', '--in', '512', '--hidden', '2048', '--steps', '30'] },
  { bench: 'lm-train', py: 'bench_lm.py', args: [...GPT2_SMALLISH, '--batch', '16', '--seq', '128', '--steps', '3'] },
  { bench: 'generate', py: 'bench_generate.py', args: [...GPT2_SMALLISH, '--batch', '8', '--prompt-len', '16', '--new-tokens', '64'] },
  { bench: 'ppo', py: 'bench_ppo.py', args: ['--iterations', '5'] },
  { bench: 'ppo', py: 'bench_ppo.py', args: [...GPT2_SMALLISH, '--batch', '16', '--prompt-len', '32', '--new-tokens', '32', '--iterations', '2'] },
  { bench: 'ppo', tag: 'smollm2', py: 'bench_ppo.py', args: SMOLLM2 },
  { bench: 'ppo', tag: 'smollm2', py: 'bench_ppo.py', args: [...SMOLLM2, '--lora', '8'] },
  { bench: 'ppo', tag: 'smollm2', py: 'bench_ppo.py', args: [...SMOLLM2, '--gradient-checkpointing'] },
  ...[[], ['--gradient-checkpointing'], ['--lora', '8'], ['--lora', '8', '--gradient-checkpointing']].map((extra) => ({ bench: 'ppo', tag: 'smollm2-long', py: 'bench_ppo.py', args: [...SMOLLM2_LONG, ...extra] })),
].filter((c) => process.argv.length <= 2 || process.argv.slice(2).some((a) => a === c.bench || a === c.tag));
const TIMEOUT_MS = 10 * 60_000;

const env = { ...process.env };
delete env.OPENBLAS_CORETYPE;
delete env.OPENBLAS_L2_SIZE;

const cfgName = (c) => `${c.bench} ${c.args.filter((a) => !/--(steps|iterations)/.test(a)).join(' ').replace(/--/g, '')}`;

/** Runs a command that prints one JSON document on stdout; returns {ok, json} or {ok:false, error}. */
function runJson(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', timeout: TIMEOUT_MS, maxBuffer: 16 << 20 });
  const stderr = (r.stderr ?? '').trim();
  if (r.error) return { ok: false, error: r.error.message };
  if (r.status !== 0) {
    const why = stderr.split('\n').filter((l) => l.trim()).slice(-3).join(' | ') || `exit status ${r.status ?? r.signal}`;
    return { ok: false, error: why };
  }
  const out = (r.stdout ?? '').trim();
  for (const text of [out, out.split('\n').filter((l) => l.trim()).pop() ?? '']) {
    try {
      return { ok: true, json: JSON.parse(text) };
    } catch { /* try the last line */ }
  }
  return { ok: false, error: `output is not JSON: ${out.slice(0, 200)}` };
}

function findTorchPython() {
  const candidates = [...new Set([process.env.PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean))];
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch'], { env, stdio: 'ignore', timeout: 60_000 });
    if (r.status === 0) return py;
  }
  return undefined;
}

const cpus = os.cpus();
const machine = {
  cpu: cpus[0]?.model?.trim() ?? 'unknown',
  cores: cpus.length,
  platform: `${process.platform}/${process.arch}`,
  node: process.version,
};
console.log(`Machine: ${machine.cpu}, ${machine.cores} logical cores, ${machine.platform}, Node ${machine.node}`);

const python = findTorchPython();
if (!python) {
  console.log('PyTorch baseline: not found (no python3 that can `import torch`). Engine figures only.');
  console.log('  Debian/Ubuntu: sudo apt-get install python3-torch libopenblas0-pthread');
  console.log('  or set PYTHON=/path/to/python-with-torch');
} else {
  console.log(`PyTorch baseline: ${python} test/reference/bench_*.py`);
}
console.log('');

const engineRun = (c) => runJson(process.execPath, [path.join(root, 'bin', 'rrlhf.js'), 'bench', c.bench, ...c.args, '--json']);
const torchRun = (c, threads) => runJson(python, [path.join(root, 'test', 'reference', c.py), ...c.args, '--threads', String(threads)]);
/** PyTorch intra-op thread counts each case runs at; the fastest is the baseline. */
const TORCH_THREADS = [1, 2];
// generate reports a whole generation (ms_total); the others a step or an iteration (ms_per_step).
const ms = (r) => Number(r?.ms_per_step ?? r?.ms_total);

// This machine's fp32 GEMM rate, the ceiling for the matmul-bound rows: one [1024, 1024] @ [1024, 1024]
// product (2·1024³ FLOPs) in an ORT session made as the engine makes them (`rrlhf bench gemm`), and the
// same torch.mm. Each row's "share of GEMM" is its engine GFLOP/s over the ORT figure; a row's FLOP count
// is the matmul work of its shapes (engine/bench/mlp.ts and lm.ts: forward matmuls, ×3 with the backward
// pass; generation: prompt pass + one decode step per further token). PPO rows mix rollout, scoring and
// updates and report none.
process.stderr.write('  running the GEMM probe ...\n');
const gemm = runJson(process.execPath, [path.join(root, 'bin', 'rrlhf.js'), 'bench', 'gemm', '--n', '1024', '--json']);
const TORCH_GEMM = `import json, time, torch
a = torch.randn(1024, 1024); b = torch.randn(1024, 1024); torch.mm(a, b)
ts = []
for _ in range(15):
    t0 = time.perf_counter(); torch.mm(a, b); ts.append(time.perf_counter() - t0)
print(json.dumps({"gflops": 2 * 1024 ** 3 / sorted(ts)[7] / 1e9, "threads": torch.get_num_threads()}))`;
const torchGemm = python ? runJson(python, ['-c', TORCH_GEMM]) : { ok: false, error: 'PyTorch not installed' };
const gemmGflops = gemm.ok ? gemm.json.gflops : null;

const results = [];
let engineFailed = false;
CASES.forEach((c, i) => {
  const order = i % 2 === 0 ? ['engine', 'pytorch'] : ['pytorch', 'engine'];
  const got = {};
  const torchByThreads = {};
  for (const which of order) {
    if (which === 'pytorch' && !python) continue;
    if (which === 'engine') {
      process.stderr.write(`  running engine ${cfgName(c)} ...\n`);
      got.engine = engineRun(c);
      if (!got.engine.ok) { console.error(`engine failed on ${cfgName(c)}: ${got.engine.error}`); engineFailed = true; }
      continue;
    }
    for (const threads of i % 2 === 0 ? TORCH_THREADS : [...TORCH_THREADS].reverse()) {
      process.stderr.write(`  running pytorch (${threads} thread${threads > 1 ? 's' : ''}) ${cfgName(c)} ...\n`);
      const r = torchRun(c, threads);
      if (!r.ok) { console.error(`pytorch (${threads} threads) failed on ${cfgName(c)}: ${r.error}`); got.pytorch ??= r; continue; }
      torchByThreads[threads] = ms(r.json);
      if (!got.pytorch?.ok || ms(r.json) < ms(got.pytorch.json)) got.pytorch = r;
    }
  }
  const engine = got.engine?.ok ? got.engine.json : undefined;
  const pytorch = got.pytorch?.ok ? got.pytorch.json : undefined;
  const engineMs = ms(engine);
  const torchMs = ms(pytorch);
  const engineGflops = Number(engine?.gflops ?? NaN);
  results.push({
    config: c,
    order,
    engine: engine ?? { error: got.engine?.error },
    pytorch: pytorch ?? (python ? { error: got.pytorch?.error } : { error: 'PyTorch not installed' }),
    pytorch_ms_by_threads: torchByThreads,
    speedup: engineMs > 0 && torchMs > 0 ? torchMs / engineMs : null,
    engine_gflops: Number.isFinite(engineGflops) ? engineGflops : null,
  });
});

const fmt = (v, d = 2) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '-');
const rows = [
  ['benchmark', 'engine ms', 'pytorch ms', 'pytorch threads (other)', 'speedup', 'engine GFLOP/s', 'share of GEMM', 'engine peak MB', 'pytorch peak MB'],
  ...results.map((r) => [
    cfgName(r.config),
    fmt(r.engine.ms_per_step ?? r.engine.ms_total, 3),
    fmt(r.pytorch.ms_per_step ?? r.pytorch.ms_total, 3),
    r.pytorch.threads == null ? '-' : `${r.pytorch.threads} (${Object.entries(r.pytorch_ms_by_threads).filter(([t]) => Number(t) !== r.pytorch.threads).map(([t, v]) => `${t}: ${fmt(v, 1)} ms`).join(', ') || '-'})`,
    r.speedup == null ? '-' : `${fmt(r.speedup)}x`,
    fmt(r.engine_gflops, 1),
    r.engine_gflops != null && gemmGflops ? `${fmt((100 * r.engine_gflops) / gemmGflops, 0)} %` : '-',
    fmt(r.engine.peak_memory_mb, 0),
    fmt(r.pytorch.peak_memory_mb, 0),
  ]),
];
const widths = rows[0].map((_, j) => Math.max(...rows.map((row) => row[j].length)));
console.log('');
for (const [k, row] of rows.entries()) {
  console.log(row.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]) : cell.padStart(widths[j]))).join('  '));
  if (k === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
console.log(`\nfp32 GEMM 1024³ on this machine: ORT ${gemm.ok ? `${fmt(gemmGflops, 1)} GFLOP/s` : `failed (${gemm.error})`}, torch.mm ${torchGemm.ok ? `${fmt(torchGemm.json.gflops, 1)} GFLOP/s (${torchGemm.json.threads} threads)` : `- (${torchGemm.error})`}; share of GEMM = engine GFLOP/s / ORT's.`);
console.log(`\nms: per train step (mlp, lm-train), per whole generation (generate), per PPO iteration (ppo).\nspeedup = PyTorch ms / engine ms (above 1: the engine is faster); PyTorch ms is its faster run of ${TORCH_THREADS.join(' and ')} intra-op threads (the one named; in brackets the other).\npeak MB (ppo): each process's peak_memory_source (host RSS on CPU).`);
const t = results.find((r) => r.pytorch.threads != null)?.pytorch;
if (t) console.log(`PyTorch ${t.torch_version}: BLAS threads ${t.blas_threads ?? 'unknown'} (OpenBLAS's pool as the environment leaves it).`);

const outFile = path.join(root, 'dist', 'bench-results.json');
mkdirSync(path.dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify({ date: new Date().toISOString(), machine, python: python ?? null, gemm: { onnxruntime: gemm.ok ? gemm.json : { error: gemm.error }, torch: torchGemm.ok ? torchGemm.json : { error: torchGemm.error } }, results }, null, 2) + '\n');
console.log(`Results written to ${path.relative(process.cwd(), outFile) || outFile}`);

if (engineFailed) {
  console.error('The engine failed on at least one config (see above).');
  process.exitCode = 1;
}
