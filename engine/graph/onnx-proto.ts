// A minimal protobuf writer for the part of onnx.proto the emitter uses (ModelProto, GraphProto,
// NodeProto, AttributeProto, TensorProto, ValueInfoProto). Field numbers are from onnx/onnx.proto.
// Writing protobuf is a few dozen lines; a generic protobuf runtime plus generated code would be more.

export const OnnxDType = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11, bfloat16: 16 } as const;

class Writer {
  private chunks: Uint8Array[] = [];
  private buf = new Uint8Array(256);
  private pos = 0;

  private ensure(n: number) {
    if (this.pos + n <= this.buf.length) return;
    this.chunks.push(this.buf.subarray(0, this.pos));
    this.buf = new Uint8Array(Math.max(256, n));
    this.pos = 0;
  }
  private byte(b: number) { this.ensure(1); this.buf[this.pos++] = b; }

  varint(v: number | bigint) {
    let x = BigInt.asUintN(64, BigInt(v));
    if (typeof v === 'number' && v >= 0 && v < 2 ** 31) {
      let n = v;
      while (n > 0x7f) { this.byte((n & 0x7f) | 0x80); n >>>= 7; }
      this.byte(n);
      return;
    }
    while (x > 0x7fn) { this.byte(Number(x & 0x7fn) | 0x80); x >>= 7n; }
    this.byte(Number(x));
  }
  tag(field: number, wire: number) { this.varint((field << 3) | wire); }
  bytes(field: number, data: Uint8Array) {
    this.tag(field, 2);
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }
  string(field: number, s: string) { this.bytes(field, new TextEncoder().encode(s)); }
  int(field: number, v: number | bigint) { this.tag(field, 0); this.varint(v); }
  float(field: number, v: number) {
    this.tag(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).setFloat32(0, v, true);
    this.pos += 4;
  }
  message(field: number, write: (w: Writer) => void) {
    const w = new Writer();
    write(w);
    this.bytes(field, w.finish());
  }
  finish(): Uint8Array {
    const parts = [...this.chunks, this.buf.subarray(0, this.pos)];
    const total = parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }
}

export type AttrValue =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: number[] }
  | { type: 'floats'; value: number[] }
  | { type: 'tensor'; value: TensorProto };

export interface TensorProto { name: string; dataType: number; dims: number[]; raw: Uint8Array }
export interface NodeProto { opType: string; inputs: string[]; outputs: string[]; name?: string; domain?: string; attrs: Record<string, AttrValue> }
export interface ValueInfo { name: string; elemType: number; dims: (number | string)[] }
export interface GraphProto { name: string; nodes: NodeProto[]; initializers: TensorProto[]; inputs: ValueInfo[]; outputs: ValueInfo[] }
export interface ModelProto { irVersion: number; opsets: { domain: string; version: number }[]; producer: string; graph: GraphProto }

const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

function writeTensor(w: Writer, t: TensorProto) {
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.dataType);
  w.string(8, t.name);
  w.bytes(9, t.raw);
}

function writeAttr(w: Writer, name: string, a: AttrValue) {
  w.string(1, name);
  switch (a.type) {
    case 'float': w.float(2, a.value); break;
    case 'int': w.int(3, a.value); break;
    case 'string': w.string(4, a.value); break;
    case 'tensor': w.message(5, (x) => writeTensor(x, a.value)); break;
    case 'floats': for (const v of a.value) w.float(7, v); break;
    case 'ints': for (const v of a.value) w.int(8, v); break;
  }
  w.int(20, ATTR_TYPE[a.type]);
}

function writeValueInfo(w: Writer, v: ValueInfo) {
  w.string(1, v.name);
  w.message(2, (type) => type.message(1, (tt) => {
    tt.int(1, v.elemType);
    tt.message(2, (shape) => {
      for (const d of v.dims) {
        shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      }
    });
  }));
}

export function encodeModel(m: ModelProto): Uint8Array {
  const w = new Writer();
  w.int(1, m.irVersion);
  w.string(2, m.producer);
  w.message(7, (g) => {
    for (const n of m.graph.nodes) {
      g.message(1, (x) => {
        for (const i of n.inputs) x.string(1, i);
        for (const o of n.outputs) x.string(2, o);
        if (n.name) x.string(3, n.name);
        x.string(4, n.opType);
        for (const [k, v] of Object.entries(n.attrs)) x.message(5, (a) => writeAttr(a, k, v));
        if (n.domain) x.string(7, n.domain);
      });
    }
    g.string(2, m.graph.name);
    for (const t of m.graph.initializers) g.message(5, (x) => writeTensor(x, t));
    for (const v of m.graph.inputs) g.message(11, (x) => writeValueInfo(x, v));
    for (const v of m.graph.outputs) g.message(12, (x) => writeValueInfo(x, v));
  });
  for (const o of m.opsets) w.message(8, (x) => { if (o.domain) x.string(1, o.domain); x.int(2, o.version); });
  return w.finish();
}
