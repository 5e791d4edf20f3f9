// Datasets: imported preference pairs, the rows rejected on import, and their statistics.
//
// An import writes everything inside ONE transaction (`beginImport` ... `commit`), so a file that
// fails halfway, an exception or a killed process leaves the store exactly as it was: no dataset row,
// no orphan rows. The importer (engine/data/import.ts) streams rows in batches into the open writer.
import type { DB } from './db.js';
import { nowIso, parseJson } from './canonical.js';

export type DatasetFormat = 'jsonl' | 'json' | 'csv' | 'parquet';
export type Split = 'train' | 'validation' | 'test';
export type ContentKind = 'text' | 'messages';

export interface DatasetSummary {
  id: number;
  name: string;
  rows: number;
  hash: string;
  created: string;
}

export interface Dataset extends DatasetSummary {
  sourcePath: string;
  sourceSha256: string;
  format: DatasetFormat;
  schema: string;
  content: ContentKind;
  mapping: Record<string, unknown>;
  rejected: number;
  setAside: Record<string, number>;
  positions: 'line' | 'row';
  split: { seed: number; fractions: Record<Split, number>; counts: Record<Split, number> };
  stats: Record<string, unknown>;
}

export interface DatasetRow {
  idx: number;
  split: Split;
  prompt: string;
  chosen: string;
  rejected: string;
  source: number;
  meta: Record<string, unknown> | null;
}

/** A row as the importer hands it to the writer. */
export interface NewDatasetRow {
  idx: number;
  split: Split;
  prompt: string;
  chosen: string;
  rejected: string;
  source: number;
  pairHash: Uint8Array;
  orient: 0 | 1;
  meta: string | null;
}

export interface ImportHeader {
  name: string;
  sourcePath: string;
  format: DatasetFormat;
  schema: string;
  content: ContentKind;
  mapping: Record<string, unknown>;
  positions: 'line' | 'row';
}

export interface ImportFinal {
  sourceSha256: string;
  rows: number;
  rejected: number;
  setAside: Record<string, number>;
  split: Dataset['split'];
  stats: Record<string, unknown>;
  hash: string;
}

interface DatasetRecord {
  id: number; name: string; source_path: string; source_sha256: string; format: DatasetFormat; schema: string;
  content: ContentKind; mapping: string; rows: number; rejected: number; set_aside: string; positions: 'line' | 'row';
  split: string; stats: string; hash: string; created: string;
}

const toDataset = (r: DatasetRecord): Dataset => ({
  id: r.id, name: r.name, rows: r.rows, hash: r.hash, created: r.created,
  sourcePath: r.source_path, sourceSha256: r.source_sha256, format: r.format, schema: r.schema, content: r.content,
  mapping: parseJson(r.mapping, {}), rejected: r.rejected, setAside: parseJson(r.set_aside, {}), positions: r.positions,
  split: parseJson(r.split, { seed: 0, fractions: { train: 1, validation: 0, test: 0 }, counts: { train: 0, validation: 0, test: 0 } }),
  stats: parseJson(r.stats, {}),
});

export class DatasetRepo {
  constructor(private readonly db: DB) {}

  list(): DatasetSummary[] {
    return this.db.prepare('SELECT id, name, rows, hash, created FROM datasets ORDER BY id').all() as DatasetSummary[];
  }

  get(id: number): Dataset | undefined {
    const r = this.db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as DatasetRecord | undefined;
    return r && toDataset(r);
  }

