// `npm start` (after the build): the desktop app when Electron's binary is installed, web mode otherwise.
//
//   npm start [-- --data-dir DIR] [-- --port P] [-- --web]
//
// Electron's binary is downloaded by scripts/install-electron.js when the internet is reachable; it is
// installed when node_modules/electron/path.txt exists. Without it (an offline machine, a headless GPU
// server) this starts `rrlhf serve`, prints the address, and opens the browser when there is a desktop.
// --web forces web mode. Never fails just because no browser can be opened.
import { spawn } from 'node:child_process';
import { existsSync, accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const forceWeb = args.includes('--web');
const rest = args.filter((a) => a !== '--web');

function electronBinary() {
  try {
    const require = createRequire(import.meta.url);
    const dir = path.dirname(require.resolve('electron/package.json'));
    if (!existsSync(path.join(dir, 'path.txt'))) return { bin: null, why: 'its binary was not downloaded (offline install, or ELECTRON_SKIP_BINARY_DOWNLOAD=1)' };
    return { bin: require('electron'), why: null };
  } catch {
    return { bin: null, why: 'the electron package is not installed (production install without devDependencies)' };
  }
}

function onPath(cmd) {
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => {
    try { accessSync(path.join(d, cmd), constants.X_OK); return true; } catch { return false; }
  });
}

/** Opens a URL in the desktop's browser; returns why not when it cannot. */
function openBrowser(url) {
  const [cmd, argv] = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return 'no desktop session here (no DISPLAY)';
  if (process.platform !== 'win32' && !onPath(cmd)) return `${cmd} is not installed`;
  try {
    const child = spawn(cmd, argv, { detached: true, stdio: 'ignore' });
    child.on('error', () => {});
    child.unref();
    return null;
  } catch (err) {
    return err.message;
  }
}

const main = path.join(root, 'dist', 'electron', 'main.js');
const { bin, why } = forceWeb ? { bin: null, why: '--web was given' } : electronBinary();

if (bin && existsSync(main)) {
  // RRLHF_NODE: the engine process runs on this Node, for which node_modules' native modules are built
  // (the packaged app rebuilds them for Electron instead; see build/electron-builder.yml).
  const env = { ...process.env, RRLHF_NODE: process.execPath };
  delete env.ELECTRON_RUN_AS_NODE;
  const child = spawn(bin, [main, ...rest], { stdio: 'inherit', env });
  child.on('exit', (code, signal) => process.exit(signal ? 1 : code ?? 0));
  for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => child.kill(s));
} else {
  const reason = bin ? 'the desktop shell is not built (dist/electron/main.js is missing; run `npm run build`)' : `Electron is not available: ${why}`;
  process.stderr.write(`[rrlhf] ${reason}.\n[rrlhf] Starting web mode instead: the same app, in your browser.\n`);
  const serve = spawn(process.execPath, [path.join(root, 'bin', 'rrlhf.js'), 'serve', ...rest], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: serve.stdout });
  let first = true;
  lines.on('line', (line) => {
    if (!first) { process.stdout.write(line + '\n'); return; }
    first = false;
    process.stdout.write(`${line}\n`);
    process.stderr.write(`[rrlhf] Web mode is running. Open this address in a browser on this machine: ${line}\n`);
    const notOpened = openBrowser(line);
    process.stderr.write(notOpened ? `[rrlhf] (Could not open a browser automatically: ${notOpened}. Copy the address above; from another computer, use an SSH tunnel: ssh -L PORT:127.0.0.1:PORT this-host, with a fixed --port.)\n` : '[rrlhf] Opened it in your browser.\n');
  });
  serve.on('exit', (code, signal) => process.exit(signal ? 1 : code ?? 0));
  for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => serve.kill(s));
}
