// Experiments: a submitted spec (JSON) and its hash. The runs it expands into live in runs.ts.
import type { DB } from './db.js';
import { canonicalJson, nowIso, parseJson, sha256Hex } from './canonical.js';

export interface Experiment {
  id: number;
  name: string;
  spec: Record<string, unknown>;
  /** sha256 of the spec's canonical JSON: the same study submitted twice has the same hash. */
  specHash: string;
  created: string;
}

interface ExperimentRecord { id: number; name: string; spec: string; spec_hash: string; created: string }
const toExperiment = (r: ExperimentRecord): Experiment => ({ id: r.id, name: r.name, spec: parseJson(r.spec, {}), specHash: r.spec_hash, created: r.created });

export const specHash = (spec: unknown) => sha256Hex(canonicalJson(spec));

export class ExperimentRepo {
  constructor(private readonly db: DB) {}

  create(e: { name: string; spec: Record<string, unknown> }): Experiment {
    const id = Number(this.db.prepare('INSERT INTO experiments (name, spec, spec_hash, created) VALUES (?, ?, ?, ?)')
      .run(e.name, canonicalJson(e.spec), specHash(e.spec), nowIso()).lastInsertRowid);
    return this.get(id)!;
  }

  get(id: number): Experiment | undefined {
    const r = this.db.prepare('SELECT * FROM experiments WHERE id = ?').get(id) as ExperimentRecord | undefined;
    return r && toExperiment(r);
  }

  list(): Experiment[] {
    return (this.db.prepare('SELECT * FROM experiments ORDER BY id').all() as ExperimentRecord[]).map(toExperiment);
  }

  /** Earlier experiments with an identical spec (to offer "you ran this before"). */
  findBySpec(spec: unknown): Experiment[] {
    return (this.db.prepare('SELECT * FROM experiments WHERE spec_hash = ? ORDER BY id').all(specHash(spec)) as ExperimentRecord[]).map(toExperiment);
  }
}
