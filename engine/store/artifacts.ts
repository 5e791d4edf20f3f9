// Artifacts (files on disk the studio tracks, by kind and hash) and reward-model ensembles built from them.
import type { DB } from './db.js';
import { nowIso, parseJson } from './canonical.js';

/** Kinds the engine writes today; other strings are allowed so later releases can add kinds without a migration. */
export type ArtifactKind = 'model' | 'tokenizer' | 'reward_model' | 'ensemble' | 'policy' | 'report' | (string & {});

export interface Artifact {
  id: number;
  kind: ArtifactKind;
  name: string;
  path: string;
  sha256: string | null;
  bytes: number | null;
  meta: Record<string, unknown>;
  created: string;
}

export type NewArtifact = Omit<Artifact, 'id' | 'created' | 'sha256' | 'bytes' | 'meta'> & { sha256?: string; bytes?: number; meta?: Record<string, unknown> };

type ArtifactRecord = Omit<Artifact, 'meta'> & { meta: string };
const toArtifact = (r: ArtifactRecord): Artifact => ({ ...r, meta: parseJson(r.meta, {}) });

export class ArtifactRepo {
  constructor(private readonly db: DB) {}

  add(a: NewArtifact): Artifact {
    const id = Number(this.db.prepare('INSERT INTO artifacts (kind, name, path, sha256, bytes, meta, created) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(a.kind, a.name, a.path, a.sha256 ?? null, a.bytes ?? null, JSON.stringify(a.meta ?? {}), nowIso()).lastInsertRowid);
    return this.get(id)!;
  }

  get(id: number): Artifact | undefined {
    const r = this.db.prepare('SELECT * FROM artifacts WHERE id = ?').get(id) as ArtifactRecord | undefined;
    return r && toArtifact(r);
  }

  list(kind?: ArtifactKind): Artifact[] {
    const rs = (kind
      ? this.db.prepare('SELECT * FROM artifacts WHERE kind = ? ORDER BY id').all(kind)
      : this.db.prepare('SELECT * FROM artifacts ORDER BY id').all()) as ArtifactRecord[];
    return rs.map(toArtifact);
  }

  /** The newest artifact of a kind with this content hash, to reuse a file already imported. */
  findBySha256(kind: ArtifactKind, sha256: string): Artifact | undefined {
    const r = this.db.prepare('SELECT * FROM artifacts WHERE kind = ? AND sha256 = ? ORDER BY id DESC LIMIT 1').get(kind, sha256) as ArtifactRecord | undefined;
    return r && toArtifact(r);
  }
}

export interface Ensemble {
  id: number;
  name: string;
  datasetId: number | null;
  baseModelId: number | null;
  artifactId: number | null;
  heads: number;
  method: string;
  config: Record<string, unknown>;
  metrics: Record<string, unknown>;
  created: string;
}

export type NewEnsemble = Pick<Ensemble, 'name' | 'heads' | 'method'> & Partial<Pick<Ensemble, 'datasetId' | 'baseModelId' | 'artifactId' | 'config' | 'metrics'>>;

interface EnsembleRecord {
  id: number; name: string; dataset_id: number | null; base_model_id: number | null; artifact_id: number | null;
  heads: number; method: string; config: string; metrics: string; created: string;
}
const toEnsemble = (r: EnsembleRecord): Ensemble => ({
  id: r.id, name: r.name, datasetId: r.dataset_id, baseModelId: r.base_model_id, artifactId: r.artifact_id, heads: r.heads,
  method: r.method, config: parseJson(r.config, {}), metrics: parseJson(r.metrics, {}), created: r.created,
});

export class EnsembleRepo {
  constructor(private readonly db: DB) {}

  add(e: NewEnsemble): Ensemble {
    const id = Number(this.db.prepare(`INSERT INTO ensembles (name, dataset_id, base_model_id, artifact_id, heads, method, config, metrics, created)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(e.name, e.datasetId ?? null, e.baseModelId ?? null, e.artifactId ?? null, e.heads, e.method,
        JSON.stringify(e.config ?? {}), JSON.stringify(e.metrics ?? {}), nowIso()).lastInsertRowid);
    return this.get(id)!;
  }

  get(id: number): Ensemble | undefined {
    const r = this.db.prepare('SELECT * FROM ensembles WHERE id = ?').get(id) as EnsembleRecord | undefined;
    return r && toEnsemble(r);
  }

  list(): Ensemble[] {
    return (this.db.prepare('SELECT * FROM ensembles ORDER BY id').all() as EnsembleRecord[]).map(toEnsemble);
  }

  /** Records the trained weights and evaluation figures once training finishes. */
  complete(id: number, artifactId: number, metrics: Record<string, unknown>): void {
    this.db.prepare('UPDATE ensembles SET artifact_id = ?, metrics = ? WHERE id = ?').run(artifactId, JSON.stringify(metrics), id);
  }
}
