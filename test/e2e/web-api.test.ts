// Web mode's HTTP transport and the service behind it, without a browser: the access token, the host
// and origin checks (DNS rebinding, cross-site requests), no CORS, the CSP on the page, path traversal,
// uploads, input validation with readable errors, server-sent job events, and the job queue.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Service } from '../../engine/service/api.js';
import { startWebServer, type WebServer } from '../../engine/service/http.js';
import { JobManager, type JobInfo } from '../../engine/service/jobs.js';
import { fixture } from '../util/paths.js';

let dir: string;
let service: Service;
let web: WebServer;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'rrlhf-web-'));
  const renderer = path.join(dir, 'renderer');
  mkdirSync(path.join(renderer, 'assets'), { recursive: true });
  writeFileSync(path.join(renderer, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(path.join(renderer, 'assets', 'a.js'), 'export {};');
  service = Service.open({ dataDir: path.join(dir, 'data'), mode: 'web' });
  web = await startWebServer({ service, port: 0, rendererDir: renderer });
});

after(async () => {
  await web.close();
  await service.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw request (so that Host and Origin can be set as an attacker would). */
function request(o: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: web.port, method: o.method ?? 'GET', path: o.path, headers: { Host: `127.0.0.1:${web.port}`, ...o.headers } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}
const callApi = (method: string, input: unknown, headers: Record<string, string> = { 'X-RRLHF-Token': web.token }) =>
  request({ method: 'POST', path: `/api/call/${method}`, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(input) });

test('the URL is loopback with a long random token', () => {
  assert.match(web.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{40,}$/);
});

test('every API call needs the token; the query form is only for GET (EventSource, links)', async () => {
  assert.equal((await callApi('app.info', null, {})).status, 401);
  assert.equal((await callApi('app.info', null, { 'X-RRLHF-Token': 'wrong' })).status, 401);
  assert.equal((await request({ method: 'POST', path: `/api/call/app.info?token=${web.token}`, headers: { 'Content-Type': 'application/json' }, body: 'null' })).status, 401);
  const ok = await callApi('app.info', null, { Authorization: `Bearer ${web.token}` });
  assert.equal(ok.status, 200);
  assert.equal(JSON.parse(ok.body).result.mode, 'web');
  assert.equal(ok.headers['cache-control'], 'no-store');
});

test('requests for another host name (DNS rebinding) or from another site are refused; no CORS headers', async () => {
  assert.equal((await request({ path: '/', headers: { Host: `evil.example:${web.port}` } })).status, 421);
  assert.equal((await callApi('app.info', null, { 'X-RRLHF-Token': web.token, Origin: 'http://evil.example' })).status, 403);
  const same = await callApi('app.info', null, { 'X-RRLHF-Token': web.token, Origin: web.origin });
  assert.equal(same.status, 200);
  for (const r of [same, await request({ path: '/' })]) {
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.equal(r.headers['x-frame-options'], 'DENY');
  }
});

test('the page has a strict CSP; files outside the renderer are not served', async () => {
  const page = await request({ path: '/' });
  assert.equal(page.status, 200);
  const csp = String(page.headers['content-security-policy']);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal((await request({ path: '/assets/a.js' })).status, 200);
  for (const p of ['/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fdata/studio.sqlite', '/assets/%2e%2e/%2e%2e/data/settings.json']) {
    const r = await request({ path: p });
    assert.ok(r.status === 404 || r.status === 400 || (r.status === 200 && r.body.startsWith('<!doctype html><title>t')), `${p}: ${r.status}`);
  }
});

test('inputs are validated against the method schema, with readable errors', async () => {
  const bad = await callApi('datasets.show', { id: 'seven' });
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).error, /invalid input for datasets\.show: id: .*number/);
  const extra = await callApi('runs.diff', { a: 1, b: 2, c: 3 });
  assert.equal(extra.status, 400);
  const unknown = await callApi('datasets.drop', {});
  assert.equal(unknown.status, 404);
  assert.match(JSON.parse(unknown.body).error, /unknown method "datasets\.drop"; known: .*datasets\.list/);
  const notJson = await request({ method: 'POST', path: '/api/call/app.info', headers: { 'X-RRLHF-Token': web.token, 'Content-Type': 'application/json' }, body: '{' });
  assert.equal(notJson.status, 400);
  const missing = await callApi('datasets.show', { id: 99 });
  assert.equal(missing.status, 404);
  assert.match(JSON.parse(missing.body).error, /dataset 99 does not exist; the Datasets screen lists/);
  const nofile = await callApi('datasets.inspect', { file: path.join(dir, 'nope.jsonl') });
  assert.equal(nofile.status, 400);
  assert.match(JSON.parse(nofile.body).error, /does not exist; check the path/);
  const spec = await callApi('experiments.estimate', { spec: { seeds: [], ppo: { iterations: 0 } } });
  assert.equal(spec.status, 400);
  assert.match(JSON.parse(spec.body).error, /spec\.seeds: .*; spec\.ppo\.iterations: /);
});

