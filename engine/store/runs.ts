// Runs (one objective × seed of an experiment), their checkpoints, crash recovery and config diffs.
//
// A run's life: queued → running → finished | failed | cancelled, with paused in between when the user
// pauses it or when its process died (see `recoverInterrupted`). A run brought in from another engine's
// logs (engine/runlogs/import.ts) is 'imported' from the start: complete, never resumed. The runner writes metrics, samples and
// checkpoints as it goes (metrics.ts, samples.ts); each write is its own short transaction, so a killed
// process loses at most the step in flight, and `resume` restarts from the last checkpoint.
import os from 'node:os';
import type { DB } from './db.js';
import { nowIso, parseJson } from './canonical.js';

export const RUN_STATUSES = ['queued', 'running', 'paused', 'failed', 'finished', 'cancelled', 'imported'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
const ENDED: readonly RunStatus[] = ['failed', 'finished', 'cancelled', 'imported'];

/** A run with all its metrics: finished here, or imported complete. Nothing is left to run or resume. */
export const isComplete = (status: RunStatus) => status === 'finished' || status === 'imported';

/** Where an imported run's metrics came from. */
export interface RunSource {
  engine: string | null;
  format: string;
  path: string;
  files: { name: string; sha256: string; bytes: number }[];
}

export interface Run {
  id: number;
  experimentId: number | null;
  objective: string;
  seed: number;
  status: RunStatus;
  device: string | null;
  config: Record<string, unknown>;
  versions: Record<string, unknown>;
  pid: number | null;
  host: string | null;
  heartbeat: string | null;
  created: string;
  started: string | null;
  finished: string | null;
  error: string | null;
  /** Imported runs only: where the metrics came from, and the hash that recognises a re-import. */
  source: RunSource | null;
  sourceHash: string | null;
}

export interface NewRun {
  experimentId?: number | null;
  objective: string;
  seed: number;
  config?: Record<string, unknown>;
  device?: string;
  versions?: Record<string, unknown>;
}

/** Fields a runner may change. Setting `status` also stamps `started`/`finished` the first time. */
export type RunPatch = Partial<Pick<Run, 'status' | 'device' | 'versions' | 'error' | 'pid' | 'host'>>;

export interface RunFilter {
  experimentId?: number;
  status?: RunStatus | readonly RunStatus[];
  objective?: string;
  limit?: number;
}

export interface Checkpoint {
  id: number;
  runId: number;
  step: number;
  path: string;
  sha256: string;
  bytes: number | null;
  meta: Record<string, unknown>;
  created: string;
}

interface RunRecord {
  id: number; experiment_id: number | null; objective: string; seed: number; status: RunStatus; device: string | null;
  config: string; versions: string; pid: number | null; host: string | null; heartbeat: string | null;
  created: string; started: string | null; finished: string | null; error: string | null;
  source: string | null; source_hash: string | null;
}
const toRun = (r: RunRecord): Run => ({
  id: r.id, experimentId: r.experiment_id, objective: r.objective, seed: r.seed, status: r.status, device: r.device,
  config: parseJson(r.config, {}), versions: parseJson(r.versions, {}), pid: r.pid, host: r.host, heartbeat: r.heartbeat,
  created: r.created, started: r.started, finished: r.finished, error: r.error,
  source: r.source === null ? null : parseJson<RunSource | null>(r.source, null), sourceHash: r.source_hash,
});

interface CheckpointRecord { id: number; run_id: number; step: number; path: string; sha256: string; bytes: number | null; meta: string; created: string }
const toCheckpoint = (r: CheckpointRecord): Checkpoint => ({
  id: r.id, runId: r.run_id, step: r.step, path: r.path, sha256: r.sha256, bytes: r.bytes, meta: parseJson(r.meta, {}), created: r.created,
});

/** Whether a process id is alive on this machine (signal 0 only checks). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class RunRepo {
  constructor(private readonly db: DB) {}

  create(r: NewRun): Run {
    const id = Number(this.db.prepare(`INSERT INTO runs (experiment_id, objective, seed, status, device, config, versions, created)
      VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)`)
      .run(r.experimentId ?? null, r.objective, r.seed, r.device ?? null, JSON.stringify(r.config ?? {}), JSON.stringify(r.versions ?? {}), nowIso())
      .lastInsertRowid);
    return this.get(id)!;
  }

  /** A complete run from another engine's logs (its metrics are written by the caller, in the same transaction if it wants one). */
  createImported(r: NewRun & { source: RunSource; sourceHash: string }): Run {
    const now = nowIso();
    const id = Number(this.db.prepare(`INSERT INTO runs (experiment_id, objective, seed, status, device, config, versions, created, started, finished, source, source_hash)
      VALUES (?, ?, ?, 'imported', ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(r.experimentId ?? null, r.objective, r.seed, r.device ?? null, JSON.stringify(r.config ?? {}), JSON.stringify(r.versions ?? {}), now, now, now,
        JSON.stringify(r.source), r.sourceHash)
      .lastInsertRowid);
    return this.get(id)!;
  }

  /** An imported run of this experiment, objective and seed made from the same files, if any. */
  findImport(q: { experimentId: number | null; objective: string; seed: number; sourceHash: string }): Run | undefined {
    const r = this.db.prepare(`SELECT * FROM runs WHERE source_hash = ? AND experiment_id IS ? AND objective = ? AND seed = ? ORDER BY id LIMIT 1`)
      .get(q.sourceHash, q.experimentId, q.objective, q.seed) as RunRecord | undefined;
    return r && toRun(r);
  }

  get(id: number): Run | undefined {
    const r = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRecord | undefined;
    return r && toRun(r);
  }

  list(filter: RunFilter = {}): Run[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.experimentId !== undefined) { where.push('experiment_id = ?'); args.push(filter.experimentId); }
    if (filter.objective !== undefined) { where.push('objective = ?'); args.push(filter.objective); }
    if (filter.status !== undefined) {
      const ss = typeof filter.status === 'string' ? [filter.status] : [...filter.status];
      where.push(`status IN (${ss.map(() => '?').join(', ')})`);
      args.push(...ss);
    }
    const sql = `SELECT * FROM runs${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id${filter.limit ? ' LIMIT ?' : ''}`;
    if (filter.limit) args.push(filter.limit);
    return (this.db.prepare(sql).all(...args) as RunRecord[]).map(toRun);
  }

  update(id: number, patch: RunPatch): Run {
    const cur = this.get(id);
    if (!cur) throw new Error(`run ${id} does not exist`);
    const next = { ...cur, ...patch };
    const now = nowIso();
    if (patch.status === 'running' && !cur.started) next.started = now;
    if (patch.status && ENDED.includes(patch.status)) next.finished = now;
    if (patch.status === 'running' || patch.status === 'queued') next.finished = null;
    this.db.prepare(`UPDATE runs SET status = ?, device = ?, versions = ?, error = ?, pid = ?, host = ?, started = ?, finished = ?, heartbeat = ? WHERE id = ?`)
      .run(next.status, next.device, JSON.stringify(next.versions), next.error, next.pid, next.host, next.started, next.finished,
        patch.status === 'running' ? now : next.heartbeat, id);
    return this.get(id)!;
  }

  /** Marks the run as running in this process (pid and host let a later session detect a crash). */
  start(id: number, info: { device?: string; versions?: Record<string, unknown> } = {}): Run {
    const patch: RunPatch = { status: 'running', pid: process.pid, host: os.hostname(), error: null };
    if (info.device !== undefined) patch.device = info.device;
    if (info.versions !== undefined) patch.versions = info.versions;
    return this.update(id, patch);
  }

  /** Notes that the run's process is alive (the runner calls it every few steps). */
  heartbeat(id: number): void {
    this.db.prepare('UPDATE runs SET heartbeat = ? WHERE id = ?').run(nowIso(), id);
  }

  /**
   * Runs left 'running' by a process that is gone (killed, crashed, machine rebooted) become 'paused'
   * when they have a checkpoint to resume from, else 'failed'. Runs owned by another host are left
   * alone (their process cannot be checked from here). Returns the runs it changed.
   */
  recoverInterrupted(alive: (pid: number) => boolean = pidAlive): Run[] {
    const host = os.hostname();
    const changed: Run[] = [];
    const tx = this.db.transaction(() => {
      for (const r of this.list({ status: 'running' })) {
        if (r.host && r.host !== host) continue;
        if (r.pid === process.pid) continue; // a run this process is executing
        if (r.pid !== null && alive(r.pid)) continue;
        const ck = this.latestCheckpoint(r.id);
        const error = ck
          ? `interrupted (process ${r.pid ?? '?'} ended without finishing); resumable from the checkpoint at step ${ck.step}`
          : `interrupted (process ${r.pid ?? '?'} ended) before its first checkpoint; start it again`;
        changed.push(this.update(r.id, { status: ck ? 'paused' : 'failed', error, pid: null }));
      }
    });
    tx.immediate();
    return changed;
  }

  /**
   * Prepares a paused (or failed) run to continue from its last checkpoint: drops the metrics, samples
   * and alerts recorded after that step (they will be recomputed) and queues the run. Returns the
   * checkpoint to load, or null to start from the beginning.
   */
  resume(id: number): { checkpoint: Checkpoint | null; discarded: { metrics: number; samples: number; alerts: number } } {
    const tx = this.db.transaction(() => {
      const run = this.get(id);
      if (!run) throw new Error(`run ${id} does not exist`);
      if (run.status === 'running' || isComplete(run.status)) throw new Error(`run ${id} is ${run.status}; only a paused, failed, cancelled or queued run can resume`);
      const checkpoint = this.latestCheckpoint(id) ?? null;
      const after = checkpoint ? checkpoint.step : -1;
      const discarded = {
        metrics: this.db.prepare('DELETE FROM metrics WHERE run_id = ? AND step > ?').run(id, after).changes,
        samples: this.db.prepare('DELETE FROM samples WHERE run_id = ? AND step > ?').run(id, after).changes,
        alerts: this.db.prepare('DELETE FROM alerts WHERE run_id = ? AND step > ?').run(id, after).changes,
      };
      this.update(id, { status: 'queued', error: null, pid: null });
      return { checkpoint, discarded };
    });
    return tx.immediate();
  }

  // --- checkpoints -------------------------------------------------------------------------------

  addCheckpoint(c: { runId: number; step: number; path: string; sha256: string; bytes?: number; meta?: Record<string, unknown> }): Checkpoint {
    const id = Number(this.db.prepare('INSERT INTO checkpoints (run_id, step, path, sha256, bytes, meta, created) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(c.runId, c.step, c.path, c.sha256, c.bytes ?? null, JSON.stringify(c.meta ?? {}), nowIso()).lastInsertRowid);
    return toCheckpoint(this.db.prepare('SELECT * FROM checkpoints WHERE id = ?').get(id) as CheckpointRecord);
  }

  latestCheckpoint(runId: number): Checkpoint | undefined {
    const r = this.db.prepare('SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step DESC, id DESC LIMIT 1').get(runId) as CheckpointRecord | undefined;
    return r && toCheckpoint(r);
  }

  checkpoints(runId: number): Checkpoint[] {
    return (this.db.prepare('SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step, id').all(runId) as CheckpointRecord[]).map(toCheckpoint);
  }

  // --- comparison --------------------------------------------------------------------------------

  /** Settings that differ between two runs (objective and seed included), as dotted paths. */
  configDiff(a: number, b: number): ConfigDifference[] {
    const ra = this.get(a), rb = this.get(b);
    if (!ra) throw new Error(`run ${a} does not exist`);
    if (!rb) throw new Error(`run ${b} does not exist`);
    const settings = (r: Run) => ({ ...r.config, objective: r.objective, seed: r.seed });
    return configDiff(settings(ra), settings(rb));
  }
}

export interface ConfigDifference {
  path: string;
  /** undefined where the setting is absent on that side. */
  a: unknown;
  b: unknown;
}

/** Leaf-by-leaf difference of two JSON objects; arrays compare as whole values. Sorted by path. */
export function configDiff(a: Record<string, unknown>, b: Record<string, unknown>): ConfigDifference[] {
  const fa = flatten(a), fb = flatten(b);
  const keys = [...new Set([...fa.keys(), ...fb.keys()])].sort();
  return keys
    .filter((k) => JSON.stringify(fa.get(k)) !== JSON.stringify(fb.get(k)))
    .map((k) => ({ path: k, a: fa.get(k), b: fb.get(k) }));
}

function flatten(v: Record<string, unknown>, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  for (const [k, x] of Object.entries(v)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (x && typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length) flatten(x as Record<string, unknown>, p, out);
    else if (x !== undefined) out.set(p, x);
  }
  return out;
}
