// Tests for engine/models/tokenizer.ts and `rrlhf tokenize`.
// The fixture test/fixtures/tokenizers/bpe-tiny comes from test/reference/make_tokenizer_fixtures.py, an
// independent Python implementation of GPT-2-style byte-level BPE (its ids were also checked against the
// Rust `tokenizers` library when that was importable).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fixture, repoRoot } from '../util/paths.js';
import { ByteTokenizer, HfTokenizer, loadTokenizer, TokenizerLoadError } from '../../engine/models/tokenizer.js';

const DIR = fixture('tokenizers', 'bpe-tiny');

interface Case { text: string; ids: number[]; ids_no_special: number[] }
interface ChatCase { messages: { role: string; content: string }[]; add_generation_prompt: boolean; text: string; ids: number[] }
interface AddedTok { id: number; content: string }

const readJson = async <T>(file: string): Promise<T> => JSON.parse(await fsp.readFile(file, 'utf8')) as T;
const fixtures = readJson<{ cases: Case[]; chat: ChatCase[] }>(path.join(DIR, 'cases.json'));
const tokJson = readJson<{ added_tokens: AddedTok[]; model: { vocab: Record<string, number> } }>(path.join(DIR, 'tokenizer.json'));
const tokConfig = readJson<Record<string, unknown>>(path.join(DIR, 'tokenizer_config.json'));
const loaded = loadTokenizer(DIR);

const idOf = async (content: string) => (await tokJson).added_tokens.find((t) => t.content === content)!.id;

/** A temporary folder with the fixture's tokenizer.json and the given other files (objects as JSON). */
async function variant(files: Record<string, unknown>): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tok-test-'));
  await fsp.copyFile(path.join(DIR, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  for (const [name, v] of Object.entries(files)) await fsp.writeFile(path.join(dir, name), typeof v === 'string' ? v : JSON.stringify(v));
  return dir;
}

const rejectsWith = (p: Promise<unknown>, ...parts: (string | RegExp)[]) =>
  assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof TokenizerLoadError, `expected a TokenizerLoadError, got ${e.name}: ${e.message}`);
    for (const part of parts) {
      if (typeof part === 'string') assert.ok(e.message.includes(part), `"${e.message}" should mention "${part}"`);
      else assert.match(e.message, part);
    }
    return true;
  });

// ---------------------------------------------------------------------------------------------
// Hugging Face tokenizer.json against the Python reference

test('bpe-tiny: every Python case encodes to the same ids, with and without special tokens', async () => {
  const tok = await loaded;
  const { cases } = await fixtures;
  assert.ok(cases.length >= 20);
  for (const c of cases) {
    assert.deepEqual(tok.encode(c.text), c.ids, `encode ${JSON.stringify(c.text)}`);
    assert.deepEqual(tok.encode(c.text, { addSpecialTokens: true }), c.ids, `encode ${JSON.stringify(c.text)}`);
    assert.deepEqual(tok.encode(c.text, { addSpecialTokens: false }), c.ids_no_special, `encode (no special) ${JSON.stringify(c.text)}`);
  }
});

test('bpe-tiny: decoding gives back the original text; skipSpecialTokens drops the special tokens', async () => {
  const tok = await loaded;
  const { cases } = await fixtures;
  const specials = (await tokJson).added_tokens.map((t) => t.content);
  const bos = '<|begin_of_text|>';
  for (const c of cases) {
    assert.equal(tok.decode(c.ids_no_special), c.text, `decode ${JSON.stringify(c.text)}`);
    assert.equal(tok.decode(c.ids), bos + c.text, `decode with BOS ${JSON.stringify(c.text)}`);
    const stripped = specials.reduce((s, t) => s.split(t).join(''), c.text);
    assert.equal(tok.decode(c.ids, { skipSpecialTokens: true }), stripped, `decode skipping specials ${JSON.stringify(c.text)}`);
  }
});

