// `node scripts/lint.js` (also the second half of `npm run lint`): project rules that the TypeScript
// compiler does not check. No dependencies. Prints `file:line: reason` for each finding and exits 1 if
// there is any.
//
// Scans the .ts/.js/.mjs/.cjs/.mts/.cts/.svelte files under engine/, test/, scripts/, electron/ and
// renderer/ (those that exist; node_modules, dist and dot-folders are skipped) for:
//   - console.log / console.info / console.debug in engine/ outside engine/service/: they write to
//     stdout, which `--json` reserves for the one JSON document (progress goes to stderr);
//   - `.only(` or `only: true` in tests, which silently skip the rest of the suite;
//   - imports of 'electron' or 'svelte' (or their subpaths) inside engine/, which must run headless;
//   - imports of engine/ from renderer/: the renderer talks to the service through its api client.
//     `import type` is allowed, since it is erased at compile time and carries no engine code;
//   - trailing whitespace, and a missing newline at the end of the file;
//   - a `docs/FILE.md § Section` reference whose file or `## Section` heading does not exist, and any
//     reference to SCIENCE.md or DESIGN.md: the team's notes are not in the repository, so what the code
//     relies on lives in docs/ under stable section names (also checked in docs/*.md and README.md).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = process.env.LINT_ROOT ? path.resolve(process.env.LINT_ROOT) : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIRS = ['common', 'engine', 'test', 'scripts', 'electron', 'renderer'];
const EXT = /\.(ts|mts|cts|js|mjs|cjs|svelte)$/;
const SKIP_DIRS = new Set(['node_modules', 'dist', 'out', 'build', 'coverage']);

function walk(dir, files) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.') && !SKIP_DIRS.has(entry.name)) walk(p, files);
    } else if (entry.isFile() && EXT.test(entry.name)) {
      files.push(p);
    }
  }
  return files;
}

const files = [];
for (const d of DIRS) {
  const abs = path.join(root, d);
  try {
    if (statSync(abs).isDirectory()) walk(abs, files);
  } catch { /* folder not there (yet) */ }
}

// docs/*.md and README.md are checked for doc references too (not for the code rules).
const docFiles = [path.join(root, 'README.md')];
try {
  for (const f of readdirSync(path.join(root, 'docs'))) if (f.endsWith('.md')) docFiles.push(path.join(root, 'docs', f));
} catch { /* no docs folder */ }

