// End-to-end: the real UI in Chromium (Playwright) against web mode (`rrlhf serve`) with a real SQLite
// database in a temporary data folder, from an empty app to an exported comparison report:
// built-in worlds → import a good file (file picker) and drop a bad one (its rejected lines) → train an
// ensemble → run the Quick study to its verdict → a study on the imported data with a model folder of
// one's own → stop and resume a study → compare runs → export a report (files on disk) → settings.
// Every screen is screenshotted into a folder under the OS temp dir (printed at the end).
// The same flow runs under Electron where its binary is installed, and says plainly when it is not.
//
// The server runs with RRLHF_PRESET_SIZE=tiny, which shrinks the presets to studies of seconds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, statSync, rmSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { copyFileSync } from 'node:fs';
import type { Page, BrowserContext } from 'playwright-core';
import { repoRoot, fixture } from '../util/paths.js';
import { CausalLM } from '../../engine/models/model.js';
import { fmt, signed } from '../../common/format.js';
import type { BonResult } from '../../engine/experiments/bon.js';

/** A Hugging Face model folder for the "your own data" study: a tiny GPT-2 with the bpe-tiny tokenizer fixture. */
async function tinyModelFolder(): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rrlhf-e2e-model-'));
  await CausalLM.init({ arch: 'gpt2', vocabSize: 660, nPositions: 48, d: 32, nLayer: 1, nHead: 2, eps: 1e-5, activation: 'gelu_new', bosTokenId: 657, eosTokenId: 656 }, 0).save(dir);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(repoRoot, 'test', 'fixtures', 'tokenizers', 'bpe-tiny', f), path.join(dir, f));
  return dir;
}

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ?? null;
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'];
const RENDERER_BUILT = existsSync(path.join(repoRoot, 'dist', 'renderer', 'index.html'));
const chromiumSkip = !CHROMIUM ? 'Chromium is not installed (/usr/bin/chromium); install it with `apt-get install -y chromium` to run the browser end-to-end test'
  : !RENDERER_BUILT ? 'the renderer is not built (dist/renderer); run `npm run build`' : false;

function electronSkip(): string | false {
  if (!RENDERER_BUILT) return 'the renderer is not built (dist/renderer); run `npm run build`';
  try {
    const dir = path.dirname(createRequire(import.meta.url).resolve('electron/package.json'));
    if (!existsSync(path.join(dir, 'path.txt'))) return 'Electron\'s binary is not installed (it is downloaded by `npm install` only where the internet is reachable); the same flow ran in Chromium against web mode';
  } catch {
    return 'the electron package is not installed';
  }
  if (!existsSync(path.join(repoRoot, 'dist', 'electron', 'main.js'))) return 'the desktop shell is not built (dist/electron/main.js); run `npm run build`';
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY && !process.env.RRLHF_E2E_ELECTRON_HEADLESS) return 'Electron needs a display (run under xvfb-run, or set RRLHF_E2E_ELECTRON_HEADLESS=1 where Electron can run headless)';
  return false;
}

const shots = mkdtempSync(path.join(os.tmpdir(), 'rrlhf-e2e-screens-'));

/** The UI flow, shared by the Chromium and the Electron test. */
class Flow {
  readonly problems: string[] = [];
  constructor(readonly page: Page, readonly label: string, readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    // API errors answer with 4xx statuses, which Chromium logs as failed loads; the UI shows those itself.
    page.on('console', (m) => { if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) this.problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => this.problems.push(`page error: ${e.message}`));
  }

  async shot(name: string) {
    await this.page.evaluate(() => window.scrollTo(0, 0));
    await this.page.screenshot({ path: path.join(this.dir, `${name}.png`), fullPage: true });
  }

  async screen(name: string) {
    await this.page.getByRole('link', { name, exact: true }).click();
    await this.page.getByRole('heading', { level: 1, name: new RegExp(`^${name}`) }).waitFor();
  }

  /** Waits for a study's verdict, failing early with the page's error if the study stops with one. */
  async verdict(timeout: number): Promise<string> {
    const v = this.page.getByLabel('Verdict');
    try {
      await v.waitFor({ timeout });
    } catch (err) {
      await this.shot('failed-waiting-for-verdict');
      const text = (await this.page.locator('main').innerText().catch(() => '')).slice(0, 1500);
      throw new Error(`no verdict within ${timeout / 1000} s (${(err as Error).message.split('\n')[0]})\npage problems: ${JSON.stringify(this.problems)}\npage text:\n${text}`);
    }
    return (await v.textContent()) ?? '';
  }

  async home() {
    await this.page.getByRole('heading', { name: /side by side/ }).waitFor();
    await this.shot('01-home');
  }