  /** Rows in index order, optionally of one split. */
  rows(id: number, opts: { split?: Split; offset?: number; limit?: number } = {}): DatasetRow[] {
    const { split, offset = 0, limit = 100 } = opts;
    const where = split ? 'dataset_id = ? AND split = ?' : 'dataset_id = ?';
    const args: unknown[] = split ? [id, split] : [id];
    const rs = this.db.prepare(`SELECT idx, split, prompt, chosen, rejected, source, meta FROM dataset_rows WHERE ${where} ORDER BY idx LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as (Omit<DatasetRow, 'meta'> & { meta: string | null })[];
    return rs.map((r) => ({ ...r, meta: parseJson(r.meta, null) }));
  }

  /** Iterates one split's rows without loading them all (for trainers). */
  *iterate(id: number, split?: Split): IterableIterator<Omit<DatasetRow, 'meta'>> {
    const stmt = split
      ? this.db.prepare('SELECT idx, split, prompt, chosen, rejected, source FROM dataset_rows WHERE dataset_id = ? AND split = ? ORDER BY idx').bind(id, split)
      : this.db.prepare('SELECT idx, split, prompt, chosen, rejected, source FROM dataset_rows WHERE dataset_id = ? ORDER BY idx').bind(id);
    yield* stmt.iterate() as IterableIterator<Omit<DatasetRow, 'meta'>>;
  }

  errors(id: number, opts: { offset?: number; limit?: number } = {}): { line: number; reason: string }[] {
    return this.db.prepare('SELECT line, reason FROM dataset_errors WHERE dataset_id = ? ORDER BY rowid LIMIT ? OFFSET ?')
      .all(id, opts.limit ?? 100, opts.offset ?? 0) as { line: number; reason: string }[];
  }

  /** Deletes a dataset with its rows and errors; refuses while an ensemble was trained on it. */
  delete(id: number): boolean {
    const users = this.db.prepare('SELECT id FROM ensembles WHERE dataset_id = ? ORDER BY id').pluck().all(id) as number[];
    if (users.length) throw new Error(`dataset ${id} was used to train ensemble ${users.join(', ')}; it is kept so that those stay reproducible`);
    return this.db.prepare('DELETE FROM datasets WHERE id = ?').run(id).changes > 0;
  }

  /**
   * Opens the import transaction and the dataset's placeholder row (its id is needed by the rows).
   * Nothing is visible to other connections until `commit`. The connection must not be shared with
   * another writer while the import runs.
   */
  beginImport(header: ImportHeader): DatasetImport {
    if (this.db.inTransaction) throw new Error('an import needs its own transaction, but this connection is already inside one');
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const id = Number(this.db.prepare(`INSERT INTO datasets
        (name, source_path, source_sha256, format, schema, content, mapping, rows, rejected, positions, split, stats, hash, created)
        VALUES (?, ?, '', ?, ?, ?, ?, 0, 0, ?, '{}', '{}', '', ?)`)
        .run(header.name, header.sourcePath, header.format, header.schema, header.content, JSON.stringify(header.mapping), header.positions, nowIso())
        .lastInsertRowid);
      return new DatasetImport(this.db, id, (i) => this.get(i)!);
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }
}

/** The open import transaction of one dataset. Call `commit` or `rollback` exactly once. */
export class DatasetImport {
  private open = true;
  private readonly insRow;
  private readonly insErr;
  private readonly hasPairStmt;

  constructor(private readonly db: DB, readonly id: number, private readonly load: (id: number) => Dataset) {
    this.insRow = db.prepare(`INSERT INTO dataset_rows (dataset_id, idx, split, prompt, chosen, rejected, source, pair_hash, orient, meta)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.insErr = db.prepare('INSERT INTO dataset_errors (dataset_id, line, reason) VALUES (?, ?, ?)');
    this.hasPairStmt = db.prepare('SELECT 1 FROM dataset_rows WHERE dataset_id = ? AND pair_hash = ? AND orient = ? LIMIT 1').pluck();
  }

  private check() {
    if (!this.open) throw new Error('this import has already been committed or rolled back');
  }

  addRows(rows: readonly NewDatasetRow[]): void {
    this.check();
    for (const r of rows) {
      this.insRow.run(this.id, r.idx, r.split, r.prompt, r.chosen, r.rejected, r.source, r.pairHash, r.orient, r.meta);
    }
  }

  addErrors(errors: readonly { line: number; reason: string }[]): void {
    this.check();
    for (const e of errors) this.insErr.run(this.id, e.line, e.reason);
  }

  /** Whether an identical pair (same prompt, chosen and rejected) was already written. */
  hasPair(pairHash: Uint8Array, orient: 0 | 1): boolean {
    return this.hasPairStmt.get(this.id, pairHash, orient) !== undefined;
  }

  /**
   * Exact duplicates (rows beyond the first of each identical pair) and contradicting pairs (distinct
   * (prompt, a, b) for which (prompt, b, a) is also present), over the rows written so far.
   */
  pairStats(): { duplicates: number; contradictions: number } {
    const distinct = this.db.prepare('SELECT COUNT(*) FROM (SELECT 1 FROM dataset_rows WHERE dataset_id = ? GROUP BY pair_hash, orient)').pluck().get(this.id) as number;
    const total = this.db.prepare('SELECT COUNT(*) FROM dataset_rows WHERE dataset_id = ?').pluck().get(this.id) as number;
    const contradictions = this.db.prepare(`SELECT COUNT(*) FROM (SELECT 1 FROM dataset_rows WHERE dataset_id = ?
      GROUP BY pair_hash HAVING MIN(orient) <> MAX(orient))`).pluck().get(this.id) as number;
    return { duplicates: total - distinct, contradictions };
  }

  commit(final: ImportFinal): Dataset {
    this.check();
    this.db.prepare(`UPDATE datasets SET source_sha256 = ?, rows = ?, rejected = ?, set_aside = ?, split = ?, stats = ?, hash = ? WHERE id = ?`)
      .run(final.sourceSha256, final.rows, final.rejected, JSON.stringify(final.setAside), JSON.stringify(final.split), JSON.stringify(final.stats), final.hash, this.id);
    this.db.exec('COMMIT');
    this.open = false;
    return this.load(this.id);
  }

  rollback(): void {
    if (!this.open) return;
    this.open = false;
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }
}
