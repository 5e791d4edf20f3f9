// The reward server (docs/scaling.md § Reward server): a trained ensemble and one objective of
// engine/rlhf/aggregate.ts, served in OpenRLHF's remote reward-model protocol, so a large run on
// OpenRLHF (`--reward.remote_url http://HOST:PORT/get_reward`) or verl (a custom reward function that
// POSTs here) optimises the same robust reward a local study does.
//
//   POST /get_reward  {"query": [str], "prompts"?: [str], "labels"?: [...]}   (OpenRLHF's body; query is
//                     the full prompt + response text, so a given prompt must be its start)
//                  → {"rewards": [n], "scores": [n], "extra_logs": {key: [n]}, "rrlhf": {...}}
//                     rewards and scores as openrlhf/cli/serve_rm.py returns them (scores = rewards);
//                     extra_logs holds per-sample lists under the names of docs/metrics.md; rrlhf the
//                     per-sample, per-head μ and σ and the aggregate's parts.
//   GET  /health      {ensemble, name, objective, heads, kind, normalize, tokenizer}
//
// Scoring: sequences of all requests in flight are scored together in batches of `batchSize` (OpenRLHF
// sends one query per request, many at once); the aggregate is taken per request, so a 'batch' min
// mode is over that request's samples.
//
// Normalisation: 'none' (default) returns the objective's raw aggregate, as serve_rm does without
// --reward.normalize_enable. 'running' whitens it with RunningMoments exactly as a local study's
// `normalize: running` does (update with the request's rewards, then whiten), with one running state
// per server process, in the order requests are scored.
//
// Security: 127.0.0.1 by default. A token is required whenever the host is not loopback (startup is
// refused without one); on loopback it is optional. It is accepted as `Authorization: Bearer TOKEN` or as
// `?token=TOKEN` on the URL, because OpenRLHF's client sends no headers of its own. On loopback, requests
// addressed to another Host (DNS rebinding) are refused; any request with an Origin (a browser page) is
// refused; bodies must be JSON and are read up to maxBodyBytes.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Hono, type Context } from 'hono';
import { serve, type ServerType } from '@hono/node-server';
import { z } from 'zod';
import { aggregate, RunningMoments, ensembleStats, type ObjectiveConfig } from '../rlhf/aggregate.js';
import type { Ensemble, EnsembleScores } from '../rlhf/ensemble.js';
import { TextEncodeError, type TextEncoder } from './ensemble-text.js';
import { METRIC } from '../../common/metrics.js';

export const REWARD_SERVER_DEFAULTS = Object.freeze({ host: '127.0.0.1', port: 5000, batchSize: 16, maxBodyMb: 16, maxQueries: 4096, normalize: 'none' as const });
export const NORMALIZE_MODES = ['none', 'running'] as const;
export type NormalizeMode = (typeof NORMALIZE_MODES)[number];

export interface RewardServerOptions {
  ensemble: Ensemble;
  encoder: TextEncoder;
  /** Shown by /health and in `rrlhf` fields. */
  ensembleId: number | string;
  ensembleName?: string;
  objective: ObjectiveConfig;
  normalize?: NormalizeMode;
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** null or absent: no token (loopback only). */
  token?: string | null;
  batchSize?: number;
  maxBodyBytes?: number;
  maxQueries?: number;
  /** Called on a failed scoring (the client gets a 500). */
  onError?: (err: unknown) => void;
}

export interface RewardServer {
  /** http://HOST:PORT/get_reward (without the token). */
  url: string;
  host: string;
  port: number;
  token: string | null;
  close(): Promise<void>;
}

export const isLoopback = (host: string) => host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);

/** A crypto-strength token (32 random bytes, base64url). */
export const randomToken = () => randomBytes(32).toString('base64url');

export const RewardRequestSchema = z.looseObject({
  query: z.array(z.string(), { error: '"query" must be a list of strings (the full prompt + response texts)' }).min(1, '"query" must hold at least one text'),
  prompts: z.array(z.string(), { error: '"prompts", when given, must be a list of strings' }).optional(),
  labels: z.array(z.unknown()).optional(),
}).superRefine((v, ctx) => {
  if (v.prompts && v.prompts.length !== v.query.length) ctx.addIssue({ code: 'custom', path: ['prompts'], message: `"prompts" has ${v.prompts.length} entries for ${v.query.length} queries; give one per query` });
});

export interface SampleParts {
  /** μ per head. */
  mu: number[];
  /** σ per head (BRME only). */
  sigma?: number[];
  single: number;
  nominal: number;
  /** The min part of the robust objective (per sample, or the batch's worst head with minMode 'batch'). */
  min: number;
  mean: number;
  /** The objective's aggregate before normalisation. */
  raw: number;
}

