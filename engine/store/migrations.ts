// The database schema as an ordered list of migrations. `PRAGMA user_version` records how many have
// been applied; each pending one runs in its own transaction together with the version bump, so a
// failure leaves the database at the previous version with its data untouched. Never edit a published
// migration: append a new one.
//
// Conventions: ids are INTEGER PRIMARY KEY; times are ISO-8601 UTC strings; JSON lives in TEXT columns
// (named without a _json suffix; the repositories parse them); a child row is deleted with its parent.

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /**
   * Runs with foreign keys off (SQLite's procedure for rebuilding a table that others reference: with
   * them on, dropping the old table would cascade-delete every child row). The migration's transaction
   * checks `PRAGMA foreign_key_check` before it commits.
   */
  foreignKeysOff?: boolean;
}

const V1 = `
-- Imported preference datasets. A dataset row exists only once its import committed.
CREATE TABLE datasets (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL,
  source_path   TEXT NOT NULL,
  source_sha256 TEXT NOT NULL,                -- hash of the file's bytes as imported
  format        TEXT NOT NULL CHECK (format IN ('jsonl', 'json', 'csv', 'parquet')),
  schema        TEXT NOT NULL,                -- detected schema id, or 'custom' for a manual mapping
  content       TEXT NOT NULL CHECK (content IN ('text', 'messages')),
  mapping       TEXT NOT NULL,                -- JSON: which source fields became prompt/chosen/rejected
  rows          INTEGER NOT NULL,
  rejected      INTEGER NOT NULL,
  set_aside     TEXT NOT NULL DEFAULT '{}',   -- JSON: rows kept out that are not errors (arena ties, dropped duplicates)
  positions     TEXT NOT NULL CHECK (positions IN ('line', 'row')),  -- what dataset_errors.line and dataset_rows.source count
  split         TEXT NOT NULL,                -- JSON: {seed, fractions, counts}
  stats         TEXT NOT NULL,                -- JSON: engine/data/stats.ts
  hash          TEXT NOT NULL,                -- sha256 of the accepted rows in canonical form, in order
  created       TEXT NOT NULL
);

CREATE TABLE dataset_rows (
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  idx        INTEGER NOT NULL,                -- 0-based order among accepted rows
  split      TEXT NOT NULL CHECK (split IN ('train', 'validation', 'test')),
  prompt     TEXT NOT NULL,                   -- plain text, or a JSON list of {role, content} when content = 'messages'
  chosen     TEXT NOT NULL,
  rejected   TEXT NOT NULL,
  source     INTEGER NOT NULL,                -- 1-based line (jsonl, csv) or 0-based row index (json, parquet)
  pair_hash  BLOB NOT NULL,                   -- 16 bytes of sha256 over (prompt, {chosen, rejected} unordered)
  orient     INTEGER NOT NULL,                -- 0 if chosen sorts before rejected, else 1: finds contradicting pairs
  meta       TEXT,                            -- JSON of the source's other scalar fields, or NULL
  PRIMARY KEY (dataset_id, idx)
);
CREATE INDEX dataset_rows_split ON dataset_rows (dataset_id, split, idx);
CREATE INDEX dataset_rows_pair ON dataset_rows (dataset_id, pair_hash, orient);

CREATE TABLE dataset_errors (
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  line       INTEGER NOT NULL,
  reason     TEXT NOT NULL
);
CREATE INDEX dataset_errors_dataset ON dataset_errors (dataset_id, line);

-- Files on disk the studio knows about: base models, tokenizers, trained weights, exported reports.
CREATE TABLE artifacts (
  id      INTEGER PRIMARY KEY,
  kind    TEXT NOT NULL,
  name    TEXT NOT NULL,
  path    TEXT NOT NULL,
  sha256  TEXT,
  bytes   INTEGER,
  meta    TEXT NOT NULL DEFAULT '{}',
  created TEXT NOT NULL
);
CREATE INDEX artifacts_kind ON artifacts (kind, id);

CREATE TABLE ensembles (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL,
  dataset_id    INTEGER REFERENCES datasets(id),
  base_model_id INTEGER REFERENCES artifacts(id),
  artifact_id   INTEGER REFERENCES artifacts(id),   -- the trained heads' weights
  heads         INTEGER NOT NULL,
  method        TEXT NOT NULL,
  config        TEXT NOT NULL DEFAULT '{}',
  metrics       TEXT NOT NULL DEFAULT '{}',         -- JSON: accuracy {nominal, mean, per_head}, sigma statistics
  created       TEXT NOT NULL
);

CREATE TABLE experiments (
  id        INTEGER PRIMARY KEY,
  name      TEXT NOT NULL,
  spec      TEXT NOT NULL,                 -- JSON experiment spec as submitted
  spec_hash TEXT NOT NULL,                 -- sha256 of the spec's canonical JSON
  created   TEXT NOT NULL
);
CREATE INDEX experiments_spec_hash ON experiments (spec_hash);

CREATE TABLE runs (
  id            INTEGER PRIMARY KEY,
  experiment_id INTEGER REFERENCES experiments(id) ON DELETE CASCADE,
  objective     TEXT NOT NULL,
  seed          INTEGER NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'paused', 'failed', 'finished', 'cancelled')),
  device        TEXT,
  config        TEXT NOT NULL DEFAULT '{}',  -- JSON: this run's resolved settings (what a config diff compares)
  versions      TEXT NOT NULL DEFAULT '{}',  -- JSON: app, Node, ORT versions
  pid           INTEGER,                     -- the process running it, to tell a crash from a live run
  host          TEXT,
  heartbeat     TEXT,
  created       TEXT NOT NULL,
  started       TEXT,
  finished      TEXT,
  error         TEXT
);
CREATE INDEX runs_experiment ON runs (experiment_id, id);
CREATE INDEX runs_status ON runs (status, id);

-- One scalar per (run, key, step). NULL stands for NaN, which SQLite cannot store.
CREATE TABLE metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key    TEXT NOT NULL,
  step   INTEGER NOT NULL,
  value  REAL,
  PRIMARY KEY (run_id, key, step)
) WITHOUT ROWID;

CREATE TABLE samples (
  id          INTEGER PRIMARY KEY,
  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step        INTEGER NOT NULL,
  prompt      TEXT NOT NULL,
  response    TEXT NOT NULL,
  rewards     TEXT NOT NULL DEFAULT '[]',   -- JSON: per-head means
  nominal     REAL,
  min_reward  REAL,
  mean_reward REAL,
  std_reward  REAL,                         -- ensemble std across heads
  proxy       REAL,                         -- the reward the run optimised
  gold        REAL,
  kl          REAL,
  length      INTEGER,
  meta        TEXT,
  nominal_min_gap REAL GENERATED ALWAYS AS (nominal - min_reward) VIRTUAL,
  proxy_gold_gap  REAL GENERATED ALWAYS AS (proxy - gold) VIRTUAL
);
CREATE INDEX samples_run ON samples (run_id, step);

CREATE TABLE alerts (
  id      INTEGER PRIMARY KEY,
  run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step    INTEGER NOT NULL,
  kind    TEXT NOT NULL,
  message TEXT NOT NULL,
  created TEXT NOT NULL
);
CREATE INDEX alerts_run ON alerts (run_id, step);

-- The samples behind an alert.
CREATE TABLE alert_samples (
  alert_id  INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
  PRIMARY KEY (alert_id, sample_id)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
  id      INTEGER PRIMARY KEY,
  run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step    INTEGER NOT NULL,
  path    TEXT NOT NULL,
  sha256  TEXT NOT NULL,
  bytes   INTEGER,
  meta    TEXT NOT NULL DEFAULT '{}',        -- JSON: what the checkpoint restores (optimizer, RNG, data cursor, ...)
  created TEXT NOT NULL
);
CREATE INDEX checkpoints_run ON checkpoints (run_id, step);
`;

