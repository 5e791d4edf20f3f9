// Batched generation with a KV cache. Prompts of different lengths are left-padded; one "prefill"
// graph runs the prompts and returns the cache, then one "decode" graph per token appends to it.
// Both graphs are compiled once (the cache length is a symbolic dim) and weights are fed as the same
// wrapped host arrays every step. On the CPU the cache is kept in two segments so that a token does not
// copy all of it: the decode graph reads an older segment and appends only to a short recent one, which a small
// "merge" graph folds into the older every ~√(2·older) tokens (docs/engine.md § Two-segment KV cache).
//
// Sampling runs on the host from the last position's logits: temperature, top-k, top-p, seeded RNG.
// The log-prob returned per token is under the temperature-scaled full distribution (what PPO's
// policy ratio recomputes), not under the top-k/top-p truncated one.
//
// On devices that keep state in device memory (CUDA, WebGPU) greedy decoding and plain temperature
// sampling run inside the graph instead: the host feeds one uniform per row from the same seeded RNG, the graph inverts
// the CDF of softmax(logits/τ) and returns the token and its log-prob. This keeps the [B, vocab]
// logits on the GPU: copying them out and sampling 16 × 50257 values in JavaScript cost ~60 ms per
// token on a GPT-2-sized vocabulary, ten times the decode step itself. The distribution is the same up
// to float32 rounding of the running sum (tokens below ~3e-8 of probability are not drawn); the draws
// differ from the host's (which also skips finished rows), so CPU runs, the reference, sample on the host.

import { HALF_DTYPE } from '../runtime/precision.js';
import { Graph, type Tensor, F } from '../graph/index.js';
import { type Feed, i64, type CompiledGraph, compile, toHost, downloadAll, scalarF32 } from '../runtime/session.js';
import { typedArrayFor } from '../graph/shape.js';
import { keepsOutputsOnDevice, resolveDevice } from '../runtime/devices.js';
import { Rng } from '../runtime/params.js';
import { type CausalLM } from './model.js';
import { type KV } from './decoder.js';
import { checkPositions } from './config.js';

export interface SampleOptions {
  maxNewTokens: number;
  /** 0 = greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** The id(s) that end a row; absent: the model's (models/special-tokens.ts, every EOS generation_config.json lists). */
  eosId?: number | readonly number[] | null;
  padId?: number;
  seed?: number;
  /** Stop a row at EOS (default true). */
  stopAtEos?: boolean;
  /** Also stop a row when this says so, given its tokens so far (e.g. a stop string in its text). */
  stopWhen?: (row: number, tokens: number[]) => boolean;
  /** The KV cache's layout (docs/engine.md § Two-segment KV cache): default two segments on the CPU, one on GPUs. */
  kvCache?: 'segmented' | 'single';
}

export interface Generation {
  /** Generated tokens per row (EOS included when emitted). */
  tokens: number[][];
  /** Log-prob of each generated token under the sampling distribution (temperature applied). */
  logprobs: number[][];
  /** Whether each row stopped at EOS (or where stopWhen said so). */
  finished: boolean[];
}

function kvShape(m: CausalLM, t: string | number): (string | number)[] {
  const c = m.config;
  return c.arch === 'gpt2' ? ['B', c.nHead, t, c.d / c.nHead] : c.arch === 'gpt_neox' ? ['B', c.nHead, t, c.headDim] : ['B', c.nKvHead, t, c.headDim];
}

interface Graphs { prefill: Promise<CompiledGraph>; decode: Promise<CompiledGraph>; merge: Promise<CompiledGraph> | null }
/** Graphs per model instance, sampling mode and cache layout: prefill, decode and (two segments) the cache's merge. */
const cache = new WeakMap<CausalLM, Map<string, Graphs>>();

/** How the next token is picked: on the host from downloaded logits, or inside the graph. */
type PickMode = 'host' | 'sample' | 'greedy';

/** In-graph picking from the last position's logits [B, V]. `sample`: given uniforms u [B] in [0, 1),
 *  the first index whose cumulative probability under softmax(logits/τ) reaches u (inverse CDF, as the
 *  host sampler walks it). `greedy`: the first largest logit. Either way with its log-prob (under
 *  softmax(logits/τ), or softmax(logits) when greedy, as sampleToken reports). */
