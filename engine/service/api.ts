// The one typed service API. Every transport (HTTP + server-sent events in web mode, IPC through the
// Electron engine host) calls `Service.call(method, input)`; nothing else reaches the engine.
//
// Each method has a zod input schema (every input is validated; unknown keys are refused) and either a
// handler (a quick call that returns its result) or a job body (a long operation: it returns the job at
// once and reports progress, ETA and its result or error as job events; it stops through an
// AbortSignal). Errors come back as { error } with a sentence that says what to do next.
import { DEFAULT_PRECISION } from '../../common/precision.js';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { z } from 'zod';
import {
  openStore, StoreError, InputFileError, RunFilterSchema, SeriesRequestSchema, BandsRequestSchema, ConfigDiffRequestSchema,
  SampleQuerySchema, DB_FILE, configDiff, isComplete, type Store, type Run,
} from '../store/index.js';
import { importDataset, ImportRequestSchema, DataFileError, OptionError, FORMATS, SCHEMA_IDS } from '../data/index.js';
import { MappingSchema } from '../data/options.js';
import { listDevices, resolveDevice } from '../runtime/devices.js';
import { ExperimentSpecSchema, ObjectiveSchema, resolveSpecPaths, PRETRAINED_DEFAULTS, type ExperimentSpec } from '../experiments/spec.js';
import { runExperiment, resumeExperiment, objectiveConfig, type ProgressEvent } from '../experiments/runner.js';
import { JobManager, type JobContext, type JobInfo, type JobEvent, type JobSubject } from './jobs.js';
import { EnsembleTrainSchema, trainWorldEnsemble } from './ensemble-train.js';
import { resolveBootstrap } from '../rlhf/ensemble.js';
import { presetSpec, estimate, estimateBon, tinyPresets, PRESET_NAMES, PRESET_LABELS, type Calibration } from './presets.js';
import { SettingsFile, SettingsPatchSchema } from './settings.js';
import { studyView, studyStatus, runView } from './summary.js';
import { inspectFile } from './inspect.js';
import { worldsInfo } from './worlds-info.js';
import { exportReports, listReports, openFolder, pdfSupport, ReportError, REPORT_FORMATS } from './reports.js';
import { WORLD_NAMES } from '../worlds/index.js';
import { LORA_DEFAULTS } from '../models/lora.js';
import { inspectModelFolder, ModelFolderError } from './models.js';
import { namesOfUploads, releaseUpload } from './uploads.js';
import { RewardServers, RewardServerError } from './reward-servers.js';
import { OBJECTIVES } from '../rlhf/aggregate.js';
import { NORMALIZE_MODES } from '../serve/reward-server.js';
import { importRunLog, checkLogPath, RunImportSchema, RunLogError, DuplicateImportError } from '../runlogs/import.js';
import { exportStudy, ExportError, EXPORT_ENGINES } from '../export/index.js';
import { BonRequestSchema, executeBon, BonSourceError } from './bon.js';
import { assertStudyFits, studyMemory, MemoryPlanError } from '../experiments/memory.js';
import { DEFAULT_LORA_RANK } from '../models/memory.js';
import { ensembleMembersPhrase, DEFAULT_ENSEMBLE_TRUNKS } from '../../common/ensemble-methods.js';
import { evaluateStudy } from '../eval/study.js';
import { prepareBenchmark } from '../eval/prepare.js';
import { evaluateBenchmark } from '../eval/run.js';
import { CausalLM } from '../models/model.js';
import { loadTokenizer } from '../models/tokenizer.js';
import { runRewardBench } from '../eval/rewardbench.js';
import { RunPolicyError } from '../eval/policy.js';
import { BenchmarkError } from '../eval/read.js';
import { EvalOptionError } from '../eval/run.js';
import { EVAL_FORMATS } from '../eval/formats.js';

export { APP_VERSION } from '../version.js';
import { APP_VERSION } from '../version.js';

/** A problem the caller can fix; `status` is the HTTP status the web transport answers with. */
export class ApiError extends Error {
  constructor(message: string, readonly status = 400) { super(message); }
}

export interface Ctx {
  store: Store;
  dataDir: string;
  settings: SettingsFile;
  jobs: JobManager;
  mode: 'web' | 'electron' | 'embedded';
  /** Reward servers started from the Ensembles screen (stopped when the service closes). */
  rewardServers: RewardServers;
}

interface CallDef<S extends z.ZodType, R> {
  kind: 'call';
  summary: string;
  input: S;
  run(input: z.output<S>, ctx: Ctx): R | Promise<R>;
}
interface JobDef<S extends z.ZodType, R> {
  kind: 'job';
  summary: string;
  input: S;
  /** Exclusive jobs (training) wait for the running one; the others start at once. */
  exclusive: boolean;
  /** Checks that can fail before the job is queued (so the caller gets the error at once). */
  check?(input: z.output<S>, ctx: Ctx): void | Promise<void>;
  label(input: z.output<S>, ctx: Ctx): string;
  subject(input: z.output<S>): JobSubject;
  run(input: z.output<S>, ctx: Ctx, job: JobContext): Promise<R>;
}

const call = <S extends z.ZodType, R>(d: Omit<CallDef<S, R>, 'kind'>): CallDef<S, R> => ({ kind: 'call', ...d });
const job = <S extends z.ZodType, R>(d: Omit<JobDef<S, R>, 'kind'>): JobDef<S, R> => ({ kind: 'job', ...d });

const Id = z.number().int().positive();
const None = z.strictObject({}).optional();
const ById = z.strictObject({ id: Id });

const notFound = (what: string, id: number, where: string) => new ApiError(`${what} ${id} does not exist; ${where}`, 404);

function needExperiment(c: Ctx, id: number) {
  const e = c.store.experiments.get(id);
  if (!e) throw notFound('study', id, 'the Experiments screen lists the studies there are');
  return e;
}
function needRun(c: Ctx, id: number) {
  const r = c.store.runs.get(id);
  if (!r) throw notFound('run', id, 'the Runs screen lists the runs there are');
  return r;
}

