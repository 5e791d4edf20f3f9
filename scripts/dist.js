// `npm run dist [-- --linux|--mac|--win ...]`: builds the installers with electron-builder
// (build/electron-builder.yml) after `npm run build`, then rebuilds better-sqlite3 for this Node, because
// electron-builder rebuilds native modules in node_modules for Electron's ABI while packaging.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'electron-builder.cmd' : 'electron-builder');
if (!existsSync(bin)) {
  console.error('[rrlhf] electron-builder is not installed; run `npm install` (with devDependencies) first.');
  process.exit(1);
}
if (!existsSync(path.join(root, 'dist', 'electron', 'main.js')) || !existsSync(path.join(root, 'dist', 'renderer', 'index.html'))) {
  console.error('[rrlhf] the app is not built; run `npm run build` first (`npm run dist` does).');
  process.exit(1);
}
const r = spawnSync(bin, ['--config', path.join('build', 'electron-builder.yml'), '--publish', 'never', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
console.log('[rrlhf] rebuilding better-sqlite3 for Node so that the CLI and tests work again in this checkout…');
const rb = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['rebuild', 'better-sqlite3'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
if (rb.status !== 0) console.error('[rrlhf] `npm rebuild better-sqlite3` failed; run it yourself before using the CLI.');
if (r.status === 0) console.log(`[rrlhf] installers are in ${path.join(root, 'dist', 'installers')}`);
process.exit(r.status ?? 1);
