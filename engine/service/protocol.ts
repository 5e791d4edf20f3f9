// The wire protocol between the engine and its transports (HTTP + SSE, Electron IPC): job states and
// events. Types only and free of engine imports, so that the Electron shell and the renderer can use them
// without pulling the engine into their builds. engine/service/jobs.ts checks that the runner's progress
// events fit ProgressEvent.

export const JOB_STATES = ['queued', 'running', 'done', 'error', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** One progress report of a long operation (the same shape as engine/experiments/runner.ts's). */
export interface ProgressEvent {
  phase: 'setup' | 'sft' | 'reward' | 'ensemble' | 'ppo' | 'done';
  message: string;
  runId?: number;
  objective?: string;
  seed?: number;
  step?: number;
  total?: number;
  /** Seconds left for the current phase (PPO: this run). */
  etaS?: number;
  metrics?: Record<string, number>;
}

/** What a job is about, so that screens can find "their" job (the experiment being run, ...). */
export interface JobSubject {
  kind: 'dataset' | 'ensemble' | 'experiment' | 'bon' | 'evaluation';
  /** The id in the store, once known (an experiment's id is known as soon as it is created). */
  id?: number;
}

export interface JobInfo {
  id: string;
  /** The API method that started it, e.g. "experiments.start". */
  method: string;
  label: string;
  state: JobState;
  subject: JobSubject;
  created: string;
  started: string | null;
  finished: string | null;
  /** The last progress event (phase, message, run, step/total, metrics). */
  progress: ProgressEvent | null;
  /** Fraction of the whole job done, 0..1, when it can be told. */
  fraction: number | null;
  /** Seconds left for the whole job, when it can be told. */
  etaS: number | null;
  result?: unknown;
  error?: string;
  /** True once the user asked it to stop and it has not stopped yet. */
  stopping: boolean;
}

export type JobEvent = { type: 'job'; job: JobInfo };

/** A service call's outcome as every transport carries it. */
export type Reply<T = unknown> = { ok: true; result: T } | { ok: false; error: string; status: number };