  async datasets() {
    const { page } = this;
    await this.screen('Datasets');
    // The built-in worlds are there from an empty data folder.
    await page.getByRole('article', { name: 'Built-in world: Goodhart lab' }).waitFor();
    await page.getByRole('article', { name: 'Built-in world: Text reviews' }).waitFor();
    await page.getByText('No datasets imported yet.').waitFor();
    await this.shot('02-datasets-empty');

    // A good file: detected layout, preview, import.
    await page.getByLabel('Data file', { exact: true }).setInputFiles(fixture('data', 'trl_explicit.jsonl'));
    await page.getByRole('heading', { name: 'What the file holds' }).waitFor();
    await page.getByText('TRL explicit prompt').first().waitFor();
    await page.getByRole('table', { name: 'Preview of the first pairs' }).getByText('What colour is the sky?').waitFor();
    await page.getByRole('button', { name: 'Import dataset' }).click();
    const result = page.getByRole('status', { name: 'Import result' });
    await result.getByText('4 pairs accepted').waitFor();
    await result.getByText('0 rejected').waitFor();

    // A bad file, dropped on the page: its rejected lines, with reasons, before and after the import.
    const bytes = readFileSync(fixture('data', 'malformed', 'bad_lines.jsonl')).toString('base64');
    const dropped = await page.evaluateHandle((b64) => {
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'bad_lines.jsonl'));
      return dt;
    }, bytes);
    await page.getByRole('region', { name: 'Drop a data file here' }).dispatchEvent('drop', { dataTransfer: dropped });
    await page.getByRole('heading', { name: /Records that will be rejected/ }).waitFor();
    await page.getByRole('button', { name: 'Import dataset' }).click();
    await result.getByText('2 pairs accepted').waitFor();
    await result.getByText('8 rejected').waitFor();
    const rejected = page.getByRole('list', { name: 'Rejected lines' });
    await rejected.getByText('line 5: chosen is identical to rejected').waitFor();
    assert.equal(await rejected.getByRole('listitem').count(), 8);
    await this.shot('03-datasets-imported');

    // Files that cannot be imported: the message names the file as chosen, not where the upload was saved.
    await page.getByLabel('Data file', { exact: true }).setInputFiles(fixture('data', 'malformed', 'not_a_dataset.png'));
    const binary = page.getByRole('alert').filter({ hasText: 'looks like a binary file' });
    await binary.waitFor();
    assert.match((await binary.textContent())!, /^not_a_dataset\.png looks like a binary file/);
    await page.getByLabel('Data file', { exact: true }).setInputFiles(fixture('data', 'malformed', 'all_rejected.jsonl'));
    await page.getByRole('heading', { name: /Records that will be rejected/ }).waitFor();
    await page.getByRole('status').filter({ hasText: 'None of the first 2 records can be imported' }).waitFor();
    await page.getByRole('button', { name: 'Import dataset' }).click();
    const failed = page.getByRole('alert').filter({ hasText: 'The import failed' });
    await failed.waitFor();
    assert.match((await failed.textContent())!, /nothing imported from all_rejected\.jsonl: all 2 records were rejected or set aside; first: line 1: /);

    // The dataset's own page lists them too.
    await page.getByRole('table', { name: 'Imported datasets' }).getByRole('link', { name: 'bad_lines' }).click();
    await page.getByRole('region', { name: 'Dataset bad_lines' }).or(page.getByLabel('Dataset bad_lines')).first().waitFor();
    assert.equal(await page.getByRole('list', { name: 'Rejected lines' }).getByRole('listitem').count(), 8);
    await this.shot('04-dataset-detail');
    // …and leads to a study on it (the wizard opens with this dataset chosen).
    await page.getByRole('link', { name: 'use this dataset in a new study' }).click();
    await page.getByRole('heading', { level: 1, name: /new study/ }).waitFor();
    assert.ok(await page.getByRole('radio', { name: /Your imported dataset/ }).isChecked());
    assert.equal(await page.getByLabel('Dataset', { exact: true }).locator('option:checked').textContent(), 'bad_lines (2 pairs)');
  }

  async ensembles() {
    const { page } = this;
    await this.screen('Ensembles');
    await page.getByText('No ensembles yet.').waitFor();
    // A value left empty is named as on the form, in words.
    await page.getByLabel('Heads K').fill('');
    await page.getByRole('button', { name: 'Train ensemble' }).click();
    await page.getByRole('alert').filter({ hasText: 'Check the settings — Heads K: enter a number.' }).waitFor();
    await page.getByRole('button', { name: 'Dismiss the message' }).click();
    await page.getByLabel('Heads K').fill('3');
    await page.getByLabel('Training pairs').fill('256');
    await page.getByLabel('Held-out pairs').fill('64');
    await page.getByLabel('SFT samples').fill('256');
    await page.getByRole('button', { name: 'Train ensemble' }).click();
    const report = page.getByRole('article', { name: /^Ensemble goodhart-lab BRME mse K=3/ });
    await report.waitFor({ timeout: 90_000 });
    await report.getByText('Held-out accuracy').waitFor();
    await report.getByText(/calibration error/).waitFor();
    // Charts follow the window's width (no "ResizeObserver loop" errors: see the console check at the end).
    const size = page.viewportSize()!;
    await page.setViewportSize({ width: 1024, height: 700 });
    await page.waitForTimeout(300);
    await page.setViewportSize(size);
    await page.waitForTimeout(300);
    await this.shot('05-ensembles');
  }

  async quickStudy(): Promise<number> {
    const { page } = this;
    await this.screen('Experiments');
    await page.getByText('No studies yet.').waitFor();
    await this.shot('06-experiments-empty');
    await page.getByRole('link', { name: 'New study' }).click();
    await page.getByRole('button', { name: 'Quick' }).waitFor();
    await page.getByText(/about .* on this machine/).waitFor();
    // The memory plan of the study being configured (experiments.memory), every term at each precision.
    await page.getByText(/^\s*Memory: [\d.]+ (KiB|MiB|GiB) on cpu of [\d.]+ (MiB|GiB) available/).waitFor();
    await page.getByText('Memory plan: every term, at each precision').click();
    const terms = page.getByRole('table', { name: 'Study memory plan' });
    assert.match(await terms.innerText(), /policy weights\s+[\d.]+ (B|KiB|MiB)\s+[\d.]+ (B|KiB|MiB)/);
    assert.match(await terms.innerText(), /reference policy/);
    await this.shot('07-wizard');
    // A policy LoRA: the world's model offers its module names, the engine's default targets ticked, and
    // the memory line and plan show the adapters instead of a reference copy.
    await page.getByLabel('Policy fine-tuning').selectOption('lora');
    assert.ok(await page.getByRole('group', { name: 'LoRA target modules' }).getByLabel('c_attn').isChecked());
    assert.equal(await page.getByLabel('LoRA rank').inputValue(), '8');
    await page.getByLabel('LoRA rank').fill('4');
    await page.getByText(/^\s*Memory: [\d.]+ (KiB|MiB|GiB) on cpu .*\(LoRA r 4,/).waitFor();
    await terms.getByRole('cell', { name: 'LoRA adapters' }).waitFor();
    await page.getByLabel('Policy fine-tuning').selectOption('full');
    await page.getByText(/^\s*Memory: [\d.]+ (KiB|MiB|GiB) on cpu .*\(full fine-tuning,/).waitFor();
    // Members pretrained from different seeds: offered for independent members; hidden (and reset) for LoRA ones.
    await page.getByLabel('Ensemble method').selectOption('independent');
    await page.getByLabel('Member trunks').selectOption('per-member');
    await page.getByText(/pretrained from different seeds — Eisenstein et al\./).first().waitFor();
    await page.getByText(/about .* on this machine/).waitFor();
    assert.equal(await page.getByRole('alert').filter({ hasText: 'Check the settings' }).count(), 0);
    // A LoRA reward ensemble: the rank starts from the engine's default, and the spec stays valid.
    await page.getByLabel('Ensemble method').selectOption('lora');
    const ensRank = page.getByLabel('Ensemble LoRA rank');
    await page.getByLabel('Member trunks').waitFor({ state: 'detached' });
    assert.equal(await ensRank.inputValue(), '8');
    await ensRank.fill('4');
    await page.getByText(/about .* on this machine/).waitFor();
    assert.equal(await page.getByRole('alert').filter({ hasText: 'Check the settings' }).count(), 0);
    // A setting left empty is named as on the form, in words, and blocks the start.
    await page.getByLabel('PPO iterations').fill('');
    const bad = page.getByRole('alert').filter({ hasText: 'PPO iterations' });
    await bad.waitFor();
    assert.equal((await bad.textContent())!.trim(), 'Check the settings — PPO iterations: enter a number.');
    assert.ok(await page.getByRole('button', { name: 'Start experiment' }).isDisabled());
    await page.getByRole('button', { name: 'Quick' }).click();
    await bad.waitFor({ state: 'detached' });
    await page.getByText(/about .* on this machine/).waitFor();
    await page.getByRole('button', { name: 'Start experiment' }).click();
    await page.waitForURL(/#\/experiments\/\d+/, { timeout: 60_000 });
    const id = Number(/#\/experiments\/(\d+)/.exec(page.url())![1]);
    const verdict = await this.verdict(150_000);
    assert.match(verdict, /final gold/);
    await page.getByRole('table', { name: 'Results by objective' }).waitFor();
    // The robust objective's name already carries its λ; the table does not repeat it.
    assert.equal((await page.getByRole('table', { name: 'Results by objective' }).getByRole('cell', { name: /^robust/ }).textContent())!.trim(), 'robust λ=0.4');
    // Every run's hacking onset is marked on the curves (a dashed line at its step), not only listed in the table.
    const onsets = (await page.getByRole('table', { name: 'Runs of this study' }).locator('tbody tr td:last-child').allTextContents()).filter((t) => /^\d+$/.test(t.trim()));
    assert.ok(onsets.length > 0, 'the Quick study shows reward hacking in at least one run');
    const gold = await page.getByRole('figure', { name: /^Gold on held-out prompts/ }).getAttribute('aria-label');
    for (const step of onsets) assert.ok(gold!.includes(`at step ${step.trim()}`), `onset at step ${step} is marked on the gold chart: ${gold}`);
    await this.helpStaysOnScreen();
    await this.shot('08-study-finished');
    await this.exportForCluster();
    return id;
  }

  /** The study page's "Run on a cluster": an OpenRLHF export, its folder on disk with the README and one launch script per run. */
  async exportForCluster() {
    const { page } = this;
    await page.getByText('Run on a cluster (OpenRLHF / verl)…').click();
    await page.getByLabel('GPUs per job').fill('4');
    await page.getByRole('button', { name: 'Export jobs' }).click();
    const res = page.getByRole('status', { name: 'Export result' });
    await res.waitFor({ timeout: 60_000 });
    const text = (await res.textContent())!;
    const m = /^(\d+) jobs? for OpenRLHF\/OpenRLHF/.exec(text.trim());
    assert.ok(m, `the export says how many jobs it wrote, for which engine: ${text}`);
    const runs = await page.getByRole('table', { name: 'Runs of this study' }).locator('tbody tr').count();
    assert.equal(Number(m[1]), runs, 'one job per objective × seed');
    const out = (await res.getByTestId('export-folder').textContent())!.trim();
    assert.ok(existsSync(path.join(out, 'README.md')), `${out}/README.md is written`);
    const study = JSON.parse(readFileSync(path.join(out, 'study.json'), 'utf8')) as { jobs: { script: string }[] };
    for (const j of study.jobs) {
      assert.ok(existsSync(path.join(out, j.script)), `launch script ${j.script}`);
      assert.match(readFileSync(path.join(out, j.script), 'utf8'), /--actor\.num_gpus_per_node 4\b/, 'the chosen GPU count reaches the job');
    }
    await this.shot('08b-study-exported');
  }

  /** A "?" at the right edge (the √KL axis option) opens its explanation inside a 1024-px window, not off screen. */
  async helpStaysOnScreen() {
    const { page } = this;
    const size = page.viewportSize()!;
    await page.setViewportSize({ width: 1024, height: 700 });
    try {
      await page.getByRole('button', { name: 'What is x = √KL?' }).click();
      const pop = page.getByRole('note').filter({ hasText: '√KL' });
      await pop.waitFor();
      await page.waitForTimeout(100);
      const box = (await pop.boundingBox())!;
      const { client, scroll } = await page.evaluate(() => ({ client: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth }));
      assert.ok(box.x >= 0 && box.x + box.width <= client, `the explanation (x ${box.x}–${box.x + box.width}) fits the window (${client} px)`);
      assert.ok(scroll <= client, `no horizontal scrolling (${scroll} > ${client})`);
      await page.keyboard.press('Escape');
      await pop.waitFor({ state: 'detached' });
    } finally {
      await page.setViewportSize(size);
    }
  }

  async stopAndResume(): Promise<number> {
    const { page } = this;
    await page.getByRole('link', { name: 'Experiments', exact: true }).click();
    await page.getByRole('link', { name: 'New study' }).click();
    await page.getByRole('button', { name: 'Quick' }).click();
    await page.getByLabel('PPO iterations').fill('40');
    await page.getByLabel('Study name').fill('stop and resume');
    await page.getByRole('button', { name: 'Start experiment' }).click();
    await page.waitForURL(/#\/experiments\/\d+/, { timeout: 60_000 });
    const id = Number(/#\/experiments\/(\d+)/.exec(page.url())![1]);
    // Stop once PPO is under way, while the curves update live.
    await page.getByText(/PPO · .* iteration \d+\/40/).first().waitFor({ timeout: 60_000 });
    await this.shot('09-study-live');
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await page.getByRole('button', { name: 'Resume', exact: true }).waitFor({ timeout: 60_000 });
    await page.getByText(/^Stopped\./).waitFor();
    await page.getByRole('table', { name: 'Runs of this study' }).getByText('cancelled').waitFor();
    // Runs that never started say so (not "queued": nothing will run them until Resume).
    assert.ok(await page.getByRole('table', { name: 'Runs of this study' }).getByText('not started').count() >= 1);
    assert.equal(await page.getByRole('table', { name: 'Runs of this study' }).getByText('queued', { exact: true }).count(), 0);
    await this.shot('10-study-stopped');
    await page.getByRole('button', { name: 'Resume', exact: true }).click();
    const verdict = await this.verdict(150_000);
    assert.match(verdict, /final gold/);
    // Every run of the preset (seeds × objectives) finished after the resume.
    const runsTable = page.getByRole('table', { name: 'Runs of this study' });
    const rows = await runsTable.locator('tbody tr').count();
    assert.ok(rows >= 4, `${rows} runs`);
    assert.equal(await runsTable.getByText('finished').count(), rows);
    return id;
  }

  /** The imported dataset and a model folder of the user's own, checked (the Wizard and Ensembles share these pickers). */
  async chooseOwnData(modelDir: string) {
    const { page } = this;
    await page.getByLabel('Dataset', { exact: true }).selectOption({ label: 'trl_explicit (4 pairs)' });
    // A folder that is not a model: the loader's refusal, in the picker.
    await page.getByLabel('Model folder', { exact: true }).fill(path.join(modelDir, 'no-such-model'));
    await page.getByRole('button', { name: 'Check model' }).click();
    await page.getByText(/no-such-model does not exist; choose the folder that holds config\.json/).waitFor();
    await page.getByLabel('Model folder', { exact: true }).fill(modelDir);
    await page.getByRole('button', { name: 'Check model' }).click();
    await page.getByText(/✓ GPT2LMHeadModel: 0\.\d\dM parameters; none \(learned absolute positions\); gpt2, 1 layers, width 32, vocabulary 660/).waitFor();
    // The memory plan of a default PPO study on this machine's CPU, at each precision.
    const plan = page.getByRole('table', { name: 'Memory plan' });
    for (const p of ['fp32', 'bf16 *', 'fp16']) assert.equal(await plan.getByRole('cell', { name: p, exact: true }).count(), 1, `a cpu row for ${p}`);
    assert.match(await plan.innerText(), /cpu\s+fp32\s+[\d.]+ (MiB|GiB)\s+[\d.]+ (MiB|GiB)/);
  }

  /** A study on the imported dataset with a model folder of the user's own, and no gold judge. */
  async ownDataStudy(modelDir: string) {
    const { page } = this;
    await page.getByRole('link', { name: 'Experiments', exact: true }).click();
    await page.getByRole('link', { name: 'New study' }).click();
    await page.getByRole('radio', { name: /Your imported dataset/ }).check();
    await this.chooseOwnData(modelDir);
    await page.getByLabel('Max prompt tokens').fill('24');
    await page.getByLabel('Max response tokens').fill('12');
    await page.getByLabel('PPO iterations').fill('4');
    await page.getByLabel('Batch size').fill('8');
    await page.getByLabel('Seeds', { exact: true }).fill('1');
    await page.getByLabel('Study name').fill('my data, my model');
    await page.getByText(/not estimated up front/).waitFor();
    await page.getByText(/^\s*Memory: [\d.]+ (KiB|MiB|GiB) on cpu of/).waitFor();
    await this.shot('11-wizard-own-data');
    await page.getByRole('button', { name: 'Start experiment' }).click();
    await page.waitForURL(/#\/experiments\/\d+/, { timeout: 60_000 });
    const verdict = await this.verdict(120_000);
    assert.match(verdict, /no gold reward/);
    await page.getByText(/ · 1 seed × 4 PPO iterations · /).waitFor();
    await page.getByRole('heading', { name: /ensemble-mean reward at matched KL/ }).waitFor();
    await this.shot('12-study-own-data');
    await this.benchmarkStudy();
  }

  /** The study page's Benchmarks: π₀ and each run's final policy scored on the ARC fixture, paired. */
  async benchmarkStudy() {
    const { page } = this;
    await page.getByRole('region', { name: 'Benchmarks' }).getByRole('textbox', { name: 'Benchmark file' }).fill(fixture('evals', 'arc.jsonl'));
    await page.getByRole('button', { name: 'Score the study' }).click();
    const table = page.getByRole('table', { name: 'Benchmark arc_0shot/acc', exact: true });
    await table.waitFor({ timeout: 120_000 });
    // The table appears once the first policy is scored; the robust run's row fills in when the job reaches it.
    await table.locator('tbody tr').nth(1).getByText(/seeds higher/).waitFor({ timeout: 120_000 });
    const rows = await table.locator('tbody tr').allTextContents();
    const objectives = await page.getByRole('table', { name: 'Results by objective' }).locator('tbody tr').count();
    assert.equal(rows.length, objectives, 'one row per objective');
    const cells = await table.locator('tbody tr').first().locator('td').allTextContents();
    assert.match(cells[1]!.trim(), /^[01]\.\d+$/, `π₀'s accuracy is shown: ${cells}`);
    assert.match(cells[4]!.trim(), /^([+−]\d|0$)/, `the change from π₀ is shown: ${cells}`);
    assert.match(rows[1] ?? '', /1\/1 seeds higher|0\/1 seeds higher/, 'the robust objective against the baseline, by seed');
    await this.shot('12b-study-benchmarks');
    // The Runs overlay offers the recorded benchmark among its metrics: π₀ at step 0, then the final policy.
    await page.getByRole('link', { name: 'Compare runs' }).click();
    await page.waitForURL(/#\/runs\?ids=/);
    await page.getByLabel('Metric').selectOption({ label: 'benchmark: arc 0-shot · acc' });
    const fig = page.getByRole('figure', { name: /^benchmark: arc 0-shot · acc/ });
    await fig.waitFor();
    await page.goBack();
  }

  /** An ensemble on the imported dataset, with the same model folder as its trunk, from the Ensembles screen. */
  async ownDataEnsemble(modelDir: string) {
    const { page } = this;
    await this.screen('Ensembles');
    await page.getByRole('radio', { name: 'Imported dataset' }).check();
    await this.chooseOwnData(modelDir);
    await page.getByLabel('Heads K').fill('2');
    await page.getByLabel('Training pairs').fill('16');
    await page.getByLabel('Held-out pairs').fill('16');
    await page.getByLabel('Ensemble name').fill('my data ensemble');
    await page.getByRole('button', { name: 'Train ensemble' }).click();
    const report = page.getByRole('article', { name: 'Ensemble my data ensemble' });
    await report.waitFor({ timeout: 60_000 });
    await report.getByRole('figure', { name: /^Held-out accuracy: .*; per head [\d.]+%, [\d.]+%$/ }).waitFor();
    await this.shot('12b-ensemble-own-data');
    // Served as an OpenRLHF remote reward model: the URL with its token answers OpenRLHF's request.
    const serve = page.getByRole('region', { name: 'Serve as a reward model' });
    await serve.getByLabel('Robust λ').fill('0.3');
    await serve.getByRole('button', { name: 'Serve reward' }).click();
    const remote = (await serve.getByText(/^--reward\.remote_url /).textContent())!.match(/"(http:\/\/127\.0\.0\.1:\d+\/get_reward\?token=[\w-]+)"/)![1]!;
    const res = await fetch(remote, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query: ['What colour is the sky? Blue.'], prompts: ['What colour is the sky?'], labels: [null] }) });
    assert.equal(res.status, 200);
    const body = await res.json() as { rewards: number[]; rrlhf: { lambda: number } };
    assert.equal(body.rewards.length, 1);
    assert.equal(body.rrlhf.lambda, 0.3);
    await this.shot('12c-serve-reward');
    await serve.getByRole('button', { name: 'Stop serving' }).click();
    await serve.getByRole('button', { name: 'Serve reward' }).waitFor();
    await assert.rejects(fetch(remote, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"query": ["x"]}' }));
    // Scored on a RewardBench-layout file: every subset, RewardBench's sections and score, each head and aggregate.
    const bench = page.getByRole('region', { name: 'Reward-model benchmark' });
    await bench.getByRole('textbox', { name: 'Pairs file' }).fill(fixture('evals', 'rewardbench.jsonl'));
    await bench.getByRole('button', { name: 'Score the ensemble' }).click();
    const table = bench.getByRole('table', { name: 'Reward benchmark accuracy' });
    await table.waitFor({ timeout: 60_000 });
    assert.deepEqual((await table.locator('tbody tr td:first-child').allTextContents()).map((t) => t.trim()),
      ['all pairs', 'alpacaeval-easy', 'mt-bench-hard', 'refusals-dangerous', 'math-prm', 'hep-python', 'Chat', 'Chat Hard', 'Safety', 'Reasoning', 'RewardBench score']);
    const head = (await table.locator('thead th').allTextContents()).map((t) => t.trim());
    assert.deepEqual(head.slice(-3), ['robust λ = 0.4', 'head 0', 'head 1']);
    for (const cell of await table.locator('tbody tr').first().locator('td.n').allTextContents()) assert.match(cell.trim(), /^(5|\d+\.\d%)$/);
    await this.shot('12d-reward-benchmark');
  }

  /** The Datasets screen's "Score a model on a benchmark": a model folder on the ARC fixture, harness-style. */
  async modelBenchmark(modelDir: string) {
    const { page } = this;
    await this.screen('Datasets');
    const panel = page.getByRole('region', { name: 'Score a model on a benchmark' });
    await panel.getByRole('textbox', { name: 'Model folder' }).fill(modelDir);
    await panel.getByRole('textbox', { name: 'Benchmark file' }).fill(fixture('evals', 'arc.jsonl'));
    // A column mapping that names a column the file lacks is refused, record by record, naming it.
    await panel.getByRole('textbox', { name: 'Column mapping' }).fill('question=stem');
    await panel.getByRole('button', { name: 'Score the model' }).click();
    await panel.getByRole('alert').filter({ hasText: /no column "stem"/ }).waitFor({ timeout: 60_000 });
    await panel.getByRole('textbox', { name: 'Column mapping' }).fill('');
    await panel.getByRole('button', { name: 'Score the model' }).click();
    const res = panel.getByRole('status', { name: 'Model benchmark result' });
    await res.waitFor({ timeout: 60_000 });
    assert.match((await res.textContent())!.replace(/\s+/g, ' ').trim(), /^arc, 3 items, 0-shot: acc \d+\.\d%, acc_norm \d+\.\d%/);
    assert.equal(await panel.getByRole('table', { name: 'Scored items' }).locator('tbody tr').count(), 3);
    await this.shot('12e-model-benchmark');
  }

  async compare() {
    const { page } = this;
    await page.getByRole('link', { name: 'Compare runs' }).click();
    // The Quick study's runs: 2 seeds × 3 objectives (standard, robust λ=0.4, ensemble mean).
    await page.getByRole('heading', { name: /Overlay of 6 runs/ }).waitFor();
    await page.getByRole('region', { name: 'Comparison' }).locator('canvas').first().waitFor();
    await page.getByRole('table', { name: 'Config diff' }).getByRole('cell', { name: 'objective.kind', exact: true }).waitFor();
    await page.getByRole('table', { name: 'Samples' }).waitFor();
    // The y axis says what is plotted in words, not the store's key.
    const comparison = page.getByRole('region', { name: 'Comparison' });
    await comparison.getByRole('img', { name: 'Chart: gold on held-out prompts (gold against PPO iteration)' }).waitFor();
    // Hacking onsets are marked here too, one per run that has one.
    const onsetCells = (await page.getByRole('table', { name: 'Run history' }).locator('tbody tr.sel td:nth-child(11)').allTextContents()).filter((t) => /^\d+$/.test(t.trim()));
    const overlay = await comparison.getByRole('figure').first().getAttribute('aria-label');
    assert.ok(onsetCells.length > 0, 'some compared run shows reward hacking');
    assert.equal((overlay!.match(/hacking onset of #\d+/g) ?? []).length, onsetCells.length, overlay!);
    // At 1024 px the x-axis choice stays on one line ("x: step" and "√KL" together).
    const size = page.viewportSize()!;
    await page.setViewportSize({ width: 1024, height: 700 });
    const [step, kl] = await Promise.all([comparison.getByRole('radio', { name: 'step' }).boundingBox(), comparison.getByRole('radio', { name: /√KL/ }).boundingBox()]);
    assert.ok(Math.abs(step!.y - kl!.y) < 4, `step (y ${step!.y}) and √KL (y ${kl!.y}) on one line`);
    await page.setViewportSize(size);
    await this.shot('13-runs-overlay');
    await page.getByRole('checkbox', { name: /seed bands/ }).check();
    await page.getByText(/mean ± std per objective/).waitFor();
    await this.shot('14-runs-seed-bands');
    await page.getByRole('radio', { name: /√KL/ }).check();
    await page.getByRole('region', { name: 'Comparison' }).locator('.u-label', { hasText: '√KL' }).waitFor();
    // Each sample's button is named after its sample, and the bars read out their values.
    const headButtons = page.getByRole('button', { name: /^per-head rewards of run \d+, step \d+, sample \d+$/ });
    const names = await headButtons.evaluateAll((bs) => bs.map((b) => b.getAttribute('aria-label')));
    assert.ok(names.length > 1 && new Set(names).size === names.length, `distinct names: ${names.join(' | ')}`);
    await headButtons.first().click();
    await page.getByRole('img', { name: /^Per-head rewards: [-−]?\d/ }).waitFor();
    await this.shot('15-runs-sqrt-kl-samples');
  }

  async report(studyId: number): Promise<string[]> {
    const { page } = this;
    await this.screen('Reports');
    // Runs of different worlds (here the Goodhart lab and an imported dataset) cannot share one report: their rewards have their own scales.
    await page.getByRole('radio', { name: 'chosen runs' }).check();
    await page.getByRole('checkbox', { name: /^#1 standard/ }).check();
    await page.getByRole('checkbox', { name: /my data, my model/ }).first().check();
    await page.getByRole('button', { name: 'Export report' }).click();
    await page.getByRole('alert').filter({ hasText: /^these runs come from different worlds \(run 1 on goodhart-lab \(world seed 0\); run \d+ on imported dataset \d+ without gold\)/ }).waitFor();
    await page.getByRole('button', { name: 'Dismiss the message' }).click();
    await page.getByRole('radio', { name: 'a study' }).check();
    await page.getByLabel('Study', { exact: true }).selectOption(String(studyId));
    await page.getByRole('button', { name: 'Export report' }).click();
    const done = page.getByRole('region', { name: 'Exported report' }).or(page.getByLabel('Exported report')).first();
    await done.waitFor({ timeout: 120_000 });
    const files = await done.locator('li code').allTextContents();
    if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
      // Without a desktop, "Open folder" says why once and where the files are.
      const folder = path.dirname(files[0]!);
      await done.getByRole('button', { name: 'Open folder' }).click();
      await page.getByText(/^Not opened: /).waitFor();
      assert.equal((await page.getByText(/^Not opened: /).textContent())!.trim(), `Not opened: this machine has no desktop session (no DISPLAY). The files are in ${folder}.`);
    }
    await this.shot('16-reports');
    return files;
  }

  /** A best-of-n study on the Goodhart lab's π₀ (tiny: 2 members, 256 pairs, N = 8, 2 seeds), its
   *  charts and its table checked against the stored result (bon.get). */
  async bestOfN(studyId: number) {
    const { page } = this;
    // A study's run leads to best-of-n on its policy: the form opens with that run chosen.
    await page.goto(page.url().replace(/#.*$/, `#/experiments/${studyId}`));
    const runLink = page.getByRole('table', { name: 'Runs of this study' }).getByRole('link', { name: 'best-of-n' }).first();
    const href = (await runLink.getAttribute('href'))!;
    await runLink.click();
    await page.getByRole('heading', { level: 1, name: 'Experiments · best-of-n' }).waitFor();
    assert.ok(await page.getByRole('radio', { name: /a stored run's policy/ }).isChecked());
    await page.waitForFunction(() => (document.querySelector('select[aria-label="Run"]') as HTMLSelectElement | null)?.value !== '');
    assert.equal(`run=${await page.getByLabel('Run', { exact: true }).inputValue()}`, /run=\d+/.exec(href)![0]);
    await page.getByRole('link', { name: 'Experiments', exact: true }).click();
    await page.getByRole('link', { name: 'New best-of-n study' }).click();
    await page.getByRole('heading', { level: 1, name: 'Experiments · best-of-n' }).waitFor();
    const form = page.getByRole('region', { name: 'New best-of-n study' });
    await form.getByLabel('Members K').fill('2');
    await form.getByLabel('Preference pairs').fill('256');
    await form.getByLabel('N', { exact: true }).fill('8');
    await form.getByLabel('Prompts', { exact: true }).fill('4');
    await form.getByLabel('Seeds', { exact: true }).fill('2');
    await this.shot('16a-bon-form');
    await form.getByRole('button', { name: 'Start best-of-n' }).click();
    await page.waitForURL(/#\/experiments\/bon\/\d+/, { timeout: 60_000 });
    const id = Number(/#\/experiments\/bon\/(\d+)/.exec(page.url())![1]);
    const fig = page.getByRole('figure', { name: /^Gold of the chosen sample against KL_bon: / });
    await fig.waitFor({ timeout: 120_000 });
    const rec = await page.evaluate(async (bonId) => {
      const bridge = (window as unknown as { rrlhf?: { call(m: string, i: unknown): Promise<{ result?: unknown }> } }).rrlhf;
      if (bridge) return (await bridge.call('bon.get', { id: bonId })).result;
      const res = await fetch('./api/call/bon.get', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-RRLHF-Token': sessionStorage.getItem('rrlhf-token') ?? '' }, body: JSON.stringify({ id: bonId }) });
      return ((await res.json()) as { result: unknown }).result;
    }, id) as { status: string; result: BonResult };
    assert.equal(rec.status, 'finished');
    const r = rec.result;
    assert.deepEqual(r.ns, [1, 2, 4, 8]);
    assert.deepEqual(r.objectives.map((o) => o.name), ['standard', 'robust λ=0.4', 'worst case (λ=0)', 'mean', 'gold (upper bound)']);
    // The chart's summary carries each objective's gold at n = 1 and at N, as stored.
    const label = (await fig.getAttribute('aria-label'))!;
    for (const o of r.objectives) assert.ok(label.includes(`${o.name} ${fmt(o.curve[0]!.gold!.mean)} at n = 1, ${fmt(o.curve[3]!.gold!.mean)} at n = 8`), `${o.name} in ${label}`);
    await page.getByRole('figure', { name: /^Gold minus standard's gold, paired by seed/ }).waitFor();
    // The table: one row per n; each cell is gold − baseline gold, paired by seed, with its interval.
    const table = page.getByRole('table', { name: 'Gold against the baseline by n' });
    const rows = table.locator('tbody tr');
    assert.equal(await rows.count(), 4);
    const iv = (v: { mean: number; lo: number | null; hi: number | null }) => (v.lo !== null && v.hi !== null ? `${signed(v.mean)} [${fmt(v.lo)}, ${fmt(v.hi)}]` : signed(v.mean));
    // At n = 1 every objective takes the same (average) sample: a difference of 0, shown as 0.
    assert.deepEqual((await rows.nth(0).locator('td').allTextContents()).map((t) => t.trim()).slice(3), r.objectives.slice(1).map(() => '0'));
    for (let j = 1; j < 4; j++) {
      const cells = (await rows.nth(j).locator('td').allTextContents()).map((t) => t.trim());
      assert.equal(cells[0], String(r.ns[j]));
      assert.deepEqual(cells.slice(3), r.objectives.slice(1).map((o) => iv(o.curve[j]!.gold_vs_baseline!)), `row n = ${r.ns[j]}`);
    }
    // Choosing by gold is the upper bound: at N it beats the baseline.
    assert.ok(r.objectives[4]!.curve[3]!.gold_vs_baseline!.mean > 0);
    await this.shot('16b-bon-result');
    const fit = r.objectives[0]!.fit!;
    await page.getByRole('region', { name: 'Fit and turnover' }).getByText(`standard: gold − gold(n = 1) ≈ d(α − β·d) with α = ${fmt(fit.alpha)}, β = ${fmt(fit.beta)}`, { exact: false }).waitFor();
    // The list of results links back to it.
    await page.getByRole('link', { name: '← Best-of-n studies' }).click();
    await page.getByRole('table', { name: 'Best-of-n results' }).getByRole('link', { name: 'best-of-8 on goodhart-lab' }).waitFor();
  }

  async settings() {
    const { page } = this;
    await this.screen('Settings');
    await page.getByRole('table', { name: 'Devices' }).getByText('available').first().waitFor();
    await this.shot('17-settings');
  }
}

/** Runs the whole flow on a page; returns what the assertions need. */
async function runFlow(flow: Flow) {
  await flow.home();
  await flow.datasets();
  await flow.ensembles();
  const quick = await flow.quickStudy();
  const model = await tinyModelFolder();
  cleanup.push(model);
  await flow.ownDataStudy(model);
  await flow.ownDataEnsemble(model);
  await flow.modelBenchmark(model);
  await flow.stopAndResume();
  await flow.compare();
  const files = await flow.report(quick);
  await flow.bestOfN(quick);
  await flow.settings();
  return { files };
}

// ---- Chromium against web mode -------------------------------------------------------------------

let server: ChildProcess | undefined;
let context: BrowserContext | undefined;
/** Temporary folders removed at the end (data folders only when their test passed; screenshots are kept). */
const cleanup: string[] = [];

async function startServer(dataDir: string): Promise<string> {
  server = spawn(process.execPath, [path.join(repoRoot, 'bin', 'rrlhf.js'), 'serve', '--port', '0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RRLHF_PRESET_SIZE: 'tiny' },
  });
  let stderr = '';
  server.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve, reject) => {
    readline.createInterface({ input: server!.stdout! }).once('line', resolve);
    server!.once('exit', (code) => reject(new Error(`rrlhf serve exited (${code}) before printing its address:\n${stderr}`)));
  });
}

after(async () => {
  await context?.close().catch(() => undefined);
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => { server!.once('exit', r); setTimeout(r, 10_000); });
  }
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
  process.stdout.write(`# e2e screenshots: ${shots}\n`);
});

test('the app in Chromium (web mode): empty data folder → imported data → ensemble → studies → comparison → report', { skip: chromiumSkip, timeout: 400_000 }, async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rrlhf-e2e-data-'));
  const url = await startServer(dataDir);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/);

  // The API refuses calls without the token.
  const origin = new URL(url).origin;
  const denied = await fetch(`${origin}/api/call/app.info`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  assert.equal(denied.status, 401);

  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(path.join(os.tmpdir(), 'rrlhf-e2e-profile-'));
  cleanup.push(profile);
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM!, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1360, height: 900 } });
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(30_000);
  const flow = new Flow(page, 'chromium', path.join(shots, 'chromium'));
  // Errors the window reports without throwing (e.g. "ResizeObserver loop completed with undelivered notifications") go to the console too.
  await page.addInitScript(() => addEventListener('error', (e) => { if (!e.error) console.error(`window error: ${e.message}`); }));
  await page.goto(url);
  const { files } = await runFlow(flow);

  assert.equal(files.length, 3, `HTML, PDF and CSV expected, got ${files.join(', ')}`);
  for (const f of files) {
    assert.ok(f.startsWith(dataDir), `${f} is inside the data folder`);
    assert.ok(statSync(f).size > 1000, `${f} is written`);
  }
  assert.ok(files.some((f) => f.endsWith('.pdf')) && files.some((f) => f.endsWith('.html')) && files.some((f) => f.endsWith('.csv')));
  assert.deepEqual(flow.problems, [], 'no console errors or CSP violations');
  cleanup.push(dataDir);
});

// ---- the same flow under Electron ----------------------------------------------------------------

test('the app in Electron: the same flow', { skip: electronSkip(), timeout: 400_000 }, async () => {
  const { _electron } = await import('playwright-core');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rrlhf-e2e-electron-'));
  const app = await _electron.launch({
    args: [path.join(repoRoot, 'dist', 'electron', 'main.js'), '--data-dir', dataDir, ...(process.platform === 'linux' ? ['--no-sandbox'] : [])],
    env: { ...process.env, RRLHF_PRESET_SIZE: 'tiny' } as Record<string, string>,
  });
  try {
    const page = await app.firstWindow();
    page.setDefaultTimeout(30_000);
    const flow = new Flow(page, 'electron', path.join(shots, 'electron'));
    const { files } = await runFlow(flow);
    assert.equal(files.length, 3);
    for (const f of files) assert.ok(statSync(f).size > 1000, `${f} is written`);
    assert.deepEqual(flow.problems, []);
    cleanup.push(dataDir);
  } finally {
    await app.close();
  }
});

before(() => {
  if (chromiumSkip) process.stdout.write(`# skipping the Chromium end-to-end test: ${chromiumSkip}\n`);
  const e = electronSkip();
  if (e) process.stdout.write(`# skipping the Electron end-to-end test: ${e}\n`);
});
