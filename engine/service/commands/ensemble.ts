// `rrlhf ensemble train`: trains a reward-model ensemble on a built-in world and reports its quality.
//
//   world → π₀ (a fresh decoder + short SFT on the world's base behaviour) → preference pairs →
//   BRME (stage-1 Bradley–Terry, then K heads) or K independent Bradley–Terry models →
//   held-out report → saved under <data dir>/ensembles/<id>/ and recorded in the store.
import path from 'node:path';
import { type Command, UsageError, parse, intOpt, nonNegIntOpt, deviceOpt, progress } from '../cli-kit.js';
import { resolveDataDir } from '../../store/index.js';
import { WORLD_NAMES } from '../../worlds/index.js';
import { STAGE2_LOSSES, BRME_DEFAULTS, type Stage2Loss } from '../../rlhf/brme.js';
import { ENSEMBLE_DATA_DEFAULTS } from '../../rlhf/ensemble.js';
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
  heads: { type: 'string' }, method: { type: 'string' }, stage2: { type: 'string' }, bootstrap: { type: 'boolean' }, 'no-bootstrap': { type: 'boolean' }, anchor: { type: 'string' },
  unfreeze: { type: 'string' }, 'sft-samples': { type: 'string' }, 'rm-epochs': { type: 'string' }, 'stage2-epochs': { type: 'string' },
  out: { type: 'string' }, name: { type: 'string' }, model: { type: 'string' },
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
    'ensemble train (--world goodhart-lab|text-reviews | --dataset ID --model HF_DIR) [--seed S] [--pairs N] [--val-pairs N] [--heads K] [--method brme|independent]',
    '               [--stage2 mse|gaussian_nll|bt_gaussian|bt_per_head] [--bootstrap|--no-bootstrap] [--anchor C] [--unfreeze N] [--out DIR] [--name N]',
    `               [--sft-samples N] [--rm-epochs E] [--stage2-epochs E]   (defaults: goodhart-lab, ${ENSEMBLE_DATA_DEFAULTS.pairs}/${ENSEMBLE_DATA_DEFAULTS.valPairs} pairs, K ${BRME_DEFAULTS.heads}, brme, ${BRME_DEFAULTS.stage2Loss})`,
    '                                 train a reward ensemble on a built-in world or an imported dataset; prints held-out accuracy (nominal, mean, per head), σ, disagreement',
  ],
  async run(args, out) {
    const [sub, ...rest] = args;
    if (sub !== 'train') throw new UsageError(`unknown subcommand "ensemble ${sub ?? ''}"; available: train`);
    const { values: v } = parse(rest, OPTIONS);
    const datasetId = v.dataset === undefined ? undefined : Number(v.dataset);
    if (datasetId !== undefined && (!Number.isInteger(datasetId) || datasetId <= 0)) throw new UsageError(`--dataset must be a dataset id (rrlhf dataset list), got "${v.dataset}"`);
    if ((datasetId === undefined) !== (v.model === undefined)) throw new UsageError('--dataset ID and --model DIR go together: the Hugging Face model folder is the reward trunk and its tokenizer reads the dataset');
    if (datasetId !== undefined && v.world !== undefined) throw new UsageError('give either --world or --dataset, not both');
    const worldName = v.world ?? 'goodhart-lab';
    if (!(WORLD_NAMES as string[]).includes(worldName)) throw new UsageError(`--world must be one of ${WORLD_NAMES.join(', ')}, got "${worldName}"`);
    const method = v.method ?? 'brme';
    if (method !== 'brme' && method !== 'independent') throw new UsageError(`--method must be brme or independent, got "${method}"`);
    const stage2 = (v.stage2 ?? BRME_DEFAULTS.stage2Loss) as Stage2Loss;
    if (!STAGE2_LOSSES.includes(stage2)) throw new UsageError(`--stage2 must be one of ${STAGE2_LOSSES.join(', ')}, got "${v.stage2}"`);
    if (v.bootstrap && v['no-bootstrap']) throw new UsageError('--bootstrap and --no-bootstrap contradict each other; give one');
    if (method === 'independent' && (v.stage2 !== undefined || v.anchor !== undefined || v.unfreeze !== undefined)) {
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
      world: worldName, seed, heads, method, stage2Loss: stage2, anchor, unfreezeLastLayers: unfreeze,
      // Neither flag: the method's default (independent members bootstrap, BRME heads do not).
      ...(v.bootstrap ? { bootstrap: true } : v['no-bootstrap'] ? { bootstrap: false } : {}), pairs, valPairs, sftSamples, name: v.name,
      ...(datasetId !== undefined ? { datasetId, modelDir: path.resolve(v.model!) } : {}),
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
