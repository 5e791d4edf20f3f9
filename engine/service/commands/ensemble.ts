// `rrlhf ensemble train`: trains a reward-model ensemble on a built-in world and reports its quality.
//
//   world → π₀ (a fresh decoder + short SFT on the world's base behaviour) → preference pairs →
//   BRME (stage-1 Bradley–Terry, then K heads) or K independent Bradley–Terry models →
//   held-out report → saved under <data dir>/ensembles/<id>/ and recorded in the store.
import { PRECISIONS, type Precision } from '../../runtime/precision.js';
import path from 'node:path';
import { type Command, type Out, UsageError, parse, intOpt, nonNegIntOpt, deviceOpt, progress } from '../cli-kit.js';
import { resolveDataDir, openStore } from '../../store/index.js';
import { runRewardBench, type RewardBenchResult } from '../../eval/rewardbench.js';
import { describeRejection } from '../../eval/read.js';
import { WORLD_NAMES } from '../../worlds/index.js';
import { STAGE2_LOSSES, BRME_DEFAULTS, type Stage2Loss } from '../../rlhf/brme.js';
import { ENSEMBLE_DATA_DEFAULTS, ENSEMBLE_METHODS } from '../../rlhf/ensemble.js';
import { SFT_DATA_DEFAULTS } from '../../rlhf/sft.js';
import { type EnsembleReport } from '../../rlhf/ensemble-quality.js';
import { trainWorldEnsemble, EnsembleTrainSchema } from '../ensemble-train.js';

