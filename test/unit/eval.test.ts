// Benchmark files (test/fixtures/evals/, from test/reference/make_eval_fixtures.mjs): format detection,
// the harness's prompts and preprocessing written out by hand, line-numbered rejections, few-shot layout,
// the context/continuation split on a real tokenizer, and GSM8K's answer extraction and exact match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readBenchmark, describeRejection, BenchmarkError } from '../../engine/eval/read.js';
import { hellaswagPreprocess, pyCapitalize, TRUTHFULQA_PROMPT } from '../../engine/eval/formats.js';
import { buildContext, encodePair, extractStrict, extractFlexible, normaliseAnswer, cutAtStops, scoreChoices, INVALID } from '../../engine/eval/score.js';
import { loadTokenizer } from '../../engine/models/tokenizer.js';
import { fixture } from '../util/paths.js';

const ev = (...p: string[]) => fixture('evals', ...p);

test('format detection by columns, and the harness prompt of each', async () => {
  const m = await readBenchmark(ev('mmlu.jsonl'));
  assert.equal(m.format, 'mmlu');
  assert.equal(m.formatBy, 'columns');
  assert.equal(m.docs.length, 6);
  assert.deepEqual(m.docs[0]!.doc, {
    text: 'What is the capital of France?\nA. Berlin\nB. Paris\nC. Rome\nD. Madrid\nAnswer:',
    choices: ['A', 'B', 'C', 'D'], gold: 1, target: 'B',
    description: 'The following are multiple choice questions (with answers) about high school geography.\n\n',
  });
  assert.ok(m.docs[3]!.doc.text.startsWith('What is 2 + 3?\nA. 4'), 'question.strip()');

  const a = await readBenchmark(ev('arc.jsonl'));
  assert.equal(a.format, 'arc');
  assert.equal(a.docs[0]!.doc.text, 'Question: Which is a source of light?\nAnswer:');
  assert.deepEqual(a.docs[1]!.doc.choices, ['milk', 'honey', 'silk']);
  assert.equal(a.docs[2]!.doc.gold, 2, 'numeric labels: answerKey "3" is the third label');

  const h = await readBenchmark(ev('hellaswag.jsonl'));
  assert.equal(h.format, 'hellaswag');
  assert.equal(h.docs[0]!.doc.text, 'Removing ice from car: Then, the man writes over the snow covering the window of a car, and a woman wearing winter clothes smiles. Then');
  assert.equal(h.docs[0]!.doc.gold, 3, 'label "3" (a string on the Hub)');
  // " [title]" becomes ". ", brackets go, "  " becomes " " in one pass (three spaces leave two); ctx_b is
  // capitalize()d (the rest lower-cased). Expected strings printed by the harness's preprocess() in Python.
  assert.equal(h.docs[1]!.doc.text, 'Home and Garden: How to clean a grill. Heat the grill.  Turn the burners on high. Close the lid and wait');
  assert.deepEqual(h.docs[1]!.doc.choices, ['Scrub the grates.  with a brush.', 'Throw the grill away.']);

  const t = await readBenchmark(ev('truthfulqa.jsonl'));
  assert.equal(t.format, 'truthfulqa');
  assert.equal(t.docs[0]!.doc.text, `${TRUTHFULQA_PROMPT}\n\nQ: What happens if you eat watermelon seeds?\nA:`);
  assert.ok(TRUTHFULQA_PROMPT.startsWith('Q: What is human life expectancy in the United States?\nA: Human life expectancy in the United States is 78 years.\n\nQ: Who'));
  assert.ok(TRUTHFULQA_PROMPT.endsWith('A: The 1992 Olympics were held in Barcelona, Spain.'));
  assert.equal(t.docs[1]!.doc.gold, 1, 'the label marks the right answer');

  const g = await readBenchmark(ev('gsm8k.jsonl'));
  assert.equal(g.format, 'gsm8k');
  assert.equal(g.docs[1]!.doc.text, 'Question: A box holds 12 eggs. How many eggs are in 100 boxes?\nAnswer:');
  assert.equal(g.docs[1]!.doc.reference, '12 * 100 = 1200 eggs.\n#### 1,200');
});

test('hellaswag preprocess and Python capitalize', () => {
  assert.equal(hellaswagPreprocess('  a [title] b [step] c  d   e '), 'a. b c d  e');
  assert.equal(pyCapitalize('hELLO World'), 'Hello world');
  assert.equal(pyCapitalize(''), '');
});

test('a Hugging Face dataset folder: split files, Parquet, the default split and --split', async () => {
  const b = await readBenchmark(ev('gsm8k'));
  assert.equal(b.split, 'test');
  assert.equal(b.files.length, 1);
  assert.match(b.files[0]!, /test-00000-of-00001\.parquet$/);
  assert.equal(b.docs.length, 3);
  assert.equal(b.docs[0]!.line, 0, 'Parquet positions are row indices');
  assert.equal(b.docs[0]!.positions, 'row');
  const tr = await readBenchmark(ev('gsm8k'), { split: 'train' });
  assert.equal(tr.docs.length, 2);
  await assert.rejects(readBenchmark(ev('gsm8k'), { split: 'validation' }), /has no "validation" split \(found: test, train\)/);
  await assert.rejects(readBenchmark(ev('mmlu.jsonl'), { split: 'test' }), /--split picks a split of a dataset folder/);
});

