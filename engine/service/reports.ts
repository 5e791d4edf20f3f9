// Exporting comparison reports for the service: where the files go (a folder the user chose, checked
// and created — or a new folder inside it when it already holds a report — or <data dir>/reports/<study>-<time>/), calling the report engine, and recording each
// export as a 'report' artifact so the Reports screen can list it and the transports can hand its files
// out (the HTTP transport serves only files recorded here).
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { Store } from '../store/index.js';
import { exportReport, OutputPathError, ChromiumMissingError, findChromium } from '../report/index.js';

export const REPORT_FORMATS = ['html', 'pdf', 'csv', 'json'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
export const FILE_NAMES: Record<ReportFormat, string> = { html: 'report.html', pdf: 'report.pdf', csv: 'runs.csv', json: 'report.json' };

export interface ReportRequest { experimentId?: number; runIds?: number[]; formats: ReportFormat[]; folder?: string }
export interface ReportFile { format: ReportFormat; path: string; bytes: number }
export interface ReportExport { id: number; name: string; folder: string; files: ReportFile[]; created: string }

/** A problem the user can fix; the message says how. */
export class ReportError extends Error {
  constructor(message: string, readonly status = 400) { super(message); }
}

const slug = (s: string) => s.normalize('NFKD').replace(/[^\w-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48).toLowerCase() || 'report';
const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

/** Resolves and prepares the output folder: created if missing, refused if it is a file or not writable. */
export function prepareFolder(folder: string): string {
  const abs = path.resolve(folder);
  try {
    const st = fs.statSync(abs);
    if (!st.isDirectory()) throw new ReportError(`${abs} is a file; choose a folder for the report`);
  } catch (err) {
    if (err instanceof ReportError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ReportError(`${abs} cannot be used: ${(err as Error).message}`);
    try { fs.mkdirSync(abs, { recursive: true }); } catch (e) { throw new ReportError(`cannot create ${abs}: ${(e as Error).message}; choose another folder`); }
  }
  try { fs.accessSync(abs, fs.constants.W_OK); } catch { throw new ReportError(`${abs} is not writable by this user; choose another folder`); }
  return abs;
}

/**
 * A chosen folder that already holds report files (an earlier export, perhaps of another study, still
 * listed on the Reports screen) is not overwritten: the report goes into a new <study>-<time> folder
 * inside it, and the result says where.
 */
function freshFolder(chosen: string, name: string): string {
  if (!Object.values(FILE_NAMES).some((f) => fs.existsSync(path.join(chosen, f)))) return chosen;
  const base = path.join(chosen, `${slug(name)}-${stamp()}`);
  let dir = base;
  for (let i = 2; fs.existsSync(dir); i++) dir = `${base}-${i}`;
  return prepareFolder(dir);
}

export async function exportReports(store: Store, dataDir: string, req: ReportRequest): Promise<ReportExport> {
  const exp = req.experimentId !== undefined ? store.experiments.get(req.experimentId) : undefined;
  if (req.experimentId !== undefined && !exp) throw new ReportError(`study ${req.experimentId} does not exist; pick one from the list`, 404);
  for (const id of req.runIds ?? []) if (!store.runs.get(id)) throw new ReportError(`run ${id} does not exist; pick runs from the list`, 404);
  if (!exp) sameWorld(store, req.runIds ?? []);
  const name = exp ? exp.name : `runs ${(req.runIds ?? []).join(', ')}`;
  const folder = req.folder ? freshFolder(prepareFolder(req.folder), name) : prepareFolder(path.join(dataDir, 'reports', `${slug(name)}-${stamp()}`));
  const out = Object.fromEntries(req.formats.map((f) => [f, path.join(folder, FILE_NAMES[f])])) as Partial<Record<ReportFormat, string>>;
  try {
    await exportReport({ store, dataDir, ...(req.experimentId !== undefined && { experimentId: req.experimentId }), ...(req.runIds?.length && { runIds: req.runIds }), out });
  } catch (err) {
    if (err instanceof OutputPathError) throw new ReportError(`${err.message}; choose another folder`);
    if (err instanceof ChromiumMissingError) throw new ReportError(err.message, 424);
    throw err;
  }
  const files: ReportFile[] = [];
  for (const f of req.formats) {
    const p = out[f]!;
    let bytes: number;
    try { bytes = fs.statSync(p).size; } catch { throw new ReportError(`the report engine did not write ${p}; see the app log`, 500); }
    files.push({ format: f, path: p, bytes });
  }
  const art = store.artifacts.add({ kind: 'report', name, path: folder, meta: { experimentId: req.experimentId ?? null, runIds: req.runIds ?? [], formats: req.formats } });
  return { id: art.id, name, folder, files, created: art.created };
}

/**
 * Chosen runs must share a world: the report averages an objective's runs as seeds and compares gold
 * between objectives, which means nothing across worlds (or datasets) whose rewards have their own scales.
 */
function sameWorld(store: Store, runIds: number[]) {
  const byWorld = new Map<string, number[]>();
  for (const id of runIds) {
    const w = store.runs.get(id)!.config.world as { name?: string; seed?: number; datasetId?: number; gold?: { rewardModelDir: string } | null } | undefined;
    // A world is its name and what fixes its rewards: a built-in world's seed, a dataset's id and gold judge.
    const key = w?.name === 'dataset'
      ? `imported dataset ${w.datasetId} ${w.gold ? `judged by ${w.gold.rewardModelDir}` : 'without gold'}`
      : w?.name ? `${w.name} (world seed ${w.seed ?? 0})` : 'an unknown world';
    byWorld.set(key, [...(byWorld.get(key) ?? []), id]);
  }
  if (byWorld.size <= 1) return;
  const parts = [...byWorld].map(([w, ids]) => `${ids.length > 1 ? 'runs' : 'run'} ${ids.join(', ')} on ${w}`);
  throw new ReportError(`these runs come from different worlds (${parts.join('; ')}): their rewards are on different scales, so one report cannot compare them; report each world's runs separately`);
}

/** The files of a report folder as they are on disk now (the desktop shell adds report.pdf itself). */
function filesIn(folder: string): ReportFile[] {
  return REPORT_FORMATS.flatMap((format) => {
    const p = path.join(folder, FILE_NAMES[format]);
    try { return [{ format, path: p, bytes: fs.statSync(p).size }]; } catch { return []; }
  });
}

export function listReports(store: Store): ReportExport[] {
  return store.artifacts.list('report').reverse().map((a) => ({ id: a.id, name: a.name, folder: a.path, created: a.created, files: filesIn(a.path) }));
}

/** A file of a recorded report (the only report files the transports hand out). */
export function reportFile(store: Store, id: number, format: string): ReportFile | undefined {
  const a = store.artifacts.get(id);
  if (!a || a.kind !== 'report') return undefined;
  return filesIn(a.path).find((f) => f.format === format);
}

/** Whether PDFs can be printed here (Chromium found), and if not, what to do. */
export async function pdfSupport(): Promise<{ available: boolean; why: string | null }> {
  return (await findChromium())
    ? { available: true, why: null }
    : { available: false, why: 'printing PDFs needs Chromium on the machine the engine runs on: `sudo apt-get install -y chromium`, or set RRLHF_CHROMIUM; the HTML report has the same content' };
}

/** Whether an executable of this name is on the PATH. */
export function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => {
    try { fs.accessSync(path.join(d, cmd), fs.constants.X_OK); return true; } catch { return false; }
  });
}

/** Opens a folder in the desktop's file manager, when this machine has a desktop (the reason why not is a clause; the caller says where the files are). */
export function openFolder(folder: string): { opened: boolean; reason: string | null } {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [folder]] : process.platform === 'win32' ? ['explorer', [folder]] : ['xdg-open', [folder]];
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return { opened: false, reason: 'this machine has no desktop session (no DISPLAY)' };
  }
  if (process.platform !== 'win32' && !onPath(cmd as string)) return { opened: false, reason: `${cmd} is not installed here` };
  try {
    const child = spawn(cmd as string, args as string[], { detached: true, stdio: 'ignore' });
    child.on('error', () => { /* reported below only when spawn throws synchronously */ });
    child.unref();
    return { opened: true, reason: null };
  } catch (err) {
    return { opened: false, reason: `could not start ${cmd}: ${(err as Error).message}` };
  }
}
