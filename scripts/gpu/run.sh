#!/usr/bin/env bash
# The GPU measurement (issue "GPU execution"): run on an NVIDIA host after ../shared/gpu-host's enter.sh
# has put node, the build and the GPU libraries in place:
#   bash .gpu-bundle/enter.sh bash scripts/gpu/run.sh OUT_DIR
# Writes one JSON file per step into OUT_DIR: devices, parity per provider, the LM train step and a
# PPO iteration on a GPT-2-small-shaped model with each provider, and PyTorch CUDA doing the same work.
# Every step has a time limit and a failure is recorded, not fatal.
set -uo pipefail
out=${1:?usage: run.sh OUT_DIR}; mkdir -p "$out"
cd "$(dirname "$0")/../.."
step() { local name=$1 limit=$2; shift 2; echo "== $name"; timeout "$limit" "$@" > "$out/$name.json" 2> "$out/$name.err"; echo "   rc=$? $(tail -c 300 "$out/$name.json")"; }
GPT2S=(--layers 12 --d 768 --heads 12 --vocab 50257)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.csv" 2>&1
step devices 60 node bin/rrlhf.js devices --json
PY=python3; $PY -c "import torch; assert torch.cuda.is_available()" 2>/dev/null || PY=""
for dev in ${DEVICES:-cuda webgpu}; do
  step "parity-$dev" 120 node scripts/gpu/parity.mjs "$dev"
  step "lm-train-$dev" 240 node bin/rrlhf.js bench lm-train --device "$dev" "${GPT2S[@]}" --batch 8 --seq 128 --steps 5 --json
  step "ppo-$dev" 240 node bin/rrlhf.js bench ppo --device "$dev" "${GPT2S[@]}" --batch 16 --prompt-len 32 --new-tokens 32 --iterations 2 --json
  step "quickstart-$dev" 240 node bin/rrlhf.js quickstart --device "$dev" --seeds 1 --steps 3 --data-dir "/tmp/qs-$dev" --json
done
if [ -n "$PY" ]; then
  step lm-train-torch-cuda 240 $PY test/reference/bench_lm.py --device cuda "${GPT2S[@]}" --batch 8 --seq 128 --steps 5
  step ppo-torch-cuda 240 $PY test/reference/bench_ppo.py --device cuda "${GPT2S[@]}" --batch 16 --prompt-len 32 --new-tokens 32 --iterations 2
fi
echo done
