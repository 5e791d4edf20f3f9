// Safetensors I/O, compatible with Hugging Face's `safetensors` library.
//
// File layout (https://github.com/huggingface/safetensors):
//
//   [8 bytes]  N, the header length, unsigned 64-bit little-endian
//   [N bytes]  UTF-8 JSON header:
//                {"__metadata__": {str: str},                         (optional)
//                 "<tensor name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
//                 ...}
//   [rest]     the data buffer; each tensor's bytes are data[begin:end], little-endian, row-major
//
// Writing: we reproduce the Rust library's `serialize` byte for byte (read from
// safetensors/src/tensor.rs, `prepare` + `impl Serialize for Metadata`), so a file we write
// is identical to the one `safetensors.torch.save_file` writes for the same float32 tensors:
//   - tensors sorted by dtype rank descending (the declaration order of the Rust `Dtype` enum,
//     roughly "largest alignment first"), then by name compared as UTF-8 bytes;
//   - data packed back to back in that order, with no padding between tensors;
//   - compact JSON (serde_json: no spaces), "__metadata__" first when present, then the
//     tensors in data order, each with its keys in the order dtype, shape, data_offsets;
//   - the JSON padded with ASCII spaces so that 8 + N is a multiple of 8 (keeps the data
//     buffer 8-byte aligned for memory mapping).
// The one place the Rust library is not deterministic is a `__metadata__` with several keys
// (it is a Rust HashMap, so its order is random per process); we sort those keys by UTF-8 bytes.
//
// Reading: we apply the Rust library's validation rules (same header-size limit; tensors must
// tile the data buffer exactly: no overlap, no gap, no trailing bytes; sizes must match
// dtype x shape), so a file we accept loads in Hugging Face too. Dtypes outside SafeDType
// (F8_*, I8, U16, ...) are refused. Every error is a SafetensorsError whose message names the file (when known),
// the tensor (when the problem is about one) and the reason.
//
// The engine works in float32, so readers return Float32Array: F16, BF16 and F64 are converted
// (F16/BF16 exactly; F64 rounds to nearest float32), integer dtypes only when asked to.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

export type SafeDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'U8' | 'BOOL';

export interface SafeTensorInfo {
  dtype: SafeDType;
  shape: number[];
  dataOffsets: [number, number];
}

/** What the engine uses: a float32 tensor, row-major. */
export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

/** A tensor as stored: its dtype, shape and raw little-endian bytes. */
export interface RawTensor {
  dtype: SafeDType;
  shape: number[];
  bytes: Uint8Array;
}

export interface ReadOptions {
  /** Convert I64/I32/U8/BOOL tensors to float32 instead of refusing them. I64 values beyond
   *  2^24 lose precision (they go through a float64 first, then round to float32). */
  allowInt?: boolean;
}

export class SafetensorsError extends Error {
  readonly file: string | undefined;
  readonly tensor: string | undefined;
  constructor(reason: string, file?: string, tensor?: string) {
    const where = file ?? '<safetensors buffer>';
    super(tensor === undefined ? `${where}: ${reason}` : `${where}: tensor ${JSON.stringify(tensor)}: ${reason}`);
    this.name = 'SafetensorsError';
    this.file = file;
    this.tensor = tensor;
  }
}

// ---------------------------------------------------------------------------------------------
// Dtypes

interface DTypeSpec {
  bytes: number;
  /** Position in the Rust `Dtype` enum (only the relative order matters). The writer sorts by
   *  this, descending. Note F16 < BF16 and F64 < I64 there, which is why it is a table and not
   *  derived from the byte size. */
  rustRank: number;
  isInt: boolean;
}

const DTYPES: Record<SafeDType, DTypeSpec> = {
  BOOL: { bytes: 1, rustRank: 0, isInt: true },
  U8: { bytes: 1, rustRank: 4, isInt: true },
  F16: { bytes: 2, rustRank: 13, isInt: false },
  BF16: { bytes: 2, rustRank: 14, isInt: false },
  I32: { bytes: 4, rustRank: 15, isInt: true },
  F32: { bytes: 4, rustRank: 17, isInt: false },
  F64: { bytes: 8, rustRank: 19, isInt: false },
  I64: { bytes: 8, rustRank: 20, isInt: true },
};