test('bpe-tiny: vocabulary size and special ids come from tokenizer.json and tokenizer_config.json', async () => {
  const tok = await loaded;
  const j = await tokJson;
  assert.equal(tok.kind, 'hf');
  assert.ok(tok instanceof HfTokenizer);
  assert.equal(tok.vocabSize, 1 + Math.max(...Object.values(j.model.vocab), ...j.added_tokens.map((t) => t.id)));
  assert.equal(tok.vocabSize, 660); // 256 bytes + 400 merges + 4 added tokens (also listed in model.vocab, as GPT-2's are)
  assert.equal(tok.bosId, await idOf('<|begin_of_text|>'));
  assert.equal(tok.eosId, await idOf('<|endoftext|>')); // an AddedToken object {content} in the config
  assert.equal(tok.padId, await idOf('<|endoftext|>'));
  assert.equal(tok.unkId, null);
  assert.equal(tok.tokenToId('<|im_start|>'), await idOf('<|im_start|>'));
  assert.equal(tok.idToToken(await idOf('<|im_end|>')), '<|im_end|>');
  assert.deepEqual(tok.specialTokens, { bos_token: '<|begin_of_text|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>' });
});

test('bpe-tiny: tokenizer.json path, folder and relative path load the same tokenizer', async () => {
  const a = await loadTokenizer(path.join(DIR, 'tokenizer.json'));
  const b = await loadTokenizer(path.relative(process.cwd(), DIR));
  const text = 'Hello world, café 🚀<|endoftext|>';
  assert.deepEqual(a.encode(text), (await loaded).encode(text));
  assert.deepEqual(b.encode(text), (await loaded).encode(text));
  assert.equal(a.file, path.join(DIR, 'tokenizer.json'));
});

test('decode: empty ids give ""; an id outside the vocabulary throws', async () => {
  const tok = await loaded;
  assert.equal(tok.decode([]), '');
  assert.throws(() => tok.decode([tok.vocabSize]), /not in the vocabulary/);
  assert.throws(() => tok.decode([-1]), /not in the vocabulary/);
  assert.throws(() => tok.decode([1.5]), /not in the vocabulary/);
});

// ---------------------------------------------------------------------------------------------
// chat templates

test('chat template renders the Python reference text (ChatML, generation prompt, bos_token)', async () => {
  const tok = await loaded;
  const { chat } = await fixtures;
  assert.ok(tok.applyChatTemplate);
  assert.equal(tok.chatTemplate, (await tokConfig).chat_template);
  for (const c of chat) {
    const text = tok.applyChatTemplate(c.messages, { addGenerationPrompt: c.add_generation_prompt });
    assert.equal(text, c.text);
    assert.deepEqual(tok.encode(text, { addSpecialTokens: false }), c.ids);
    assert.equal(tok.decode(c.ids), c.text);
  }
  // addGenerationPrompt defaults to false
  const c0 = chat[0]!;
  assert.equal(tok.applyChatTemplate(c0.messages), c0.text.slice(0, -'<|im_start|>assistant\n'.length));
});

test('chat template: raise_exception surfaces as an error that names the template file', async () => {
  const tok = await loaded;
  assert.throws(() => tok.applyChatTemplate!([{ role: 'tool', content: 'x' }]), (e: Error) => {
    assert.match(e.message, /Unknown role: tool/);
    assert.ok(e.message.includes('tokenizer_config.json'));
    return true;
  });
});

