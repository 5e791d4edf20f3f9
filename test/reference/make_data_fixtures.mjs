#!/usr/bin/env node
// Writes the dataset-import fixtures under test/fixtures/data/ (committed; the tests never run this).
// Regenerate with:   node test/reference/make_data_fixtures.mjs
//
// Plain Node, no dependencies. The Parquet files come from the minimal writer in parquet-writer.mjs
// (flat string tables) because the project's Parquet library, hyparquet, only reads. Each fixture's expected counts
// and line numbers are asserted in test/unit/data-*.test.ts; the comments here say what each line is.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquet } from './parquet-writer.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = path.join(root, 'test', 'fixtures', 'data');
fs.mkdirSync(path.join(dir, 'malformed'), { recursive: true });

const write = (name, data) => fs.writeFileSync(path.join(dir, name), data);
const jsonl = (rows) => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';
const BAD_UTF8 = Buffer.from([0x66, 0x6f, 0xff, 0x6f]); // "fo\xFFo": 0xFF never occurs in UTF-8

// ---------------------------------------------------------------------------------------------
// one fixture per schema

// TRL explicit prompt, text: 4 accepted, plus "source" kept as meta.
write('trl_explicit.jsonl', jsonl([
  { prompt: 'What colour is the sky?', chosen: 'Blue, on a clear day.', rejected: 'Green.', source: 'quiz' },
  { prompt: 'Name a prime number.', chosen: 'Seven.', rejected: 'Nine.', source: 'quiz' },
  { prompt: 'Translate "chat" from French.', chosen: 'Cat.', rejected: 'Chat.' },
  { prompt: 'Is water wet?', chosen: 'It makes things wet.', rejected: 'No idea, sorry, I really could not say.' },
]));

// TRL explicit prompt, conversational: 3 accepted.
const user = (content) => ({ role: 'user', content });
const assistant = (content) => ({ role: 'assistant', content });
write('trl_explicit_conversational.jsonl', jsonl([
  { prompt: [user('Hi!')], chosen: [assistant('Hello, how can I help?')], rejected: [assistant('What.')] },
  { prompt: [{ role: 'system', content: 'Be brief.' }, user('2+2?')], chosen: [assistant('4')], rejected: [assistant('22')] },
  { prompt: [user('Capital of Italy?')], chosen: [assistant('Rome.')], rejected: [assistant('Milan.')] },
]));

// TRL implicit prompt, text: 3 accepted; prompt = shared prefix ("The capital of France is" etc.).
write('trl_implicit.jsonl', jsonl([
  { chosen: 'The capital of France is Paris.', rejected: 'The capital of France is Lyon.' },
  { chosen: 'Q: 1+1? A: 2', rejected: 'Q: 1+1? A: 3' },
  { chosen: 'Say hi. Hi!', rejected: 'Say hi. No.' },
]));

// TRL implicit prompt, conversational, as a JSON array: 3 accepted (row 3 has two shared turns).
write('trl_implicit_conversational.json', JSON.stringify([
  { chosen: [user('Hi'), assistant('Hello!')], rejected: [user('Hi'), assistant('Bye.')] },
  { chosen: [user('Sky?'), assistant('Blue.')], rejected: [user('Sky?'), assistant('Red.')] },
  { chosen: [user('A'), assistant('B'), user('C'), assistant('D')], rejected: [user('A'), assistant('B'), user('C'), assistant('E')] },
], null, 2) + '\n');

// Anthropic HH-RLHF transcripts: lines 1-3 accepted (line 2 multi-turn), line 4 rejected (no shared
// "\n\nAssistant:" turn).
write('hh_rlhf.jsonl', jsonl([
  { chosen: '\n\nHuman: What is 2+2?\n\nAssistant: 4.', rejected: '\n\nHuman: What is 2+2?\n\nAssistant: 5.' },
  { chosen: '\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Tell me a joke\n\nAssistant: Why did the chicken cross the road?', rejected: '\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Tell me a joke\n\nAssistant: No.' },
  { chosen: '\n\nHuman: Best pet?\n\nAssistant: Dogs are great companions.', rejected: '\n\nHuman: Best pet?\n\nAssistant: Rocks.' },
  { chosen: '\n\nHuman: A?\n\nAssistant: yes', rejected: '\n\nHuman: B?\n\nAssistant: no' },
]));

// AutoTrain, CSV with a UTF-8 BOM, CRLF line ends, quoted fields with commas, doubled quotes and an
// embedded newline: records start on lines 2, 3, 5 (the second spans lines 3-4); all accepted.
write('autotrain.csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(
  'prompt,text,rejected_text\r\n' +
  'Greet me,"Hello, friend!",Go away\r\n' +
  'Write two lines,"Line one\r\nLine two","Just ""one"" line"\r\n' +
  'Count to 3,"1, 2, 3",3 2 1\r\n', 'utf8')]));

