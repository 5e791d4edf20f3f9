// Every supported schema and format, imported from test/fixtures/data/ (written by
// test/reference/make_data_fixtures.mjs, whose comments say what each line holds): detection, exact
// accepted/rejected/set-aside counts, positions of rejected records, and the stored pairs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../engine/store/index.js';
import { importDataset, detectSchema, SCHEMAS, type ImportOptions } from '../../engine/data/index.js';
import { splitHh, splitSharedMessages, splitSharedText } from '../../engine/data/schemas.js';
import { fixture } from '../util/paths.js';

let store: Store;
let dir: string;
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rrlhf-schemas-')); store = openStore({ dataDir: dir }); });
after(() => { store.close(); fs.rmSync(dir, { recursive: true, force: true }); });

const load = (name: string, opts: ImportOptions = {}) => importDataset(store, fixture('data', name), opts);
const triples = (id: number) => store.datasets.rows(id, { limit: 1000 }).map((r) => [r.prompt, r.chosen, r.rejected]);
const msgs = (...m: [string, string][]) => JSON.stringify(m.map(([role, content]) => ({ role, content })));

interface Case {
  file: string;
  format: string;
  schema: string;
  accepted: number;
  rejected: number;
  ties?: number;
  errors?: [number, RegExp][];
  first?: [string, string, string];
  sources?: number[];
  opts?: ImportOptions;
}

const CASES: Case[] = [
  { file: 'trl_explicit.jsonl', format: 'jsonl', schema: 'trl_explicit', accepted: 4, rejected: 0, sources: [1, 2, 3, 4],
    first: ['What colour is the sky?', 'Blue, on a clear day.', 'Green.'] },
  { file: 'trl_explicit_conversational.jsonl', format: 'jsonl', schema: 'trl_explicit_conversational', accepted: 3, rejected: 0,
    first: [msgs(['user', 'Hi!']), msgs(['assistant', 'Hello, how can I help?']), msgs(['assistant', 'What.'])] },
  { file: 'trl_implicit.jsonl', format: 'jsonl', schema: 'trl_implicit', accepted: 3, rejected: 0,
    first: ['The capital of France is', ' Paris.', ' Lyon.'] },
  { file: 'trl_implicit_conversational.json', format: 'json', schema: 'trl_implicit_conversational', accepted: 3, rejected: 0, sources: [0, 1, 2],
    first: [msgs(['user', 'Hi']), msgs(['assistant', 'Hello!']), msgs(['assistant', 'Bye.'])] },
  { file: 'hh_rlhf.jsonl', format: 'jsonl', schema: 'hh_rlhf', accepted: 3, rejected: 1, errors: [[4, /do not share a "\\n\\nAssistant:" turn/]],
    first: ['\n\nHuman: What is 2+2?\n\nAssistant:', ' 4.', ' 5.'] },
  { file: 'autotrain.csv', format: 'csv', schema: 'autotrain', accepted: 3, rejected: 0, sources: [2, 3, 5],
    first: ['Greet me', 'Hello, friend!', 'Go away'] },
  { file: 'alpaca_ranking.json', format: 'json', schema: 'alpaca_ranking', accepted: 3, rejected: 1, errors: [[2, /multi-turn "history"/]],
    first: ['Summarise\nThe cat sat on the mat.', 'A cat sat.', 'Dogs run.'] },
  { file: 'sharegpt_ranking.json', format: 'json', schema: 'sharegpt_ranking', accepted: 2, rejected: 1, errors: [[2, /ends with an assistant turn/]],
    first: [msgs(['user', 'Hi']), msgs(['assistant', 'Hello!']), msgs(['assistant', 'Go away.'])] },
  { file: 'h2o.csv', format: 'csv', schema: 'h2o', accepted: 2, rejected: 1, errors: [[4, /rejected is empty/]],
    first: ['Hi', 'Hello there', 'Meh'] },
  { file: 'arena.parquet', format: 'parquet', schema: 'arena', accepted: 4, rejected: 0, ties: 2, sources: [0, 1, 3, 4],
    first: ['Best fruit?', 'Mango.', 'Rocks.'] },
  { file: 'arena_flags.jsonl', format: 'jsonl', schema: 'arena', accepted: 2, rejected: 1, ties: 1, errors: [[4, /must mark exactly one outcome, found 2/]],
    first: ['P1', 'good', 'bad'] },
  { file: 'columns.json', format: 'json', schema: 'trl_explicit', accepted: 2, rejected: 1, errors: [[2, /column "rejected" has no value for this row/]],
    first: ['p0', 'c0', 'r0'] },
  { file: 'wrapped.json', format: 'json', schema: 'trl_explicit', accepted: 2, rejected: 0, first: ['a', 'b', 'c'] },
  { file: 'custom.tsv', format: 'csv', schema: 'custom', accepted: 2, rejected: 0, opts: { mapping: { prompt: 'question', chosen: 'good', rejected: 'bad' } },
    first: ['Why?', 'Because.', 'No.'] },
];

