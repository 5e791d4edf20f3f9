// The import request as the CLI and the UI send it, validated with zod, plus parsers for the CLI's
// compact forms (--map prompt=a,chosen=b,rejected=c and --split 0.9,0.05,0.05).
import { z } from 'zod';
import { FORMATS } from './formats.js';
import { SCHEMA_IDS, type Mapping } from './schemas.js';

const column = z.string().min(1, 'a column name cannot be empty');

export const MappingSchema = z.strictObject({ prompt: column.optional(), chosen: column, rejected: column });

export const SplitSchema = z.strictObject({
  seed: z.number().int(),
  validation: z.number().min(0).max(1),
  test: z.number().min(0).max(1),
}).refine((s) => s.validation + s.test < 1, 'validation + test must leave some rows for training (sum below 1)');

export const ImportRequestSchema = z.strictObject({
  file: z.string().min(1, 'a file path is required'),
  name: z.string().min(1).max(200).optional(),
  format: z.enum(['auto', ...FORMATS]).default('auto'),
  schema: z.enum(SCHEMA_IDS).optional(),
  mapping: MappingSchema.optional(),
  split: SplitSchema.optional(),
  dropDuplicates: z.boolean().default(false),
});
export type ImportRequest = z.infer<typeof ImportRequestSchema>;

/** A malformed option value; the message says what was expected. */
export class OptionError extends Error {}

/** "prompt=q,chosen=good,rejected=bad" → {prompt: 'q', chosen: 'good', rejected: 'bad'}. */
export function parseMapping(text: string): Mapping {
  const obj: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new OptionError(`--map expects role=column pairs like prompt=question,chosen=good,rejected=bad; got "${part}"`);
    const role = part.slice(0, eq).trim(), col = part.slice(eq + 1).trim();
    if (role in obj) throw new OptionError(`--map names "${role}" twice`);
    obj[role] = col;
  }
  const r = MappingSchema.safeParse(obj);
  if (!r.success) {
    const roles = Object.keys(obj).filter((k) => !['prompt', 'chosen', 'rejected'].includes(k));
    if (roles.length) throw new OptionError(`--map roles are prompt, chosen and rejected; "${roles[0]}" is not one of them`);
    throw new OptionError(`--map needs chosen=COLUMN and rejected=COLUMN (prompt=COLUMN is optional): ${z.prettifyError(r.error).replace(/\n/g, ' ')}`);
  }
  return r.data;
}

/** "0.9,0.05,0.05" (train, validation, test fractions) → {validation, test}. */
export function parseSplit(text: string): { validation: number; test: number } {
  const parts = text.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x) || x < 0 || x > 1)) {
    throw new OptionError(`--split expects three fractions train,validation,test like 0.9,0.05,0.05; got "${text}"`);
  }
  const [train, validation, test] = parts as [number, number, number];
  if (Math.abs(train + validation + test - 1) > 1e-6) throw new OptionError(`--split fractions must add up to 1; ${text} adds up to ${train + validation + test}`);
  if (train <= 0) throw new OptionError('--split must leave some rows for training');
  return { validation, test };
}