test('chat template: a list of named templates picks "default"; chat_template.jinja wins over the config', async () => {
  const cfg = await tokConfig;
  const msgs = [{ role: 'user', content: 'hi' }];
  const listed = await loadTokenizer(await variant({
    'tokenizer_config.json': { ...cfg, chat_template: [{ name: 'tool_use', template: 'TOOLS' }, { name: 'default', template: '{{ eos_token }}{{ messages[0].content }}' }] },
  }));
  assert.equal(listed.applyChatTemplate!(msgs), '<|endoftext|>hi');

  const noDefault = await variant({ 'tokenizer_config.json': { ...cfg, chat_template: [{ name: 'a', template: 'A' }] } });
  await rejectsWith(loadTokenizer(noDefault), path.join(noDefault, 'tokenizer_config.json'), '"default"');

  const jinja = await loadTokenizer(await variant({
    'tokenizer_config.json': cfg,
    'chat_template.jinja': '{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}\n',
  }));
  assert.equal(jinja.applyChatTemplate!(msgs, { addGenerationPrompt: true }), '[user] hi\n[assistant]');
});

test('without tokenizer_config.json: no special ids, no chat template, same ids without the BOS logic', async () => {
  const tok = await loadTokenizer(await variant({}));
  assert.equal(tok.bosId, null);
  assert.equal(tok.eosId, null);
  assert.equal(tok.padId, null);
  assert.equal(tok.applyChatTemplate, undefined);
  for (const c of (await fixtures).cases) assert.deepEqual(tok.encode(c.text), c.ids); // the post-processor still adds its BOS
});

test('add_bos_token / add_eos_token override what the post-processor adds', async () => {
  const cfg = await tokConfig;
  const bos = await idOf('<|begin_of_text|>'), eos = await idOf('<|endoftext|>');
  const c = (await fixtures).cases[0]!;
  const noBos = await loadTokenizer(await variant({ 'tokenizer_config.json': { ...cfg, add_bos_token: false } }));
  assert.deepEqual(noBos.encode(c.text), c.ids_no_special);
  const withEos = await loadTokenizer(await variant({ 'tokenizer_config.json': { ...cfg, add_bos_token: true, add_eos_token: true } }));
  assert.deepEqual(withEos.encode(c.text), [bos, ...c.ids_no_special, eos]);
  assert.deepEqual(withEos.encode(c.text, { addSpecialTokens: false }), c.ids_no_special);
});

test('special_tokens_map.json supplies and overrides special tokens (AddedToken objects too)', async () => {
  const cfg = { ...(await tokConfig) };
  delete cfg.pad_token;
  const tok = await loadTokenizer(await variant({
    'tokenizer_config.json': cfg,
    'special_tokens_map.json': { eos_token: { content: '<|im_end|>', lstrip: false }, pad_token: '<|im_start|>' },
  }));
  assert.equal(tok.eosId, await idOf('<|im_end|>'));
  assert.equal(tok.padId, await idOf('<|im_start|>'));
  assert.equal(tok.bosId, await idOf('<|begin_of_text|>'));
  const bad = await variant({ 'tokenizer_config.json': await tokConfig, 'special_tokens_map.json': { pad_token: '<pad>' } });
  await rejectsWith(loadTokenizer(bad), path.join(bad, 'special_tokens_map.json'), 'pad_token "<pad>"');
});

// ---------------------------------------------------------------------------------------------
// load errors

test('errors: a missing path, a folder without tokenizer.json, slow-tokenizer files', async () => {
  const missing = path.join(os.tmpdir(), 'no-such-tokenizer-folder-xyz');
  await rejectsWith(loadTokenizer(missing), missing, 'no such file');
  const empty = await fsp.mkdtemp(path.join(os.tmpdir(), 'tok-test-'));
  await rejectsWith(loadTokenizer(empty), path.join(empty, 'tokenizer.json'), 'missing');
  await fsp.writeFile(path.join(empty, 'vocab.json'), '{}');
  await fsp.writeFile(path.join(empty, 'merges.txt'), '');
  await rejectsWith(loadTokenizer(empty), 'vocab.json, merges.txt', 'save_pretrained');
});

