// Where a study's files live in the data dir — the runner writes them; best-of-n, the report and the
// cluster export read them — and which store record is the study's reward ensemble.

import path from 'node:path';
import { type Store } from '../store/index.js';
import { type Ensemble as EnsembleRecord } from '../store/artifacts.js';

/** <data dir>/experiments/<id>/ and what the runner keeps in it. */
export function studyPaths(dataDir: string, experimentId: number) {
  const dir = path.join(dataDir, 'experiments', String(experimentId));
  return {
    dir,
    /** π₀ after SFT (absent while a dataset world's model is used as it is). */
    basePolicy: path.join(dir, 'base-policy'),
    ensemble: path.join(dir, 'ensemble'),
    /** Per-member trunks (ensemble.trunks 'per-member'): member-k/ holds member k's π₀ variant. */
    memberTrunks: path.join(dir, 'member-trunks'),
    /** Written after the ensemble is saved: its presence means the ensemble is complete. */
    ensembleReport: path.join(dir, 'ensemble-report.json'),
    run: (runId: number) => path.join(dir, 'runs', String(runId)),
  };
}

/** The store's record of the ensemble a study trained: the one whose artifact is the study's ensemble
 *  folder (the runner records both once the ensemble is saved). Matched on the path's end, so a data dir
 *  that was moved, or is named relatively, still finds it. */
export function studyEnsembleRecord(store: Store, experimentId: number): EnsembleRecord | null {
  const suffix = `/experiments/${experimentId}/ensemble`;
  const arts = new Map(store.artifacts.list('ensemble').map((a) => [a.id, a]));
  return store.ensembles.list().find((e) => e.artifactId !== null && arts.get(e.artifactId)?.path.replace(/\\/g, '/').endsWith(suffix)) ?? null;
}
