// The memory plan (engine/models/memory.ts, docs/engine.md § Memory plan) against the real peak: a
// child process (test/util/memory-probe.ts) builds a study's models as the runner does and runs two
// PPO iterations scored by the reward ensemble (or trains a BRME or independent ensemble for an epoch); its peak RSS (process.resourceUsage().maxRSS) minus
// the peak of the same run on a model of a few hundred parameters (Node, ONNX Runtime, the compiled
// graphs' fixed costs) is compared with the plan's total minus the plan of that tiny model.
//
// Tolerance: measured / planned within [0.5, 1.5], for each study and for what LoRA saves (full
// fine-tuning minus LoRA). Measured on the 2-core build machine (December 2026) over five small studies
// (Llama GQA and GPT-2, full fine-tuning and LoRA, BRME and independent ensembles): 0.83–1.14, and 0.79
// for the saving; since CPU sessions run without ORT's memory pattern and GELU / LayerNorm are fused
// kernels (docs/engine.md § Fused kernels) the same studies hold less: 0.59–0.93 (the GPT-2 LoRA
// study lowest), so the lower bound went from 0.6 to 0.5 — the plan stays an upper estimate there; once by hand at SmolLM2-135M's shape (full fine-tuning, BRME K 2, 4 × (32 + 32)
// tokens): 6.35 GiB measured for 9.6 planned, 0.66 — the arena-growth term is an upper estimate that
// large tensors do not reach (without it the plan was 0.93 there). The spread is ONNX Runtime's arena,
// which the plan counts as up to a phase's tensors again but which held 0.4–1.6 times them at the small
// sizes, and when V8 releases the replaced weight buffers. The test fails on a plan that leaves out the
// arena growth (the LoRA studies then measure 1.8× and 2.0× the plan) or the LM head's or the layers'
// activations; smaller terms (the 27 MB reference copy here) are inside the tolerance and are checked
// by the unit tests (test/unit/memory-plan.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHfConfig } from '../../engine/models/config.js';
import { ppoMemoryPlan, ensembleTrainPlan, type PpoShape, type EnsembleShape } from '../../engine/models/memory.js';

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'util', 'memory-probe.js');
// With CPU outputs kept in ONNX Runtime's memory (native binding) the GPT-2 LoRA study measured 386 MB
// for 701 planned (0.55; 427 MB, 0.61, through onnxruntime-node).
const TOLERANCE = { low: 0.5, high: 1.5 };
const MB = 2 ** 20;

async function peak(config: Record<string, unknown>, shape: PpoShape | { ensemble: EnsembleShape }): Promise<number> {
  const job = 'ensemble' in shape && !('batch' in shape) ? { config, ensemble: shape.ensemble } : { config, shape, iterations: 2 };
  const { stdout } = await promisify(execFile)(process.execPath, [PROBE, JSON.stringify(job)], {
    // one intra-op thread: the build machine's 2 cores are shared, and thread pools do not change what is held
    env: { ...process.env, RRLHF_THREADS: '1' }, maxBuffer: 1 << 20,
  });
  return (JSON.parse(stdout) as { maxRssBytes: number }).maxRssBytes;
}

const plan = (config: Record<string, unknown>, shape: PpoShape) => ppoMemoryPlan(parseHfConfig(config), shape).totalBytes;

const LLAMA = { model_type: 'llama', vocab_size: 8192, hidden_size: 256, intermediate_size: 704, num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 4 };
const LLAMA_TINY = { model_type: 'llama', vocab_size: 16, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1 };
const GPT2 = { model_type: 'gpt2', vocab_size: 8192, n_embd: 256, n_layer: 4, n_head: 8, n_positions: 128 };
const GPT2_TINY = { model_type: 'gpt2', vocab_size: 16, n_embd: 8, n_layer: 1, n_head: 2, n_positions: 128 };

