#!/usr/bin/env node
// The `rrlhf` command. The TypeScript sources compile to dist/ (`npm run build`).
import { existsSync } from 'node:fs';
const entry = new URL('../dist/engine/service/cli.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('rrlhf: the engine is not built yet; run `npm run build` first.');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
