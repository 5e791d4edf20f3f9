// The studio's store: one SQLite database (studio.sqlite in the data directory) and a typed repository
// per concept. Open one Store per process (or per writer); SQLite's WAL mode lets other connections —
// other processes included — read while it writes.
//
//   const store = openStore({ dataDir });        // --data-dir, $RRLHF_DATA_DIR, or Electron's userData
//   store.datasets.list(); store.runs.create({...}); store.metrics.append(runId, step, {...});
//   store.close();
import path from 'node:path';
import { openDatabase, type DB, type OpenOptions } from './db.js';
import { DB_FILE, resolveDataDir } from './paths.js';
import { DatasetRepo } from './datasets.js';
import { ArtifactRepo, EnsembleRepo } from './artifacts.js';
import { ExperimentRepo } from './experiments.js';
import { RunRepo } from './runs.js';
import { MetricRepo } from './metrics.js';
import { AlertRepo, SampleRepo } from './samples.js';
import { BonRepo } from './bon.js';

export class Store {
  readonly datasets: DatasetRepo;
  readonly artifacts: ArtifactRepo;
  readonly ensembles: EnsembleRepo;
  readonly experiments: ExperimentRepo;
  readonly runs: RunRepo;
  readonly metrics: MetricRepo;
  readonly samples: SampleRepo;
  readonly alerts: AlertRepo;
  readonly bon: BonRepo;

  constructor(readonly db: DB, readonly file: string) {
    this.datasets = new DatasetRepo(db);
    this.artifacts = new ArtifactRepo(db);
    this.ensembles = new EnsembleRepo(db);
    this.experiments = new ExperimentRepo(db);
    this.runs = new RunRepo(db);
    this.metrics = new MetricRepo(db);
    this.samples = new SampleRepo(db);
    this.alerts = new AlertRepo(db, this.samples);
    this.bon = new BonRepo(db);
  }

  /** SQLite's own consistency check: ['ok'] for a healthy database, else the problems it found. */
  integrityCheck(): string[] {
    const rows = this.db.pragma('integrity_check') as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

export interface StoreLocation extends OpenOptions {
  /** The data directory (studio.sqlite inside it); default: resolveDataDir(). */
  dataDir?: string;
  /** A database file path, instead of a data directory (tests, tools). */
  file?: string;
}

export function openStore(loc: StoreLocation = {}): Store {
  const file = loc.file ? path.resolve(loc.file) : path.join(resolveDataDir(loc.dataDir), DB_FILE);
  return new Store(openDatabase(file, loc), file);
}

export { StoreError, schemaVersion } from './db.js';
export { InputFileError, checkInputFile, defaultDataDir, resolveDataDir, DB_FILE, PRODUCT_NAME } from './paths.js';
export { MIGRATIONS, type Migration } from './migrations.js';
export type { Dataset, DatasetSummary, DatasetRow, DatasetFormat, Split, ContentKind, NewDatasetRow } from './datasets.js';
export type { Artifact, Ensemble } from './artifacts.js';
export type { Experiment } from './experiments.js';
export type { BonRecord, BonStatus } from './bon.js';
export { RUN_STATUSES, configDiff, isComplete, type Run, type RunSource, type RunStatus, type RunFilter, type Checkpoint, type ConfigDifference } from './runs.js';
export { DEFAULT_KL_KEY, meanStd, type MetricRecord, type Series, type Band, type XAxis } from './metrics.js';
export { SAMPLE_SORTS, type Sample, type SampleSort, type NewSample, type Alert } from './samples.js';
export { RunFilterSchema, SeriesRequestSchema, BandsRequestSchema, ConfigDiffRequestSchema, SampleQuerySchema } from './requests.js';