test('errors: invalid JSON names the file (tokenizer.json, tokenizer_config.json, special_tokens_map.json)', async () => {
  const bad = await fsp.mkdtemp(path.join(os.tmpdir(), 'tok-test-'));
  await fsp.writeFile(path.join(bad, 'tokenizer.json'), '{"model": ');
  await rejectsWith(loadTokenizer(bad), path.join(bad, 'tokenizer.json'), 'invalid JSON');
  const badCfg = await variant({ 'tokenizer_config.json': '{not json' });
  await rejectsWith(loadTokenizer(badCfg), path.join(badCfg, 'tokenizer_config.json'), 'invalid JSON');
  const badMap = await variant({ 'special_tokens_map.json': '[1,' });
  await rejectsWith(loadTokenizer(badMap), path.join(badMap, 'special_tokens_map.json'), 'invalid JSON');
});

test('errors: an unsupported model type, a file that is no tokenizer.json, a special token not in the vocabulary', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tok-test-'));
  const file = path.join(dir, 'tokenizer.json');
  await fsp.writeFile(file, JSON.stringify({ model: { type: 'WordLevel', vocab: { a: 0 }, unk_token: 'a' } }));
  await rejectsWith(loadTokenizer(file), file, '"WordLevel"', 'BPE, WordPiece, Unigram');
  await fsp.writeFile(file, JSON.stringify({ version: '1.0' }));
  await rejectsWith(loadTokenizer(file), file, '"model"');
  const cfg = await variant({ 'tokenizer_config.json': { ...(await tokConfig), eos_token: '</s>' } });
  await rejectsWith(loadTokenizer(cfg), path.join(cfg, 'tokenizer_config.json'), 'eos_token "</s>"');
});

// ---------------------------------------------------------------------------------------------
// built-in byte tokenizer

test('ByteTokenizer: documented special ids; encode is BOS + UTF-8 bytes', () => {
  const t = new ByteTokenizer();
  assert.equal(t.kind, 'byte');
  assert.equal(t.vocabSize, 259);
  assert.deepEqual([t.padId, t.bosId, t.eosId], [256, 257, 258]);
  assert.deepEqual(t.encode('hé'), [257, 0x68, 0xc3, 0xa9]);
  assert.deepEqual(t.encode('hé', { addSpecialTokens: false }), [0x68, 0xc3, 0xa9]);
  assert.deepEqual(t.encode(''), [257]);
  assert.deepEqual(t.encode('', { addSpecialTokens: false }), []);
});

test('ByteTokenizer: round-trips arbitrary Unicode (seeded random code points incl. astral and controls)', () => {
  const t = new ByteTokenizer();
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const pools = [[0, 0x7f], [0x80, 0x7ff], [0x800, 0xd7ff], [0xe000, 0xffff], [0x10000, 0x10ffff]] as const;
  for (let n = 0; n < 200; n++) {
    let text = '';
    const len = Math.floor(rnd() * 40);
    for (let i = 0; i < len; i++) {
      const [lo, hi] = pools[Math.floor(rnd() * pools.length)]!;
      text += String.fromCodePoint(lo + Math.floor(rnd() * (hi - lo + 1)));
    }
    const ids = t.encode(text);
    assert.equal(ids.length, 1 + Buffer.byteLength(text, 'utf8'));
    assert.equal(t.decode(ids, { skipSpecialTokens: true }), text);
    assert.equal(t.decode(ids.slice(1)), text);
  }
  for (const text of ['café naïve', '👨‍👩‍👧 family', '日本語', '\u0000\n\t', 'Привет']) assert.equal(t.decode(t.encode(text, { addSpecialTokens: false })), text);
});

test('ByteTokenizer: special ids decode as <pad>/<bos>/<eos> unless skipped; bad bytes become U+FFFD; bad ids throw', () => {
  const t = new ByteTokenizer();
  assert.equal(t.decode([257, 0x68, 0x69, 258, 256]), '<bos>hi<eos><pad>');
  assert.equal(t.decode([257, 0x68, 0x69, 258, 256], { skipSpecialTokens: true }), 'hi');
  assert.equal(t.decode([0x68, 0xc3]), 'h\ufffd'); // cut-off sequence
  assert.equal(t.decode([0xc3, 258, 0xa9]), '\ufffd<eos>\ufffd'); // a special id splits a sequence
  assert.equal(t.decode([0xff]), '\ufffd');
  assert.throws(() => t.decode([259]), RangeError);
  assert.throws(() => t.decode([-1]), RangeError);
});

