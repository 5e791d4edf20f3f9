// Formatting shared by the verdict, the report, the CLI and the screens (pure code: the renderer imports
// it too): sensible precision for gold, KL and accuracies, signed differences, the minus sign (U+2212) so
// negative numbers read well in prose and tables, and byte counts.

const minus = (s: string) => s.replace(/^-/, '−');

/** A value with precision by magnitude: 1234 → "1234", 12.34 → "12.3", 1.234 → "1.23", 0.1234 → "0.123". */
export function fmt(v: number | null | undefined, digits?: number): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (digits !== undefined) return minus(v.toFixed(digits)).replace(/^−(0\.?0*)$/, '$1');
  const a = Math.abs(v);
  const d = a === 0 ? 0 : a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  if (a !== 0 && a < 0.001) return minus(v.toExponential(1));
  return minus(v.toFixed(d)).replace(/^−(0\.?0*)$/, '$1');
}

/** A difference with an explicit sign: +0.31, −0.05. */
export function signed(v: number | null | undefined, digits?: number): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  const s = fmt(v, digits);
  return v > 0 && !/^0\.?0*$/.test(s) ? `+${s}` : s;
}

/** Decimals fmt() would use for a value of this size. */
export function decimalsFor(v: number): number {
  const a = Math.abs(v);
  return a === 0 || !Number.isFinite(a) ? 2 : a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
}

/** mean ± std ("2.41 ± 0.12", both with the mean's precision); just the mean when there is one value. */
export function pm(mean: number | null | undefined, std: number | null | undefined, n = 2, digits?: number): string {
  if (mean === null || mean === undefined || Number.isNaN(mean)) return '–';
  const d = digits ?? decimalsFor(mean);
  return n > 1 && std !== null && std !== undefined && Number.isFinite(std) ? `${fmt(mean, d)} ± ${fmt(std, d)}` : fmt(mean, digits);
}

/** A fraction as a percentage: 0.8312 → "83.1%". */
export function pct(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return `${(v * 100).toFixed(digits)}%`;
}

/** "1,234" for counts. */
export function count(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

/** A plain-English list: "a", "a and b", "a, b and c". */
export function list(items: string[], conj = 'and'): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} ${conj} ${items[items.length - 1]}`;
}

/** Shortest readable form of a setting value (learning rates in e-notation). */
export function setting(v: number): string {
  if (v !== 0 && Math.abs(v) < 0.01) return v.toExponential().replace(/\.?0+e/, 'e').replace('e-', 'e−');
  return String(v);
}

export const capitalize = (s: string) => (s ? s[0]!.toUpperCase() + s.slice(1) : s);

/** Capitalises an objective label the report wrote itself ("standard RLHF" → "Standard RLHF"), but
 *  leaves a user's own objective name as it was typed. */
export const capLabel = (label: string) => (/^(standard|robust|ensemble|worst|uncertainty|soft-min|gold reward)\b/.test(label) ? capitalize(label) : label);

/** A byte count in binary units: 512 B, 3.2 KiB, 41.0 MiB, 5.61 GiB. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
