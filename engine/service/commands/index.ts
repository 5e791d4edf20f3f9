// Every CLI command, by name, loaded on demand: `rrlhf devices` does not load the web server, and a
// command's own dependencies cannot break the others. Each lives in its own module beside this one.
import { type Command } from '../cli-kit.js';

export const COMMANDS: Record<string, () => Promise<Command>> = {
  start: () => import('./devices.js').then((m) => m.start),
  serve: () => import('./serve.js').then((m) => m.serve),
  quickstart: () => import('./experiment.js').then((m) => m.quickstart),
  experiment: () => import('./experiment.js').then((m) => m.experiment),
  dataset: () => import('./dataset.js').then((m) => m.dataset),
  ensemble: () => import('./ensemble.js').then((m) => m.ensemble),
  reward: () => import('./reward.js').then((m) => m.reward),
  runs: () => import('./runs.js').then((m) => m.runs),
  export: () => import('./export.js').then((m) => m.exportCmd),
  report: () => import('./report.js').then((m) => m.report),
  model: () => import('./model.js').then((m) => m.model),
  tokenize: () => import('./tokenize.js').then((m) => m.tokenize),
  devices: () => import('./devices.js').then((m) => m.devices),
  bench: () => import('./bench.js').then((m) => m.bench),
  eval: () => import('./eval.js').then((m) => m.evalCmd),
  bon: () => import('./bon.js').then((m) => m.bon),
};
