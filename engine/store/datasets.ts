// Datasets: imported preference pairs, the rows rejected on import, and their statistics.
//
// An import streams its rows into a private staging database (a file next to the store, so a large
// import does not sit in memory; deleted when the import ends, and by the next import if a killed
// process left one), then `commit` copies them into the store in ONE short transaction (SQLite copies
// them itself: ATTACH + INSERT … SELECT, about 0.5 s per 200k rows here). A file that fails
// halfway, an exception or a killed process leaves the store exactly as it was (no dataset row, no
// orphan rows), and a long import no longer holds the store's write lock: a study writing its metrics
// meanwhile is not blocked (it used to wait on BEGIN IMMEDIATE and fail after the busy timeout).
// The importer (engine/data/import.ts) streams rows in batches into the open writer.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
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

/** A row as the importer hands it to the writer: meta already as JSON, with the pair's key. */
export interface NewDatasetRow extends Omit<DatasetRow, 'meta'> {
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

  /** Starts an import: rows go to a staging database until `commit` writes them all at once. */
  beginImport(header: ImportHeader): DatasetImport {
    return new DatasetImport(this.db, header, (i) => this.get(i)!);
  }
}

/** An import in progress. Call `commit` or `rollback` exactly once. */
export class DatasetImport {
  private open = true;
  private readonly stage: DB;
  private readonly insRow;
  private readonly insErr;
  private readonly hasPairStmt;

  private readonly file: string;

  constructor(private readonly db: DB, private readonly header: ImportHeader, private readonly load: (id: number) => Dataset) {
    if (db.inTransaction) throw new Error('an import commits in its own transaction, but this connection is already inside one');
    const base = db.memory ? path.join(os.tmpdir(), 'rrlhf-memory-store') : db.name;
    removeStaleStaging(base);
    this.file = `${base}.import-${process.pid}-${randomUUID()}`;
    this.stage = new Database(this.file);
    this.stage.pragma('journal_mode = OFF');
    this.stage.pragma('synchronous = OFF');
    this.stage.exec(`CREATE TABLE rows (idx INTEGER PRIMARY KEY, split TEXT NOT NULL, prompt TEXT NOT NULL, chosen TEXT NOT NULL,
        rejected TEXT NOT NULL, source INTEGER NOT NULL, pair_hash BLOB NOT NULL, orient INTEGER NOT NULL, meta TEXT);
      CREATE INDEX rows_pair ON rows (pair_hash, orient);
      CREATE TABLE errors (line INTEGER NOT NULL, reason TEXT NOT NULL);`);
    this.insRow = this.stage.prepare('INSERT INTO rows (idx, split, prompt, chosen, rejected, source, pair_hash, orient, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.insErr = this.stage.prepare('INSERT INTO errors (line, reason) VALUES (?, ?)');
    this.hasPairStmt = this.stage.prepare('SELECT 1 FROM rows WHERE pair_hash = ? AND orient = ? LIMIT 1').pluck();
  }

  private check() {
    if (!this.open) throw new Error('this import has already been committed or rolled back');
  }

  addRows(rows: readonly NewDatasetRow[]): void {
    this.check();
    this.stage.transaction(() => {
      for (const r of rows) this.insRow.run(r.idx, r.split, r.prompt, r.chosen, r.rejected, r.source, r.pairHash, r.orient, r.meta);
    })();
  }

  addErrors(errors: readonly { line: number; reason: string }[]): void {
    this.check();
    this.stage.transaction(() => { for (const e of errors) this.insErr.run(e.line, e.reason); })();
  }

  /** Whether an identical pair (same prompt, chosen and rejected) was already written. */
  hasPair(pairHash: Uint8Array, orient: 0 | 1): boolean {
    return this.hasPairStmt.get(pairHash, orient) !== undefined;
  }

  /**
   * Exact duplicates (rows beyond the first of each identical pair) and contradicting pairs (distinct
   * (prompt, a, b) for which (prompt, b, a) is also present), over the rows written so far.
   */
  pairStats(): { duplicates: number; contradictions: number } {
    const distinct = this.stage.prepare('SELECT COUNT(*) FROM (SELECT 1 FROM rows GROUP BY pair_hash, orient)').pluck().get() as number;
    const total = this.stage.prepare('SELECT COUNT(*) FROM rows').pluck().get() as number;
    const contradictions = this.stage.prepare('SELECT COUNT(*) FROM (SELECT 1 FROM rows GROUP BY pair_hash HAVING MIN(orient) <> MAX(orient))').pluck().get() as number;
    return { duplicates: total - distinct, contradictions };
  }

  /** Writes the dataset row and every staged row and error to the store in one transaction. */
  commit(final: ImportFinal): Dataset {
    this.check();
    const h = this.header;
    this.db.prepare('ATTACH DATABASE ? AS stage').run(this.file);
    try {
      return this.load(this.copy(final, h));
    } finally {
      this.db.exec('DETACH DATABASE stage');
      this.close();
    }
  }

  private copy(final: ImportFinal, h: ImportHeader): number {
    return this.db.transaction(() => {
      const id = Number(this.db.prepare(`INSERT INTO datasets
        (name, source_path, source_sha256, format, schema, content, mapping, rows, rejected, set_aside, positions, split, stats, hash, created)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(h.name, h.sourcePath, final.sourceSha256, h.format, h.schema, h.content, JSON.stringify(h.mapping), final.rows, final.rejected,
          JSON.stringify(final.setAside), h.positions, JSON.stringify(final.split), JSON.stringify(final.stats), final.hash, nowIso())
        .lastInsertRowid);
      this.db.prepare(`INSERT INTO dataset_rows (dataset_id, idx, split, prompt, chosen, rejected, source, pair_hash, orient, meta)
        SELECT ?, idx, split, prompt, chosen, rejected, source, pair_hash, orient, meta FROM stage.rows ORDER BY idx`).run(id);
      this.db.prepare('INSERT INTO dataset_errors (dataset_id, line, reason) SELECT ?, line, reason FROM stage.errors ORDER BY rowid').run(id);
      return id;
    })();
  }

  rollback(): void {
    if (!this.open) return;
    this.close();
  }

  private close() {
    this.open = false;
    this.stage.close();
    fs.rmSync(this.file, { force: true });
  }
}

/** Deletes staging files that imports of processes no longer running left next to the store. */
function removeStaleStaging(base: string): void {
  const dir = path.dirname(base), prefix = `${path.basename(base)}.import-`;
  let names: string[];
  try { names = fs.readdirSync(dir); } catch { return; }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(n.slice(prefix.length).split('-')[0]);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try { process.kill(pid, 0); continue; } catch (e) { if ((e as NodeJS.ErrnoException).code === 'EPERM') continue; }
    fs.rmSync(path.join(dir, n), { force: true });
  }
}
