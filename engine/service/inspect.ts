// A look at a data file before importing it: the format, the fields, the layout (schema) the importer
// would recognise and how its fields map onto prompt / chosen / rejected, the first pairs as they would
// be stored, and any of the first records that would be rejected — so the Datasets screen can show the
// detected mapping and let the user correct it before anything is written. Nothing is stored here; the
// import itself (engine/data/import.ts) applies the same readers and schemas to the whole file.
import { checkInputFile } from '../store/paths.js';
import { detectFormat, DataFileError, type Format } from '../data/formats.js';
import { customSchema, detectSchema, schemaById, SCHEMAS, RowRejected, type Mapping, type Content } from '../data/schemas.js';
import { openSource } from '../data/import.js';

export interface Inspection {
  file: string;
  bytes: number;
  format: Format;
  formatBy: 'option' | 'extension' | 'content';
  positions: 'line' | 'row';
  /** Field names seen in the first records, with how many of them had each. */
  fields: { name: string; count: number }[];
  /** The layout that would be used (null: none recognised; the user must map the fields). */
  schema: { id: string; description: string; content: 'text' | 'messages'; mapping: Record<string, string> } | null;
  /** Why no schema was recognised, or why the requested mapping does not fit. */
  problem: string | null;
  /** The first pairs as they would be stored. */
  preview: { pos: number; prompt: string; chosen: string; rejected: string }[];
  /** Problems among the first records (the import would reject these). */
  rejected: { pos: number; reason: string }[];
  /** Records looked at. */
  sampled: number;
  /** Layouts the user can choose from instead. */
  schemas: { id: string; description: string }[];
}

const SAMPLE = 50;
const isEmpty = (c: Content) => (typeof c === 'string' ? c.trim() === '' : c.length === 0 || c.every((m) => m.content.trim() === ''));
const show = (c: Content) => (typeof c === 'string' ? c : c.map((m) => `${m.role}: ${m.content}`).join('\n'));

export async function inspectFile(file: string, opts: { format?: Format | 'auto'; schema?: string; mapping?: Mapping } = {}): Promise<Inspection> {
  const abs = checkInputFile(file);
  const guess = await detectFormat(abs, opts.format ?? 'auto');
  const source = await openSource(abs, guess.format, guess.delimiter);
  const it = source.records[Symbol.asyncIterator]();
  const head: { pos: number; value?: Record<string, unknown>; error?: string }[] = [];
  try {
    for (let parsed = 0; parsed < SAMPLE;) {
      const n = await it.next();
      if (n.done) break;
      head.push(n.value);
      if (n.value.value) parsed++;
    }
  } finally {
    await it.return?.(undefined);
  }
  if (!head.length) throw new DataFileError(`${abs} holds no records (only blank lines, or a header without rows)`);
  const samples = head.flatMap((r) => (r.value ? [r.value] : []));
  const counts = new Map<string, number>();
  for (const s of samples) for (const k of Object.keys(s)) counts.set(k, (counts.get(k) ?? 0) + 1);
  const fields = [...counts].map(([name, count]) => ({ name, count }));

  let schema = null as ReturnType<typeof detectSchema> | null;
  let problem: string | null = null;
  if (opts.mapping) {
    const missing = Object.entries(opts.mapping).filter(([, col]) => col !== undefined && !counts.has(col));
    if (missing.length) problem = `the mapping names ${missing.map(([r, c]) => `${r} → "${c}"`).join(', ')}, but the file has no such field; its fields are ${fields.map((f) => f.name).join(', ')}`;
    else schema = customSchema(opts.mapping, samples);
  } else if (opts.schema) {
    schema = schemaById(opts.schema) ?? null;
    if (!schema) problem = `unknown layout "${opts.schema}"`;
  } else {
    schema = detectSchema(samples) ?? null;
    if (!schema) {
      problem = samples.length
        ? `no preference-data layout recognised: the fields are ${fields.map((f) => f.name).join(', ') || 'none'}; map the fields that hold the chosen and rejected answers (and the prompt, if there is one)`
        : `nothing in the first records could be read: ${source.positions} ${head[0]!.pos}: ${head[0]!.error}`;
    }
  }

  const preview: Inspection['preview'] = [];
  const rejected: Inspection['rejected'] = [];
  for (const r of head) {
    if (r.error !== undefined) { rejected.push({ pos: r.pos, reason: r.error }); continue; }
    if (!schema) continue;
    try {
      const out = schema.extract(r.value!);
      if (out.kind === 'set_aside') { rejected.push({ pos: r.pos, reason: 'a tie: set aside, not imported' }); continue; }
      // The same per-pair checks as the importer (engine/data/import.ts).
      const p = { prompt: show(out.pair.prompt), chosen: show(out.pair.chosen), rejected: show(out.pair.rejected) };
      if (isEmpty(out.pair.chosen)) throw new RowRejected('chosen is empty');
      if (isEmpty(out.pair.rejected)) throw new RowRejected('rejected is empty');
      if (JSON.stringify(out.pair.chosen) === JSON.stringify(out.pair.rejected)) throw new RowRejected('chosen is identical to rejected');
      if (preview.length < 8) preview.push({ pos: r.pos, ...p });
    } catch (err) {
      if (err instanceof RowRejected) rejected.push({ pos: r.pos, reason: err.message });
      else throw err;
    }
  }
  return {
    file: abs, bytes: source.totalBytes, format: guess.format, formatBy: guess.by, positions: source.positions, fields,
    schema: schema ? { id: schema.id, description: schema.description, content: schema.content, mapping: schema.mapping } : null,
    problem, preview, rejected, sampled: head.length,
    schemas: Object.values(SCHEMAS).map((s) => ({ id: s.id, description: s.description })),
  };
}
