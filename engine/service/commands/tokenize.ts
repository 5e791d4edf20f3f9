import { promises as fsp } from 'node:fs';
import { type Command, UsageError, parse } from '../cli-kit.js';
import { ByteTokenizer, loadTokenizer, type ChatMessage, type TextTokenizer } from '../../models/tokenizer.js';

/** The pseudo-path that selects the built-in byte tokenizer. */
const BYTE = 'builtin:byte';

function parseMessages(raw: string): ChatMessage[] {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new UsageError(`--chat must be a JSON array of {"role", "content"} messages (${(e as Error).message})`);
  }
  if (!Array.isArray(v) || !v.every((m) => typeof m === 'object' && m !== null && typeof m.role === 'string' && typeof m.content === 'string')) {
    throw new UsageError('--chat must be a JSON array of {"role": string, "content": string} messages');
  }
  return (v as ChatMessage[]).map((m) => ({ ...m }));
}

export const tokenize: Command = {
  usage: [
    `tokenize TOKENIZER --text T [--no-special]      token ids of T (TOKENIZER: a tokenizer.json, a model folder, or ${BYTE})`,
    'tokenize TOKENIZER --chat JSON|@FILE [--add-generation-prompt]   render messages with the chat template, then its ids',
  ],
  async run(args, out) {
    const { values, positionals } = parse(args, {
      text: { type: 'string' },
      chat: { type: 'string' },
      'no-special': { type: 'boolean' },
      'add-generation-prompt': { type: 'boolean' },
    }, true);
    if (positionals.length !== 1) throw new UsageError(`tokenize takes one TOKENIZER (a tokenizer.json, a model folder or ${BYTE}); got ${positionals.length}`);
    if ((values.text === undefined) === (values.chat === undefined)) throw new UsageError('tokenize needs exactly one of --text and --chat');
    const where = positionals[0]!;
    const tok: TextTokenizer = where === BYTE ? new ByteTokenizer() : await loadTokenizer(where);

    if (values.text !== undefined) {
      if (values['add-generation-prompt']) throw new UsageError('--add-generation-prompt goes with --chat');
      const ids = tok.encode(values.text, { addSpecialTokens: !values['no-special'] });
      out({ ids }, () => `${ids.length} tokens: ${ids.join(' ')}`);
      return;
    }
    if (values['no-special']) throw new UsageError('--no-special goes with --text (a chat is encoded without adding special tokens; its template writes them)');
    let raw = values.chat!;
    if (raw.startsWith('@')) {
      try {
        raw = await fsp.readFile(raw.slice(1), 'utf8');
      } catch (e) {
        throw new UsageError(`--chat ${raw}: cannot read the file (${(e as Error).message})`);
      }
    }
    const messages = parseMessages(raw);
    if (!tok.applyChatTemplate) {
      throw new Error(`${where} has no chat template (tokenizer_config.json "chat_template" or chat_template.jinja); use --text`);
    }
    const text = tok.applyChatTemplate(messages, { addGenerationPrompt: values['add-generation-prompt'] ?? false });
    // As transformers' apply_chat_template(tokenize=True): the template already wrote the special tokens.
    const ids = tok.encode(text, { addSpecialTokens: false });
    out({ text, ids }, () => `${text}\n${ids.length} tokens: ${ids.join(' ')}`);
  },
};
