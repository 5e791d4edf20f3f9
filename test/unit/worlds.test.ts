import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goodhartLab, goldStats, type GoodhartWorld } from '../../engine/worlds/goodhart.js';
import { textWorld } from '../../engine/worlds/text.js';
import { makeWorld, WORLDS } from '../../engine/worlds/index.js';
import { type World } from '../../engine/worlds/world.js';
import { Rng } from '../../engine/runtime/params.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Everything a world produces from fixed rng seeds, for determinism checks. */
function snapshot(w: World) {
  const sft = w.sftSamples(40, new Rng(1));
  const pairs = w.preferencePairs(40, new Rng(2));
  return { train: w.trainPrompts, eval: w.evalPrompts, sft, pairs, gold: sft.map((s) => w.gold(s.prompt, s.response)), config: w.modelConfig() };
}

/** Shared shape checks: ids in range, prompts start with BOS, responses fit and end with EOS. */
function checkShapes(w: World, n = 300) {
  const inRange = (ts: number[]) => ts.every((t) => Number.isInteger(t) && t >= 0 && t < w.vocabSize);
  for (const p of [...w.trainPrompts, ...w.evalPrompts]) { assert.equal(p[0], w.bosId); assert.ok(inRange(p)); }
  const check = (prompt: number[], r: number[]) => {
    assert.equal(prompt[0], w.bosId);
    assert.ok(inRange(prompt) && inRange(r), `ids out of range: ${prompt} ${r}`);
    assert.ok(r.length >= 1 && r.length <= w.maxResponseTokens, `length ${r.length}`);
    if (r.length < w.maxResponseTokens) assert.equal(r[r.length - 1], w.eosId);
    assert.ok(Number.isFinite(w.gold(prompt, r)));
  };
  for (const s of w.sftSamples(n, new Rng(3))) check(s.prompt, s.response);
  for (const p of w.preferencePairs(n, new Rng(4))) { check(p.prompt, p.chosen); check(p.prompt, p.rejected); }
  const cfg = w.modelConfig();
  assert.equal(cfg.vocabSize, w.vocabSize);
  assert.ok(cfg.arch === 'gpt2' && cfg.nPositions >= Math.max(...w.trainPrompts.map((p) => p.length)) + w.maxResponseTokens);
  assert.equal(cfg.bosTokenId, w.bosId);
  assert.equal(cfg.eosTokenId, w.eosId);
}

/** Fraction of pairs whose chosen response has the higher gold, and the rate BT labels should give. */
function agreement(w: World, pairs: ReturnType<World['preferencePairs']>, tau: number) {
  let agree = 0, expected = 0;
  for (const p of pairs) {
    const gc = w.gold(p.prompt, p.chosen), gr = w.gold(p.prompt, p.rejected);
    if (gc > gr) agree++;
    if (gc !== gr) expected += sigmoid(Math.abs(gc - gr) / tau); // a tie never counts as agreement
  }
  return { agree: agree / pairs.length, expected: expected / pairs.length };
}

// ---------------------------------------------------------------------------------------------------
// Goodhart lab

test('goodhart lab: determinism by seed', () => {
  assert.deepEqual(snapshot(goodhartLab({}, 5)), snapshot(goodhartLab({}, 5)));
  assert.deepEqual(goodhartLab({}, 5).values, goodhartLab({}, 5).values);
  assert.notDeepEqual(goodhartLab({}, 5).values, goodhartLab({}, 6).values);
  assert.notDeepEqual(snapshot(goodhartLab({}, 5)).sft, snapshot(goodhartLab({}, 6)).sft);
});

test('goodhart lab: token layout, shapes and settings', () => {
  const w = goodhartLab();
  assert.equal(w.vocabSize, 16 + 8 + 2);
  assert.equal(w.bosId, 24); assert.equal(w.eosId, 25); assert.equal(w.padId, w.eosId);
  assert.equal(w.maxResponseTokens, 13);
  assert.deepEqual(w.prompt(3), [24, 16 + 3]);
  assert.equal(w.trainPrompts.length, 8); assert.deepEqual(w.evalPrompts, w.trainPrompts);
  assert.equal(w.settings.seed, 0); assert.equal(w.settings.k, 2); assert.equal(w.settings.labels, 'bradley-terry');
  const cfg = w.modelConfig();
  assert.deepEqual([cfg.arch, cfg.vocabSize, cfg.nPositions], ['gpt2', 26, 16]);
  assert.ok(cfg.arch === 'gpt2' && cfg.d === 64 && cfg.nLayer === 2 && cfg.nHead === 4);
  checkShapes(w);
  // π₀ always writes T tokens by default; with eosProb it may stop early, still ending with EOS.
  for (const s of w.sftSamples(50, new Rng(1))) assert.equal(s.response.length, 13);
  const early = goodhartLab({ eosProb: 0.1 });
  checkShapes(early);
  assert.ok(early.sftSamples(200, new Rng(1)).some((s) => s.response.length < 13));
  // A held-out split makes train and eval disjoint.
  const split = goodhartLab({ heldOutPrompts: 2 });
  assert.deepEqual(split.trainPrompts.map((p) => p[1]), [16, 17, 18, 19, 20, 21]);
  assert.deepEqual(split.evalPrompts.map((p) => p[1]), [22, 23]);
  assert.throws(() => goodhartLab({ labels: 'soft' as never }), /labels/);
  assert.throws(() => w.gold([0, 1], [2, 25]), /not a prompt/);
});

