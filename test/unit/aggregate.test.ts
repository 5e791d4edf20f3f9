import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregate, nominalIndex, worstHeadOfBatch, RunningMoments, ensembleStats, memberStd, OBJECTIVES } from '../../engine/rlhf/aggregate.js';

// Three samples, three heads; values chosen so every objective gives a different answer.
const mu = [[1, 2, 6], [0, -1, 4], [3, 3, 0]];
const sigma = [[0.5, 0.1, 0.9], [0.2, 0.3, 0.1], [0.4, 0.4, 0.05]];
const single = [10, 20, 30], gold = [-1, -2, -3];
const close = (a: number[], b: number[]) => {
  assert.equal(a.length, b.length, `one value per sample: ${a} vs ${b}`);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) < 1e-12, `${a} vs ${b}`));
};

test('each objective against hand-computed values', () => {
  const s = { mu, sigma, single, gold };
  close(aggregate(s, { kind: 'single' }), [10, 20, 30]);
  close(aggregate(s, { kind: 'gold' }), [-1, -2, -3]);
  close(aggregate(s, { kind: 'mean' }), [3, 1, 2]);
  // nominal: head with the smallest σ per sample → heads 1, 2, 2
  close(aggregate(s, { kind: 'nominal' }), [2, 4, 0]);
  close(aggregate(s, { kind: 'wco' }), [1, -1, 0]);
  // per-batch min: head means are 4/3, 4/3, 10/3 → the first head with the lowest mean is head 0
  close(aggregate(s, { kind: 'wco', minMode: 'batch' }), [1, 0, 3]);
  // uwo: mean − 0.5·unbiased var; var([1,2,6]) = 7, var([0,−1,4]) = 7, var([3,3,0]) = 3
  close(aggregate(s, { kind: 'uwo' }), [3 - 3.5, 1 - 3.5, 2 - 1.5]);
  close(aggregate(s, { kind: 'uwo', uwoC: 2 }), [3 - 14, 1 - 14, 2 - 6]);
  // robust λ=0.4: 0.4·nominal + 0.6·min
  close(aggregate(s, { kind: 'robust', lambda: 0.4 }), [0.4 * 2 + 0.6 * 1, 0.4 * 4 + 0.6 * -1, 0.4 * 0 + 0.6 * 0]);
  close(aggregate(s, { kind: 'robust', lambda: 1 }), aggregate(s, { kind: 'nominal' }));
  close(aggregate(s, { kind: 'robust', lambda: 0 }), aggregate(s, { kind: 'wco' }));
  close(aggregate(s, { kind: 'robust', lambda: 0.5, minMode: 'batch' }), [0.5 * 2 + 0.5 * 1, 0.5 * 4 + 0.5 * 0, 0.5 * 0 + 0.5 * 3]);
  // softmin with β = 1: −log mean exp(−μ)
  const sm = mu.map((r) => -Math.log(r.reduce((a, x) => a + Math.exp(-x), 0) / r.length));
  close(aggregate(s, { kind: 'softmin', softminBeta: 1 }), sm);
});

test('softmin interpolates between min (β→0) and mean (β→∞)', () => {
  const lo = aggregate({ mu }, { kind: 'softmin', softminBeta: 1e-3 });
  const hi = aggregate({ mu }, { kind: 'softmin', softminBeta: 1e6 });
  assert.equal(lo.length, mu.length); assert.equal(hi.length, mu.length);
  lo.forEach((x, i) => assert.ok(Math.abs(x - Math.min(...mu[i]!)) < 1e-2));
  hi.forEach((x, i) => assert.ok(Math.abs(x - mu[i]!.reduce((a, b) => a + b) / 3) < 1e-4));
});

test('without σ (independent ensembles) nominal is the configured member', () => {
  assert.equal(nominalIndex(undefined, { kind: 'nominal' }), 0);
  close(aggregate({ mu }, { kind: 'nominal', nominalMember: 2 }), [6, 4, 0]);
  assert.equal(worstHeadOfBatch(mu), 0);
});

test('bad settings are refused with the objective named', () => {
  assert.throws(() => aggregate({ mu }, { kind: 'single' }), /single.*needs/);
  assert.throws(() => aggregate({ mu }, { kind: 'robust', lambda: 1.5 }), /λ must be in \[0, 1\]/);
  assert.throws(() => aggregate({ mu }, { kind: 'softmin', softminBeta: 0 }), /β > 0/);
  assert.equal(OBJECTIVES.length, 8);
});

test('RunningMoments matches batch statistics and restores exactly', () => {
  const r = new RunningMoments();
  const xs = [1, 4, 2, 8, 5, 7, 3, 3, 9, 0];
  r.update(xs.slice(0, 3)); r.update(xs.slice(3, 7)); r.update(xs.slice(7));
  const m = xs.reduce((a, b) => a + b) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
  assert.ok(Math.abs(r.mean - m) < 1e-12 && Math.abs(r.std - sd) < 1e-12);
  close(r.whiten([m, m + sd]), [0, 1]);
  const back = RunningMoments.from(JSON.parse(JSON.stringify(r.state())));
  assert.deepEqual(back.state(), r.state());
});

test('ensembleStats', () => {
  const st = ensembleStats([[0, 2], [4, 4]]);
  assert.equal(st.mean, 2.5); assert.equal(st.std, 0.5); assert.equal(st.min, 2); assert.equal(st.max, 3);
});

test('memberStd: mean over samples of the population std over members', () => {
  // Row 1: members 0, 2, 4 → population std √(8/3); row 2: 1, 1, 1 → 0.
  assert.ok(Math.abs(memberStd([[0, 2, 4], [1, 1, 1]]) - Math.sqrt(8 / 3) / 2) < 1e-12);
  assert.equal(memberStd([[3, 3], [-1, -1], [0.5, 0.5]]), 0, 'identical members do not disagree');
  assert.equal(memberStd([[7]]), 0, 'one member');
});
