// Tests run from dist/test/...; fixtures live in the source tree. Resolve them from the repo root.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const fixture = (...parts: string[]) => path.join(repoRoot, 'test', 'fixtures', ...parts);