export function sampleInGraph(g: Graph, logits: Tensor, vocab: number, mode: 'sample' | 'greedy' = 'sample'): { token: Tensor; logprob: Tensor } {
  let logp: Tensor, token: Tensor;
  if (mode === 'greedy') {
    logp = F.logSoftmax(logits, -1);
    token = F.argmax(logits, -1);
  } else {
    const u = g.input('u', 'float32', ['B']);
    const invTemp = g.input('inv_temp', 'float32', []);
    logp = F.logSoftmax(F.mul(logits, invTemp), -1);
    const cdf = F.cumsum(F.exp(logp), 1);
    const target = F.mul(F.unsqueeze(u, 1), F.slice(cdf, 1, -1, null)); // scaled by the total mass (≈ 1)
    // Counting in float32 is exact up to 2^24 > any vocabulary; clamped for u·total rounding to the top.
    const below = F.sum(F.cast(F.less(cdf, target), 'float32'), 1);
    token = F.cast(F.minimum(below, vocab - 1), 'int64');
  }
  const logprob = F.squeeze(F.takeAlongAxis(logp, F.unsqueeze(token, 1), 1), 1);
  return { token, logprob };
}

/** `segmented`: the two-segment cache (CPU, where the per-token copy of the whole cache costs memory
 *  bandwidth); one segment on GPUs, where copies are cheap and each extra small kernel costs a launch. */
function graphsFor(m: CausalLM, pick: PickMode, segmented: boolean) {
  let modes = cache.get(m);
  if (!modes) { modes = new Map(); cache.set(m, modes); }
  const key = `${pick}:${segmented}`;
  let gs = modes.get(key);
  if (gs) return gs;
  const nLayer = m.config.nLayer;
  const outputs = (g: Graph, logits: Tensor, present: KV[]) => {
    // Last position [B, V]. Both graphs already project only the last position (logits [B, 1, V]), so a
    // Squeeze (a view in ORT) does it; a Slice there copied the [B, 1, V] logits once per token.
    const last = F.squeeze(logits.shape[1] === 1 ? logits : F.slice(logits, 1, -1, null), 1);
    if (pick !== 'host') {
      const { token, logprob } = sampleInGraph(g, last, m.config.vocabSize, pick);
      g.output('token', token);
      g.output('logprob', logprob);
    } else {
      g.output('logits', last);
    }
    present.forEach((kv, i) => { g.output(`present.${i}.k`, F.cast(kv.k, kvDtype)); g.output(`present.${i}.v`, F.cast(kv.v, kvDtype)); });
  };
  // Mixed precision keeps the KV cache in the half dtype (as transformers does under autocast).
  const kvDtype = HALF_DTYPE[m.precision] ?? 'float32';
  const pg = new Graph(`${m.config.arch}_prefill`);
  {
    const p = m.paramInputs(pg);
    const ids = pg.input('input_ids', 'int64', ['B', 'T']);
    const mask = pg.input('attention_mask', 'int64', ['B', 'T']);
    const { hidden, present } = m.trace(pg, p, ids, mask);
    outputs(pg, m.arch.lmHead(p, m.config, F.slice(hidden, 1, -1, null)), present);
  }
  // Decode: the past is the older segment (O positions) then the recent one (S); past_mask covers both.
  const dg = new Graph(`${m.config.arch}_decode`);
  {
    const p = m.paramInputs(dg);
    const ids = dg.input('input_ids', 'int64', ['B', 1]);
    const pastMask = dg.input('past_mask', 'int64', ['B', 'P']);
    const positions = dg.input('position_ids', 'int64', ['B', 1]);
    const past: KV[] = [];
    for (let i = 0; i < nLayer; i++) {
      const older = segmented ? { k: dg.input(`older.${i}.k`, kvDtype, kvShape(m, 'O')), v: dg.input(`older.${i}.v`, kvDtype, kvShape(m, 'O')) } : undefined;
      // One segment: the past is all P positions (the mask's symbol, so the bias and the scores line up).
      const t = segmented ? 'S' : 'P';
      past.push({ k: dg.input(`past.${i}.k`, kvDtype, kvShape(m, t)), v: dg.input(`past.${i}.v`, kvDtype, kvShape(m, t)), ...(older ? { older } : {}) });
    }
    const keyMask = F.concat([pastMask, F.full(dg, ['B', 1], 1, 'int64')], 1);
    m.autocast(dg);
    const { hidden, present } = m.arch.trunk(dg, p, m.config, { ids, positions, ...m.attentionBiases(dg, keyMask, 1), past });
    outputs(dg, m.arch.lmHead(p, m.config, hidden), present);
  }
  // Merge (two segments only): older ++ recent, per layer (no weights).
  const merge = () => {
    const mg = new Graph(`${m.config.arch}_kv_merge`);
    for (let i = 0; i < nLayer; i++) {
      for (const kv of ['k', 'v']) {
        const older = mg.input(`older.${i}.${kv}`, kvDtype, kvShape(m, 'O'));
        const recent = mg.input(`past.${i}.${kv}`, kvDtype, kvShape(m, 'S'));
        mg.output(`merged.${i}.${kv}`, F.concat([older, recent], 2));
      }
    }
    return compile(mg, { device: m.device, keepOnDevice });
  };
  // The KV cache stays on the device between tokens on GPU providers; only logits come back.
  const keepOnDevice = (name: string) => name.startsWith('present.') || name.startsWith('merged.');
  gs = { prefill: compile(pg, { device: m.device, keepOnDevice }), decode: compile(dg, { device: m.device, keepOnDevice, decode: true }), merge: segmented ? merge() : null };
  modes.set(key, gs);
  return gs;
}