// LLaMA-Factory alpaca ranking, JSON array: rows 0, 1, 3 accepted; row 2 has a history (rejected).
write('alpaca_ranking.json', JSON.stringify([
  { instruction: 'Summarise', input: 'The cat sat on the mat.', chosen: 'A cat sat.', rejected: 'Dogs run.' },
  { instruction: 'Say hello', input: '', chosen: 'Hello!', rejected: 'Bye!' },
  { instruction: 'And now?', input: '', chosen: 'Yes', rejected: 'No', history: [['Hi', 'Hello']] },
  { instruction: 'Add', input: '2 and 3', chosen: '5', rejected: '6', system: 'You are a calculator.' },
], null, 1) + '\n');

// LLaMA-Factory sharegpt ranking, JSON array: rows 0 and 1 accepted; row 2 ends with a gpt turn.
write('sharegpt_ranking.json', JSON.stringify([
  { conversations: [{ from: 'human', value: 'Hi' }], chosen: { from: 'gpt', value: 'Hello!' }, rejected: { from: 'gpt', value: 'Go away.' } },
  { conversations: [{ from: 'human', value: 'Q1' }, { from: 'gpt', value: 'A1' }, { from: 'human', value: 'Q2' }], chosen: { from: 'gpt', value: 'Good A2' }, rejected: { from: 'gpt', value: 'Bad A2' }, system: 'Be nice.' },
  { conversations: [{ from: 'human', value: 'Q' }, { from: 'gpt', value: 'A' }], chosen: { from: 'gpt', value: 'x' }, rejected: { from: 'gpt', value: 'y' } },
]) + '\n');

// H2O LLM Studio, semicolon-delimited CSV (delimiter sniffed from the header): lines 2 and 3 accepted,
// line 4 has a missing field ("" for rejected_response → empty).
write('h2o.csv', 'prompt;chosen_response;rejected_response\n' +
  'Hi;Hello there;Meh\n' +
  '"Semi; colon?";"Yes; it works";No\n' +
  'Empty;Something;\n');

// Arena-style Parquet in two row groups of 3: rows 0,1,3,4 decided (a, b, b, a), rows 2 and 5 ties.
const arena = [
  { prompt: 'Best fruit?', response_a: 'Mango.', response_b: 'Rocks.', winner: 'model_a', model_a: 'm1', model_b: 'm2' },
  { prompt: 'Hello', response_a: '...', response_b: 'Hi! How are you?', winner: 'model_b', model_a: 'm1', model_b: 'm3' },
  { prompt: '1+1', response_a: '2', response_b: 'Two', winner: 'tie', model_a: 'm2', model_b: 'm3' },
  { prompt: 'Sky colour', response_a: 'Plaid', response_b: 'Blue', winner: 'model_b', model_a: 'm2', model_b: 'm1' },
  { prompt: 'Poem', response_a: 'Roses are red', response_b: 'no', winner: 'model_a', model_a: 'm3', model_b: 'm1' },
  { prompt: 'Joke', response_a: 'bad joke', response_b: 'worse joke', winner: 'tie (bothbad)', model_a: 'm1', model_b: 'm2' },
];
write('arena.parquet', parquet(['prompt', 'response_a', 'response_b', 'winner', 'model_a', 'model_b'], arena, 3));

// Arena with Kaggle-style winner flags (JSON Lines): lines 1, 2 decided, line 3 tie, line 4 marks two.
write('arena_flags.jsonl', jsonl([
  { id: 1, prompt: 'P1', response_a: 'good', response_b: 'bad', winner_model_a: 1, winner_model_b: 0, winner_tie: 0 },
  { id: 2, prompt: 'P2', response_a: 'bad', response_b: 'good', winner_model_a: 0, winner_model_b: 1, winner_tie: 0 },
  { id: 3, prompt: 'P3', response_a: 'same', response_b: 'same-ish', winner_model_a: 0, winner_model_b: 0, winner_tie: 1 },
  { id: 4, prompt: 'P4', response_a: 'x', response_b: 'y', winner_model_a: 1, winner_model_b: 1, winner_tie: 0 },
]));

// Column-oriented JSON (parallel arrays): rows 0, 1 accepted, row 2 lacks "rejected" (shorter list).
write('columns.json', JSON.stringify({ prompt: ['p0', 'p1', 'p2'], chosen: ['c0', 'c1', 'c2'], rejected: ['r0', 'r1'] }) + '\n');

// Rows under a single key: {"data": [...]} with 2 accepted.
write('wrapped.json', JSON.stringify({ version: 2, data: [{ prompt: 'a', chosen: 'b', rejected: 'c' }, { prompt: 'd', chosen: 'e', rejected: 'f' }] }) + '\n');

// Unrecognised column names, tab-separated: needs --map prompt=question,chosen=good,rejected=bad.
write('custom.tsv', 'question\tgood\tbad\tnote\nWhy?\tBecause.\tNo.\tn1\nHow?\tLike this.\tDunno.\tn2\n');

