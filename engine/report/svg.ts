// Small hand-written SVG charts for reports: line charts with seed bands, bar charts with error bars and
// a calibration plot. Output is inline SVG markup (no xmlns, no fonts, no URLs) that a browser renders
// without scripts and that prints cleanly. Colours: the Okabe–Ito palette (safe for the common forms of
// colour blindness); every series also differs in dash pattern and marker, so nothing relies on colour.

import { PALETTE } from '../../common/objectives.js';

const DASHES = ['', '6 3', '2 3', '8 3 2 3', '4 2', '1 2', '10 4'] as const;
const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'circle', 'square', 'triangle'] as const;
export type Marker = (typeof MARKERS)[number];

export const seriesStyle = (i: number) => ({ color: PALETTE[i % PALETTE.length]!, dash: DASHES[i % DASHES.length]!, marker: MARKERS[i % MARKERS.length]! });

const FONT = 'system-ui, -apple-system, \'Segoe UI\', Roboto, \'Helvetica Neue\', Arial, sans-serif';

/** Escapes text for HTML/SVG content and attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));
}

/** Rounds for SVG coordinates (2 decimals keeps files small and positions exact enough). */
const r2 = (v: number) => Math.round(v * 100) / 100;

/** "Nice" axis ticks (1, 2, 2.5, 5 × 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): { ticks: number[]; lo: number; hi: number; step: number } {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) { lo = 0; hi = 1; }
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi - lo < 1e-12) { const pad = Math.abs(lo) > 1e-9 ? Math.abs(lo) * 0.1 : 1; lo -= pad; hi += pad; }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag);
  const a = Math.floor(lo / step + 1e-9) * step, b = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  const n = Math.round((b - a) / step);
  for (let i = 0; i <= n; i++) { const v = a + i * step; ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v); }
  return { ticks, lo: a, hi: b, step };
}

/** A tick label with as many decimals as the tick step needs. */
export function tickLabel(v: number, step: number): string {
  const k = Math.floor(Math.log10(step) + 1e-9);
  const mant = Math.round((step / 10 ** k) * 100) / 100;
  const d = Math.max(0, Math.min(6, -k + (mant === 2.5 ? 1 : 0)));
  const s = v.toFixed(d);
  return s === '-0' || /^-0\.0*$/.test(s) ? s.slice(1) : s.replace('-', '−');
}

function markerPath(kind: Marker, x: number, y: number, s = 3.2): string {
  switch (kind) {
    case 'square': return `<rect x="${r2(x - s * 0.85)}" y="${r2(y - s * 0.85)}" width="${r2(s * 1.7)}" height="${r2(s * 1.7)}"/>`;
    case 'triangle': return `<path d="M${r2(x)} ${r2(y - s)}L${r2(x + s)} ${r2(y + s * 0.8)}L${r2(x - s)} ${r2(y + s * 0.8)}Z"/>`;
    case 'diamond': return `<path d="M${r2(x)} ${r2(y - s * 1.1)}L${r2(x + s)} ${r2(y)}L${r2(x)} ${r2(y + s * 1.1)}L${r2(x - s)} ${r2(y)}Z"/>`;
    default: return `<circle cx="${r2(x)}" cy="${r2(y)}" r="${r2(s * 0.9)}"/>`;
  }
}

export interface LinePoint {
  x: number;
  /** null leaves a gap. */
  y: number | null;
  /** The shaded band (e.g. mean ± std across seeds). */
  lo?: number | null;
  hi?: number | null;
}

export interface LineSeries {
  name: string;
  points: LinePoint[];
  /** Palette index (so one objective keeps its colour across charts). */
  style?: number;
  /** Draw a marker at each point (evaluation points). */
  markers?: boolean;
  /** A faint, thin line without legend entry (e.g. one seed behind a mean curve). */
  faint?: boolean;
}

export interface LineChartOptions {
  title?: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  width?: number;
  height?: number;
  /** Vertical reference lines (e.g. a hacking onset), with a short label. */
  vlines?: { x: number; label: string; style?: number }[];
  legend?: boolean;
  /** Text for screen readers / the figure's <title>. */
  description?: string;
}

function frame(width: number, height: number, desc: string, body: string): string {
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(desc)}" font-family="${esc(FONT)}" font-size="11">`
    + `<title>${esc(desc)}</title>${body}</svg>`;
}

