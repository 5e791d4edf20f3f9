// Report export: gather the report model for an experiment or a list of runs, then write any of
// HTML (self-contained, inline SVG), PDF (Chromium's print of the same HTML), CSV (every metric value,
// long format) and JSON (the report model). Output paths are checked before any work starts; each file
// is written to a temporary file beside it and renamed into place, so a failure never leaves half a file.
//
//   const files = await exportReport({ store, dataDir, experimentId: 1, out: { html: 'r.html', pdf: 'r.pdf' } });

import { createWriteStream } from 'node:fs';
import { rename, stat, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { once } from 'node:events';
import { type Store } from '../store/index.js';
import { buildReportModel, type ReportModel } from './model.js';
import { renderHtml } from './html.js';
import { htmlToPdf, findChromium, ChromiumMissingError, CHROMIUM_CANDIDATES } from './pdf.js';
import { metricsCsv, reportJson } from './csv.js';

export { buildReportModel, type ReportModel } from './model.js';
export { renderHtml } from './html.js';
export { htmlToPdf, htmlToPng, findChromium, ChromiumMissingError } from './pdf.js';
export { metricsCsv, reportJson, CSV_HEADER } from './csv.js';

export type ReportFormat = 'html' | 'pdf' | 'csv' | 'json';
export type ReportOutputs = Partial<Record<ReportFormat, string>>;

export interface ExportOptions {
  store: Store;
  /** The data directory (for the ensemble report and model file hashes). */
  dataDir?: string;
  experimentId?: number;
  runIds?: number[];
  out: ReportOutputs;
  /** Fixed "generated" timestamp (reproducible exports, tests). */
  now?: Date;
  /** Hacked samples to show (default 8). */
  gallery?: number;
  onProgress?: (message: string) => void;
}

/** A problem with an output path: the caller's mistake, reported before anything is written. */
export class OutputPathError extends Error {
  constructor(message: string) { super(message); this.name = 'OutputPathError'; }
}

/** Resolves the output paths and checks each: its folder exists, it is not a folder, no two are the same. */
export async function checkOutputs(out: ReportOutputs): Promise<ReportOutputs> {
  const resolved: ReportOutputs = {};
  const seen = new Map<string, ReportFormat>();
  for (const [fmt, p] of Object.entries(out) as [ReportFormat, string | undefined][]) {
    if (p === undefined) continue;
    if (typeof p !== 'string' || !p.trim()) throw new OutputPathError(`the ${fmt.toUpperCase()} output path is empty`);
    const abs = path.resolve(p);
    const other = seen.get(abs);
    if (other) throw new OutputPathError(`the ${other.toUpperCase()} and ${fmt.toUpperCase()} outputs are the same file (${abs})`);
    seen.set(abs, fmt);
    const dir = path.dirname(abs);
    const ds = await stat(dir).catch(() => null);
    if (!ds) throw new OutputPathError(`cannot write ${abs}: the folder ${dir} does not exist`);
    if (!ds.isDirectory()) throw new OutputPathError(`cannot write ${abs}: ${dir} is not a folder`);
    const fs = await stat(abs).catch(() => null);
    if (fs?.isDirectory()) throw new OutputPathError(`cannot write ${abs}: it is a folder; name a file`);
    if (fs && !fs.isFile()) throw new OutputPathError(`cannot write ${abs}: it exists and is not a regular file`);
    resolved[fmt] = abs;
  }
  if (!Object.keys(resolved).length) throw new OutputPathError('name at least one output (html, pdf, csv or json)');
  return resolved;
}

const tempBeside = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);

/** Writes a file atomically: to a temporary file in the same folder, then renamed over the target. */
export async function writeFileAtomic(file: string, data: string | Uint8Array | Iterable<string>): Promise<void> {
  const tmp = tempBeside(file);
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) {
      await writeFile(tmp, data);
    } else {
      const ws = createWriteStream(tmp);
      const done = new Promise<void>((resolve, reject) => { ws.on('finish', resolve); ws.on('error', reject); });
      for (const chunk of data) if (!ws.write(chunk)) await Promise.race([once(ws, 'drain'), done]);
      ws.end();
      await done;
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Builds the report and writes the requested files; returns their absolute paths. */
export async function exportReport(o: ExportOptions): Promise<ReportOutputs & { model: ReportModel }> {
  const out = await checkOutputs(o.out);
  if (out.pdf && !(await findChromium())) throw new ChromiumMissingError(process.env.RRLHF_CHROMIUM ? [process.env.RRLHF_CHROMIUM] : CHROMIUM_CANDIDATES);
  const say = o.onProgress ?? (() => undefined);
  say('gathering runs, metrics, samples and the ensemble report');
  const model = await buildReportModel({ store: o.store, dataDir: o.dataDir, experimentId: o.experimentId, runIds: o.runIds, now: o.now, gallery: o.gallery });
  const result: ReportOutputs & { model: ReportModel } = { model };
  const html = out.html || out.pdf ? renderHtml(model) : '';
  if (out.html) { await writeFileAtomic(out.html, html); result.html = out.html; say(`wrote ${out.html}`); }
  if (out.csv) {
    const runs = model.runs.map((r) => ({ id: r.id, objective: r.objective, seed: r.seed }));
    await writeFileAtomic(out.csv, metricsCsv(o.store, runs));
    result.csv = out.csv; say(`wrote ${out.csv}`);
  }
  if (out.json) { await writeFileAtomic(out.json, reportJson(model)); result.json = out.json; say(`wrote ${out.json}`); }
  if (out.pdf) {
    say('printing the PDF with Chromium');
    const pdf = await htmlToPdf(html, { title: model.title });
    await writeFileAtomic(out.pdf, pdf);
    result.pdf = out.pdf; say(`wrote ${out.pdf}`);
  }
  return result;
}