export interface RewardResponse {
  rewards: number[];
  scores: number[];
  extra_logs: Record<string, number[]>;
  rrlhf: { ensemble: number | string; objective: ObjectiveConfig; lambda: number | null; normalize: NormalizeMode; samples: SampleParts[] };
}

/** The response for scored samples: the objective's aggregate, its parts and the docs/metrics.md views. */
export function rewardResponse(s: EnsembleScores, o: { ensembleId: number | string; objective: ObjectiveConfig; normalize: NormalizeMode; moments?: RunningMoments }): RewardResponse {
  const cfg = o.objective;
  const raw = aggregate(s, cfg);
  let rewards = raw;
  if (o.normalize === 'running') { o.moments!.update(raw); rewards = o.moments!.whiten(raw); }
  const nominal = aggregate(s, { ...cfg, kind: 'nominal' });
  const min = aggregate(s, { ...cfg, kind: 'wco' });
  const mean = aggregate(s, { ...cfg, kind: 'mean' });
  // reward/robust as a local run logs it: this objective's λ, or the aggregator's default for others.
  const robust = aggregate(s, { ...cfg, kind: 'robust', lambda: cfg.kind === 'robust' ? cfg.lambda : undefined });
  const per = s.mu.map((row) => ensembleStats([row]));
  const samples = s.mu.map((mu, i): SampleParts => ({
    mu, ...(s.sigma ? { sigma: s.sigma[i]! } : {}), single: s.single[i]!, nominal: nominal[i]!, min: min[i]!, mean: mean[i]!, raw: raw[i]!,
  }));
  return {
    rewards, scores: rewards,
    extra_logs: {
      [METRIC.rewardProxy]: raw, [METRIC.rewardNominal]: nominal, [METRIC.rewardRobust]: robust, [METRIC.rewardSingle]: [...s.single],
      [METRIC.ensembleMean]: per.map((p) => p.mean), [METRIC.ensembleStd]: per.map((p) => p.std), [METRIC.ensembleMin]: per.map((p) => p.min), [METRIC.ensembleMax]: per.map((p) => p.max),
    },
    rrlhf: { ensemble: o.ensembleId, objective: cfg, lambda: cfg.kind === 'robust' ? cfg.lambda ?? null : null, normalize: o.normalize, samples },
  };
}

/** Scores sequences of concurrent requests together, `batchSize` at a time, one batch after another. */
class Batcher {
  private queue: { seq: number[]; done: (r: { mu: number[]; sigma?: number[]; single: number } | Error) => void }[] = [];
  private busy = false;
  constructor(private readonly ens: Ensemble, private readonly batchSize: number, private readonly onError?: (e: unknown) => void) {}

  score(seqs: number[][]): Promise<EnsembleScores> {
    return new Promise((resolve, reject) => {
      const out: EnsembleScores = { mu: new Array(seqs.length), single: new Array(seqs.length) };
      let left = seqs.length, failed = false;
      seqs.forEach((seq, i) => this.queue.push({
        seq,
        done: (r) => {
          if (failed) return;
          if (r instanceof Error) { failed = true; reject(r); return; }
          out.mu[i] = r.mu; out.single[i] = r.single;
          if (r.sigma) (out.sigma ??= new Array(seqs.length))[i] = r.sigma;
          if (--left === 0) resolve(out);
        },
      }));
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.batchSize);
        try {
          const s = await this.ens.score(batch.map((b) => b.seq), this.batchSize);
          batch.forEach((b, i) => b.done({ mu: s.mu[i]!, ...(s.sigma ? { sigma: s.sigma[i]! } : {}), single: s.single[i]! }));
        } catch (err) {
          this.onError?.(err);
          const e = err instanceof Error ? err : new Error(String(err));
          for (const b of batch) b.done(e);
        }
      }
    } finally { this.busy = false; }
  }
}