function legendRow(items: { name: string; style: number; kind: 'line' | 'bar'; marker?: boolean }[], x0: number, y: number, maxWidth: number): { svg: string; height: number } {
  let x = x0, row = 0;
  const parts: string[] = [];
  for (const it of items) {
    const s = seriesStyle(it.style);
    const w = 30 + Math.min(180, it.name.length * 6.2) + 14;
    if (x + w > x0 + maxWidth && x > x0) { x = x0; row++; }
    const yy = y + row * 16;
    if (it.kind === 'line') {
      parts.push(`<line x1="${r2(x)}" y1="${r2(yy)}" x2="${r2(x + 24)}" y2="${r2(yy)}" stroke="${s.color}" stroke-width="2.2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
      if (it.marker !== false) parts.push(`<g fill="${s.color}">${markerPath(s.marker, x + 12, yy)}</g>`);
    } else {
      parts.push(`<rect x="${r2(x + 4)}" y="${r2(yy - 5)}" width="16" height="10" fill="${s.color}" fill-opacity="0.85"/>`);
    }
    parts.push(`<text x="${r2(x + 30)}" y="${r2(yy + 4)}" fill="#222">${esc(it.name)}</text>`);
    x += w;
  }
  return { svg: parts.join(''), height: (row + 1) * 16 };
}

/**
 * A line chart: several series, optional shaded bands (lo..hi) behind each line, axes with "nice"
 * ticks, grid lines, axis labels and a legend above the plot.
 */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 460, height = o.height ?? 300;
  const named = o.series.filter((s) => !s.faint);
  const legendItems = named.map((s, i) => ({ name: s.name, style: s.style ?? i, kind: 'line' as const, marker: !!s.markers }));
  const showLegend = (o.legend ?? true) && legendItems.length > 0;
  const margin = { left: 58, right: 14, top: (o.title ? 24 : 8), bottom: 42 };
  const leg = showLegend ? legendRow(legendItems, margin.left, margin.top + 6, width - margin.left - margin.right) : { svg: '', height: 0 };
  margin.top += leg.height + (showLegend ? 6 : 0);
  const pw = width - margin.left - margin.right, ph = height - margin.top - margin.bottom;

  const xs: number[] = [], ys: number[] = [];
  for (const s of o.series) for (const p of s.points) {
    if (!Number.isFinite(p.x)) continue;
    xs.push(p.x);
    for (const v of [p.y, p.lo, p.hi]) if (v !== null && v !== undefined && Number.isFinite(v)) ys.push(v);
  }
  for (const v of o.vlines ?? []) if (Number.isFinite(v.x)) xs.push(v.x);
  const xt = niceTicks(xs.length ? Math.min(...xs) : 0, xs.length ? Math.max(...xs) : 1, 6);
  const yt = niceTicks(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1, 5);
  const X = (v: number) => margin.left + ((v - xt.lo) / (xt.hi - xt.lo)) * pw;
  const Y = (v: number) => margin.top + ph - ((v - yt.lo) / (yt.hi - yt.lo)) * ph;

  const parts: string[] = [];
  if (o.title) parts.push(`<text x="${margin.left}" y="15" font-size="12.5" font-weight="600" fill="#111">${esc(o.title)}</text>`);
  parts.push(leg.svg);
  // Grid and axes.
  parts.push('<g stroke="#e3e3e3" stroke-width="1">');
  for (const t of yt.ticks) parts.push(`<line x1="${margin.left}" y1="${r2(Y(t))}" x2="${margin.left + pw}" y2="${r2(Y(t))}"/>`);
  for (const t of xt.ticks) parts.push(`<line x1="${r2(X(t))}" y1="${margin.top}" x2="${r2(X(t))}" y2="${margin.top + ph}"/>`);
  parts.push('</g>');
  parts.push(`<g stroke="#555" stroke-width="1"><line x1="${margin.left}" y1="${margin.top + ph}" x2="${margin.left + pw}" y2="${margin.top + ph}"/><line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + ph}"/></g>`);
  parts.push('<g fill="#444" font-size="10.5">');
  for (const t of yt.ticks) parts.push(`<text x="${margin.left - 6}" y="${r2(Y(t) + 3.5)}" text-anchor="end">${tickLabel(t, yt.step)}</text>`);
  for (const t of xt.ticks) parts.push(`<text x="${r2(X(t))}" y="${margin.top + ph + 15}" text-anchor="middle">${tickLabel(t, xt.step)}</text>`);
  parts.push('</g>');
  parts.push(`<text x="${r2(margin.left + pw / 2)}" y="${height - 8}" text-anchor="middle" fill="#222">${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${r2(margin.top + ph / 2)}) rotate(-90)" text-anchor="middle" fill="#222">${esc(o.yLabel)}</text>`);

  // Bands first (under every line), then faint lines, then the main lines and markers.
  o.series.forEach((s, i) => {
    const st = seriesStyle(s.style ?? i);
    const pts = s.points.filter((p) => Number.isFinite(p.x) && p.lo !== null && p.lo !== undefined && p.hi !== null && p.hi !== undefined && Number.isFinite(p.lo) && Number.isFinite(p.hi));
    if (pts.length < 2 || pts.every((p) => Math.abs(p.hi! - p.lo!) < 1e-12)) return;
    const top = pts.map((p) => `${r2(X(p.x))} ${r2(Y(p.hi!))}`), bottom = pts.slice().reverse().map((p) => `${r2(X(p.x))} ${r2(Y(p.lo!))}`);
    parts.push(`<path class="band" d="M${top.join('L')}L${bottom.join('L')}Z" fill="${st.color}" fill-opacity="0.14" stroke="none"/>`);
  });
  const drawLine = (s: LineSeries, i: number) => {
    const st = seriesStyle(s.style ?? i);
    const segs: string[][] = [[]];
    for (const p of s.points) {
      if (p.y === null || !Number.isFinite(p.y) || !Number.isFinite(p.x)) { if (segs[segs.length - 1]!.length) segs.push([]); continue; }
      segs[segs.length - 1]!.push(`${r2(X(p.x))},${r2(Y(p.y))}`);
    }
    for (const seg of segs) {
      if (!seg.length) continue;
      if (s.faint) parts.push(`<polyline class="seed" points="${seg.join(' ')}" fill="none" stroke="${st.color}" stroke-opacity="0.35" stroke-width="1"/>`);
      else parts.push(`<polyline class="series" data-series="${esc(s.name)}" points="${seg.join(' ')}" fill="none" stroke="${st.color}" stroke-width="2.2" stroke-linejoin="round"${st.dash ? ` stroke-dasharray="${st.dash}"` : ''}/>`);
    }
    if (s.markers && !s.faint) {
      parts.push(`<g fill="${st.color}" stroke="#fff" stroke-width="0.8">`);
      for (const p of s.points) if (p.y !== null && Number.isFinite(p.y) && Number.isFinite(p.x)) parts.push(markerPath(st.marker, X(p.x), Y(p.y)));
      parts.push('</g>');
    }
  };
  o.series.forEach((s, i) => { if (s.faint) drawLine(s, i); });
  o.series.forEach((s, i) => { if (!s.faint) drawLine(s, i); });
  for (const v of o.vlines ?? []) {
    if (!Number.isFinite(v.x)) continue;
    const st = seriesStyle(v.style ?? 6);
    parts.push(`<line x1="${r2(X(v.x))}" y1="${margin.top}" x2="${r2(X(v.x))}" y2="${margin.top + ph}" stroke="${st.color}" stroke-width="1" stroke-dasharray="3 3"/>`);
    const right = X(v.x) + 3 + v.label.length * 5.5 > margin.left + pw;
    parts.push(`<text x="${r2(right ? X(v.x) - 3 : X(v.x) + 3)}" y="${margin.top + 10}" font-size="9.5" fill="${st.color}"${right ? ' text-anchor="end"' : ''}>${esc(v.label)}</text>`);
  }
  return frame(width, height, o.description ?? `${o.title ?? o.yLabel}: ${o.yLabel} against ${o.xLabel}`, parts.join(''));
}

export interface Bar {
  label: string;
  value: number;
  /** Error bar half-widths (e.g. std across seeds), or explicit low/high ends. */
  err?: number;
  lo?: number;
  hi?: number;
  style?: number;
  /** Individual values drawn as dots over the bar (e.g. one per seed). */
  dots?: number[];
}

export interface BarChartOptions {
  title?: string;
  yLabel: string;
  bars: Bar[];
  width?: number;
  height?: number;
  /** Draw a horizontal reference line (e.g. chance level 0.5). */
  refLine?: { y: number; label: string };
  /** Force the y range to include these values (e.g. 0 and 1 for accuracies). */
  yRange?: [number, number];
  description?: string;
  valueDigits?: number;
}

/** Vertical bars with optional error bars and per-seed dots; value labels on top. */
export function barChart(o: BarChartOptions): string {
  const width = o.width ?? 460, height = o.height ?? 260;
  const margin = { left: 58, right: 14, top: o.title ? 28 : 12, bottom: 54 };
  const pw = width - margin.left - margin.right, ph = height - margin.top - margin.bottom;
  const vals: number[] = [...(o.yRange ?? [])];
  for (const b of o.bars) {
    for (const v of [b.value, b.lo, b.hi, ...(b.err !== undefined ? [b.value - b.err, b.value + b.err] : []), ...(b.dots ?? [])]) if (v !== undefined && Number.isFinite(v)) vals.push(v);
  }
  if (o.refLine) vals.push(o.refLine.y);
  let lo = vals.length ? Math.min(...vals) : 0, hi = vals.length ? Math.max(...vals) : 1;
  if (!o.yRange) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
  const yt = niceTicks(lo, hi, 5);
  const Y = (v: number) => margin.top + ph - ((v - yt.lo) / (yt.hi - yt.lo)) * ph;
  const base = Y(Math.min(Math.max(0, yt.lo), yt.hi));
  const n = Math.max(1, o.bars.length), slot = pw / n, bw = Math.min(56, slot * 0.62);
  const parts: string[] = [];
  if (o.title) parts.push(`<text x="${margin.left}" y="16" font-size="12.5" font-weight="600" fill="#111">${esc(o.title)}</text>`);
  parts.push('<g stroke="#e3e3e3">');
  for (const t of yt.ticks) parts.push(`<line x1="${margin.left}" y1="${r2(Y(t))}" x2="${margin.left + pw}" y2="${r2(Y(t))}"/>`);
  parts.push('</g><g fill="#444" font-size="10.5">');
  for (const t of yt.ticks) parts.push(`<text x="${margin.left - 6}" y="${r2(Y(t) + 3.5)}" text-anchor="end">${tickLabel(t, yt.step)}</text>`);
  parts.push('</g>');
  parts.push(`<text transform="translate(14 ${r2(margin.top + ph / 2)}) rotate(-90)" text-anchor="middle" fill="#222">${esc(o.yLabel)}</text>`);
  const digits = o.valueDigits ?? 2;
  o.bars.forEach((b, i) => {
    const st = seriesStyle(b.style ?? i);
    const cx = margin.left + slot * (i + 0.5);
    if (Number.isFinite(b.value)) {
      const y = Y(b.value);
      parts.push(`<rect class="bar" x="${r2(cx - bw / 2)}" y="${r2(Math.min(y, base))}" width="${r2(bw)}" height="${r2(Math.max(0.5, Math.abs(base - y)))}" fill="${st.color}" fill-opacity="0.8"/>`);
      const eLo = b.lo ?? (b.err !== undefined ? b.value - b.err : undefined), eHi = b.hi ?? (b.err !== undefined ? b.value + b.err : undefined);
      let top = y;
      if (eLo !== undefined && eHi !== undefined && Number.isFinite(eLo) && Number.isFinite(eHi) && eHi - eLo > 1e-12) {
        parts.push(`<g stroke="#222" stroke-width="1.2"><line x1="${r2(cx)}" y1="${r2(Y(eLo))}" x2="${r2(cx)}" y2="${r2(Y(eHi))}"/><line x1="${r2(cx - 6)}" y1="${r2(Y(eLo))}" x2="${r2(cx + 6)}" y2="${r2(Y(eLo))}"/><line x1="${r2(cx - 6)}" y1="${r2(Y(eHi))}" x2="${r2(cx + 6)}" y2="${r2(Y(eHi))}"/></g>`);
        top = Math.min(top, Y(eHi));
      }
      for (const [j, d] of (b.dots ?? []).entries()) if (Number.isFinite(d)) parts.push(`<circle cx="${r2(cx + (j - ((b.dots!.length - 1) / 2)) * 5)}" cy="${r2(Y(d))}" r="2.4" fill="#fff" stroke="#222" stroke-width="1"/>`);
      for (const d of b.dots ?? []) if (Number.isFinite(d)) top = Math.min(top, Y(d));
      parts.push(`<text x="${r2(cx)}" y="${r2(Math.max(margin.top + 9, top - 5))}" text-anchor="middle" font-size="10.5" fill="#111">${esc(b.value.toFixed(digits))}</text>`);
    }
    const label = b.label.length > 22 ? `${b.label.slice(0, 21)}…` : b.label;
    parts.push(`<text x="${r2(cx)}" y="${margin.top + ph + 15}" text-anchor="middle" fill="#222" font-size="10.5">${esc(label)}</text>`);
  });
  parts.push(`<line x1="${margin.left}" y1="${r2(base)}" x2="${margin.left + pw}" y2="${r2(base)}" stroke="#555"/>`);
  if (o.refLine) {
    const y = Y(o.refLine.y);
    parts.push(`<line x1="${margin.left}" y1="${r2(y)}" x2="${margin.left + pw}" y2="${r2(y)}" stroke="#777" stroke-dasharray="4 3"/><text x="${margin.left + pw - 2}" y="${r2(y - 4)}" text-anchor="end" font-size="9.5" fill="#555">${esc(o.refLine.label)}</text>`);
  }
  return frame(width, height, o.description ?? `${o.title ?? o.yLabel}: bar chart`, parts.join(''));
}

export interface CalibrationPoint { predicted: number; empirical: number; count: number }

/** Reliability diagram: predicted preference probability against the observed rate, point area ∝ count,
 *  with the diagonal of perfect calibration. */
export function calibrationPlot(o: { bins: CalibrationPoint[]; title?: string; ece?: number; width?: number; height?: number }): string {
  const width = o.width ?? 300, height = o.height ?? 300;
  const margin = { left: 52, right: 14, top: o.title ? 28 : 12, bottom: 42 };
  const pw = width - margin.left - margin.right, ph = height - margin.top - margin.bottom;
  const X = (v: number) => margin.left + v * pw, Y = (v: number) => margin.top + ph - v * ph;
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const parts: string[] = [];
  if (o.title) parts.push(`<text x="${margin.left}" y="16" font-size="12.5" font-weight="600" fill="#111">${esc(o.title)}</text>`);
  parts.push('<g stroke="#e3e3e3">');
  for (const t of ticks) parts.push(`<line x1="${margin.left}" y1="${r2(Y(t))}" x2="${margin.left + pw}" y2="${r2(Y(t))}"/><line x1="${r2(X(t))}" y1="${margin.top}" x2="${r2(X(t))}" y2="${margin.top + ph}"/>`);
  parts.push('</g><g fill="#444" font-size="10.5">');
  for (const t of ticks) parts.push(`<text x="${margin.left - 6}" y="${r2(Y(t) + 3.5)}" text-anchor="end">${t}</text><text x="${r2(X(t))}" y="${margin.top + ph + 15}" text-anchor="middle">${t}</text>`);
  parts.push('</g>');
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${pw}" height="${ph}" fill="none" stroke="#555"/>`);
  parts.push(`<line x1="${X(0)}" y1="${Y(0)}" x2="${X(1)}" y2="${Y(1)}" stroke="#888" stroke-dasharray="4 3"/>`);
  const pts = o.bins.filter((b) => b.count > 0 && Number.isFinite(b.predicted) && Number.isFinite(b.empirical));
  const maxC = Math.max(1, ...pts.map((b) => b.count));
  if (pts.length > 1) parts.push(`<polyline class="series" points="${pts.map((b) => `${r2(X(b.predicted))},${r2(Y(b.empirical))}`).join(' ')}" fill="none" stroke="${PALETTE[0]}" stroke-width="1.8"/>`);
  for (const b of pts) parts.push(`<circle cx="${r2(X(b.predicted))}" cy="${r2(Y(b.empirical))}" r="${r2(2.5 + 6 * Math.sqrt(b.count / maxC))}" fill="${PALETTE[0]}" fill-opacity="0.55" stroke="${PALETTE[0]}"/>`);
  if (o.ece !== undefined && Number.isFinite(o.ece)) parts.push(`<text x="${margin.left + 8}" y="${margin.top + 16}" fill="#222">ECE ${esc(o.ece.toFixed(3))}</text>`);
  parts.push(`<text x="${r2(margin.left + pw / 2)}" y="${height - 8}" text-anchor="middle" fill="#222">predicted P(chosen preferred)</text>`);
  parts.push(`<text transform="translate(13 ${r2(margin.top + ph / 2)}) rotate(-90)" text-anchor="middle" fill="#222">observed rate</text>`);
  return frame(width, height, `${o.title ?? 'Calibration'}: predicted preference probability against the observed rate`, parts.join(''));
}
