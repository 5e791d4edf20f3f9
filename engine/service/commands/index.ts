// Every CLI command, by name. Each lives in its own module beside this one.
import { type Command } from '../cli-kit.js';
import { bench } from './bench.js';
import { devices, start } from './devices.js';
import { dataset } from './dataset.js';
import { runs } from './runs.js';
import { model } from './model.js';
import { tokenize } from './tokenize.js';
import { experiment, quickstart } from './experiment.js';
import { ensemble } from './ensemble.js';
import { serve } from './serve.js';
import { report } from './report.js';

export const COMMANDS: Record<string, Command> = { bench, devices, start, dataset, runs, model, tokenize, experiment, quickstart, ensemble, report, serve };
