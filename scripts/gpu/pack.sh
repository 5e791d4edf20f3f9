#!/usr/bin/env bash
# Builds and packs what scripts/gpu/run.sh needs on the offline GPU host (issue "GPU execution"):
# the build (dist/, with the native binding) and only the runtime node_modules the CLI loads, through
# ../shared/gpu-host/pack.sh (node, Vulkan loaders) and, with --cuda, pack-cuda.sh (ORT's CUDA provider
# in three parts). Then, on the host, in this order and back to back (the host keeps /tmp only while warm):
#   1-3. for N in 1 2 3: carry .gpu-cuda/pN, run `mkdir -p /tmp/gpu-host && cp .gpu-cuda/pN/* /tmp/gpu-host/`
#   4.   carry .gpu-bundle, run `bash .gpu-bundle/enter.sh env DEVICES="cuda webgpu" bash scripts/gpu/run.sh $OUT/r`
# (WebGPU alone needs only step 4 with DEVICES=webgpu.) Usage: bash scripts/gpu/pack.sh [--cuda]
set -euo pipefail
cd "$(dirname "$0")/../.."
shared=../shared/gpu-host
[ -x "$shared/pack.sh" ] || [ -f "$shared/pack.sh" ] || { echo "pack: $shared/pack.sh not found" >&2; exit 1; }
npm run build >/dev/null
[ -f dist/native/rrlhf_ort.node ] || echo "pack: warning: the native binding is not built (dist/native/SKIPPED); CUDA will copy state each run" >&2
bash "$shared/pack.sh" dist node_modules/onnxruntime-node node_modules/onnxruntime-common \
  node_modules/better-sqlite3/lib node_modules/better-sqlite3/package.json node_modules/better-sqlite3/build/Release/better_sqlite3.node \
  node_modules/bindings node_modules/file-uri-to-path node_modules/zod node_modules/yaml node_modules/@huggingface \
  node_modules/hyparquet node_modules/papaparse
if [ "${1:-}" = --cuda ]; then bash "$shared/pack-cuda.sh"; fi
