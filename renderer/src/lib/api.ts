// The renderer's one way to the engine: typed calls to the service API, job events, file handling.
// In Electron it goes through the preload bridge (window.rrlhf, IPC to the engine process); in a browser
// (web mode) through HTTP + server-sent events to `rrlhf serve`, with the access token from the address.
// Only types come from the engine (erased at build time); no engine code is bundled.
import type { MethodName, Input, Output, JobResult } from '../../../engine/service/api.js';
import type { JobEvent, JobInfo } from '../../../engine/service/protocol.js';
import type { RrlhfBridge, FileFilter } from '../../../engine/service/bridge.js';

export type { MethodName, Input, Output, JobResult, JobEvent, JobInfo };

declare global {
  interface Window { rrlhf?: RrlhfBridge }
}

export class ApiError extends Error {
  constructor(message: string, readonly status = 0) { super(message); }
}

export type Connection = 'connecting' | 'open' | 'lost';

interface Transport {
  kind: 'electron' | 'web';
  call(method: string, input: unknown): Promise<unknown>;
  subscribe(onEvent: (e: JobEvent) => void, onHello: (jobs: JobInfo[]) => void, onConnection: (c: Connection) => void): void;
}

const TOKEN_KEY = 'rrlhf-token';

/** The access token: from ?token= in the address (then removed from it), kept for this tab's session. */
function takeToken(): string | null {
  const url = new URL(window.location.href);
  const t = url.searchParams.get('token');
  if (t) {
    sessionStorage.setItem(TOKEN_KEY, t);
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
    return t;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function webTransport(): Transport {
  const token = takeToken();
  return {
    kind: 'web',
    async call(method, input) {
      if (!token) throw new ApiError('this page was opened without its access token: open the full address that `rrlhf serve` (or `npm start`) printed, ending in ?token=…', 401);
      let res: Response;
      try {
        res = await fetch(`./api/call/${encodeURIComponent(method)}`, {
          method: 'POST', headers: { 'Content-Type': 'application/json', 'X-RRLHF-Token': token }, body: JSON.stringify(input ?? null),
        });
      } catch {
        throw new ApiError('the engine does not answer: is `rrlhf serve` still running? Start it again and reload this page', 0);
      }
      let body: { result?: unknown; error?: string };
      try { body = await res.json(); } catch { throw new ApiError(`the engine answered ${res.status} without a readable reply; reload the page`, res.status); }
      if (!res.ok || body.error !== undefined) throw new ApiError(body.error ?? `request failed (${res.status})`, res.status);
      return body.result;
    },
    subscribe(onEvent, onHello, onConnection) {
      if (!token) { onConnection('lost'); return; }
      onConnection('connecting');
      const es = new EventSource(`./api/events?token=${encodeURIComponent(token)}`);
      es.addEventListener('hello', (m) => { onConnection('open'); onHello((JSON.parse((m as MessageEvent).data) as { jobs: JobInfo[] }).jobs); });
      es.addEventListener('job', (m) => onEvent(JSON.parse((m as MessageEvent).data) as JobEvent));
      es.onerror = () => onConnection(es.readyState === EventSource.CLOSED ? 'lost' : 'connecting');
    },
  };
}

function electronTransport(b: RrlhfBridge): Transport {
  return {
    kind: 'electron',
    async call(method, input) {
      const r = await b.call(method, input ?? null);
      if (!r.ok) throw new ApiError(r.error, r.status ?? 0);
      return r.result;
    },
    subscribe(onEvent, onHello, onConnection) {
      b.onEvent(onEvent);
      onConnection('open');
      void b.call('jobs.list', null).then((r) => { if (r.ok) onHello(r.result as JobInfo[]); });
      b.onNotice((n) => {
        if (n.kind === 'engine-crashed') onConnection('lost');
        else {
          onConnection('open');
          void b.call('jobs.list', null).then((r) => { if (r.ok) onHello(r.result as JobInfo[]); });
        }
      });
    },
  };
}

const bridge = typeof window !== 'undefined' ? window.rrlhf : undefined;
const transport: Transport = bridge ? electronTransport(bridge) : webTransport();

// The desktop menu's "Datasets", "New Study…" … items show a screen.
bridge?.onNavigate((hash) => { if (/^#\/[\w/-]*$/.test(hash)) window.location.hash = hash; });

export const mode = transport.kind;
export const desktop = bridge ?? null;

/** Calls a service method. Throws ApiError with the engine's sentence (what went wrong, what to do). */
export function call<M extends MethodName>(method: M, ...input: undefined extends Input<M> ? [Input<M>?] : [Input<M>]): Promise<Output<M>> {
  return transport.call(method, input[0]) as Promise<Output<M>>;
}

export function subscribe(onEvent: (e: JobEvent) => void, onHello: (jobs: JobInfo[]) => void, onConnection: (c: Connection) => void) {
  transport.subscribe(onEvent, onHello, onConnection);
}

/**
 * Makes a file the user picked or dropped available to the engine, and returns its path there: in
 * Electron the file's own path; in web mode the file is uploaded into the data folder first.
 */
export async function fileForEngine(file: File, onProgress?: (fraction: number) => void): Promise<string> {
  if (bridge) {
    const p = bridge.pathForFile(file);
    if (!p) throw new ApiError('this file has no path on disk (was it dragged from another app?); save it to a folder first, then choose it');
    return p;
  }
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) throw new ApiError('this page was opened without its access token: open the full address that `rrlhf serve` printed');
  return new Promise((resolve, reject) => {
    // XMLHttpRequest, not fetch: it reports upload progress.
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `./api/upload?name=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader('X-RRLHF-Token', token);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress?.(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError('the upload did not reach the engine; is `rrlhf serve` still running?'));
    xhr.onload = () => {
      let body: { result?: { path: string }; error?: string } = {};
      try { body = JSON.parse(xhr.responseText); } catch { /* handled below */ }
      if (xhr.status === 200 && body.result) resolve(body.result.path);
      else reject(new ApiError(body.error ?? `the upload failed (${xhr.status})`, xhr.status));
    };
    xhr.send(file);
  });
}

/** A link that opens one file of an exported report (web mode), or null in Electron (use openPath). */
export function reportFileUrl(reportId: number, format: string): string | null {
  if (bridge) return null;
  const token = sessionStorage.getItem(TOKEN_KEY) ?? '';
  return `./files/report/${reportId}/${format}?token=${encodeURIComponent(token)}`;
}

export const DATA_FILE_FILTERS: FileFilter[] = [
  { name: 'Preference data', extensions: ['jsonl', 'ndjson', 'json', 'csv', 'tsv', 'parquet'] },
  { name: 'All files', extensions: ['*'] },
];

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The validator's wording of a bad value, in words a form can show ("enter a number", "must be at least 1"). */
function plainWhy(why: string): string {
  if (/expected number, received (null|NaN|undefined)|received NaN/.test(why)) return 'enter a number';
  const small = /Too small: expected number to be >(=?)(\S+)/.exec(why);
  if (small) return small[1] ? `must be at least ${small[2]}` : `must be more than ${small[2]}`;
  const big = /Too big: expected number to be <(=?)(\S+)/.exec(why);
  if (big) return big[1] ? `must be at most ${big[2]}` : `must be less than ${big[2]}`;
  if (/expected int/.test(why)) return 'must be a whole number';
  return why;
}

/**
 * An input error from the engine ("invalid input for ensembles.train: heads: Invalid input: expected number,
 * received null") as a form shows it: "Check the settings — Heads K: enter a number." `fields` maps the
 * input's paths to the labels on the form; other errors come back as errorText gives them.
 */
export function inputErrorText(err: unknown, fields: Record<string, string>): string {
  const text = errorText(err);
  const m = /^invalid input for [\w.]+: (.*)$/s.exec(text);
  if (!m) return text;
  const parts = m[1]!.split('; ').map((p) => {
    const i = p.indexOf(': ');
    if (i < 0) return p;
    const path = p.slice(0, i);
    return `${fields[path] ?? path.replace(/^spec\./, '')}: ${plainWhy(p.slice(i + 2))}`;
  });
  return `Check the settings — ${parts.join('; ')}.`;
}

/**
 * For screens that reload while a job runs: applies a response only if no newer request was made since,
 * so that a slow, stale answer never overwrites a fresh one.
 */
export function latestOnly() {
  let n = 0;
  return <T>(p: Promise<T>, apply: (v: T) => void, fail?: (e: unknown) => void) => {
    const mine = ++n;
    p.then((v) => { if (mine === n) apply(v); }, (e) => { if (mine === n) fail?.(e); });
  };
}