test('the PPO memory plan is within its tolerance of the measured peak RSS on the CPU', { timeout: 300_000 }, async () => {
  const llama: PpoShape = { batch: 8, miniBatches: 2, promptTokens: 16, responseTokens: 16, lora: null, ensemble: { method: 'brme', heads: 5 } };
  const llamaLora: PpoShape = { ...llama, lora: { r: 8, targetModules: ['q_proj', 'v_proj'] } };
  const gpt2: PpoShape = { batch: 16, miniBatches: 1, promptTokens: 32, responseTokens: 16, lora: { r: 8, targetModules: ['c_attn'] }, ensemble: { method: 'independent', heads: 3 } };
  const cases = [
    { name: 'llama GQA, full fine-tuning, BRME K 5', config: LLAMA, tiny: LLAMA_TINY, shape: llama },
    { name: 'llama GQA, LoRA r 8, BRME K 5', config: LLAMA, tiny: LLAMA_TINY, shape: llamaLora },
    { name: 'gpt2, LoRA r 8, independent K 3, 16 × 48 tokens', config: GPT2, tiny: GPT2_TINY, shape: gpt2 },
  ];
  const baselines = new Map<string, number>();
  const results: { name: string; measured: number; planned: number }[] = [];
  for (const c of cases) {
    const key = JSON.stringify([c.tiny, c.shape.batch, c.shape.promptTokens, c.shape.responseTokens, c.shape.ensemble]);
    // The baseline runs the same study shape (LoRA targets need the family's module names) on the tiny model.
    const tinyShape = { ...c.shape, lora: c.shape.lora ? { ...c.shape.lora, r: 1 } : null };
    if (!baselines.has(key)) baselines.set(key, await peak(c.tiny, tinyShape));
    const measured = (await peak(c.config, c.shape)) - baselines.get(key)!;
    const planned = plan(c.config, c.shape) - plan(c.tiny, tinyShape);
    results.push({ name: c.name, measured, planned });
  }
  const report = results.map((r) => `${r.name}: measured ${(r.measured / MB).toFixed(0)} MB, planned ${(r.planned / MB).toFixed(0)} MB, ratio ${(r.measured / r.planned).toFixed(2)}`).join('\n');
  console.log(report);
  for (const r of results) {
    const ratio = r.measured / r.planned;
    assert.ok(ratio >= TOLERANCE.low && ratio <= TOLERANCE.high, `${r.name}: measured / planned = ${ratio.toFixed(2)}, outside [${TOLERANCE.low}, ${TOLERANCE.high}]\n${report}`);
  }
  // What LoRA saves (the reference copy, the base's gradients, moments and step outputs), measured and planned.
  const saved = { measured: results[0]!.measured - results[1]!.measured, planned: results[0]!.planned - results[1]!.planned };
  const ratio = saved.measured / saved.planned;
  assert.ok(ratio >= TOLERANCE.low && ratio <= TOLERANCE.high, `full fine-tuning minus LoRA: measured ${(saved.measured / MB).toFixed(0)} MB, planned ${(saved.planned / MB).toFixed(0)} MB (ratio ${ratio.toFixed(2)})`);
});

test('gradient checkpointing: the checkpointed plan is within the tolerance of the measured peak, and the measured peak falls', { timeout: 300_000 }, async () => {
  // Eight layers and 8 × 128 tokens in one minibatch, a small vocabulary: the layers' activations are
  // most of the update, so keeping only their inputs shows.
  const deep = { ...LLAMA, vocab_size: 512, num_hidden_layers: 8 };
  const shape: PpoShape = { batch: 8, miniBatches: 1, promptTokens: 96, responseTokens: 32, lora: null, ensemble: { method: 'brme', heads: 2 } };
  const base = await peak(LLAMA_TINY, shape);
  const rows = [];
  for (const checkpointing of [false, true]) {
    const s = { ...shape, checkpointing };
    rows.push({ checkpointing, measured: (await peak(deep, s)) - base, planned: plan(deep, s) - plan(LLAMA_TINY, shape) });
  }
  const report = rows.map((r) => `checkpointing ${r.checkpointing}: measured ${(r.measured / MB).toFixed(0)} MB, planned ${(r.planned / MB).toFixed(0)} MB, ratio ${(r.measured / r.planned).toFixed(2)}`).join('\n');
  console.log(report);
  for (const r of rows) {
    const ratio = r.measured / r.planned;
    assert.ok(ratio >= TOLERANCE.low && ratio <= TOLERANCE.high, `${report}`);
  }
  // Measured on the build machine: 754 → 572 MB in all (the plan: 941 → 572). Fails if the recompute
  // keeps the forward pass's activations alive (ORT's order, or the copy merged back into the forward).
  const [off, on] = rows as [typeof rows[0], typeof rows[0]];
  assert.ok(off.measured - on.measured > 0.25 * (off.planned - on.planned), `checkpointing saved ${((off.measured - on.measured) / MB).toFixed(0)} MB of a planned ${((off.planned - on.planned) / MB).toFixed(0)} MB\n${report}`);
});