/** A file the engine can read, or a 400 saying what to choose. */
function needReadable(file: string, what: string) {
  try { fs.accessSync(path.resolve(file), fs.constants.R_OK); } catch { throw new ApiError(`cannot read ${file}: choose ${what} (.jsonl, .json, .csv, .parquet) or a dataset folder`, 400); }
}

/** Progress of a job that counts items, with the ETA from the rate so far. */
function countProgress(job: JobContext, message: string) {
  const t0 = Date.now();
  return (done: number, total: number) => {
    const el = (Date.now() - t0) / 1000;
    job.progress({ phase: 'setup', message, step: done, total }, { fraction: total ? done / total : null, etaS: done ? (el / done) * (total - done) : null });
  };
}

/** A benchmark file and how to read and score it, as `rrlhf eval` takes them (docs/evals.md). */
const BENCHMARK_OPTIONS = {
  file: z.string().min(1, 'choose a benchmark file or dataset folder'),
  format: z.enum(['auto', ...EVAL_FORMATS]).default('auto'),
  split: z.string().min(1).optional(),
  shots: z.number().int().min(0).max(64).optional(),
  limit: z.number().int().positive().optional(),
  chatTemplate: z.boolean().default(false),
  mapping: z.record(z.string().min(1), z.string().min(1)).optional(),
};

/** The job (queued or running) working on an experiment, if any. */
const experimentJob = (c: Ctx, id: number) => c.jobs.active().find((j) => j.subject.kind === 'experiment' && j.subject.id === id);

/** An experiment spec from the wizard: validated by the engine's schema, every default filled in, and a
 *  dataset world's model folders made absolute (so the stored spec resumes from anywhere). */
const SpecInput = z.unknown().transform((raw, ctx) => {
  const r = ExperimentSpecSchema.safeParse(raw ?? {});
  if (!r.success) {
    for (const i of r.error.issues) ctx.addIssue({ code: 'custom', message: i.message, path: i.path as (string | number)[] });
    return z.NEVER;
  }
  return resolveSpecPaths(r.data);
});

/**
 * Overall progress of a study: setup (π₀ and the ensemble, estimated from the calibration) then PPO
 * iterations (measured as they go). Also measures this machine's speed for later estimates.
 */
class StudyClock {
  private readonly t0 = Date.now();
  private readonly phaseStart = new Map<string, number>();
  private ppoStart: number | null = null;
  private itersSeen = 0;
  private readonly setupEst: number;
  /** Predicted seconds per PPO iteration (gold evaluations included), until measured. */
  private readonly perIter: number;
  /** False for a model of the user's own: nothing can be predicted before PPO has run a few iterations. */
  private readonly known: boolean;

  constructor(private readonly spec: ExperimentSpec, private readonly itersToDo: number, private readonly cal: Calibration, setupDone = false) {
    const e = estimate(spec, cal);
    this.known = e.seconds !== null;
    // A resumed study loads its saved starting policy and ensemble instead of training them.
    this.setupEst = setupDone ? 0 : e.parts.setup;
    this.perIter = (e.parts.ppo + e.parts.eval) / Math.max(1, e.iterations);
  }

  update(e: ProgressEvent): { fraction: number | null; etaS: number | null } {
    const now = Date.now();
    if (!this.phaseStart.has(e.phase)) this.phaseStart.set(e.phase, now);
    const setupShare = this.setupEst / (this.setupEst + this.itersToDo * this.perIter + 1);
    if (e.phase !== 'ppo') {
      if (this.ppoStart !== null || !this.known) return { fraction: null, etaS: null };
      const el = (now - this.t0) / 1000;
      const setupLeft = this.setupEst ? Math.max(5, this.setupEst - el) : 0;
      return { fraction: Math.min(setupShare, setupShare * (el / Math.max(1, this.setupEst))), etaS: setupLeft + this.itersToDo * this.perIter };
    }
    this.ppoStart ??= now;
    this.itersSeen++;
    const rate = (now - this.ppoStart) / 1000 / this.itersSeen;
    const left = Math.max(0, this.itersToDo - this.itersSeen);
    const done = Math.min(1, this.itersSeen / Math.max(1, this.itersToDo));
    return { fraction: this.known ? setupShare + (1 - setupShare) * done : done, etaS: left * rate };
  }

  /** Seconds per unit of work measured in this study, for the time estimates (null: not measurable). */
  measured(): Partial<Calibration> {
    const out: Partial<Calibration> = {};
    const s = this.spec;
    const sft = this.phaseStart.get('sft'), reward = this.phaseStart.get('reward') ?? this.phaseStart.get('ensemble');
    if (sft !== undefined && reward !== undefined) out.sft = (reward - sft) / 1000 / (s.sft.samples * s.sft.epochs);
    if (reward !== undefined && this.ppoStart !== null) out.rewardPerPair = (this.ppoStart - reward) / 1000 / (s.ensemble.pairs * (s.ensemble.method === 'independent' ? s.ensemble.heads : 1));
    if (this.ppoStart !== null && this.itersSeen >= 4) {
      // PPO and gold evaluation interleave, so one factor scales both: measured time over predicted time.
      const t = (Date.now() - this.ppoStart) / 1000;
      const e = estimate(s, this.cal);
      const predicted = ((e.parts.ppo + e.parts.eval) / e.iterations) * this.itersSeen;
      const scale = t / predicted;
      out.ppoPerSample = this.cal.ppoPerSample * scale;
      out.evalPerSample = this.cal.evalPerSample * scale;
    }
    return out;
  }
}

