// `rrlhf dataset import|list|show|delete`: preference datasets in the store (engine/data, engine/store).
import { z } from 'zod';
import { type Command, type Out, UsageError, intOpt, nonNegIntOpt, parse, progress } from '../cli-kit.js';
import { openStore, type Store } from '../../store/index.js';
import { importDataset, ImportRequestSchema, parseMapping, parseSplit, OptionError, type DatasetStats, type ImportResult } from '../../data/index.js';

const USAGE = [
  'dataset import FILE [--name N] [--format auto|jsonl|json|csv|parquet] [--map prompt=COL,chosen=COL,rejected=COL]',
  '        [--schema S] [--split TRAIN,VAL,TEST] [--seed N] [--drop-duplicates]   import preference pairs',
  'dataset list                    imported datasets',
  'dataset show ID [--rows N]      one dataset: statistics, rejected lines and the first rows',
  'dataset delete ID               remove a dataset and its rows',
];

const Id = z.coerce.number().int().positive();

function idArg(v: string | undefined, what = 'dataset'): number {
  const r = Id.safeParse(v);
  if (!r.success) throw new UsageError(`expected a ${what} id (a positive integer), got "${v ?? ''}"`);
  return r.data;
}

async function withStore<T>(dataDir: string | undefined, f: (s: Store) => Promise<T> | T): Promise<T> {
  const store = openStore(dataDir ? { dataDir } : {});
  try {
    return await f(store);
  } finally {
    store.close();
  }
}

const option = <T>(f: () => T): T => {
  try {
    return f();
  } catch (err) {
    if (err instanceof OptionError) throw new UsageError(err.message);
    throw err;
  }
};

function statLines(st: DatasetStats): string[] {
  const d = (x: DatasetStats['prompt']) => `${x.quantiles.p50} [${x.quantiles.p5}–${x.quantiles.p95}]`;
  return [
    `  lengths in characters, median [5%–95%]: prompt ${d(st.prompt)}, chosen ${d(st.chosen)}, rejected ${d(st.rejected)}`,
    `  chosen longer in ${(st.chosen_longer_share * 100).toFixed(1)}% of pairs; ${st.duplicates} exact duplicates; ${st.contradictions} contradicting pairs`,
  ];
}

function humanImport(r: ImportResult): string {
  const aside = [r.set_aside.ties && `${r.set_aside.ties} ties`, r.set_aside.duplicates && `${r.set_aside.duplicates} duplicates`].filter(Boolean).join(', ');
  const lines = [
    `Imported "${r.name}" as dataset ${r.id}: ${r.accepted} pairs accepted, ${r.rejected} rejected${aside ? `, set aside ${aside}` : ''}`,
    `  format ${r.format}, schema ${r.schema} (${r.content}); split train ${r.split.counts.train} / validation ${r.split.counts.validation} / test ${r.split.counts.test}`,
    ...statLines(r.stats),
    `  content hash ${r.hash}`,
  ];
  if (r.errors.length) lines.push('Rejected:', ...r.errors.map((e) => `  ${r.positions} ${e.line}: ${e.reason}`));
  if (r.errors_truncated) lines.push(`  ... and ${r.errors_truncated} more (rrlhf dataset show ${r.id})`);
  return lines.join('\n');
}

async function runImport(args: string[], out: Out) {
  const { values, positionals } = parse(args, {
    name: { type: 'string' }, format: { type: 'string' }, map: { type: 'string' }, schema: { type: 'string' },
    split: { type: 'string' }, seed: { type: 'string' }, 'drop-duplicates': { type: 'boolean' },
  }, true);
  if (positionals.length !== 1) throw new UsageError('dataset import takes one FILE');
  const fractions = values.split !== undefined ? option(() => parseSplit(values.split!)) : { validation: 0.05, test: 0.05 };
  const seed = nonNegIntOpt(values.seed, 'seed', 0);
  const req = ImportRequestSchema.safeParse({
    file: positionals[0], name: values.name, format: values.format ?? 'auto', schema: values.schema,
    mapping: values.map !== undefined ? option(() => parseMapping(values.map!)) : undefined,
    split: { seed, ...fractions }, dropDuplicates: values['drop-duplicates'] ?? false,
  });
  if (!req.success) throw new UsageError(z.prettifyError(req.error).replace(/\n\s*/g, ' '));
  const r = req.data;
  const result = await withStore(values['data-dir'], (store) => importDataset(store, r.file, {
    ...(r.name !== undefined && { name: r.name }), format: r.format, ...(r.schema && { schema: r.schema }),
    ...(r.mapping && { mapping: r.mapping }), ...(r.split && { split: r.split }), dropDuplicates: r.dropDuplicates,
    onProgress: progress(`importing ${positionals[0]} (bytes)`),
  }));
  out(result, () => humanImport(result));
}

export const dataset: Command = {
  usage: USAGE,
  async run(args, out) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'import':
        return runImport(rest, out);
      case 'list': {
        const { values } = parse(rest, {});
        const list = await withStore(values['data-dir'], (s) => s.datasets.list());
        return out(list, () => (list.length
          ? list.map((d) => `${String(d.id).padStart(4)}  ${d.name.padEnd(24)} ${String(d.rows).padStart(8)} rows  ${d.created}  ${d.hash.slice(0, 12)}`).join('\n')
          : 'No datasets yet; import one with `rrlhf dataset import FILE`.'));
      }
      case 'show': {
        const { values, positionals } = parse(rest, { rows: { type: 'string' } }, true);
        const id = idArg(positionals[0]);
        const n = intOpt(values.rows, 'rows', 5);
        const shown = await withStore(values['data-dir'], (s) => {
          const d = s.datasets.get(id);
          if (!d) throw new Error(`dataset ${id} does not exist; \`rrlhf dataset list\` shows the ids`);
          return { ...d, errors: s.datasets.errors(id, { limit: 100 }), preview: s.datasets.rows(id, { limit: n }) };
        });
        return out(shown, () => [
          `Dataset ${shown.id} "${shown.name}": ${shown.rows} pairs, ${shown.rejected} rejected; ${shown.format}, schema ${shown.schema} (${shown.content})`,
          `  from ${shown.sourcePath} (sha256 ${shown.sourceSha256.slice(0, 12)}), imported ${shown.created}`,
          `  content hash ${shown.hash}`,
          ...statLines(shown.stats as unknown as DatasetStats),
          ...shown.errors.slice(0, 10).map((e) => `  rejected ${shown.positions} ${e.line}: ${e.reason}`),
          'First rows:',
          ...shown.preview.map((r) => `  [${r.idx} ${r.split}] prompt=${JSON.stringify(r.prompt).slice(0, 60)} chosen=${JSON.stringify(r.chosen).slice(0, 60)} rejected=${JSON.stringify(r.rejected).slice(0, 60)}`),
        ].join('\n'));
      }
      case 'delete': {
        const { values, positionals } = parse(rest, {}, true);
        const id = idArg(positionals[0]);
        const deleted = await withStore(values['data-dir'], (s) => s.datasets.delete(id));
        if (!deleted) throw new Error(`dataset ${id} does not exist; \`rrlhf dataset list\` shows the ids`);
        return out({ id, deleted }, () => `Deleted dataset ${id}.`);
      }
      default:
        throw new UsageError(`unknown dataset subcommand "${sub ?? ''}"; use import, list, show or delete`);
    }
  },
};
