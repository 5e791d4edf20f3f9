// Files uploaded in web mode (POST /api/upload) live in <data dir>/uploads/<uuid>/<name> only until they
// are imported: the rows are then in the store, and an upload can be up to 8 GiB. An upload that was
// inspected but never imported is removed when the server next starts, once it is a week old.
import fs from 'node:fs';
import path from 'node:path';

const WEEK_MS = 7 * 24 * 3600 * 1000;

export const uploadsDir = (dataDir: string) => path.join(path.resolve(dataDir), 'uploads');

/** The upload's own folder when `file` is an upload (<uploads>/<one folder>/<file>), else null. */
export function uploadFolderOf(dataDir: string, file: string): string | null {
  const rel = path.relative(uploadsDir(dataDir), path.resolve(file));
  const parts = rel.split(path.sep);
  if (rel.startsWith('..') || path.isAbsolute(rel) || parts.length !== 2 || parts.some((p) => !p || p === '..')) return null;
  return path.join(uploadsDir(dataDir), parts[0]!);
}

/** Removes an imported upload; any other path is left alone. Returns whether something was removed. */
export function releaseUpload(dataDir: string, file: string): boolean {
  const dir = uploadFolderOf(dataDir, file);
  if (!dir) return false;
  fs.rmSync(dir, { recursive: true, force: true });
  return true;
}

/** Removes upload folders not touched for `maxAgeMs` (default a week); returns how many. */
export function sweepUploads(dataDir: string, maxAgeMs = WEEK_MS, now = Date.now()): number {
  let removed = 0;
  let entries: fs.Dirent[];
  try { entries = fs.readdirSync(uploadsDir(dataDir), { withFileTypes: true }); } catch { return 0; }
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const dir = path.join(uploadsDir(dataDir), e.name);
    try {
      if (now - fs.statSync(dir).mtimeMs > maxAgeMs) { fs.rmSync(dir, { recursive: true, force: true }); removed++; }
    } catch { /* gone or unreadable: leave it */ }
  }
  return removed;
}

/** Messages about an upload name the file as the user chose it: they never saw <uploads>/<id>/. */
export function namesOfUploads(message: string, dataDir: string): string {
  const prefix = uploadsDir(dataDir) + path.sep;
  return message.split(prefix).map((part, i) => (i === 0 ? part : part.replace(/^[\w-]+[\\/]/, ''))).join('');
}
