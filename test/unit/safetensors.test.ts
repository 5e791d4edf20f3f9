// Tests for engine/runtime/safetensors.ts.
// Fixtures come from test/reference/make_safetensors.py, an independent Python implementation
// of the same layout; golden byte vectors come from the Rust crate's own unit tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fixture } from '../util/paths.js';
import {
  parseSafetensorsHeader,
  readSafetensors,
  readSafetensorsFile,
  readSafetensorsFolder,
  readSafetensorsRaw,
  writeSafetensors,
  writeSafetensorsFile,
  writeSafetensorsRaw,
  SafetensorsError,
  type NamedTensor,
  type RawTensor,
} from '../../engine/runtime/safetensors.js';

// ---------------------------------------------------------------------------------------------
// helpers

const loadJson = async <T>(...parts: string[]): Promise<T> => JSON.parse(await fsp.readFile(fixture('safetensors', ...parts), 'utf8')) as T;
const loadBytes = async (...parts: string[]) => new Uint8Array(await fsp.readFile(fixture('safetensors', ...parts)));
const tmpDir = () => fsp.mkdtemp(path.join(os.tmpdir(), 'st-test-'));

type ExpectedValues = { tensors: Record<string, { shape: number[]; values: number[] }>; metadata?: Record<string, string> };
type ExpectedBits = { tensors: Record<string, { dtype: string; shape: number[]; bits: number[] }> };

const bitsOf = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
const f32 = (values: number[]) => Float32Array.from(values);

/** Values compared by float32 bit pattern, so -0 vs +0 and NaN payloads count. */
function assertSameTensors(actual: Map<string, NamedTensor>, expected: Record<string, { shape: number[]; values: number[] }>) {
  assert.deepEqual([...actual.keys()].sort(), Object.keys(expected).sort());
  for (const [name, e] of Object.entries(expected)) {
    const t = actual.get(name)!;
    assert.deepEqual(t.shape, e.shape, name);
    assert.deepEqual(bitsOf(t.data), bitsOf(f32(e.values)), name);
  }
}

/** Builds a safetensors file from a literal header (string or object) and data bytes. */
function craft(header: string | object, data: Uint8Array | number = 0): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

function expectError(fn: () => unknown, want: { file?: string; tensor?: string; reason: RegExp }) {
  assert.throws(fn, (e: unknown) => checkError(e, want));
}
async function expectReject(p: Promise<unknown>, want: { file?: string; tensor?: string; reason: RegExp }) {
  await assert.rejects(p, (e: unknown) => checkError(e, want));
}
function checkError(e: unknown, want: { file?: string; tensor?: string; reason: RegExp }): true {
  assert.ok(e instanceof SafetensorsError, `expected a SafetensorsError, got ${String(e)}`);
  if (want.file !== undefined) assert.ok(e.message.includes(want.file), `message should name the file ${want.file}: ${e.message}`);
  if (want.tensor !== undefined) assert.ok(e.message.includes(JSON.stringify(want.tensor)), `message should name tensor ${want.tensor}: ${e.message}`);
  assert.match(e.message, want.reason);
  return true;
}

// ---------------------------------------------------------------------------------------------
// writer: canonical layout