const isSafeDType = (s: unknown): s is SafeDType => typeof s === 'string' && Object.hasOwn(DTYPES, s);

// Same cap as the Rust library (MAX_HEADER_SIZE); protects against absurd allocations.
const MAX_HEADER_SIZE = 100_000_000;
const LEN_BYTES = 8;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const utf8 = new TextEncoder();
// fatal: invalid UTF-8 is an error, as in Rust. ignoreBOM: keep a BOM so JSON.parse rejects it,
// as serde_json does, instead of silently stripping it.
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Element count of a shape; [] is a scalar (1 element). Throws on non-integer dims. */
function numel(shape: readonly number[], fail: (reason: string) => never): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) fail(`shape ${JSON.stringify(shape)} has an invalid dimension ${JSON.stringify(d)}`);
    n *= d;
    if (!Number.isSafeInteger(n)) fail(`shape ${JSON.stringify(shape)} is too large`);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Header parsing and validation

interface ParsedHeader {
  header: Record<string, SafeTensorInfo>;
  metadata: Record<string, string>;
  dataStart: number;
}

/** Reads the 8-byte header length from the first bytes of a file. */
function readHeaderLength(first8: Uint8Array, fileSize: number, file?: string): number {
  if (fileSize < LEN_BYTES) {
    throw new SafetensorsError(`file is ${fileSize} bytes, too small for the 8-byte header length (truncated?)`, file);
  }
  const n = new DataView(first8.buffer, first8.byteOffset, LEN_BYTES).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) {
    throw new SafetensorsError(`header length ${n} exceeds the ${MAX_HEADER_SIZE}-byte limit (corrupt or not a safetensors file)`, file);
  }
  if (Number(n) > fileSize - LEN_BYTES) {
    throw new SafetensorsError(`header length ${n} is larger than the ${fileSize - LEN_BYTES} bytes after the length field (truncated?)`, file);
  }
  return Number(n);
}

/**
 * Parses and validates the JSON header. `dataLength` is the size of the data buffer
 * (file size - 8 - N); every tensor must lie inside it and together they must tile it exactly.
 */
function parseHeaderJson(headerBytes: Uint8Array, dataLength: number, file?: string): Omit<ParsedHeader, 'dataStart'> {
  let text: string;
  try {
    text = utf8Strict.decode(headerBytes);
  } catch {
    throw new SafetensorsError('header is not valid UTF-8', file);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`header is not valid JSON: ${(e as Error).message}`, file);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new SafetensorsError('header JSON is not an object', file);
  }

  // Null-prototype records: a tensor named "__proto__" or "constructor" must stay plain data.
  const metadata: Record<string, string> = Object.create(null);
  const entries: Array<[string, SafeTensorInfo]> = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new SafetensorsError('"__metadata__" is not an object of strings', file);
      }
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw new SafetensorsError(`"__metadata__" key ${JSON.stringify(k)} is not a string`, file);
        metadata[k] = v;
      }
      continue;
    }
    entries.push([name, parseTensorInfo(name, value, file)]);
  }

  // Check the data layout in offset order, like Rust's Metadata::validate.
  entries.sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  let expectedBegin = 0;
  let previous: string | undefined;
  for (const [name, info] of entries) {
    const [begin, end] = info.dataOffsets;
    const fail = (reason: string): never => {
      throw new SafetensorsError(reason, file, name);
    };
    if (end < begin) fail(`data_offsets [${begin}, ${end}] end before they begin`);
    const size = numel(info.shape, fail) * DTYPES[info.dtype].bytes;
    if (end - begin !== size) {
      fail(`data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${info.dtype} x ${JSON.stringify(info.shape)} needs ${size}`);
    }
    if (end > dataLength) {
      fail(`data_offsets [${begin}, ${end}] exceed the ${dataLength}-byte data buffer (truncated file?)`);
    }
    if (begin < expectedBegin) fail(`data_offsets [${begin}, ${end}] overlap tensor ${JSON.stringify(previous)}, which ends at ${expectedBegin}`);
    if (begin > expectedBegin) {
      fail(`data_offsets [${begin}, ${end}] leave a ${begin - expectedBegin}-byte gap after ${previous === undefined ? 'the start of the data' : `tensor ${JSON.stringify(previous)}`}`);
    }
    expectedBegin = end;
    previous = name;
  }
  if (expectedBegin !== dataLength) {
    throw new SafetensorsError(`tensors cover ${expectedBegin} bytes but the data buffer has ${dataLength} (trailing bytes)`, file);
  }

  const header: Record<string, SafeTensorInfo> = Object.create(null);
  for (const [name, info] of entries) header[name] = info;
  return { header, metadata };
}

