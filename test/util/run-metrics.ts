// The metrics a data folder's first run logged, keyed "key@step", without wall-clock timings (which
// legitimately differ): what the kill-and-resume tests compare with an uninterrupted run.
import { openStore } from '../../engine/store/index.js';

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