const num = (v: string | undefined, name: string, dflt: number, min = 0): number => {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number ≥ ${min}, got "${v}"`);
  return n;
};

const OPTIONS = {
  world: { type: 'string' }, dataset: { type: 'string' }, seed: { type: 'string' }, pairs: { type: 'string' }, 'val-pairs': { type: 'string' },
  heads: { type: 'string' }, method: { type: 'string' }, lora: { type: 'string' }, 'lora-dropout': { type: 'string' }, stage2: { type: 'string' }, bootstrap: { type: 'boolean' }, 'no-bootstrap': { type: 'boolean' }, anchor: { type: 'string' },
  unfreeze: { type: 'string' }, 'sft-samples': { type: 'string' }, 'rm-epochs': { type: 'string' }, 'stage2-epochs': { type: 'string' },
  out: { type: 'string' }, name: { type: 'string' }, model: { type: 'string' }, 'gradient-checkpointing': { type: 'boolean' },
  precision: { type: 'string' },
} as const;

function summary(id: number | string, heads: number, rep: EnsembleReport | undefined) {
  return {
    id, heads,
    accuracy: rep ? { nominal: rep.accuracy.nominal, mean: rep.accuracy.mean, per_head: rep.accuracy.per_head, single: rep.accuracy.single, min: rep.accuracy.min } : null,
    sigma: rep?.sigma ?? null,
    disagreement: rep?.disagreement ?? null,
    relative_disagreement: rep?.relative_disagreement ?? null,
    calibration_ece: rep?.calibration.ece ?? null,
    std_error_correlation: rep?.std_error_correlation ?? null,
  };
}

export const ensemble: Command = {
  usage: [
    'ensemble train (--world goodhart-lab|text-reviews | --dataset ID --model HF_DIR) [--seed S] [--pairs N] [--val-pairs N] [--heads K] [--method brme|independent|lora [--lora R] [--lora-dropout P]]',
    '               [--stage2 mse|gaussian_nll|bt_gaussian|bt_per_head] [--bootstrap|--no-bootstrap] [--anchor C] [--unfreeze N] [--out DIR] [--name N]',
    `               [--sft-samples N] [--rm-epochs E] [--stage2-epochs E] [--gradient-checkpointing] [--precision fp32|bf16|fp16]   (defaults: goodhart-lab, ${ENSEMBLE_DATA_DEFAULTS.pairs}/${ENSEMBLE_DATA_DEFAULTS.valPairs} pairs, K ${BRME_DEFAULTS.heads}, brme, ${BRME_DEFAULTS.stage2Loss})`,
    '                                 train a reward ensemble on a built-in world or an imported dataset; prints held-out accuracy (nominal, mean, per head), σ, disagreement',
    'ensemble bench FILE --ensemble ID [--lambda L] [--split S] [--limit N] [--tokenizer DIR] [--batch-size B]',
    '                                 reward-model accuracy on a chosen/rejected file (RewardBench layout) per head, mean, min and robust aggregate, by subset and section',
  ],
  async run(args, out) {
    const [sub, ...rest] = args;
    if (sub === 'bench') return bench(rest, out);
    if (sub !== 'train') throw new UsageError(`unknown subcommand "ensemble ${sub ?? ''}"; available: train, bench`);
    const { values: v } = parse(rest, OPTIONS);
    const datasetId = v.dataset === undefined ? undefined : Number(v.dataset);
    if (datasetId !== undefined && (!Number.isInteger(datasetId) || datasetId <= 0)) throw new UsageError(`--dataset must be a dataset id (rrlhf dataset list), got "${v.dataset}"`);
    if ((datasetId === undefined) !== (v.model === undefined)) throw new UsageError('--dataset ID and --model DIR go together: the Hugging Face model folder is the reward trunk and its tokenizer reads the dataset');
    if (datasetId !== undefined && v.world !== undefined) throw new UsageError('give either --world or --dataset, not both');
    const worldName = v.world ?? 'goodhart-lab';
    if (!(WORLD_NAMES as string[]).includes(worldName)) throw new UsageError(`--world must be one of ${WORLD_NAMES.join(', ')}, got "${worldName}"`);
    const method = v.method ?? 'brme';
    if (!(ENSEMBLE_METHODS as readonly string[]).includes(method)) throw new UsageError(`--method must be one of ${ENSEMBLE_METHODS.join(', ')}, got "${method}"`);
    if ((v.lora !== undefined || v['lora-dropout'] !== undefined) && method !== 'lora') throw new UsageError('--lora R and --lora-dropout P apply to --method lora only');
    const stage2 = (v.stage2 ?? BRME_DEFAULTS.stage2Loss) as Stage2Loss;
    if (!STAGE2_LOSSES.includes(stage2)) throw new UsageError(`--stage2 must be one of ${STAGE2_LOSSES.join(', ')}, got "${v.stage2}"`);
    if (v.precision !== undefined && !(PRECISIONS as readonly string[]).includes(v.precision)) throw new UsageError(`--precision must be one of ${PRECISIONS.join(', ')}, got "${v.precision}"`);
    if (v.bootstrap && v['no-bootstrap']) throw new UsageError('--bootstrap and --no-bootstrap contradict each other; give one');
    if (method !== 'brme' && (v.stage2 !== undefined || v.anchor !== undefined || v.unfreeze !== undefined)) {
      throw new UsageError('--stage2, --anchor and --unfreeze apply to --method brme only');
    }
    const seed = nonNegIntOpt(v.seed, 'seed', 0);
    const pairs = intOpt(v.pairs, 'pairs', ENSEMBLE_DATA_DEFAULTS.pairs), valPairs = intOpt(v['val-pairs'], 'val-pairs', ENSEMBLE_DATA_DEFAULTS.valPairs);
    const heads = intOpt(v.heads, 'heads', BRME_DEFAULTS.heads);
    const anchor = num(v.anchor, 'anchor', BRME_DEFAULTS.anchor);
    const unfreeze = nonNegIntOpt(v.unfreeze, 'unfreeze', BRME_DEFAULTS.unfreezeLastLayers);
    const sftSamples = intOpt(v['sft-samples'], 'sft-samples', SFT_DATA_DEFAULTS.samples);
    const device = deviceOpt(v.device);
    const dataDir = resolveDataDir(v['data-dir']);

    const parsed = EnsembleTrainSchema.safeParse({
      ...(v.lora !== undefined ? { loraRank: intOpt(v.lora, 'lora', 8) } : {}),
      ...(v['lora-dropout'] !== undefined ? { loraDropout: num(v['lora-dropout'], 'lora-dropout', 0) } : {}),
      world: worldName, seed, heads, method, stage2Loss: stage2, anchor, unfreezeLastLayers: unfreeze,
      // Neither flag: the method's default (independent members bootstrap, BRME heads do not).
      ...(v.bootstrap ? { bootstrap: true } : v['no-bootstrap'] ? { bootstrap: false } : {}), pairs, valPairs, sftSamples, name: v.name,
      ...(datasetId !== undefined ? { datasetId, modelDir: path.resolve(v.model!) } : {}),
      ...(v['gradient-checkpointing'] ? { gradientCheckpointing: true } : {}),
      ...(v.precision !== undefined ? { precision: v.precision as Precision } : {}),
      rewardEpochs: v['rm-epochs'] ? intOpt(v['rm-epochs'], 'rm-epochs', 3) : undefined, stage2Epochs: v['stage2-epochs'] ? intOpt(v['stage2-epochs'], 'stage2-epochs', 20) : undefined,
    });
    if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; '));
    const bars: Record<string, (d: number, t: number) => void> = {};
    const r = await trainWorldEnsemble(parsed.data, {
      dataDir, device, outDir: v.out,
      onProgress: (e) => { if (e.step !== undefined && e.total) (bars[e.message] ??= progress(e.message))(e.step, e.total); },
    });
    const rep = r.report ?? undefined;
    const id = r.id, dir = r.path;
    const res = { ...summary(id, heads, rep), method, world: r.world, seed, path: dir, stage1: r.stage1, seconds: r.seconds };
    out(res, () => {
      const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
      if (!rep) return `ensemble ${id} saved to ${dir}`;
      return [
        `ensemble ${id} (${method}, K = ${heads}) saved to ${dir}`,
        `  held-out accuracy on ${rep.pairs} pairs: single ${pct(rep.accuracy.single)}  nominal ${pct(rep.accuracy.nominal)}  mean ${pct(rep.accuracy.mean)}  min ${pct(rep.accuracy.min)}`,
        `  per head: ${rep.accuracy.per_head.map(pct).join('  ')}`,
        rep.sigma ? `  σ: mean ${rep.sigma.mean.toFixed(4)}  std ${rep.sigma.std.toFixed(4)}  min ${rep.sigma.min.toFixed(4)}  max ${rep.sigma.max.toFixed(4)}` : '  σ: not defined (independent members)',
        `  head disagreement ${rep.disagreement.toFixed(4)} (${(100 * rep.relative_disagreement).toFixed(1)}% of the reward's spread); calibration ECE ${rep.calibration.ece.toFixed(3)}`,
        `  ${res.seconds.toFixed(1)} s`,
      ].join('\n');
    });
  },
};