/** docs/FILE.md -> its `#`..`####` headings (null when the file is missing), read once. */
const headingCache = new Map();
function headingsOf(doc) {
  if (!headingCache.has(doc)) {
    let hs = null;
    try {
      hs = readFileSync(path.join(root, doc), 'utf8').split('\n')
        .filter((l) => /^#{1,4} /.test(l)).map((l) => l.replace(/^#+ /, '').trim());
    } catch { /* missing */ }
    headingCache.set(doc, hs);
  }
  return headingCache.get(doc);
}

/** Findings for one line's doc references: `docs/x.md § Heading` must resolve; SCIENCE/DESIGN.md must not appear. */
function checkDocRefs(rel, n, line) {
  if (rel === 'scripts/lint.js') return; // its own rule text names what it looks for
  if (/\b(SCIENCE|DESIGN)\.md\b/.test(line)) {
    report(rel, n, 'cites SCIENCE.md / DESIGN.md, which are not in the repository; cite docs/FILE.md § Section');
  }
  for (const m of line.matchAll(/\bdocs\/([a-z][\w.-]*\.md)(?:\s*§\s*((?:(?!docs\/)[^\n])*))?/g)) {
    const doc = `docs/${m[1]}`;
    const hs = headingsOf(doc);
    if (hs === null) { report(rel, n, `cites ${doc}, which does not exist`); continue; }
    if (m[2] === undefined) continue;
    // The section name runs to the end of the reference; a heading must be a prefix ending at a word boundary.
    const after = m[2];
    const ok = hs.some((h) => after.startsWith(h) && !/^[\w-]/.test(after.slice(h.length)));
    if (!ok) report(rel, n, `cites ${doc} § ${after.split(/[,;)]/)[0].trim()}, which is not a heading there`);
  }
}

const findings = [];
const report = (rel, line, reason) => findings.push({ rel, line, reason });

/** True for a line that is (the inside of) a comment, judged by how it starts. */
const isCommentLine = (line) => /^\s*(\/\/|\/\*|\*)/.test(line);

/** Every module specifier in the text: [{spec, line, typeOnly}]. */
function imports(text) {
  const found = [];
  const lineAt = (i) => text.slice(0, i).split('\n').length;
  const add = (m, spec, typeOnly) => {
    const at = m.index + m[0].lastIndexOf(spec);
    const line = lineAt(at);
    if (!isCommentLine(text.split('\n')[line - 1] ?? '')) found.push({ spec, line, typeOnly });
  };
  // import x from 'm'; import type {X} from 'm'; export {x} from 'm'; export * from 'm' (multi-line too)
  for (const m of text.matchAll(/\b(import|export)\s+(type\s+)?[^;'"`()]*?\bfrom\s*(['"])([^'"\n]+)\3/g)) {
    add(m, m[4], Boolean(m[2]));
  }
  // import 'm'; (side effects)
  for (const m of text.matchAll(/\bimport\s*(['"])([^'"\n]+)\1/g)) add(m, m[2], false);
  // import('m'), require('m')
  for (const m of text.matchAll(/\b(?:import|require)\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g)) add(m, m[2], false);
  return found;
}

for (const file of files) {
  const rel = path.relative(root, file).split(path.sep).join('/');
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const inEngine = rel.startsWith('engine/');
  const inService = rel.startsWith('engine/service/');
  const isTest = rel.startsWith('test/') || /\.(test|spec)\.[^.]+$/.test(rel);

  lines.forEach((line, i) => {
    const n = i + 1;
    if (/[ \t]+\r?$/.test(line)) report(rel, n, 'trailing whitespace');
    // In code, only comments cite docs: a comment line, or what follows ` // ` at the end of a line.
    const trailing = line.indexOf(' // ');
    if (isCommentLine(line)) checkDocRefs(rel, n, line);
    else if (trailing >= 0) checkDocRefs(rel, n, line.slice(trailing));
    if (isCommentLine(line)) return;
    if (inEngine && !inService && /\bconsole\.(log|info|debug)\s*\(/.test(line)) {
      report(rel, n, 'console output in the engine outside engine/service/ (stdout is reserved for --json; use stderr or return the value)');
    }
    if (isTest && (/\.only\s*\(/.test(line) || /\bonly\s*:\s*true\b/.test(line))) {
      report(rel, n, 'only in a test (.only( or only: true skips the rest of the suite)');
    }
  });
  if (text.length > 0 && !text.endsWith('\n')) report(rel, lines.length, 'no newline at end of file');

  if (inEngine || rel.startsWith('renderer/') || rel.startsWith('common/')) {
    for (const { spec, line, typeOnly } of imports(text)) {
      // common/ is what both sides import as it is: it may import other common/ modules and types, nothing else.
      if (rel.startsWith('common/') && !typeOnly && !/^\.\/[\w-]+\.js$/.test(spec)) report(rel, line, `common/ imports '${spec}' (common/ modules import only each other, and types)`);
      if (inEngine && /^(electron|svelte)(\/|$)/.test(spec)) {
        report(rel, line, `engine imports '${spec}' (the engine must not depend on Electron or Svelte)`);
      }
      if (rel.startsWith('renderer/') && !typeOnly) {
        const target = spec.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec)) : spec;
        if (/^(engine|[@$~]engine)(\/|$)/.test(target) || (spec.startsWith('/') && spec.includes('/engine/'))) {
          report(rel, line, `renderer imports the engine ('${spec}'); go through the api client`);
        }
      }
    }
  }
}

for (const file of docFiles) {
  let text;
  try { text = readFileSync(file, 'utf8'); } catch { continue; }
  const rel = path.relative(root, file).split(path.sep).join('/');
  text.split('\n').forEach((line, i) => checkDocRefs(rel, i + 1, line));
}

findings.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : a.line - b.line));
for (const f of findings) console.log(`${f.rel}:${f.line}: ${f.reason}`);
const summary = `lint: ${files.length} files checked, ${findings.length} finding${findings.length === 1 ? '' : 's'}`;
if (findings.length > 0) {
  console.error(summary);
  process.exitCode = 1;
} else {
  console.log(summary);
}