test('the ensemble-training plan is within the same tolerance of the measured peak RSS', { timeout: 300_000 }, async () => {
  for (const method of ['brme', 'independent'] as const) {
    const shape: EnsembleShape = { method, heads: 3, batchPairs: 16, tokens: 32 };
    const measured = (await peak(LLAMA, { ensemble: shape })) - (await peak(LLAMA_TINY, { ensemble: shape }));
    const planned = ensembleTrainPlan(parseHfConfig(LLAMA), shape).totalBytes - ensembleTrainPlan(parseHfConfig(LLAMA_TINY), shape).totalBytes;
    const ratio = measured / planned;
    console.log(`ensemble training, ${method} K 3, 16 pairs of 32 tokens: measured ${(measured / MB).toFixed(0)} MB, planned ${(planned / MB).toFixed(0)} MB, ratio ${ratio.toFixed(2)}`);
    assert.ok(ratio >= TOLERANCE.low && ratio <= TOLERANCE.high, `${method}: measured / planned = ${ratio.toFixed(2)}`);
  }
});

test('per phase (rrlhf bench ppo\'s probe): the scoring and update phases grow RSS by no more than the plan gives them, at an optimizer-bound and an activation-bound shape', { timeout: 300_000 }, async () => {
  // The update's growth is summed over three iterations (warm-up and two timed): on the CPU it keeps
  // growing after the first step (likely the previous step's outputs, freed only when V8 collects their
  // handles: docs/engine.md § Memory plan). The AdamW moments are created by the
  // first step, so the update's growth is compared with the plan's train phase plus the resident moments.
  // Measured on the 2-core build machine (shared, one run each): full fine-tuning 0.74 (0.79 checkpointed),
  // LoRA 0.38 (0.32) of the plan's update; scoring 0.56 of its plan. The bound is the plan's, 1.0: a plan
  // whose update counted max(activations, optimizer step) without the arena growth would measure 1.6 at the
  // full-fine-tuning shape. The rollout is left out: at these sizes its growth is mostly the compiled
  // graphs' fixed costs (13–30 MB for 5–12 planned).
  const { repoRoot } = await import('../util/paths.js');
  const model = ['--arch', 'llama', '--layers', '4', '--d', '256', '--heads', '8', '--kv-heads', '4', '--intermediate', '704', '--vocab', '8192', '--epochs', '1', '--mini-batches', '1', '--iterations', '2', '--json'];
  const cases = [
    { name: 'full fine-tuning, 8 × (16 + 16) (the optimizer step leads)', args: ['--batch', '8', '--prompt-len', '16', '--new-tokens', '16'], lora: false },
    { name: 'LoRA r 8, 2 × (128 + 128) (the activations and LM head lead)', args: ['--batch', '2', '--prompt-len', '128', '--new-tokens', '128', '--lora', '8'], lora: true },
  ];
  type Peak = { start_mb: number; peak_mb: number };
  const lines: string[] = [];
  for (const c of cases) {
    for (const ckpt of [false, true]) {
      const { stdout } = await promisify(execFile)(process.execPath, [path.join(repoRoot, 'bin/rrlhf.js'), 'bench', 'ppo', ...model, ...c.args, ...(ckpt ? ['--gradient-checkpointing'] : [])], { env: { ...process.env, RRLHF_THREADS: '1' }, maxBuffer: 1 << 20 });
      const r = JSON.parse(stdout) as { memory_mb_by_iteration: Record<'score' | 'train', Peak>[]; planned_memory_mb_by_phase: Record<'score' | 'train', number>; lora: { trainable_params: number } | null; params: number };
      const growth = (p: 'score' | 'train') => r.memory_mb_by_iteration.reduce((a, it) => a + Math.max(0, it[p].peak_mb - it[p].start_mb), 0);
      const moments = ((r.lora ? r.lora.trainable_params : r.params) * 8) / MB;
      const ratios = { score: growth('score') / r.planned_memory_mb_by_phase.score, train: growth('train') / (r.planned_memory_mb_by_phase.train + moments) };
      lines.push(`${c.name}${ckpt ? ', checkpointed' : ''}: scoring ${growth('score').toFixed(0)} MB of ${r.planned_memory_mb_by_phase.score.toFixed(0)} planned (${ratios.score.toFixed(2)}), update ${growth('train').toFixed(0)} MB of ${(r.planned_memory_mb_by_phase.train + moments).toFixed(0)} (${ratios.train.toFixed(2)})`);
      for (const [p, v] of Object.entries(ratios)) assert.ok(v > 0.15 && v <= 1, `${p}: measured / planned ${v.toFixed(2)}, outside (0.15, 1]\n${lines.join('\n')}`);
    }
  }
  console.log(lines.join('\n'));
});