for (const c of CASES) {
  test(`${c.file}: ${c.schema} (${c.format}), ${c.accepted} accepted, ${c.rejected} rejected${c.ties ? `, ${c.ties} ties` : ''}`, async () => {
    const r = await load(c.file, c.opts);
    assert.equal(r.format, c.format);
    assert.equal(r.schema, c.schema);
    assert.equal(r.accepted, c.accepted);
    assert.equal(r.rejected, c.rejected);
    assert.equal(r.set_aside.ties, c.ties ?? 0);
    assert.deepEqual(r.errors.map((e) => e.line), (c.errors ?? []).map(([l]) => l));
    (c.errors ?? []).forEach(([, re], i) => assert.match(r.errors[i]!.reason, re));
    assert.equal(r.positions, c.format === 'jsonl' || c.format === 'csv' ? 'line' : 'row');
    const ds = store.datasets.get(r.id)!;
    assert.equal(ds.rows, c.accepted);
    assert.equal(ds.schema, c.schema);
    assert.deepEqual(triples(r.id)[0], c.first);
    if (c.sources) assert.deepEqual(store.datasets.rows(r.id).map((x) => x.source), c.sources);
  });
}

test('other fields are kept as row meta (model names, ids, system prompts)', async () => {
  const arena = await load('arena.parquet');
  assert.deepEqual(store.datasets.rows(arena.id)[0]!.meta, { model_a: 'm1', model_b: 'm2' });
  const alpaca = await load('alpaca_ranking.json');
  assert.deepEqual(store.datasets.rows(alpaca.id)[2]!.meta, { system: 'You are a calculator.' });
  const trl = await load('trl_explicit.jsonl');
  assert.deepEqual(store.datasets.rows(trl.id).map((x) => x.meta), [{ source: 'quiz' }, { source: 'quiz' }, null, null]);
});

test('the CSV reader keeps quoted commas, doubled quotes and embedded newlines (CRLF normalised)', async () => {
  const r = await load('autotrain.csv');
  assert.deepEqual(triples(r.id)[1], ['Write two lines', 'Line one\nLine two', 'Just "one" line']);
  assert.equal(r.notes.delimiter, ',');
  const h2o = await load('h2o.csv');
  assert.equal(h2o.notes.delimiter, ';');
  assert.deepEqual(triples(h2o.id)[1], ['Semi; colon?', 'Yes; it works', 'No']);
});

test('HH-RLHF multi-turn: the prompt runs through the last shared "\\n\\nAssistant:"', async () => {
  const r = await load('hh_rlhf.jsonl');
  const [p, c, j] = triples(r.id)[1]!;
  assert.equal(p, '\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Tell me a joke\n\nAssistant:');
  assert.equal(c, ' Why did the chicken cross the road?');
  assert.equal(j, ' No.');
});

test('sharegpt: roles mapped to user/assistant, the system prompt first', async () => {
  const r = await load('sharegpt_ranking.json');
  assert.deepEqual(JSON.parse(triples(r.id)[1]![0]), [
    { role: 'system', content: 'Be nice.' }, { role: 'user', content: 'Q1' }, { role: 'assistant', content: 'A1' }, { role: 'user', content: 'Q2' },
  ]);
});

