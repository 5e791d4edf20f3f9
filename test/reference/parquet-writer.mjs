// A minimal Parquet writer for test fixtures (flat schema of OPTIONAL UTF-8 BYTE_ARRAY columns, PLAIN
// encoding, uncompressed v1 data pages, Thrift compact footer): the project's Parquet library, hyparquet,
// only reads. Used by make_data_fixtures.mjs and make_eval_fixtures.mjs.
import { Buffer } from 'node:buffer';

class Thrift {
  constructor() { this.out = []; this.last = 0; this.stack = []; }
  byte(b) { this.out.push(b & 0xff); }
  varint(n) {
    let v = BigInt(n);
    while (v >= 0x80n) { this.byte(Number(v & 0x7fn) | 0x80); v >>= 7n; }
    this.byte(Number(v));
  }
  zigzag(n) { const v = BigInt(n); return v >= 0n ? v << 1n : ((-v) << 1n) - 1n; }
  field(id, type) {
    const delta = id - this.last;
    if (delta > 0 && delta <= 15) this.byte((delta << 4) | type);
    else { this.byte(type); this.varint(this.zigzag(id)); }
    this.last = id;
  }
  i32(id, v) { this.field(id, 5); this.varint(this.zigzag(v)); }
  i64(id, v) { this.field(id, 6); this.varint(this.zigzag(v)); }
  binary(id, bytes) { this.field(id, 8); this.varint(bytes.length); for (const b of bytes) this.byte(b); }
  string(id, s) { this.binary(id, Buffer.from(s, 'utf8')); }
  list(id, elemType, items, writeItem) {
    this.field(id, 9);
    if (items.length < 15) this.byte((items.length << 4) | elemType);
    else { this.byte(0xf0 | elemType); this.varint(items.length); }
    for (const it of items) writeItem(it);
  }
  begin() { this.stack.push(this.last); this.last = 0; }
  end() { this.byte(0); this.last = this.stack.pop(); }
  struct(id, body) { this.field(id, 12); this.begin(); body(); this.end(); }
  bytes() { return Buffer.from(this.out); }
}

/** RLE/bit-packed hybrid runs (RLE only) of 0/1 definition levels, with the 4-byte length prefix. */
function definitionLevels(levels) {
  const t = new Thrift();
  for (let i = 0; i < levels.length;) {
    let j = i;
    while (j < levels.length && levels[j] === levels[i]) j++;
    t.varint((j - i) << 1);
    t.byte(levels[i]);
    i = j;
  }
  const body = t.bytes();
  const len = Buffer.alloc(4);
  len.writeUInt32LE(body.length);
  return Buffer.concat([len, body]);
}

/**
 * A Parquet file of OPTIONAL UTF-8 columns. `rows` are objects whose values are strings, Buffers (raw
 * bytes, e.g. invalid UTF-8) or null; `groupSize` rows per row group.
 */
