// Tests for engine/store: data directory and input paths, connection settings, migrations.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  openStore, checkInputFile, defaultDataDir, resolveDataDir, InputFileError, StoreError, MIGRATIONS, schemaVersion, DB_FILE,
} from '../../engine/store/index.js';

const dirs: string[] = [];
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rrlhf-store-')); dirs.push(d); return d; };
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

test('the default data directory is Electron userData for "Robust RLHF Studio"', () => {
  assert.equal(defaultDataDir('linux', {}, '/home/ada'), '/home/ada/.config/Robust RLHF Studio');
  assert.equal(defaultDataDir('linux', { XDG_CONFIG_HOME: '/xdg' }, '/home/ada'), '/xdg/Robust RLHF Studio');
  assert.equal(defaultDataDir('linux', { XDG_CONFIG_HOME: '' }, '/home/ada'), '/home/ada/.config/Robust RLHF Studio');
  assert.equal(defaultDataDir('darwin', {}, '/Users/ada'), '/Users/ada/Library/Application Support/Robust RLHF Studio');
  assert.equal(defaultDataDir('win32', { APPDATA: 'C:\\Users\\ada\\AppData\\Roaming' }, 'C:\\Users\\ada'), 'C:\\Users\\ada\\AppData\\Roaming\\Robust RLHF Studio');
});

test('--data-dir wins over RRLHF_DATA_DIR, which wins over the default; both resolve to absolute paths', () => {
  assert.equal(resolveDataDir('rel/dir', { RRLHF_DATA_DIR: '/env' }), path.resolve('rel/dir'));
  assert.equal(resolveDataDir(undefined, { RRLHF_DATA_DIR: '/env' }), '/env');
  assert.equal(resolveDataDir(undefined, {}), defaultDataDir());
});

test('user-supplied files are resolved and checked with messages that say what is wrong', () => {
  const dir = tmp();
  const file = path.join(dir, 'a.jsonl');
  fs.writeFileSync(file, '{}\n');
  assert.equal(checkInputFile(path.relative(process.cwd(), file)), file);
  assert.throws(() => checkInputFile(path.join(dir, 'missing.jsonl')), (e: Error) => e instanceof InputFileError && /missing\.jsonl does not exist/.test(e.message));
  assert.throws(() => checkInputFile(dir), (e: Error) => e instanceof InputFileError && /is a folder/.test(e.message));
  if (process.getuid?.() !== 0) { // root can read anything
    fs.chmodSync(file, 0o000);
    assert.throws(() => checkInputFile(file), /not readable/);
  }
});

test('a new store is in WAL mode with foreign keys on, synchronous NORMAL and a busy timeout', () => {
  const dir = tmp();
  const store = openStore({ dataDir: dir });
  try {
    assert.equal(store.file, path.join(dir, DB_FILE));
    assert.ok(fs.existsSync(store.file));
    assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(store.db.pragma('foreign_keys', { simple: true }), 1);
    assert.equal(store.db.pragma('synchronous', { simple: true }), 1);
    assert.ok(Number(store.db.pragma('busy_timeout', { simple: true })) >= 1000);
    assert.equal(schemaVersion(store.db), MIGRATIONS.length);
    assert.deepEqual(store.integrityCheck(), ['ok']);
    const tables = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    for (const t of ['datasets', 'dataset_rows', 'dataset_errors', 'artifacts', 'ensembles', 'experiments', 'runs', 'metrics', 'samples', 'alerts', 'alert_samples', 'checkpoints']) {
      assert.ok(tables.includes(t), `table ${t}`);
    }
  } finally {
    store.close();
  }
  // Reopening applies nothing and keeps the version.
  const again = openStore({ dataDir: dir });
  assert.equal(schemaVersion(again.db), MIGRATIONS.length);
  again.close();
});

test('a database from a newer build is refused with a clear message, and left untouched', () => {
  const dir = tmp();
  openStore({ dataDir: dir }).close();
  const raw = new Database(path.join(dir, DB_FILE));
  raw.pragma(`user_version = ${MIGRATIONS.length + 3}`);
  raw.close();
  assert.throws(() => openStore({ dataDir: dir }), (e: Error) =>
    e instanceof StoreError && e.message.includes(`schema version ${MIGRATIONS.length + 3}, newer than this build knows (${MIGRATIONS.length})`) && /update Robust RLHF Studio/.test(e.message));
  const check = new Database(path.join(dir, DB_FILE));
  assert.equal(check.pragma('user_version', { simple: true }), MIGRATIONS.length + 3);
  check.close();
});

