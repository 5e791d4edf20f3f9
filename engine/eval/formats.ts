// Benchmark items from local files, in the layouts the Hugging Face datasets lm-evaluation-harness scores
// use, turned into what the harness's task YAMLs make of them (docs/evals.md § Formats and prompts):
//
//   mmlu        cais/mmlu            question, choices[4], answer 0..3 (subject optional)
//   arc         allenai/ai2_arc      question, choices {text[], label[]}, answerKey
//   hellaswag   Rowan/hellaswag      activity_label, ctx_a + ctx_b (or ctx), endings[], label
//   truthfulqa  truthful_qa (mc)     question, mc1_targets {choices[], labels[]}
//   gsm8k       openai/gsm8k         question, answer ("... #### N")
//
// Prompts, choices and targets are those of lm-evaluation-harness (EleutherAI, commit 4e7e0d47):
// lm_eval/tasks/mmlu/default/_default_template_yaml and _generate_configs.py (description),
// lm_eval/tasks/arc/arc_easy.yaml, lm_eval/tasks/hellaswag/hellaswag.yaml + utils.py (preprocess),
// lm_eval/tasks/truthfulqa/truthfulqa_mc1.yaml, lm_eval/tasks/gsm8k/gsm8k.yaml.
// A record that does not fit its format is rejected with the reason (RowRejected), never guessed at.
import { RowRejected } from '../data/schemas.js';

import { EVAL_FORMATS, type EvalFormat } from '../../common/benchmarks.js';
export { EVAL_FORMATS, type EvalFormat };

/** One benchmark item as the harness sees it after doc_to_text / doc_to_choice / doc_to_target. */
export interface EvalDoc {
  /** doc_to_text: the question as prompted, without any few-shot examples. */
  text: string;
  /** Multiple choice: doc_to_choice (each scored as target_delimiter + choice). */
  choices?: string[];
  /** Multiple choice: index of the right choice. */
  gold?: number;
  /** What follows the text when the item is a few-shot example (the right choice, or GSM8K's worked answer). */
  target: string;
  /** The task description put before everything (MMLU's per-subject line), '' when none. */
  description: string;
  /** GSM8K: the reference answer text (doc_to_target, "... #### N"). */
  reference?: string;
}

export interface FormatDef {
  id: EvalFormat;
  kind: 'mc' | 'gen';
  /** Columns that identify the layout (all must be present for `auto` to pick it). */
  columns: string[];
  /** Whether the harness allows few-shot examples (TruthfulQA-MC1 is fixed at 0: its prompt holds six). */
  fewshot: boolean;
  /** The split the harness draws few-shot examples from, for a dataset folder. */
  fewshotSplit: string | null;
  /** How the harness draws examples from that split: MMLU's first_n, the default seeded sampler otherwise (eval/fewshot.ts). */
  sampler: 'first_n' | 'default';
  /** The task YAML's num_fewshot: what the harness uses when no count is given (GSM8K 5, the rest 0). */
  defaultShots: number;
  parse(r: Record<string, unknown>): EvalDoc;
}

const reject = (reason: string): never => { throw new RowRejected(reason); };

function str(r: Record<string, unknown>, key: string, opts: { allowEmpty?: boolean } = {}): string {
  if (!(key in r) || r[key] === undefined) reject(`missing field "${key}"`);
  const v = r[key];
  if (v === null) reject(`field "${key}" is null`);
  if (typeof v !== 'string') reject(`field "${key}" is ${kindOf(v)}, expected text`);
  if (!opts.allowEmpty && (v as string).trim() === '') reject(`field "${key}" is empty`);
  return v as string;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : typeof v === 'bigint' ? 'a number' : `a ${typeof v}`;
}

function strList(v: unknown, what: string, min = 2): string[] {
  if (v === undefined) reject(`missing field "${what}"`);
  if (!Array.isArray(v)) reject(`field "${what}" is ${kindOf(v)}, expected a list of texts`);
  const a = v as unknown[];
  const bad = a.findIndex((x) => typeof x !== 'string');
  if (bad >= 0) reject(`${what}[${bad}] is ${kindOf(a[bad])}, expected text`);
  if (a.length < min) reject(`field "${what}" has ${a.length} entr${a.length === 1 ? 'y' : 'ies'}, expected at least ${min}`);
  return a as string[];
}

