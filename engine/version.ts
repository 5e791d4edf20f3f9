// The app's version: package.json's, the one source (the runner stamps it on runs, the report and the
// status API show it, Electron reads the same file). Found by walking up from this module, which sits
// at engine/ in the source tree and at dist/engine/ in the build.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function readVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'robust-rlhf-studio' && pkg.version) return pkg.version;
    } catch { /* keep looking upwards */ }
    dir = path.dirname(dir);
  }
  throw new Error(`package.json of robust-rlhf-studio not found above ${fileURLToPath(import.meta.url)}`);
}

export const APP_VERSION = readVersion();