test('a later migration applies to an existing database, keeps its data and leaves a backup', () => {
  const dir = tmp();
  const s1 = openStore({ dataDir: dir });
  const run = s1.runs.create({ objective: 'robust', seed: 1 });
  s1.close();
  const v2 = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'add a note column', sql: 'ALTER TABLE runs ADD COLUMN note TEXT;' }];
  const s2 = openStore({ dataDir: dir, migrations: v2 });
  try {
    assert.equal(schemaVersion(s2.db), v2.length);
    assert.equal(s2.runs.get(run.id)!.objective, 'robust');
    assert.ok(s2.db.prepare('SELECT note FROM runs').all());
    assert.ok(fs.existsSync(path.join(dir, `${DB_FILE}.v${MIGRATIONS.length}.bak`)), 'backup written before migrating');
  } finally {
    s2.close();
  }
});

test('the backup before a migration is complete and current, even where a killed earlier attempt left a broken one', () => {
  const dir = tmp();
  const s1 = openStore({ dataDir: dir });
  const run = s1.runs.create({ objective: 'robust', seed: 1 });
  s1.close();
  // What a process killed during VACUUM INTO leaves behind: the first bytes of a database.
  const bak = path.join(dir, `${DB_FILE}.v${MIGRATIONS.length}.bak`);
  fs.writeFileSync(bak, fs.readFileSync(path.join(dir, DB_FILE)).subarray(0, 100));
  const v2 = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'add a note column', sql: 'ALTER TABLE runs ADD COLUMN note TEXT;' }];
  openStore({ dataDir: dir, migrations: v2 }).close();
  const b = new Database(bak, { readonly: true });
  try {
    assert.equal(b.pragma('quick_check', { simple: true }), 'ok');
    assert.equal(b.pragma('user_version', { simple: true }), MIGRATIONS.length);
    assert.equal(b.prepare('SELECT objective FROM runs WHERE id = ?').pluck().get(run.id), 'robust');
  } finally {
    b.close();
  }
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
});

test('a failing migration rolls back completely: version, schema and data as before', () => {
  const dir = tmp();
  const s1 = openStore({ dataDir: dir });
  s1.runs.create({ objective: 'single', seed: 0 });
  s1.close();
  const broken = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'half done', sql: 'CREATE TABLE half (x); INSERT INTO nowhere VALUES (1);' }];
  assert.throws(() => openStore({ dataDir: dir, migrations: broken }), (e: Error) => e instanceof StoreError && e.message.includes(`migration ${MIGRATIONS.length + 1} ("half done") failed and was rolled back`));
  const s2 = openStore({ dataDir: dir });
  try {
    assert.equal(schemaVersion(s2.db), MIGRATIONS.length);
    assert.equal(s2.runs.list().length, 1);
    assert.equal(s2.db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'").pluck().get(), 0);
  } finally {
    s2.close();
  }
});

test('a file that is not a SQLite database gives a clear error', () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, DB_FILE), 'this is not a database, just some text that is long enough to have a header'.repeat(20));
  assert.throws(() => openStore({ dataDir: dir }), (e: Error) => e instanceof StoreError && /not a SQLite database/.test(e.message));
});

test("migration 2 rebuilds runs (status 'imported', source) without losing runs or their metrics, samples and checkpoints", () => {
  const dir = tmp();
  const s1 = openStore({ dataDir: dir, migrations: MIGRATIONS.slice(0, 1) });
  const exp = s1.experiments.create({ name: 'old', spec: { seeds: [1] } });
  const run = s1.runs.create({ experimentId: exp.id, objective: 'standard', seed: 1, config: { lr: 1 } });
  s1.runs.update(run.id, { status: 'finished' });
  s1.metrics.append(run.id, 3, { 'eval/gold': 0.5 });
  s1.runs.addCheckpoint({ runId: run.id, step: 3, path: '/x', sha256: 'ab' });
  s1.close();
  const s2 = openStore({ dataDir: dir });
  try {
    assert.equal(schemaVersion(s2.db), MIGRATIONS.length);
    const r = s2.runs.get(run.id)!;
    assert.deepEqual([r.status, r.objective, r.config, r.source, r.sourceHash], ['finished', 'standard', { lr: 1 }, null, null]);
    assert.deepEqual(s2.metrics.last(run.id), { 'eval/gold': { step: 3, value: 0.5 } });
    assert.equal(s2.runs.checkpoints(run.id).length, 1);
    assert.equal(Number(s2.db.pragma('foreign_keys', { simple: true })), 1, 'foreign keys back on');
    assert.deepEqual(s2.integrityCheck(), ['ok']);
    // The children still cascade from the rebuilt table.
    s2.db.prepare('DELETE FROM runs WHERE id = ?').run(run.id);
    assert.equal(s2.db.prepare('SELECT COUNT(*) FROM metrics').pluck().get(), 0);
    assert.equal(s2.db.prepare('SELECT COUNT(*) FROM checkpoints').pluck().get(), 0);
  } finally {
    s2.close();
  }
});