test('an API call body without Content-Length (chunked) is refused once it passes the limit, not buffered whole', async () => {
  // A client that streams a huge chunked body: the server must answer 413 after reading about the
  // limit (4 MiB), long before the client has sent everything.
  const MB = 1 << 20, total = 256 * MB;
  let sent = 0;
  const r = await new Promise<{ status: number; body: string; sentWhenAnswered: number }>((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: web.port, method: 'POST', path: '/api/call/app.info',
      headers: { Host: `127.0.0.1:${web.port}`, 'Content-Type': 'application/json', 'X-RRLHF-Token': web.token, 'Transfer-Encoding': 'chunked' },
    }, (res) => {
      const sentWhenAnswered = sent;
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => { req.destroy(); resolve({ status: res.statusCode!, body, sentWhenAnswered }); });
    });
    req.on('error', (e: NodeJS.ErrnoException) => { if (e.code !== 'ECONNRESET' && e.code !== 'EPIPE') reject(e); });
    const chunk = Buffer.alloc(MB, 0x20);
    const pump = () => {
      while (sent < total && !req.destroyed) {
        sent += chunk.length;
        if (!req.write(chunk)) { req.once('drain', pump); return; }
      }
      if (!req.destroyed) req.end();
    };
    pump();
  });
  assert.equal(r.status, 413);
  assert.match(JSON.parse(r.body).error, /too large/);
  assert.ok(r.sentWhenAnswered < total / 2, `answered only after ${r.sentWhenAnswered >> 20} MiB of ${total >> 20} MiB were sent`);
  assert.equal((await callApi('app.info', null)).status, 200, 'the server still answers');
});

test('uploads land inside the data folder under a safe name, then inspect and import like any file', async () => {
  const body = readFileSync(fixture('data', 'trl_explicit.jsonl'));
  const up = await request({ method: 'POST', path: `/api/upload?name=${encodeURIComponent('../../../evil name.jsonl')}`, headers: { 'X-RRLHF-Token': web.token, 'Content-Type': 'application/octet-stream' }, body });
  assert.equal(up.status, 200);
  const file = JSON.parse(up.body).result.path as string;
  assert.ok(file.startsWith(path.join(dir, 'data', 'uploads') + path.sep), file);
  assert.equal(path.basename(file), 'evil name.jsonl');
  assert.deepEqual(readFileSync(file), body);
  const ins = JSON.parse((await callApi('datasets.inspect', { file })).body).result;
  assert.equal(ins.schema.id, 'trl_explicit');
  assert.equal(ins.preview.length, 4);
  assert.equal((await request({ method: 'POST', path: '/api/upload?name=x', headers: { 'Content-Type': 'application/octet-stream' }, body: 'x' })).status, 401);
  // Once imported the rows are in the store: the upload (up to 8 GiB) is removed, its folder too.
  const job = JSON.parse((await callApi('datasets.import', { file, name: 'uploaded' })).body).result as JobInfo;
  let j = job;
  for (let i = 0; i < 200 && j.state !== 'done' && j.state !== 'error'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    j = JSON.parse((await callApi('jobs.get', { id: job.id })).body).result as JobInfo;
  }
  assert.equal(j.state, 'done', JSON.stringify(j));
  assert.ok(!existsSync(path.dirname(file)), 'the imported upload is removed');
  assert.ok(existsSync(path.join(dir, 'data', 'uploads')), 'uploads/ itself stays');
});