test('without --map, unknown columns are not guessed; a mapping naming a missing column is refused', async () => {
  await assert.rejects(load('custom.tsv'), /no preference-data layout recognised .* its fields are question, good, bad, note/);
  await assert.rejects(load('custom.tsv', { mapping: { prompt: 'question', chosen: 'good', rejected: 'worse' } }), /--map rejected=worse: .* has no field "worse"/);
  assert.equal(store.datasets.list().filter((d) => d.name === 'custom').length, 1, 'only the successful import is stored');
});

test('a mapping without a prompt column takes the shared prefix, and --schema forces a layout', async () => {
  const r = await load('trl_implicit.jsonl', { mapping: { chosen: 'chosen', rejected: 'rejected' } });
  assert.equal(r.schema, 'custom');
  assert.deepEqual(triples(r.id)[0], ['The capital of France is', ' Paris.', ' Lyon.']);
  const forced = await load('trl_explicit.jsonl', { schema: 'trl_implicit' });
  assert.equal(forced.schema, 'trl_implicit');
  assert.deepEqual(triples(forced.id)[1], ['', 'Seven.', 'Nine.']);
});

test('detection by field names and values', () => {
  const d = (...samples: Record<string, unknown>[]) => detectSchema(samples)?.id;
  assert.equal(d({ prompt: 'p', chosen: 'c', rejected: 'r' }), 'trl_explicit');
  assert.equal(d({ prompt: [{ role: 'user', content: 'p' }], chosen: [], rejected: [] }), 'trl_explicit_conversational');
  // UltraFeedback-style: a text prompt beside full conversations → TRL extracts the prompt from them.
  assert.equal(d({ prompt: 'p', chosen: [{ role: 'user', content: 'p' }], rejected: [] }), 'trl_implicit_conversational');
  assert.equal(d({ chosen: '\n\nHuman: a\n\nAssistant: b', rejected: '\n\nHuman: a\n\nAssistant: c' }), 'hh_rlhf');
  assert.equal(d({ chosen: 'a b', rejected: 'a c' }), 'trl_implicit');
  assert.equal(d({ text: 't', rejected_text: 'r' }), 'autotrain');
  assert.equal(d({ instruction: 'i', input: '', chosen: 'c', rejected: 'r' }), 'alpaca_ranking');
  assert.equal(d({ conversations: [], chosen: {}, rejected: {} }), 'sharegpt_ranking');
  assert.equal(d({ prompt: 'p', chosen_response: 'c', rejected_response: 'r' }), 'h2o');
  assert.equal(d({ prompt: 'p', response_a: 'a', response_b: 'b', winner: 'tie' }), 'arena');
  assert.equal(d({ prompt: 'p', response_a: 'a', response_b: 'b', winner_model_a: 1 }), 'arena');
  // A field missing from the first record but present in a later one still counts.
  assert.equal(d({ prompt: 'p', chosen: 'c' }, { prompt: 'p', chosen: 'c', rejected: 'r' }), 'trl_explicit');
  assert.equal(d({ id: 1, text: 'x' }), undefined);
  assert.equal(Object.keys(SCHEMAS).length, 10);
});

test('implicit prompt rules match TRL and HH-RLHF conventions', () => {
  assert.deepEqual(splitSharedText('The sky is blue.', 'The sky is red.'), { prompt: 'The sky is', chosen: ' blue.', rejected: ' red.' });
  assert.deepEqual(splitSharedText('abc', 'xyz'), { prompt: '', chosen: 'abc', rejected: 'xyz' });
  const u = { role: 'user', content: 'q' }, a1 = { role: 'assistant', content: 'a1' }, a2 = { role: 'assistant', content: 'a2' };
  assert.deepEqual(splitSharedMessages([u, a1], [u, a2]), { prompt: [u], chosen: [a1], rejected: [a2] });
  assert.deepEqual(splitHh('\n\nHuman: q\n\nAssistant: yes', '\n\nHuman: q\n\nAssistant: no'), { prompt: '\n\nHuman: q\n\nAssistant:', chosen: ' yes', rejected: ' no' });
  // The difference starts inside the marker: the prompt ends at the previous complete one.
  assert.throws(() => splitHh('\n\nHuman: q\n\nAssistant: x', '\n\nHuman: q\n\nAssistans: y'), /do not share/);
});