export function parquet(columns, rows, groupSize = rows.length) {
  const parts = [Buffer.from('PAR1')];
  let offset = 4;
  const groups = [];
  for (let g = 0; g < rows.length; g += groupSize) {
    const slice = rows.slice(g, g + groupSize);
    const chunks = [];
    for (const col of columns) {
      const values = slice.map((r) => r[col] ?? null);
      const levels = values.map((v) => (v === null ? 0 : 1));
      const plain = Buffer.concat(values.filter((v) => v !== null).flatMap((v) => {
        const b = Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');
        const len = Buffer.alloc(4);
        len.writeUInt32LE(b.length);
        return [len, b];
      }));
      const body = Buffer.concat([definitionLevels(levels), plain]);
      const h = new Thrift();
      h.i32(1, 0); // DATA_PAGE
      h.i32(2, body.length);
      h.i32(3, body.length);
      h.struct(5, () => { h.i32(1, values.length); h.i32(2, 0); h.i32(3, 3); h.i32(4, 3); }); // PLAIN values, RLE levels
      h.byte(0); // end of PageHeader
      const header = h.bytes();
      chunks.push({ col, offset, size: header.length + body.length, n: values.length });
      parts.push(header, body);
      offset += header.length + body.length;
    }
    groups.push({ chunks, rows: slice.length });
  }
  const m = new Thrift();
  m.i32(1, 1);
  m.list(2, 12, [null, ...columns], (col) => {
    m.begin();
    if (col === null) { m.string(4, 'schema'); m.i32(5, columns.length); }
    else { m.i32(1, 6); m.i32(3, 1); m.string(4, col); m.i32(6, 0); } // BYTE_ARRAY, OPTIONAL, name, UTF8
    m.end();
  });
  m.i64(3, rows.length);
  m.list(4, 12, groups, (g) => {
    m.begin();
    m.list(1, 12, g.chunks, (c) => {
      m.begin();
      m.i64(2, c.offset);
      m.struct(3, () => {
        m.i32(1, 6);
        m.list(2, 5, [0, 3], (e) => m.varint(m.zigzag(e)));
        m.list(3, 8, [c.col], (s) => { const b = Buffer.from(s); m.varint(b.length); for (const x of b) m.byte(x); });
        m.i32(4, 0); // UNCOMPRESSED
        m.i64(5, c.n);
        m.i64(6, c.size);
        m.i64(7, c.size);
        m.i64(9, c.offset);
      });
      m.end();
    });
    m.i64(2, g.chunks.reduce((a, c) => a + c.size, 0));
    m.i64(3, g.rows);
    m.end();
  });
  m.string(6, 'rrlhf make_data_fixtures.mjs');
  m.byte(0); // end of FileMetaData
  const footer = m.bytes();
  const len = Buffer.alloc(4);
  len.writeUInt32LE(footer.length);
  parts.push(footer, len, Buffer.from('PAR1'));
  return Buffer.concat(parts);
}

/**
 * A Parquet file with nested columns, as the Hub's datasets store them: `fields` are
 * {name, kind: 'string' | 'int64'} leaves, {name, kind: 'list', of: 'string' | 'int64'} (the standard
 * three-level LIST: optional group (LIST) / repeated group list / optional element) and
 * {name, kind: 'struct', fields: [...]} (an optional group). Every level is optional, so null is allowed
 * anywhere. Rows are shredded into repetition and definition levels (Dremel), one row group, one PLAIN
 * data page per leaf column.
 */
