// BOS / EOS / pad resolved in transformers' order (generation_config.json, config.json, tokenizer) and
// checked against the embedding (docs/engine.md § Special tokens), on model folders written here. The
// case of issue #18: a tiny GPT-2 saved by transformers keeps GPT2Config's eos_token_id 50256 with
// vocab_size 512; a study on it ended in ONNX Runtime's "Gather … idx=50256 must be within [-512, 511]".
// It now falls back to the tokenizer's usable EOS and a whole study runs; without one it is refused
// before anything runs, naming the key and value.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../util/paths.js';
import { CausalLM } from '../../engine/models/model.js';
import { type Gpt2Config, parseHfConfig } from '../../engine/models/config.js';
import { generate } from '../../engine/models/sampler.js';
import { resolveSpecialTokens, readTokenizerIds, SpecialTokenError } from '../../engine/models/special-tokens.js';
import { RewardModel } from '../../engine/rlhf/reward.js';
import { inspectModelFolder } from '../../engine/service/models.js';
import { openStore, type Store } from '../../engine/store/index.js';
import { importDataset } from '../../engine/data/index.js';
import { parseSpec } from '../../engine/experiments/spec.js';
import { runExperiment } from '../../engine/experiments/runner.js';

const TOK = path.join(repoRoot, 'test/fixtures/tokenizers/bpe-tiny'); // 660 ids; eos/pad "<|endoftext|>" = 656, bos 657
const VOCAB = 700;
let tmp: string;

/** A GPT-2 folder as transformers writes it, with config.json keys overridden, the bpe-tiny tokenizer
 *  (tokenizer_config.json edited by `tokCfg`) and an optional generation_config.json. */
