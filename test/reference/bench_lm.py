#!/usr/bin/env python3
"""PyTorch eager baseline for `rrlhf bench lm-train`: a decoder-LM train step, timed.

Step: input_ids [batch, seq] (random, fixed seed); forward of the reference GPT-2 (or Llama)
from hf_models.py with random HF-style weights (N(0, 0.02), no dropout); cross-entropy with
labels = input_ids (mean over the B*(T-1) next-token predictions); backward; torch.optim.AdamW
(lr 1e-4, torch's defaults otherwise: betas (0.9, 0.999), eps 1e-8, weight_decay 0.01).
Timing: --warmup (3) untimed steps, then --steps timed steps; time.perf_counter around the loop.

FLOPs per step (multiply-add = 2 flops; forward + backward = 3 x forward):
    6 * P_mm * B * T  +  12 * L * B * T^2 * d_attn
  P_mm   = weights used in a matmul per token: all 2-D weights in the blocks (GPT-2: 12 d^2 per
           layer) plus the LM head's d * V (counted although it is tied to wte); embedding and
           position lookups are not counted;
  second term = attention scores Q K^T and weights x V: 2 * 2 * T^2 * d_attn per layer and
           sequence forward, x3 for the backward, full T^2 (the causal half is not discounted);
  d_attn = heads * head_dim (= d here).
For the default config (6 layers, d 384, vocab 8192, 16 x 128 tokens): P_mm = 6*12*384^2 +
384*8192 = 13,762,560, so 169.1 GFLOP of projections + 7.2 GFLOP of attention = 176.4 GFLOP/step.

Threads: torch's default intra-op thread count is kept unless --threads N is given (Debian's
torch uses OpenBLAS, whose own pool defaults to the CPU count; OPENBLAS_NUM_THREADS overrides).

Run:  /usr/bin/python3 test/reference/bench_lm.py --layers 6 --d 384 --heads 6 --vocab 8192 \\
          --batch 16 --seq 128 --steps 10 [--arch gpt2|llama] [--threads N]
Prints one JSON line.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import add_model_args, blas_threads, emit, make_model, matmul_params, setup_threads, torch  # noqa: E402
from hf_models import lm_loss  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model_args(ap)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-4)
    args = ap.parse_args()

    default_threads = setup_threads(args)
    model, cfg = make_model(args, args.seq)
    model.train()
    B, T = args.batch, args.seq
    gen = torch.Generator().manual_seed(args.seed + 1)
    ids = torch.randint(0, args.vocab, (B, T), generator=gen).to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = lm_loss(model(ids), ids)
        loss.backward()
        opt.step()
        return loss

    first_loss = None
    for i in range(args.warmup):
        loss = step()
        if i == 0:
            first_loss = float(loss.item())
    sync()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    sync()
    elapsed = time.perf_counter() - t0
    final_loss = float(loss.item()) if args.steps > 0 else None

    s_per_step = elapsed / max(args.steps, 1)
    p_mm = matmul_params(model, cfg)
    flops = 6 * p_mm * B * T + 12 * args.layers * B * T * T * args.d
    emit({
        "name": "lm-train",
        "impl": "pytorch",
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "torch_default_threads": default_threads,
        "blas_threads": blas_threads(),
        "device": args.device,
        "config": {"arch": args.arch, "layers": args.layers, "d": args.d, "heads": args.heads,
                   "kv_heads": cfg.get("num_key_value_heads", args.heads),
                   "intermediate": cfg.get("intermediate_size") or cfg.get("n_inner") or 4 * args.d,
                   "vocab": args.vocab, "batch": B, "seq": T, "steps": args.steps, "warmup": args.warmup,
                   "params": sum(p.numel() for p in model.parameters()), "matmul_params": p_mm},
        "ms_per_step": s_per_step * 1e3,
        "tokens_per_s": B * T / s_per_step if s_per_step > 0 else None,
        "gflop_per_step": flops / 1e9,
        "gflops": flops / s_per_step / 1e9 if s_per_step > 0 else None,
        "first_loss": first_loss,
        "final_loss": final_loss,
    })


if __name__ == "__main__":
    main()
