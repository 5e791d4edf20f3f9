// `rrlhf reward serve`: serves a stored ensemble with one objective as an OpenRLHF remote reward model
// (engine/serve/reward-server.ts; docs/scaling.md § Reward server). The first line on stdout is the URL
// to give OpenRLHF (with the token on it, when there is one); with --json one JSON document
// {url, port, host, token, ensemble, objective}. Runs until Ctrl+C or SIGTERM.
import { type Command, UsageError, parse, intOpt, deviceOpt } from '../cli-kit.js';
import { openStore, resolveDataDir } from '../../store/index.js';
import { OBJECTIVES } from '../../rlhf/aggregate.js';
import { ObjectiveSchema } from '../../experiments/spec.js';
import { objectiveConfig } from '../../experiments/runner.js';
import { loadStoredEnsemble } from '../../serve/ensemble-text.js';
import { startRewardServer, isLoopback, randomToken, REWARD_SERVER_DEFAULTS, NORMALIZE_MODES, type NormalizeMode } from '../../serve/reward-server.js';

const OPTIONS = {
  ensemble: { type: 'string' }, objective: { type: 'string' }, lambda: { type: 'string' }, 'min-mode': { type: 'string' },
  'uwo-c': { type: 'string' }, 'softmin-beta': { type: 'string' }, 'nominal-member': { type: 'string' }, normalize: { type: 'string' },
  port: { type: 'string' }, host: { type: 'string' }, 'batch-size': { type: 'string' }, token: { type: 'string' }, 'no-token': { type: 'boolean' },
  'max-body-mb': { type: 'string' }, 'max-queries': { type: 'string' }, tokenizer: { type: 'string' },
} as const;

const SERVED = OBJECTIVES.filter((k) => k !== 'gold');

const num = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  return n;
};

export const reward: Command = {
  usage: [
    `reward serve --ensemble ID --objective ${SERVED.join('|')} [--lambda L] [--min-mode sample|batch] [--uwo-c C] [--softmin-beta B]`,
    '             [--normalize none|running] [--port P] [--host H] [--batch-size N] [--token T | --no-token] [--max-body-mb M] [--max-queries N] [--tokenizer DIR]',
    '                                 serve a stored ensemble as an OpenRLHF remote reward model (POST /get_reward); prints the URL and token',
  ],
  async run(args, out) {
    const [sub, ...rest] = args;
    if (sub !== 'serve') throw new UsageError(`unknown subcommand "reward ${sub ?? ''}"; available: serve`);
    const { values: v } = parse(rest, OPTIONS);
    const id = Number(v.ensemble);
    if (v.ensemble === undefined || !Number.isInteger(id) || id <= 0) throw new UsageError(`--ensemble must be an ensemble id (the Ensembles screen or \`rrlhf ensemble train\` shows it), got "${v.ensemble ?? ''}"`);
    const kind = v.objective;
    if (kind === undefined || !(SERVED as string[]).includes(kind)) throw new UsageError(`--objective must be one of ${SERVED.join(', ')}, got "${kind ?? ''}" (gold needs a world's gold reward)`);
    if (v.lambda !== undefined && kind !== 'robust') throw new UsageError('--lambda applies to --objective robust only');
    const spec = ObjectiveSchema.safeParse({
      name: kind, kind, ...Object.fromEntries(Object.entries({
        lambda: num(v.lambda, 'lambda'), minMode: v['min-mode'], uwoC: num(v['uwo-c'], 'uwo-c'), softminBeta: num(v['softmin-beta'], 'softmin-beta'), nominalMember: num(v['nominal-member'], 'nominal-member'),
      }).filter(([, x]) => x !== undefined)),
    });
    if (!spec.success) throw new UsageError(spec.error.issues.map((i) => `--${String(i.path[0] ?? 'objective').replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}: ${i.message}`).join('; '));
    const objective = objectiveConfig(spec.data);
    const normalize = (v.normalize ?? REWARD_SERVER_DEFAULTS.normalize) as NormalizeMode;
    if (!NORMALIZE_MODES.includes(normalize)) throw new UsageError(`--normalize must be one of ${NORMALIZE_MODES.join(', ')}, got "${v.normalize}"`);
    const port = v.port === undefined ? REWARD_SERVER_DEFAULTS.port : Number(v.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got "${v.port}"`);
    const host = v.host ?? REWARD_SERVER_DEFAULTS.host;
    if (v.token !== undefined && v['no-token']) throw new UsageError('--token and --no-token contradict each other; give one');
    if (v['no-token'] && !isLoopback(host)) throw new UsageError(`--no-token is refused with --host ${host}: other machines could reach the server; keep a token (the default) or listen on 127.0.0.1`);
    const token = v['no-token'] ? null : v.token ?? randomToken();
    const batchSize = intOpt(v['batch-size'], 'batch-size', REWARD_SERVER_DEFAULTS.batchSize);
    const maxBodyMb = num(v['max-body-mb'], 'max-body-mb') ?? REWARD_SERVER_DEFAULTS.maxBodyMb;
    if (!(maxBodyMb > 0)) throw new UsageError(`--max-body-mb must be > 0, got "${v['max-body-mb']}"`);
    const maxQueries = intOpt(v['max-queries'], 'max-queries', REWARD_SERVER_DEFAULTS.maxQueries);
    const device = deviceOpt(v.device);

    const store = openStore({ dataDir: resolveDataDir(v['data-dir']) });
    let loaded;
    try {
      loaded = await loadStoredEnsemble(store, id, { device, tokenizer: v.tokenizer });
    } finally { store.close(); }
    process.stderr.write(`loaded ensemble ${id} ("${loaded.name}", ${loaded.ensemble.kind}, K = ${loaded.ensemble.K}) from ${loaded.dir}; text is encoded with ${loaded.encoder.source}\n`);
    let server;
    try {
      server = await startRewardServer({
        ensemble: loaded.ensemble, encoder: loaded.encoder, ensembleId: id, ensembleName: loaded.name, objective, normalize,
        host, port, token, batchSize, maxBodyBytes: Math.floor(maxBodyMb * 2 ** 20), maxQueries,
        onError: (e) => process.stderr.write(`scoring failed: ${(e as Error).message}\n`),
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new Error(`port ${port} on ${host} is in use; pass another --port, or --port 0 for any free one`);
      throw err;
    }
    const withToken = server.token ? `${server.url}?token=${server.token}` : server.url;
    out({ url: server.url, port: server.port, host: server.host, token: server.token, ensemble: id, objective }, () => withToken);
    process.stderr.write([
      `serving ensemble ${id} with objective ${kind}${kind === 'robust' ? ` (λ = ${objective.lambda})` : ''}, normalisation ${normalize}, on ${server.url}`,
      server.token ? `token: ${server.token}  (send Authorization: Bearer TOKEN, or use the URL above, which carries it as ?token=)` : 'no token (loopback only)',
      `OpenRLHF: --reward.remote_url ${withToken}    health: GET ${server.url.replace(/get_reward$/, 'health')}`,
      'Press Ctrl+C to stop.',
    ].join('\n') + '\n');
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (sig: string) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`\n${sig}: stopping the reward server…\n`);
        void server.close().then(resolve, resolve);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
  },
};