// ---------------------------------------------------------------------------------------------
// CLI

const run = promisify(execFile);
const cli = async (...args: string[]) => {
  try {
    const r = await run(process.execPath, [path.join(repoRoot, 'bin', 'rrlhf.js'), 'tokenize', ...args], { cwd: repoRoot });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
};

test('rrlhf tokenize: --json prints exactly one JSON document with the ids', async () => {
  const { cases, chat } = await fixtures;
  const c = cases.find((x) => x.text === 'café naïve résumé Zürich')!;
  const c0 = chat[0]!;
  const [plain, noSpecial, chatRun, byte, human] = await Promise.all([
    cli(DIR, '--text', c.text, '--json'),
    cli(path.join(DIR, 'tokenizer.json'), '--text', c.text, '--no-special', '--json'),
    cli(DIR, '--chat', JSON.stringify(c0.messages), ...(c0.add_generation_prompt ? ['--add-generation-prompt'] : []), '--json'),
    cli('builtin:byte', '--text', 'hé', '--json'),
    cli(DIR, '--text', c.text),
  ]);
  for (const r of [plain, noSpecial, chatRun, byte]) {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 1, 'one line on stdout');
  }
  assert.deepEqual(JSON.parse(plain.stdout), { ids: c.ids });
  assert.deepEqual(JSON.parse(noSpecial.stdout), { ids: c.ids_no_special });
  assert.deepEqual(JSON.parse(chatRun.stdout), { text: c0.text, ids: c0.ids });
  assert.deepEqual(JSON.parse(byte.stdout), { ids: [257, 0x68, 0xc3, 0xa9] });
  assert.equal(human.code, 0);
  assert.ok(human.stdout.includes(c.ids.join(' ')));
});

test('rrlhf tokenize: failures exit non-zero with a one-line reason on stderr and nothing on stdout', async () => {
  const [missing, usage, noChat] = await Promise.all([
    cli(path.join(os.tmpdir(), 'no-such-tokenizer-xyz'), '--text', 'x', '--json'),
    cli(DIR, '--json'),
    cli('builtin:byte', '--chat', '[]', '--json'),
  ]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no-such-tokenizer-xyz: no such file/);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /exactly one of --text and --chat/);
  assert.equal(noChat.code, 1);
  assert.match(noChat.stderr, /no chat template/);
  for (const r of [missing, usage, noChat]) assert.equal(r.stdout, '');
});

// Templates written in the style of each family's published one (the constructs they rely on: a BOS
// emitted by the template, `| trim` binding tighter than `+`, role renaming with `set` inside the loop,
// raise_exception for role rules, eos_token when no generation prompt follows). The expected strings are
// what transformers' apply_chat_template renders for them (Jinja semantics, trim_blocks, lstrip_blocks).
const FAMILY_TEMPLATES = {
  llama3: "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
  gemma: "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
  phi3: "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}",
};

