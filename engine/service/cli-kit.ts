// Shared pieces of the CLI: the Command shape, option parsing helpers, output and progress.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isDeviceRequest, type DeviceRequest } from '../runtime/devices.js';

/** A usage mistake: exit code 2 and a pointer to `rrlhf help`. */
export class UsageError extends Error {}

/** Writes the command's result: one JSON document with --json, else the human rendering. */
export type Out = (value: unknown, human: () => string) => void;

export interface Command {
  /** One line per usage form, shown by `rrlhf help`. */
  usage: string[];
  run(args: string[], out: Out): Promise<void>;
}

/** Options every command accepts (docs/architecture.md § CLI and service contract). */
export const COMMON = {
  json: { type: 'boolean' },
  device: { type: 'string', default: 'cpu' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, positionals = false) {
  return parseArgs({ args, options: { ...COMMON, ...options }, strict: true, allowPositionals: positionals });
}

export function intOpt(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got "${v}"`);
  return n;
}

export function nonNegIntOpt(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got "${v}"`);
  return n;
}

export function deviceOpt(v: string | undefined): DeviceRequest {
  const d = v ?? 'cpu';
  if (!isDeviceRequest(d)) throw new UsageError(`--device must be one of auto, cpu, cuda, webgpu, dml, coreml; got "${d}"`);
  return d;
}

/** Progress on stderr with elapsed time and ETA: a rewritten line on a terminal, a line per ~10% otherwise. */
export function progress(label: string) {
  const t0 = Date.now();
  let last = 0, lastPct = -1;
  const tty = process.stderr.isTTY;
  return (done: number, total: number) => {
    const now = Date.now();
    const pct = Math.floor((done / total) * 10);
    if (done < total && (tty ? now - last < 200 : pct === lastPct)) return;
    last = now; lastPct = pct;
    const el = (now - t0) / 1000;
    const eta = done > 0 ? (el / done) * (total - done) : 0;
    const line = `${label} ${done}/${total}  ${el.toFixed(1)}s elapsed, ETA ${eta.toFixed(1)}s`;
    process.stderr.write(tty ? `\r${line}   ${done === total ? '\n' : ''}` : `${line}\n`);
  };
}