// Runs imported from another engine's logs (engine/runlogs/import.ts): status 'imported', and where
// they came from. SQLite cannot change a CHECK constraint in place, so the table is rebuilt.
const V2 = `
CREATE TABLE runs_v2 (
  id            INTEGER PRIMARY KEY,
  experiment_id INTEGER REFERENCES experiments(id) ON DELETE CASCADE,
  objective     TEXT NOT NULL,
  seed          INTEGER NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'paused', 'failed', 'finished', 'cancelled', 'imported')),
  device        TEXT,
  config        TEXT NOT NULL DEFAULT '{}',
  versions      TEXT NOT NULL DEFAULT '{}',
  pid           INTEGER,
  host          TEXT,
  heartbeat     TEXT,
  created       TEXT NOT NULL,
  started       TEXT,
  finished      TEXT,
  error         TEXT,
  source        TEXT,                        -- JSON for an imported run: {engine, format, path, files:[{name, sha256, bytes}]}
  source_hash   TEXT                         -- sha256 over the imported files (name and content hash of each)
);
INSERT INTO runs_v2 (id, experiment_id, objective, seed, status, device, config, versions, pid, host, heartbeat, created, started, finished, error)
  SELECT id, experiment_id, objective, seed, status, device, config, versions, pid, host, heartbeat, created, started, finished, error FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v2 RENAME TO runs;
CREATE INDEX runs_experiment ON runs (experiment_id, id);
CREATE INDEX runs_status ON runs (status, id);
CREATE INDEX runs_source_hash ON runs (source_hash) WHERE source_hash IS NOT NULL;
`;

// Best-of-n results (engine/experiments/bon.ts; docs/method.md § Best-of-n): inference-only, so they are
// not runs; a row is written when sampling starts and completed (or failed) when it ends.
const V3 = `
CREATE TABLE bon_results (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL,
  source      TEXT NOT NULL,                 -- JSON: what was sampled (world + settings + ensemble settings, run, or model + ensemble)
  config      TEXT NOT NULL,                 -- JSON: N, prompts, seeds, objectives
  run_id      INTEGER REFERENCES runs(id) ON DELETE SET NULL,
  ensemble_id INTEGER REFERENCES ensembles(id) ON DELETE SET NULL,
  status      TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'cancelled')),
  result      TEXT,                          -- JSON: the curves, intervals and fits once finished
  error       TEXT,
  created     TEXT NOT NULL,
  finished    TEXT
);
CREATE INDEX bon_results_run ON bon_results (run_id) WHERE run_id IS NOT NULL;
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'datasets, artifacts, ensembles, experiments, runs, metrics, samples, alerts, checkpoints', sql: V1 },
  { version: 2, name: "runs: status 'imported', source and source_hash", sql: V2, foreignKeysOff: true },
  { version: 3, name: 'bon_results: best-of-n curves', sql: V3 },
];
