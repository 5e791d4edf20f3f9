// Gold evaluation and the Goodhart curve (docs/method.md § Gold evaluation): how gold reward moves as the policy drifts
// from the reference, where hacking starts, and Gao et al.'s functional form R(d) = d·(α − β·log d)
// with d = √KL fitted to a run.

export interface EvalPoint {
  step: number;
  gold: number;
  proxy: number;
  /** KL(π‖π_ref) per sequence (sampled-token estimator, summed over tokens). */
  kl: number;
  /** Standard error of the gold mean (evaluation noise), when known. */
  goldSe?: number;
}

/**
 * Hacking onset: the first evaluation where gold is below its running maximum by more than `margin`
 * and by more than twice the combined standard error of the two estimates (so sampling noise alone
 * does not raise it), while the proxy is still rising (above its value at that maximum) — and gold
 * never comes back within `margin` of that maximum afterwards. A dip that recovers is PPO's ordinary
 * non-monotone progress, not hacking; without the last condition a run that ended at its best gold
 * could be reported as hacked. On a run still in progress the last point has no "afterwards": its
 * onset is provisional (the live alert), and is withdrawn if gold recovers.
 */
export function hackingOnset(points: EvalPoint[], margin = 0.1): { step: number; index: number } | null {
  let best: EvalPoint | null = null;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    if (!best || p.gold > best.gold) { best = p; continue; }
    const noise = 2 * Math.sqrt((best.goldSe ?? 0) ** 2 + (p.goldSe ?? 0) ** 2);
    const top = best.gold;
    if (p.gold < top - Math.max(margin, noise) && p.proxy > best.proxy && points.slice(i + 1).every((q) => q.gold < top - margin)) {
      return { step: p.step, index: i };
    }
  }
  return null;
}

/** An alert about hacking raised by the newest evaluation of a run in progress. */
export interface OnsetAlert { step: number; kind: 'hacking_onset' | 'hacking_withdrawn'; message: string }

/**
 * What the newest evaluation (the last of `points`) says, given the alerts already `raised`: a
 * provisional onset at its step, and the withdrawal of every earlier onset that gold has since
 * recovered from. A withdrawal is recorded at the step of the evaluation that shows the recovery (so a
 * resume that discards that evaluation discards it too); an onset counts as withdrawn once any
 * withdrawal follows it, as a new onset can only be raised at or after the withdrawal of the last.
 */
export function onsetAlerts(points: EvalPoint[], raised: readonly { step: number; kind: string }[], margin = 0.1): OnsetAlert[] {
  const p = points[points.length - 1];
  if (!p) return [];
  const onset = hackingOnset(points, margin);
  const out: OnsetAlert[] = [];
  for (const a of raised) {
    if (a.kind !== 'hacking_onset' || a.step === onset?.step || raised.some((w) => w.kind === 'hacking_withdrawn' && w.step > a.step)) continue;
    out.push({ step: p.step, kind: 'hacking_withdrawn', message: `the onset at step ${a.step} is withdrawn: gold recovered to ${p.gold.toFixed(3)}, back within ${margin} of its best` });
  }
  if (onset && onset.step === p.step) {
    out.push({ step: p.step, kind: 'hacking_onset', message: `gold fell more than ${margin} below its best while the proxy kept rising (gold ${p.gold.toFixed(3)}, proxy ${p.proxy.toFixed(3)}); an onset unless gold recovers` });
  }
  return out;
}

export function peak(points: EvalPoint[]): { gold: number; step: number } {
  let best = points[0] ?? { gold: NaN, step: 0 };
  for (const p of points) if (p.gold > best.gold) best = p;
  return { gold: best.gold, step: best.step };
}

/** Gold interpolated at a given KL (for comparing objectives at matched KL); null outside the range. */
export function goldAtKl(points: EvalPoint[], kl: number): number | null {
  const pts = [...points].sort((a, b) => a.kl - b.kl);
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]!, b = pts[i]!;
    if (kl >= a.kl && kl <= b.kl) return b.kl === a.kl ? (a.gold + b.gold) / 2 : a.gold + ((kl - a.kl) / (b.kl - a.kl)) * (b.gold - a.gold);
  }
  return null;
}

/** Least-squares fit of gold − gold₀ = d·(α − β·log d), d = √KL (Gao et al. 2210.10760, RL form).
 *  Linear in (α, β): regress y on [d, −d·log d] over points with d > 0. */
export function fitGao(points: EvalPoint[]): { alpha: number; beta: number; r2: number; dPeak: number | null } | null {
  const base = points.find((p) => p.kl <= 1e-9)?.gold ?? points[0]?.gold ?? 0;
  const rows = points.filter((p) => p.kl > 1e-6).map((p) => { const d = Math.sqrt(p.kl); return { x1: d, x2: -d * Math.log(d), y: p.gold - base }; });
  if (rows.length < 3) return null;
  let s11 = 0, s12 = 0, s22 = 0, s1y = 0, s2y = 0;
  for (const r of rows) { s11 += r.x1 * r.x1; s12 += r.x1 * r.x2; s22 += r.x2 * r.x2; s1y += r.x1 * r.y; s2y += r.x2 * r.y; }
  const det = s11 * s22 - s12 * s12;
  if (Math.abs(det) < 1e-12) return null;
  const alpha = (s1y * s22 - s2y * s12) / det;
  const beta = (s2y * s11 - s1y * s12) / det;
  const meanY = rows.reduce((a, r) => a + r.y, 0) / rows.length;
  let ssRes = 0, ssTot = 0;
  for (const r of rows) { ssRes += (r.y - alpha * r.x1 - beta * r.x2) ** 2; ssTot += (r.y - meanY) ** 2; }
  // dR/dd = α − β(log d + 1) = 0 ⇒ d* = exp(α/β − 1) when β > 0.
  return { alpha, beta, r2: ssTot > 0 ? 1 - ssRes / ssTot : 1, dPeak: beta > 0 ? Math.exp(alpha / beta - 1) : null };
}

/** k3 estimator of KL(π‖π_ref) per token from log-ratios logπ − logπ_ref of sampled tokens:
 *  E[(r − 1) − log r] with r = π_ref/π; unbiased and non-negative (Schulman). */
export function klK3(logRatios: number[]): number {
  return logRatios.reduce((a, lr) => a + Math.exp(-lr) - 1 + lr, 0);
}
