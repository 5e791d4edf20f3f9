// The desktop shell: one window showing the renderer (dist/renderer, served from the app:// scheme with
// a strict Content-Security-Policy), a menu, native file dialogs, the recent data folders, and the
// engine in its own process (electron/engine-host.ts) so that training never freezes the window.
//
// Security: contextIsolation, sandbox, no nodeIntegration, no remote content (requests other than app://
// are refused), navigation and new windows blocked, permission requests denied, IPC only on the fixed
// channels below with each argument checked (and every API input validated by the service's schemas).
//
//   electron dist/electron/main.js [--data-dir DIR]
import { app, BrowserWindow, Menu, dialog, ipcMain, shell, utilityProcess, protocol, net, session, type IpcMainInvokeEvent, type MenuItemConstructorOptions, type UtilityProcess } from 'electron';
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { HostMessage, MainMessage } from './engine-host.js';
import type { JobEvent, Reply } from '../engine/service/protocol.js';
import type { BridgeNotice, FileFilter } from '../engine/service/bridge.js';

const PRODUCT = 'Robust RLHF Studio';
const here = path.dirname(fileURLToPath(import.meta.url));
const RENDERER = path.resolve(here, '..', 'renderer');
const ORIGIN = 'app://rrlhf';
/** The same policy as web mode's (engine/service/http.ts, APP_CSP). */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";
const MAX_INPUT_CHARS = 4 << 20;

app.setName(PRODUCT); // userData = the engine's default data folder (engine/store/paths.ts)
protocol.registerSchemesAsPrivileged([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

// ---- data folders --------------------------------------------------------------------------------

const shellFile = () => path.join(app.getPath('userData'), 'desktop.json');
function readShell(): { recent: string[] } {
  try {
    const v = JSON.parse(fs.readFileSync(shellFile(), 'utf8')) as { recent?: unknown };
    return { recent: Array.isArray(v.recent) ? v.recent.filter((x): x is string => typeof x === 'string').slice(0, 8) : [] };
  } catch { return { recent: [] }; }
}
function remember(dir: string) {
  const recent = [dir, ...readShell().recent.filter((d) => d !== dir)].slice(0, 8);
  fs.mkdirSync(path.dirname(shellFile()), { recursive: true });
  fs.writeFileSync(shellFile(), JSON.stringify({ recent }, null, 2));
}
function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  if (i >= 0) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`${name}=`));
  return eq?.slice(name.length + 1);
}
/** --data-dir, else $RRLHF_DATA_DIR, else the last folder used, else Electron's userData. */
function initialDataDir(): string {
  const chosen = argValue('--data-dir') || process.env.RRLHF_DATA_DIR || readShell().recent[0];
  return path.resolve(chosen || app.getPath('userData'));
}
/** A folder the engine can use: created if missing, writable. Returns why not, or null. */
function checkDataDir(dir: string): string | null {
  try {
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.statSync(dir).isDirectory()) return `${dir} is not a folder`;
    fs.accessSync(dir, fs.constants.W_OK);
    return null;
  } catch (err) {
    return `${dir} cannot be used: ${(err as Error).message}`;
  }
}

// ---- the engine process --------------------------------------------------------------------------

class Engine {
  private proc: UtilityProcess | ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();
  private readyWait: Promise<void> = Promise.resolve();
  private stopping = false;
  methods = new Set<string>();
  dataDir = '';
  fatal: string | null = null;
  activeJobs = new Map<string, JobEvent['job']>();

  constructor(private readonly onEvent: (e: JobEvent) => void, private readonly onNotice: (n: BridgeNotice) => void) {}