/** Whether to fold a recent segment of `recent` positions into an older one of `older`: copying the
 *  recent segment per token costs ~recent, a merge ~older + recent, so merging at recent ≈ √(2·older)
 *  keeps the copies per token near √(2·older) instead of the whole cache (older + recent). */
export function mergeDue(older: number, recent: number): boolean {
  return recent >= Math.max(2, Math.ceil(Math.sqrt(2 * older)));
}

/** Left-pads rows to a common length; returns ids, mask and each row's real length. */
export function leftPad(rows: number[][], padId: number) {
  const T = Math.max(...rows.map((r) => r.length));
  if (rows.some((r) => r.length === 0)) throw new Error('every prompt needs at least one token');
  const ids: number[] = [], mask: number[] = [];
  for (const r of rows) {
    for (let i = r.length; i < T; i++) { ids.push(padId); mask.push(0); }
    ids.push(...r); mask.push(...r.map(() => 1));
  }
  return { ids, mask, T };
}

/** Picks a token from one row of logits. Returns the token and its log-prob under softmax(logits/τ). */
export function sampleToken(logits: Float32Array, opts: SampleOptions, rng: Rng): { token: number; logprob: number } {
  const V = logits.length;
  const temp = opts.temperature ?? 1;
  const scaled = new Float64Array(V);
  let max = -Infinity;
  for (let i = 0; i < V; i++) { scaled[i] = logits[i]! / (temp > 0 ? temp : 1); if (scaled[i]! > max) max = scaled[i]!; }
  let z = 0;
  for (let i = 0; i < V; i++) z += Math.exp(scaled[i]! - max);
  const logZ = max + Math.log(z);
  let token: number;
  if (temp <= 0) {
    token = 0;
    for (let i = 1; i < V; i++) if (scaled[i]! > scaled[token]!) token = i;
  } else {
    const k = opts.topK && opts.topK > 0 ? Math.min(opts.topK, V) : V;
    const topP = opts.topP ?? 1;
    if (k === V && topP >= 1) {
      // The whole vocabulary in index order: no candidate list (the common case, and the costly one).
      const p = new Float64Array(V);
      let mass = 0;
      for (let i = 0; i < V; i++) { p[i] = Math.exp(scaled[i]! - logZ); mass += p[i]!; }
      let u = rng.uniform() * mass;
      token = V - 1;
      for (let i = 0; i < V; i++) {
        u -= p[i]!;
        if (u <= 0) { token = i; break; }
      }
    } else {
      // Candidates sorted by probability, truncated by top-k then top-p (nucleus).
      let order = Array.from({ length: V }, (_, i) => i);
      order.sort((a, b) => scaled[b]! - scaled[a]!);
      order = order.slice(0, k);
      if (topP < 1) {
        let cum = 0, cut = order.length;
        for (let j = 0; j < order.length; j++) {
          cum += Math.exp(scaled[order[j]!]! - logZ);
          if (cum >= topP) { cut = j + 1; break; }
        }
        order = order.slice(0, cut);
      }
      let mass = 0;
      for (const i of order) mass += Math.exp(scaled[i]! - logZ);
      let u = rng.uniform() * mass;
      token = order[order.length - 1]!;
      for (const i of order) {
        u -= Math.exp(scaled[i]! - logZ);
        if (u <= 0) { token = i; break; }
      }
    }
  }
  return { token, logprob: scaled[token]! - logZ };
}