async function runStudy(c: Ctx, job: JobContext, o: { spec: ExperimentSpec; resumeId?: number }) {
  const store = openStore({ dataDir: c.dataDir });
  try {
    const device = c.settings.get().device;
    const { cal } = c.settings.calibration();
    let itersToDo: number;
    if (o.resumeId !== undefined) {
      const runs = store.runs.list({ experimentId: o.resumeId }).filter((r) => !isComplete(r.status));
      itersToDo = runs.reduce((n, r) => n + o.spec.ppo.iterations - (store.runs.latestCheckpoint(r.id)?.step ?? 0), 0);
    } else {
      itersToDo = o.spec.seeds.length * o.spec.objectives.length * o.spec.ppo.iterations;
    }
    const clock = new StudyClock(o.spec, itersToDo, cal, o.resumeId !== undefined);
    // The runner creates the experiment row first thing; report its id as soon as it exists.
    const create = store.experiments.create.bind(store.experiments);
    store.experiments.create = (e) => {
      const x = create(e);
      job.subject({ kind: 'experiment', id: x.id });
      return x;
    };
    const opts = { store, dataDir: c.dataDir, device, signal: job.signal, onProgress: (e: ProgressEvent) => job.progress(e, clock.update(e)) };
    const result = o.resumeId !== undefined ? await resumeExperiment(o.resumeId, opts) : await runExperiment(o.spec, opts);
    if (o.resumeId === undefined && o.spec.world.name !== 'dataset') c.settings.measured(clock.measured());
    const exp = store.experiments.get(result.experiment)!;
    return { experiment: result.experiment, study: studyView(store, exp) };
  } finally {
    store.close();
  }
}

function datasetDetails(s: Store, id: number) {
  const d = s.datasets.get(id);
  return d && {
    id: d.id, name: d.name, rows: d.rows, rejected: d.rejected, setAside: d.setAside, format: d.format, schema: d.schema, content: d.content,
    hash: d.hash, created: d.created, sourcePath: d.sourcePath, positions: d.positions,
  };
}

/** How the same spec was run before (to say "you ran this before"). */
const previousRuns = (c: Ctx, spec: ExperimentSpec) => c.store.experiments.findBySpec(spec).map((e) => ({ id: e.id, name: e.name, created: e.created }));

