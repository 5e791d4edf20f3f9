// TensorBoard event files: TFRecord framing and the few protobuf messages that carry scalars.
//
// A file is a sequence of records: uint64 length (little-endian), masked CRC32C of those 8 bytes, the
// data, masked CRC32C of the data. Each record's data is an `Event` protobuf. Scalars come in two
// shapes: `Summary.Value.simple_value` (torch.utils.tensorboard, tensorboardX's add_scalar) and a
// one-element `TensorProto` with float_val / double_val / tensor_content (TF2's tf.summary.scalar,
// tensorboardX with the new-style writer). No protobuf library is a dependency, and the decoder needs
// only varints and length-delimited fields, so it is written out here.
import fs from 'node:fs';

/** A log that cannot be read; the message names the file, the position and the reason. */
export class RunLogError extends Error {
  override name = 'RunLogError';
}

export interface ScalarEvent {
  tag: string;
  step: number;
  wallTime: number;
  value: number;
}

export interface EventFileScalars {
  scalars: ScalarEvent[];
  /** Records read (including ones with no scalar, such as the file-version event). */
  records: number;
  /** Things tolerated: a record cut short at the end of the file (a writer still running). */
  warnings: string[];
}

// --- CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven -------------------------
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masking (a rotation plus a constant) so that CRCs of data holding CRCs stay strong. */
export function maskedCrc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  const c = crc32c(buf, start, end);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

// --- protobuf wire format ------------------------------------------------------------------------
const WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5;

class ProtoReader {
  pos: number;
  private readonly view: DataView;
  constructor(readonly buf: Uint8Array, start = 0, readonly end = buf.length) {
    this.pos = start;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  done(): boolean { return this.pos >= this.end; }
  /** A varint as a JS number (exact up to 2^53, which every step and length here is below). */
  varint(): number {
    let result = 0, mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('varint runs past the end of its message');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (!(b & 0x80)) return result;
      mul *= 128;
    }
    throw new Error('varint longer than 10 bytes');
  }
  /** A two's-complement int64 varint (negative values use all 10 bytes). */
  int64(): number {
    const v = this.varint();
    return v >= 2 ** 63 ? v - 2 ** 64 : v;
  }
  tag(): { field: number; wire: number } {
    const t = this.varint();
    return { field: Math.floor(t / 8), wire: t % 8 };
  }
  double(): number { this.need(8); const v = this.view.getFloat64(this.pos, true); this.pos += 8; return v; }
  float(): number { this.need(4); const v = this.view.getFloat32(this.pos, true); this.pos += 4; return v; }
  bytes(): { start: number; end: number } {
    const n = this.varint();
    this.need(n);
    const start = this.pos;
    this.pos += n;
    return { start, end: this.pos };
  }
  string(): string { const b = this.bytes(); return new TextDecoder().decode(this.buf.subarray(b.start, b.end)); }
  sub(): ProtoReader { const b = this.bytes(); return new ProtoReader(this.buf, b.start, b.end); }
  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_I64) { this.need(8); this.pos += 8; }
    else if (wire === WIRE_LEN) this.bytes();
    else if (wire === WIRE_I32) { this.need(4); this.pos += 4; }
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  private need(n: number): void {
    if (this.pos + n > this.end) throw new Error('field runs past the end of its message');
  }
}

/** Repeated numeric field: packed (one length-delimited run) or one value per tag. */
function readRepeated(r: ProtoReader, wire: number, scalarWire: number, read: (r: ProtoReader) => number, out: number[]): void {
  if (wire === WIRE_LEN) {
    const s = r.sub();
    while (!s.done()) out.push(read(s));
  } else if (wire === scalarWire) out.push(read(r));
  else r.skip(wire);
}

// TensorFlow DataType values (tensorflow/core/framework/types.proto) a scalar summary may use.
const DT_FLOAT = 1, DT_DOUBLE = 2, DT_INT32 = 3, DT_INT64 = 9, DT_HALF = 19;

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** The single value of a one-element numeric TensorProto, or undefined for anything else. */
function tensorScalar(r: ProtoReader): number | undefined {
  let dtype = 0, elements = 1;
  const floats: number[] = [], doubles: number[] = [], halves: number[] = [], ints: number[] = [];
  let content: { start: number; end: number } | undefined;
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_VARINT) dtype = r.varint();
    else if (field === 2 && wire === WIRE_LEN) {
      const shape = r.sub();
      while (!shape.done()) {
        const t = shape.tag();
        if (t.field === 2 && t.wire === WIRE_LEN) {
          const dim = shape.sub();
          while (!dim.done()) {
            const d = dim.tag();
            if (d.field === 1 && d.wire === WIRE_VARINT) elements *= dim.int64();
            else dim.skip(d.wire);
          }
        } else shape.skip(t.wire);
      }
    } else if (field === 4 && wire === WIRE_LEN) content = r.bytes();
    else if (field === 5) readRepeated(r, wire, WIRE_I32, (x) => x.float(), floats);
    else if (field === 6) readRepeated(r, wire, WIRE_I64, (x) => x.double(), doubles);
    else if (field === 13) readRepeated(r, wire, WIRE_VARINT, (x) => x.varint(), halves);
    else if (field === 7 || field === 10) readRepeated(r, wire, WIRE_VARINT, (x) => x.int64(), ints);
    else r.skip(wire);
  }
  if (elements !== 1) return undefined;
  if (content && content.end > content.start) {
    const v = new DataView(r.buf.buffer, r.buf.byteOffset + content.start, content.end - content.start);
    if (dtype === DT_FLOAT && v.byteLength === 4) return v.getFloat32(0, true);
    if (dtype === DT_DOUBLE && v.byteLength === 8) return v.getFloat64(0, true);
    if (dtype === DT_HALF && v.byteLength === 2) return halfToFloat(v.getUint16(0, true));
    if (dtype === DT_INT32 && v.byteLength === 4) return v.getInt32(0, true);
    if (dtype === DT_INT64 && v.byteLength === 8) return Number(v.getBigInt64(0, true));
    return undefined;
  }
  if (dtype === DT_FLOAT && floats.length === 1) return floats[0];
  if (dtype === DT_DOUBLE && doubles.length === 1) return doubles[0];
  if (dtype === DT_HALF && halves.length === 1) return halfToFloat(halves[0]!);
  if ((dtype === DT_INT32 || dtype === DT_INT64) && ints.length === 1) return ints[0];
  return undefined;
}

