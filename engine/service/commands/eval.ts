// `rrlhf eval FILE (--model DIR | --run ID)`: a benchmark file (or Hugging Face dataset folder) scored as
// lm-evaluation-harness scores it (docs/evals.md). Progress and ETA on stderr; Ctrl-C stops after the batch
// in flight and prints the scores of the items finished.
import { type Command, UsageError, parse, intOpt, nonNegIntOpt, deviceOpt, progress } from '../cli-kit.js';
import { CausalLM } from '../../models/model.js';
import { loadTokenizer, type TextTokenizer } from '../../models/tokenizer.js';
import { EVAL_FORMATS, FORMAT_DEFS, type EvalFormat } from '../../eval/formats.js';
import { describeRejection, parseMapping } from '../../eval/read.js';
import { prepareBenchmark, benchRecord } from '../../eval/prepare.js';
import { evaluateBenchmark } from '../../eval/run.js';
import { loadRunPolicy } from '../../eval/policy.js';
import { openStore, resolveDataDir } from '../../store/index.js';

const USAGE = 'usage: rrlhf eval FILE (--model DIR | --run ID [--record]) [--format auto|mmlu|arc|hellaswag|truthfulqa|gsm8k] [--split S] [--limit N] [--shots K] [--fewshot-file F] [--chat-template] [--batch-size B] [--max-gen-toks N] [--map field=column,...]';

export const evalCmd: Command = {
  usage: [
    'eval FILE (--model DIR | --run ID [--record]) [--format auto|mmlu|arc|hellaswag|truthfulqa|gsm8k] [--limit N] [--shots K]',
    '     [--fewshot-file F] [--split S] [--chat-template] [--batch-size B] [--max-gen-toks N] [--map field=column,...]',
    '                                benchmark accuracy as lm-evaluation-harness scores it (acc, acc_norm; GSM8K exact match)',
  ],
  async run(args, out) {
    const { values, positionals } = parse(args, {
      model: { type: 'string' }, run: { type: 'string' }, format: { type: 'string', default: 'auto' }, split: { type: 'string' },
      limit: { type: 'string' }, shots: { type: 'string' }, 'fewshot-file': { type: 'string' }, 'chat-template': { type: 'boolean' },
      'batch-size': { type: 'string' }, 'max-gen-toks': { type: 'string' }, record: { type: 'boolean' }, map: { type: 'string' },
    }, true);
    if (positionals.length !== 1) throw new UsageError(`eval takes one benchmark FILE (or dataset folder); got ${positionals.length}\n${USAGE}`);
    if ((values.model === undefined) === (values.run === undefined)) throw new UsageError(`eval needs exactly one of --model DIR and --run ID\n${USAGE}`);
    if (values.record && values.run === undefined) throw new UsageError('--record stores the scores on a run: it goes with --run ID');
    const format = values.format!;
    if (format !== 'auto' && !(EVAL_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be auto or one of ${EVAL_FORMATS.join(', ')}; got "${format}"`);
    const limit = values.limit === undefined ? undefined : intOpt(values.limit, 'limit', 0);
    const device = deviceOpt(values.device);

    const prep = await prepareBenchmark(positionals[0]!, {
      format: format as EvalFormat | 'auto', ...(values.split !== undefined ? { split: values.split } : {}),
      ...(values.shots !== undefined ? { shots: nonNegIntOpt(values.shots, 'shots', 0) } : {}),
      ...(values['fewshot-file'] !== undefined ? { fewshotFile: values['fewshot-file'] } : {}),
      ...(values.map !== undefined ? { mapping: parseMapping(values.map) } : {}),
    });
    const { bench, shots, fewshot, fewshotFrom } = prep;
    for (const r of prep.fewshotRejected.slice(0, 5)) process.stderr.write(`few-shot file: skipped ${r}\n`);

    let model: CausalLM, tok: TextTokenizer, policy: Record<string, unknown>;
    if (values.model !== undefined) {
      model = await CausalLM.load(values.model, device);
      tok = await loadTokenizer(values.model);
      policy = { model: model.sourceDir };
    } else {
      const id = Number(values.run);
      if (!Number.isInteger(id) || id <= 0) throw new UsageError(`--run expects a run id (a positive integer), got "${values.run}"`);
      const dataDir = resolveDataDir(values['data-dir']);
      const store = openStore({ dataDir });
      try {
        const p = await loadRunPolicy(store, dataDir, id, device);
        model = p.model; tok = p.tokenizer; policy = p.about;
      } finally { store.close(); }
    }
    for (const r of bench.rejected.slice(0, 10)) process.stderr.write(`skipped ${describeRejection(r)}\n`);
    if (bench.rejected.length > 10) process.stderr.write(`... and ${bench.rejected.length - 10} more skipped records (all listed under "rejected" with --json)\n`);

    const ac = new AbortController();
    const onInt = () => { process.stderr.write('\nstopping after the batch in flight (Ctrl-C again to quit at once)\n'); ac.abort(); process.off('SIGINT', onInt); };
    process.on('SIGINT', onInt);
    let res;
    try {
      res = await evaluateBenchmark(model, tok, bench, {
        shots, ...(fewshot ? { fewshot } : {}), ...(limit !== undefined ? { limit } : {}), chatTemplate: !!values['chat-template'],
        batchSize: intOpt(values['batch-size'], 'batch-size', 16), ...(values['max-gen-toks'] !== undefined ? { maxGenToks: intOpt(values['max-gen-toks'], 'max-gen-toks', 256) } : {}),
        onProgress: progress(`eval ${bench.format}${FORMAT_DEFS[bench.format].kind === 'mc' ? ' (choices scored)' : ''}`), signal: ac.signal,
      });
    } finally { process.off('SIGINT', onInt); }
    const result = { ...res, file: positionals[0], files: bench.files, split: bench.split, format_by: bench.formatBy, fewshot_from: fewshotFrom, policy };
    const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(2)}%`);
    out(result, () => [
      `${bench.format}: ${res.n} items, ${res.shots}-shot${res.chat_template ? ', chat template' : ''}`,
      res.exact_match
        ? `  exact match: strict ${pct(res.exact_match.strict)}, flexible ${pct(res.exact_match.flexible)}`
        : `  acc ${pct(res.accuracy)}   acc_norm ${pct(res.acc_norm)}`,
      ...(res.rejected.length ? [`  ${res.rejected.length} records skipped (first: ${describeRejection(res.rejected[0]!)})`] : []),
    ].join('\n'));
    if (values.record && !res.interrupted) {
      // On the run, at its checkpoint's step, for the study's Benchmarks (docs/metrics.md § Benchmarks).
      const record = benchRecord(res);
      const store = openStore({ dataDir: resolveDataDir(values['data-dir']) });
      try { store.metrics.append(Number(values.run), Number(policy.step), record); } finally { store.close(); }
      process.stderr.write(`recorded ${Object.keys(record).join(', ')} on run ${values.run} at step ${policy.step}\n`);
    }
    if (res.interrupted) throw new Error(`interrupted after ${res.interrupted.scored} of ${res.interrupted.of} items; the scores printed cover those`);
  },
};
