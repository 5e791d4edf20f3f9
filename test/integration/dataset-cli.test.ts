// The CLI contract for datasets and run history (docs/architecture.md § CLI and service contract): `rrlhf dataset
// import|list|show` and `rrlhf runs list|show|diff`, run as a user would (node bin/rrlhf.js) against a
// temporary --data-dir. With --json exactly one JSON document goes to stdout; failures exit non-zero
// with a one-line reason on stderr.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../engine/store/index.js';
import { fixture, repoRoot } from '../util/paths.js';

const dirs: string[] = [];
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rrlhf-cli-')); dirs.push(d); return d; };
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const bin = path.join(repoRoot, 'bin', 'rrlhf.js');
function rrlhf(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function json(args: string[], env?: NodeJS.ProcessEnv) {
  const r = rrlhf([...args, '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('dataset import --json prints the contract fields, and list/show read them back', () => {
  const dataDir = tmp();
  const r = json(['dataset', 'import', fixture('data', 'hh_rlhf.jsonl'), '--name', 'hh', '--data-dir', dataDir]);
  assert.deepEqual(
    { id: r.id, name: r.name, format: r.format, schema: r.schema, accepted: r.accepted, rejected: r.rejected, lines: r.errors.map((e: { line: number }) => e.line) },
    { id: 1, name: 'hh', format: 'jsonl', schema: 'hh_rlhf', accepted: 3, rejected: 1, lines: [4] },
  );
  assert.equal(typeof r.errors[0].reason, 'string');
  assert.equal(r.errors_truncated, 0);

  const list = json(['dataset', 'list', '--data-dir', dataDir]);
  assert.equal(list.length, 1);
  assert.deepEqual(Object.keys(list[0]).sort(), ['created', 'hash', 'id', 'name', 'rows']);
  assert.deepEqual([list[0].id, list[0].name, list[0].rows, list[0].hash], [1, 'hh', 3, r.hash]);

  const shown = json(['dataset', 'show', '1', '--rows', '2', '--data-dir', dataDir]);
  assert.equal(shown.preview.length, 2);
  assert.equal(shown.preview[0].prompt, '\n\nHuman: What is 2+2?\n\nAssistant:');
  assert.equal(shown.stats.count, 3);
  assert.deepEqual(shown.errors.map((e: { line: number }) => e.line), [4]);

  const human = rrlhf(['dataset', 'show', '1', '--data-dir', dataDir]);
  assert.match(human.stdout, /Dataset 1 "hh": 3 pairs, 1 rejected/);
});

test('--map, --format and --split are honoured; the data directory can come from RRLHF_DATA_DIR', () => {
  const dataDir = tmp();
  const r = json(['dataset', 'import', fixture('data', 'custom.tsv'), '--map', 'prompt=question,chosen=good,rejected=bad', '--split', '0.5,0.25,0.25', '--seed', '3'], { RRLHF_DATA_DIR: dataDir });
  assert.equal(r.schema, 'custom');
  assert.equal(r.accepted, 2);
  assert.deepEqual(r.split.fractions, { train: 0.5, validation: 0.25, test: 0.25 });
  assert.ok(fs.existsSync(path.join(dataDir, 'studio.sqlite')));
  const forced = json(['dataset', 'import', fixture('data', 'trl_explicit.jsonl'), '--format', 'jsonl', '--data-dir', dataDir]);
  assert.equal(forced.format, 'jsonl');
});

test('the errors list is capped at 100 with a count of the rest', () => {
  const dataDir = tmp();
  const file = path.join(dataDir, 'many-bad.jsonl');
  const lines = ['{"prompt":"p","chosen":"a","rejected":"b"}', ...Array.from({ length: 150 }, () => '{"prompt":"p"}')];
  fs.writeFileSync(file, lines.join('\n'));
  const r = json(['dataset', 'import', file, '--data-dir', dataDir]);
  assert.equal(r.accepted, 1);
  assert.equal(r.rejected, 150);
  assert.equal(r.errors.length, 100);
  assert.equal(r.errors_truncated, 50);
  assert.deepEqual(r.errors[0], { line: 2, reason: 'missing field "chosen"' });
});

test('nothing importable: exit 1, one line on stderr, nothing on stdout, store unchanged', () => {
  const dataDir = tmp();
  json(['dataset', 'import', fixture('data', 'trl_explicit.jsonl'), '--data-dir', dataDir]);
  for (const [file, why] of [
    ['malformed/all_rejected.jsonl', /nothing imported from .*: all 2 records were rejected or set aside; first: line 1: chosen is identical to rejected/],
    ['malformed/not_a_dataset.png', /looks like a binary file/],
    ['malformed/empty.jsonl', /is empty/],
    ['malformed/does-not-exist.jsonl', /does not exist/],
  ] as const) {
    const r = rrlhf(['dataset', 'import', fixture('data', file), '--json', '--data-dir', dataDir]);
    assert.equal(r.code, 1, file);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('rrlhf:'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, why);
  }
  assert.deepEqual(json(['dataset', 'list', '--data-dir', dataDir]).map((d: { rows: number }) => d.rows), [4]);
});

test('usage mistakes exit 2 and point at help', () => {
  const dataDir = tmp();
  for (const args of [
    ['dataset', 'import', fixture('data', 'trl_explicit.jsonl'), '--format', 'xml'],
    ['dataset', 'import', fixture('data', 'trl_explicit.jsonl'), '--map', 'prompt=a,answer=b'],
    ['dataset', 'show', 'abc'],
    ['runs', 'list', '--status', 'exploded'],
    ['dataset', 'import', fixture('data', 'trl_explicit.jsonl'), '--seed', 'x'],
    ['bench', 'mlp', '--warmup', 'x'],
    ['model', 'generate', 'nowhere', '--prompt', 'hi', '--seed', '-1'],
  ]) {
    const r = rrlhf([...args, '--data-dir', dataDir]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /see `rrlhf help`/);
  }
});

test('an import killed with SIGKILL midway leaves the store as it was', async () => {
  const dataDir = tmp();
  json(['dataset', 'import', fixture('data', 'trl_explicit.jsonl'), '--data-dir', dataDir]);
  const file = path.join(dataDir, 'big.jsonl');
  const row = (i: number) => JSON.stringify({ prompt: `prompt number ${i}`, chosen: `a helpful answer ${i} `.repeat(4), rejected: `unhelpful ${i}` });
  fs.writeFileSync(file, Array.from({ length: 60_000 }, (_, i) => row(i)).join('\n'));
  const child = spawn(process.execPath, [bin, 'dataset', 'import', file, '--json', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  // The first progress line comes after the first batch is written inside the open transaction.
  await new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => { if (/importing/.test(String(d))) resolve(); }));
  child.kill('SIGKILL');
  const { signal } = await exited;
  assert.equal(signal, 'SIGKILL', 'killed before it finished');
  const store = openStore({ dataDir });
  try {
    assert.deepEqual(store.integrityCheck(), ['ok']);
    assert.deepEqual(store.datasets.list().map((d) => d.rows), [4]);
    assert.equal(store.db.prepare('SELECT COUNT(*) FROM dataset_rows').pluck().get(), 4);
  } finally {
    store.close();
  }
});

test('runs list/show/diff read the history the runner writes', () => {
  const dataDir = tmp();
  const store = openStore({ dataDir });
  const exp = store.experiments.create({ name: 'paired', spec: { steps: 3 } });
  const a = store.runs.create({ experimentId: exp.id, objective: 'single', seed: 0, config: { lr: 1e-5, steps: 3 } });
  const b = store.runs.create({ experimentId: exp.id, objective: 'robust', seed: 0, config: { lr: 1e-5, steps: 3, lambda: 0.4 } });
  store.runs.create({ objective: 'robust', seed: 1 });
  for (let step = 0; step < 3; step++) store.metrics.append(a.id, step, { gold: step, 'objective/kl': step * step });
  store.runs.update(a.id, { status: 'finished' });
  store.runs.addCheckpoint({ runId: a.id, step: 2, path: '/ck', sha256: '0'.repeat(64) });
  store.alerts.add({ runId: a.id, step: 2, kind: 'length_drift', message: 'responses grew 40%' });
  store.close();

  const all = json(['runs', 'list', '--data-dir', dataDir]);
  assert.deepEqual(all.map((r: { id: number }) => r.id), [a.id, b.id, b.id + 1]);
  assert.deepEqual(json(['runs', 'list', '--experiment', String(exp.id), '--status', 'finished', '--data-dir', dataDir]).map((r: { id: number; last_step: number }) => [r.id, r.last_step]), [[a.id, 2]]);
  assert.equal(json(['runs', 'list', '--objective', 'robust', '--data-dir', dataDir]).length, 2);

  const shown = json(['runs', 'show', String(a.id), '--data-dir', dataDir]);
  assert.deepEqual(shown.metric_keys, ['gold', 'objective/kl']);
  assert.deepEqual(shown.metrics, { gold: { step: 2, value: 2 }, 'objective/kl': { step: 2, value: 4 } });
  assert.equal(shown.status, 'finished');
  assert.equal(shown.checkpoints[0].step, 2);
  assert.equal(shown.alerts[0].kind, 'length_drift');

  assert.deepEqual(json(['runs', 'diff', String(a.id), String(b.id), '--data-dir', dataDir]), [
    { path: 'lambda', b: 0.4 }, { path: 'objective', a: 'single', b: 'robust' },
  ]);
  const missing = rrlhf(['runs', 'show', '99', '--data-dir', dataDir]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /run 99 does not exist/);
});