function parseTensorInfo(name: string, value: unknown, file?: string): SafeTensorInfo {
  const fail = (reason: string): never => {
    throw new SafetensorsError(reason, file, name);
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('entry is not an object');
  const v = value as Record<string, unknown>;
  if (!isSafeDType(v.dtype)) {
    fail(`unsupported dtype ${JSON.stringify(v.dtype)} (supported: ${Object.keys(DTYPES).join(', ')})`);
  }
  const isIndex = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (!Array.isArray(v.shape) || !v.shape.every(isIndex)) fail(`shape ${JSON.stringify(v.shape)} is not a list of non-negative integers`);
  const off = v.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every(isIndex)) {
    fail(`data_offsets ${JSON.stringify(off)} is not a pair of non-negative integers`);
  }
  return { dtype: v.dtype as SafeDType, shape: [...(v.shape as number[])], dataOffsets: [(off as number[])[0]!, (off as number[])[1]!] };
}

/**
 * Parses and validates the header of a whole safetensors file held in memory.
 * `header` lists tensors in data order (except integer-like names such as "0", which JS
 * objects always list first); `dataStart` is where the data buffer begins (8 + N), so a
 * tensor's bytes are buf[dataStart + begin, dataStart + end).
 */
export function parseSafetensorsHeader(buf: Uint8Array, file?: string): ParsedHeader {
  const n = readHeaderLength(buf, buf.length, file);
  const dataStart = LEN_BYTES + n;
  const { header, metadata } = parseHeaderJson(buf.subarray(LEN_BYTES, dataStart), buf.length - dataStart, file);
  return { header, metadata, dataStart };
}

// ---------------------------------------------------------------------------------------------
// Conversion to float32

/** F16 bits -> F32 bits, exactly (every half is a float; NaN payloads are kept, like numpy). */
function f16ToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / NaN
  if (exp !== 0) return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0; // normal
  if (mant === 0) return sign >>> 0; // +-0
  // Subnormal half (mant * 2^-24): normalise it, since it is a normal float32.
  let e = -14;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | ((e + 127) << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

function checkDtypeAllowed(dtype: SafeDType, name: string, opts: ReadOptions, file?: string): void {
  if (DTYPES[dtype].isInt && !opts.allowInt) {
    throw new SafetensorsError(`dtype ${dtype} is an integer type; the engine expects floats (pass { allowInt: true } to convert)`, file, name);
  }
}

/** Decodes one tensor's little-endian bytes into float32. May return a view of `bytes`. */
function toFloat32(raw: RawTensor, name: string, opts: ReadOptions, file?: string): Float32Array {
  const { dtype, bytes } = raw;
  const n = bytes.length / DTYPES[dtype].bytes;
  checkDtypeAllowed(dtype, name, opts, file);
  if (dtype === 'F32' && HOST_LITTLE_ENDIAN) {
    // Zero copy when aligned; a Float32Array cannot start at a byte offset that is not a multiple of 4.
    if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
    return new Float32Array(bytes.slice().buffer);
  }
  const out = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength); // any alignment, explicit endianness
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      break;
    case 'F16':
    case 'BF16': {
      const bits = new Uint32Array(out.buffer); // write float32 bit patterns directly: exact, keeps NaNs
      if (dtype === 'F16') for (let i = 0; i < n; i++) bits[i] = f16ToF32Bits(dv.getUint16(2 * i, true));
      else for (let i = 0; i < n; i++) bits[i] = dv.getUint16(2 * i, true) << 16 >>> 0; // bf16 is the top half of a float32
      break;
    }
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true); // rounds to nearest float32
      break;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(8 * i, true));
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true);
      break;
    case 'U8':
      out.set(bytes);
      break;
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = bytes[i] !== 0 ? 1 : 0;
      break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * Reads every tensor of an in-memory safetensors file, validated, as raw bytes.
 * The `bytes` are views into `buf` (no copy).
 */
