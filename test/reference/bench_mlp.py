#!/usr/bin/env python3
"""PyTorch eager baseline for `rrlhf bench mlp`: the same train step, timed the same way.

Step: x[B,D], y[B,D] random float32; Linear(D,H) -> ReLU -> Linear(H,D); MSE loss (mean);
backward; Adam (lr 1e-3, betas (0.9, 0.999), eps 1e-8, no weight decay).
Timing: 5 warm-up steps, then --steps timed steps (time.perf_counter around the whole loop).
GFLOP/s counts the matmuls only: forward is 2*B*(D*H + H*D) flops, forward+backward ~ 3x that.

Threads: --threads sets torch's intra-op (OpenMP) threads and defaults to torch.get_num_threads().
The matmuls themselves go to the BLAS, which has its own pool: Debian's torch uses OpenBLAS
(libopenblas0-pthread), whose threads default to the CPU count (OPENBLAS_NUM_THREADS overrides).
On a 2-vCPU machine Debian's torch starts with 1 intra-op thread, and that is also the fastest
setting there (more OpenMP threads compete with OpenBLAS's for the same cores), so the default is
kept. The JSON reports both counts (blas_threads is null when the BLAS can't be asked).

Run:  python3 test/reference/bench_mlp.py --batch 64 --in 64 --hidden 256 --steps 200
Needs torch (Debian: apt-get install python3-torch libopenblas0-pthread). Prints one JSON line.
"""

import argparse
import json
import sys
import time

try:
    import torch
except ImportError:
    sys.stderr.write("bench_mlp.py: PyTorch is not importable by %s.\n"
                     "Debian/Ubuntu: sudo apt-get install python3-torch libopenblas0-pthread "
                     "(then run it with /usr/bin/python3), or pip install torch.\n" % sys.executable)
    sys.exit(3)


def blas_threads():
    """OpenBLAS's thread count, if torch's BLAS is an OpenBLAS loaded in this process."""
    try:
        import ctypes
        return int(ctypes.CDLL("libopenblas.so.0").openblas_get_num_threads())
    except (OSError, AttributeError):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--in", dest="d_in", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: torch.get_num_threads())")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    default_threads = torch.get_num_threads()
    threads = args.threads if args.threads is not None else default_threads
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)

    B, D, H = args.batch, args.d_in, args.hidden
    x = torch.randn(B, D, dtype=torch.float32)
    y = torch.randn(B, D, dtype=torch.float32)
    model = torch.nn.Sequential(torch.nn.Linear(D, H), torch.nn.ReLU(), torch.nn.Linear(H, D))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    loss_fn = torch.nn.MSELoss(reduction="mean")

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    elapsed = time.perf_counter() - t0
    final_loss = float(loss.item()) if args.steps > 0 else None

    sec_per_step = elapsed / max(args.steps, 1)
    flops_per_step = 3 * 2 * B * (D * H + H * D)
    print(json.dumps({
        "name": "mlp",
        "impl": "pytorch",
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "torch_default_threads": default_threads,
        "blas_threads": blas_threads(),
        "config": {"batch": B, "in": D, "hidden": H, "steps": args.steps},
        "ms_per_step": sec_per_step * 1e3,
        "gflops": flops_per_step / sec_per_step / 1e9 if sec_per_step > 0 else None,
        "final_loss": final_loss,
    }))


if __name__ == "__main__":
    main()