test('writer matches the golden bytes from the Rust crate tests', () => {
  // From safetensors/src/tensor.rs: test_serialization, test_serialization_forced_alignement, test_empty.
  const six = f32([0, 1, 2, 3, 4, 5]);
  const dataBytes = [0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64];
  const enc = (s: string) => [...new TextEncoder().encode(s)];
  assert.deepEqual(
    [...writeSafetensors({ 'attn.0': { shape: [1, 2, 3], data: six } })],
    [64, 0, 0, 0, 0, 0, 0, 0, ...enc('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'), ...dataBytes],
  );
  assert.deepEqual(
    [...writeSafetensors({ attn0: { shape: [1, 1, 2, 3], data: six } })],
    [72, 0, 0, 0, 0, 0, 0, 0, ...enc('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       '), ...dataBytes],
  );
  assert.deepEqual([...writeSafetensors(new Map())], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
  assert.deepEqual(
    [...writeSafetensors({}, { framework: 'pt' })],
    [40, 0, 0, 0, 0, 0, 0, 0, ...enc('{"__metadata__":{"framework":"pt"}}     ')],
  );
});

test('writer output is byte-identical to the Python reference file (f32)', async () => {
  const file = await loadBytes('f32.safetensors');
  const expected = await loadJson<ExpectedValues>('f32.json');
  // From the expected values alone, in JSON order (the writer must sort)...
  const fromJson = new Map(Object.entries(expected.tensors).map(([k, v]) => [k, { shape: v.shape, data: f32(v.values) }]));
  assert.deepEqual(writeSafetensors(fromJson, expected.metadata), file);
  // ...and from what the reader returns, in reverse insertion order.
  const fromFile = readSafetensors(file);
  assert.deepEqual(writeSafetensors(new Map([...fromFile].reverse()), { format: 'pt' }), file);
});

test('raw writer reproduces the mixed-dtype Python files byte for byte (dtype ordering)', async () => {
  for (const name of ['half.safetensors', 'ints.safetensors', 'sharded/model-00001-of-00002.safetensors']) {
    const file = await loadBytes(...name.split('/'));
    const { tensors, metadata } = readSafetensorsRaw(file);
    const hasMeta = Object.keys(metadata).length > 0;
    assert.deepEqual(writeSafetensorsRaw(tensors, hasMeta ? metadata : undefined), file, name);
  }
  // The order is by Rust Dtype rank (I64 > F64 > F32 > I32 > BF16 > F16 > U8 > BOOL), then name.
  const one = (dtype: RawTensor['dtype'], size: number): RawTensor => ({ dtype, shape: [1], bytes: new Uint8Array(size) });
  const out = writeSafetensorsRaw({
    a_bool: one('BOOL', 1), b_u8: one('U8', 1), c_f16: one('F16', 2), d_bf16: one('BF16', 2),
    e_i32: one('I32', 4), f_f32: one('F32', 4), g_f64: one('F64', 8), h_i64: one('I64', 8),
  });
  assert.deepEqual(Object.keys(parseSafetensorsHeader(out).header), ['h_i64', 'g_f64', 'f_f32', 'e_i32', 'd_bf16', 'c_f16', 'b_u8', 'a_bool']);
});

test('round trip write -> read -> write is byte-exact, keeping -0, subnormals, inf and NaN payloads', () => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 4 - 2;
  const special = new Float32Array(new Uint32Array([0x80000000, 0x00000001, 0x7f800000, 0xff800000, 0x7fc00001, 0xffa12345]).buffer);
  const tensors: Record<string, NamedTensor> = {
    'w.1': { shape: [3, 4], data: Float32Array.from({ length: 12 }, rnd) },
    'w.0': { shape: [7], data: Float32Array.from({ length: 7 }, rnd) },
    scalar: { shape: [], data: f32([rnd()]) },
    empty: { shape: [2, 0, 3], data: new Float32Array(0) },
    special: { shape: [2, 3], data: special },
  };
  const meta = { z: 'last', a: 'first', 'ünï': 'cödé' };
  const bytes = writeSafetensors(tensors, meta);
  const back = readSafetensors(bytes);
  assert.deepEqual(writeSafetensors(back, meta), bytes);
  for (const [name, t] of Object.entries(tensors)) {
    assert.deepEqual(back.get(name)!.shape, t.shape);
    assert.deepEqual(bitsOf(back.get(name)!.data), bitsOf(t.data), name);
  }
  const { metadata, dataStart } = parseSafetensorsHeader(bytes);
  assert.deepEqual({ ...metadata }, meta);
  assert.equal(dataStart % 8, 0);
  // Metadata keys are sorted, so insertion order does not change the bytes.
  assert.deepEqual(writeSafetensors(tensors, { 'ünï': 'cödé', a: 'first', z: 'last' }), bytes);
});

test('writer rejects bad tensors, naming them', () => {
  expectError(() => writeSafetensors({ w: { shape: [2, 2], data: f32([1, 2, 3]) } }), { tensor: 'w', reason: /12 bytes but F32 x \[2,2\] needs 16/ });
  expectError(() => writeSafetensors({ w: { shape: [-1], data: f32([]) } }), { tensor: 'w', reason: /invalid dimension/ });
  expectError(() => writeSafetensors({ w: { shape: [1], data: [1] as unknown as Float32Array } }), { tensor: 'w', reason: /not a Float32Array/ });
  expectError(() => writeSafetensors({ __metadata__: { shape: [1], data: f32([1]) } }), { tensor: '__metadata__', reason: /reserved/ });
  expectError(() => writeSafetensors({ x: { shape: [1], data: f32([1]) } }, { k: 1 as unknown as string }), { reason: /metadata value for "k" is not a string/ });
});

// ---------------------------------------------------------------------------------------------
// reader: fixtures