export const API = {
  'app.info': call({
    summary: 'what this app is and where it keeps its data',
    input: None,
    run: (_i, c) => ({
      product: 'Robust RLHF Studio', version: APP_VERSION, mode: c.mode, dataDir: c.dataDir, database: path.join(c.dataDir, DB_FILE),
      node: process.version, platform: `${os.platform()}/${os.arch()}`, cpus: os.cpus().length, presetSize: tinyPresets() ? 'tiny' as const : 'normal' as const,
      counts: {
        datasets: c.store.datasets.list().length, ensembles: c.store.ensembles.list().length,
        experiments: c.store.experiments.list().length, runs: c.store.runs.list().length,
      },
    }),
  }),

  // ---- datasets ----------------------------------------------------------------------------------
  'datasets.list': call({
    summary: 'imported preference datasets',
    input: None,
    run: (_i, c) => c.store.datasets.list().map((d) => datasetDetails(c.store, d.id)!),
  }),
  'datasets.inspect': call({
    summary: 'the detected format, layout, field mapping and first pairs of a file, before importing it',
    input: z.strictObject({ file: z.string().min(1, 'choose a file'), format: z.enum(['auto', ...FORMATS]).default('auto'), schema: z.enum(SCHEMA_IDS).optional(), mapping: MappingSchema.optional() }),
    run: (i) => inspectFile(i.file, { format: i.format, ...(i.schema && { schema: i.schema }), ...(i.mapping && { mapping: i.mapping }) }),
  }),
  'datasets.import': job({
    summary: 'imports a preference-data file (JSONL, JSON, CSV/TSV, Parquet) into the store',
    input: ImportRequestSchema,
    exclusive: false,
    label: (i) => `import ${path.basename(i.file)}`,
    subject: () => ({ kind: 'dataset' }),
    check: (i) => { fs.accessSync(path.resolve(i.file), fs.constants.R_OK); },
    async run(i, c, job) {
      const store = openStore({ dataDir: c.dataDir }); // an import commits in a transaction of its own
      try {
        const r = await importDataset(store, i.file, {
          ...(i.name !== undefined && { name: i.name }), format: i.format, ...(i.schema && { schema: i.schema }), ...(i.mapping && { mapping: i.mapping }),
          ...(i.split && { split: i.split }), dropDuplicates: i.dropDuplicates, signal: job.signal,
          onProgress: countProgress(job, `reading ${path.basename(i.file)}`),
        });
        job.subject({ kind: 'dataset', id: r.id });
        // Its rows are in the store now; a copy that cannot be removed (in use) is left to the weekly sweep.
        try { releaseUpload(c.dataDir, i.file); } catch { /* the import itself succeeded */ }
        return r;
      } catch (err) {
        if (err instanceof Error) err.message = namesOfUploads(err.message, c.dataDir);
        throw err;
      } finally {
        store.close();
      }
    },
  }),
  'datasets.show': call({
    summary: 'one dataset: statistics, split, rejected lines with reasons, and a page of rows',
    input: z.strictObject({ id: Id, offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(200).default(20), split: z.enum(['train', 'validation', 'test']).optional() }),
    run(i, c) {
      const d = c.store.datasets.get(i.id);
      if (!d) throw notFound('dataset', i.id, 'the Datasets screen lists the datasets there are');
      return { ...d, errors: c.store.datasets.errors(i.id, { limit: 500 }), preview: c.store.datasets.rows(i.id, { offset: i.offset, limit: i.limit, ...(i.split && { split: i.split }) }) };
    },
  }),
  'datasets.delete': call({
    summary: 'removes a dataset and its rows',
    input: ById,
    run(i, c) {
      if (!c.store.datasets.get(i.id)) throw notFound('dataset', i.id, 'it may have been deleted already');
      try {
        return { id: i.id, deleted: c.store.datasets.delete(i.id) };
      } catch (err) {
        throw new ApiError(`${(err as Error).message}; delete those ensembles first if you really want it gone`, 409);
      }
    },
  }),

  // ---- worlds and devices ------------------------------------------------------------------------
  'worlds.list': call({ summary: 'the built-in worlds with a known gold reward', input: None, run: () => worldsInfo() }),
  'devices.list': call({
    summary: 'compute devices found, why any is missing, and the one chosen',
    input: None,
    async run(_i, c) {
      const devices = await listDevices();
      const chosen = c.settings.get().device;
      let resolved: string | null = null, problem: string | null = null;
      try { resolved = (await resolveDevice(chosen)).device; } catch (err) { problem = (err as Error).message; }
      return { devices, chosen, resolved, problem };
    },
  }),

  'models.inspect': call({
    summary: 'checks a Hugging Face model folder (config.json, tokenizer, safetensors weights) for a study on your own data',
    input: z.strictObject({ dir: z.string().min(1, 'choose the model folder') }),
    run: (i) => inspectModelFolder(i.dir),
  }),

  // ---- ensembles ---------------------------------------------------------------------------------
  'ensembles.list': call({
    summary: 'reward-model ensembles trained so far (alone, or as part of a study)',
    input: None,
    run: (_i, c) => c.store.ensembles.list().reverse(),
  }),
  'ensembles.get': call({
    summary: 'one ensemble with its quality report',
    input: ById,
    run(i, c) {
      const e = c.store.ensembles.get(i.id);
      if (!e) throw notFound('ensemble', i.id, 'the Ensembles screen lists the ensembles there are');
      return e;
    },
  }),
  'ensembles.defaults': call({
    summary: 'the settings an ensemble trains with when none are given (the Ensembles form starts from them; bootstrap is BRME\'s, independent members always resample)',
    input: None,
    run: () => {
      const d = EnsembleTrainSchema.parse({});
      return { world: d.world, seed: d.seed, heads: d.heads, method: d.method, trunks: d.trunks ?? DEFAULT_ENSEMBLE_TRUNKS, stage2Loss: d.stage2Loss, anchor: d.anchor, unfreezeLastLayers: d.unfreezeLastLayers, pairs: d.pairs, valPairs: d.valPairs, sftSamples: d.sftSamples, bootstrap: resolveBootstrap('brme', undefined), loraRank: DEFAULT_LORA_RANK, loraDropout: LORA_DEFAULTS.dropout, gradientCheckpointing: d.gradientCheckpointing ?? false, precision: d.precision ?? DEFAULT_PRECISION };
    },
  }),
  'ensembles.train': job({
    summary: 'trains a BRME, independent or LoRA reward-model ensemble on a built-in world or your own data and measures its quality',
    input: EnsembleTrainSchema,
    exclusive: true,
    label: (i) => `train ${ensembleMembersPhrase(i.method, i.heads)} on ${i.datasetId !== undefined ? `dataset ${i.datasetId}` : i.world}`,
    subject: () => ({ kind: 'ensemble' }),
    async run(i, c, job) {
      const r = await trainWorldEnsemble(i, {
        dataDir: c.dataDir, device: c.settings.get().device, signal: job.signal,
        onProgress: (e, fraction) => job.progress(e, { fraction, etaS: null }),
      });
      job.subject({ kind: 'ensemble', id: r.id });
      return r;
    },
  }),

  'ensembles.benchmark': job({
    summary: 'reward-model accuracy on a chosen/rejected file in RewardBench\'s layout: every head, the single model, nominal, mean, min and robust, by subset and section',
    input: z.strictObject({
      id: Id,
      file: z.string().min(1, 'choose a chosen/rejected file'),
      split: z.string().min(1).optional(),
      limit: z.number().int().positive().optional(),
      lambda: z.number().min(0).max(1).default(0.4),
    }),
    exclusive: true,
    label: (i) => `reward benchmark ${path.basename(i.file)} on ensemble ${i.id}`,
    subject: (i) => ({ kind: 'ensemble', id: i.id }),
    check(i, c) {
      if (!c.store.ensembles.get(i.id)) throw notFound('ensemble', i.id, 'the Ensembles screen lists the ensembles there are');
      needReadable(i.file, 'a chosen/rejected file');
    },
    async run(i, c, job) {
      try {
        return await runRewardBench(c.store, { ensembleId: i.id, file: i.file, lambda: i.lambda, ...(i.split && { split: i.split }), ...(i.limit && { limit: i.limit }) }, {
          device: c.settings.get().device, signal: job.signal, onProgress: countProgress(job, 'pairs scored'),
        });
      } catch (e) {
        if (e instanceof BenchmarkError) throw new ApiError(namesOfUploads(e.message, c.dataDir), 400);
        throw e;
      }
    },
  }),
  'ensembles.rewardServers': call({
    summary: 'the reward servers running for ensembles (URL and token for OpenRLHF\'s --reward.remote_url)',
    input: None,
    run: (_i, c) => c.rewardServers.list(),
  }),
  'ensembles.serveReward': call({
    summary: 'serves an ensemble with one objective as an OpenRLHF remote reward model on 127.0.0.1, with a random token (docs/scaling.md)',
    input: z.strictObject({
      id: Id,
      objective: z.enum(OBJECTIVES.filter((k) => k !== 'gold') as [string, ...string[]], { error: 'choose an objective other than gold (a served ensemble has no gold reward)' }),
      lambda: z.number().min(0).max(1).optional(),
      normalize: z.enum(NORMALIZE_MODES).default('none'),
      /** 0: any free port. */
      port: z.number().int().min(0).max(65535).default(0),
    }),
    async run(i, c) {
      if (!c.store.ensembles.get(i.id)) throw notFound('ensemble', i.id, 'the Ensembles screen lists the ensembles there are');
      const parsed = ObjectiveSchema.parse({ name: i.objective, kind: i.objective, ...(i.lambda !== undefined && i.objective === 'robust' ? { lambda: i.lambda } : {}) });
      try {
        return await c.rewardServers.start(c.store, { ensembleId: i.id, objective: objectiveConfig(parsed), normalize: i.normalize, port: i.port, device: c.settings.get().device });
      } catch (err) {
        if (err instanceof RewardServerError) throw new ApiError(err.message, err.status);
        throw new ApiError(`cannot serve ensemble ${i.id}: ${(err as Error).message.split('\n')[0]}`, 400);
      }
    },
  }),
  'ensembles.stopReward': call({
    summary: 'stops the reward server of an ensemble',
    input: ById,
    async run(i, c) { return { stopped: await c.rewardServers.stop(i.id) }; },
  }),

  // ---- experiments (paired studies) --------------------------------------------------------------
  'experiments.presets': call({
    summary: 'the wizard\'s presets ("Quick", "Thorough") as full specs, with time estimates',
    input: z.strictObject({ world: z.enum(WORLD_NAMES as ['goodhart-lab', 'text-reviews']).default('goodhart-lab') }).optional(),
    run(i, c) {
      const { cal, basis } = c.settings.calibration();
      return {
        tiny: tinyPresets(),
        /** Learning rates a dataset world's pretrained model gets (the wizard applies them on "your own data"). */
        pretrained: PRETRAINED_DEFAULTS,
        /** A policy LoRA's alpha and dropout when the wizard turns one on (docs/engine.md § LoRA). */
        loraDefaults: LORA_DEFAULTS,
        presets: PRESET_NAMES.map((name) => {
          const spec = presetSpec(name, i?.world ?? 'goodhart-lab');
          return { name, ...PRESET_LABELS[name], spec, estimate: estimate(spec, cal, basis) };
        }),
      };
    },
  }),
  'experiments.estimate': call({
    summary: 'validates a study spec and estimates how long it takes here',
    input: z.strictObject({ spec: SpecInput }),
    run(i, c) {
      const { cal, basis } = c.settings.calibration();
      return { spec: i.spec, estimate: estimate(i.spec, cal, basis), previous: previousRuns(c, i.spec) };
    },
  }),
  'experiments.memory': call({
    summary: 'the memory plan of a study spec on the chosen device at each precision, the device\'s memory, and what each change to the spec would need (docs/engine.md § Memory plan)',
    input: z.strictObject({ spec: SpecInput }),
    async run(i, c) {
      try {
        const m = await studyMemory(i.spec, c.settings.get().device);
        const plan = m.plans.find((p) => p.precision === i.spec.memory.precision)!;
        return { ...m, fits: m.memory.availableBytes === null ? null : plan.runnable && plan.totalBytes <= m.memory.availableBytes };
      } catch (err) {
        // A model folder that cannot be read: the wizard shows the loader's sentence instead of a plan.
        throw new ApiError((err as Error).message.split('\n')[0]!, 400);
      }
    },
  }),
  'experiments.list': call({
    summary: 'studies with their status and verdict',
    input: None,
    run(_i, c) {
      return c.store.experiments.list().reverse().map((e) => {
        const runs = c.store.runs.list({ experimentId: e.id });
        const status = studyStatus(runs);
        const spec = e.spec as unknown as ExperimentSpec;
        return {
          id: e.id, name: e.name, created: e.created, status, world: spec.world?.name ?? 'goodhart-lab',
          objectives: (spec.objectives ?? []).map((o) => o.name), seeds: spec.seeds?.length ?? 0, iterations: spec.ppo?.iterations ?? 0,
          runs: { total: runs.length, finished: runs.filter((r) => r.status === 'finished').length },
          verdict: status === 'finished' ? studyView(c.store, e).verdict : null,
          job: experimentJob(c, e.id) ?? null,
        };
      });
    },
  }),
  'experiments.get': call({
    summary: 'one study: its runs, per-objective results, paired comparison and verdict',
    input: ById,
    run(i, c) {
      const e = needExperiment(c, i.id);
      return { ...studyView(c.store, e), job: experimentJob(c, e.id) ?? null };
    },
  }),
  'experiments.start': job({
    summary: 'runs a paired study: π₀, the ensemble, then PPO once per (objective × seed)',
    input: z.strictObject({ spec: SpecInput }),
    exclusive: true,
    async check(i, c) {
      // A study on your own data: the dataset and the model folders must be usable before it is queued.
      const w = i.spec.world;
      if (w.name === 'dataset') {
        const d = c.store.datasets.get(w.datasetId);
        if (!d) throw new ApiError(`dataset ${w.datasetId} does not exist; import it on the Datasets screen first`, 404);
        await inspectModelFolder(w.modelDir);
        if (w.gold) await inspectModelFolder(w.gold.rewardModelDir).catch((e: Error) => { throw new ModelFolderError(`the gold reward model: ${e.message}`); });
        if (i.spec.objectives.some((o) => o.kind === 'gold') && !w.gold) throw new ApiError('the "gold" objective trains on the gold reward, but this study has no gold reward model; remove it or add a judge model', 400);
      }
      // A study that will not fit is refused before it is queued (the runner checks again when it starts).
      await assertStudyFits(i.spec, c.settings.get().device);
    },
    label: (i) => `study "${i.spec.name}": ${i.spec.objectives.length} objectives × ${i.spec.seeds.length} seeds × ${i.spec.ppo.iterations} iterations`,
    subject: () => ({ kind: 'experiment' }),
    run: (i, c, job) => runStudy(c, job, { spec: i.spec }),
  }),
  'experiments.resume': job({
    summary: 'continues a stopped study\'s unfinished runs from their last checkpoints',
    input: ById,
    exclusive: true,
    check(i, c) {
      const e = needExperiment(c, i.id);
      if (experimentJob(c, e.id)) throw new ApiError(`study ${i.id} is already running or queued; wait for it, or stop it first`, 409);
      c.store.runs.recoverInterrupted();
      const left = c.store.runs.list({ experimentId: i.id }).filter((r) => !isComplete(r.status));
      if (!left.length) throw new ApiError(`every run of study ${i.id} has finished; there is nothing to resume — start a new study to run more`, 409);
    },
    label: (i, c) => `resume study "${c.store.experiments.get(i.id)?.name ?? i.id}"`,
    subject: (i) => ({ kind: 'experiment', id: i.id }),
    run: (i, c, job) => runStudy(c, job, { spec: needExperiment(c, i.id).spec as unknown as ExperimentSpec, resumeId: i.id }),
  }),
  'experiments.stop': call({
    summary: 'stops a study after the PPO iteration in flight (its runs can be resumed from their last checkpoint)',
    input: ById,
    run(i, c) {
      needExperiment(c, i.id);
      const j = experimentJob(c, i.id);
      if (!j) throw new ApiError(`study ${i.id} is not running; nothing to stop`, 409);
      return c.jobs.cancel(j.id)!;
    },
  }),

  'experiments.export': call({
    summary: 'writes a study as OpenRLHF / verl jobs (policy, prompts, launch scripts, README) into a folder; default: exports/ under the data folder',
    input: z.strictObject({
      experimentId: Id,
      engine: z.enum(EXPORT_ENGINES),
      out: z.string().min(1).optional(),
      force: z.boolean().default(false),
      gpus: z.number().int().positive().max(1024).default(8),
      copyPolicy: z.boolean().default(true),
    }),
    async run(i, c) {
      needExperiment(c, i.experimentId);
      if (experimentJob(c, i.experimentId)) throw new ApiError(`study ${i.experimentId} is running; export it when it has stopped or finished`, 409);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
      const out = i.out ?? path.join(c.dataDir, 'exports', `study-${i.experimentId}-${i.engine}-${stamp}`);
      try {
        return await exportStudy(c.store, c.dataDir, { ...i, out });
      } catch (err) {
        if (err instanceof ExportError) throw new ApiError(err.message, err.status);
        throw err;
      }
    },
  }),

  'models.evaluate': job({
    summary: 'scores a Hugging Face model folder on a benchmark file as lm-evaluation-harness does (acc, acc_norm; GSM8K exact match), the first 200 items with their predictions',
    input: z.strictObject({
      dir: z.string().min(1, 'choose a model folder'),
      ...BENCHMARK_OPTIONS,
    }),
    exclusive: true,
    label: (i) => `benchmark ${path.basename(i.file)} on ${path.basename(i.dir)}`,
    subject: () => ({ kind: 'evaluation' }),
    check(i) {
      needReadable(i.file, 'a benchmark file');
    },
    async run(i, c, job) {
      try {
        const prep = await prepareBenchmark(i.file, { ...(i.format !== 'auto' && { format: i.format }), ...(i.split && { split: i.split }), ...(i.shots !== undefined && { shots: i.shots }), ...(i.mapping && { mapping: i.mapping }) });
        const model = await CausalLM.load(i.dir, c.settings.get().device);
        const tok = await loadTokenizer(i.dir);
        const res = await evaluateBenchmark(model, tok, prep.bench, {
          shots: prep.shots, ...(prep.fewshot && { fewshot: prep.fewshot }), ...(i.limit && { limit: i.limit }), chatTemplate: i.chatTemplate, signal: job.signal,
          onProgress: countProgress(job, `${prep.bench.format} items scored`),
        });
        return { ...res, per_item: res.per_item.slice(0, 200), items_shown: Math.min(200, res.per_item.length), model: i.dir, file: i.file, files: prep.bench.files, fewshot_from: prep.fewshotFrom };
      } catch (e) {
        if (e instanceof BenchmarkError || e instanceof EvalOptionError || e instanceof ModelFolderError) throw new ApiError(namesOfUploads(e.message, c.dataDir), 400);
        throw e;
      }
    },
  }),
  'experiments.evaluate': job({
    summary: 'scores a study\'s π₀ and each run\'s final policy (or every checkpoint) on a benchmark file, as lm-evaluation-harness does; recorded on the runs',
    input: z.strictObject({
      experimentId: Id,
      ...BENCHMARK_OPTIONS,
      checkpoints: z.enum(['final', 'all']).default('final'),
      runIds: z.array(Id).min(1).optional(),
    }),
    exclusive: true,
    label: (i) => `benchmark ${path.basename(i.file)} on study ${i.experimentId}`,
    subject: (i) => ({ kind: 'evaluation', id: i.experimentId }),
    check(i, c) {
      needExperiment(c, i.experimentId);
      if (experimentJob(c, i.experimentId)) throw new ApiError(`study ${i.experimentId} is running; evaluate it when it has stopped or finished`, 409);
      needReadable(i.file, 'a benchmark file');
    },
    async run(i, c, job) {
      const store = openStore({ dataDir: c.dataDir });
      try {
        return await evaluateStudy(store, c.dataDir, { ...i, ...(i.format !== 'auto' && { format: i.format }) }, {
          device: c.settings.get().device, signal: job.signal,
          onProgress: (p) => job.progress({ phase: 'setup', message: p.message, step: p.done, total: p.total }, { fraction: p.fraction, etaS: p.etaS }),
        });
      } catch (e) {
        if (e instanceof RunPolicyError || e instanceof BenchmarkError || e instanceof EvalOptionError) throw new ApiError(namesOfUploads(e.message, c.dataDir), 400);
        throw e;
      } finally { store.close(); }
    },
  }),

  // ---- best-of-n (docs/method.md § Best-of-n) -------------------------------------------------------
  'bon.run': job({
    summary: 'best-of-n on a world\'s π₀, a run\'s policy or a model folder: proxy and gold vs KL_bon per objective, Gao fit, t intervals over seeds',
    input: BonRequestSchema,
    exclusive: true,
    check(i, c) {
      if (i.source.kind === 'run') needRun(c, i.source.runId);
      if (i.source.kind === 'model' && !c.store.ensembles.get(i.source.ensembleId)) throw notFound('ensemble', i.source.ensembleId, 'the Ensembles screen lists the ensembles there are');
    },
    label: (i) => `best-of-${i.n} on ${i.source.kind === 'world' ? i.source.name : i.source.kind === 'run' ? `run ${i.source.runId}` : i.source.modelDir} (${i.seeds.length} seeds)`,
    subject: () => ({ kind: 'bon' }),
    async run(i, c, job) {
      const store = openStore({ dataDir: c.dataDir });
      try {
        const seeds = i.seeds.length;
        return await executeBon(i, {
          store, dataDir: c.dataDir, device: c.settings.get().device, signal: job.signal,
          onCreated: (id) => job.subject({ kind: 'bon', id }),
          onProgress: (e) => {
            const k = e.seed === undefined ? -1 : i.seeds.indexOf(e.seed);
            const fraction = k < 0 || e.done === undefined || !e.total ? null : (k + (e.done / e.total) * 0.5 + ((e as { phase?: string }).phase === 'score' ? 0.5 : 0)) / seeds;
            job.progress({ phase: 'setup', message: e.message, ...(e.seed !== undefined ? { seed: e.seed } : {}), ...(e.done !== undefined ? { step: e.done, total: e.total } : {}) }, { fraction, etaS: null });
          },
        });
      } catch (e) {
        if (e instanceof BonSourceError) throw new ApiError(e.message, 400);
        throw e;
      } finally { store.close(); }
    },
  }),
  'bon.estimate': call({
    summary: 'how long a best-of-n request takes here: setup (a built-in world\'s π₀ and per-seed ensembles, unless cached) and sampling (n × prompts per seed)',
    input: BonRequestSchema,
    run(i, c) {
      const { cal, basis } = c.settings.calibration();
      // A run's policy is a built-in world's tiny decoder unless its study was on a dataset world.
      const builtin = i.source.kind === 'world' || (i.source.kind === 'run' && (needRun(c, i.source.runId).config as { world?: { name?: string } }).world?.name !== 'dataset');
      try { return estimateBon(i, cal, basis, builtin); } catch (e) { throw new ApiError((e as Error).message, 400); }
    },
  }),
  'bon.list': call({
    summary: 'best-of-n results so far, newest first (without their curves), optionally of one run',
    input: z.strictObject({ runId: Id.optional() }).optional(),
    run: (i, c) => c.store.bon.list(i ?? {}),
  }),
  'bon.get': call({
    summary: 'one best-of-n result with its curves, intervals and fits',
    input: ById,
    run(i, c) {
      const b = c.store.bon.get(i.id);
      if (!b) throw notFound('best-of-n result', i.id, 'bon.list lists the results there are');
      return b;
    },
  }),

  // ---- runs --------------------------------------------------------------------------------------
  'runs.list': call({
    summary: 'run history with final and peak gold, filtered',
    input: RunFilterSchema.optional(),
    run(i, c) {
      c.store.runs.recoverInterrupted();
      const exps = new Map(c.store.experiments.list().map((e) => [e.id, e]));
      return c.store.runs.list(i ?? {}).reverse().map((r) => runView(c.store, r, r.experimentId !== null ? exps.get(r.experimentId) : undefined));
    },
  }),
  'runs.get': call({
    summary: 'one run: settings, last value of every metric, checkpoints and alerts',
    input: ById,
    run(i, c) {
      const r = needRun(c, i.id);
      return { ...runView(c.store, r), config: r.config, versions: r.versions, metricKeys: c.store.metrics.keys(r.id), last: c.store.metrics.last(r.id), checkpoints: c.store.runs.checkpoints(r.id), alerts: c.store.alerts.list(r.id) };
    },
  }),
  'runs.series': call({
    summary: 'metric curves of runs, x = step or √KL (for overlays)',
    input: SeriesRequestSchema,
    run: (i, c) => c.store.metrics.series(i.runIds, i.key, { x: i.x, ...(i.klKey && { klKey: i.klKey }) }),
  }),
  'runs.bands': call({
    summary: 'seed bands: mean ± std of a metric per objective across runs',
    input: BandsRequestSchema,
    run: (i, c) => c.store.metrics.bands(i.runIds, i.key),
  }),
  'runs.samples': call({
    summary: 'policy samples of runs, sorted by ensemble std, proxy − gold gap, ...',
    input: SampleQuerySchema,
    run: (i, c) => c.store.samples.query(i),
  }),
  'runs.alerts': call({
    summary: 'hacking alerts of a run, each with the samples that raised it',
    input: z.strictObject({ runId: Id }),
    run(i, c) {
      needRun(c, i.runId);
      return c.store.alerts.list(i.runId).map((a) => c.store.alerts.withSamples(a.id)!);
    },
  }),
  'runs.diff': call({
    summary: 'settings that differ between two runs (the objective\'s own settings included)',
    input: ConfigDiffRequestSchema,
    run(i, c) {
      // Like RunRepo.configDiff, but the run's objective *name* goes beside its objective settings
      // (kind, λ, …) instead of replacing them, so the diff shows what really differs.
      const settings = (r: Run) => ({ ...r.config, 'objective name': r.objective, seed: r.seed });
      return configDiff(settings(needRun(c, i.a)), settings(needRun(c, i.b)));
    },
  }),

  'runs.import': call({
    summary: 'adds an OpenRLHF / verl run (TensorBoard folder or file, verl JSON lines or console log, W&B CSV) to a study as an imported run',
    input: RunImportSchema,
    async run(i, c) {
      needExperiment(c, i.experimentId);
      checkLogPath(i.path);
      try {
        const r = await importRunLog(c.store, i.path, i);
        return { run: runView(c.store, r.run), engine: r.engine, format: r.format, metrics: r.metrics, steps: r.steps, source: r.source, warnings: r.warnings };
      } catch (err) {
        if (err instanceof DuplicateImportError) throw new ApiError(err.message, 409);
        throw err;
      }
    },
  }),

  // ---- reports -----------------------------------------------------------------------------------
  'reports.export': call({
    summary: 'writes a comparison report of a study or of chosen runs (HTML, PDF, CSV, JSON)',
    input: z.strictObject({
      experimentId: Id.optional(),
      runIds: z.array(Id).min(1).max(200).optional(),
      formats: z.array(z.enum(REPORT_FORMATS)).min(1, 'choose at least one format').default(['html', 'pdf', 'csv']),
      folder: z.string().min(1).optional(),
    }).refine((v) => v.experimentId !== undefined || v.runIds !== undefined, { message: 'choose a study or some runs to report on' }),
    run: (i, c) => exportReports(c.store, c.dataDir, { formats: [...new Set(i.formats)], ...(i.experimentId !== undefined && { experimentId: i.experimentId }), ...(i.runIds && { runIds: i.runIds }), ...(i.folder && { folder: i.folder }) }),
  }),
  'reports.list': call({
    summary: 'reports exported so far, and whether PDFs can be printed here',
    input: None,
    run: async (_i, c) => ({ reports: listReports(c.store), pdf: await pdfSupport() }),
  }),
  'reports.open': call({
    summary: 'opens a report\'s folder in the file manager of the machine the engine runs on',
    input: ById,
    run(i, c) {
      const r = listReports(c.store).find((x) => x.id === i.id);
      if (!r) throw notFound('report', i.id, 'the Reports screen lists the reports there are');
      if (!fs.existsSync(r.folder)) throw new ApiError(`${r.folder} no longer exists; export the report again`, 404);
      return { folder: r.folder, ...openFolder(r.folder) };
    },
  }),

  // ---- settings and jobs -------------------------------------------------------------------------
  'settings.get': call({
    summary: 'device, threads, data folder',
    input: None,
    run: (_i, c) => ({ ...c.settings.get(), dataDir: c.dataDir, settingsFile: c.settings.file, problem: c.settings.problem, cpus: os.cpus().length, envThreads: process.env.RRLHF_THREADS ?? null }),
  }),
  'settings.set': call({
    summary: 'changes the device or the number of CPU threads (used from the next job on)',
    input: SettingsPatchSchema,
    async run(i, c) {
      if (i.device && i.device !== 'auto') {
        try { await resolveDevice(i.device); } catch (err) { throw new ApiError(`${(err as Error).message}`, 409); }
      }
      return c.settings.set(i);
    },
  }),
  'jobs.list': call({ summary: 'running, queued and recent jobs', input: None, run: (_i, c) => c.jobs.list() }),
  'jobs.get': call({
    summary: 'one job',
    input: z.strictObject({ id: z.string().uuid() }),
    run(i, c) {
      const j = c.jobs.get(i.id);
      if (!j) throw new ApiError(`job ${i.id} is unknown (jobs are forgotten when the engine restarts; the store keeps their results)`, 404);
      return j;
    },
  }),
  'jobs.cancel': call({
    summary: 'stops a job (a study stops after the iteration in flight and can be resumed)',
    input: z.strictObject({ id: z.string().uuid() }),
    run(i, c) {
      const j = c.jobs.cancel(i.id);
      if (!j) throw new ApiError(`job ${i.id} is unknown; it may have finished already`, 404);
      return j;
    },
  }),
} as const;

