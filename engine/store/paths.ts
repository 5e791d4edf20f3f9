// Where the studio keeps its data, and the checks every user-supplied file path goes through.
//
// The default data directory is the one Electron's `app.getPath('userData')` returns for the product
// name "Robust RLHF Studio", computed here without Electron so the CLI and the desktop app share one
// database. `--data-dir` and the RRLHF_DATA_DIR environment variable override it (in that order).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const PRODUCT_NAME = 'Robust RLHF Studio';
export const DB_FILE = 'studio.sqlite';

/** Electron's userData folder for PRODUCT_NAME on the given platform. */
export function defaultDataDir(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string {
  if (platform === 'win32') return path.win32.join(env.APPDATA || path.win32.join(home, 'AppData', 'Roaming'), PRODUCT_NAME);
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Application Support', PRODUCT_NAME);
  // Linux and the BSDs: XDG base directories, as Electron does (an empty variable counts as unset).
  return path.posix.join(env.XDG_CONFIG_HOME || path.posix.join(home, '.config'), PRODUCT_NAME);
}

/** The data directory to use: the --data-dir flag, else $RRLHF_DATA_DIR, else the default. Absolute. */
export function resolveDataDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = flag || env.RRLHF_DATA_DIR;
  return chosen ? path.resolve(chosen) : defaultDataDir();
}

/** A user-supplied path that cannot be used; the message says which path, why, and what to do. */
export class InputFileError extends Error {}

/** Resolves `p` against the working directory and checks it is an existing, readable regular file. */
export function checkInputFile(p: string): string {
  const abs = path.resolve(p);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InputFileError(`${abs} does not exist; check the path (relative paths start from ${process.cwd()})`);
    if (code === 'EACCES') throw new InputFileError(`${abs} cannot be reached: permission denied on a folder in its path`);
    throw new InputFileError(`${abs} cannot be read: ${(err as Error).message}`);
  }
  if (st.isDirectory()) throw new InputFileError(`${abs} is a folder; pass the data file inside it`);
  if (!st.isFile()) throw new InputFileError(`${abs} is not a regular file (a device, socket or pipe); copy the data to a file first`);
  try {
    fs.accessSync(abs, fs.constants.R_OK);
  } catch {
    throw new InputFileError(`${abs} is not readable by this user; check its permissions`);
  }
  return abs;
}
