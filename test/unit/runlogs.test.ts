// Run-log import: TensorBoard event files (framing, CRCs, both scalar shapes), verl JSON lines, W&B CSV,
// metric-name mapping. Fixtures: test/fixtures/runlogs/README.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32c, maskedCrc32c, parseEventFile, readEventFile, RunLogError } from '../../engine/runlogs/tfrecord.js';

const FIX = path.resolve('test/fixtures/runlogs');
const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as Record<string, Record<string, Record<string, number>>>;
const TB_DIR = path.join(FIX, 'openrlhf-tb');
const TB_FIRST = path.join(TB_DIR, 'events.out.tfevents.1700000000.node0.1234.0');

test('crc32c matches the standard check value; masking as TFRecord defines it', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  const c = crc32c(new Uint8Array(0));
  assert.equal(c, 0);
  assert.equal(maskedCrc32c(new Uint8Array(0)), 0xa282ead8);
});

test('simple_value scalars (torch.utils.tensorboard) read with exact values, steps and wall times', () => {
  const r = readEventFile(TB_FIRST);
  assert.deepEqual(r.warnings, []);
  assert.equal(r.records, 6); // file_version + 5 steps
  const reward = r.scalars.filter((s) => s.tag === 'train/reward');
  assert.deepEqual(reward.map((s) => s.step), [1, 2, 3, 4, 5]);
  assert.deepEqual(reward.map((s) => s.wallTime), [1, 2, 3, 4, 5].map((k) => 1_700_000_000 + k));
  // Steps 1..3 are not rewritten by the second file, so the expected values are this file's.
  for (const step of ['1', '2', '3']) {
    for (const tag of ['train/reward', 'train/kl', 'train/policy_loss']) {
      assert.equal(r.scalars.find((s) => s.tag === tag && String(s.step) === step)!.value, expected['openrlhf-tb']![tag]![step]);
    }
  }
});

test('tensor scalars (TF2, tensorboardX): packed float_val, tensor_content, double_val; histograms ignored', () => {
  const r = readEventFile(path.join(FIX, 'verl-tf2.tfevents'));
  const exp = expected['verl-tf2.tfevents']!;
  assert.deepEqual([...new Set(r.scalars.map((s) => s.tag))].sort(), Object.keys(exp).sort());
  for (const s of r.scalars) assert.equal(s.value, exp[s.tag]![String(s.step)], `${s.tag}@${s.step}`);
  assert.equal(r.scalars.length, 9);
});

test('a corrupted data byte gives FILE: record N at byte B: bad CRC', () => {
  const bytes = new Uint8Array(fs.readFileSync(TB_FIRST));
  // Find the third record's offset by walking the framing, then flip a byte of its data.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  for (let i = 0; i < 2; i++) pos += 12 + Number(view.getBigUint64(pos, true)) + 4;
  bytes[pos + 12 + 3]! ^= 0x40;
  assert.throws(() => parseEventFile(bytes, 'run.tfevents'), (e: Error) => e instanceof RunLogError && e.message.startsWith(`run.tfevents: record 3 at byte ${pos}: bad CRC`));
  // And a corrupted length field.
  const b2 = new Uint8Array(fs.readFileSync(TB_FIRST));
  b2[0]! ^= 1;
  assert.throws(() => parseEventFile(b2, 'x'), /^RunLogError: x: record 1 at byte 0: bad CRC of the length/);
});

test('a record cut short at the end (writer still running) is tolerated with a warning', () => {
  const whole = fs.readFileSync(TB_FIRST);
  const full = parseEventFile(whole, 'f');
  for (const cut of [1, 5, 14, 30]) {
    const r = parseEventFile(whole.subarray(0, whole.length - cut), 'f');
    assert.equal(r.records, full.records - 1, `cut ${cut}`);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /^f: record 6 at byte \d+ is cut short/);
    assert.deepEqual(r.scalars, full.scalars.filter((s) => s.step < 5));
  }
  const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tb-')), 'e.tfevents');
  fs.writeFileSync(tmp, whole.subarray(0, whole.length - 5));
  assert.equal(readEventFile(tmp).warnings[0]!.startsWith(`${tmp}: record 6`), true);
});
