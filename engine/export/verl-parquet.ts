// verl's prompt files as Parquet (docs/scaling.md § Export to OpenRLHF and verl): verl's RLHFDataset reads `data.train_files`
// with datasets' parquet loader (pyarrow) and expects per row `prompt` (a list of chat messages, each a
// struct {role, content}), `data_source`, `reward_model` {style, ground_truth} and `extra_info`. The schema
// is written out so the nesting is real (list<struct>, struct), as pyarrow writes such a table — a JSON
// string column would reach verl's chat template as a string. hyparquet-writer writes it; hyparquet reads
// it back in the tests.
import { parquetWriteBuffer } from 'hyparquet-writer';

export interface VerlRow {
  prompt: { role: string; content: string }[];
  data_source: string;
  reward_model: { style: string; ground_truth: string };
  extra_info: { split: string; index: number; prompt: string };
}

const text = (name: string, repetition: 'REQUIRED' | 'OPTIONAL' = 'OPTIONAL') => ({ name, type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const, repetition_type: repetition });

const SCHEMA = [
  { name: 'schema', num_children: 4 },
  { name: 'prompt', repetition_type: 'OPTIONAL' as const, converted_type: 'LIST' as const, num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED' as const, num_children: 1 },
  { name: 'element', repetition_type: 'OPTIONAL' as const, num_children: 2 },
  text('role'), text('content'),
  text('data_source'),
  { name: 'reward_model', repetition_type: 'OPTIONAL' as const, num_children: 2 },
  text('style'), text('ground_truth'),
  { name: 'extra_info', repetition_type: 'OPTIONAL' as const, num_children: 3 },
  text('split'), { name: 'index', type: 'INT64' as const, repetition_type: 'OPTIONAL' as const }, text('prompt'),
];

export function verlParquet(rows: VerlRow[]): Uint8Array {
  const buf = parquetWriteBuffer({
    schema: SCHEMA,
    columnData: [
      { name: 'prompt', data: rows.map((r) => r.prompt.map((m) => ({ role: m.role, content: m.content }))) },
      { name: 'data_source', data: rows.map((r) => r.data_source) },
      { name: 'reward_model', data: rows.map((r) => r.reward_model) },
      { name: 'extra_info', data: rows.map((r) => ({ ...r.extra_info, index: BigInt(r.extra_info.index) })) },
    ],
  });
  return new Uint8Array(buf);
}