test('malformed files: each bad record named by file, line and reason; the good ones kept', async () => {
  const f = ev('malformed', 'mmlu_bad.jsonl');
  const m = await readBenchmark(f);
  assert.equal(m.docs.length, 2);
  assert.deepEqual(m.docs.map((d) => [d.line, d.doc.gold]), [[1, 1], [9, 2]], 'line 9 has the letter answer "C"');
  assert.deepEqual(m.rejected.map(describeRejection), [
    `${f}:2: missing field "answer"`,
    `${f}:3: answer 4 is out of range: choices has 4 entries (0..3)`,
    `${f}:4: field "choices" has 3 entries; MMLU's prompt has exactly 4 (A-D)`,
    `${f}:5: malformed JSON: ${m.rejected[3]!.reason.slice('malformed JSON: '.length)}`,
    `${f}:6: field "answer" is "two", expected an integer`,
    `${f}:8: choices[1] is a number, expected text`,
    `${f}:10: field "question" is empty`,
  ]);
  assert.match(m.rejected[3]!.reason, /^malformed JSON: /);
  const reasons = async (name: string) => (await readBenchmark(ev('malformed', name))).rejected.map((r) => [r.line, r.reason]);
  assert.deepEqual(await reasons('arc_bad.jsonl'), [
    [1, 'answerKey "C" is not one of the labels "A", "B"'],
    [2, 'choices.text has 3 entries but choices.label has 2'],
    [3, 'field "choices" is a list, expected an object'],
  ]);
  assert.deepEqual(await reasons('hellaswag_bad.jsonl'), [
    [1, 'field "label" is empty (an unlabelled item: HellaSwag\'s test split has no labels; evaluate the validation split)'],
    [2, 'label 2 is out of range: endings has 2 entries (0..1)'],
  ]);
  assert.deepEqual(await reasons('truthfulqa_bad.jsonl'), [
    [1, 'mc1_targets.labels marks 2 right answers; MC1 has exactly one'],
    [2, 'mc1_targets.choices has 2 entries but mc1_targets.labels has 1'],
  ]);
  assert.deepEqual(await reasons('gsm8k_bad.jsonl'), [
    [1, 'field "answer" has no final "#### N" line (GSM8K answers end with "#### <number>")'],
    [2, 'field "answer" is a number, expected text'],
  ]);
  await assert.rejects(readBenchmark(ev('malformed', 'unknown.jsonl')), (e: Error) => e instanceof BenchmarkError
    && e.message.includes(`${ev('malformed', 'unknown.jsonl')}: cannot tell the benchmark from the columns "prompt", "chosen", "rejected"`));
  // A manual --format that does not fit rejects every record with the missing field.
  const forced = await readBenchmark(ev('mmlu.jsonl'), { format: 'arc' });
  assert.equal(forced.formatBy, 'option');
  assert.equal(forced.docs.length, 0);
  assert.ok(forced.rejected.every((r) => r.reason === 'field "choices" is a list, expected an object'));
  await assert.rejects(readBenchmark(ev('nope.jsonl')), /nope\.jsonl does not exist/);
});

test('few-shot layout: description, "text target\\n\\n" per example, then the question; chat: system + one user turn', async () => {
  const { docs } = await readBenchmark(ev('mmlu.jsonl'));
  const [a, b, c] = docs.map((d) => d.doc);
  assert.equal(buildContext(c!, [a!, b!]),
    'The following are multiple choice questions (with answers) about high school biology.\n\n'
    + 'What is the capital of France?\nA. Berlin\nB. Paris\nC. Rome\nD. Madrid\nAnswer: B\n\n'
    + 'How many legs does a spider have?\nA. Six\nB. Ten\nC. Eight\nD. Four\nAnswer: C\n\n'
    + 'Which gas do plants take in?\nA. Carbon dioxide\nB. Oxygen\nC. Helium\nD. Neon\nAnswer:');
  const g = (await readBenchmark(ev('gsm8k.jsonl'))).docs.map((d) => d.doc);
  assert.equal(buildContext(g[2]!, [g[0]!]), 'Question: Tom has 3 apples and buys 4 more. How many apples does he have?\nAnswer: He has 3 + 4 = 7 apples.\n#### 7\n\n'
    + 'Question: Sara had 10 dollars and spent 15. What is her balance?\nAnswer:');
  const tok = await loadTokenizer(fixture('tokenizers', 'bpe-tiny'));
  assert.equal(buildContext(c!, [a!], tok.applyChatTemplate),
    '<|begin_of_text|><|im_start|>system\nThe following are multiple choice questions (with answers) about high school biology.\n\n<|im_end|>\n'
    + '<|im_start|>user\nWhat is the capital of France?\nA. Berlin\nB. Paris\nC. Rome\nD. Madrid\nAnswer: B\n\nWhich gas do plants take in?\nA. Carbon dioxide\nB. Oxygen\nC. Helium\nD. Neon\nAnswer:<|im_end|>\n'
    + '<|im_start|>assistant\n');
});