export type Api = typeof API;
export type MethodName = keyof Api;
type Def<M extends MethodName> = Api[M];
/** What a caller sends (defaults may be left out). */
export type Input<M extends MethodName> = z.input<Def<M>['input']>;
/** What a call returns: the handler's value, or for a job method the job (its result comes with its events). */
export type Output<M extends MethodName> = Def<M> extends { kind: 'job' } ? JobInfo : Def<M> extends CallDef<z.ZodType, infer R> ? Awaited<R> : never;
/** The result a finished job carries. */
export type JobResult<M extends MethodName> = Def<M> extends JobDef<z.ZodType, infer R> ? R : never;
export type JobMethodName = { [M in MethodName]: Def<M> extends { kind: 'job' } ? M : never }[MethodName];

export const METHOD_NAMES = Object.keys(API) as MethodName[];

export type { Reply } from './protocol.js';
import type { Reply } from './protocol.js';

/** Turns an exception into the sentence the user reads, with an HTTP-like status. */
export function describeError(method: string, err: unknown): { error: string; status: number } {
  if (err instanceof z.ZodError) {
    const parts = err.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
    return { error: `invalid input for ${method}: ${parts.join('; ')}`, status: 400 };
  }
  if (err instanceof ApiError || err instanceof ReportError) return { error: err.message, status: err.status };
  if (err instanceof InputFileError || err instanceof BonSourceError || err instanceof DataFileError || err instanceof OptionError || err instanceof ModelFolderError || err instanceof RunLogError || err instanceof MemoryPlanError) return { error: err.message, status: 400 };
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'EACCES') {
    const p = (err as NodeJS.ErrnoException).path;
    return { error: `${p ?? 'the file'} ${code === 'ENOENT' ? 'does not exist; check the path' : 'cannot be read by this user; check its permissions'}`, status: 400 };
  }
  if (err instanceof StoreError) return { error: err.message, status: 500 };
  const msg = (err as Error)?.message || String(err);
  return { error: `${method} failed: ${msg.split('\n')[0]} (if this keeps happening, restart the app; the data folder is unchanged)`, status: 500 };
}

