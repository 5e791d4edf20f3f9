// Exports of the raw numbers: every stored metric value of the report's runs as a long-format CSV
// (run_id, objective, seed, step, key, value — one row per stored value, ready for pandas, R or a
// spreadsheet), and the report model as JSON.

import { type Store } from '../store/index.js';
import { type ReportModel } from './model.js';

export const CSV_HEADER = ['run_id', 'objective', 'seed', 'step', 'key', 'value'] as const;

/** RFC 4180 field: quoted when it holds a comma, quote, CR or LF. Text that a spreadsheet would read
 *  as a formula (starting with = + - @, tab or CR) gets a leading apostrophe (OWASP's CSV-injection
 *  advice); numbers are written as numbers. */
export function csvField(v: string | number | null): string {
  if (v === null) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The CSV in chunks of about `rows` lines (streamed from SQLite, so a long history never sits in
 * memory at once). Rows are ordered by run, step, key; a metric stored as NaN has an empty value.
 */
export function* metricsCsv(store: Store, runs: readonly { id: number; objective: string; seed: number }[], rows = 2000): Generator<string> {
  yield `${CSV_HEADER.join(',')}\r\n`;
  const stmt = store.db.prepare('SELECT step, key, value FROM metrics WHERE run_id = ? ORDER BY step, key');
  let buf: string[] = [];
  for (const r of runs) {
    const prefix = `${r.id},${csvField(r.objective)},${r.seed},`;
    for (const row of stmt.iterate(r.id) as Iterable<{ step: number; key: string; value: number | null }>) {
      buf.push(`${prefix}${row.step},${csvField(row.key)},${csvField(row.value)}\r\n`);
      if (buf.length >= rows) { yield buf.join(''); buf = []; }
    }
  }
  if (buf.length) yield buf.join('');
}

/** The report model as pretty JSON (NaN and ±∞ become null). */
export function reportJson(m: ReportModel): string {
  return `${JSON.stringify(m, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}