export function readSafetensorsRaw(buf: Uint8Array, file?: string): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } {
  const { header, metadata, dataStart } = parseSafetensorsHeader(buf, file);
  const tensors = new Map<string, RawTensor>();
  for (const [name, info] of Object.entries(header)) {
    const [begin, end] = info.dataOffsets;
    tensors.set(name, { dtype: info.dtype, shape: info.shape, bytes: buf.subarray(dataStart + begin, dataStart + end) });
  }
  return { tensors, metadata };
}

/**
 * Reads every tensor of an in-memory safetensors file as float32 (see the module comment for
 * conversions). Aligned F32 tensors are views into `buf`, so they share its memory: copy them
 * (or the buffer) if either is modified later.
 */
export function readSafetensors(buf: Uint8Array, file?: string, opts: ReadOptions = {}): Map<string, NamedTensor> {
  const out = new Map<string, NamedTensor>();
  for (const [name, raw] of readSafetensorsRaw(buf, file).tensors) {
    out.set(name, { shape: raw.shape, data: toFloat32(raw, name, opts, file) });
  }
  return out;
}

/**
 * Reads a safetensors file. Only the header is parsed up front; each tensor is then read from
 * disk into its own buffer, so peak memory is the result plus one tensor (not the whole file
 * twice), and files beyond Node's 2 GiB readFile limit work.
 */
export async function readSafetensorsFile(file: string, opts: ReadOptions = {}): Promise<Map<string, NamedTensor>> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (e) {
    throw new SafetensorsError(`cannot open: ${(e as Error).message}`, file);
  }
  try {
    const fileSize = (await fh.stat()).size;
    const first8 = await readExactly(fh, 0, Math.min(LEN_BYTES, fileSize), file);
    const n = readHeaderLength(first8, fileSize, file);
    const dataStart = LEN_BYTES + n;
    const headerBytes = await readExactly(fh, LEN_BYTES, n, file);
    const { header } = parseHeaderJson(headerBytes, fileSize - dataStart, file);
    const out = new Map<string, NamedTensor>();
    for (const [name, info] of Object.entries(header)) {
      const [begin, end] = info.dataOffsets;
      checkDtypeAllowed(info.dtype, name, opts, file); // before reading its bytes
      // A fresh buffer is aligned, so the F32 fast path views it without another copy.
      const bytes = await readExactly(fh, dataStart + begin, end - begin, file, name);
      out.set(name, { shape: info.shape, data: toFloat32({ dtype: info.dtype, shape: info.shape, bytes }, name, opts, file) });
    }
    return out;
  } catch (e) {
    if (e instanceof SafetensorsError) throw e;
    throw new SafetensorsError(`cannot read: ${(e as Error).message}`, file); // e.g. EISDIR, EIO
  } finally {
    await fh.close();
  }
}

async function readExactly(fh: fsp.FileHandle, position: number, length: number, file: string, tensor?: string): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    // Single reads are capped (2 GiB on some platforms), so read in chunks.
    const chunk = Math.min(length - done, 1 << 30);
    const { bytesRead } = await fh.read(buf, done, chunk, position + done);
    if (bytesRead === 0) throw new SafetensorsError(`unexpected end of file at byte ${position + done} (file changed while reading?)`, file, tensor);
    done += bytesRead;
  }
  return buf;
}

const SINGLE_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';

/**
 * Reads a Hugging Face model folder: `model.safetensors` if present (transformers prefers it
 * too), else the shards listed by `model.safetensors.index.json`
 * ({"metadata": {...}, "weight_map": {tensor: shard file}}). Every shard is read; every tensor
 * the index lists must be in the shard it names; a tensor found in two shards is an error.
 */
