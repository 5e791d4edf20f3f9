// The `rrlhf` command line. Contract (DESIGN.md, "CLI and service contract"): every command accepts
// --data-dir, --device and --json; with --json exactly one JSON document goes to stdout and progress
// to stderr; exit code 0 on success, otherwise non-zero with a one-line reason on stderr.

import { parseArgs } from 'node:util';
import os from 'node:os';
import { isDeviceRequest, listDevices, type DeviceRequest } from '../runtime/devices.js';
import { benchMlp } from '../bench/mlp.js';

class UsageError extends Error {}

const USAGE = `rrlhf — Robust RLHF Studio command line

Usage: rrlhf <command> [options]

Commands:
  devices                         list compute devices and why any is unavailable
  bench mlp [--batch B] [--in D] [--hidden H] [--steps N] [--warmup W]
                                  time a Linear-ReLU-Linear MSE train step with Adam
  start                           start the app (the desktop UI lands in a later release;
                                  for now prints the engine status)
  help                            this text

Common options: --device auto|cpu|cuda|webgpu|dml|coreml   --json   --data-dir DIR`;

const COMMON = {
  json: { type: 'boolean' },
  device: { type: 'string', default: 'cpu' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function intOpt(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got "${v}"`);
  return n;
}

function deviceOpt(v: string): DeviceRequest {
  if (!isDeviceRequest(v)) throw new UsageError(`--device must be one of auto, cpu, cuda, webgpu, dml, coreml; got "${v}"`);
  return v;
}

/** Progress to stderr as one rewritten line with an ETA. */
function progressBar(label: string) {
  const t0 = Date.now();
  let last = 0;
  return (done: number, total: number) => {
    const now = Date.now();
    if (done < total && now - last < 200) return;
    last = now;
    const el = (now - t0) / 1000;
    const eta = done > 0 ? (el / done) * (total - done) : 0;
    process.stderr.write(`\r${label} ${done}/${total}  ${el.toFixed(1)}s elapsed, ETA ${eta.toFixed(1)}s   ${done === total ? '\n' : ''}`);
  };
}

type Out = (value: unknown, human: () => string) => void;

async function cmdBench(args: string[], out: Out) {
  const [name, ...rest] = args;
  if (name !== 'mlp') throw new UsageError(`unknown benchmark "${name ?? ''}"; available: mlp`);
  const { values } = parseArgs({
    args: rest, strict: true,
    options: { ...COMMON, batch: { type: 'string' }, in: { type: 'string' }, hidden: { type: 'string' }, steps: { type: 'string' }, warmup: { type: 'string' } },
  });
  const cfg = {
    batch: intOpt(values.batch, 'batch', 256), in: intOpt(values.in, 'in', 512), hidden: intOpt(values.hidden, 'hidden', 2048),
    steps: intOpt(values.steps, 'steps', 20), warmup: values.warmup === undefined ? 5 : Number(values.warmup), device: deviceOpt(values.device!),
  };
  const r = await benchMlp(cfg, progressBar('bench mlp'));
  out(r, () => `mlp B${cfg.batch} D${cfg.in} H${cfg.hidden} on ${r.device}: ${r.ms_per_step.toFixed(3)} ms/step, ${r.gflops.toFixed(1)} GFLOP/s`);
}

async function cmdDevices(args: string[], out: Out) {
  parseArgs({ args, strict: true, options: COMMON });
  const devs = await listDevices();
  out(devs, () => devs.map((d) => `${d.available ? '✓' : '✗'} ${d.device.padEnd(7)} ${d.available ? 'available' : d.reason}`).join('\n'));
}

async function cmdStart(args: string[], out: Out) {
  parseArgs({ args, strict: true, options: COMMON });
  const devs = await listDevices();
  const status = {
    app: 'The desktop UI and web mode are not built yet; this release ships the compute engine and its CLI.',
    engine: { node: process.version, platform: `${os.platform()}/${os.arch()}`, cpus: os.cpus().length },
    devices: devs,
    try: ['rrlhf devices', 'rrlhf bench mlp --batch 256 --in 512 --hidden 2048 --steps 20', 'npm test'],
  };
  out(status, () => [
    'Robust RLHF Studio',
    status.app,
    `Engine: Node ${status.engine.node} on ${status.engine.platform}, ${status.engine.cpus} CPU cores`,
    'Devices:',
    ...devs.map((d) => `  ${d.available ? '✓' : '✗'} ${d.device.padEnd(7)} ${d.available ? 'available' : d.reason}`),
    'Try:',
    ...status.try.map((t) => `  ${t}`),
  ].join('\n'));
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const out: Out = (value, human) => { process.stdout.write(json ? JSON.stringify(value) + '\n' : human() + '\n'); };
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'bench': await cmdBench(rest, out); break;
      case 'devices': await cmdDevices(rest, out); break;
      case 'start': await cmdStart(rest, out); break;
      case undefined: case 'help': case '--help': case '-h': process.stdout.write(USAGE + '\n'); break;
      default: throw new UsageError(`unknown command "${cmd}"`);
    }
    return 0;
  } catch (err) {
    const e = err as Error;
    const msg = (e.message || String(e)).split('\n')[0];
    process.stderr.write(`rrlhf: ${msg}${err instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? '\n(see `rrlhf help`)' : ''}\n`);
    return err instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
  }
}