test('reads the f32 fixture exactly, with metadata', async () => {
  const file = fixture('safetensors', 'f32.safetensors');
  const expected = await loadJson<ExpectedValues>('f32.json');
  const bytes = await loadBytes('f32.safetensors');
  assertSameTensors(readSafetensors(bytes, file), expected.tensors);
  assertSameTensors(await readSafetensorsFile(file), expected.tensors);
  const { header, metadata } = parseSafetensorsHeader(bytes, file);
  assert.deepEqual({ ...metadata }, { format: 'pt' });
  assert.deepEqual({ ...header['layers.10.weight']! }, { dtype: 'F32', shape: [2, 3], dataOffsets: [header['layers.10.weight']!.dataOffsets[0], header['layers.10.weight']!.dataOffsets[0] + 24] });
  assert.deepEqual(header['a.scalar']!.shape, []);
});

test('reads F32 from an unaligned buffer by copying', async () => {
  const bytes = await loadBytes('f32.safetensors');
  const store = new Uint8Array(bytes.length + 1);
  store.set(bytes, 1);
  const unaligned = store.subarray(1);
  const expected = await loadJson<ExpectedValues>('f32.json');
  const got = readSafetensors(unaligned);
  assertSameTensors(got, expected.tensors);
  for (const t of got.values()) assert.equal(t.data.byteOffset % 4, 0);
});

test('converts F16, BF16 and F64 to the exact float32 values Python computes', async () => {
  const expected = await loadJson<ExpectedBits>('half.json');
  const file = fixture('safetensors', 'half.safetensors');
  for (const got of [readSafetensors(await loadBytes('half.safetensors'), file), await readSafetensorsFile(file)]) {
    assert.deepEqual([...got.keys()].sort(), Object.keys(expected.tensors).sort());
    for (const [name, e] of Object.entries(expected.tensors)) {
      assert.deepEqual(got.get(name)!.shape, e.shape, name);
      assert.deepEqual(bitsOf(got.get(name)!.data), e.bits, name);
    }
  }
});

test('F16 conversion is exact for all 65536 bit patterns', () => {
  const all = new Uint8Array(65536 * 2);
  for (let h = 0; h < 65536; h++) {
    all[2 * h] = h & 0xff;
    all[2 * h + 1] = h >> 8;
  }
  const got = readSafetensors(writeSafetensorsRaw({ h: { dtype: 'F16', shape: [65536], bytes: all } })).get('h')!.data;
  const gotBits = new Uint32Array(got.buffer, got.byteOffset, got.length);
  // Reference: the textbook value formula, evaluated in float64 (exact for halves).
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0x1f && m !== 0) {
      // NaN: sign kept, payload shifted into the float32 mantissa (as numpy does).
      assert.equal(gotBits[h], ((h & 0x8000) << 16 | 0x7f800000 | (m << 13)) >>> 0, `0x${h.toString(16)}`);
      continue;
    }
    const want = e === 0x1f ? sign * Infinity : e === 0 ? sign * m * 2 ** -24 : sign * (1 + m / 1024) * 2 ** (e - 15);
    assert.ok(Object.is(got[h], want), `0x${h.toString(16)}: got ${got[h]}, want ${want}`);
  }
});

test('integer dtypes are refused by default and converted with allowInt', async () => {
  const file = fixture('safetensors', 'ints.safetensors');
  const bytes = await loadBytes('ints.safetensors');
  expectError(() => readSafetensors(bytes, file), { file, tensor: 'i64', reason: /integer type.*allowInt/ });
  await expectReject(readSafetensorsFile(file), { file, tensor: 'i64', reason: /integer type/ });
  const expected = await loadJson<ExpectedValues>('ints.json');
  assertSameTensors(readSafetensors(bytes, file, { allowInt: true }), expected.tensors);
  assertSameTensors(await readSafetensorsFile(file, { allowInt: true }), expected.tensors);
});

test('reads a sharded model folder and a single-file folder', async () => {
  const expected = await loadJson<ExpectedValues>('sharded.json');
  assertSameTensors(await readSafetensorsFolder(fixture('safetensors', 'sharded')), expected.tensors);

  const dir = await tmpDir();
  await fsp.copyFile(fixture('safetensors', 'f32.safetensors'), path.join(dir, 'model.safetensors'));
  assertSameTensors(await readSafetensorsFolder(dir), (await loadJson<ExpectedValues>('f32.json')).tensors);
  await fsp.rm(dir, { recursive: true });
});

// ---------------------------------------------------------------------------------------------
// reader: errors name the file, the tensor and the reason