export async function generate(m: CausalLM, prompts: number[][], opts: SampleOptions): Promise<Generation> {
  const B = prompts.length;
  const eosOpt = opts.eosId === undefined ? m.specialTokens.eosIds : opts.eosId;
  const eosIds = new Set(eosOpt === null ? [] : typeof eosOpt === 'number' ? [eosOpt] : eosOpt);
  const pad = opts.padId ?? (opts.eosId === undefined ? m.specialTokens.pad : null) ?? [...eosIds][0] ?? 0;
  const stopAtEos = opts.stopAtEos ?? true;
  const rng = new Rng(opts.seed ?? 0);
  const temp = opts.temperature ?? 1;
  const truncated = (opts.topK !== undefined && opts.topK > 0 && opts.topK < m.config.vocabSize) || (opts.topP ?? 1) < 1;
  const device = (await resolveDevice(m.device)).device;
  const onDevice = (temp <= 0 || !truncated) && process.env.RRLHF_HOST_SAMPLING !== '1' && keepsOutputsOnDevice(device);
  const pick: PickMode = !onDevice ? 'host' : temp <= 0 ? 'greedy' : 'sample';
  const segmented = (opts.kvCache ?? (device === 'cpu' ? 'segmented' : 'single')) === 'segmented';
  const { prefill, decode, merge: merge_ } = graphsFor(m, pick, segmented);
  await m.params.upload(m.feedNames(), m.device); // weights live on the GPU, not re-sent per token
  const weights = m.paramFeeds();
  // In-graph sampling: one uniform per row for the token the next run picks.
  const draw = (): Record<string, Feed> => (pick === 'sample'
    // float32 would round a uniform within 2^-25 of 1 up to 1.0; keep it below.
    ? { u: { dtype: 'float32', shape: [B], data: Float32Array.from(prompts, () => Math.min(rng.uniform(), 1 - 2 ** -24)) }, inv_temp: scalarF32(1 / temp) }
    : {});
  const { ids, mask, T } = leftPad(prompts, pad);
  checkPositions(m.config, T + opts.maxNewTokens);
  let r = await (await prefill).runRaw({ ...weights, input_ids: i64(ids, [B, T]), attention_mask: i64(mask, [B, T]), ...draw() });
  const tokens: number[][] = prompts.map(() => []), logprobs: number[][] = prompts.map(() => []);
  const finished = prompts.map(() => false);
  const pastMask = [...mask];
  const positions = prompts.map((p) => p.length);
  const V = m.config.vocabSize;
  const [dec, merge] = await Promise.all([decode, merge_]);
  // The cache: the prefill's as the older segment, an empty recent one (empty feeds are host tensors);
  // with one segment, the prefill's as the recent one, which then holds the whole cache.
  const layerNames = Array.from({ length: m.config.nLayer }, (_, i) => [`${i}.k`, `${i}.v`]).flat();
  const kvDtype = dec.inputs.find((i) => i.name === 'past.0.k')!.dtype;
  const emptyRecent = (): Record<string, Feed> => Object.fromEntries(layerNames.map((n) => {
    const [b, h, , dh] = dec.inputs.find((i) => i.name === `past.${n}`)!.shape;
    return [n, { dtype: kvDtype, shape: [B, h as number, 0, dh as number], data: typedArrayFor(kvDtype, 0) }];
  }));
  const prefilled: Record<string, Feed> = Object.fromEntries(layerNames.map((n) => [n, r[`present.${n}`]!]));
  let older: Record<string, Feed> = segmented ? prefilled : {};
  let recent = segmented ? emptyRecent() : prefilled;
  let O = segmented ? T : 0, S = segmented ? 0 : T;
  const release = (kv: Record<string, Feed>) => { for (const t of Object.values(kv)) if ('dispose' in t) t.dispose(); };
  for (let step = 0; step < opts.maxNewTokens; step++) {
    // Token and log-prob come back in one download run, not one each.
    const picked = onDevice ? await downloadAll([r.token!, r.logprob!]).then(([token, logprob]) => ({ token: token as BigInt64Array, logprob: logprob as Float32Array })) : undefined;
    const logits = onDevice ? undefined : (await toHost(r.logits!)).data as Float32Array;
    const next: number[] = [];
    for (let b = 0; b < B; b++) {
      if (finished[b]) { next.push(pad); continue; }
      const { token, logprob } = picked
        ? { token: Number(picked.token[b]), logprob: picked.logprob[b]! }
        : sampleToken(logits!.subarray(b * V, (b + 1) * V), opts, rng);
      tokens[b]!.push(token); logprobs[b]!.push(logprob);
      if (stopAtEos && eosIds.has(token)) finished[b] = true;
      else if (opts.stopWhen?.(b, tokens[b]!)) finished[b] = true;
      next.push(token);
    }
    if (finished.every(Boolean) || step === opts.maxNewTokens - 1) break;
    if (merge && mergeDue(O, S)) {
      const mr = await merge.runRaw(Object.fromEntries(layerNames.flatMap((n) => [[`older.${n}`, older[n]!], [`past.${n}`, recent[n]!]])));
      release(older); release(recent);
      older = Object.fromEntries(layerNames.map((n) => [n, mr[`merged.${n}`]!]));
      recent = emptyRecent();
      O += S; S = 0;
    }
    const feeds: Record<string, Feed> = {
      ...weights, input_ids: i64(next, [B, 1]), past_mask: i64(pastMask, [B, O + S]), position_ids: i64(positions, [B, 1]), ...draw(),
    };
    for (const n of layerNames) { if (segmented) feeds[`older.${n}`] = older[n]!; feeds[`past.${n}`] = recent[n]!; }
    r = await dec.runRaw(feeds);
    release(recent); // free the old recent segment
    recent = Object.fromEntries(layerNames.map((n) => [n, r[`present.${n}`]!]));
    // The token just fed becomes part of the past: extend the mask row by row.
    const P = O + S, grown: number[] = [];
    for (let b = 0; b < B; b++) grown.push(...pastMask.slice(b * P, (b + 1) * P), 1);
    pastMask.splice(0, pastMask.length, ...grown);
    S += 1;
    for (let b = 0; b < B; b++) positions[b]! += 1;
  }
  release(older); release(recent);
  return { tokens, logprobs, finished };
}

