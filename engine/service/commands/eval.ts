// `rrlhf eval FILE (--model DIR | --run ID)`: a benchmark file (or Hugging Face dataset folder) scored as
// lm-evaluation-harness scores it (docs/evals.md). Progress and ETA on stderr; Ctrl-C stops after the batch
// in flight and prints the scores of the items finished.
import fs from 'node:fs';
import { type Command, UsageError, parse, intOpt, nonNegIntOpt, deviceOpt, progress } from '../cli-kit.js';
import { CausalLM } from '../../models/model.js';
import { loadTokenizer, type TextTokenizer } from '../../models/tokenizer.js';
import { EVAL_FORMATS, FORMAT_DEFS, type EvalFormat } from '../../eval/formats.js';
import { readBenchmark, splitFiles, describeRejection, type ReadDoc } from '../../eval/read.js';
import { evaluateBenchmark } from '../../eval/run.js';
import { loadRunPolicy } from '../../eval/policy.js';
import { openStore, resolveDataDir } from '../../store/index.js';
import { BENCH_PREFIX } from '../../../common/metrics.js';

const USAGE = 'usage: rrlhf eval FILE (--model DIR | --run ID [--record]) [--format auto|mmlu|arc|hellaswag|truthfulqa|gsm8k] [--split S] [--limit N] [--shots K] [--fewshot-file F] [--chat-template] [--batch-size B] [--max-gen-toks N]';

export const evalCmd: Command = {
  usage: [
    'eval FILE (--model DIR | --run ID [--record]) [--format auto|mmlu|arc|hellaswag|truthfulqa|gsm8k] [--limit N] [--shots K]',
    '     [--fewshot-file F] [--split S] [--chat-template] [--batch-size B] [--max-gen-toks N]',
    '                                benchmark accuracy as lm-evaluation-harness scores it (acc, acc_norm; GSM8K exact match)',
  ],
  async run(args, out) {
    const { values, positionals } = parse(args, {
      model: { type: 'string' }, run: { type: 'string' }, format: { type: 'string', default: 'auto' }, split: { type: 'string' },
      limit: { type: 'string' }, shots: { type: 'string' }, 'fewshot-file': { type: 'string' }, 'chat-template': { type: 'boolean' },
      'batch-size': { type: 'string' }, 'max-gen-toks': { type: 'string' }, record: { type: 'boolean' },
    }, true);
    if (positionals.length !== 1) throw new UsageError(`eval takes one benchmark FILE (or dataset folder); got ${positionals.length}\n${USAGE}`);
    if ((values.model === undefined) === (values.run === undefined)) throw new UsageError(`eval needs exactly one of --model DIR and --run ID\n${USAGE}`);
    if (values.record && values.run === undefined) throw new UsageError('--record stores the scores on a run: it goes with --run ID');
    const format = values.format!;
    if (format !== 'auto' && !(EVAL_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be auto or one of ${EVAL_FORMATS.join(', ')}; got "${format}"`);
    const limit = values.limit === undefined ? undefined : intOpt(values.limit, 'limit', 0);
    const device = deviceOpt(values.device);

    const bench = await readBenchmark(positionals[0]!, { format: format as EvalFormat | 'auto', ...(values.split !== undefined ? { split: values.split } : {}) });
    // Unset, the count is the task YAML's num_fewshot, as the harness's.
    const shots = nonNegIntOpt(values.shots, 'shots', FORMAT_DEFS[bench.format].defaultShots);
    if (!bench.docs.length) throw new Error(`no item of ${positionals[0]} can be scored: all ${bench.rejected.length} records were rejected (first: ${describeRejection(bench.rejected[0]!)})`);
    // Few-shot examples: --fewshot-file, else a dataset folder's few-shot split (the one the task YAML
    // names: MMLU dev, the others train), else the benchmark's first K items.
    let fewshot: ReadDoc[] | undefined, fewshotFrom: string | null = null;
    const isDir = fs.statSync(positionals[0]!).isDirectory();
    if (values['fewshot-file'] !== undefined) {
      if (shots === 0) throw new UsageError('--fewshot-file gives the examples for --shots K; pass --shots too');
      const fb = await readBenchmark(values['fewshot-file'], { format: bench.format });
      for (const r of fb.rejected.slice(0, 5)) process.stderr.write(`few-shot file: skipped ${describeRejection(r)}\n`);
      fewshot = fb.docs; fewshotFrom = values['fewshot-file'];
    } else if (shots > 0 && isDir) {
      const sp = FORMAT_DEFS[bench.format].fewshotSplit;
      let has = false;
      if (sp && sp !== bench.split) { try { splitFiles(positionals[0]!, sp); has = true; } catch { /* no such split: the first K items */ } }
      if (has) { fewshot = (await readBenchmark(positionals[0]!, { format: bench.format, split: sp! })).docs; fewshotFrom = `${positionals[0]} (${sp} split)`; }
    }

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
      // On the run, at its checkpoint's step, for the report's Benchmarks table (docs/metrics.md § Benchmarks).
      const prefix = `${BENCH_PREFIX}${res.format}_${res.shots}shot${res.chat_template ? '_chat' : ''}`;
      const record: Record<string, number> = res.exact_match
        ? { [`${prefix}/exact_match_strict`]: res.exact_match.strict, [`${prefix}/exact_match_flexible`]: res.exact_match.flexible }
        : { [`${prefix}/acc`]: res.accuracy, [`${prefix}/acc_norm`]: res.acc_norm! };
      const store = openStore({ dataDir: resolveDataDir(values['data-dir']) });
      try { store.metrics.append(Number(values.run), Number(policy.step), record); } finally { store.close(); }
      process.stderr.write(`recorded ${Object.keys(record).join(', ')} on run ${values.run} at step ${policy.step}\n`);
    }
    if (res.interrupted) throw new Error(`interrupted after ${res.interrupted.scored} of ${res.interrupted.of} items; the scores printed cover those`);
  },
};