test('job events arrive as server-sent events, from "hello" to the job\'s result', async () => {
  const events: { event: string; data: string }[] = [];
  const done = new Promise<JobInfo>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: web.port, path: `/api/events?token=${encodeURIComponent(web.token)}`, headers: { Host: `127.0.0.1:${web.port}` } }, (res) => {
      assert.equal(res.headers['content-type']?.split(';')[0], 'text/event-stream');
      let buf = '';
      res.on('data', async (d: Buffer) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i); buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          events.push({ event: ev, data });
          if (ev === 'hello') await callApi('datasets.import', { file: fixture('data', 'h2o.csv'), name: 'sse' });
          if (ev === 'job') {
            const j = (JSON.parse(data) as { job: JobInfo }).job;
            if (j.state === 'done' || j.state === 'error') { req.destroy(); resolve(j); }
          }
        }
      });
    });
    req.on('error', (e) => { if (!/socket hang up|aborted/.test(e.message)) reject(e); });
    const t = setTimeout(() => reject(new Error(`no job result over SSE; got ${JSON.stringify(events)}`)), 20_000);
    t.unref();
  });
  const job = await done;
  assert.equal(job.state, 'done', job.error);
  assert.equal(events[0]!.event, 'hello');
  assert.ok(events.some((e) => e.event === 'job' && (JSON.parse(e.data) as { job: JobInfo }).job.state === 'running'));
  assert.equal((job.result as { name: string }).name, 'sse');
  assert.equal((await request({ path: '/api/events' })).status, 401);
});

test('report files are only served for recorded reports, with the token', async () => {
  assert.equal((await request({ path: '/files/report/1/html' })).status, 401);
  assert.equal((await request({ path: `/files/report/1/html?token=${web.token}` })).status, 404);
  assert.equal((await request({ path: `/files/report/abc/html?token=${web.token}` })).status, 404);
});

test('training jobs run one at a time in order; a queued job can be dropped, a running one is signalled', async () => {
  const jobs = new JobManager();
  const order: string[] = [];
  const gate: (() => void)[] = [];
  const body = (name: string) => async (ctx: { signal: AbortSignal }) => {
    order.push(`start ${name}`);
    await new Promise<void>((resolve, reject) => { gate.push(resolve); ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))); });
    order.push(`end ${name}`);
    return name;
  };
  const a = jobs.submit('t', 'a', { kind: 'experiment' }, body('a'), { exclusive: true });
  const b = jobs.submit('t', 'b', { kind: 'experiment' }, body('b'), { exclusive: true });
  const c = jobs.submit('t', 'c', { kind: 'experiment' }, body('c'), { exclusive: true });
  await new Promise((r) => setImmediate(r));
  assert.equal(jobs.get(a.id)!.state, 'running');
  assert.equal(jobs.get(b.id)!.state, 'queued');
  assert.equal(jobs.cancel(b.id)!.state, 'cancelled');
  gate.shift()!();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(jobs.get(a.id)!.state, 'done');
  assert.equal(jobs.get(c.id)!.state, 'running');
  jobs.cancel(c.id);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(jobs.get(c.id)!.state, 'cancelled');
  assert.deepEqual(order, ['start a', 'end a', 'start c']);
  assert.ok(existsSync(dir));
});
