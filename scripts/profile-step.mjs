// Developer tool: ORT per-op time breakdown of the MLP train step. node scripts/profile-step.mjs [B D H]
import { readFileSync } from 'node:fs';
process.env.RRLHF_ORT_PROFILE = '/tmp/rrlhf-prof';
const { benchMlp } = await import('../dist/engine/bench/mlp.js');
const { loadedSessions } = await import('../dist/engine/runtime/session.js');
const [B = 256, D = 512, H = 2048] = process.argv.slice(2).map(Number);
const steps = 20;
await benchMlp({ batch: B, in: D, hidden: H, steps, warmup: 3 });
for await (const s of loadedSessions()) {
  const file = s.endProfiling();
  if (!file) continue;
  const ev = JSON.parse(readFileSync(file, 'utf8'));
  const by = new Map();
  for (const e of ev) if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) {
    const k = e.args.op_name; const v = by.get(k) ?? { us: 0, n: 0 }; v.us += e.dur; v.n++; by.set(k, v);
  }
  const runs = steps + 3;
  const rows = [...by].sort((a, b) => b[1].us - a[1].us);
  const tot = rows.reduce((a, [, v]) => a + v.us, 0);
  console.log(`${file}: ${(tot / runs / 1000).toFixed(2)} ms/step in kernels`);
  for (const [k, v] of rows.slice(0, 15)) console.log(`  ${k.padEnd(24)} ${(v.us / runs / 1000).toFixed(2)} ms  x${Math.round(v.n / runs)}`);
}
