// `rrlhf bon`: best-of-n on a built-in world's π₀, a stored run's policy or a model folder
// (docs/method.md § Best-of-n). Per objective a curve {n, kl_bon, proxy, gold?} with Student-t intervals
// over seeds, Gao's fit and the turnover; the result is stored (store.bon, API bon.get). Progress on
// stderr; Ctrl-C stops after the batch in flight (the record becomes 'cancelled', nothing is printed).
import { type Command, UsageError, parse, intOpt, deviceOpt } from '../cli-kit.js';
import { openStore, resolveDataDir } from '../../store/index.js';
import { OBJECTIVES } from '../../rlhf/aggregate.js';
import { BonRequestSchema, executeBon, BON_LIMITS } from '../bon.js';
import { type BonObjectiveResult } from '../../experiments/bon.js';
import { WORLD_NAMES } from '../../worlds/index.js';

const USAGE = 'usage: rrlhf bon (--world NAME [--world-seed S] [--label-noise F] [--method brme|independent] [--heads K] | --run ID | --model DIR --ensemble ID) [--objectives single,mean,wco,...] [--lambda L] [--n N] [--prompts P] [--seeds K] [--batch-size B] [--name NAME]';

const num = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  return n;
};

const f = (x: number | null | undefined, d = 2) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));

function human(name: string, o: BonObjectiveResult): string {
  const lines = [`${o.name}:`, '     n  KL_bon   proxy [95% CI]          gold [95% CI]'];
  for (const p of o.curve) {
    lines.push(`${String(p.n).padStart(6)}  ${f(p.kl_bon).padStart(6)}   ${f(p.proxy.mean).padStart(6)} [${f(p.proxy.lo)}, ${f(p.proxy.hi)}]`.padEnd(44) + (p.gold ? `${f(p.gold.mean).padStart(6)} [${f(p.gold.lo)}, ${f(p.gold.hi)}]` : ''));
  }
  if (o.fit) lines.push(`  Gao fit of ${o.fit_of}: α ${f(o.fit.alpha, 3)}, β ${f(o.fit.beta, 3)}, R² ${f(o.fit.r2, 3)}, ${o.fit.dPeak === null ? 'no turnover' : `turns over at d ${f(o.fit.dPeak)} (KL ${f(o.fit.klPeak)}, n ≈ ${o.fit.nPeak ?? '> 2^40'})`}`);
  if (o.peak) lines.push(`  best mean gold at n = ${o.peak.n}; gold(n = ${o.peak.n}) − gold(N) = ${f(o.peak.drop_to_N.mean)} [${f(o.peak.drop_to_N.lo)}, ${f(o.peak.drop_to_N.hi)}]${o.peak.drop_to_N.significant ? ' *' : ''}`);
  void name;
  return lines.join('\n');
}