// Duplicates and contradictions: line 2 duplicates line 1, line 3 reverses it, line 4 is new.
write('duplicates.jsonl', jsonl([
  { prompt: 'p', chosen: 'a', rejected: 'b' },
  { prompt: 'p', chosen: 'a', rejected: 'b' },
  { prompt: 'p', chosen: 'b', rejected: 'a' },
  { prompt: 'q', chosen: 'a', rejected: 'b' },
]));

// ---------------------------------------------------------------------------------------------
// the malformed corpus

// JSON Lines with one problem per line. Accepted: lines 1 and 9. Blank line 8 is skipped silently.
write('malformed/bad_lines.jsonl', Buffer.concat([
  Buffer.from(jsonl([
    { prompt: 'ok', chosen: 'good', rejected: 'bad' },                 // 1 accepted
    '{"prompt": "broken", "chosen": "x", ',                             // 2 malformed JSON
    { prompt: 'p', chosen: 'only chosen' },                             // 3 missing field "rejected"
    { prompt: 'p', chosen: 42, rejected: 'text' },                      // 4 number where text expected
    { prompt: 'p', chosen: 'same', rejected: 'same' },                  // 5 chosen identical to rejected
  ])),
  Buffer.from('{"prompt": "p", "chosen": "'), BAD_UTF8, Buffer.from('", "rejected": "r"}\n'), // 6 invalid UTF-8
  Buffer.from(jsonl([
    ['an', 'array'],                                                    // 7 not an object
  ])),
  Buffer.from('   \n'),                                                 // 8 blank: skipped
  Buffer.from(jsonl([
    { prompt: 'fine', chosen: 'yes', rejected: 'no' },                  // 9 accepted
    { prompt: null, chosen: 'c', rejected: 'r' },                       // 10 null prompt
    { prompt: 'p', chosen: '   ', rejected: 'r' },                      // 11 empty chosen
  ])),
]));

// CSV problems. Records: line 2 accepted; line 3-4 accepted (embedded newline); line 5 wrong field
// count; line 6 invalid UTF-8; line 7 accepted; line 8 opens a quote that never closes, swallowing
// lines 9-10.
write('malformed/bad_quote.csv', Buffer.concat([
  Buffer.from('prompt,chosen,rejected\n' +
    'p1,good,bad\n' +
    'p2,"two\nlines",bad\n' +
    'p3,too,many,fields\n'),
  Buffer.from('p4,'), BAD_UTF8, Buffer.from(',bad\n'),
  Buffer.from('p5,fine,worse\n' +
    'p6,"unbalanced,bad\n' +
    'p7,never,seen\n' +
    'p8,also,swallowed\n'),
]));

write('malformed/empty.jsonl', '');
write('malformed/blank.jsonl', '\n  \n\n');
write('malformed/header_only.csv', 'prompt,chosen,rejected\n');
// A PNG signature and IHDR start: binary, not a dataset.
write('malformed/not_a_dataset.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1]));
// Valid JSON Lines, but no preference fields.
write('malformed/not_preference.jsonl', jsonl([{ id: 1, text: 'hello' }, { id: 2, text: 'world' }]));
// Every line is rejected: nothing to import.
write('malformed/all_rejected.jsonl', jsonl([{ prompt: 'p', chosen: 'x', rejected: 'x' }, { prompt: 'p', chosen: 'y' }]));
// UTF-16 LE with BOM.
write('malformed/utf16.jsonl', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"prompt":"a","chosen":"b","rejected":"c"}\n', 'utf16le')]));
// A JSON array cut off inside its third element: rows 0 and 1 accepted, row 2 reported as truncated.
write('malformed/truncated.json', '[{"prompt":"a","chosen":"b","rejected":"c"},\n {"prompt":"d","chosen":"e","rejected":"f"},\n {"prompt":"g","cho');
// JSON array: row 1 malformed, row 2 invalid UTF-8, row 3 a string, rows 0 and 4 accepted.
write('malformed/bad_elements.json', Buffer.concat([
  Buffer.from('[{"prompt":"a","chosen":"b","rejected":"c"},\n {"prompt": "x" "chosen": "y"},\n {"prompt":"'),
  BAD_UTF8, Buffer.from('","chosen":"b","rejected":"c"},\n "just a string",\n {"prompt":"d","chosen":"e","rejected":"f"}]\n'),
]));
// "PAR1" then garbage: not a readable Parquet file.
write('malformed/corrupt.parquet', Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(64, 7), Buffer.from('PAR1')]));
// Parquet cells: row 0 accepted, row 1 null rejected, row 2 invalid UTF-8 in chosen, row 3 accepted.
write('malformed/bad_cells.parquet', parquet(['prompt', 'chosen', 'rejected'], [
  { prompt: 'a', chosen: 'b', rejected: 'c' },
  { prompt: 'd', chosen: 'e', rejected: null },
  { prompt: 'g', chosen: BAD_UTF8, rejected: 'i' },
  { prompt: 'j', chosen: 'k', rejected: 'l' },
]));

process.stdout.write(`wrote ${fs.readdirSync(dir).length - 1} fixtures and ${fs.readdirSync(path.join(dir, 'malformed')).length} malformed files to ${path.relative(root, dir)}/\n`);
