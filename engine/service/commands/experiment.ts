// `rrlhf experiment run|resume` and `rrlhf quickstart`: paired studies from the command line.
import { type Command, UsageError, parse, intOpt, deviceOpt } from '../cli-kit.js';
import { openStore, resolveDataDir } from '../../store/index.js';
import { readSpecFile, parseSpec, type ExperimentSpec } from '../../experiments/spec.js';
import { runExperiment, resumeExperiment, type ProgressEvent, type ExperimentResult, type RunnerOptions } from '../../experiments/runner.js';
import { METRIC } from '../../../common/metrics.js';
import { presetSpec } from '../presets.js';

/** Progress lines on stderr: phase messages, and one line per PPO iteration with ETA. */
function reporter() {
  let lastPhase = '';
  return (e: ProgressEvent) => {
    if (e.phase === 'ppo') {
      const m = e.metrics ?? {};
      const gold = m[METRIC.goldTrain], kl = m[METRIC.objectiveKl];
      process.stderr.write(`[ppo] ${e.message}  gold ${gold?.toFixed(3) ?? '–'}  kl ${kl?.toFixed(2) ?? '–'}  ETA ${(e.etaS ?? 0).toFixed(0)}s\n`);
    } else if (e.message !== lastPhase) {
      process.stderr.write(`[${e.phase}] ${e.message}\n`);
      lastPhase = e.message;
    }
  };
}

function human(r: ExperimentResult): string {
  const lines = [`experiment ${r.experiment}`];
  for (const run of r.runs) {
    const gold = Number.isFinite(run.final.gold) ? `final gold ${run.final.gold.toFixed(3)} ` : '';
    const peakGold = Number.isFinite(run.peak.gold) ? `; peak gold ${run.peak.gold.toFixed(3)} at ${run.peak.step}` : '';
    lines.push(`  run ${run.id} ${run.objective.padEnd(10)} seed ${run.seed}: ${gold}proxy ${run.final.proxy.toFixed(3)} kl ${run.final.kl.toFixed(2)}${peakGold}${run.onset !== null ? `; hacking onset at ${run.onset}` : ''}`);
  }
  for (const c of r.comparisons) {
    const what = c.metric === 'final_gold' ? 'final gold' : 'ensemble-mean reward at matched KL (no gold)';
    lines.push(`  ${c.a} − ${c.b}, ${what}: ${c.mean.toFixed(3)} ${Number.isFinite(c.lo) ? `[${c.lo.toFixed(3)}, ${c.hi.toFixed(3)}] 95% paired t interval${c.significant ? '' : ' (not significant)'}` : '(no interval)'}${c.warning ? `\n    warning: ${c.warning}` : ''}`);
  }
  return lines.join('\n');
}

/** Runs (or resumes) with Ctrl+C stopping after the current iteration, so the run can be resumed. */
async function run(values: Record<string, unknown>, go: (o: RunnerOptions) => Promise<ExperimentResult>) {
  const dataDir = resolveDataDir(values['data-dir'] as string | undefined);
  const store = openStore({ dataDir });
  const ac = new AbortController();
  const stop = () => { process.stderr.write('\nstopping after the current iteration (the run can be resumed)…\n'); ac.abort(); };
  process.once('SIGINT', stop);
  try {
    return await go({ store, dataDir, device: deviceOpt(values.device as string | undefined), onProgress: reporter(), signal: ac.signal });
  } finally {
    process.off('SIGINT', stop);
    store.close();
  }
}

export const experiment: Command = {
  usage: [
    'experiment run SPEC.(json|yaml) [--lora R --lora-targets q_proj,v_proj [--lora-alpha A] [--lora-dropout P]] [--gradient-checkpointing] [--precision fp32|bf16|fp16]',
    '                                  run a paired study (objectives × seeds) and print its summary; --lora trains',
    '                                  LoRA adapters on the named HF modules instead of every weight (spec key policy.lora);',
    '                                  --gradient-checkpointing recomputes each layer in the backward pass (memory.gradientCheckpointing);',
    '                                  --precision bf16|fp16 runs the policy under mixed precision (memory.precision; bf16 on CUDA only)',
    'experiment resume ID              continue an experiment\'s unfinished runs from their last checkpoints',
  ],
  async run(args, out) {
    const [sub, ...rest] = args;
    if (sub === 'run') {
      const { values, positionals } = parse(rest, { lora: { type: 'string' }, 'lora-targets': { type: 'string' }, 'lora-alpha': { type: 'string' }, 'lora-dropout': { type: 'string' }, 'gradient-checkpointing': { type: 'boolean' }, precision: { type: 'string' } }, true);
      if (positionals.length !== 1) throw new UsageError('usage: rrlhf experiment run SPEC.(json|yaml)');
      let spec = await readSpecFile(positionals[0]!);
      if (values.lora !== undefined) {
        const targets = typeof values['lora-targets'] === 'string' ? values['lora-targets'].split(',').map((t) => t.trim()).filter(Boolean) : [];
        if (!targets.length) throw new UsageError('--lora needs --lora-targets, the HF module names to adapt (e.g. q_proj,v_proj or c_attn)');
        const alpha = values['lora-alpha'] === undefined ? undefined : Number(values['lora-alpha']);
        const dropout = values['lora-dropout'] === undefined ? undefined : Number(values['lora-dropout']);
        // Through the schema again, so the flag is validated and defaulted exactly as the spec key.
        spec = parseSpec({ ...spec, policy: { lora: { r: intOpt(values.lora, 'lora', 8), targetModules: targets, ...(alpha === undefined ? {} : { alpha }), ...(dropout === undefined ? {} : { dropout }) } } }, '--lora');
      } else if (values['lora-targets'] !== undefined || values['lora-alpha'] !== undefined || values['lora-dropout'] !== undefined) throw new UsageError('--lora-targets, --lora-alpha and --lora-dropout need --lora R');
      if (values['gradient-checkpointing'] === true) spec = parseSpec({ ...spec, memory: { ...spec.memory, gradientCheckpointing: true } }, '--gradient-checkpointing');
      if (values.precision !== undefined) spec = parseSpec({ ...spec, memory: { ...spec.memory, precision: values.precision } }, '--precision');
      const r = await run(values, (o) => runExperiment(spec, o));
      out(r, () => human(r));
    } else if (sub === 'resume') {
      const { values, positionals } = parse(rest, {}, true);
      const id = Number(positionals[0]);
      if (positionals.length !== 1 || !Number.isInteger(id)) throw new UsageError('usage: rrlhf experiment resume ID');
      const r = await run(values, (o) => resumeExperiment(id, o));
      out(r, () => human(r));
    } else {
      throw new UsageError(`unknown subcommand "experiment ${sub ?? ''}"; available: run, resume`);
    }
  },
};

export const quickstart: Command = {
  usage: ['quickstart [--seeds N] [--steps S]   the wizard\'s Quick study on the Goodhart lab: standard (single RM) vs robust (λ = 0.4) and the mean of 5 independent RMs'],
  async run(args, out) {
    const { values } = parse(args, { seeds: { type: 'string' }, steps: { type: 'string' } });
    const seeds = intOpt(values.seeds, 'seeds', 2), steps = intOpt(values.steps, 'steps', 60);
    // The wizard's Quick preset, with the seeds and iterations asked for.
    const q = presetSpec('quick');
    const spec = parseSpec({ ...q, name: `quickstart: ${q.name}`, seeds: Array.from({ length: seeds }, (_, i) => i), ppo: { ...q.ppo, iterations: steps } }, 'quickstart');
    const r = await run(values, (o) => runExperiment(spec, o));
    out(r, () => human(r));
  },
};