test('truncated files', async () => {
  const dir = await tmpDir();
  const bytes = await loadBytes('f32.safetensors');
  const { header } = parseSafetensorsHeader(bytes);
  const last = Object.keys(header).at(-1)!; // header is in data order
  const file = path.join(dir, 'cut.safetensors');

  await fsp.writeFile(file, bytes.subarray(0, bytes.length - 3));
  expectError(() => readSafetensors(bytes.subarray(0, bytes.length - 3), file), { file, tensor: last, reason: /exceed the .*data buffer.*truncated/ });
  await expectReject(readSafetensorsFile(file), { file, tensor: last, reason: /exceed/ });

  await fsp.writeFile(file, bytes.subarray(0, 100)); // cut inside the header
  await expectReject(readSafetensorsFile(file), { file, reason: /header length 688 is larger than the 92 bytes/ });

  await fsp.writeFile(file, bytes.subarray(0, 5)); // cut inside the length field
  await expectReject(readSafetensorsFile(file), { file, reason: /too small for the 8-byte header length/ });
  await fsp.rm(dir, { recursive: true });
});

test('header length larger than the file, or absurdly large', () => {
  const file = '/models/x.safetensors';
  const bytes = craft({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 4);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(bytes.length), true);
  expectError(() => readSafetensors(bytes, file), { file, reason: /header length \d+ is larger than/ });
  new DataView(bytes.buffer).setBigUint64(0, 2n ** 63n, true);
  expectError(() => readSafetensors(bytes, file), { file, reason: /exceeds the 100000000-byte limit/ });
});

test('bad header JSON', () => {
  const file = 'bad.safetensors';
  expectError(() => readSafetensors(craft('{"w": {"dtype": "F32",', 4), file), { file, reason: /not valid JSON/ });
  expectError(() => readSafetensors(craft('[1, 2]'), file), { file, reason: /not an object/ });
  expectError(() => readSafetensors(craft('\ufeff{}'), file), { file, reason: /not valid JSON/ });
  const invalidUtf8 = craft('{"w":1}');
  invalidUtf8[10] = 0xff;
  expectError(() => readSafetensors(invalidUtf8, file), { file, reason: /not valid UTF-8/ });
  expectError(() => readSafetensors(craft({ __metadata__: { n: 3 } }), file), { file, reason: /"__metadata__" key "n" is not a string/ });
});

