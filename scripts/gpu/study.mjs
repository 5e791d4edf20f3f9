// A Qwen2.5-0.5B-shaped LoRA study on one device (issue #12's GPU target;
// docs/engine.md § Running on a GPU host): a random-weight Qwen2 folder of the published 0.5B config (24 layers, d 896, 14 heads / 2 KV
// heads, intermediate 4864, vocab 151936, tied embeddings, q/k/v biases), a generated preference
// dataset, and `rrlhf experiment run` of a study with a LoRA policy (r 8 on q_proj, v_proj), its
// reference (the base with adapters off), the value head, a 5-member LoRA reward ensemble and gradient
// checkpointing. Prints one JSON object: the planned memory (experiments' plan on that device), the
// device memory in use sampled with nvidia-smi every 200 ms (the whole GPU, CUDA context included; null
// without nvidia-smi), and the study's wall time and its runs' own timings.
//   node scripts/gpu/study.mjs cuda            (on the GPU host, after npm run build or the bundle)
//   node scripts/gpu/study.mjs cpu tiny        (a dry run of the same path on a small shape)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => path.join(root, 'dist', p);
const { parseHfConfig } = await import(dist('engine/models/config.js'));
const { CausalLM } = await import(dist('engine/models/model.js'));
const { parseSpec } = await import(dist('engine/experiments/spec.js'));
const { studyMemory } = await import(dist('engine/experiments/memory.js'));
const { openStore } = await import(dist('engine/store/index.js'));
const { METRIC } = await import(dist('common/metrics.js'));

const device = process.argv[2] ?? 'cuda';
const tiny = process.argv[3] === 'tiny';
const work = mkdtempSync(path.join(os.tmpdir(), 'rrlhf-gpu-study-'));
const cli = path.join(root, 'bin', 'rrlhf.js');

// Qwen2.5-0.5B's config.json values (the published architecture; the weights here are random).
const hf = {
  model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], hidden_size: tiny ? 64 : 896, intermediate_size: tiny ? 128 : 4864,
  num_hidden_layers: tiny ? 2 : 24, num_attention_heads: tiny ? 4 : 14, num_key_value_heads: 2, vocab_size: tiny ? 1024 : 151936,
  max_position_embeddings: 32768, rope_theta: 1000000, rms_norm_eps: 1e-6, tie_word_embeddings: true, hidden_act: 'silu',
  use_sliding_window: false, sliding_window: 32768, max_window_layers: 21, torch_dtype: 'float32', bos_token_id: 0, eos_token_id: 1,
};
const modelDir = path.join(work, 'model');
await CausalLM.init(parseHfConfig(hf), 0).save(modelDir);
// The project's own Qwen2-layout tokenizer fixture (its ids are within the vocabulary).
for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(root, 'test/fixtures/tokenizers/qwen-bpe-tiny', f), path.join(modelDir, f));

// A generated preference dataset (no download): the chosen response repeats the prompt's number.
const rows = Array.from({ length: 512 }, (_, i) => JSON.stringify({ prompt: `Review ${i}: the item was`, chosen: ` good, ${i % 10} stars`, rejected: ` bad, ${(i + 5) % 10} stars` }));
const dataFile = path.join(work, 'prefs.jsonl');
writeFileSync(dataFile, rows.join('\n') + '\n');
const dataDir = path.join(work, 'data');
const run = (...args) => {
  const r = spawnSync(process.execPath, [cli, ...args, '--data-dir', dataDir, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`rrlhf ${args.join(' ')}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.stdout);
};
const dataset = run('dataset', 'import', dataFile);

const iterations = tiny ? 2 : 4;
const spec = parseSpec({
  name: `gpu study: ${tiny ? 'tiny' : 'Qwen2.5-0.5B'}-shaped LoRA policy, 5 LoRA reward members`,
  world: { name: 'dataset', datasetId: dataset.id, modelDir, maxPromptTokens: tiny ? 16 : 64, maxResponseTokens: tiny ? 8 : 64 },
  ensemble: { method: 'lora', heads: 5, pairs: tiny ? 64 : 384, valPairs: 64 },
  policy: { lora: { r: 8, targetModules: ['q_proj', 'v_proj'] } },
  memory: { gradientCheckpointing: true },
  objectives: [{ name: 'robust λ=0.4', kind: 'robust', lambda: 0.4 }],
  seeds: [0],
  ppo: { iterations, batchSize: 16, miniBatches: 2, epochs: 1 },
  eval: { every: iterations, samples: 16 },
  checkpointEvery: iterations,
});
const specFile = path.join(work, 'spec.json');
writeFileSync(specFile, JSON.stringify(spec, null, 2));
const plan = await studyMemory(spec, device);

// nvidia-smi's memory.used of the GPU while the study runs (MiB), sampled every 200 ms.
const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' }).status === 0;
let peakMiB = null;
const sampler = smi ? spawn('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits', '-lms', '200']) : null;
sampler?.stdout.on('data', (d) => { for (const l of String(d).split('\n')) { const v = Number(l.trim()); if (l.trim() && Number.isFinite(v)) peakMiB = Math.max(peakMiB ?? 0, v); } });
const t0 = Date.now();
const study = await new Promise((resolve, reject) => {
  const p = spawn(process.execPath, [cli, 'experiment', 'run', specFile, '--device', device, '--data-dir', dataDir, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { err += d; });
  p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`experiment run exited ${code}: ${err.trim().split('\n').slice(-4).join(' | ')}`))));
});
const seconds = (Date.now() - t0) / 1000;
sampler?.kill();
const gpu = smi ? spawnSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader'], { encoding: 'utf8' }).stdout.trim() : null;
const fp32 = plan.plans[0];
// Each PPO iteration's own phase times, as the runs recorded them (seconds; median over iterations).
const store = openStore({ dataDir });
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : null; };
const phases = {};
try {
  const ids = (study.runs ?? []).map((r) => r.id);
  for (const [name, key] of [['rollout', METRIC.timeRollout], ['score', METRIC.timeScore], ['train', METRIC.timeTrain]]) {
    phases[name] = median(store.metrics.series(ids, key).flatMap((s) => s.points.map((p) => p.y)).filter((y) => y !== null));
  }
} finally { store.close(); }
process.stdout.write(JSON.stringify({
  device, gpu, shape: tiny ? 'tiny' : 'Qwen2.5-0.5B', params: fp32.parameters.policy,
  planned_mib: fp32.totalBytes / 2 ** 20, planned_host_mib: fp32.hostBytes / 2 ** 20,
  peak_device_mib_nvidia_smi: peakMiB, seconds_total: seconds, iterations,
  seconds_per_iteration: Object.values(phases).every((v) => v !== null) ? phases.rollout + phases.score + phases.train : null, phases_median_s: phases,
  experiment: study.experiment ?? study.id ?? null, runs: study.runs ?? null,
}, null, 1) + '\n');
