// scripts/lint.js's doc-reference rule, run on a scratch tree: a comment citing a docs/ section that
// exists passes; a missing heading, a missing file or the team's out-of-repo notes are findings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';

const lint = path.resolve('scripts/lint.js');

function runLint(files: Record<string, string>): { status: number | null; out: string } {
  const root = mkdtempSync(path.join(tmpdir(), 'rrlhf-lint-'));
  try {
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      writeFileSync(path.join(root, rel), text);
    }
    const r = spawnSync(process.execPath, [lint], { env: { ...process.env, LINT_ROOT: root }, encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const docs = { 'docs/method.md': '# The method\n\n## Objective\n\ntext\n\n## Gold evaluation\n' };

test('doc references that resolve pass', () => {
  const r = runLint({ ...docs, 'engine/a.ts': '// See docs/method.md § Objective and docs/method.md § Gold evaluation.\nexport const a = 1;\n' });
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /0 findings/);
});

test('a missing heading, a missing file and SCIENCE.md are each a finding', () => {
  const r = runLint({
    ...docs,
    'engine/a.ts': '// docs/method.md § Objectives\n// docs/nothere.md\n// as SCIENCE.md §2 says\nexport const a = 1;\n',
    'docs/other.md': 'See docs/method.md § Gold evaluations.\n',
  });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /engine\/a\.ts:1: cites docs\/method\.md § Objectives, which is not a heading there/);
  assert.match(r.out, /engine\/a\.ts:2: cites docs\/nothere\.md, which does not exist/);
  assert.match(r.out, /engine\/a\.ts:3: cites SCIENCE\.md/);
  assert.match(r.out, /docs\/other\.md:1: cites docs\/method\.md § Gold evaluations/);
  assert.match(r.out, /4 findings/);
});