export const bon: Command = {
  usage: [
    'bon (--world NAME [--world-seed S] [--label-noise F] [--method brme|independent] [--heads K] | --run ID | --model DIR --ensemble ID)',
    '    [--objectives single,mean,wco,...] [--lambda L] [--n N] [--prompts P] [--seeds K] [--batch-size B] [--name NAME]',
    '                                best-of-n curves (proxy and gold vs KL_bon) per objective, Gao fit, paired t intervals over seeds',
  ],
  async run(args, out) {
    const { values: v, positionals } = parse(args, {
      world: { type: 'string' }, 'world-seed': { type: 'string' }, 'label-noise': { type: 'string' }, method: { type: 'string' }, heads: { type: 'string' },
      run: { type: 'string' }, model: { type: 'string' }, ensemble: { type: 'string' },
      objectives: { type: 'string' }, lambda: { type: 'string' }, n: { type: 'string' }, prompts: { type: 'string' }, seeds: { type: 'string' },
      'batch-size': { type: 'string' }, name: { type: 'string' },
    }, true);
    if (positionals.length) throw new UsageError(`bon takes no positional arguments (got "${positionals[0]}")\n${USAGE}`);
    const given = [v.world !== undefined, v.run !== undefined, v.model !== undefined].filter(Boolean).length;
    if (given !== 1) throw new UsageError(`bon needs exactly one of --world NAME, --run ID and --model DIR\n${USAGE}`);
    if ((v.model !== undefined) !== (v.ensemble !== undefined)) throw new UsageError('--model DIR and --ensemble ID go together: the ensemble scores the model\'s samples');
    const worldOnly = (['world-seed', 'label-noise', 'method', 'heads'] as const).filter((k) => v[k] !== undefined);
    if (v.world === undefined && worldOnly.length) throw new UsageError(`--${worldOnly[0]} applies to --world only (a run or a stored ensemble brings its own)`);
    const id = (x: string | undefined, what: string) => { const n = Number(x); if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${what} must be a positive integer id, got "${x}"`); return n; };
    let source: Record<string, unknown>;
    if (v.world !== undefined) {
      if (!(WORLD_NAMES as string[]).includes(v.world)) throw new UsageError(`--world must be one of ${WORLD_NAMES.join(', ')} (for your own data use --run ID or --model DIR --ensemble ID), got "${v.world}"`);
      const noise = num(v['label-noise'], 'label-noise');
      if (noise !== undefined && !(noise >= 0 && noise <= 0.5)) throw new UsageError(`--label-noise must be in [0, 0.5], got ${noise}`);
      source = {
        kind: 'world', name: v.world, seed: v['world-seed'] === undefined ? 0 : Number(v['world-seed']),
        // Coste et al.'s label noise: hard labels by gold, each flipped with probability F (the worlds' 'flip' labels).
        settings: noise === undefined ? {} : { labels: 'flip', flipRate: noise },
        ensemble: { ...(v.method !== undefined ? { method: v.method } : {}), ...(v.heads !== undefined ? { heads: intOpt(v.heads, 'heads', 5) } : {}) },
      };
    } else if (v.run !== undefined) source = { kind: 'run', runId: id(v.run, 'run') };
    else source = { kind: 'model', modelDir: v.model, ensembleId: id(v.ensemble, 'ensemble') };
    let objectives: Record<string, unknown>[] | undefined;
    if (v.objectives !== undefined) {
      const kinds = v.objectives.split(',').map((s) => s.trim()).filter(Boolean);
      const bad = kinds.filter((k) => !(OBJECTIVES as readonly string[]).includes(k));
      if (!kinds.length || bad.length) throw new UsageError(`--objectives takes a comma-separated list of ${OBJECTIVES.join(', ')}; ${bad.length ? `unknown: ${bad.join(', ')}` : 'got none'}`);
      const lambda = num(v.lambda, 'lambda');
      objectives = kinds.map((kind) => ({ name: kind === 'robust' && lambda !== undefined ? `robust λ=${lambda}` : kind, kind, ...(kind === 'robust' && lambda !== undefined ? { lambda } : {}) }));
    } else if (v.lambda !== undefined) {
      objectives = OBJECTIVES.map((kind) => ({ name: kind === 'robust' ? `robust λ=${v.lambda}` : kind, kind, ...(kind === 'robust' ? { lambda: num(v.lambda, 'lambda') } : {}) }));
    }
    const seeds = intOpt(v.seeds, 'seeds', 8);
    if (seeds > BON_LIMITS.maxSeeds) throw new UsageError(`--seeds may be at most ${BON_LIMITS.maxSeeds}`);
    const req = BonRequestSchema.safeParse({
      ...(v.name !== undefined ? { name: v.name } : {}), source, ...(objectives ? { objectives } : {}),
      n: intOpt(v.n, 'n', 256), prompts: intOpt(v.prompts, 'prompts', 8), seeds: Array.from({ length: seeds }, (_, i) => i), batchSize: intOpt(v['batch-size'], 'batch-size', 256),
    });
    if (!req.success) throw new UsageError(req.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; '));
    const device = deviceOpt(v.device);
    const dataDir = resolveDataDir(v['data-dir']);
    const store = openStore({ dataDir });
    const ac = new AbortController();
    const onInt = () => { process.stderr.write('\nstopping after the batch in flight (Ctrl-C again to quit at once)\n'); ac.abort(); process.off('SIGINT', onInt); };
    process.on('SIGINT', onInt);
    const t0 = Date.now();
    let lastLine = 0;
    try {
      const r = await executeBon(req.data, {
        store, dataDir, device, signal: ac.signal,
        onCreated: (bonId) => process.stderr.write(`best-of-n ${bonId}: N = ${req.data.n}, ${req.data.prompts} prompts, ${req.data.seeds.length} seeds\n`),
        onProgress: (e) => {
          const now = Date.now();
          // Chunk progress at most every 2 s (and always its last chunk); other messages always.
          if (e.done !== undefined && e.done !== e.total && now - lastLine < 2000) return;
          lastLine = now;
          process.stderr.write(`[bon ${((now - t0) / 1000).toFixed(0)}s] ${e.message}\n`);
        },
      });
      const { result } = r;
      out({ id: r.id, name: r.name, source: r.source, N: result.N, prompts: result.prompts, seeds: result.seeds, has_gold: result.has_gold, baseline: result.baseline, objectives: result.objectives, wall_s: (Date.now() - t0) / 1000 },
        () => [`best-of-n ${r.id} ("${r.name}"): N = ${result.N}, ${result.prompts} prompts, ${result.seeds.length} seeds; intervals are 95% Student-t over seeds`, ...result.objectives.map((o) => human(r.name, o))].join('\n\n'));
    } finally {
      process.off('SIGINT', onInt);
      store.close();
    }
  },
};