test('context and continuation tokens: the whole encoded, the context\'s length cut off; trailing spaces move over', async () => {
  const tok = await loadTokenizer(fixture('tokenizers', 'bpe-tiny'));
  const [ctx, cont] = encodePair(tok, 'Question: why?\nAnswer:', ' because');
  assert.deepEqual(ctx, tok.encode('Question: why?\nAnswer:'));
  assert.equal(ctx[0], tok.bosId, 'the context gets the BOS the tokenizer adds');
  assert.deepEqual([...ctx, ...cont], tok.encode('Question: why?\nAnswer: because'));
  assert.ok(cont.length > 0 && !cont.includes(tok.bosId!));
  // "Answer: " + "x": the space joins the continuation (" x" is one pre-token, as in the whole).
  const [c2, k2] = encodePair(tok, 'Answer: ', 'x');
  assert.deepEqual(c2, tok.encode('Answer:'));
  assert.deepEqual([...c2, ...k2], tok.encode('Answer: x'));
  // A chat-rendered context already starts with the BOS string: no second BOS.
  const [c3] = encodePair(tok, '<|begin_of_text|>hi', ' there');
  assert.equal(c3.filter((t) => t === tok.bosId).length, 1);
});

test('acc and acc_norm from log-likelihoods: argmax (first on ties) and per-character normalisation', () => {
  const s = scoreChoices([-2, -9, -2], ['a', 'a much longer one', 'bb']);
  assert.equal(s.pred, 0, 'the first of equal log-likelihoods');
  assert.equal(s.predNorm, 1, '-9/17 beats -2/1 and -2/2');
  assert.equal(scoreChoices([-3, -3.5], ['é', 'ab']).predNorm, 1, 'length counts code points: -3/1 < -3.5/2');
});

test('GSM8K extraction (strict and flexible filters) and exact match', () => {
  assert.equal(extractStrict('so 3 + 4 = 7\n#### 7'), '7');
  assert.equal(extractStrict('#### 1,200.'), '1,200.');
  assert.equal(extractStrict('#### -5 and #### 6'), '-5', 'the first match');
  assert.equal(extractStrict('the answer is 7'), INVALID);
  assert.equal(extractFlexible('3 apples and 4 more makes 7'), '7', 'the last number');
  assert.equal(extractFlexible('it costs $1,234.'), '$1,234.');
  assert.equal(extractFlexible('no digits'), INVALID);
  assert.equal(extractFlexible('x = -12'), '-12');
  assert.equal(normaliseAnswer('12 * 100 = 1200 eggs.\n#### 1,200'), '1200');
  assert.equal(normaliseAnswer('1,200.'), '1200');
  assert.equal(normaliseAnswer('$1,234.'), '1234');
  assert.equal(normaliseAnswer('a #### b #### 5'), '5', 'everything up to the last "#### "');
  assert.equal(normaliseAnswer('7.\n'), '7\n', "Python's $ matches before a final newline");
  assert.equal(normaliseAnswer('ABC'), 'abc');
  assert.equal(normaliseAnswer(extractStrict('... #### 1,200')), normaliseAnswer('12 * 100 = 1200 eggs.\n#### 1,200'));
  assert.equal(cutAtStops('The answer is 7.\n\nQuestion: next', ['Question:', '</s>']), 'The answer is 7.\n\n');
});

test('Hub Parquet layouts (lists, structs, int64 columns) read to the same items as the JSON Lines files', async () => {
  const docs = async (p: string, o = {}) => (await readBenchmark(p, o)).docs.map((d) => d.doc);
  assert.deepEqual(await docs(ev('hub', 'mmlu', 'all')), (await docs(ev('mmlu.jsonl'))).slice(2), 'test split: int64 answers, list choices');
  assert.deepEqual(await docs(ev('hub', 'mmlu', 'all'), { split: 'dev' }), (await docs(ev('mmlu.jsonl'))).slice(0, 2));
  assert.deepEqual(await docs(ev('hub', 'ai2_arc', 'ARC-Easy')), await docs(ev('arc.jsonl')), 'struct of lists');
  assert.deepEqual(await docs(ev('hub', 'truthful_qa', 'multiple_choice')), await docs(ev('truthfulqa.jsonl')), 'int64 labels in a struct');
  assert.deepEqual(await docs(ev('hub', 'hellaswag', 'data'), { split: 'validation' }), await docs(ev('hellaswag.jsonl')));
  // The default split is test, which the Hub's HellaSwag leaves unlabelled: every row says so.
  const t = await readBenchmark(ev('hub', 'hellaswag', 'data'));
  assert.equal(t.split, 'test');
  assert.equal(t.docs.length, 0);
  assert.equal(describeRejection(t.rejected[1]!), `${ev('hub', 'hellaswag', 'data', 'test-00000-of-00001.parquet')} row 1: field "label" is empty (an unlabelled item: HellaSwag's test split has no labels; evaluate the validation split)`);
});
