import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestOfN, bestOfNBruteForce, bestOfNSampled, bonNs, bonWeights, bonCurves, fitBon, fitRl, klBon, nearestN } from '../../engine/rlhf/bon.js';
import { summarizeBon } from '../../engine/experiments/bon.js';
import { Rng } from '../../engine/runtime/params.js';

const near = (a: number, b: number, tol: number, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b} (tol ${tol})`);

test('KL_bon = log n − (n − 1)/n, and the n grid', () => {
  assert.equal(klBon(1), 0);
  near(klBon(2), Math.log(2) - 0.5, 1e-15);
  near(klBon(1024), Math.log(1024) - 1023 / 1024, 1e-12);
  assert.deepEqual(bonNs(16), [1, 2, 4, 8, 16]);
  assert.deepEqual(bonNs(12), [1, 2, 4, 8, 12]);
  assert.deepEqual(bonNs(1), [1]);
  assert.throws(() => klBon(0), /positive integer/);
  assert.equal(nearestN(klBon(37)), 37);
  assert.equal(nearestN(0), 1);
});

test('the weights C(i−1, n−1)/C(N, n) sum to 1 and stay finite at N = 20000 (log space)', () => {
  for (const [N, n] of [[5, 1], [5, 5], [10, 3], [20000, 1], [20000, 4096], [20000, 20000]] as const) {
    const w = bonWeights(N, n);
    const s = w.reduce((a, b) => a + b, 0);
    near(s, 1, 1e-9, `N=${N} n=${n}`);
    assert.ok(w.every(Number.isFinite));
    assert.equal(w[n - 2] ?? 0, 0, 'no sample below rank n can win a subset');
  }
  // n = 1 is the plain mean; n = N picks the top sample.
  assert.ok(bonWeights(4, 1).every((x) => Math.abs(x - 0.25) < 1e-15));
  assert.deepEqual(Array.from(bonWeights(4, 4)), [0, 0, 0, 1]);
});

test('the estimator equals enumeration over every n-subset (random scores, N up to 12)', () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 20; trial++) {
    const N = 3 + rng.int(10);
    const proxy = Array.from({ length: N }, () => rng.normal());
    const gold = proxy.map((p) => 0.5 * p + rng.normal()); // correlated, as a gold and its proxy are
    const other = Array.from({ length: N }, () => rng.normal() * 3);
    const ns = Array.from({ length: N }, (_, i) => i + 1);
    const est = bestOfN(proxy, [proxy, gold, other], ns);
    for (const n of ns) {
      const bf = bestOfNBruteForce(proxy, [proxy, gold, other], n);
      bf.forEach((v, k) => near(est[n - 1]![k]!, v, 1e-10, `N=${N} n=${n} value ${k}`));
    }
  }
});

test('ties in the proxy: uniform tie-breaking, exactly as enumeration breaks them', () => {
  const proxy = [1, 3, 3, 0, 3, 2, 1];
  const gold = [5, -1, 4, 2, 10, 0, 7];
  for (let n = 1; n <= proxy.length; n++) {
    const [, g] = bestOfN(proxy, [proxy, gold], [n])[0]!;
    near(g!, bestOfNBruteForce(proxy, [gold], n)[0]!, 1e-12, `n=${n}`);
  }
});

test('the estimator agrees with drawing random subsets (a check that shares none of its algebra)', () => {
  const rng = new Rng(11);
  const N = 200;
  const proxy = Array.from({ length: N }, () => rng.normal());
  const gold = proxy.map((p) => p - 0.3 * p * p + 0.5 * rng.normal());
  for (const n of [1, 4, 32, 128]) {
    const [, est] = bestOfN(proxy, [proxy, gold], [n])[0]!;
    const [mc] = bestOfNSampled(proxy, [gold], n, 40000, rng);
    near(est!, mc!, 0.03, `n=${n}`);
  }
});

test("Gao's R_bon(d) = d(α − βd) fit recovers known α, β and the turnover", () => {
  const alpha = 1.3, beta = 0.45;
  const ns = bonNs(4096);
  const pts = ns.map((n) => { const d = Math.sqrt(klBon(n)); return { kl: klBon(n), y: d * (alpha - beta * d) }; });
  const f = fitBon(pts)!;
  near(f.alpha, alpha, 1e-9); near(f.beta, beta, 1e-9); near(f.r2, 1, 1e-12);
  near(f.dPeak!, alpha / (2 * beta), 1e-9);
  assert.equal(f.nPeak, nearestN((alpha / (2 * beta)) ** 2));
  // With noise: close, R² below 1.
  const rng = new Rng(3);
  const noisy = fitBon(pts.map((p) => ({ ...p, y: p.y + 0.01 * rng.normal() })))!;
  near(noisy.alpha, alpha, 0.05); near(noisy.beta, beta, 0.05);
  assert.ok(noisy.r2 < 1 && noisy.r2 > 0.95);
  // A curve that only rises (β < 0) never turns over.
  assert.equal(fitBon(pts.map((p) => ({ ...p, y: Math.sqrt(p.kl) * (1 + 0.2 * Math.sqrt(p.kl)) })))!.dPeak, null);
  assert.equal(fitBon([{ kl: 0, y: 0 }, { kl: 1, y: 1 }]), null);
});

test('curves per objective and the summary over seeds: paired by seed, each objective choosing from the same samples', () => {
  // Two prompts, 8 samples, 3 heads: head 0 loves sample 7 (whose gold is bad), the others do not.
  const rng = new Rng(5);
  const mk = () => Array.from({ length: 8 }, (_, i) => ({ mu: [i === 7 ? 10 : i, i === 7 ? -5 : i, i === 7 ? -5 : i + rng.normal() * 0.01], gold: i === 7 ? -10 : i }));
  const objs = [{ name: 'single', config: { kind: 'single' as const } }, { name: 'wco', config: { kind: 'wco' as const } }, { name: 'mean', config: { kind: 'mean' as const } }];
  const ns = bonNs(8);
  const perSeed = [0, 1, 2].map((seed) => {
    const groups = [mk(), mk()].map((g) => ({ scores: { mu: g.map((s) => s.mu), single: g.map((s) => s.mu[0]! + seed * 0.1) }, gold: g.map((s) => s.gold + seed) }));
    return { seed, curves: bonCurves(groups, objs, ns) };
  });
  const single = perSeed[0]!.curves.get('single')!, wco = perSeed[0]!.curves.get('wco')!;
  // n = N: single always picks sample 7 (gold −10), wco picks sample 6 (gold 6).
  near(single.gold[ns.length - 1]!, -10, 1e-12); near(wco.gold[ns.length - 1]!, 6, 1e-12);
  near(single.gold[0]!, wco.gold[0]!, 1e-12, 'n = 1 is the same random sample for every objective');
  const r = summarizeBon(perSeed, objs, 8, 2, true);
  assert.equal(r.baseline, 'single');
  const s = r.objectives[0]!, w = r.objectives[1]!;
  near(s.curve[0]!.gold!.mean, (21 - 10) / 8 + 1, 1e-9); // n = 1: the mean gold, (0 + … + 6 − 10)/8 plus the seeds' mean offset
  assert.equal(s.peak!.n < 8, true, 'single turns over before N');
  assert.ok(s.peak!.drop_to_N.mean > 0);
  assert.ok(w.curve[ns.length - 1]!.gold_vs_baseline!.mean > 15);
  assert.equal(s.curve[0]!.gold_vs_baseline, undefined);
  assert.equal(r.objectives[0]!.per_seed.length, 3);
});

test('fitRl recovers Gao\'s RL form d(α − β ln d) and its turnover point', () => {
  const alpha = 1.2, beta = 0.8;
  const pts = [0, 0.25, 0.5, 1, 2, 3, 4, 6].map((d) => ({ kl: d * d, y: d === 0 ? 0 : d * (alpha - beta * Math.log(d)) }));
  const f = fitRl(pts)!;
  assert.ok(Math.abs(f.alpha - alpha) < 1e-9 && Math.abs(f.beta - beta) < 1e-9, JSON.stringify(f));
  assert.ok(Math.abs(f.dPeak! - Math.exp(alpha / beta - 1)) < 1e-9);
  assert.ok(f.r2 > 0.999999);
  // A curve that only rises (β < 0) has no turnover, and one point is not a fit.
  assert.equal(fitRl(pts.map((p) => ({ kl: p.kl, y: Math.sqrt(p.kl) * (1 + 0.3 * Math.log(Math.max(Math.sqrt(p.kl), 1e-9))) })))!.dPeak, null);
  assert.equal(fitRl([{ kl: 1, y: 1 }]), null);
});
