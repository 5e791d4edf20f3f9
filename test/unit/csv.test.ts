// CSV fields: RFC 4180 quoting, and text a spreadsheet would run as a formula is neutralised.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvField } from '../../engine/report/csv.js';

test('csvField quotes separators and defuses formula-like text, but not numbers', () => {
  assert.equal(csvField('policy/kl'), 'policy/kl');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('=HYPERLINK("http://x")'), `"'=HYPERLINK(""http://x"")"`);
  assert.equal(csvField('+1'), "'+1");
  assert.equal(csvField('-cmd'), "'-cmd");
  assert.equal(csvField('@SUM(A1)'), "'@SUM(A1)");
  assert.equal(csvField(-0.5), '-0.5');
  assert.equal(csvField(null), '');
});