export interface ServiceOptions {
  dataDir: string;
  mode?: Ctx['mode'];
}

/** The engine behind every transport: one store connection for reads, a job manager, the settings. */
export class Service {
  readonly ctx: Ctx;

  private constructor(ctx: Ctx) { this.ctx = ctx; }

  static open(o: ServiceOptions): Service {
    const dataDir = path.resolve(o.dataDir);
    const store = openStore({ dataDir });
    // Runs left 'running' by an engine that died become paused (resumable) or failed.
    store.runs.recoverInterrupted();
    return new Service({ store, dataDir, settings: new SettingsFile(dataDir), jobs: new JobManager(), mode: o.mode ?? 'embedded', rewardServers: new RewardServers() });
  }

  get dataDir() { return this.ctx.dataDir; }

  onEvent(f: (e: JobEvent) => void): () => void {
    return this.ctx.jobs.onEvent(f);
  }

  /** Validates the input and runs the method; never throws. */
  async call(method: string, input: unknown): Promise<Reply> {
    if (!Object.hasOwn(API, method)) {
      return { ok: false, error: `unknown method "${method}"; known: ${METHOD_NAMES.join(', ')}`, status: 404 };
    }
    const def = API[method as MethodName] as CallDef<z.ZodType, unknown> | JobDef<z.ZodType, unknown>;
    try {
      const parsed = def.input.safeParse(input === null ? undefined : input);
      if (!parsed.success) throw parsed.error;
      const i = parsed.data;
      if (def.kind === 'call') return { ok: true, result: await def.run(i, this.ctx) };
      await def.check?.(i, this.ctx);
      const info = this.ctx.jobs.submit(method, def.label(i, this.ctx), def.subject(i), (j) => def.run(i, this.ctx, j), { exclusive: def.exclusive });
      return { ok: true, result: info };
    } catch (err) {
      const d = describeError(method, err);
      return { ok: false, ...d, error: namesOfUploads(d.error, this.ctx.dataDir) };
    }
  }

  /** Stops the jobs (studies stop after their iteration in flight) and closes the store. */
  async close(): Promise<void> {
    await this.ctx.jobs.shutdown();
    await this.ctx.rewardServers.stopAll();
    this.ctx.store.close();
  }
}