/** The request body as UTF-8 text, or null (reading stops) once it passes `max` bytes. */
async function readLimited(req: Request, max: number): Promise<string | null> {
  if (!req.body) return '';
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > max) { await reader.cancel().catch(() => undefined); return null; }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startRewardServer(o: RewardServerOptions): Promise<RewardServer> {
  const host = o.host ?? REWARD_SERVER_DEFAULTS.host;
  const token = o.token ?? null;
  if (!isLoopback(host) && !token) {
    throw new Error(`the reward server would listen on ${host}, which other machines can reach, without a token; give one (--token T) or listen on 127.0.0.1`);
  }
  if (token !== null && token.length < 16) throw new Error('the token must be at least 16 characters; leave --token out for a random one');
  const batchSize = o.batchSize ?? REWARD_SERVER_DEFAULTS.batchSize;
  const maxBody = o.maxBodyBytes ?? REWARD_SERVER_DEFAULTS.maxBodyMb * 2 ** 20;
  const maxQueries = o.maxQueries ?? REWARD_SERVER_DEFAULTS.maxQueries;
  const normalize = o.normalize ?? 'none';
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
  if (o.objective.kind === 'gold') throw new Error('the gold objective needs a world\'s gold reward, which a served ensemble does not have; choose another objective');
  const moments = new RunningMoments();
  const batcher = new Batcher(o.ensemble, batchSize, o.onError);
  const tokenBuf = token === null ? null : Buffer.from(token);
  let port = 0;

  const tokenOk = (c: Context) => {
    if (!tokenBuf) return true;
    const auth = c.req.header('authorization');
    const given = auth?.startsWith('Bearer ') ? auth.slice(7) : c.req.query('token');
    if (!given) return false;
    const b = Buffer.from(given);
    return b.length === tokenBuf.length && timingSafeEqual(b, tokenBuf);
  };
  const health = () => ({
    ensemble: o.ensembleId, name: o.ensembleName ?? null, kind: o.ensemble.kind, heads: o.ensemble.K, objective: o.objective, normalize,
    tokenizer: o.encoder.source, batch_size: batchSize, ...(normalize === 'running' ? { moments: moments.state() } : {}),
  });

  const app = new Hono();
  app.use('*', async (c, next) => {
    if (isLoopback(host)) {
      const h = c.req.header('host') ?? '';
      if (![`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${host}:${port}`].includes(h)) return c.json({ error: `wrong Host header "${h}": address this server as 127.0.0.1:${port}` }, 421);
    }
    if (c.req.header('origin') !== undefined) return c.json({ error: 'requests from web pages are refused' }, 403);
    if (!tokenOk(c)) return c.json({ error: 'missing or wrong token: send Authorization: Bearer TOKEN or add ?token=TOKEN to the URL (`rrlhf reward serve` printed both)' }, 401);
    await next();
    c.res.headers.set('Cache-Control', 'no-store');
  });
  app.get('/health', (c) => c.json(health()));
  app.post('/get_reward', async (c) => {
    if (!(c.req.header('content-type') ?? '').startsWith('application/json')) return c.json({ error: 'send the body as JSON (Content-Type: application/json)' }, 415);
    const len = Number(c.req.header('content-length') ?? 0);
    if (len > maxBody) return c.json({ error: `the body is too large (${len} bytes; at most ${maxBody})` }, 413, { Connection: 'close' });
    const text = await readLimited(c.req.raw, maxBody);
    if (text === null) return c.json({ error: `the body is too large (more than ${maxBody} bytes)` }, 413, { Connection: 'close' });
    let body: unknown;
    try { body = JSON.parse(text); } catch (e) { return c.json({ error: `the body is not valid JSON: ${(e as Error).message}` }, 400); }
    if (body && typeof body === 'object' && Array.isArray((body as { query?: unknown }).query) && (body as { query: unknown[] }).query.length > maxQueries) {
      return c.json({ error: `${(body as { query: unknown[] }).query.length} queries in one request; at most ${maxQueries}` }, 413);
    }
    const parsed = RewardRequestSchema.safeParse(body);
    if (!parsed.success) return c.json({ error: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') }, 400);
    const { query, prompts } = parsed.data;
    const seqs: number[][] = [];
    for (let i = 0; i < query.length; i++) {
      const q = query[i]!;
      const p = prompts?.[i] ?? '';
      if (!q.startsWith(p)) return c.json({ error: `query ${i} does not start with prompts[${i}]; "query" must be the full prompt + response text` }, 400);
      try {
        const e = o.encoder.encode(p, q.slice(p.length));
        seqs.push([...e.prompt, ...e.response]);
      } catch (err) {
        if (err instanceof TextEncodeError) return c.json({ error: `query ${i}: ${err.message}` }, 400);
        throw err;
      }
    }
    let s: EnsembleScores;
    try { s = await batcher.score(seqs); } catch (err) { return c.json({ error: `scoring failed: ${(err as Error).message}` }, 500); }
    return c.json(rewardResponse(s, { ensembleId: o.ensembleId, objective: o.objective, normalize, moments }));
  });
  app.notFound((c) => c.json({ error: 'not found: POST /get_reward or GET /health' }, 404));
  app.onError((err, c) => { o.onError?.(err); return c.json({ error: `internal error: ${err.message}` }, 500); });

  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: o.port ?? REWARD_SERVER_DEFAULTS.port, hostname: host }, () => resolve(s));
    s.once('error', reject);
  });
  port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/get_reward`, host, port, token,
    close: () => new Promise<void>((resolve) => {
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}
