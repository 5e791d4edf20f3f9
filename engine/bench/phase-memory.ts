// Peak resident memory per phase of a run (docs/engine.md § Memory plan): Linux
// keeps a process's RSS high-water mark (VmHWM in /proc/self/status) and resets it to the current RSS
// when "5" is written to /proc/self/clear_refs, so resetting at each phase's start and reading at its end
// gives that phase's peak. getrusage's maxRSS reads the same mark, so after a reset it no longer holds the
// whole run's peak: the probe carries that maximum itself. Where /proc is absent (macOS, Windows) or the
// reset is refused, `PhaseMemory.open` says why instead.
import { readFileSync, writeFileSync } from 'node:fs';

const STATUS = '/proc/self/status';
const CLEAR_REFS = '/proc/self/clear_refs';

/** kB of the VmHWM or VmRSS line of /proc/self/status. */
function statusKb(key: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${key}:\\s*(\\d+)\\s*kB`, 'm').exec(readFileSync(STATUS, 'utf8'));
  if (!m) throw new Error(`${STATUS} has no ${key} line`);
  return Number(m[1]);
}

export interface PhasePeak { start_mb: number; peak_mb: number }

export class PhaseMemory<P extends string> {
  /** Highest VmHWM read so far, the run's peak before the first reset included (kB). */
  private overallKb: number;
  private current: { phase: P; startKb: number } | null = null;
  /** One record per iteration: each phase's RSS at its start and its peak. */
  readonly iterations: Partial<Record<P, PhasePeak>>[] = [];

  private constructor() { this.overallKb = statusKb('VmHWM'); }

  /** A probe, or why there is none on this system. The first reset is tried here, so a refusal shows now. */
  static open<P extends string>(): PhaseMemory<P> | { unavailable: string } {
    try {
      const p = new PhaseMemory<P>();
      writeFileSync(CLEAR_REFS, '5');
      return p;
    } catch (e) {
      return { unavailable: `no per-phase peaks: ${process.platform === 'linux' ? '' : `${process.platform} has no /proc; `}${(e as Error).message.split('\n')[0]}` };
    }
  }

  /** Starts a new iteration's record. */
  iteration(): void { this.end(); this.iterations.push({}); }

  /** Ends the running phase (if any) and starts `phase` with a fresh high-water mark. */
  begin(phase: P): void {
    this.end();
    if (!this.iterations.length) this.iterations.push({});
    writeFileSync(CLEAR_REFS, '5');
    this.current = { phase, startKb: statusKb('VmRSS') };
  }

  /** Ends the running phase: its peak is the high-water mark since its reset. */
  end(): void {
    if (!this.current) return;
    const hwm = statusKb('VmHWM');
    this.overallKb = Math.max(this.overallKb, hwm);
    const rec = this.iterations.at(-1)!;
    const prev = rec[this.current.phase];
    // A phase entered twice in one iteration (not the PPO iteration's case) keeps its first start and the higher peak.
    rec[this.current.phase] = { start_mb: prev?.start_mb ?? this.current.startKb / 1024, peak_mb: Math.max(prev?.peak_mb ?? 0, hwm / 1024) };
    this.current = null;
  }

  /** The phase now running, or null. */
  get phase(): P | null { return this.current?.phase ?? null; }

  /** The run's peak RSS in MB: every phase's and what came before the first reset. */
  overallMb(): number { return Math.max(this.overallKb, statusKb('VmHWM')) / 1024; }

  /** Each phase's highest peak over the iterations recorded (MB). */
  peaks(): Partial<Record<P, number>> {
    const out: Partial<Record<P, number>> = {};
    for (const rec of this.iterations) for (const [k, v] of Object.entries(rec) as [P, PhasePeak][]) out[k] = Math.max(out[k] ?? 0, v.peak_mb);
    return out;
  }
}