test('goodhart lab: gold term by term on a crafted response', () => {
  const w = goodhartLab({}, 3);
  const pr = w.prompt(2), a = w.values[2]!, B = w.coherence, EOS = w.eosId;
  // a a a b <prompt token> c EOS d: counts a=3, b=1, c=1 (d is padding after EOS); the prompt token is
  // invalid and breaks the coherence chain, so pairs are (a,a), (a,a), (a,b) only.
  const [ta, tb, tc, td] = [0, 5, 9, 11];
  const r = [ta, ta, ta, tb, 16, tc, EOS, td];
  const t = w.goldTerms(pr, r);
  close(t.value, 2 * a[ta]! + a[tb]! + a[tc]!);
  close(t.overuse, -0.75 * 1 ** 1.5);
  close(t.coherence, 0.2 * (B[ta]![ta]! + B[ta]![ta]! + B[ta]![tb]!));
  close(t.invalid, -1);
  close(t.total, t.value + t.overuse + t.coherence + t.invalid);
  close(w.gold(pr, r), t.total);
  // Five copies: value capped at k = 2, overuse γ·(5 − 2)^1.5.
  const five = w.goldTerms(pr, [tb, tb, tb, tb, tb, EOS]);
  close(five.value, 2 * a[tb]!);
  close(five.overuse, -0.75 * 3 ** 1.5);
  close(five.coherence, 0.2 * 4 * B[tb]![tb]!);
  close(w.gold(pr, [EOS]), 0);
  // Settings reach the formula.
  const w2 = goodhartLab({ k: 3, gamma: 2, p: 2, eta: 0.5 }, 3);
  const t2 = w2.goldTerms(pr, [tb, tb, tb, tb, tb, EOS]);
  close(t2.value, 3 * w2.values[2]![tb]!);
  close(t2.overuse, -2 * 2 ** 2);
  close(t2.coherence, 0.5 * 4 * w2.coherence[tb]![tb]!);
});

/** Hill-climbs gold over fixed-length responses (single-token changes and swaps): a strong, diverse
 *  response found without knowing the optimum's form. */
function bestDiverse(w: GoodhartWorld, x: number): { tokens: number[]; gold: number } {
  const { vocab: V, length: T } = w.settings, pr = w.prompt(x), a = w.values[x]!;
  const order = [...a.keys()].sort((i, j) => a[j]! - a[i]!);
  let cur = Array.from({ length: T }, (_, i) => order[Math.floor(i / 2) % V]!);
  const g = (r: number[]) => w.gold(pr, [...r, w.eosId]);
  let best = g(cur);
  for (let improved = true; improved;) {
    improved = false;
    for (let i = 0; i < T; i++) for (let v = 0; v < V; v++) {
      const c = [...cur]; c[i] = v; const gc = g(c);
      if (gc > best + 1e-12) { best = gc; cur = c; improved = true; }
    }
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) {
      const c = [...cur]; [c[i], c[j]] = [c[j]!, c[i]!]; const gc = g(c);
      if (gc > best + 1e-12) { best = gc; cur = c; improved = true; }
    }
  }
  return { tokens: cur, gold: best };
}

/** A linear-in-counts Bradley–Terry proxy, fitted on preference pairs: weight w[x][v] per prompt and
 *  token, reward = Σ_v w[x][v]·c_v. This is what a reward model trained on π₀ data can learn at best
 *  about counts, since π₀ never shows it what happens past k copies. */