test('bad tensor entries name the tensor', () => {
  const file = 'entries.safetensors';
  const cases: Array<[object, number, string, RegExp]> = [
    [{ w: 5 }, 0, 'w', /entry is not an object/],
    [{ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1, 'w', /unsupported dtype "F8_E4M3"/],
    [{ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4, 'w', /shape .* not a list of non-negative integers/],
    [{ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4, 'w', /data_offsets \[0\] is not a pair/],
    [{ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, 4, 'w', /end before they begin/],
  ];
  for (const [h, n, tensor, reason] of cases) expectError(() => readSafetensors(craft(h, n), file), { file, tensor, reason });
});

test('offsets out of range, overlapping, gapped, or mismatched with dtype x shape', () => {
  const file = 'offsets.safetensors';
  const t = (dtype: string, shape: number[], a: number, b: number) => ({ dtype, shape, data_offsets: [a, b] });
  // Out of range: the sizes agree with each other but not with the 16 data bytes present.
  expectError(() => readSafetensors(craft({ ok: t('F32', [4], 0, 16), big: t('F32', [1000], 16, 4016) }, 16), file), {
    file, tensor: 'big', reason: /data_offsets \[16, 4016\] exceed the 16-byte data buffer/,
  });
  // dtype x shape size mismatch.
  expectError(() => readSafetensors(craft({ w: t('F32', [3], 0, 16) }, 16), file), {
    file, tensor: 'w', reason: /span 16 bytes but F32 x \[3\] needs 12/,
  });
  expectError(() => readSafetensors(craft({ w: t('BF16', [2, 2], 0, 16) }, 16), file), { file, tensor: 'w', reason: /needs 8/ });
  // Overlap and gap.
  expectError(() => readSafetensors(craft({ a: t('F32', [2], 0, 8), b: t('F32', [2], 4, 12) }, 12), file), {
    file, tensor: 'b', reason: /overlap tensor "a"/,
  });
  expectError(() => readSafetensors(craft({ a: t('F32', [1], 0, 4), b: t('F32', [1], 8, 12) }, 12), file), {
    file, tensor: 'b', reason: /4-byte gap after tensor "a"/,
  });
  // Trailing bytes after the last tensor (the Rust reader refuses these too).
  expectError(() => readSafetensors(craft({ a: t('F32', [1], 0, 4) }, 8), file), { file, reason: /cover 4 bytes but the data buffer has 8/ });
  // Zero-size tensors may share an offset.
  const ok = readSafetensors(craft({ a: t('F32', [0], 0, 0), b: t('F32', [2, 0], 0, 0), c: t('F32', [1], 0, 4) }, 4), file);
  assert.deepEqual([...ok.keys()].sort(), ['a', 'b', 'c']);
});

test('readSafetensorsFile reports a missing file', async () => {
  const file = path.join(os.tmpdir(), 'definitely-missing-st-test.safetensors');
  await expectReject(readSafetensorsFile(file), { file, reason: /cannot open.*ENOENT/ });
});

test('sharded folder errors: missing shard, tensor absent from its shard, no model files', async () => {
  const src = fixture('safetensors', 'sharded');
  const dir = await tmpDir();
  const index = path.join(dir, 'model.safetensors.index.json');
  for (const f of await fsp.readdir(src)) await fsp.copyFile(path.join(src, f), path.join(dir, f));

  await fsp.rename(path.join(dir, 'model-00002-of-00002.safetensors'), path.join(dir, 'elsewhere'));
  await expectReject(readSafetensorsFolder(dir), { file: index, tensor: 'layers.1.weight', reason: /shard "model-00002-of-00002.safetensors" is missing/ });
  await fsp.rename(path.join(dir, 'elsewhere'), path.join(dir, 'model-00002-of-00002.safetensors'));

  const idx = JSON.parse(await fsp.readFile(index, 'utf8'));
  idx.weight_map['extra.bias'] = 'model-00001-of-00002.safetensors';
  await fsp.writeFile(index, JSON.stringify(idx));
  await expectReject(readSafetensorsFolder(dir), {
    file: path.join(dir, 'model-00001-of-00002.safetensors'), tensor: 'extra.bias', reason: /absent from it/,
  });

  idx.weight_map['extra.bias'] = '../escape.safetensors';
  await fsp.writeFile(index, JSON.stringify(idx));
  await expectReject(readSafetensorsFolder(dir), { file: index, tensor: 'extra.bias', reason: /outside the model folder/ });

  await fsp.writeFile(index, '{"weight_map": ');
  await expectReject(readSafetensorsFolder(dir), { file: index, reason: /cannot read index/ });

  const empty = await tmpDir();
  await expectReject(readSafetensorsFolder(empty), { file: empty, reason: /no model.safetensors or model.safetensors.index.json/ });
  await fsp.rm(dir, { recursive: true });
  await fsp.rm(empty, { recursive: true });
});

// ---------------------------------------------------------------------------------------------
// atomic file writes

test('writeSafetensorsFile writes atomically and leaves no temp files', async () => {
  const dir = await tmpDir();
  const file = path.join(dir, 'model.safetensors');
  const v1 = { w: { shape: [2], data: f32([1, 2]) } };
  const v2 = { w: { shape: [3], data: f32([3, 4, 5]) }, b: { shape: [], data: f32([6]) } };

  await writeSafetensorsFile(file, v1, { format: 'pt' });
  assert.deepEqual(new Uint8Array(await fsp.readFile(file)), writeSafetensors(v1, { format: 'pt' }));
  await writeSafetensorsFile(file, new Map(Object.entries(v2))); // overwrite
  assert.deepEqual(new Uint8Array(await fsp.readFile(file)), writeSafetensors(v2));
  assert.deepEqual(bitsOf((await readSafetensorsFile(file)).get('w')!.data), bitsOf(v2.w.data));

  // A bad tensor fails before touching the disk: the previous file stays intact.
  await assert.rejects(writeSafetensorsFile(file, { w: { shape: [5], data: f32([1]) } }), SafetensorsError);
  assert.deepEqual(new Uint8Array(await fsp.readFile(file)), writeSafetensors(v2));
  assert.deepEqual(await fsp.readdir(dir), ['model.safetensors']);

  // An unwritable destination names the file.
  const nowhere = path.join(dir, 'no-such-dir', 'x.safetensors');
  await expectReject(writeSafetensorsFile(nowhere, v1), { file: nowhere, reason: /cannot write/ });
  assert.deepEqual(await fsp.readdir(dir), ['model.safetensors']);
  await fsp.rm(dir, { recursive: true });
});