export async function readSafetensorsFolder(dir: string, opts: ReadOptions = {}): Promise<Map<string, NamedTensor>> {
  const single = path.join(dir, SINGLE_FILE);
  if (await exists(single)) return readSafetensorsFile(single, opts);

  const indexPath = path.join(dir, INDEX_FILE);
  if (!(await exists(indexPath))) {
    throw new SafetensorsError(`no ${SINGLE_FILE} or ${INDEX_FILE} in this folder`, dir);
  }
  const weightMap = await readWeightMap(indexPath);

  // Group index entries by shard, keeping first-appearance order of shards.
  const byShard = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (!byShard.has(shard)) byShard.set(shard, []);
    byShard.get(shard)!.push(tensor);
  }
  // Check every shard exists before reading any, so a missing one fails fast and clearly.
  for (const [shard, tensors] of byShard) {
    const shardPath = path.join(dir, shard);
    const rel = path.relative(dir, shardPath);
    if (path.isAbsolute(shard) || rel === '..' || rel.startsWith(`..${path.sep}`)) {
      throw new SafetensorsError(`weight_map points tensor ${JSON.stringify(tensors[0])} at ${JSON.stringify(shard)}, outside the model folder`, indexPath);
    }
    if (!(await exists(shardPath))) {
      throw new SafetensorsError(
        `shard ${JSON.stringify(shard)} is missing (${shardPath}); it should hold ${tensors.length} tensor(s): ${preview(tensors)}`,
        indexPath,
      );
    }
  }

  const out = new Map<string, NamedTensor>();
  const foundIn = new Map<string, string>();
  for (const [shard, expected] of byShard) {
    const shardPath = path.join(dir, shard);
    const tensors = await readSafetensorsFile(shardPath, opts);
    for (const [name, t] of tensors) {
      if (foundIn.has(name)) {
        throw new SafetensorsError(`tensor ${JSON.stringify(name)} is in both ${foundIn.get(name)} and ${shard}`, indexPath);
      }
      foundIn.set(name, shard);
      out.set(name, t);
    }
    const absent = expected.filter((name) => !tensors.has(name));
    if (absent.length > 0) {
      throw new SafetensorsError(`${absent.length} tensor(s) that the index places in ${shard} are absent from it: ${preview(absent)}`, shardPath);
    }
  }
  return out;
}

async function readWeightMap(indexPath: string): Promise<Record<string, string>> {
  let json: unknown;
  try {
    json = JSON.parse(await fsp.readFile(indexPath, 'utf8'));
  } catch (e) {
    throw new SafetensorsError(`cannot read index: ${(e as Error).message}`, indexPath);
  }
  const wm = (json as { weight_map?: unknown } | null)?.weight_map;
  if (wm === null || typeof wm !== 'object' || Array.isArray(wm)) {
    throw new SafetensorsError('index has no "weight_map" object', indexPath);
  }
  for (const [tensor, shard] of Object.entries(wm)) {
    if (typeof shard !== 'string' || shard === '') {
      throw new SafetensorsError(`weight_map entry for tensor ${JSON.stringify(tensor)} is not a file name`, indexPath);
    }
  }
  return wm as Record<string, string>;
}

const preview = (names: string[]) => names.slice(0, 5).map((n) => JSON.stringify(n)).join(', ') + (names.length > 5 ? `, ... (${names.length - 5} more)` : '');

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

type TensorsIn<T> = Map<string, T> | Record<string, T>;
const entriesOf = <T>(t: TensorsIn<T>): Array<[string, T]> => (t instanceof Map ? [...t.entries()] : Object.entries(t));

// Rust compares Strings by their UTF-8 bytes; JS `<` compares UTF-16 code units, which differs
// for characters above U+FFFF, so compare the encoded bytes.
const compareUtf8 = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Serializes tensors of any supported dtype from their raw little-endian bytes, in the Rust
 * library's canonical layout (see the module comment).
 */
