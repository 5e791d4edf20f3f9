// zod schemas for history queries that arrive from outside the engine (CLI flags, the UI over IPC or
// HTTP): validate with `.parse` / `.safeParse` before calling the repositories.
import { z } from 'zod';
import { RUN_STATUSES } from './runs.js';
import { SAMPLE_SORTS } from './samples.js';

const id = z.number().int().positive();
const ids = z.array(id).min(1).max(1000);

export const RunFilterSchema = z.strictObject({
  experimentId: id.optional(),
  status: z.union([z.enum(RUN_STATUSES), z.array(z.enum(RUN_STATUSES)).min(1)]).optional(),
  objective: z.string().min(1).optional(),
  limit: z.number().int().positive().max(10_000).optional(),
});

/** A metric curve per run (overlay), x = step or √KL. */
export const SeriesRequestSchema = z.strictObject({
  runIds: ids,
  key: z.string().min(1),
  x: z.enum(['step', 'sqrt_kl']).default('step'),
  klKey: z.string().min(1).optional(),
});

/** Seed bands: mean ± std per objective. */
export const BandsRequestSchema = z.strictObject({ runIds: ids, key: z.string().min(1) });

export const ConfigDiffRequestSchema = z.strictObject({ a: id, b: id });

export const SampleQuerySchema = z.strictObject({
  runIds: ids,
  step: z.number().int().nonnegative().optional(),
  fromStep: z.number().int().nonnegative().optional(),
  toStep: z.number().int().nonnegative().optional(),
  sort: z.enum(Object.keys(SAMPLE_SORTS) as [keyof typeof SAMPLE_SORTS, ...(keyof typeof SAMPLE_SORTS)[]]).optional(),
  order: z.enum(['asc', 'desc']).optional(),
  limit: z.number().int().positive().max(1000).default(50),
  offset: z.number().int().nonnegative().default(0),
});
