// Live state of the engine's jobs, fed by job events (SSE in web mode, IPC in Electron). Screens read it
// reactively and can wait for one job to finish.
import { subscribe, type JobInfo, type Connection } from './api.js';

class Jobs {
  all = $state<Record<string, JobInfo>>({});
  connection = $state<Connection>('connecting');
  /** Bumped whenever a job finishes, so screens can reload what it changed. */
  finishedCount = $state(0);
  private waiters = new Map<string, ((j: JobInfo) => void)[]>();

  constructor() {
    subscribe(
      (e) => this.put(e.job),
      (jobs) => { for (const j of jobs) this.put(j); },
      (c) => { this.connection = c; },
    );
  }

  put(j: JobInfo) {
    const prev = this.all[j.id];
    this.all[j.id] = j;
    const ended = j.state === 'done' || j.state === 'error' || j.state === 'cancelled';
    if (ended && (!prev || prev.state !== j.state)) {
      this.finishedCount++;
      for (const w of this.waiters.get(j.id) ?? []) w(j);
      this.waiters.delete(j.id);
    }
  }

  get list(): JobInfo[] {
    return Object.values(this.all).sort((a, b) => b.created.localeCompare(a.created));
  }

  get active(): JobInfo[] {
    return this.list.filter((j) => j.state === 'running' || j.state === 'queued');
  }

  /** The unfinished job working on something (e.g. experiment 3), if any. */
  activeFor(kind: JobInfo['subject']['kind'], id: number | undefined): JobInfo | undefined {
    return this.active.find((j) => j.subject.kind === kind && j.subject.id === id);
  }

  /** Resolves when the job ends (done, error or cancelled). */
  wait(j: JobInfo): Promise<JobInfo> {
    const cur = this.all[j.id] ?? j;
    if (cur.state === 'done' || cur.state === 'error' || cur.state === 'cancelled') return Promise.resolve(cur);
    return new Promise((resolve) => this.waiters.set(j.id, [...(this.waiters.get(j.id) ?? []), resolve]));
  }
}

export const jobs = new Jobs();
