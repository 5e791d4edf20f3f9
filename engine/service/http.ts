// Web mode: the service over HTTP on 127.0.0.1, for a browser on this machine (or through an SSH
// tunnel), and for the end-to-end tests.
//
//   GET  /                      the renderer (dist/renderer), with a strict Content-Security-Policy
//   POST /api/call/<method>     JSON input → 200 {result} | 4xx/5xx {error}
//   GET  /api/events            server-sent events: every job change ("job"), and "hello" on connect
//   POST /api/upload?name=F     a data file's bytes → {path} (saved under <data dir>/uploads/ until imported)
//   GET  /files/report/<id>/<format>   a file of an exported report
//
// Security: bound to 127.0.0.1 only; a random token (crypto-strength, per start) is required on every
// /api and /files request, in the Authorization header (Bearer) or X-RRLHF-Token, or as ?token= where a
// browser cannot set headers (EventSource, links); requests whose Host is not this server's (DNS
// rebinding) or whose Origin is another site are refused; no CORS headers are ever sent.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { serve, type ServerType } from '@hono/node-server';
import type { Service } from './api.js';
import type { JobEvent } from './jobs.js';
import { reportFile } from './reports.js';
import { sweepUploads, uploadsDir } from './uploads.js';

/** The Content-Security-Policy of the app's pages (the Electron window sets the same). */
export const APP_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:", "font-src 'self'",
  "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'", "object-src 'none'",
].join('; ');
/** Exported reports are documents, not apps: no scripts, no network, nothing but their own inline styles and images. */
const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

const MAX_CALL_BYTES = 4 << 20;
const MAX_UPLOAD_BYTES = 8 * 2 ** 30;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json', '.woff2': 'font/woff2',
  '.pdf': 'application/pdf', '.csv': 'text/csv; charset=utf-8', '.map': 'application/json',
};

/** dist/renderer, next to dist/engine (the same layout inside the packaged app). */
export const DEFAULT_RENDERER_DIR = fileURLToPath(new URL('../../renderer/', import.meta.url));

export interface WebServerOptions {
  service: Service;
  /** 0 (default): a free port. */
  port?: number;
  rendererDir?: string;
  /** Fixed token (tests); default: 32 random bytes, base64url. */
  token?: string;
}

export interface WebServer {
  url: string;
  origin: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
};

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Robust RLHF Studio</title>
<p>The app's screens are not built yet. Run <code>npm run build</code> in the project folder, then reload this page.</p>`;