/** `rrlhf ensemble bench`: RewardBench-style accuracy of every head and aggregate (docs/evals.md § Reward models). */
async function bench(args: string[], out: Out) {
  const { values: v, positionals } = parse(args, {
    ensemble: { type: 'string' }, lambda: { type: 'string' }, split: { type: 'string' }, limit: { type: 'string' }, tokenizer: { type: 'string' }, 'batch-size': { type: 'string' },
  }, true);
  if (positionals.length !== 1) throw new UsageError('usage: rrlhf ensemble bench FILE --ensemble ID [--lambda L] [--split S] [--limit N] [--tokenizer DIR] [--batch-size B]');
  const id = Number(v.ensemble);
  if (!Number.isInteger(id) || id <= 0) throw new UsageError(`--ensemble expects an ensemble id (the Ensembles screen or \`rrlhf ensemble train\` prints it), got "${v.ensemble ?? ''}"`);
  const lambda = num(v.lambda, 'lambda', 0.4);
  if (lambda > 1) throw new UsageError(`--lambda must be in [0, 1], got ${lambda}`);
  const store = openStore({ dataDir: resolveDataDir(v['data-dir']) });
  const ac = new AbortController();
  const onInt = () => { process.stderr.write('\nstopping after the batch in flight\n'); ac.abort(); process.off('SIGINT', onInt); };
  process.on('SIGINT', onInt);
  let res: RewardBenchResult;
  try {
    res = await runRewardBench(store, {
      ensembleId: id, file: positionals[0]!, lambda, ...(v.split !== undefined && { split: v.split }), ...(v.limit !== undefined && { limit: intOpt(v.limit, 'limit', 1) }),
      ...(v.tokenizer !== undefined && { tokenizer: v.tokenizer }), batchSize: intOpt(v['batch-size'], 'batch-size', 16),
    }, { device: deviceOpt(v.device), signal: ac.signal, onProgress: progress('pairs scored') });
  } finally { process.off('SIGINT', onInt); store.close(); }
  for (const r of res.rejected.slice(0, 10)) process.stderr.write(`skipped ${describeRejection(r)}\n`);
  const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(1)}%`);
  out(res, () => {
    const cols = res.scorers.map((s) => s.id);
    const row = (name: string, n: number | string, a: Record<string, number>) => `  ${name.padEnd(24)} ${String(n).padStart(5)}  ${cols.map((c) => pct(a[c]).padStart(8)).join('')}`;
    return [
      `ensemble ${res.ensemble.id} ("${res.ensemble.name}", ${res.ensemble.kind}, K = ${res.ensemble.heads}) on ${res.n} pairs; a pair is right when chosen scores higher`,
      `  ${''.padEnd(24)} ${'pairs'.padStart(5)}  ${cols.map((c) => c.padStart(8)).join('')}`,
      row('all pairs', res.n, res.overall),
      ...res.subsets.map((s) => row(s.subset, s.n, s.accuracy)),
      ...res.sections.map((s) => row(`[${s.section}]`, '', s.accuracy)),
      ...(res.score ? [row('[RewardBench score]', '', res.score)] : []),
      ...(res.rejected.length ? [`  ${res.rejected.length} records skipped`] : []),
    ].join('\n');
  });
  if (res.interrupted) throw new Error(`interrupted after ${res.interrupted.scored} of ${res.interrupted.of} pairs; the accuracies printed cover those`);
}
