// Web-mode uploads are temporary: which paths count as an upload, removal after import, and the sweep
// of old ones at server start. Nothing outside <data dir>/uploads/<one folder>/ is ever removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, utimesSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { uploadFolderOf, releaseUpload, sweepUploads, uploadsDir } from '../../engine/service/uploads.js';

test('only <uploads>/<folder>/<file> is an upload; release removes that folder and nothing else', () => {
  const data = mkdtempSync(path.join(os.tmpdir(), 'rrlhf-uploads-'));
  try {
    const up = uploadsDir(data);
    const dir = path.join(up, 'abc');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'f.jsonl'), '{}\n');
    const outside = path.join(data, 'mine.jsonl');
    writeFileSync(outside, '{}\n');
    assert.equal(uploadFolderOf(data, path.join(dir, 'f.jsonl')), dir);
    for (const p of [outside, path.join(up, 'f.jsonl'), path.join(dir, 'sub', 'f.jsonl'), path.join(up, '..', 'mine.jsonl'), up, '/etc/passwd'])
      assert.equal(uploadFolderOf(data, p), null, p);
    assert.equal(releaseUpload(data, outside), false);
    assert.ok(existsSync(outside), 'a file of the user is never removed');
    assert.equal(releaseUpload(data, path.join(dir, 'f.jsonl')), true);
    assert.ok(!existsSync(dir) && existsSync(up));
  } finally { rmSync(data, { recursive: true, force: true }); }
});

test('the sweep removes upload folders older than a week and keeps newer ones', () => {
  const data = mkdtempSync(path.join(os.tmpdir(), 'rrlhf-uploads-'));
  try {
    assert.equal(sweepUploads(data), 0, 'no uploads folder yet');
    const old = path.join(uploadsDir(data), 'old'), fresh = path.join(uploadsDir(data), 'fresh');
    for (const d of [old, fresh]) { mkdirSync(d, { recursive: true }); writeFileSync(path.join(d, 'x.csv'), 'a\n'); }
    const eightDays = (Date.now() - 8 * 24 * 3600 * 1000) / 1000;
    utimesSync(old, eightDays, eightDays);
    assert.equal(sweepUploads(data), 1);
    assert.ok(!existsSync(old) && existsSync(path.join(fresh, 'x.csv')));
  } finally { rmSync(data, { recursive: true, force: true }); }
});