function fitLinearProxy(w: GoodhartWorld, pairs: ReturnType<World['preferencePairs']>): number[][] {
  const { prompts: P, vocab: V } = w.settings;
  const weights = Array.from({ length: P }, () => new Float64Array(V));
  const feats = pairs.map((p) => {
    const d = new Float64Array(V);
    for (const t of p.chosen) if (t < V) d[t]!++;
    for (const t of p.rejected) if (t < V) d[t]!--;
    return { x: w.promptId(p.prompt), d };
  });
  const lr = 1, l2 = 1e-3;
  for (let epoch = 0; epoch < 200; epoch++) {
    const grad = Array.from({ length: P }, () => new Float64Array(V));
    for (const { x, d } of feats) {
      let z = 0; for (let v = 0; v < V; v++) z += weights[x]![v]! * d[v]!;
      const gz = sigmoid(z) - 1; // d/dz of −log σ(z)
      for (let v = 0; v < V; v++) grad[x]![v]! += gz * d[v]!;
    }
    for (let x = 0; x < P; x++) for (let v = 0; v < V; v++) weights[x]![v]! -= lr * (grad[x]![v]! / (feats.length / P) + l2 * weights[x]![v]!);
  }
  return weights.map((row) => [...row]);
}

test('goodhart lab: the world really exhibits Goodhart', () => {
  for (const seed of [0, 1]) {
    const w = goodhartLab({}, seed);
    const { prompts: P, length: T, k } = w.settings;
    // (a) π₀ has modest gold, and rarely (but not never) uses a token more than k times.
    const samples = w.sftSamples(4000, new Rng(11));
    const pi0 = goldStats(w, samples);
    let over = 0;
    for (const s of samples) {
      const c = new Map<number, number>(); for (const t of s.response.slice(0, -1)) c.set(t, (c.get(t) ?? 0) + 1);
      if (Math.max(...c.values()) > k) over++;
    }
    assert.ok(over > 0 && over / samples.length < 0.03, `π₀ overuse rate ${over / samples.length}`);
    // (b) the gold-best diverse response beats π₀ by far; repeating the single best token T times — the
    // maximiser of a linear-in-counts proxy — is far below π₀.
    let diverse = 0, hack = 0;
    const bests = Array.from({ length: P }, (_, x) => bestDiverse(w, x));
    for (let x = 0; x < P; x++) {
      const best = bests[x]!;
      const counts = new Map<number, number>(); for (const t of best.tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
      assert.ok(Math.max(...counts.values()) <= k + 1, 'the gold optimum uses tokens about k times, not T');
      const a = w.values[x]!, top = a.indexOf(Math.max(...a));
      diverse += best.gold / P;
      hack += w.gold(w.prompt(x), [...new Array<number>(T).fill(top), w.eosId]) / P;
    }
    assert.ok(pi0.mean > -2 && pi0.mean < 0.3 * diverse, `π₀ mean gold ${pi0.mean} vs best ${diverse}`);
    assert.ok(diverse > pi0.mean + 2 * pi0.std, `best diverse ${diverse}`);
    assert.ok(hack < pi0.mean - 2 * pi0.std, `repeat hack ${hack}`);
    // A linear proxy fitted on π₀ preference pairs ranks the hack above the diverse optimum, and its own
    // maximiser (repeat its top token) has gold below π₀'s: the proxy is Goodharted.
    const proxy = fitLinearProxy(w, w.preferencePairs(2000, new Rng(12)));
    let proxyOptGold = 0, proxyPrefersHack = 0;
    for (let x = 0; x < P; x++) {
      const wx = proxy[x]!, top = wx.indexOf(Math.max(...wx));
      const score = (r: number[]) => r.reduce((s, t) => s + wx[t]!, 0);
      proxyOptGold += w.gold(w.prompt(x), [...new Array<number>(T).fill(top), w.eosId]) / P;
      if (score(new Array<number>(T).fill(top)) > score(bests[x]!.tokens)) proxyPrefersHack++;
    }
    assert.ok(proxyPrefersHack >= P - 1, `proxy prefers the hack on ${proxyPrefersHack}/${P} prompts`);
    assert.ok(proxyOptGold < pi0.mean - 2 * pi0.std, `gold at the proxy's optimum ${proxyOptGold}`);
  }
});

test('goodhart lab: preference labels agree with gold better than chance, not perfectly', () => {
  const bt = goodhartLab({}, 2);
  const a = agreement(bt, bt.preferencePairs(600, new Rng(9)), 1);
  assert.ok(a.agree > 0.7 && a.agree < 0.95, `BT agreement ${a.agree}`);
  // Measured against the rate the BT model implies for these very pairs: a 4σ band.
  assert.ok(Math.abs(a.agree - a.expected) < 4 * Math.sqrt(0.25 / 600), `BT ${a.agree} vs expected ${a.expected}`);
  // Lower τ → cleaner labels.
  const sharp = agreement(bt, goodhartLab({ tau: 0.1 }, 2).preferencePairs(600, new Rng(9)), 0.1);
  assert.ok(sharp.agree > a.agree);
  // Hard labels with 25% flips: agreement ≈ 0.75 (σ ≈ 0.018 at n = 600).
  const flip = goodhartLab({ labels: 'flip', flipRate: 0.25 }, 2);
  const f = agreement(flip, flip.preferencePairs(600, new Rng(9)), 1);
  assert.ok(Math.abs(f.agree - 0.75) < 0.07, `flip agreement ${f.agree}`);
  const clean = goodhartLab({ labels: 'flip', flipRate: 0 }, 2);
  assert.equal(agreement(clean, clean.preferencePairs(200, new Rng(9)), 1).agree, 1);
});

test('goodhart lab: render', () => {
  const w = goodhartLab();
  assert.equal(w.render([...w.prompt(3), 0, 2, 2, 5, w.eosId, w.eosId]), 'p3 ▸ a c c f ∎');
  assert.equal(w.render([1, 1, 25]), 'b b ∎');
  const s = w.sftSamples(1, new Rng(0))[0]!;
  assert.match(w.render([...s.prompt, ...s.response]), /^p0 ▸ ([a-p] ){12}∎$/);
});

// ---------------------------------------------------------------------------------------------------
// Text world

test('text world: determinism, vocabulary and shapes', () => {
  assert.deepEqual(snapshot(textWorld({}, 5)), snapshot(textWorld({}, 5)));
  assert.notDeepEqual(snapshot(textWorld({}, 5)).sft, snapshot(textWorld({}, 6)).sft);
  const w = textWorld();
  assert.ok(w.vocabSize <= 300, `vocab ${w.vocabSize}`);
  assert.equal(w.words.length, w.vocabSize);
  assert.equal(new Set(w.words).size, w.vocabSize);
  assert.equal(w.maxResponseTokens, 16);
  assert.equal(w.padId, w.eosId);
  assert.equal(w.trainPrompts.length, w.topics.length);
  assert.equal(w.render(w.prompt('hotel')), 'review of the hotel:');
  checkShapes(w);
  assert.ok(textWorld().modelConfig().nPositions >= 6 + 16);
  assert.throws(() => w.prompt('zoo'), /unknown topic/);
  assert.throws(() => w.encode('the room was splendiferous'), /unknown word/);
});

test('text world: π₀ is fluent, mixed in sentiment and rarely repetitive', () => {
  const w = textWorld({}, 1);
  const samples = w.sftSamples(2000, new Rng(3));
  const terms = samples.map((s) => w.goldTerms(s.prompt, s.response));
  assert.ok(terms.every((t) => t.fluency === 0), 'every grammar sample is fluent under the fluency model');
  const meanSent = terms.reduce((a, t) => a + t.sentiment, 0) / terms.length;
  assert.ok(Math.abs(meanSent) < 0.2, `mean sentiment ${meanSent}`);
  const repeating = terms.filter((t) => t.repetition < 0).length / terms.length;
  assert.ok(repeating < 0.1, `repetition rate ${repeating}`);
  const stats = goldStats(w, samples);
  assert.ok(stats.meanDistinct > 0.85);
});

test('text world: gold term by term on a crafted response', () => {
  const w = textWorld();
  const pr = w.prompt('hotel');
  // "the room was great , but the staff was great great ." — great ×3 (valence 0.9): 0.9·(1 + ρ + ρ²).
  const r = [...w.encode('the room was great , but the staff was great great .'), w.eosId];
  const t = w.goldTerms(pr, r);
  const raw = 0.9 * (1 + 0.5 + 0.25);
  close(t.sentiment, 3 * Math.tanh(raw / 3));
  // Content-word repeats: great ×3 → (3 − 1)^1.5 ("the" and "was" repeat too, but they are function
  // words). Bigram repeats: "was great" ×2 → 1.
  close(t.repetition, -(0.5 * 2 ** 1.5 + 0.25 * 1));
  // Fluency: only "great great" is not producible by the grammar.
  close(t.fluency, -1);
  close(t.total, t.sentiment + t.repetition + t.fluency);
  // A clean review: no penalties, sentiment from two different words.
  const clean = w.goldTerms(pr, [...w.encode('the staff was very friendly and i loved the view .'), w.eosId]);
  close(clean.sentiment, 3 * Math.tanh((0.6 + 1) / 3));
  assert.equal(clean.repetition, 0); assert.equal(clean.fluency, 0);
  // Off-topic nouns, a missing ending and a truncated response are disfluent.
  assert.equal(w.goldTerms(pr, [...w.encode('the plot was great .'), w.eosId]).fluency, -2);
  assert.equal(w.goldTerms(pr, [...w.encode('the room was great'), w.eosId]).fluency, -1);
  assert.equal(w.goldTerms(pr, w.encode('the room was great .')).fluency, -1); // no EOS: cut off
  assert.equal(w.goldTerms(pr, [w.eosId]).fluency, -1);
  // Negative words count against; tokens after EOS are ignored.
  const neg = w.goldTerms(pr, [...w.encode('it was awful .'), w.eosId, ...w.encode('great')]);
  close(neg.sentiment, 3 * Math.tanh(-1 / 3));
});

test('text world: the repetition hack scores high sentiment but low gold', () => {
  const w = textWorld({}, 0);
  const pr = w.prompt('restaurant');
  const samples = w.sftSamples(2000, new Rng(8));
  const sent = samples.map((s) => w.goldTerms(s.prompt, s.response).sentiment).sort((a, b) => a - b);
  const gold = samples.map((s) => w.gold(s.prompt, s.response));
  const best = w.words.reduce((b, _, i) => (w.valence(i) > w.valence(b) ? i : b), 0);
  assert.equal(w.valence(best), 1);
  const hack = new Array<number>(w.maxResponseTokens).fill(best);
  const h = w.goldTerms(pr, hack);
  assert.ok(h.sentiment >= sent[Math.floor(0.9 * sent.length)]!, `hack sentiment ${h.sentiment}`);
  assert.ok(h.total < Math.min(...gold), `hack gold ${h.total}`);
  // A milder hack inside a sentence also loses to a clean positive review.
  const mild = w.gold(pr, [...w.encode('the food was amazing amazing wonderful great .'), w.eosId]);
  const honest = w.gold(pr, [...w.encode('the food was amazing and i loved the wonderful dessert .'), w.eosId]);
  assert.ok(honest > mild && honest > 2, `honest ${honest} vs mild hack ${mild}`);
  assert.equal(w.render(hack.slice(0, 3)), `${w.words[best]} ${w.words[best]} ${w.words[best]}`);
});

test('text world: labels and render', () => {
  const w = textWorld({}, 4);
  const a = agreement(w, w.preferencePairs(600, new Rng(9)), w.settings.tau);
  assert.ok(a.agree > 0.65 && a.agree < 0.95, `agreement ${a.agree}`);
  assert.ok(Math.abs(a.agree - a.expected) < 4 * Math.sqrt(0.25 / 600) + 0.02, `${a.agree} vs ${a.expected}`);
  const f = textWorld({ labels: 'flip' }, 4);
  const fa = agreement(f, f.preferencePairs(600, new Rng(9)), 1);
  assert.ok(fa.agree > 0.6 && fa.agree < 0.85, `flip agreement ${fa.agree}`);
  const pr = w.prompt('movie');
  assert.equal(w.render([...pr, ...w.encode('the plot was good , but it felt long .'), w.eosId, w.eosId]), 'review of the movie: the plot was good, but it felt long.');
  const s = w.sftSamples(1, new Rng(0))[0]!;
  assert.match(w.render([...s.prompt, ...s.response]), /^review of the hotel: [a-z ,]+\.( [a-z ,]+\.)?$/);
});

// ---------------------------------------------------------------------------------------------------
// Registry

test('makeWorld by name', () => {
  assert.deepEqual(Object.keys(WORLDS), ['goodhart-lab', 'text-reviews']);
  const w = makeWorld('goodhart-lab', { prompts: 4 }, 7);
  assert.equal(w.name, 'goodhart-lab');
  assert.equal(w.vocabSize, 16 + 4 + 2);
  assert.equal(w.settings.seed, 7);
  assert.deepEqual(snapshot(makeWorld('goodhart-lab', w.settings, 7)), snapshot(w)); // stored settings round-trip
  assert.equal(makeWorld('text-reviews', {}, 1).name, 'text-reviews');
  assert.throws(() => makeWorld('nope', {}, 0), /unknown world "nope".*goodhart-lab, text-reviews/);
  assert.throws(() => makeWorld('goodhart-lab', { vocabb: 3 }, 0), /unknown setting vocabb/);
  assert.throws(() => makeWorld('goodhart-lab', { seed: 1 }, 0), /disagrees/);
});
