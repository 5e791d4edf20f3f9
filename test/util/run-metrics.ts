// What the kill-and-resume tests share: the metrics a data folder's first run logged, keyed "key@step",
// without wall-clock timings (which legitimately differ), and a CLI run killed part-way.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { openStore } from '../../engine/store/index.js';
import { repoRoot } from './paths.js';

export function metricsOf(dataDir: string): Map<string, number> {
  const store = openStore({ dataDir });
  try {
    const out = new Map<string, number>();
    const run = store.runs.list({})[0]!;
    for (const key of store.metrics.keys(run.id)) {
      if (key.startsWith('time/')) continue;
      for (const p of store.metrics.series([run.id], key)[0]!.points) out.set(`${key}@${p.step}`, p.y ?? NaN);
    }
    return out;
  } finally { store.close(); }
}

/** Starts `rrlhf ARGS` and SIGKILLs it once its stderr matches `at` (a run's progress line, after a
 *  checkpoint); resolves whether the kill is what ended it, with the stderr seen. */
export function killWhen(args: string[], at: RegExp): Promise<{ killed: boolean; stderr: string }> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/rrlhf.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  return new Promise((resolve) => {
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); if (at.test(stderr) && child.exitCode === null) child.kill('SIGKILL'); });
    child.on('exit', (_code, signal) => resolve({ killed: signal === 'SIGKILL', stderr }));
  });
}
