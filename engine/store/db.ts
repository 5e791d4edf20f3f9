// Opening the SQLite database: connection settings and schema migrations.
//
// WAL mode lets readers (the UI, `rrlhf runs show`) read while a run writes, and with
// synchronous=NORMAL a killed process loses no committed transaction (only a power cut can lose the
// last few). foreign_keys is off by default in SQLite and must be turned on per connection.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations.js';

export type DB = Database.Database;

/** The database was written by a newer build, or cannot be opened/migrated; the message says what to do. */
export class StoreError extends Error {}

export interface OpenOptions {
  /** Milliseconds a writer waits for another connection's write lock before giving up (default 10 s). */
  busyTimeoutMs?: number;
  /** Migrations to apply (tests pass extra ones); defaults to MIGRATIONS. */
  migrations?: readonly Migration[];
  /** Copy the database aside before migrating an existing one (default true). */
  backupBeforeMigrate?: boolean;
}

/** Opens (creating if needed) the database file, sets the connection pragmas and applies pending migrations. */
export function openDatabase(file: string, opts: OpenOptions = {}): DB {
  const abs = path.resolve(file);
  try {
    fs.mkdirSync(path.dirname(abs), { recursive: true });
  } catch (err) {
    throw new StoreError(`cannot create the data folder ${path.dirname(abs)}: ${(err as Error).message}; pass --data-dir with a writable folder`);
  }
  let db: DB;
  try {
    db = new Database(abs, { timeout: opts.busyTimeoutMs ?? 10_000 });
  } catch (err) {
    throw new StoreError(`cannot open the database ${abs}: ${(err as Error).message}`);
  }
  try {
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') {
      throw new StoreError(`the database ${abs} cannot use WAL mode (got "${mode}"); keep the data folder on a local disk, not a network share`);
    }
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, abs, opts.migrations ?? MIGRATIONS, opts.backupBeforeMigrate ?? true);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof StoreError) throw err;
    const msg = (err as Error).message;
    if ((err as { code?: string }).code === 'SQLITE_NOTADB') throw new StoreError(`${abs} is not a SQLite database; move it away or pass another --data-dir`);
    throw new StoreError(`cannot prepare the database ${abs}: ${msg}`);
  }
}

/** The schema version a database is at (0 for a new, empty one). */
export function schemaVersion(db: DB): number {
  return Number(db.pragma('user_version', { simple: true }));
}

/**
 * Applies the migrations newer than the database's user_version, each in its own transaction together
 * with the version bump. An existing database is first copied to `<file>.v<N>.bak` (VACUUM INTO a
 * temporary file, renamed into place) so that even a faulty migration cannot lose what the user stored.
 */
export function migrate(db: DB, file: string, migrations: readonly Migration[], backup = true): { from: number; to: number } {
  const latest = migrations.length ? migrations[migrations.length - 1]!.version : 0;
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new StoreError(`migration list is out of order at "${m.name}" (version ${m.version}, expected ${i + 1})`);
  });
  const from = schemaVersion(db);
  if (from > latest) {
    throw new StoreError(
      `the database ${file} has schema version ${from}, newer than this build knows (${latest}); ` +
        'update Robust RLHF Studio, or pass --data-dir to use another folder',
    );
  }
  if (from === latest) return { from, to: from };
  if (from > 0 && backup && file !== ':memory:') {
    // Always a fresh copy of the database as it is now (an older .bak may be cut short by a killed
    // process, or predate data stored since an earlier failed attempt), written beside it and renamed
    // into place, so the backup at this path is always complete.
    const bak = `${file}.v${from}.bak`;
    const tmp = `${bak}.${process.pid}.tmp`;
    try {
      fs.rmSync(tmp, { force: true });
      db.prepare('VACUUM INTO ?').run(tmp);
      fs.renameSync(tmp, bak);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw new StoreError(`cannot back up ${file} to ${bak} before migrating it (${(err as Error).message}); nothing was changed; free some disk space and start again`);
    }
  }
  for (const m of migrations.slice(from)) {
    const apply = db.transaction(() => {
      db.exec(m.sql);
      if (m.foreignKeysOff) {
        const broken = db.pragma('foreign_key_check') as { table: string; parent: string }[];
        if (broken.length) throw new Error(`${broken.length} rows would point at missing rows (first: ${broken[0]!.table} → ${broken[0]!.parent})`);
      }
      db.pragma(`user_version = ${m.version}`);
    });
    // The pragma is a no-op inside a transaction, so it is switched around it.
    const fkWasOn = m.foreignKeysOff === true && Number(db.pragma('foreign_keys', { simple: true })) === 1;
    if (fkWasOn) db.pragma('foreign_keys = OFF');
    try {
      apply.immediate();
    } catch (err) {
      throw new StoreError(`migration ${m.version} ("${m.name}") failed and was rolled back; the database stays at version ${schemaVersion(db)}: ${(err as Error).message}`);
    } finally {
      if (fkWasOn) db.pragma('foreign_keys = ON');
    }
  }
  return { from, to: latest };
}
