// The harness's few-shot sampler reproduced (engine/eval/fewshot.ts): CPython's random.Random — MT19937
// seeded by init_by_array, getrandbits, _randbelow and random.sample's pool and set strategies — checked
// draw for draw against Debian's python3 over populations on both sides of sample's set-size switch and a
// seed wider than 32 bits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { PyRandom, fewshotDrawer } from '../../engine/eval/fewshot.js';

const PY = '/usr/bin/python3';
const CASES: [number, number][] = [[3, 2], [7473, 5], [10, 8], [40, 8], [100, 3], [21, 5], [22, 5], [5, 5], [1000, 30]];

test('PyRandom.sample draws what Python\'s random.Random(seed).sample draws, call after call', { skip: fs.existsSync(PY) ? false : `${PY} is missing (apt-get install python3)` }, () => {
  for (const seed of [1234, 0, 2 ** 40 + 7]) {
    const py = spawnSync(PY, ['-c', `import random, json\nr = random.Random(${seed})\nprint(json.dumps([r.sample(range(n), k) for n, k in ${JSON.stringify(CASES)}]))`], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    const r = new PyRandom(seed);
    assert.deepEqual(CASES.map(([n, k]) => r.sample([...Array(n).keys()], k)), JSON.parse(py.stdout), `seed ${seed}`);
  }
});

test('few-shot drawers: first_n gives the same first K every time, default a fresh seeded sample per document', () => {
  const pool = [...Array(30).keys()];
  const first = fewshotDrawer(pool, 3, 'first_n');
  assert.deepEqual([first(), first()], [[0, 1, 2], [0, 1, 2]]);
  const d = fewshotDrawer(pool, 3, 'default'), r = new PyRandom(1234);
  const a = d(), b = d();
  assert.deepEqual([a, b], [r.sample(pool, 3), r.sample(pool, 3)]);
  assert.notDeepEqual(a, b);
  assert.throws(() => new PyRandom(-1), /non-negative integer/);
  assert.throws(() => new PyRandom(1).sample([1, 2], 3), /Sample larger than population/);
});
