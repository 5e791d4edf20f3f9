// Dtypes and shapes of graph values.
//
// A dimension is either a static size (a number) or a symbolic one (a string) that is only known when
// the graph runs: the batch, the sequence length. Symbolic dims are products of symbols written in a
// canonical form ("B*T"), so reshaping [B, T, D] to [B*T, D] and back keeps full static knowledge of
// the shape. Broadcasting follows ONNX/NumPy.

export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'bool';
/** The 16-bit float dtypes a mixed-precision graph computes in (docs/engine.md § Mixed precision). */
export type HalfDType = 'float16' | 'bfloat16';
export type Dim = number | string;
export type Shape = readonly Dim[];

export const isFloat = (d: DType): boolean => d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
export const isHalf = (d: DType): d is HalfDType => d === 'float16' || d === 'bfloat16';
/** The wider of two float dtypes (a half and float32 → float32; float16 and bfloat16 → float32). */
export const widerFloat = (a: DType, b: DType): DType => (a === b ? a : a === 'float64' || b === 'float64' ? 'float64' : 'float32');

// IEEE binary16 and bfloat16 bit patterns of numbers, rounding to nearest even (constants of half graphs).
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
export function toBfloat16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) return 0x7fc0; // NaN
  return ((x + 0x7fff + ((x >> 16) & 1)) >>> 16) & 0xffff;
}
export function toFloat16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000, exp = (x >>> 23) & 0xff, man = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → ±inf
  if (e <= 0) { // subnormal or zero
    if (e < -10) return sign;
    const m = man | 0x800000, shift = 14 - e;
    const half = 1 << (shift - 1), rest = m & ((1 << shift) - 1);
    let r = m >>> shift;
    if (rest > half || (rest === half && (r & 1))) r++;
    return sign | r;
  }
  let r = (e << 10) | (man >>> 13);
  const rest = man & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (r & 1))) r++; // may carry into the exponent, which is right
  return sign | r;
}
/** The number a binary16 / bfloat16 bit pattern stands for. */
export function fromHalfBits(bits: number, dtype: HalfDType): number {
  if (dtype === 'bfloat16') { u32[0] = bits << 16; return f32[0]!; }
  const sign = bits & 0x8000 ? -1 : 1, exp = (bits >>> 10) & 0x1f, man = bits & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 0x1f) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/** A dimension as coefficient × product of symbols; "2*B*T" style strings are not produced, only
 *  pure products of symbols or plain numbers. */
interface DimTerm { coef: number; syms: string[] }

function term(d: Dim): DimTerm {
  if (typeof d === 'number') return { coef: d, syms: [] };
  return { coef: 1, syms: d.split('*').map((s) => s.trim()).filter(Boolean) };
}

function fromTerm(t: DimTerm): Dim {
  if (t.syms.length === 0) return t.coef;
  if (t.coef === 0) return 0;
  const s = [...t.syms].sort().join('*');
  return t.coef === 1 ? s : `${t.coef}*${s}`;
}

/** Parses the optional leading coefficient of a symbolic dim written as "2*B". */
function termOf(d: Dim): DimTerm {
  const t = term(d);
  if (t.syms.length && /^\d+$/.test(t.syms[0]!)) {
    const c = Number(t.syms[0]);
    return { coef: c, syms: t.syms.slice(1) };
  }
  return t;
}

export function dimMul(a: Dim, b: Dim): Dim {
  const ta = termOf(a), tb = termOf(b);
  return fromTerm({ coef: ta.coef * tb.coef, syms: [...ta.syms, ...tb.syms] });
}

/** a / b when it divides exactly (symbols cancel); undefined otherwise. */
export function dimDiv(a: Dim, b: Dim): Dim | undefined {
  const ta = termOf(a), tb = termOf(b);
  const syms = [...ta.syms];
  for (const s of tb.syms) {
    const i = syms.indexOf(s);
    if (i < 0) return undefined;
    syms.splice(i, 1);
  }
  if (tb.coef === 0 || ta.coef % tb.coef !== 0) return undefined;
  return fromTerm({ coef: ta.coef / tb.coef, syms });
}

export const dimEq = (a: Dim, b: Dim): boolean => fromTerm(termOf(a)) === fromTerm(termOf(b));
export const numel = (s: Shape): Dim => s.reduce<Dim>((p, d) => dimMul(p, d), 1);
export const isStatic = (s: Shape): s is number[] => s.every((d) => typeof d === 'number');
export const fmtShape = (s: Shape): string => `[${s.join(', ')}]`;
/** Symbols a dim is made of (for lowering symbolic dims to runtime values). */
export const dimSymbols = (d: Dim): { coef: number; syms: string[] } => termOf(d);
export const canonDim = (d: Dim): Dim => fromTerm(termOf(d));

/** Raised while building a graph: names the op and the shapes that do not fit. */
export class GraphBuildError extends Error {
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'GraphBuildError';
  }
}

/** NumPy broadcasting of several shapes; a symbolic dim meeting a static non-1 dim is assumed equal to it. */
export function broadcastShapes(op: string, ...shapes: Shape[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      if (k < 0) continue;
      const e = s[k]!;
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (dimEq(d, e)) continue;
      else if (typeof d === 'string' && typeof e === 'number') d = e;
      else if (typeof d === 'number' && typeof e === 'string') continue;
      else throw new GraphBuildError(op, `cannot broadcast shapes ${shapes.map(fmtShape).join(' and ')} (axis ${i - rank}: ${d} vs ${e})`);
    }
    out.push(d);
  }
  return out;
}

export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new GraphBuildError(op, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export type TypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;

export function typedArrayFor(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'int64': return new BigInt64Array(n);
    case 'int32': return new Int32Array(n);
    case 'bool': return new Uint8Array(n);
    case 'float16': case 'bfloat16': return new Uint16Array(n);
  }
}
