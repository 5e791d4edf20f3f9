// Run-log import: TensorBoard event files (framing, CRCs, both scalar shapes), verl JSON lines, W&B CSV,
// metric-name mapping. Fixtures: test/fixtures/runlogs/README.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32c, maskedCrc32c, parseEventFile, readEventFile, RunLogError } from '../../engine/runlogs/tfrecord.js';
import { readJsonlLog, readConsoleLog } from '../../engine/runlogs/jsonl.js';
import { readWandbCsv } from '../../engine/runlogs/csv.js';
import { mapMetrics, detectEngine, METRIC_MAP } from '../../engine/runlogs/metric-map.js';
import { importRunLog, readRunLog, DuplicateImportError } from '../../engine/runlogs/import.js';
import { openStore } from '../../engine/store/index.js';
import { studyView } from '../../engine/service/summary.js';
import { parseSpec } from '../../engine/experiments/spec.js';

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

// --- text logs, mapping, import ------------------------------------------------------------------

const pick = (scalars: { tag: string; step: number; value: number }[], tag: string) => scalars.filter((s) => s.tag === tag).map((s) => [s.step, s.value]);

test('verl file-logger JSON lines: {"step", "data"}; null is NaN; text fields left out with a warning', async () => {
  const r = await readJsonlLog(path.join(FIX, 'verl.jsonl'));
  assert.deepEqual(pick(r.scalars, 'critic/score/mean'), [[1, 0.125], [2, 0.25], [3, 0.375]]);
  assert.deepEqual(pick(r.scalars, 'response_length/mean'), [[1, 212.5], [2, 230], [3, 241.75]]);
  assert.ok(Number.isNaN(r.scalars.find((s) => s.tag === 'actor/entropy')!.value));
  assert.deepEqual(r.warnings, [`${path.join(FIX, 'verl.jsonl')}: fields that are not numbers were left out: note`]);
});

test('JSON lines: a malformed last line (writer running) is a warning; elsewhere an error naming file and line', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jl-'));
  const good = fs.readFileSync(path.join(FIX, 'verl.jsonl'), 'utf8');
  const tail = path.join(dir, 'tail.jsonl');
  fs.writeFileSync(tail, `${good}{"step":4,"data":{"critic/sc`);
  const r = await readJsonlLog(tail);
  assert.equal(r.scalars.filter((s) => s.tag === 'critic/score/mean').length, 3);
  assert.match(r.warnings[0]!, /tail\.jsonl: line 5 skipped \(malformed JSON/);
  const mid = path.join(dir, 'mid.jsonl');
  fs.writeFileSync(mid, `{"step":1,"data":{"a":1}}\n{oops\n{"step":2,"data":{"a":2}}\n`);
  await assert.rejects(readJsonlLog(mid), (e: Error) => e instanceof RunLogError && e.message.startsWith(`${mid}: line 2: malformed JSON`));
  const nostep = path.join(dir, 'nostep.jsonl');
  fs.writeFileSync(nostep, '{"data":{"a":1}}\n');
  await assert.rejects(readJsonlLog(nostep), /nostep\.jsonl: line 1: no "step" field/);
  const neg = path.join(dir, 'neg.jsonl');
  fs.writeFileSync(neg, '{"step":-1,"a":1}\n');
  await assert.rejects(readJsonlLog(neg), /neg\.jsonl: line 1: the step is -1/);
});

test('verl console lines: step:N - key:value, Ray prefixes, nan; other lines ignored', async () => {
  const r = await readConsoleLog(path.join(FIX, 'verl-console.txt'));
  assert.deepEqual(pick(r.scalars, 'critic/score/mean'), [[1, 0.125], [2, 0.25], [3, 0.375]]);
  assert.deepEqual(pick(r.scalars, 'response_length/mean'), [[1, 212.5], [2, 230], [3, 241.75]]);
  const pg = pick(r.scalars, 'actor/pg_loss');
  assert.equal(pg.length, 3);
  assert.ok(Number.isNaN(pg[1]![1]));
});

