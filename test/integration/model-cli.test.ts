// `rrlhf model generate` and `model info` on a Hugging Face-style folder: a tiny GPT-2 saved by the
// engine with the bpe-tiny tokenizer fixture. Generation is seeded (same seed, same text), the
// log-probs are of the sampled tokens, and a tokenizer that does not belong to the model is refused
// with a message instead of ONNX Runtime's "indices out of bounds".
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, fixture } from '../util/paths.js';
import { CausalLM } from '../../engine/models/model.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const bin = path.join(repoRoot, 'bin', 'rrlhf.js');
const rrlhf = (...args: string[]) => { const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' }); return { code: r.status, stdout: r.stdout, stderr: r.stderr }; };

async function folder(vocabSize: number): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rrlhf-model-cli-'));
  dirs.push(dir);
  await CausalLM.init({ arch: 'gpt2', vocabSize, nPositions: 48, d: 32, nLayer: 1, nHead: 2, eps: 1e-5, activation: 'gelu_new', bosTokenId: 0, eosTokenId: 656 % vocabSize }, 0).save(dir);
  copyFileSync(fixture('tokenizers', 'bpe-tiny', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  return dir;
}

test('model generate: seeded, log-probs per token, and a tokenizer of another model is refused by name', async () => {
  const good = await folder(660);
  const gen = (seed: string) => rrlhf('model', 'generate', good, '--prompt', 'hello world', '--max-new', '6', '--seed', seed, '--json');
  const a = gen('1'), b = gen('1');
  assert.equal(a.code, 0, a.stderr);
  const ra = JSON.parse(a.stdout), rb = JSON.parse(b.stdout);
  assert.deepEqual(ra, rb, 'the same seed gives the same tokens');
  assert.ok(ra.ids.length >= 1 && ra.ids.length <= 6 && ra.logprobs.length === ra.ids.length);
  assert.ok(ra.logprobs.every((x: number) => x <= 0 && Number.isFinite(x)));
  assert.equal(typeof ra.text, 'string');
  const info = JSON.parse(rrlhf('model', 'info', good, '--json').stdout);
  assert.equal(info.config.vocab_size, 660);

  const small = await folder(96);
  const bad = rrlhf('model', 'generate', small, '--prompt', 'hello world', '--max-new', '2');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /the tokenizer gives token id \d+ but the model's vocab_size is 96; the tokenizer\.json does not belong to this model/);
  assert.doesNotMatch(bad.stderr, /out of bounds|onnxruntime/i);
});
