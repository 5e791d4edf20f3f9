// `npm test` after the build: every dist/test/**/*.test.js on Node's built-in runner (helpers under
// dist/test/util are not test files). Extra arguments pass through, e.g. --test-name-pattern=parity.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

function find(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? find(p) : f.endsWith('.test.js') ? [p] : [];
  });
}
// Only compiled files whose TypeScript source still exists: tsc does not delete outputs of removed tests.
const files = find('dist/test').filter((f) => existsSync(f.replace(/^dist[\\/]/, '').replace(/\.js$/, '.ts'))).sort();
const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...process.argv.slice(2), ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