export function writeSafetensorsRaw(tensors: TensorsIn<RawTensor>, metadata?: Record<string, string>): Uint8Array {
  const items = entriesOf(tensors).map(([name, t]) => {
    const fail = (reason: string): never => {
      throw new SafetensorsError(reason, undefined, name);
    };
    if (name === '__metadata__') fail('"__metadata__" is reserved for the metadata block');
    if (LONE_SURROGATE.test(name)) fail('name is not valid Unicode (lone surrogate)');
    if (!isSafeDType(t.dtype)) fail(`unsupported dtype ${JSON.stringify(t.dtype)}`);
    if (!(t.bytes instanceof Uint8Array)) fail('bytes is not a Uint8Array');
    if (!Array.isArray(t.shape)) fail('shape is not an array');
    const size = numel(t.shape, fail) * DTYPES[t.dtype].bytes;
    if (t.bytes.length !== size) fail(`has ${t.bytes.length} bytes but ${t.dtype} x ${JSON.stringify(t.shape)} needs ${size}`);
    return { name, key: utf8.encode(name), t };
  });
  items.sort((a, b) => DTYPES[b.t.dtype].rustRank - DTYPES[a.t.dtype].rustRank || compareUtf8(a.key, b.key));

  // JSON is assembled by hand to pin the key order; JSON.stringify on strings escapes exactly
  // what serde_json escapes (", \, control characters as \b \t \n \f \r or \u00xx).
  const parts: string[] = [];
  if (metadata !== undefined) {
    const kv = Object.entries(metadata).map(([k, v]) => {
      if (typeof v !== 'string') throw new SafetensorsError(`metadata value for ${JSON.stringify(k)} is not a string`);
      if (LONE_SURROGATE.test(k) || LONE_SURROGATE.test(v)) throw new SafetensorsError(`metadata entry ${JSON.stringify(k)} is not valid Unicode`);
      return { k, v, key: utf8.encode(k) };
    });
    kv.sort((a, b) => compareUtf8(a.key, b.key));
    parts.push(`"__metadata__":{${kv.map(({ k, v }) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  let offset = 0;
  for (const { name, t } of items) {
    const end = offset + t.bytes.length;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = utf8.encode(`{${parts.join(',')}}`);
  const n = Math.ceil(json.length / LEN_BYTES) * LEN_BYTES;
  if (n > MAX_HEADER_SIZE) throw new SafetensorsError(`header would be ${n} bytes, over the ${MAX_HEADER_SIZE}-byte limit`);

  const out = new Uint8Array(LEN_BYTES + n + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(json, LEN_BYTES);
  out.fill(0x20, LEN_BYTES + json.length, LEN_BYTES + n); // space padding
  let pos = LEN_BYTES + n;
  for (const { t } of items) {
    out.set(t.bytes, pos);
    pos += t.bytes.length;
  }
  return out;
}

/** float32 data -> little-endian bytes, bit-exact (NaN payloads and -0 survive). */
function float32Bytes(data: Float32Array): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_LITTLE_ENDIAN) return view;
  const out = new Uint8Array(view.length);
  for (let i = 0; i < view.length; i += 4) {
    out[i] = view[i + 3]!;
    out[i + 1] = view[i + 2]!;
    out[i + 2] = view[i + 1]!;
    out[i + 3] = view[i]!;
  }
  return out;
}

/** Serializes float32 tensors; byte-identical to Hugging Face's `save_file` for the same tensors. */
export function writeSafetensors(tensors: TensorsIn<NamedTensor>, metadata?: Record<string, string>): Uint8Array {
  const raw = entriesOf(tensors).map(([name, t]): [string, RawTensor] => {
    if (!(t?.data instanceof Float32Array)) throw new SafetensorsError('data is not a Float32Array', undefined, name);
    return [name, { dtype: 'F32', shape: t.shape, bytes: float32Bytes(t.data) }];
  });
  return writeSafetensorsRaw(new Map(raw), metadata);
}

/**
 * Writes a safetensors file atomically: the bytes go to a temporary file in the same folder,
 * are flushed to disk, and the temporary file is renamed over `file`. A crash at any point
 * leaves either the old file or the complete new one, never a torn file.
 */
export async function writeSafetensorsFile(file: string, tensors: TensorsIn<NamedTensor>, metadata?: Record<string, string>): Promise<void> {
  const bytes = writeSafetensors(tensors, metadata); // serialize first: a bad tensor must not touch the disk
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await fsp.open(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync(); // data on disk before the rename makes it visible
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw new SafetensorsError(`cannot write: ${(e as Error).message}`, file);
  }
  // Persist the rename itself. Best effort: directories cannot be opened for sync on Windows.
  try {
    const dh = await fsp.open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    /* not supported on this platform */
  }
}