export function nestedParquet(fields, rows) {
  // Leaves in schema order, each with its path, physical type and maximum levels.
  const leaves = [];
  const walk = (fs, pathSoFar, rep, def) => {
    for (const f of fs) {
      if (f.kind === 'struct') walk(f.fields, [...pathSoFar, f.name], rep, def + 1);
      else if (f.kind === 'list') leaves.push({ path: [...pathSoFar, f.name, 'list', 'element'], type: f.of, maxRep: rep + 1, maxDef: def + 3, cells: [] });
      else leaves.push({ path: [...pathSoFar, f.name], type: f.kind, maxRep: rep, maxDef: def + 1, cells: [] });
    }
  };
  walk(fields, [], 0, 0);
  let li = 0;
  const nullsBelow = (f, r, d) => { // every leaf under f gets one null entry at (r, d)
    const n = f.kind === 'struct' ? countLeaves(f.fields) : 1;
    for (let k = 0; k < n; k++) leaves[li++].cells.push({ r, d, v: null });
  };
  const countLeaves = (fs) => fs.reduce((n, f) => n + (f.kind === 'struct' ? countLeaves(f.fields) : 1), 0);
  const shred = (fs, obj, r, d, repDepth) => {
    for (const f of fs) {
      const v = obj == null ? null : obj[f.name];
      if (v == null) { nullsBelow(f, r, d); continue; }
      if (f.kind === 'struct') { shred(f.fields, v, r, d + 1, repDepth); continue; }
      const leaf = leaves[li++];
      if (f.kind !== 'list') { leaf.cells.push({ r, d: d + 1, v }); continue; }
      if (v.length === 0) { leaf.cells.push({ r, d: d + 1, v: null }); continue; }
      v.forEach((x, i) => leaf.cells.push({ r: i === 0 ? r : repDepth + 1, d: x == null ? d + 2 : d + 3, v: x }));
    }
  };
  for (const row of rows) { li = 0; shred(fields, row, 0, 0, 0); }

  const parts = [Buffer.from('PAR1')];
  let offset = 4;
  const chunks = [];
  for (const leaf of leaves) {
    const present = leaf.cells.filter((c) => c.d === leaf.maxDef).map((c) => c.v);
    const plain = Buffer.concat(present.map((v) => {
      if (leaf.type === 'int64') { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(v)); return b; }
      const b = Buffer.from(v, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      return Buffer.concat([len, b]);
    }));
    const body = Buffer.concat([
      ...(leaf.maxRep > 0 ? [definitionLevels(leaf.cells.map((c) => c.r))] : []),
      definitionLevels(leaf.cells.map((c) => c.d)),
      plain,
    ]);
    const h = new Thrift();
    h.i32(1, 0); // DATA_PAGE
    h.i32(2, body.length);
    h.i32(3, body.length);
    h.struct(5, () => { h.i32(1, leaf.cells.length); h.i32(2, 0); h.i32(3, 3); h.i32(4, 3); });
    h.byte(0);
    const header = h.bytes();
    chunks.push({ leaf, offset, size: header.length + body.length, n: leaf.cells.length });
    parts.push(header, body);
    offset += header.length + body.length;
  }
  const PHYSICAL = { string: 6, int64: 2 };
  const elements = [{ root: true, n: fields.length }];
  const flatten = (fs) => {
    for (const f of fs) {
      if (f.kind === 'struct') { elements.push({ name: f.name, rep: 1, n: f.fields.length }); flatten(f.fields); }
      else if (f.kind === 'list') {
        elements.push({ name: f.name, rep: 1, n: 1, converted: 3 }, { name: 'list', rep: 2, n: 1 },
          { name: 'element', rep: 1, type: PHYSICAL[f.of], ...(f.of === 'string' ? { converted: 0 } : {}) });
      } else elements.push({ name: f.name, rep: 1, type: PHYSICAL[f.kind], ...(f.kind === 'string' ? { converted: 0 } : {}) });
    }
  };
  flatten(fields);
  const m = new Thrift();
  m.i32(1, 1);
  m.list(2, 12, elements, (e) => {
    m.begin();
    if (e.root) { m.string(4, 'schema'); m.i32(5, e.n); }
    else {
      if (e.type !== undefined) m.i32(1, e.type);
      m.i32(3, e.rep);
      m.string(4, e.name);
      if (e.n !== undefined) m.i32(5, e.n);
      if (e.converted !== undefined) m.i32(6, e.converted);
    }
    m.end();
  });
  m.i64(3, rows.length);
  m.list(4, 12, [0], () => {
    m.begin();
    m.list(1, 12, chunks, (c) => {
      m.begin();
      m.i64(2, c.offset);
      m.struct(3, () => {
        m.i32(1, PHYSICAL[c.leaf.type]);
        m.list(2, 5, [0, 3], (e) => m.varint(m.zigzag(e)));
        m.list(3, 8, c.leaf.path, (s) => { const b = Buffer.from(s); m.varint(b.length); for (const x of b) m.byte(x); });
        m.i32(4, 0);
        m.i64(5, c.n);
        m.i64(6, c.size);
        m.i64(7, c.size);
        m.i64(9, c.offset);
      });
      m.end();
    });
    m.i64(2, chunks.reduce((a, c) => a + c.size, 0));
    m.i64(3, rows.length);
    m.end();
  });
  m.string(6, 'rrlhf parquet-writer.mjs');
  m.byte(0);
  const footer = m.bytes();
  const len = Buffer.alloc(4);
  len.writeUInt32LE(footer.length);
  parts.push(footer, len, Buffer.from('PAR1'));
  return Buffer.concat(parts);
}