function safeName(name: string): string {
  const base = path.basename(name).normalize('NFC').replace(/[^\w.\- ]+/g, '_').replace(/^\.+/, '').slice(-120);
  return base || 'upload';
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

export async function startWebServer(o: WebServerOptions): Promise<WebServer> {
  const { service } = o;
  const token = o.token ?? randomBytes(32).toString('base64url');
  const tokenBuf = Buffer.from(token);
  const rendererDir = path.resolve(o.rendererDir ?? DEFAULT_RENDERER_DIR);
  sweepUploads(service.dataDir);
  let port = 0;
  const hosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const origins = () => new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);

  const tokenOk = (c: Context) => {
    const auth = c.req.header('authorization');
    const given = auth?.startsWith('Bearer ') ? auth.slice(7) : c.req.header('x-rrlhf-token') ?? (c.req.method === 'GET' ? c.req.query('token') : undefined);
    if (!given) return false;
    const b = Buffer.from(given);
    return b.length === tokenBuf.length && timingSafeEqual(b, tokenBuf);
  };

  const app = new Hono();
  app.use('*', async (c, next) => {
    // DNS rebinding: only requests addressed to this server by its loopback name get through.
    if (!hosts().has(c.req.header('host') ?? '')) return c.text('wrong host: open the app at the address `rrlhf serve` printed', 421);
    const origin = c.req.header('origin');
    if (origin !== undefined && !origins().has(origin)) return c.text('requests from other sites are refused', 403);
    await next();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(k, v);
  });
  app.use('/api/*', async (c, next) => {
    if (!tokenOk(c)) return c.json({ error: 'missing or wrong access token: open the app with the full address `rrlhf serve` printed (it ends in ?token=…)' }, 401);
    await next();
    c.res.headers.set('Cache-Control', 'no-store');
  });
  app.use('/files/*', async (c, next) => {
    if (!tokenOk(c)) return c.text('missing or wrong access token', 401);
    await next();
  });

  app.post('/api/call/:method', async (c) => {
    const method = c.req.param('method');
    if (!(c.req.header('content-type') ?? '').startsWith('application/json')) return c.json({ error: 'send the input as JSON (Content-Type: application/json)' }, 415);
    const len = Number(c.req.header('content-length') ?? 0);
    if (len > MAX_CALL_BYTES) return c.json({ error: `the request is too large (${len} bytes; at most ${MAX_CALL_BYTES})` }, 413);
    // Read at most MAX_CALL_BYTES: a body without Content-Length (chunked) must not be buffered whole.
    const text = await readLimited(c.req.raw, MAX_CALL_BYTES);
    if (text === null) return c.json({ error: `the request is too large (more than ${MAX_CALL_BYTES} bytes)` }, 413, { Connection: 'close' });
    let input: unknown;
    try { input = text ? JSON.parse(text) : undefined; } catch { return c.json({ error: 'the request body is not valid JSON' }, 400); }
    const r = await service.call(method, input);
    return r.ok ? c.json({ result: r.result }) : c.json({ error: r.error }, r.status as 400);
  });

  app.get('/api/events', (c) => streamSSE(c, async (stream) => {
    const queue: JobEvent[] = [];
    let wake: (() => void) | null = null;
    let open = true;
    const off = service.onEvent((e) => { queue.push(e); wake?.(); });
    stream.onAbort(() => { open = false; off(); wake?.(); });
    await stream.writeSSE({ event: 'hello', data: JSON.stringify({ jobs: service.ctx.jobs.list() }) });
    while (open) {
      while (queue.length) {
        const e = queue.shift()!;
        await stream.writeSSE({ event: e.type, data: JSON.stringify(e) });
      }
      // Wait for the next event, with a comment every 15 s so proxies keep the stream open.
      const timer = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(true), 15_000);
        wake = () => { clearTimeout(t); resolve(false); };
      });
      wake = null;
      if (timer && open) await stream.write(': keep-alive\n\n');
    }
  }));

  app.post('/api/upload', async (c) => {
    const name = safeName(c.req.query('name') ?? 'upload');
    const len = Number(c.req.header('content-length') ?? 0);
    if (len > MAX_UPLOAD_BYTES) return c.json({ error: `the file is too large to upload (${len} bytes); put it on the machine the engine runs on and type its path instead` }, 413);
    const body = c.req.raw.body;
    if (!body) return c.json({ error: 'the upload is empty; choose a file with data in it' }, 400);
    const dir = path.join(uploadsDir(service.dataDir), randomUUID());
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, name);
    let bytes = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        cb(bytes > MAX_UPLOAD_BYTES ? new Error('upload too large') : null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(body as import('node:stream/web').ReadableStream), limit, fs.createWriteStream(file, { flags: 'wx' }));
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      return c.json({ error: `the upload failed (${(err as Error).message}); try again` }, 400);
    }
    return c.json({ result: { path: file, name, bytes } });
  });

  app.get('/files/report/:id/:format', (c) => {
    const id = Number(c.req.param('id'));
    const f = Number.isInteger(id) && id > 0 ? reportFile(service.ctx.store, id, c.req.param('format')) : undefined;
    if (!f) return c.text('no such report file: export the report again', 404);
    const ext = path.extname(f.path).toLowerCase();
    const headers: Record<string, string> = {
      'Content-Type': MIME[ext] ?? 'application/octet-stream', 'Content-Length': String(fs.statSync(f.path).size), 'Cache-Control': 'no-store',
      'Content-Disposition': `${ext === '.html' || ext === '.pdf' ? 'inline' : 'attachment'}; filename="${path.basename(f.path)}"`,
    };
    if (ext === '.html') headers['Content-Security-Policy'] = REPORT_CSP;
    return new Response(Readable.toWeb(fs.createReadStream(f.path)) as ReadableStream, { headers });
  });

  // The renderer's static files. Unknown paths without an extension get index.html (client routing).
  app.get('*', (c) => {
    let rel: string;
    try { rel = decodeURIComponent(new URL(c.req.url).pathname); } catch { return c.text('bad path', 400); }
    if (rel.includes('\0')) return c.text('bad path', 400);
    let file = path.resolve(rendererDir, '.' + rel);
    if (!file.startsWith(rendererDir + path.sep) && file !== rendererDir) return c.text('not found', 404);
    if (rel.endsWith('/') || !path.extname(rel)) file = path.join(rendererDir, 'index.html');
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
      if (file.endsWith('index.html')) return c.html(NOT_BUILT, 503, { 'Content-Security-Policy': APP_CSP });
      return c.text('not found', 404);
    }
    const ext = path.extname(file).toLowerCase();
    const headers: Record<string, string> = { 'Content-Type': MIME[ext] ?? 'application/octet-stream' };
    if (ext === '.html') { headers['Content-Security-Policy'] = APP_CSP; headers['Cache-Control'] = 'no-store'; }
    else headers['Cache-Control'] = rel.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    return new Response(fs.readFileSync(file), { headers });
  });

  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: o.port ?? 0 }, () => resolve(s));
    s.once('error', reject);
  });
  port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/?token=${token}`, origin, port, token,
    close: () => new Promise<void>((resolve) => {
      const s = server as import('node:http').Server;
      s.close(() => resolve());
      s.closeAllConnections?.();
    }),
  };
}