  start(dataDir: string) {
    this.dataDir = dataDir;
    this.fatal = null;
    this.stopping = false;
    const script = path.join(here, 'engine-host.js');
    const args = ['--data-dir', dataDir];
    // In a source checkout `npm start` passes the Node that built node_modules (RRLHF_NODE): the native
    // modules there are built for it, not for Electron. The packaged app rebuilds them for Electron.
    const node = !app.isPackaged ? process.env.RRLHF_NODE : undefined;
    const env = { ...process.env };
    delete env.ELECTRON_RUN_AS_NODE;
    const proc = node
      ? fork(script, args, { execPath: node, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env })
      : utilityProcess.fork(script, args, { serviceName: `${PRODUCT} engine`, stdio: 'inherit' });
    this.proc = proc;
    let ready!: () => void;
    this.readyWait = new Promise((r) => { ready = r; });
    const onMessage = (raw: unknown) => {
      const m = raw as HostMessage;
      if (m.type === 'ready') { this.methods = new Set(m.methods); ready(); }
      else if (m.type === 'reply') { this.pending.get(m.id)?.(m.reply); this.pending.delete(m.id); }
      else if (m.type === 'event') {
        const j = m.event.job;
        if (j.state === 'running' || j.state === 'queued') this.activeJobs.set(j.id, j); else this.activeJobs.delete(j.id);
        this.onEvent(m.event);
      } else if (m.type === 'fatal') { this.fatal = m.error; ready(); }
    };
    const events = proc as unknown as NodeJS.EventEmitter; // both kinds emit 'message' and 'exit'
    events.on('message', onMessage);
    events.on('exit', (code: number | null) => {
      if (this.proc !== proc) return;
      this.proc = null;
      for (const [, f] of this.pending) f({ ok: false, error: 'the engine process stopped; try again in a moment', status: 503 });
      this.pending.clear();
      this.activeJobs.clear();
      ready();
      if (this.stopping || this.fatal) return;
      // A crash: tell the window, start a fresh engine (interrupted runs become resumable).
      this.onNotice({ kind: 'engine-crashed', message: `the engine process stopped unexpectedly (exit code ${code}); restarting it` });
      setTimeout(() => { if (!this.stopping) { this.start(this.dataDir); this.onNotice({ kind: 'engine-restarted', message: 'the engine was restarted' }); } }, 1000);
    });
  }

  /** Whether the engine offers a method (waits until it has said which it offers). */
  async offers(method: string): Promise<boolean> {
    await this.readyWait;
    return this.methods.has(method);
  }

  async call(method: string, input: unknown): Promise<Reply> {
    await this.readyWait;
    if (this.fatal) return { ok: false, error: `the engine could not start: ${this.fatal}`, status: 503 };
    if (!this.proc) return { ok: false, error: 'the engine is not running; restart the app', status: 503 };
    const id = this.nextId++;
    const msg: MainMessage = { type: 'call', id, method, input };
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.post(msg);
    });
  }

  private post(m: MainMessage) {
    const p = this.proc;
    if (!p) return;
    if ('postMessage' in p) p.postMessage(m); else p.send(m);
  }

  /** Asks the engine to stop its jobs (studies stop after their iteration in flight) and waits for it. */
  async stop(timeoutMs = 8000): Promise<void> {
    this.stopping = true;
    const p = this.proc;
    if (!p) return;
    const gone = new Promise<void>((r) => (p as unknown as NodeJS.EventEmitter).once('exit', () => r()));
    this.post({ type: 'shutdown' });
    await Promise.race([gone, new Promise((r) => setTimeout(r, timeoutMs))]);
    if (this.proc === p) { p.kill(); this.proc = null; }
  }
}

// ---- the window ----------------------------------------------------------------------------------

let win: BrowserWindow | null = null;
let quitting = false;
const send = (channel: string, v: unknown) => { if (win && !win.isDestroyed()) win.webContents.send(channel, v); };
const engine = new Engine((e) => send('rrlhf:event', e), (n) => send('rrlhf:notice', n));

function createWindow() {
  win = new BrowserWindow({
    width: 1360, height: 900, minWidth: 900, minHeight: 600, title: PRODUCT, show: false, backgroundColor: '#f7f7f5',
    webPreferences: {
      preload: path.join(here, 'preload.cjs'),
      contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInWorker: false, webSecurity: true,
      allowRunningInsecureContent: false, webviewTag: false, spellcheck: false, navigateOnDragDrop: false,
    },
  });
  win.once('ready-to-show', () => win?.show());
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  win.webContents.on('will-navigate', (e, url) => { if (!url.startsWith(`${ORIGIN}/`)) e.preventDefault(); });
  win.webContents.on('will-redirect', (e, url) => { if (!url.startsWith(`${ORIGIN}/`)) e.preventDefault(); });
  win.on('close', (e) => {
    if (quitting || !engine.activeJobs.size) return;
    const choice = dialog.showMessageBoxSync(win!, {
      type: 'question', buttons: ['Stop and quit', 'Keep running'], defaultId: 1, cancelId: 1,
      message: 'A job is still running.', detail: 'Quitting stops it after the step in flight; a study can be resumed later from its last checkpoint (Experiments → the study → Resume).',
    });
    if (choice === 1) e.preventDefault();
  });
  win.on('closed', () => { win = null; });
  void win.loadURL(`${ORIGIN}/index.html`);
}