test('W&B CSV: panel export (run prefix stripped, __MIN/__MAX ignored, empty cells skipped) and history export', async () => {
  const r = await readWandbCsv(path.join(FIX, 'wandb.csv'));
  assert.deepEqual([...new Set(r.scalars.map((s) => s.tag))].sort(), ['train/actor_lr', 'train/kl', 'train/reward']);
  assert.deepEqual(pick(r.scalars, 'train/reward'), [[0, 0.5], [1, 0.75], [2, 1.25]]);
  assert.deepEqual(pick(r.scalars, 'train/kl'), [[0, 0.001], [2, 0.004]]);
  const h = await readWandbCsv(path.join(FIX, 'wandb-history.csv'));
  assert.deepEqual(pick(h.scalars, 'critic/score/mean'), [[0, 0.125], [1, 0.25]]);
  assert.deepEqual(h.scalars.filter((s) => s.tag === 'critic/score/mean').map((s) => s.wallTime), [1700000000.5, 1700000010.5]);
  assert.ok(Number.isNaN(pick(h.scalars, 'actor/pg_loss')[1]![1]));
  assert.match(h.warnings[0]!, /columns with text that is not a number were left out: samples/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csv-'));
  const two = path.join(dir, 'two.csv');
  fs.writeFileSync(two, 'Step,a - train/reward,b - train/reward\n0,1,2\n');
  await assert.rejects(readWandbCsv(two), /two\.csv holds 2 runs \(a, b\); export one run per file/);
  const nostep = path.join(dir, 'nostep.csv');
  fs.writeFileSync(nostep, 'x,train/reward\n0,1\n');
  await assert.rejects(readWandbCsv(nostep), /nostep\.csv: no step column/);
  const badstep = path.join(dir, 'badstep.csv');
  fs.writeFileSync(badstep, 'Step,train/reward\n0,1\n1.5,2\n');
  await assert.rejects(readWandbCsv(badstep), /badstep\.csv: line 3: Step is "1\.5"/);
});

test('metric mapping: engine detected from names, known names mapped to ours, the rest kept as ext/', () => {
  const m = mapMetrics(['train/reward', 'train/kl', 'train/policy_loss', 'train/response_length', 'train/return', 'train/custom_thing', 'eval/gold']);
  assert.equal(m.engine, 'openrlhf');
  assert.deepEqual(m.mapped, [
    { from: 'train/kl', to: 'kl/token_mean' }, { from: 'train/policy_loss', to: 'loss/policy_avg' },
    { from: 'train/response_length', to: 'response/length' }, { from: 'train/return', to: 'objective/rlhf_reward' },
    { from: 'train/reward', to: 'reward/proxy' },
  ]);
  assert.deepEqual(m.kept, ['eval/gold', 'train/custom_thing']);
  assert.equal(m.names.get('eval/gold'), 'ext/eval/gold');
  assert.equal(detectEngine(['critic/score/mean', 'actor/pg_loss', 'train/reward']), 'verl');
  assert.equal(detectEngine(['loss', 'acc']), null);
  const none = mapMetrics(['loss', '__proto__', 'constructor']);
  assert.deepEqual(none.mapped, []);
  assert.deepEqual([...none.names.values()].sort(), ['ext/__proto__', 'ext/constructor', 'ext/loss']);
  // Forcing an engine maps only its names.
  assert.deepEqual(mapMetrics(['critic/score/mean', 'train/reward'], 'openrlhf').mapped, [{ from: 'train/reward', to: 'reward/proxy' }]);
  // Every target is one of docs/metrics.md's keys.
  const docs = fs.readFileSync('docs/metrics.md', 'utf8');
  for (const table of Object.values(METRIC_MAP)) for (const to of Object.values(table)) assert.ok(docs.includes(`\`${to}\``), `${to} in docs/metrics.md`);
});

test('a TensorBoard folder: all event files read, merged by step, the later wall time wins', async () => {
  const log = await readRunLog(TB_DIR);
  assert.equal(log.format, 'tensorboard');
  assert.equal(log.files.length, 2);
  const exp = expected['openrlhf-tb']!;
  assert.deepEqual([...log.points.keys()].sort(), Object.keys(exp).sort());
  for (const [tag, m] of log.points) {
    assert.deepEqual(Object.fromEntries([...m].map(([s, v]) => [String(s), v])), exp[tag], tag);
  }
});

function freshStore() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imp-'));
  const store = openStore({ dataDir: dir });
  const spec = parseSpec({ name: 'imported study', objectives: [{ name: 'standard', kind: 'single' }, { name: 'robust', kind: 'robust', lambda: 0.4 }], seeds: [0, 1] });
  const exp = store.experiments.create({ name: 'imported study', spec: spec as unknown as Record<string, unknown> });
  return { store, exp, dir };
}