/** SummaryMetadata.plugin_data.plugin_name, or '' when absent. */
function pluginName(r: ProtoReader): string {
  let name = '';
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_LEN) {
      const pd = r.sub();
      while (!pd.done()) {
        const t = pd.tag();
        if (t.field === 1 && t.wire === WIRE_LEN) name = pd.string();
        else pd.skip(t.wire);
      }
    } else r.skip(wire);
  }
  return name;
}

function readValue(r: ProtoReader): { tag: string; value: number } | undefined {
  let tag = '', simple: number | undefined, tensor: number | undefined, plugin = '';
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_LEN) tag = r.string();
    else if (field === 2 && wire === WIRE_I32) simple = r.float();
    else if (field === 8 && wire === WIRE_LEN) tensor = tensorScalar(r.sub());
    else if (field === 9 && wire === WIRE_LEN) plugin = pluginName(r.sub());
    else r.skip(wire);
  }
  if (!tag) return undefined;
  if (simple !== undefined) return { tag, value: simple };
  // Histograms, text, images and the like also travel as tensors; only the scalars plugin's count.
  if (tensor !== undefined && (plugin === '' || plugin === 'scalars')) return { tag, value: tensor };
  return undefined;
}

/** Decodes one Event message; returns its scalar values (none for file-version, graph, log events). */
export function decodeEvent(buf: Uint8Array, start = 0, end = buf.length): ScalarEvent[] {
  const r = new ProtoReader(buf, start, end);
  let wallTime = 0, step = 0;
  const values: { tag: string; value: number }[] = [];
  while (!r.done()) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_I64) wallTime = r.double();
    else if (field === 2 && wire === WIRE_VARINT) step = r.int64();
    else if (field === 5 && wire === WIRE_LEN) {
      const s = r.sub();
      while (!s.done()) {
        const t = s.tag();
        if (t.field === 1 && t.wire === WIRE_LEN) {
          const v = readValue(s.sub());
          if (v) values.push(v);
        } else s.skip(t.wire);
      }
    } else r.skip(wire);
  }
  return values.map((v) => ({ ...v, step, wallTime }));
}

/**
 * Reads every scalar in a TensorBoard event file's bytes. A bad CRC or an undecodable record is an
 * error naming the file, the record and its byte offset; a record cut short at the very end (the
 * trainer is still writing) is left out with a warning.
 */
export function parseEventFile(bytes: Uint8Array, name: string): EventFileScalars {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const scalars: ScalarEvent[] = [];
  const warnings: string[] = [];
  let pos = 0, n = 0;
  while (pos < bytes.length) {
    const at = pos;
    const record = n + 1;
    const cut = () => warnings.push(`${name}: record ${record} at byte ${at} is cut short (${bytes.length - at} bytes left; the writer may still be running); read ${n} records before it`);
    if (bytes.length - pos < 12) { cut(); break; }
    if (view.getUint32(pos + 8, true) !== maskedCrc32c(bytes, pos, pos + 8)) {
      throw new RunLogError(`${name}: record ${record} at byte ${at}: bad CRC of the length field; the file is corrupt (or not a TensorBoard event file)`);
    }
    const len = Number(view.getBigUint64(pos, true));
    const dataStart = pos + 12;
    if (dataStart + len + 4 > bytes.length) { cut(); break; }
    if (view.getUint32(dataStart + len, true) !== maskedCrc32c(bytes, dataStart, dataStart + len)) {
      throw new RunLogError(`${name}: record ${record} at byte ${at}: bad CRC of the data; the file is corrupt`);
    }
    try {
      scalars.push(...decodeEvent(bytes, dataStart, dataStart + len));
    } catch (err) {
      throw new RunLogError(`${name}: record ${record} at byte ${at}: not a TensorBoard Event (${(err as Error).message})`);
    }
    pos = dataStart + len + 4;
    n++;
  }
  return { scalars, records: n, warnings };
}

export function readEventFile(file: string): EventFileScalars {
  return parseEventFile(fs.readFileSync(file), file);
}
