// The desktop app's engine process (electron/engine-host.ts), driven over IPC the way electron/main.ts
// drives it in a source checkout (a Node child process; the packaged app uses an Electron
// utilityProcess with the same messages): ready with the method list, calls and replies, validation
// errors, job events, and a clean shutdown. Needs no Electron binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, fixture } from '../util/paths.js';
import type { JobEvent, Reply } from '../../engine/service/protocol.js';

/** electron/engine-host.ts's messages (restated here: the root build compiles engine/ and test/ only). */
type HostMessage =
  | { type: 'ready'; methods: string[]; dataDir: string }
  | { type: 'reply'; id: number; reply: Reply }
  | { type: 'event'; event: JobEvent }
  | { type: 'fatal'; error: string }
  | { type: 'closed' };

const host = path.join(repoRoot, 'dist', 'electron', 'engine-host.js');

test('the desktop engine process answers calls, streams job events and shuts down cleanly', { skip: existsSync(host) ? false : 'dist/electron is not built; run `npm run build`', timeout: 60_000 }, async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rrlhf-host-'));
  const child = fork(host, ['--data-dir', dataDir], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const messages: HostMessage[] = [];
  const waiters: { pred: (m: HostMessage) => boolean; resolve: (m: HostMessage) => void }[] = [];
  child.on('message', (raw) => {
    const m = raw as HostMessage;
    messages.push(m);
    for (const w of [...waiters]) if (w.pred(m)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(m); }
  });
  const next = (pred: (m: HostMessage) => boolean, what: string) => {
    const seen = messages.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise<HostMessage>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${what} from the engine process; stderr:\n${stderr}`)), 30_000);
      waiters.push({ pred, resolve: (m) => { clearTimeout(t); resolve(m); } });
    });
  };
  let id = 0;
  const call = async (method: string, input: unknown) => {
    const n = ++id;
    child.send({ type: 'call', id: n, method, input });
    const m = await next((x) => x.type === 'reply' && x.id === n, `reply to ${method}`);
    return (m as Extract<HostMessage, { type: 'reply' }>).reply;
  };
  try {
    const ready = await next((m) => m.type === 'ready' || m.type === 'fatal', 'ready message');
    assert.equal(ready.type, 'ready', JSON.stringify(ready));
    if (ready.type !== 'ready') return;
    assert.ok(ready.methods.includes('experiments.start') && ready.methods.includes('reports.export'));
    assert.equal(ready.dataDir, dataDir);

    const info = await call('app.info', null);
    assert.ok(info.ok && (info.result as { mode: string }).mode === 'electron');

    const bad = await call('datasets.show', { id: 'one' });
    assert.ok(!bad.ok && /invalid input for datasets\.show: id/.test(bad.error));
    const unknown = await call('no.such', null);
    assert.ok(!unknown.ok && unknown.status === 404);

    const started = await call('datasets.import', { file: fixture('data', 'trl_explicit.jsonl') });
    assert.ok(started.ok);
    const jobId = (started.result as { id: string }).id;
    const done = await next((m) => m.type === 'event' && m.event.job.id === jobId && m.event.job.state === 'done', 'job done event');
    assert.equal(((done as Extract<HostMessage, { type: 'event' }>).event.job.result as { accepted: number }).accepted, 4);

    child.send({ type: 'shutdown' });
    await next((m) => m.type === 'closed', 'closed message');
    const code = await new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (c) => r(c))));
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
