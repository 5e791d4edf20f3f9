// The one number formatter (common/format.ts) the verdict, the report and the screens share: precision by
// magnitude, the minus sign, explicit signs on differences, mean ± std, and '–' for every missing value.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmt, signed, pm, pct } from '../../common/format.js';

test('fmt, signed, pm and pct: precision by size, U+2212 minus, and a dash for what is missing', () => {
  assert.deepEqual([1234, 12.34, 1.234, 0.1234, -0.5, 0, 0.00012].map((v) => fmt(v)), ['1234', '12.3', '1.23', '0.123', '−0.500', '0', '1.2e-4']);
  assert.equal(fmt(-0.0001, 2), '0.00', 'no negative zero');
  assert.deepEqual([0.31, -0.05, 0].map((v) => signed(v)), ['+0.310', '−0.050', '0']);
  assert.equal(pm(2.414, 0.1234, 3), '2.41 ± 0.12');
  assert.equal(pm(2.414, 0.1234, 1), '2.41', 'one value has no spread');
  assert.equal(pct(0.8312), '83.1%');
  for (const missing of [null, undefined, NaN]) {
    assert.deepEqual([fmt(missing), signed(missing), pm(missing, 1), pct(missing)], ['–', '–', '–', '–']);
  }
});
