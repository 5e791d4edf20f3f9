// Builds the engine's own ONNX Runtime binding (native/ort_binding.c) into dist/native/rrlhf_ort.node.
// It needs only a C compiler and Node's headers (no ONNX Runtime headers: native/ort_api.h declares the
// part of the C API it uses), and it is optional: without it CUDA runs through onnxruntime-node with host
// round trips, and everything else is unchanged. So a missing compiler or missing headers is a notice;
// a compile error with both present is a failure (the source is broken).
import { existsSync, mkdirSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const src = ['native/ort_binding.c', 'native/custom_ops.c', 'native/adamw_op.c', 'native/matmul_op.c', 'native/ort_api.h', 'native/custom_ops.h'];
const cFiles = src.filter((f) => f.endsWith('.c'));
const out = 'dist/native/rrlhf_ort.node';
// A skip leaves dist/native/SKIPPED with the reason, so the tests can tell "not built here, and why"
// from "built and broken".
const marker = 'dist/native/SKIPPED';
const skip = (why) => {
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(marker, why + '\n');
  console.log(`build-native: skipped (${why}); CUDA will run without device-resident state`);
  process.exit(0);
};

if (process.platform !== 'linux' && process.platform !== 'darwin') skip(`no build recipe for ${process.platform}`);
const includeDirs = [process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
  path.resolve(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].filter(Boolean);
const include = includeDirs.find((d) => existsSync(path.join(d, 'node_api.h')));
if (!include) skip(`Node's headers (node_api.h) not found in ${includeDirs.join(', ')}`);

if (existsSync(out) && src.every((f) => statSync(f).mtimeMs <= statSync(out).mtimeMs)) process.exit(0);
mkdirSync(path.dirname(out), { recursive: true });
rmSync(marker, { force: true });
const cc = process.env.CC || 'cc';
// -ffp-contract=off: no fused multiply-adds, so AdamWStep rounds as the ONNX ops it replaces do (bit for bit);
// -fno-math-errno lets sqrtf vectorise.
const args = ['-O3', '-std=c11', '-D_GNU_SOURCE', '-Wall', '-ffp-contract=off', '-fno-math-errno', '-shared', '-fPIC', '-pthread', `-I${include}`, ...cFiles, '-o', out,
  ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : ['-ldl'])];
const r = spawnSync(cc, args, { stdio: 'inherit' });
if (r.error && r.error.code === 'ENOENT') skip(`no C compiler (${cc})`);
if (r.status !== 0) { console.error(`build-native: ${cc} ${args.join(' ')} failed`); process.exit(1); }
console.log(`build-native: ${out}`);
