// Best-of-n as the service runs it (`rrlhf bon`, API bon.run): one request schema for the CLI and every
// transport, the stored record (store.bon) written when sampling starts and completed when it ends.
import { z } from 'zod';
import { type Store } from '../store/index.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { OBJECTIVES } from '../rlhf/aggregate.js';
import { ObjectiveSchema } from '../experiments/spec.js';
import { objectiveConfig } from '../experiments/runner.js';
import { runBon, resolveSource, BonSourceError, type BonSourceSpec, type BonResult } from '../experiments/bon.js';
import { WORLD_NAMES } from '../worlds/index.js';

export const BON_LIMITS = Object.freeze({ maxN: 65536, maxPrompts: 4096, maxSeeds: 64, maxSamples: 2 ** 21 });

const Source = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('world'),
    name: z.enum(WORLD_NAMES as [string, ...string[]]),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
    /** The world's own settings (refused by name when unknown). */
    settings: z.record(z.string(), z.unknown()).default({}),
    /** A study's `ensemble` block (docs/method.md § BRME): method, heads, pairs, … */
    ensemble: z.record(z.string(), z.unknown()).default({}),
  }),
  z.strictObject({ kind: z.literal('run'), runId: z.number().int().positive() }),
  z.strictObject({ kind: z.literal('model'), modelDir: z.string().min(1), ensembleId: z.number().int().positive() }),
]);

export const BonRequestSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  source: Source,
  /** Absent: every objective of aggregate.ts under its kind's name (gold too where there is gold). */
  objectives: z.array(ObjectiveSchema).min(1).max(32).optional(),
  n: z.number().int().min(1).max(BON_LIMITS.maxN).default(256),
  prompts: z.number().int().min(1).max(BON_LIMITS.maxPrompts).default(8),
  seeds: z.array(z.number().int().min(0).max(2 ** 31 - 1)).min(1).max(BON_LIMITS.maxSeeds).default([0, 1, 2, 3, 4, 5, 6, 7]),
  batchSize: z.number().int().min(1).max(4096).default(256),
}).refine((r) => r.n * r.prompts <= BON_LIMITS.maxSamples, { message: `n × prompts may be at most ${BON_LIMITS.maxSamples} samples per seed` })
  .refine((r) => !r.objectives || new Set(r.objectives.map((o) => o.name)).size === r.objectives.length, { message: 'objective names must differ' });
export type BonRequest = z.output<typeof BonRequestSchema>;

const defaultObjectives = () => OBJECTIVES.map((kind) => ObjectiveSchema.parse({ name: kind, kind }));

export interface BonRunResult { id: number; name: string; source: Record<string, unknown>; result: BonResult }

/** Runs a validated request and records it: 'running' at once, then 'finished' with the result, or
 *  'cancelled'/'failed' with the reason. */
export async function executeBon(req: BonRequest, o: { store: Store; dataDir: string; device?: DeviceRequest; signal?: AbortSignal; onProgress?: (e: { message: string; seed?: number; done?: number; total?: number }) => void; onCreated?: (id: number) => void }): Promise<BonRunResult> {
  const explicit = req.objectives !== undefined;
  const objectives = req.objectives ?? defaultObjectives();
  const s = req.source;
  const spec: BonSourceSpec = s.kind === 'world' ? { kind: 'world', name: s.name, seed: s.seed, settings: s.settings, ensemble: s.ensemble } : s;
  const name = req.name ?? (s.kind === 'world' ? `best-of-${req.n} on ${s.name}` : s.kind === 'run' ? `best-of-${req.n} on run ${s.runId}` : `best-of-${req.n} on ${s.modelDir}`);
  // The source is checked (run, ensemble, folders) before anything is recorded.
  const resolved = await resolveSource(spec, o);
  const rec = o.store.bon.create({
    name, source: s as Record<string, unknown>, config: { n: req.n, prompts: req.prompts, seeds: req.seeds, objectives, batchSize: req.batchSize },
    runId: s.kind === 'run' ? s.runId : null, ensembleId: s.kind === 'model' ? s.ensembleId : null,
  });
  o.onCreated?.(rec.id);
  try {
    const r = await runBon(resolved, {
      store: o.store, dataDir: o.dataDir, device: o.device, N: req.n, prompts: req.prompts, seeds: req.seeds, batchSize: req.batchSize, signal: o.signal, onProgress: o.onProgress,
      objectives: objectives.map((x) => ({ name: x.name, config: objectiveConfig(x) })),
      // Without gold the default list drops the gold objective; an explicit one is refused by runBon.
      dropGoldWithoutGold: !explicit,
    });
    const { source, ...result } = r;
    o.store.bon.finish(rec.id, { ...result, source } as unknown as Record<string, unknown>);
    return { id: rec.id, name, source, result };
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0]!;
    o.store.bon.fail(rec.id, msg === 'cancelled' || o.signal?.aborted ? 'cancelled' : 'failed', msg);
    throw e;
  }
}

export { BonSourceError };