test('importRunLog: a run with status imported, its source and mapped metrics, in the runs list and the study view', async () => {
  const { store, exp } = freshStore();
  try {
    const r = await importRunLog(store, TB_DIR, { experimentId: exp.id, objective: 'standard', seed: 0 });
    assert.equal(r.run.status, 'imported');
    assert.equal(r.engine, 'openrlhf');
    assert.deepEqual(r.steps, { count: 7, first: 1, last: 7 });
    assert.equal(r.source.files.length, 2);
    assert.match(r.run.sourceHash!, /^[0-9a-f]{64}$/);
    assert.deepEqual(r.run.source, r.source);
    assert.deepEqual(store.runs.list({ experimentId: exp.id }).map((x) => x.id), [r.run.id]);
    const last = store.metrics.last(r.run.id);
    assert.equal(last['reward/proxy']!.value, expected['openrlhf-tb']!['train/reward']!['7']);
    assert.equal(last['ext/eval/gold']!.step, 6);
    assert.deepEqual(store.metrics.series([r.run.id], 'response/length')[0]!.points.map((p) => p.step), [1, 2, 3, 4, 5, 6, 7]);
    const view = studyView(store, store.experiments.get(exp.id)!);
    assert.equal(view.status, 'finished');
    assert.equal(view.runs[0]!.status, 'imported');
    assert.equal(view.runs[0]!.lastStep, 7);
    assert.equal(view.objectives[0]!.runIds[0], r.run.id);
    assert.throws(() => store.runs.resume(r.run.id), /run \d+ is imported; only a paused/);

    // The same files again: refused, naming the run. Another seed is a different run.
    await assert.rejects(importRunLog(store, TB_DIR, { experimentId: exp.id, objective: 'standard', seed: 0 }),
      (e: Error) => e instanceof DuplicateImportError && e.message.includes(`as run ${r.run.id}`));
    const again = await importRunLog(store, path.join(FIX, 'verl.jsonl'), { experimentId: exp.id, objective: 'robust', seed: 0 });
    assert.equal(again.engine, 'verl');
    assert.equal(again.format, 'jsonl');
    assert.deepEqual(again.metrics.kept, ['actor/ppo_kl', 'val-core/gsm8k/reward/mean@1']);
    const other = await importRunLog(store, path.join(FIX, 'verl-tf2.tfevents'), { experimentId: exp.id, objective: 'not-in-spec', seed: 1, engine: 'verl' });
    assert.match(other.warnings.join('\n'), /objective "not-in-spec" is not one of experiment/);
    assert.equal(store.metrics.last(other.run.id)['reward/proxy']!.value, expected['verl-tf2.tfevents']!['critic/score/mean']!['20']);
    assert.equal(studyView(store, store.experiments.get(exp.id)!).runs.length, 3);
  } finally {
    store.close();
  }
});

test('importRunLog refuses: no scalars (naming the file), a folder without event files, an unknown experiment, unknown text', async () => {
  const { store, exp, dir } = freshStore();
  try {
    const empty = path.join(dir, 'events.out.tfevents.1.x');
    // Only the file-version record: a real event file with no scalars.
    fs.writeFileSync(empty, fs.readFileSync(TB_FIRST).subarray(0, 12 + Number(fs.readFileSync(TB_FIRST).readBigUInt64LE(0)) + 4));
    await assert.rejects(importRunLog(store, empty, { experimentId: exp.id, objective: 'standard', seed: 0 }),
      (e: Error) => e instanceof RunLogError && e.message === `${empty}: no scalar metrics found; nothing to import`);
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'nofiles-'));
    await assert.rejects(importRunLog(store, folder, { experimentId: exp.id, objective: 'standard', seed: 0 }), /has no TensorBoard event files/);
    await assert.rejects(importRunLog(store, TB_DIR, { experimentId: 999, objective: 'standard', seed: 0 }), /experiment 999 does not exist/);
    const text = path.join(dir, 'notes.txt');
    fs.writeFileSync(text, 'hello\n');
    await assert.rejects(importRunLog(store, text, { experimentId: exp.id, objective: 'standard', seed: 0 }), /notes\.txt: cannot tell what kind of log this is/);
    await assert.rejects(importRunLog(store, path.join(dir, 'missing'), { experimentId: exp.id, objective: 'standard', seed: 0 }), /missing does not exist/);
    const corrupt = path.join(dir, 'corrupt.tfevents');
    const b = fs.readFileSync(TB_FIRST);
    b[b.length - 10]! ^= 0xff;
    fs.writeFileSync(corrupt, b);
    await assert.rejects(importRunLog(store, corrupt, { experimentId: exp.id, objective: 'standard', seed: 0 }), /corrupt\.tfevents: record 6 at byte \d+: bad CRC/);
    assert.equal(store.runs.list().length, 0, 'nothing stored by a failed import');
  } finally {
    store.close();
  }
});
