// The `rrlhf` command line. Contract (docs/architecture.md § CLI and service contract): every command accepts
// --data-dir, --device and --json; with --json exactly one JSON document goes to stdout and progress
// to stderr; exit code 0 on success, otherwise non-zero with a one-line reason on stderr.

import { UsageError, type Out } from './cli-kit.js';
import { COMMANDS } from './commands/index.js';

async function usage(): Promise<string> {
  const lines: string[] = [];
  for (const load of Object.values(COMMANDS)) {
    try { lines.push(...(await load()).usage.map((u) => `  ${u}`)); } catch { /* a broken command is reported when run */ }
  }
  return [
    'rrlhf — Robust RLHF Studio command line', '', 'Usage: rrlhf <command> [options]', '', 'Commands:', ...lines,
    '  help                            this text', '',
    'Common options: --device auto|cpu|cuda|webgpu|dml|coreml (default cpu)   --json   --data-dir DIR (default $RRLHF_DATA_DIR, else the app\'s folder)',
    'Exit status: 0 success, 1 failure, 2 usage mistake; stderr says why in one line (usage mistakes add a pointer here).',
  ].join('\n');
}

const isUsage = (e: unknown) => e instanceof UsageError || String((e as { code?: string }).code ?? '').startsWith('ERR_PARSE_ARGS');

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const out: Out = (value, human) => { process.stdout.write(json ? JSON.stringify(value) + '\n' : human() + '\n'); };
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') { process.stdout.write((await usage()) + '\n'); return 0; }
    const load = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
    if (!load) throw new UsageError(`unknown command "${cmd}"`);
    await (await load()).run(rest, out);
    return 0;
  } catch (err) {
    const msg = ((err as Error).message || String(err)).split('\n')[0];
    process.stderr.write(`rrlhf: ${msg}${isUsage(err) ? '\n(see `rrlhf help`)' : ''}\n`);
    return isUsage(err) ? 2 : 1;
  }
}
