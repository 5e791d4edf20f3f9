// Time and size formatting for the screens; numbers are formatted as the report formats them
// (common/format.ts), so the app and the report print the same figures the same way.
import { pm } from '../../../common/format.js';

export { fmt, pct, signed, bytes } from '../../../common/format.js';

/** Mean ± std over runs; one run has no spread to show. */
export const spread = (s: { mean: number; std: number; n: number } | null | undefined) => (!s ? '–' : pm(s.mean, s.std, s.n));

export function duration(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  if (s < 1) return 'under a second';
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}
