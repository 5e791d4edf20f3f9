// Metrics: one scalar per (run, key, step), e.g. `objective/kl`, `gold`, `ensemble/std` (docs/method.md § PPO).
// Appends are batched (one transaction per call) and idempotent per (run, key, step), so a resumed run
// that redoes a step overwrites rather than duplicates. Reads give curves for overlays (x = step or
// √KL) and seed bands (mean ± std across runs with the same objective).
import type { DB } from './db.js';
import { METRIC, type MetricKey } from '../../common/metrics.js';

/** A step's metrics: key → value. NaN is stored as NULL and read back as null. */
export type MetricRecord = Record<string, number>;

export type XAxis = 'step' | 'sqrt_kl';

export interface SeriesPoint {
  step: number;
  x: number;
  y: number | null;
}

export interface Series {
  runId: number;
  key: string;
  x: XAxis;
  points: SeriesPoint[];
}

export interface BandPoint {
  step: number;
  mean: number;
  /** Sample standard deviation (n − 1); 0 when n = 1. */
  std: number;
  n: number;
  min: number;
  max: number;
}

export interface Band {
  objective: string;
  runIds: number[];
  points: BandPoint[];
}

/** The KL metric that √KL is computed from, unless a caller names another (TRL's name). */
export const DEFAULT_KL_KEY: MetricKey = METRIC.objectiveKl;

const toDb = (v: number) => (Number.isNaN(v) ? null : v);

export class MetricRepo {
  private readonly ins;

  constructor(private readonly db: DB) {
    this.ins = db.prepare('INSERT OR REPLACE INTO metrics (run_id, key, step, value) VALUES (?, ?, ?, ?)');
  }

  /** Writes one step's metrics in one transaction. */
  append(runId: number, step: number, record: MetricRecord): void {
    this.appendMany(runId, [{ step, record }]);
  }

  /** Writes several steps' metrics in one transaction (a runner buffers a few steps between flushes). */
  appendMany(runId: number, steps: readonly { step: number; record: MetricRecord }[]): void {
    const tx = this.db.transaction(() => {
      for (const { step, record } of steps) {
        if (!Number.isInteger(step) || step < 0) throw new Error(`metric step must be a non-negative integer, got ${step}`);
        for (const [key, value] of Object.entries(record)) {
          if (typeof value !== 'number') throw new Error(`metric "${key}" at step ${step} is ${typeof value}, expected a number`);
          this.ins.run(runId, key, step, toDb(value));
        }
      }
    });
    tx.immediate();
  }

  keys(runId: number): string[] {
    return this.db.prepare('SELECT DISTINCT key FROM metrics WHERE run_id = ? ORDER BY key').pluck().all(runId) as string[];
  }

  /** Each key's value at its last recorded step. */
  last(runId: number): Record<string, { step: number; value: number | null }> {
    const rows = this.db.prepare(`SELECT m.key, m.step, m.value FROM metrics m
      JOIN (SELECT key, MAX(step) AS step FROM metrics WHERE run_id = ? GROUP BY key) l ON l.key = m.key AND l.step = m.step
      WHERE m.run_id = ? ORDER BY m.key`).all(runId, runId) as { key: string; step: number; value: number | null }[];
    return Object.fromEntries(rows.map((r) => [r.key, { step: r.step, value: r.value }]));
  }

  /** The highest step with any metric, or null for a run with none. */
  lastStep(runId: number): number | null {
    return this.db.prepare('SELECT MAX(step) FROM metrics WHERE run_id = ?').pluck().get(runId) as number | null;
  }

  /**
   * One curve per run. With x = 'sqrt_kl' the x value is √max(KL, 0) of the KL metric at the same step
   * (steps without a KL value are left out), which is how Gao et al. plot gold and proxy reward.
   */
  series(runIds: readonly number[], key: string, opts: { x?: XAxis; klKey?: string } = {}): Series[] {
    const x = opts.x ?? 'step';
    const byStep = this.db.prepare('SELECT step, value FROM metrics WHERE run_id = ? AND key = ? ORDER BY step');
    const byKl = this.db.prepare(`SELECT m.step, m.value, k.value AS kl FROM metrics m
      JOIN metrics k ON k.run_id = m.run_id AND k.key = ? AND k.step = m.step
      WHERE m.run_id = ? AND m.key = ? AND k.value IS NOT NULL ORDER BY m.step`);
    return runIds.map((runId) => {
      if (x === 'step') {
        const rows = byStep.all(runId, key) as { step: number; value: number | null }[];
        return { runId, key, x, points: rows.map((r) => ({ step: r.step, x: r.step, y: r.value })) };
      }
      const rows = byKl.all(opts.klKey ?? DEFAULT_KL_KEY, runId, key) as { step: number; value: number | null; kl: number }[];
      return { runId, key, x, points: rows.map((r) => ({ step: r.step, x: Math.sqrt(Math.max(r.kl, 0)), y: r.value })) };
    });
  }

  /**
   * Seed bands: runs grouped by objective; at each step, mean ± std of the key across the group's runs
   * that recorded it (NULL/NaN values are left out). Groups come in order of their first run.
   */
  bands(runIds: readonly number[], key: string): Band[] {
    if (!runIds.length) return [];
    const marks = runIds.map(() => '?').join(', ');
    const runs = this.db.prepare(`SELECT id, objective FROM runs WHERE id IN (${marks}) ORDER BY id`).all(...runIds) as { id: number; objective: string }[];
    const rows = this.db.prepare(`SELECT r.objective, m.step, m.value FROM metrics m JOIN runs r ON r.id = m.run_id
      WHERE m.run_id IN (${marks}) AND m.key = ? AND m.value IS NOT NULL ORDER BY m.step`).all(...runIds, key) as { objective: string; step: number; value: number }[];
    const groups = new Map<string, { runIds: number[]; steps: Map<number, number[]> }>();
    for (const r of runs) {
      const g = groups.get(r.objective) ?? { runIds: [] as number[], steps: new Map<number, number[]>() };
      g.runIds.push(r.id);
      groups.set(r.objective, g);
    }
    for (const r of rows) {
      const steps = groups.get(r.objective)!.steps;
      const vs = steps.get(r.step) ?? [];
      vs.push(r.value);
      steps.set(r.step, vs);
    }
    return [...groups].map(([objective, g]) => ({
      objective,
      runIds: g.runIds,
      points: [...g.steps].map(([step, vs]) => ({ step, ...meanStd(vs) })),
    }));
  }
}

/** Mean, sample std (n − 1), count, min and max of a non-empty list. */
export function meanStd(vs: readonly number[]): Omit<BandPoint, 'step'> {
  const n = vs.length;
  const mean = vs.reduce((a, b) => a + b, 0) / n;
  const ss = vs.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, n, min: Math.min(...vs), max: Math.max(...vs) };
}
