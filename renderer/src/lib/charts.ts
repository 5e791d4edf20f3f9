// Chart data helpers: colours per objective, aligning several curves onto one x axis for uPlot, and
// seed bands (mean ± std) as uPlot series + band fills.
import type { Series as StoreSeries, Band } from '../../../engine/store/metrics.js';
import { objectiveStyles, styleColor } from '../../../common/objectives.js';

export type Aligned = (number | null)[][];

export interface Line {
  label: string;
  color: string;
  dash?: number[];
  width?: number;
  /** Draw points (e.g. evaluations every few steps) as well as the line. */
  points?: boolean;
  /** Hidden from the legend (band edges). */
  edge?: boolean;
}

export interface BandFill { upper: number; lower: number; color: string }

/** A dashed vertical line on a chart (a run's hacking onset): where, its colour, a short label and a sentence for screen readers. */
export interface Marker { x: number; color: string; label: string; description: string }

/**
 * A stable colour per objective, by its kind, the same as in the exported report
 * (engine/experiments/objectives.ts): the robust objective blue, standard RLHF vermillion, nominal
 * green, worst case pink; a second objective of one kind gets the next free colour.
 */
export function objectiveColors(objectives: readonly { name: string; kind: string }[]): Map<string, string> {
  const unique = objectives.filter((o, i) => objectives.findIndex((x) => x.name === o.name) === i);
  const styles = objectiveStyles(unique.map((o) => o.kind));
  return new Map(unique.map((o, i) => [o.name, styleColor(styles[i]!)]));
}

/** Dashes per seed, so that runs of one objective share a colour but stay distinguishable. */
export const seedDash = (i: number): number[] | undefined => [undefined, [6, 3], [2, 3], [10, 3, 2, 3], [4, 4]][i % 5];

/** Puts curves with different x values on one sorted x axis (missing values are null; lines span gaps). */
export function align(curves: { x: number; y: number | null }[][]): Aligned {
  const xs = [...new Set(curves.flatMap((c) => c.map((p) => p.x)))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const out: Aligned = [xs];
  for (const c of curves) {
    const ys: (number | null)[] = new Array(xs.length).fill(null);
    for (const p of c) ys[index.get(p.x)!] = p.y;
    out.push(ys);
  }
  return out;
}

/** Store series → aligned curves, sorted by x (√KL curves go in order of KL). */
export function fromSeries(series: StoreSeries[]): Aligned {
  return align(series.map((s) => s.points.map((p) => ({ x: p.x, y: p.y }))));
}

/** Bands → one mean line plus (hidden) upper and lower edges per objective, and the fills between them. */
export function fromBands(bands: Band[], colors: ReadonlyMap<string, string>): { data: Aligned; lines: Line[]; fills: BandFill[] } {
  const curves: { x: number; y: number | null }[][] = [];
  const lines: Line[] = [];
  const fills: BandFill[] = [];
  bands.forEach((b) => {
    const color = colors.get(b.objective) ?? styleColor(0);
    const base = curves.length + 1;
    curves.push(b.points.map((p) => ({ x: p.step, y: p.mean })));
    curves.push(b.points.map((p) => ({ x: p.step, y: p.mean + p.std })));
    curves.push(b.points.map((p) => ({ x: p.step, y: p.mean - p.std })));
    lines.push({ label: `${b.objective} (mean of ${b.runIds.length})`, color, width: 2 }, { label: `${b.objective} +1 std`, color, edge: true }, { label: `${b.objective} −1 std`, color, edge: true });
    fills.push({ upper: base + 1, lower: base + 2, color });
  });
  return { data: align(curves), lines, fills };
}

/** Histogram bins → bar chart data (x = bin centres). */
export function fromHistogram(h: { edges: number[]; counts: number[] }): Aligned {
  return [h.counts.map((_, i) => (h.edges[i]! + h.edges[i + 1]!) / 2), h.counts];
}

export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}