/** An integer field: a JSON number, a Parquet int64 (bigint) or a string of digits (HellaSwag's label). */
function intField(r: Record<string, unknown>, key: string): number {
  if (!(key in r) || r[key] === undefined) reject(`missing field "${key}"`);
  const v = r[key];
  if (v === null) reject(`field "${key}" is null`);
  let n: number;
  if (typeof v === 'bigint') n = Number(v);
  else if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) n = Number(v);
  else if (typeof v === 'string' && v.trim() === '') return reject(`field "${key}" is empty (an unlabelled item: HellaSwag's test split has no labels; evaluate the validation split)`);
  else return reject(`field "${key}" is ${typeof v === 'string' ? `"${v}"` : kindOf(v)}, expected an integer`);
  if (!Number.isInteger(n)) reject(`field "${key}" is ${n}, expected an integer`);
  return n;
}

function inRange(n: number, key: string, count: number, of: string): number {
  if (n < 0 || n >= count) reject(`${key} ${n} is out of range: ${of} has ${count} entries (0..${count - 1})`);
  return n;
}

function obj(r: Record<string, unknown>, key: string): Record<string, unknown> {
  if (!(key in r) || r[key] === undefined) reject(`missing field "${key}"`);
  const v = r[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) reject(`field "${key}" is ${kindOf(v)}, expected an object`);
  return v as Record<string, unknown>;
}

/** Python's str.capitalize(): first character upper case, the rest lower case (hellaswag utils.py). */
export function pyCapitalize(s: string): string {
  const cs = [...s];
  return cs.length ? cs[0]!.toUpperCase() + cs.slice(1).join('').toLowerCase() : '';
}

/** lm_eval/tasks/hellaswag/utils.py preprocess(): WikiHow's bracket artifacts out, double spaces once. */
export function hellaswagPreprocess(text: string): string {
  let t = text.trim();
  t = t.replaceAll(' [title]', '. ');
  t = t.replace(/\[.*?\]/g, '');
  return t.replaceAll('  ', ' ');
}

const LETTERS = ['A', 'B', 'C', 'D'];

const mmlu: FormatDef = {
  id: 'mmlu', sampler: 'first_n', kind: 'mc', columns: ['question', 'choices', 'answer'], fewshot: true, fewshotSplit: 'dev', defaultShots: 0,
  parse(r) {
    const q = str(r, 'question');
    const choices = strList(r.choices, 'choices', 1);
    // The harness's doc_to_text writes exactly four options A-D.
    if (choices.length !== 4) reject(`field "choices" has ${choices.length} entries; MMLU's prompt has exactly 4 (A-D)`);
    let answer: number;
    if (typeof r.answer === 'string' && /^[A-D]$/.test(r.answer.trim())) answer = LETTERS.indexOf(r.answer.trim());
    else answer = inRange(intField(r, 'answer'), 'answer', 4, 'choices');
    const subject = typeof r.subject === 'string' && r.subject.trim() ? r.subject.trim() : null;
    return {
      text: `${q.trim()}\nA. ${choices[0]}\nB. ${choices[1]}\nC. ${choices[2]}\nD. ${choices[3]}\nAnswer:`,
      choices: [...LETTERS], gold: answer, target: LETTERS[answer]!,
      description: subject ? `The following are multiple choice questions (with answers) about ${subject.split('_').join(' ')}.\n\n` : '',
    };
  },
};

const arc: FormatDef = {
  id: 'arc', sampler: 'default', kind: 'mc', columns: ['question', 'choices', 'answerKey'], fewshot: true, fewshotSplit: 'train', defaultShots: 0,
  parse(r) {
    const q = str(r, 'question');
    const c = obj(r, 'choices');
    const text = strList(c.text, 'choices.text');
    const label = strList(c.label, 'choices.label');
    if (label.length !== text.length) reject(`choices.text has ${text.length} entries but choices.label has ${label.length}`);
    const key = str(r, 'answerKey');
    const gold = label.indexOf(key);
    if (gold < 0) reject(`answerKey "${key}" is not one of the labels ${label.map((l) => `"${l}"`).join(', ')}`);
    return { text: `Question: ${q}\nAnswer:`, choices: text, gold, target: text[gold]!, description: '' };
  },
};

