// Policy samples a run scored (prompt, response, per-head rewards, gold, ...) and the hacking alerts
// raised on them. The sample browser sorts by where the ensemble disagrees (std), where the robust
// objective bites (nominal − min) and where the proxy was fooled (proxy − gold).
import type { DB } from './db.js';
import { nowIso, parseJson } from './canonical.js';

export interface NewSample {
  step: number;
  prompt: string;
  response: string;
  /** Per-head mean rewards μ_k. */
  rewards?: number[];
  nominal?: number;
  min?: number;
  mean?: number;
  std?: number;
  proxy?: number;
  gold?: number;
  kl?: number;
  length?: number;
  meta?: Record<string, unknown>;
}

export interface Sample {
  id: number;
  runId: number;
  step: number;
  prompt: string;
  response: string;
  rewards: number[];
  nominal: number | null;
  min: number | null;
  mean: number | null;
  std: number | null;
  proxy: number | null;
  gold: number | null;
  kl: number | null;
  length: number | null;
  nominalMinGap: number | null;
  proxyGoldGap: number | null;
  meta: Record<string, unknown> | null;
}

/** Orders the sample browser offers; each maps to a column (the gaps are generated columns). */
export const SAMPLE_SORTS = {
  ensemble_std: 'std_reward',
  nominal_min_gap: 'nominal_min_gap',
  proxy_gold_gap: 'proxy_gold_gap',
  gold: 'gold',
  proxy: 'proxy',
  kl: 'kl',
  step: 'step',
} as const;
export type SampleSort = keyof typeof SAMPLE_SORTS;

export interface SampleQuery {
  runIds: readonly number[];
  step?: number;
  fromStep?: number;
  toStep?: number;
  sort?: SampleSort;
  order?: 'asc' | 'desc';
  limit?: number;
  offset?: number;
}

interface SampleRecord {
  id: number; run_id: number; step: number; prompt: string; response: string; rewards: string;
  nominal: number | null; min_reward: number | null; mean_reward: number | null; std_reward: number | null;
  proxy: number | null; gold: number | null; kl: number | null; length: number | null; meta: string | null;
  nominal_min_gap: number | null; proxy_gold_gap: number | null;
}
const toSample = (r: SampleRecord): Sample => ({
  id: r.id, runId: r.run_id, step: r.step, prompt: r.prompt, response: r.response, rewards: parseJson(r.rewards, []),
  nominal: r.nominal, min: r.min_reward, mean: r.mean_reward, std: r.std_reward, proxy: r.proxy, gold: r.gold, kl: r.kl,
  length: r.length, nominalMinGap: r.nominal_min_gap, proxyGoldGap: r.proxy_gold_gap, meta: parseJson(r.meta, null),
});
const SAMPLE_COLUMNS = 'id, run_id, step, prompt, response, rewards, nominal, min_reward, mean_reward, std_reward, proxy, gold, kl, length, meta, nominal_min_gap, proxy_gold_gap';

const num = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? null : v);

export class SampleRepo {
  constructor(private readonly db: DB) {}

  /** Stores one step's samples in one transaction; returns their ids in order. */
  add(runId: number, samples: readonly NewSample[]): number[] {
    const ins = this.db.prepare(`INSERT INTO samples (run_id, step, prompt, response, rewards, nominal, min_reward, mean_reward, std_reward, proxy, gold, kl, length, meta)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const tx = this.db.transaction(() => samples.map((s) => Number(ins.run(
      runId, s.step, s.prompt, s.response, JSON.stringify(s.rewards ?? []), num(s.nominal), num(s.min), num(s.mean), num(s.std),
      num(s.proxy), num(s.gold), num(s.kl), s.length ?? null, s.meta ? JSON.stringify(s.meta) : null,
    ).lastInsertRowid)));
    return tx.immediate();
  }

  get(ids: readonly number[]): Sample[] {
    if (!ids.length) return [];
    return (this.db.prepare(`SELECT ${SAMPLE_COLUMNS} FROM samples WHERE id IN (${ids.map(() => '?').join(', ')}) ORDER BY id`).all(...ids) as SampleRecord[]).map(toSample);
  }

  /** Samples of some runs, filtered by step, sorted (NULLs last), paged. */
  query(q: SampleQuery): Sample[] {
    if (!q.runIds.length) return [];
    const where = [`run_id IN (${q.runIds.map(() => '?').join(', ')})`];
    const args: unknown[] = [...q.runIds];
    if (q.step !== undefined) { where.push('step = ?'); args.push(q.step); }
    if (q.fromStep !== undefined) { where.push('step >= ?'); args.push(q.fromStep); }
    if (q.toStep !== undefined) { where.push('step <= ?'); args.push(q.toStep); }
    const col = SAMPLE_SORTS[q.sort ?? 'step'];
    if (!col) throw new Error(`unknown sample sort "${q.sort}"; use one of ${Object.keys(SAMPLE_SORTS).join(', ')}`);
    const dir = (q.order ?? (q.sort && q.sort !== 'step' ? 'desc' : 'asc')) === 'desc' ? 'DESC' : 'ASC';
    args.push(q.limit ?? 50, q.offset ?? 0);
    return (this.db.prepare(`SELECT ${SAMPLE_COLUMNS} FROM samples WHERE ${where.join(' AND ')} ORDER BY ${col} ${dir} NULLS LAST, id LIMIT ? OFFSET ?`)
      .all(...args) as SampleRecord[]).map(toSample);
  }
}

export interface Alert {
  id: number;
  runId: number;
  step: number;
  kind: string;
  message: string;
  sampleIds: number[];
  created: string;
}

export class AlertRepo {
  constructor(private readonly db: DB, private readonly samples: SampleRepo) {}

  /** Records an alert with the samples that raised it, in one transaction. */
  add(a: { runId: number; step: number; kind: string; message: string; sampleIds?: readonly number[] }): Alert {
    const tx = this.db.transaction(() => {
      const id = Number(this.db.prepare('INSERT INTO alerts (run_id, step, kind, message, created) VALUES (?, ?, ?, ?, ?)')
        .run(a.runId, a.step, a.kind, a.message, nowIso()).lastInsertRowid);
      const link = this.db.prepare('INSERT OR IGNORE INTO alert_samples (alert_id, sample_id) VALUES (?, ?)');
      for (const s of a.sampleIds ?? []) link.run(id, s);
      return id;
    });
    return this.get(tx.immediate())!;
  }

  get(id: number): Alert | undefined {
    const r = this.db.prepare('SELECT id, run_id, step, kind, message, created FROM alerts WHERE id = ?').get(id) as
      { id: number; run_id: number; step: number; kind: string; message: string; created: string } | undefined;
    if (!r) return undefined;
    const sampleIds = this.db.prepare('SELECT sample_id FROM alert_samples WHERE alert_id = ? ORDER BY sample_id').pluck().all(id) as number[];
    return { id: r.id, runId: r.run_id, step: r.step, kind: r.kind, message: r.message, sampleIds, created: r.created };
  }

  list(runId: number): Alert[] {
    const ids = this.db.prepare('SELECT id FROM alerts WHERE run_id = ? ORDER BY step, id').pluck().all(runId) as number[];
    return ids.map((id) => this.get(id)!);
  }

  /** An alert together with the samples behind it (for the "why" panel and the report's gallery). */
  withSamples(id: number): (Alert & { samples: Sample[] }) | undefined {
    const a = this.get(id);
    return a && { ...a, samples: this.samples.get(a.sampleIds) };
  }
}
