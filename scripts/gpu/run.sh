#!/usr/bin/env bash
# The GPU measurement (docs/engine.md § Running on a GPU host): run on an NVIDIA host with node, the build
# and the GPU libraries in place (on a host without Node.js, after scripts/gpu/pack.sh's bundle):
#   bash .gpu-bundle/enter.sh bash scripts/gpu/run.sh OUT_DIR          (DEVICES="cuda webgpu" by default)
# Writes one JSON file per step into OUT_DIR and prints each result's tail, most important first:
# devices, PyTorch CUDA baselines, then per provider parity, the LM train step and a PPO iteration on a
# GPT-2-small-shaped model (12 layers, d 768, vocab 50257), a short quickstart, a Qwen2.5-0.5B-shaped
# LoRA study (scripts/gpu/study.mjs: planned vs nvidia-smi memory, seconds per iteration) and (PROFILE=1) ORT's
# per-op profile of one train step. Every step has a time limit; a failure is recorded in
# OUT_DIR/<step>.err, not fatal. SKIP_TORCH=1 skips the PyTorch baselines; STEPS="parity quickstart"
# runs only the steps whose names start with one of those words (a short check when device time is scarce).
# Dry run on a CPU machine:  DEVICES=cpu SKIP_TORCH=1 SHAPE=tiny bash scripts/gpu/run.sh /tmp/gpu-dry
set -uo pipefail
out=${1:?usage: run.sh OUT_DIR}; mkdir -p "$out"
cd "$(dirname "$0")/../.."
wanted() { [ -z "${STEPS:-}" ] && return 0; local s; for s in $STEPS; do [[ $1 == "$s"* ]] && return 0; done; return 1; }
step() {
  local name=$1 limit=$2; shift 2; wanted "$name" || return 0; echo "== $name"; local t0=$SECONDS
  timeout "$limit" "$@" > "$out/$name.json" 2> "$out/$name.err"; local rc=$?
  echo "   rc=$rc $((SECONDS - t0))s $(tail -c 600 "$out/$name.json")"
  [ $rc -eq 0 ] || echo "   stderr: $(grep -v '^\s*at ' "$out/$name.err" | tail -c 1200)"
}
if [ "${SHAPE:-}" = tiny ]; then
  GPT2S=(--layers 2 --d 64 --heads 4 --vocab 512); PROF_SHAPE=; LM=(--batch 2 --seq 16 --steps 2); PPO=(--batch 4 --prompt-len 8 --new-tokens 8 --iterations 1)
  GEN=(--batch 4 --prompt-len 8 --new-tokens 8)
else
  GPT2S=(--layers 12 --d 768 --heads 12 --vocab 50257); PROF_SHAPE=gpt2-small
  LM=(--batch 8 --seq 128 --steps 5); PPO=(--batch 16 --prompt-len 32 --new-tokens 32 --iterations 2)
  GEN=(--batch 16 --prompt-len 32 --new-tokens 32)
fi
DEVICES=${DEVICES:-cuda webgpu}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.csv" 2>&1
step devices 60 node bin/rrlhf.js devices --json
if [ -z "${SKIP_TORCH:-}" ] && python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  step lm-train-torch-cuda 90 python3 test/reference/bench_lm.py --device cuda "${GPT2S[@]}" "${LM[@]}"
  step ppo-torch-cuda 90 python3 test/reference/bench_ppo.py --device cuda "${GPT2S[@]}" "${PPO[@]}"
  # Issue #13's GPU target compares the engine's PPO iteration with PyTorch bf16 autocast too.
  step ppo-torch-cuda-bf16 90 python3 test/reference/bench_ppo.py --device cuda --precision bf16 "${GPT2S[@]}" "${PPO[@]}"
  step generate-torch-cuda 90 python3 test/reference/bench_generate.py --device cuda "${GPT2S[@]}" "${GEN[@]}"
fi
for dev in $DEVICES; do
  step "parity-$dev" 90 node scripts/gpu/parity.mjs "$dev"
  step "lm-train-$dev" 120 node bin/rrlhf.js bench lm-train --device "$dev" "${GPT2S[@]}" "${LM[@]}" --json
  step "ppo-$dev" 150 node bin/rrlhf.js bench ppo --device "$dev" "${GPT2S[@]}" "${PPO[@]}" --json
  # Mixed precision (docs/engine.md § Mixed precision): bf16 has kernels on CUDA only; fp16 on both.
  [ "$dev" = cuda ] && step "ppo-$dev-bf16" 150 node bin/rrlhf.js bench ppo --device "$dev" --precision bf16 "${GPT2S[@]}" "${PPO[@]}" --json
  step "ppo-$dev-fp16" 150 node bin/rrlhf.js bench ppo --device "$dev" --precision fp16 "${GPT2S[@]}" "${PPO[@]}" --json
  step "generate-$dev" 90 node bin/rrlhf.js bench generate --device "$dev" "${GPT2S[@]}" "${GEN[@]}" --json
  step "quickstart-$dev" 120 env RRLHF_TRACE=1 node bin/rrlhf.js quickstart --device "$dev" --seeds 1 --steps 3 --data-dir "/tmp/qs-$dev" --json
  # Issue #12's GPU study: a Qwen2.5-0.5B-shaped LoRA policy, reference, value head and 5 LoRA reward members.
  step "study-$dev" 540 node scripts/gpu/study.mjs "$dev" ${SHAPE:+tiny}
  if [ -n "${PROFILE:-}" ]; then
    PROFILE_DEVICE=$dev PROFILE_SHAPE=$PROF_SHAPE step "profile-$dev" 120 node scripts/profile-step.mjs lm 8 128
    [ -f "$out/profile-$dev.json" ] && head -16 "$out/profile-$dev.json"
    PROFILE_DEVICE=$dev PROFILE_SHAPE=$PROF_SHAPE step "profile-gen-$dev" 120 node scripts/profile-step.mjs gen 16 32 32
    [ -f "$out/profile-gen-$dev.json" ] && head -22 "$out/profile-gen-$dev.json"
  fi
done
echo done