async function folder(name: string, cfgKeys: Record<string, unknown>, opts: { gen?: Record<string, unknown>; tokCfg?: (c: Record<string, unknown>) => void } = {}): Promise<string> {
  const dir = path.join(tmp, name);
  const cfg: Gpt2Config = { arch: 'gpt2', vocabSize: VOCAB, nPositions: 48, d: 16, nLayer: 1, nHead: 2, eps: 1e-5, activation: 'gelu_new', bosTokenId: null, eosTokenId: null };
  await CausalLM.init(cfg, 0).save(dir);
  const cfgFile = path.join(dir, 'config.json');
  await writeFile(cfgFile, JSON.stringify({ ...JSON.parse(await readFile(cfgFile, 'utf8')), ...cfgKeys }));
  await copyFile(path.join(TOK, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  const tc = JSON.parse(await readFile(path.join(TOK, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  opts.tokCfg?.(tc);
  await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tc));
  if (opts.gen) await writeFile(path.join(dir, 'generation_config.json'), JSON.stringify(opts.gen));
  return dir;
}

before(async () => { tmp = await mkdtemp(path.join(os.tmpdir(), 'rrlhf-special-')); });
after(async () => { if (tmp) await rm(tmp, { recursive: true, force: true }); });

test('order of precedence per role, lists, and ids outside the embedding passed over', () => {
  const config = (json: Record<string, unknown>) => ({ file: 'config.json', json });
  const tok = { file: 'tokenizer.json', bos: 7, eos: 8, pad: null };
  // generation_config.json first, then config.json, then the tokenizer
  let r = resolveSpecialTokens({ vocab: 100, generation: { file: 'generation_config.json', json: { eos_token_id: [9, 8, 500] } }, config: config({ eos_token_id: 3, bos_token_id: 1 }), tokenizer: tok });
  assert.deepEqual(r.eosIds, [9, 8], 'every usable id of the list ends a sequence');
  assert.equal(r.eos, 8, "the tokenizer's eos_token is the one a response ends with when it is in the list");
  assert.equal(r.bos, 1);
  assert.equal(r.pad, 8, 'no pad anywhere: the EOS, as generate() pads');
  assert.match(r.from.eos!, /generation_config\.json eos_token_id/);
  assert.ok(r.notes.some((n) => /500 is outside the embedding \(vocab_size 100\)/.test(n)), r.notes.join('\n'));
  r = resolveSpecialTokens({ vocab: 100, config: config({ eos_token_id: 3, pad_token_id: 5 }), tokenizer: tok });
  assert.deepEqual([r.eos, r.eosIds, r.pad, r.bos], [3, [3], 5, 7]);
  // config.json's id outside the embedding: the tokenizer's
  r = resolveSpecialTokens({ vocab: 100, config: config({ eos_token_id: 50256, bos_token_id: 50256, pad_token_id: 50256 }), tokenizer: tok });
  assert.deepEqual([r.eos, r.bos, r.pad], [8, 7, 8]);
  assert.ok(r.notes.some((n) => /config\.json eos_token_id = 50256 \(outside the embedding \(vocab_size 100\)\) passed over for tokenizer\.json eos_token/.test(n)), r.notes.join('\n'));
  // none usable: refused naming every key and value tried
  assert.throws(() => resolveSpecialTokens({ vocab: 100, generation: { file: 'generation_config.json', json: { eos_token_id: [300, 400] } }, config: config({ eos_token_id: 50256 }) }),
    (e: Error) => e instanceof SpecialTokenError && /no usable EOS token id: generation_config\.json eos_token_id = \[300,400\].*; config\.json eos_token_id = 50256 \(outside the embedding \(vocab_size 100\)\)/.test(e.message));
  // an unusable BOS alone is no BOS; nothing named is null
  r = resolveSpecialTokens({ vocab: 100, config: config({ bos_token_id: 100, eos_token_id: 2 }) });
  assert.deepEqual([r.bos, r.eos, r.pad], [null, 2, 2]);
  r = resolveSpecialTokens({ vocab: 100, config: config({}) });
  assert.deepEqual([r.bos, r.eos, r.eosIds, r.pad], [null, null, [], null]);
});

test('config.json: ids at or past vocab_size parse (resolved later); malformed ids are refused', () => {
  const base = { model_type: 'gpt2', n_embd: 16, n_layer: 1, n_head: 2, vocab_size: 512 };
  const c = parseHfConfig({ ...base, eos_token_id: 50256, bos_token_id: 50256 });
  assert.deepEqual([c.bosTokenId, c.eosTokenId], [null, null]);
  assert.equal(parseHfConfig({ ...base, eos_token_id: [50256, 3] }).eosTokenId, 3);
  assert.throws(() => parseHfConfig({ ...base, eos_token_id: 1.5 }, 'c.json'), /c\.json: eos_token_id = 1\.5: a token id must be a non-negative integer/);
});

test('the tokenizer files read without building it: map over config, added tokens, then the vocabulary', async () => {
  const dir = await folder('tokids', {}, { tokCfg: (c) => { c.bos_token = 'a'; } });
  await writeFile(path.join(dir, 'special_tokens_map.json'), JSON.stringify({ pad_token: { content: '<|im_end|>' } }));
  const t = (await readTokenizerIds(dir))!;
  const vocab = (JSON.parse(await readFile(path.join(TOK, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } }).model.vocab;
  assert.deepEqual([t.bos, t.eos, t.pad], [vocab.a, 656, 659]);
  assert.equal(await readTokenizerIds(path.join(tmp, 'nowhere')), null);
});

test('issue #18: GPT-2 eos_token_id 50256 past a 700-id embedding falls back to the tokenizer and a study runs', async () => {
  // transformers' GPT2Config defaults: bos = eos = 50256, no pad; the folder's tokenizer is 660 ids
  const dir = await folder('gpt2-50256', { bos_token_id: 50256, eos_token_id: 50256 });
  const m = await CausalLM.load(dir);
  assert.deepEqual([m.specialTokens.eos, m.specialTokens.bos, m.specialTokens.pad], [656, 657, 656]);
  const g = await generate(m, [[657, 10, 11]], { maxNewTokens: 4, temperature: 0 });
  assert.equal(g.tokens[0]!.length > 0, true);
  const info = await inspectModelFolder(dir);
  assert.equal(info.specialTokens.eos, 656);
  assert.match(info.specialTokens.notes.join('\n'), /eos_token_id = 50256/);
  // A reward model folder of the same kind pads with a usable id (HF's pad_token_id may lie outside).
  const rmDir = path.join(tmp, 'rm');
  const rm0 = await RewardModel.fromPolicy(m, 656, 1);
  await rm0.save(rmDir);
  await rm(path.join(rmDir, 'rrlhf.json'));
  const cf = path.join(rmDir, 'config.json');
  await writeFile(cf, JSON.stringify({ ...JSON.parse(await readFile(cf, 'utf8')), pad_token_id: 50256, eos_token_id: 50256 }));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(path.join(dir, f), path.join(rmDir, f));
  const loaded = await RewardModel.load(rmDir);
  assert.equal(loaded.padId, 656);
  assert.equal((await loaded.score([[657, 10], [657, 10, 11, 12]])).every(Number.isFinite), true);

  // The whole study: SFT, ensemble, PPO with rollouts that stop at and pad with the EOS.
  const dataDir = path.join(tmp, 'data');
  await mkdir(dataDir, { recursive: true });
  const store: Store = openStore({ dataDir });
  try {
    const ds = await importDataset(store, path.join(repoRoot, 'test/fixtures/data/trl_explicit.jsonl'));
    const spec = parseSpec({
      name: 'issue 18', world: { name: 'dataset', datasetId: ds.id, modelDir: dir, maxPromptTokens: 24, maxResponseTokens: 8 },
      ensemble: { heads: 2, pairs: 4, valPairs: 4 }, objectives: [{ name: 'single', kind: 'single' }], seeds: [0],
      ppo: { iterations: 2, batchSize: 4, miniBatches: 1, epochs: 1 }, eval: { every: 2, samples: 4 }, checkpointEvery: 2,
    });
    const r = await runExperiment(spec, { store, dataDir });
    assert.equal(r.runs[0]!.status, 'finished');
    assert.ok(Number.isFinite(r.runs[0]!.final.kl));
  } finally { store.close(); }
});

test('generation_config.json wins for generation; a folder with no usable EOS is refused naming key and value', async () => {
  const dir = await folder('gen', { eos_token_id: 656 }, { gen: { eos_token_id: [659, 50256], pad_token_id: 50256 } });
  const m = await CausalLM.load(dir);
  assert.deepEqual(m.specialTokens.eosIds, [659]);
  assert.equal(m.specialTokens.eos, 659, "the tokenizer's 656 is not among generation's EOS ids");
  assert.equal(m.specialTokens.pad, 656, "generation_config.json's pad is outside the embedding: config.json has none, the tokenizer's pad_token is 656");
  // Greedy decoding stops at any id of the list: make 659 the argmax (final LayerNorm outputs its bias of
  // ones, the tied LM head's row 659 is all ones).
  const set = (n: string, f: (i: number) => number) => { const p = m.params.get(n); m.params.set(n, Float32Array.from(p.data, (_, i) => f(i)), p.shape); };
  set('transformer.ln_f.weight', () => 0);
  set('transformer.ln_f.bias', () => 1);
  const wte = m.params.get('transformer.wte.weight').data;
  set('transformer.wte.weight', (i) => (Math.floor(i / 16) === 659 ? 1 : wte[i]!));
  const g = await generate(m, [[657, 10]], { maxNewTokens: 5, temperature: 0 });
  assert.deepEqual([g.tokens[0], g.finished[0]], [[659], true]);

  const bad = await folder('no-eos', { bos_token_id: 50256, eos_token_id: 50256 }, { tokCfg: (c) => { delete c.eos_token; delete c.pad_token; } });
  const want = /no usable EOS token id: .*config\.json eos_token_id = 50256 \(outside the embedding \(vocab_size 700\)\)/;
  await assert.rejects(CausalLM.load(bad), want);
  await assert.rejects(inspectModelFolder(bad), want);
});
