#!/usr/bin/env node
// Peak memory of importing a large JSON Lines preference file (issue 5: a 200k-row JSONL must import
// under 600 MB peak). Not a test: it prints figures.
//
//   npm run build && node scripts/bench-import.mjs [--rows 200000] [--keep]
//
// Generates a synthetic file of HH-RLHF-sized rows (prompt ~50-400 characters, answers ~100-2000, some
// non-ASCII text, 1% malformed lines) in a temporary folder, then imports it in a fresh Node process
// into a fresh data directory and reports that process's peak resident set size (getrusage maxrss),
// sampled RSS, wall time and throughput. The temporary folder is removed unless --keep is given.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

if (process.argv[2] === '--child') {
  // The measured process: import one file, print one JSON line.
  const [file, dataDir] = process.argv.slice(3);
  const { openStore } = await import(pathToFileURL(path.join(root, 'dist/engine/store/index.js')).href);
  const { importDataset } = await import(pathToFileURL(path.join(root, 'dist/engine/data/index.js')).href);
  let sampledPeak = process.memoryUsage.rss();
  const timer = setInterval(() => { sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss()); }, 50);
  const baseline = process.memoryUsage.rss();
  const store = openStore({ dataDir });
  const t0 = performance.now();
  const r = await importDataset(store, file, { onBatch: () => { sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss()); } });
  const ms = performance.now() - t0;
  clearInterval(timer);
  store.close();
  process.stdout.write(JSON.stringify({
    accepted: r.accepted, rejected: r.rejected, ms, baseline_rss_mb: baseline / 2 ** 20,
    sampled_peak_rss_mb: sampledPeak / 2 ** 20, peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    db_mb: fs.statSync(path.join(dataDir, 'studio.sqlite')).size / 2 ** 20,
  }) + '\n');
  process.exit(0);
}

const { values } = parseArgs({ options: { rows: { type: 'string', default: '200000' }, keep: { type: 'boolean' } } });
const rows = Number(values.rows);
if (!fs.existsSync(path.join(root, 'dist/engine/data/index.js'))) {
  console.error('bench-import: build first (npm run build)');
  process.exit(1);
}

/** Deterministic PRNG (mulberry32). */
let seed = 12345;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const WORDS = 'the model answer helpful harmless honest reward policy gradient ensemble robust prompt response user assistant café naïve 数据 🙂 because therefore however example'.split(' ');
const text = (min, max) => {
  const n = min + Math.floor(rand() * (max - min));
  let s = '';
  while (s.length < n) s += WORDS[Math.floor(rand() * WORDS.length)] + (rand() < 0.1 ? '.\n' : ' ');
  return s.slice(0, n);
};

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrlhf-bench-import-'));
const file = path.join(dir, 'prefs.jsonl');
const out = fs.openSync(file, 'w');
let buf = '';
for (let i = 0; i < rows; i++) {
  buf += (i % 100 === 99 ? '{"prompt": "broken line", ' : JSON.stringify({ prompt: text(50, 400), chosen: text(100, 2000), rejected: text(100, 2000), id: i })) + '\n';
  if (buf.length > 1 << 20) { fs.writeSync(out, buf); buf = ''; }
}
fs.writeSync(out, buf);
fs.closeSync(out);
const fileMb = fs.statSync(file).size / 2 ** 20;

const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', file, path.join(dir, 'data')], { encoding: 'utf8', maxBuffer: 1 << 20 });
if (child.status !== 0) {
  console.error(child.stderr);
  process.exit(1);
}
const r = JSON.parse(child.stdout.trim().split('\n').pop());
if (!values.keep) fs.rmSync(dir, { recursive: true, force: true });
const f = (x) => x.toFixed(1);
console.log(`import of ${rows} JSONL rows (${f(fileMb)} MB file): ${r.accepted} accepted, ${r.rejected} rejected in ${f(r.ms / 1000)} s (${Math.round(rows / (r.ms / 1000))} rows/s)`);
console.log(`peak RSS ${f(r.peak_rss_mb)} MB (getrusage maxrss; sampled ${f(r.sampled_peak_rss_mb)} MB; ${f(r.baseline_rss_mb)} MB before the import); database ${f(r.db_mb)} MB`);
console.log(`Node ${process.version}, ${os.cpus().length} CPUs ${os.cpus()[0]?.model ?? ''}${values.keep ? `; files kept in ${dir}` : ''}`);
