#!/usr/bin/env bash
# The GPU measurement (issue "GPU execution"): run on an NVIDIA host after ../shared/gpu-host's enter.sh
# has put node, the build and the GPU libraries in place:
#   bash .gpu-bundle/enter.sh bash scripts/gpu/run.sh OUT_DIR          (DEVICES="cuda webgpu" by default)
# Writes one JSON file per step into OUT_DIR, most important first: devices, parity per provider,
# PyTorch CUDA baselines, then per provider the LM train step and a PPO iteration on a GPT-2-small-shaped
# model (12 layers, d 768, vocab 50257) and a short quickstart. Every step has a time limit; a failure
# is recorded in OUT_DIR/<step>.err, not fatal. SKIP_TORCH=1 skips the PyTorch CUDA baselines.
set -uo pipefail
out=${1:?usage: run.sh OUT_DIR}; mkdir -p "$out"
cd "$(dirname "$0")/../.."
step() { local name=$1 limit=$2; shift 2; echo "== $name"; local t0=$SECONDS; timeout "$limit" "$@" > "$out/$name.json" 2> "$out/$name.err"; echo "   rc=$? $((SECONDS - t0))s $(tail -c 400 "$out/$name.json")"; }
GPT2S=(--layers 12 --d 768 --heads 12 --vocab 50257)
LM=(--batch 8 --seq 128 --steps 5)
PPO=(--batch 16 --prompt-len 32 --new-tokens 32 --iterations 2)
DEVICES=${DEVICES:-cuda webgpu}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.csv" 2>&1
step devices 60 node bin/rrlhf.js devices --json
for dev in $DEVICES; do step "parity-$dev" 90 node scripts/gpu/parity.mjs "$dev"; done
if [ -z "${SKIP_TORCH:-}" ] && python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  step lm-train-torch-cuda 90 python3 test/reference/bench_lm.py --device cuda "${GPT2S[@]}" "${LM[@]}"
  step ppo-torch-cuda 90 python3 test/reference/bench_ppo.py --device cuda "${GPT2S[@]}" "${PPO[@]}"
fi
for dev in $DEVICES; do
  step "lm-train-$dev" 120 node bin/rrlhf.js bench lm-train --device "$dev" "${GPT2S[@]}" "${LM[@]}" --json
  step "ppo-$dev" 120 node bin/rrlhf.js bench ppo --device "$dev" "${GPT2S[@]}" "${PPO[@]}" --json
done
for dev in $DEVICES; do step "quickstart-$dev" 60 node bin/rrlhf.js quickstart --device "$dev" --seeds 1 --steps 3 --data-dir "/tmp/qs-$dev" --json; done
echo done