/** Per-token log-probs of given sequences in one pass: for left-padded rows ids [B, T] with mask,
 *  returns [B][T−1] log p(ids[t+1] | ids[..t]) (0 at padded positions), under softmax(logits / temperature)
 *  — the distribution generate() samples from at that temperature. Used for evaluation KL. */
export async function scoreLogprobs(m: CausalLM, rows: number[][], padId = 0, temperature = 1): Promise<number[][]> {
  if (!(temperature > 0)) throw new Error(`temperature must be positive, got ${temperature}`);
  let c = scorers.get(m);
  if (!c) {
    const g = new Graph(`${m.config.arch}_score`);
    const p = m.paramInputs(g);
    const ids = g.input('input_ids', 'int64', ['B', 'T']);
    const mask = g.input('attention_mask', 'int64', ['B', 'T']);
    // 1/temperature is an input, so one compiled graph serves every temperature.
    const invTemp = g.input('inv_temperature', 'float32', []);
    const logits = F.mul(m.arch.lmHead(p, m.config, m.trace(g, p, ids, mask).hidden), invTemp);
    const logp = F.logSoftmax(F.slice(logits, 1, 0, -1), -1);
    const tok = F.squeeze(F.takeAlongAxis(logp, F.unsqueeze(F.slice(ids, 1, 1, null), -1), -1), -1);
    g.output('logprobs', F.mul(tok, F.cast(F.slice(mask, 1, 1, null), 'float32')));
    c = compile(g, { device: m.device });
    scorers.set(m, c);
  }
  const B = rows.length;
  const { ids, mask, T } = leftPad(rows, padId);
  checkPositions(m.config, T);
  await m.params.upload(m.feedNames(), m.device);
  const r = await (await c).run({ ...m.paramFeeds(), input_ids: i64(ids, [B, T]), attention_mask: i64(mask, [B, T]), inv_temperature: scalarF32(1 / temperature) });
  const lp = r.logprobs!.data as Float32Array;
  return rows.map((_, b) => Array.from(lp.subarray(b * (T - 1), (b + 1) * (T - 1))));
}
const scorers = new WeakMap<CausalLM, Promise<CompiledGraph>>();