/** Serves dist/renderer under app://rrlhf/, with the CSP on every page. */
function serveRenderer() {
  protocol.handle('app', async (req) => {
    const url = new URL(req.url);
    if (url.host !== 'rrlhf') return new Response('not found', { status: 404 });
    const rel = decodeURIComponent(url.pathname);
    const file = path.resolve(RENDERER, '.' + (rel === '/' ? '/index.html' : rel));
    if (!file.startsWith(RENDERER + path.sep)) return new Response('not found', { status: 404 });
    if (!fs.existsSync(file)) {
      if (file.endsWith('index.html')) return new Response('<p>The app\'s screens are not built; run <code>npm run build</code>.</p>', { status: 503, headers: { 'Content-Type': 'text/html', 'Content-Security-Policy': CSP } });
      return new Response('not found', { status: 404 });
    }
    const res = await net.fetch(pathToFileURL(file).href);
    const headers = new Headers(res.headers);
    headers.set('Content-Security-Policy', CSP);
    headers.set('X-Content-Type-Options', 'nosniff');
    return new Response(res.body, { status: res.status, headers });
  });
}

/** No remote content, no permissions, no webviews, anywhere. */
function lockDown() {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
  ses.setPermissionCheckHandler(() => false);
  ses.webRequest.onBeforeRequest((details, cb) => {
    const ok = details.url.startsWith(`${ORIGIN}/`) || details.url.startsWith('devtools://') || details.url.startsWith('data:') || details.url.startsWith('blob:');
    cb({ cancel: !ok });
  });
  app.on('web-contents-created', (_e, wc) => {
    wc.on('will-attach-webview', (ev) => ev.preventDefault());
    wc.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}

// ---- IPC -----------------------------------------------------------------------------------------

/** Only the app's own page may call. */
function trusted(e: IpcMainInvokeEvent): boolean {
  return !!win && e.sender === win.webContents && (e.senderFrame?.url ?? '').startsWith(`${ORIGIN}/`);
}

function validFilters(v: unknown): FileFilter[] {
  if (!Array.isArray(v)) return [];
  return v.filter((f): f is FileFilter => !!f && typeof f === 'object' && typeof (f as FileFilter).name === 'string'
    && Array.isArray((f as FileFilter).extensions) && (f as FileFilter).extensions.every((x) => typeof x === 'string' && /^[\w*]{1,12}$/.test(x))).slice(0, 8);
}

/** Prints an exported HTML report to PDF with Electron's own Chromium (no network, no scripts). */
async function printPdf(htmlFile: string, pdfFile: string): Promise<void> {
  const printer = new BrowserWindow({ show: false, webPreferences: { sandbox: true, contextIsolation: true, javascript: false, partition: 'rrlhf-print' } });
  printer.webContents.session.webRequest.onBeforeRequest((d, cb) => cb({ cancel: !d.url.startsWith('file://') && !d.url.startsWith('data:') }));
  try {
    await printer.loadFile(htmlFile);
    const pdf = await printer.webContents.printToPDF({ printBackground: true, pageSize: 'A4', margins: { marginType: 'default' } });
    const tmp = `${pdfFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, pdf);
    fs.renameSync(tmp, pdfFile);
  } finally {
    printer.destroy();
  }
}

async function exportWithPdf(input: Record<string, unknown>): Promise<Reply> {
  // The engine writes HTML/CSV/JSON; the PDF is printed here by Electron (no separate Chromium needed).
  const formats = Array.isArray(input.formats) ? input.formats.filter((f) => typeof f === 'string') : ['html', 'pdf', 'csv'];
  const wantPdf = formats.includes('pdf');
  if (!wantPdf) return engine.call('reports.export', input);
  const engineFormats = [...new Set([...formats.filter((f) => f !== 'pdf'), 'html'])];
  const r = await engine.call('reports.export', { ...input, formats: engineFormats });
  if (!r.ok) return r;
  const res = r.result as { folder: string; files: { format: string; path: string; bytes: number }[] };
  const html = res.files.find((f) => f.format === 'html')!;
  const pdfPath = path.join(res.folder, 'report.pdf');
  try {
    await printPdf(html.path, pdfPath);
  } catch (err) {
    return { ok: false, error: `the report was written to ${res.folder}, but printing the PDF failed: ${(err as Error).message}`, status: 500 };
  }
  let files = [...res.files, { format: 'pdf', path: pdfPath, bytes: fs.statSync(pdfPath).size }];
  if (!formats.includes('html')) { fs.rmSync(html.path, { force: true }); files = files.filter((f) => f.format !== 'html'); }
  return { ok: true, result: { ...res, files } };
}

/** Whether a path is an exported report's folder or one of its files (the only paths openPath opens). */
async function isReportPath(p: string): Promise<boolean> {
  const r = await engine.call('reports.list', null);
  if (!r.ok) return false;
  const abs = path.resolve(p);
  const reports = (r.result as { reports: { folder: string; files: { path: string }[] }[] }).reports;
  return reports.some((x) => path.resolve(x.folder) === abs || x.files.some((f) => path.resolve(f.path) === abs));
}

async function switchDataDir(dir: string | null): Promise<{ ok: boolean; current: string; error?: string }> {
  let target = dir;
  if (target === null) {
    const opts: Electron.OpenDialogOptions = { title: 'Choose a data folder', properties: ['openDirectory', 'createDirectory'], defaultPath: engine.dataDir };
    const r = win ? await dialog.showOpenDialog(win, opts) : await dialog.showOpenDialog(opts);
    if (r.canceled || !r.filePaths[0]) return { ok: true, current: engine.dataDir };
    target = r.filePaths[0];
  }
  target = path.resolve(target);
  const problem = checkDataDir(target);
  if (problem) return { ok: false, current: engine.dataDir, error: `${problem}; choose another folder` };
  if (target === engine.dataDir) return { ok: true, current: target };
  if (engine.activeJobs.size) return { ok: false, current: engine.dataDir, error: 'a job is running; stop it (or wait for it) before switching the data folder' };
  await engine.stop();
  engine.start(target);
  remember(target);
  buildMenu();
  send('rrlhf:notice', { kind: 'data-dir-changed', message: `now using ${target}` } satisfies BridgeNotice);
  win?.webContents.reload();
  return { ok: true, current: target };
}

function registerIpc() {
  ipcMain.handle('rrlhf:call', async (e, method: unknown, input: unknown): Promise<Reply> => {
    if (!trusted(e)) return { ok: false, error: 'refused: not the app window', status: 403 };
    if (typeof method !== 'string') return { ok: false, error: 'the method name must be text', status: 400 };
    if (!(await engine.offers(method))) {
      return engine.fatal ? { ok: false, error: `the engine could not start: ${engine.fatal}`, status: 503 } : { ok: false, error: `"${method}" is not an API method`, status: 404 };
    }
    let text: string | undefined;
    try { text = JSON.stringify(input ?? null); } catch { return { ok: false, error: 'the input is not plain data', status: 400 }; }
    if (text.length > MAX_INPUT_CHARS) return { ok: false, error: 'the input is too large', status: 413 };
    const clean = JSON.parse(text) as unknown;
    if (method === 'reports.export' && clean && typeof clean === 'object') return exportWithPdf(clean as Record<string, unknown>);
    return engine.call(method, clean);
  });
  ipcMain.handle('rrlhf:open-file', async (e, filters: unknown) => {
    if (!trusted(e)) return null;
    const r = await dialog.showOpenDialog(win!, { title: 'Choose a preference-data file', properties: ['openFile'], filters: validFilters(filters) });
    return r.canceled ? null : r.filePaths[0] ?? null;
  });
  ipcMain.handle('rrlhf:choose-folder', async (e, title: unknown) => {
    if (!trusted(e)) return null;
    const r = await dialog.showOpenDialog(win!, { title: typeof title === 'string' ? title.slice(0, 100) : 'Choose a folder', properties: ['openDirectory', 'createDirectory'] });
    return r.canceled ? null : r.filePaths[0] ?? null;
  });
  ipcMain.handle('rrlhf:open-path', async (e, p: unknown) => {
    if (!trusted(e) || typeof p !== 'string') return { ok: false, error: 'refused' };
    if (!(await isReportPath(p))) return { ok: false, error: 'only exported reports and their folders can be opened from the app' };
    const err = await shell.openPath(path.resolve(p));
    return err ? { ok: false, error: err } : { ok: true };
  });
  ipcMain.handle('rrlhf:data-dirs', (e) => (trusted(e) ? { current: engine.dataDir, recent: readShell().recent } : { current: '', recent: [] }));
  ipcMain.handle('rrlhf:switch-data-dir', async (e, dir: unknown) => {
    if (!trusted(e)) return { ok: false, current: engine.dataDir, error: 'refused' };
    if (dir !== null && typeof dir !== 'string') return { ok: false, current: engine.dataDir, error: 'expected a folder path' };
    return switchDataDir(dir);
  });
}

// ---- menu ----------------------------------------------------------------------------------------

const go = (hash: string) => { if (win) { send('rrlhf:navigate', hash); win.show(); } };

function buildMenu() {
  const recent = readShell().recent.filter((d) => d !== engine.dataDir);
  const template: MenuItemConstructorOptions[] = [
    ...(process.platform === 'darwin' ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        { label: 'Import Dataset…', accelerator: 'CmdOrCtrl+I', click: () => go('#/datasets') },
        { label: 'New Study…', accelerator: 'CmdOrCtrl+N', click: () => go('#/experiments/new') },
        { label: 'Export Report…', accelerator: 'CmdOrCtrl+E', click: () => go('#/reports') },
        { type: 'separator' },
        { label: 'Open Data Folder…', click: () => { void switchDataDir(null); } },
        { label: 'Recent Data Folders', enabled: recent.length > 0, submenu: recent.map((d) => ({ label: d, click: () => { void switchDataDir(d); } })) },
        { label: 'Show Data Folder in File Manager', click: () => { void shell.openPath(engine.dataDir); } },
        { type: 'separator' },
        process.platform === 'darwin' ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        { label: 'Datasets', accelerator: 'CmdOrCtrl+1', click: () => go('#/datasets') },
        { label: 'Ensembles', accelerator: 'CmdOrCtrl+2', click: () => go('#/ensembles') },
        { label: 'Experiments', accelerator: 'CmdOrCtrl+3', click: () => go('#/experiments') },
        { label: 'Runs', accelerator: 'CmdOrCtrl+4', click: () => go('#/runs') },
        { label: 'Reports', accelerator: 'CmdOrCtrl+5', click: () => go('#/reports') },
        { label: 'Settings', accelerator: 'CmdOrCtrl+,', click: () => go('#/settings') },
        { type: 'separator' },
        { role: 'reload' }, { role: 'toggleDevTools' }, { type: 'separator' },
        { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
    {
      role: 'help',
      submenu: [
        { label: 'Start Page', click: () => go('#/') },
        {
          label: `About ${PRODUCT}`,
          click: () => {
            void dialog.showMessageBox({ type: 'info', title: PRODUCT, message: `${PRODUCT} ${app.getVersion()}`, detail: `Standard and reward-robust RLHF side by side (arXiv 2409.15360).\nData folder: ${engine.dataDir}\nElectron ${process.versions.electron}, Node ${process.versions.node}` });
          },
        },
      ],
    },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

// ---- lifecycle -----------------------------------------------------------------------------------

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => { if (win) { if (win.isMinimized()) win.restore(); win.focus(); } });
  app.whenReady().then(async () => {
    lockDown();
    serveRenderer();
    registerIpc();
    let dir = initialDataDir();
    const problem = checkDataDir(dir);
    if (problem) {
      dialog.showErrorBox(PRODUCT, `${problem}. Using the default data folder instead.`);
      dir = app.getPath('userData');
    }
    engine.start(dir);
    remember(dir);
    buildMenu();
    createWindow();
    const first = await engine.call('app.info', null);
    if (!first.ok && engine.fatal) {
      const r = await dialog.showMessageBox({ type: 'error', title: PRODUCT, message: 'The engine could not start.', detail: `${engine.fatal}\n\nData folder: ${dir}`, buttons: ['Choose another data folder', 'Quit'], defaultId: 0 });
      if (r.response === 0) await switchDataDir(null); else app.quit();
    }
    app.on('activate', () => { if (!BrowserWindow.getAllWindows().length) createWindow(); });
  }).catch((err: unknown) => {
    dialog.showErrorBox(PRODUCT, `The app could not start: ${(err as Error).message}`);
    app.quit();
  });

  app.on('window-all-closed', () => { if (process.platform !== 'darwin') app.quit(); });
  app.on('before-quit', (e) => {
    if (quitting) return;
    quitting = true;
    e.preventDefault();
    void engine.stop().finally(() => app.quit());
  });
}