test('chat templates in the Llama 3, Gemma and Phi-3 styles render as transformers does; a template BOS is not doubled', async () => {
  const cfg = await tokConfig;
  const load = async (t: string) => loadTokenizer(await variant({ 'tokenizer_config.json': { ...cfg, chat_template: t } }));
  const llama = await load(FAMILY_TEMPLATES.llama3);
  const sys = [{ role: 'system', content: ' Be brief. ' }, { role: 'user', content: 'hi' }];
  const text = llama.applyChatTemplate!(sys, { addGenerationPrompt: true });
  assert.equal(text, '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
  // apply_chat_template(tokenize=True) encodes without special tokens: the template's BOS is the only one.
  const ids = llama.encode(text, { addSpecialTokens: false });
  assert.equal(ids[0], llama.bosId);
  assert.equal(ids.filter((i) => i === llama.bosId).length, 1);

  const gemma = await load(FAMILY_TEMPLATES.gemma);
  const turns = [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello ' }, { role: 'user', content: 'bye' }];
  assert.equal(gemma.applyChatTemplate!(turns, { addGenerationPrompt: true }),
    '<|begin_of_text|><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\nhello<end_of_turn>\n<start_of_turn>user\nbye<end_of_turn>\n<start_of_turn>model\n');
  assert.throws(() => gemma.applyChatTemplate!(sys), /System role not supported/);
  assert.throws(() => gemma.applyChatTemplate!([turns[0]!, turns[0]!]), /roles must alternate/);

  const phi = await load(FAMILY_TEMPLATES.phi3);
  assert.equal(phi.applyChatTemplate!([turns[0]!], { addGenerationPrompt: true }), '<|user|>\nhi<|end|>\n<|assistant|>\n');
  assert.equal(phi.applyChatTemplate!([turns[0]!]), '<|user|>\nhi<|end|>\n<|endoftext|>');
});

test('sp-bpe-tiny (the Llama 2 / Mistral / Phi-3 tokenizer.json layout): byte fallback, Prepend per stretch, decoding as the Rust library does', async () => {
  // From test/reference/make_sp_tokenizer_fixtures.py, an independent Python implementation of that layout.
  const dir = fixture('tokenizers', 'sp-bpe-tiny');
  const tok = await loadTokenizer(dir);
  const { cases } = await readJson<{ cases: { text: string | null; ids: number[]; ids_no_special: number[] | null; decoded: string; decoded_skip: string }[] }>(path.join(dir, 'cases.json'));
  assert.ok(cases.length >= 30 && cases.some((c) => c.ids.some((i) => i >= 3 && i < 259)), 'the cases exercise byte fallback');
  for (const c of cases) {
    const what = JSON.stringify(c.text ?? c.ids);
    if (c.text !== null) {
      assert.deepEqual(tok.encode(c.text), c.ids, `encode ${what}`);
      assert.deepEqual(tok.encode(c.text, { addSpecialTokens: false }), c.ids_no_special, `encode (no special) ${what}`);
    }
    assert.equal(tok.decode(c.ids), c.decoded, `decode ${what}`);
    assert.equal(tok.decode(c.ids, { skipSpecialTokens: true }), c.decoded_skip, `decode, skipping special tokens, ${what}`);
  }
  assert.deepEqual([tok.bosId, tok.eosId], [1, 2]);
});

for (const [name, layout] of [['split-bpe-tiny', 'Llama 3 (Split regex, digits in threes, ignore_merges)'], ['qwen-bpe-tiny', 'Qwen2 (Split regex, single digits, NFC)']] as const) {
  test(`${name} (the ${layout} tokenizer.json layout): every case encodes and decodes as the reference does`, async () => {
    // From test/reference/make_split_tokenizer_fixtures.py: the same Oniguruma pattern matched by Python's regex module.
    const dir = fixture('tokenizers', name);
    const tok = await loadTokenizer(dir);
    const { cases } = await readJson<{ cases: { text: string; ids: number[]; ids_no_special: number[]; decoded: string }[] }>(path.join(dir, 'cases.json'));
    assert.ok(cases.length >= 35);
    for (const c of cases) {
      assert.deepEqual(tok.encode(c.text), c.ids, `encode ${JSON.stringify(c.text)}`);
      assert.deepEqual(tok.encode(c.text, { addSpecialTokens: false }), c.ids_no_special, `encode (no special) ${JSON.stringify(c.text)}`);
      assert.equal(tok.decode(c.ids_no_special), c.decoded, `decode ${JSON.stringify(c.text)}`);
    }
  });
}
