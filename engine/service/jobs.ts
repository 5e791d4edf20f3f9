// Long operations (imports, ensemble training, experiments) run as jobs: each has an id, a state, the
// last progress event with an ETA, and a result or an error. Compute jobs (training) run one at a time
// in submission order so that two studies never fight over the same cores; imports run at once.
// Every change is published to listeners (the HTTP transport turns them into server-sent events, the
// Electron engine host into IPC messages).
import { randomUUID } from 'node:crypto';
import type { ProgressEvent } from '../experiments/runner.js';

export { JOB_STATES, type JobState, type JobSubject, type JobInfo, type JobEvent } from './protocol.js';
import type { JobState, JobSubject, JobInfo, JobEvent, ProgressEvent as WireProgress } from './protocol.js';

// The runner's progress events travel as the protocol's ProgressEvent: fail the build if they drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const progressShapesAgree: Same<ProgressEvent, WireProgress> = true;
void progressShapesAgree;

export interface JobContext {
  signal: AbortSignal;
  /** Reports progress; `fraction` and `etaS` are for the whole job (null: unknown). */
  progress(e: ProgressEvent, overall?: { fraction?: number | null; etaS?: number | null }): void;
  /** Records what the job works on (e.g. the experiment id once created). */
  subject(s: JobSubject): void;
}

export type JobBody = (ctx: JobContext) => Promise<unknown>;

interface Entry { info: JobInfo; body: JobBody; ac: AbortController; exclusive: boolean; lastEmit: number; timer: NodeJS.Timeout | null }

const now = () => new Date().toISOString();
/** Progress events are published at most this often per job (state changes always at once). */
const EMIT_MS = 250;
/** Finished jobs kept for `jobs.list` (the store keeps the lasting record). */
const KEEP_FINISHED = 50;

/** Thrown into a job body's promise when the user stops it. */
export class JobCancelled extends Error {
  constructor(message = 'stopped by the user') { super(message); }
}

export class JobManager {
  private readonly jobs = new Map<string, Entry>();
  private readonly listeners = new Set<(e: JobEvent) => void>();
  private running: Entry | null = null;
  private readonly queue: Entry[] = [];

  onEvent(f: (e: JobEvent) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** Starts a job (exclusive jobs wait for the one running). Returns its info at once. */
  submit(method: string, label: string, subject: JobSubject, body: JobBody, opts: { exclusive: boolean }): JobInfo {
    const info: JobInfo = {
      id: randomUUID(), method, label, state: 'queued', subject, created: now(), started: null, finished: null,
      progress: null, fraction: null, etaS: null, stopping: false,
    };
    const e: Entry = { info, body, ac: new AbortController(), exclusive: opts.exclusive, lastEmit: 0, timer: null };
    this.jobs.set(info.id, e);
    this.emit(e, true);
    if (!opts.exclusive) void this.execute(e);
    else { this.queue.push(e); this.pump(); }
    return { ...info };
  }

  get(id: string): JobInfo | undefined {
    const e = this.jobs.get(id);
    return e && { ...e.info };
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].map((e) => ({ ...e.info })).reverse();
  }

  /** Jobs not yet finished. */
  active(): JobInfo[] {
    return this.list().filter((j) => j.state === 'queued' || j.state === 'running');
  }

  /** Asks a job to stop: a queued job is dropped, a running one gets its signal aborted. */
  cancel(id: string): JobInfo | undefined {
    const e = this.jobs.get(id);
    if (!e) return undefined;
    if (e.info.state === 'queued') {
      const i = this.queue.indexOf(e);
      if (i >= 0) this.queue.splice(i, 1);
      this.finish(e, 'cancelled', { error: 'stopped before it started' });
    } else if (e.info.state === 'running') {
      e.info.stopping = true;
      e.ac.abort(new JobCancelled());
      this.emit(e, true);
    }
    return { ...e.info };
  }

  /** Aborts everything and waits (up to `ms`) for running jobs to wind down. */
  async shutdown(ms = 5000): Promise<void> {
    for (const e of [...this.queue]) this.cancel(e.info.id);
    const running = [...this.jobs.values()].filter((e) => e.info.state === 'running');
    for (const e of running) e.ac.abort(new JobCancelled('the app is closing'));
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && [...this.jobs.values()].some((e) => e.info.state === 'running')) await new Promise((r) => setTimeout(r, 50));
  }

  private pump() {
    if (this.running) return;
    const next = this.queue.shift();
    if (!next) return;
    this.running = next;
    void this.execute(next).finally(() => {
      this.running = null;
      this.pump();
    });
  }

  private async execute(e: Entry): Promise<void> {
    e.info.state = 'running';
    e.info.started = now();
    this.emit(e, true);
    const ctx: JobContext = {
      signal: e.ac.signal,
      progress: (p, overall) => {
        e.info.progress = p;
        if (overall?.fraction !== undefined) e.info.fraction = overall.fraction;
        if (overall?.etaS !== undefined) e.info.etaS = overall.etaS;
        this.emit(e, false);
      },
      subject: (s) => {
        e.info.subject = s;
        this.emit(e, true);
      },
    };
    try {
      const result = await e.body(ctx);
      this.finish(e, 'done', { result });
    } catch (err) {
      if (e.ac.signal.aborted) this.finish(e, 'cancelled', { error: e.info.stopping ? 'stopped by the user' : 'stopped because the app is closing' });
      else this.finish(e, 'error', { error: (err as Error).message || String(err) });
    }
  }

  private finish(e: Entry, state: JobState, extra: { result?: unknown; error?: string }) {
    e.info.state = state;
    e.info.finished = now();
    e.info.stopping = false;
    if (state === 'done') { e.info.fraction = 1; e.info.etaS = 0; }
    if (extra.result !== undefined) e.info.result = extra.result;
    if (extra.error !== undefined) e.info.error = extra.error;
    this.emit(e, true);
    const finished = [...this.jobs.values()].filter((x) => x.info.finished);
    for (const old of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.jobs.delete(old.info.id);
  }

  /** Publishes the job's state; progress-only updates are throttled per job. */
  private emit(e: Entry, force: boolean) {
    const send = () => {
      e.timer = null;
      e.lastEmit = Date.now();
      const ev: JobEvent = { type: 'job', job: { ...e.info } };
      for (const f of this.listeners) {
        try { f(ev); } catch { /* a broken listener must not break the job */ }
      }
    };
    if (force) {
      if (e.timer) { clearTimeout(e.timer); e.timer = null; }
      return send();
    }
    if (e.timer) return;
    const wait = EMIT_MS - (Date.now() - e.lastEmit);
    if (wait <= 0) send();
    else e.timer = setTimeout(send, wait);
  }
}
