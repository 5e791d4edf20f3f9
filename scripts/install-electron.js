// Root postinstall. Electron's own install script downloads its binary from the internet; when that
// fails the whole `npm install` fails, so package.json blocks it (allowScripts.electron = false) and we
// run it here ourselves, turning a failed download into a notice: the app then opens in the browser
// (web mode) instead of an Electron window. ELECTRON_SKIP_BINARY_DOWNLOAD=1 skips the attempt.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
let electronDir;
try {
  electronDir = path.dirname(require.resolve('electron/package.json'));
} catch {
  process.exit(0); // production install without devDependencies: nothing to do
}
if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD === '1') {
  console.log('[rrlhf] ELECTRON_SKIP_BINARY_DOWNLOAD=1: skipping the Electron binary; `npm start` will use web mode.');
  process.exit(0);
}
if (existsSync(path.join(electronDir, 'path.txt'))) process.exit(0); // already installed
const r = spawnSync(process.execPath, ['install.js'], { cwd: electronDir, stdio: 'pipe', timeout: 120_000 });
if (r.status === 0) {
  console.log('[rrlhf] Electron binary installed.');
} else {
  const why = (r.stderr?.toString() || r.error?.message || '').split('\n').find((l) => l.trim()) ?? 'unknown error';
  console.log(`[rrlhf] Electron binary not downloaded (${why.trim().slice(0, 160)}).`);
  console.log('[rrlhf] This is fine: `npm start` opens the app in your browser (web mode) instead.');
}
