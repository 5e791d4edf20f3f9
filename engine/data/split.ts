// Deterministic train/validation/test assignment. A row's split depends only on the seed and its
// prompt (hashed), never on file order or row count: re-importing, appending rows or reordering the
// file leaves every row in its split, and all pairs that share a prompt land in the same split, so a
// prompt seen in training never leaks into evaluation.
import { createHash } from 'node:crypto';
import type { Split } from '../store/datasets.js';

export interface SplitSpec {
  seed: number;
  /** Fractions of rows for validation and test; train gets the rest. */
  validation: number;
  test: number;
}

export const DEFAULT_SPLIT: SplitSpec = { seed: 0, validation: 0.05, test: 0.05 };

/** A uniform number in [0, 1) from sha256(seed, key). */
export function unitHash(seed: number, key: string): number {
  const h = createHash('sha256').update(`${seed}\u0000${key}`).digest();
  return h.readUIntBE(0, 6) / 2 ** 48;
}

export function splitOf(key: string, spec: SplitSpec): Split {
  const u = unitHash(spec.seed, key);
  if (u < spec.test) return 'test';
  if (u < spec.test + spec.validation) return 'validation';
  return 'train';
}