const hellaswag: FormatDef = {
  id: 'hellaswag', sampler: 'default', kind: 'mc', columns: ['endings', 'label'], fewshot: true, fewshotSplit: 'train', defaultShots: 0,
  parse(r) {
    let ctx: string;
    if ('ctx_a' in r || 'ctx_b' in r) ctx = `${str(r, 'ctx_a', { allowEmpty: true })} ${pyCapitalize(str(r, 'ctx_b', { allowEmpty: true }))}`;
    else if ('ctx' in r) ctx = str(r, 'ctx');
    else return reject('missing field "ctx_a"/"ctx_b" (or "ctx")');
    if (ctx.trim() === '') reject('the context (ctx_a + ctx_b) is empty');
    // The harness prefixes the activity label; a file without that column gets the context alone.
    const label = 'activity_label' in r ? str(r, 'activity_label', { allowEmpty: true }) : null;
    const endings = strList(r.endings, 'endings').map(hellaswagPreprocess);
    const gold = inRange(intField(r, 'label'), 'label', endings.length, 'endings');
    return { text: hellaswagPreprocess(label === null ? ctx : `${label}: ${ctx}`), choices: endings, gold, target: endings[gold]!, description: '' };
  },
};

/** The six-shot QA preamble of truthfulqa_mc1.yaml's doc_to_text. */
export const TRUTHFULQA_PROMPT = [
  'Q: What is human life expectancy in the United States?', 'A: Human life expectancy in the United States is 78 years.', '',
  'Q: Who was president of the United States in 1955?', 'A: Dwight D. Eisenhower was president of the United States in 1955.', '',
  'Q: Which party did he belong to?', 'A: He belonged to the Republican Party.', '',
  'Q: What is the square root of banana?', 'A: I have no comment.', '',
  'Q: How does a telescope work?', 'A: Telescopes use lenses or mirrors to focus light and make objects appear closer.', '',
  'Q: Where were the 1992 Olympics held?', 'A: The 1992 Olympics were held in Barcelona, Spain.',
].join('\n');

const truthfulqa: FormatDef = {
  id: 'truthfulqa', sampler: 'default', kind: 'mc', columns: ['question', 'mc1_targets'], fewshot: false, fewshotSplit: null, defaultShots: 0,
  parse(r) {
    const q = str(r, 'question');
    const t = obj(r, 'mc1_targets');
    const choices = strList(t.choices, 'mc1_targets.choices');
    if (!Array.isArray(t.labels)) reject(`field "mc1_targets.labels" is ${kindOf(t.labels)}, expected a list of 0/1`);
    const labels = (t.labels as unknown[]).map((x) => (typeof x === 'bigint' ? Number(x) : x));
    if (labels.length !== choices.length) reject(`mc1_targets.choices has ${choices.length} entries but mc1_targets.labels has ${labels.length}`);
    if (labels.some((x) => x !== 0 && x !== 1)) reject('mc1_targets.labels must be 0 or 1 each');
    const ones = labels.filter((x) => x === 1).length;
    if (ones !== 1) reject(`mc1_targets.labels marks ${ones} right answers; MC1 has exactly one`);
    // The harness's doc_to_target is 0 (the dataset lists the right answer first); the label says where it is.
    const gold = labels.indexOf(1);
    return { text: `${TRUTHFULQA_PROMPT}\n\nQ: ${q}\nA:`, choices, gold, target: choices[gold]!, description: '' };
  },
};

const gsm8k: FormatDef = {
  id: 'gsm8k', sampler: 'default', kind: 'gen', columns: ['question', 'answer'], fewshot: true, fewshotSplit: 'train', defaultShots: 5,
  parse(r) {
    const q = str(r, 'question');
    const a = str(r, 'answer');
    if (!/#### /.test(a)) reject('field "answer" has no final "#### N" line (GSM8K answers end with "#### <number>")');
    return { text: `Question: ${q}\nAnswer:`, target: a, reference: a, description: '' };
  },
};

export const FORMAT_DEFS: Record<EvalFormat, FormatDef> = { mmlu, arc, hellaswag, truthfulqa, gsm8k };

/** The layout a record's columns name, most specific first; null when none fits. */
export function detectEvalFormat(keys: string[]): EvalFormat | null {
  const has = (k: string) => keys.includes(k);
  if (has('mc1_targets')) return 'truthfulqa';
  if (has('endings') && (has('ctx') || has('ctx_a') || has('ctx_b'))) return 'hellaswag';
  if (has('answerKey') && has('choices')) return 'arc';
  if (has('choices') && has('answer')) return 'mmlu';
  if (has('question') && has('answer')) return 'gsm8k';
  return null;
}
