// Best-of-n results (engine/experiments/bon.ts): the source and settings as asked, and the curves once
// sampling finished. A row left 'running' by a killed process stays so: there is nothing to resume, rerun it.
import type { DB } from './db.js';
import { nowIso, parseJson } from './canonical.js';

export type BonStatus = 'running' | 'finished' | 'failed' | 'cancelled';

export interface BonRecord {
  id: number;
  name: string;
  source: Record<string, unknown>;
  config: Record<string, unknown>;
  runId: number | null;
  ensembleId: number | null;
  status: BonStatus;
  result: Record<string, unknown> | null;
  error: string | null;
  created: string;
  finished: string | null;
}

interface Row { id: number; name: string; source: string; config: string; run_id: number | null; ensemble_id: number | null; status: BonStatus; result: string | null; error: string | null; created: string; finished: string | null }
const toRecord = (r: Row): BonRecord => ({
  id: r.id, name: r.name, source: parseJson(r.source, {}), config: parseJson(r.config, {}), runId: r.run_id, ensembleId: r.ensemble_id,
  status: r.status, result: parseJson(r.result, null), error: r.error, created: r.created, finished: r.finished,
});

export class BonRepo {
  constructor(private readonly db: DB) {}

  create(b: { name: string; source: Record<string, unknown>; config: Record<string, unknown>; runId?: number | null; ensembleId?: number | null }): BonRecord {
    const id = Number(this.db.prepare('INSERT INTO bon_results (name, source, config, run_id, ensemble_id, status, created) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(b.name, JSON.stringify(b.source), JSON.stringify(b.config), b.runId ?? null, b.ensembleId ?? null, 'running', nowIso()).lastInsertRowid);
    return this.get(id)!;
  }

  finish(id: number, result: Record<string, unknown>): void {
    this.db.prepare("UPDATE bon_results SET status = 'finished', result = ?, finished = ? WHERE id = ?").run(JSON.stringify(result), nowIso(), id);
  }

  fail(id: number, status: 'failed' | 'cancelled', error: string): void {
    this.db.prepare('UPDATE bon_results SET status = ?, error = ?, finished = ? WHERE id = ?').run(status, error, nowIso(), id);
  }

  get(id: number): BonRecord | undefined {
    const r = this.db.prepare('SELECT * FROM bon_results WHERE id = ?').get(id) as Row | undefined;
    return r && toRecord(r);
  }

  /** Newest first, without the (large) result column. */
  list(o: { runId?: number } = {}): Omit<BonRecord, 'result'>[] {
    const cols = 'id, name, source, config, run_id, ensemble_id, status, NULL AS result, error, created, finished';
    const rs = (o.runId !== undefined
      ? this.db.prepare(`SELECT ${cols} FROM bon_results WHERE run_id = ? ORDER BY id DESC`).all(o.runId)
      : this.db.prepare(`SELECT ${cols} FROM bon_results ORDER BY id DESC`).all()) as Row[];
    return rs.map((r) => { const { result: _r, ...rest } = toRecord(r); return rest; });
  }

  delete(id: number): boolean {
    return this.db.prepare('DELETE FROM bon_results WHERE id = ?').run(id).changes > 0;
  }
}
