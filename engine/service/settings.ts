// App settings, kept as settings.json in the data directory (beside studio.sqlite) so that they travel
// with the data: the compute device, the number of CPU threads, and the time-estimate calibration the
// service measures on this machine.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DEVICES } from '../runtime/devices.js';
import { DEFAULT_CALIBRATION, type Calibration } from './presets.js';

export const SETTINGS_FILE = 'settings.json';
/** RRLHF_THREADS as the process was started with: what "one per core" (null) falls back to. */
const ENV_THREADS = process.env.RRLHF_THREADS;

const positive = z.number().positive().finite();

export const SettingsSchema = z.object({
  /** Where training runs: a named device, or auto (fastest that initialises). */
  device: z.enum(['auto', ...DEVICES]).default('cpu'),
  /** ONNX Runtime's CPU threads per session; null: one per core. */
  threads: z.number().int().min(1).max(256).nullable().default(null),
  // bonPerSample came later: a calibration measured before it takes the default (calibration() below).
  calibration: z.object({ sft: positive, rewardPerPair: positive, ppoPerSample: positive, evalPerSample: positive, bonPerSample: positive.optional() }).nullable().default(null),
});
export type Settings = z.output<typeof SettingsSchema>;

/** What a user may change through `settings.set` (the calibration is measured, not set). */
export const SettingsPatchSchema = z.strictObject({
  device: z.enum(['auto', ...DEVICES]).optional(),
  threads: z.number().int().min(1).max(256).nullable().optional(),
});

export class SettingsFile {
  readonly file: string;
  private cur: Settings;
  /** Why the file on disk could not be used, if it could not (shown on the Settings screen). */
  readonly problem: string | null = null;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, SETTINGS_FILE);
    let raw: unknown = {};
    try {
      raw = JSON.parse(fs.readFileSync(this.file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.problem = `${this.file} could not be read (${(err as Error).message}); using the defaults — saving settings rewrites it`;
    }
    const r = SettingsSchema.safeParse(raw);
    if (!r.success) this.problem ??= `${this.file} holds invalid settings; using the defaults — saving settings rewrites it`;
    this.cur = r.success ? r.data : SettingsSchema.parse({});
    this.apply();
  }

  get(): Settings {
    return structuredClone(this.cur);
  }

  calibration(): { cal: Calibration; basis: 'defaults' | 'measured' } {
    return this.cur.calibration ? { cal: { ...DEFAULT_CALIBRATION, ...this.cur.calibration } as Calibration, basis: 'measured' } : { cal: DEFAULT_CALIBRATION, basis: 'defaults' };
  }

  set(patch: z.output<typeof SettingsPatchSchema>): Settings {
    this.cur = { ...this.cur, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) };
    this.save();
    this.apply();
    return this.get();
  }

  /** Blends a new measurement into the calibration (so one odd study does not swing the estimates). */
  measured(m: Partial<Calibration>): void {
    const stored: Partial<Calibration> = this.cur.calibration ?? {};
    const old: Calibration = { ...DEFAULT_CALIBRATION, ...stored };
    const next = { ...old };
    for (const [k, v] of Object.entries(m) as [keyof Calibration, number][]) {
      // A figure never measured here (the defaults, or a key added since) is replaced, not blended.
      if (Number.isFinite(v) && v > 0) next[k] = stored[k] === undefined ? v : 0.5 * old[k] + 0.5 * v;
    }
    this.cur = { ...this.cur, calibration: next };
    this.save();
  }

  private save() {
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify(this.cur, null, 2) + '\n');
    fs.renameSync(tmp, this.file);
  }

  /** ONNX Runtime reads RRLHF_THREADS when it creates a session (engine/runtime/devices.ts). */
  private apply() {
    if (this.cur.threads) process.env.RRLHF_THREADS = String(this.cur.threads);
    else if (ENV_THREADS !== undefined) process.env.RRLHF_THREADS = ENV_THREADS;
    else delete process.env.RRLHF_THREADS;
  }
}
