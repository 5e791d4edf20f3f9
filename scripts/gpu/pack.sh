#!/usr/bin/env bash
# Builds and packs what scripts/gpu/run.sh needs on an offline GPU host without Node.js
# (docs/engine.md § Running on a GPU host): the build (dist/, with the native binding) and only the
# runtime node_modules the CLI loads, handed to a host kit's pack.sh (node, Vulkan loaders) and, with
# --cuda, its pack-cuda.sh (ORT's CUDA provider in three parts). Then, on the host, back to back:
#   1-3. for N in 1 2 3: carry .gpu-cuda/pN, run `mkdir -p /tmp/gpu-host && cp .gpu-cuda/pN/* /tmp/gpu-host/`
#   4.   carry .gpu-bundle, run `bash .gpu-bundle/enter.sh env DEVICES="cuda webgpu" bash scripts/gpu/run.sh $OUT/r`
# (WebGPU alone needs only step 4 with DEVICES=webgpu.)
# Usage: bash scripts/gpu/pack.sh KIT_DIR [--cuda]   (or GPU_HOST_KIT=KIT_DIR bash scripts/gpu/pack.sh [--cuda])
set -euo pipefail
if [ $# -gt 0 ] && [ "$1" != --cuda ]; then kit=$(cd "$1" && pwd); shift; else kit=${GPU_HOST_KIT:-}; fi
[ -n "$kit" ] || { echo "pack: name the GPU host kit folder: bash scripts/gpu/pack.sh KIT_DIR [--cuda] (docs/engine.md § Running on a GPU host)" >&2; exit 2; }
[ -f "$kit/pack.sh" ] || { echo "pack: $kit/pack.sh not found; KIT_DIR must hold the host kit's pack.sh (and pack-cuda.sh for --cuda)" >&2; exit 1; }
cd "$(dirname "$0")/../.."
shared=$kit
npm run build >/dev/null
[ -f dist/native/rrlhf_ort.node ] || echo "pack: warning: the native binding is not built (dist/native/SKIPPED); CUDA will copy state each run" >&2
bash "$shared/pack.sh" dist node_modules/onnxruntime-node node_modules/onnxruntime-common \
  node_modules/better-sqlite3/lib node_modules/better-sqlite3/package.json node_modules/better-sqlite3/build/Release/better_sqlite3.node \
  node_modules/bindings node_modules/file-uri-to-path node_modules/zod node_modules/yaml node_modules/@huggingface \
  node_modules/hyparquet node_modules/papaparse
if [ "${1:-}" = --cuda ]; then bash "$shared/pack-cuda.sh"; fi
