import { type Command, UsageError, parse, intOpt, deviceOpt, progress } from '../cli-kit.js';
import { benchMlp } from '../../bench/mlp.js';

export const bench: Command = {
  usage: ['bench mlp [--batch B] [--in D] [--hidden H] [--steps N] [--warmup W]   time a Linear-ReLU-Linear MSE train step with Adam'],
  async run(args, out) {
    const [name, ...rest] = args;
    if (name !== 'mlp') throw new UsageError(`unknown benchmark "${name ?? ''}"; available: mlp`);
    const { values } = parse(rest, { batch: { type: 'string' }, in: { type: 'string' }, hidden: { type: 'string' }, steps: { type: 'string' }, warmup: { type: 'string' } });
    const cfg = {
      batch: intOpt(values.batch, 'batch', 256), in: intOpt(values.in, 'in', 512), hidden: intOpt(values.hidden, 'hidden', 2048),
      steps: intOpt(values.steps, 'steps', 20), warmup: values.warmup === undefined ? 5 : Number(values.warmup), device: deviceOpt(values.device),
    };
    const r = await benchMlp(cfg, progress('bench mlp'));
    out(r, () => `mlp B${cfg.batch} D${cfg.in} H${cfg.hidden} on ${r.device}: ${r.ms_per_step.toFixed(3)} ms/step, ${r.gflops.toFixed(1)} GFLOP/s`);
  },
};
