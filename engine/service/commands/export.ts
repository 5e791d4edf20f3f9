// `rrlhf export STUDY_ID --engine openrlhf|verl --out DIR`: a study as jobs for a distributed RLHF
// engine (engine/export; docs/scaling.md § Export to OpenRLHF and verl). --json prints the whole result.
import { type Command, UsageError, parse, intOpt } from '../cli-kit.js';
import { openStore, resolveDataDir } from '../../store/index.js';
import { exportStudy, EXPORT_ENGINES, type ExportEngine } from '../../export/index.js';

export const exportCmd: Command = {
  usage: [
    `export STUDY_ID --engine ${EXPORT_ENGINES.join('|')} --out DIR [--force] [--gpus N] [--no-copy-policy]`,
    '                                a study as OpenRLHF / verl jobs: policy, prompts, one launch script per objective × seed, README with the commands',
  ],
  async run(args, out) {
    const { values: v, positionals } = parse(args, { engine: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' }, gpus: { type: 'string' }, 'no-copy-policy': { type: 'boolean' } }, true);
    if (positionals.length !== 1) throw new UsageError('export takes one STUDY_ID (the experiment id `rrlhf experiment run` and `rrlhf runs list` print)');
    const id = Number(positionals[0]);
    if (!Number.isInteger(id) || id <= 0) throw new UsageError(`STUDY_ID must be a positive integer, got "${positionals[0]}"`);
    if (v.engine === undefined || !(EXPORT_ENGINES as readonly string[]).includes(v.engine)) throw new UsageError(`--engine must be one of ${EXPORT_ENGINES.join(', ')}, got "${v.engine ?? ''}"`);
    if (v.out === undefined || v.out === '') throw new UsageError('--out DIR is required: the folder to write the export into (empty or new)');
    const gpus = intOpt(v.gpus, 'gpus', 8);
    const store = openStore({ dataDir: resolveDataDir(v['data-dir']) });
    let r;
    try {
      r = await exportStudy(store, resolveDataDir(v['data-dir']), { experimentId: id, engine: v.engine as ExportEngine, out: v.out, force: v.force === true, gpus, copyPolicy: v['no-copy-policy'] !== true });
    } finally { store.close(); }
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    out(r, () => [
      `Exported study ${r.experiment} for ${r.engine} (${r.source.repo} ${r.source.version}) to ${r.out}`,
      `  policy: ${r.policy.copied ? 'policy/ (copied from ' + r.policy.from + ')' : r.policy.from + ' (not copied)'}${r.policy.hf ? '' : ' — not a Hugging Face text model, see the README'}`,
      `  prompts: ${r.prompts.train} training (${r.prompts.file}), ${r.prompts.eval} evaluation (${r.prompts.evalFile})`,
      `  jobs: ${r.jobs.map((j) => j.script).join(', ')}`,
      `  ${r.unsupported.length} settings the engine cannot express are listed in README.md`,
      `Next: read ${r.out}/README.md for the commands in order.`,
    ].join('\n'));
  },
};
