#!/usr/bin/env python3
"""PyTorch eager baseline for `rrlhf bench generate`: greedy decoding with a KV cache, timed.

Model: the reference GPT-2 (or Llama) from hf_models.py, random HF-style weights, float32, eval.
Generation: a random prompt [batch, prompt_len] is run once (prefill, which yields the first new
token), then new_tokens - 1 single-token forwards against a preallocated KV cache
(hf_models.KVCache); greedy argmax. ms_total covers the whole of it (prefill included), and
tokens_per_s = batch * new_tokens / total seconds. One untimed warm-up generation runs first.

Before timing, it asserts that KV-cache generation equals recomputing the full sequence for the
first few tokens (per-step logits within 1e-4 of one full forward over prompt + generated tokens,
each token the argmax there), for the prompt as is and for a left-padded variant with a mask.

Run:  /usr/bin/python3 test/reference/bench_generate.py --layers 6 --d 384 --heads 6 --vocab 8192 \\
          --batch 16 --prompt-len 64 --new-tokens 64 [--arch gpt2|llama] [--threads N]
Prints one JSON line.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import add_model_args, blas_threads, emit, make_model, setup_threads, torch  # noqa: E402
from hf_models import greedy_generate  # noqa: E402


def check_cache_equals_recompute(model, prompt, n):
    """Greedy tokens with the KV cache, then one full forward over prompt + those tokens
    (teacher-forced, so a float32 near-tie cannot make the two runs diverge): the logits of
    each generated step must match the full recomputation's, and each token must be its argmax."""
    b, t = prompt.shape
    mask = torch.ones_like(prompt)
    mask[0, : min(3, t - 1)] = 0  # row 0 left-padded
    err = 0.0
    with torch.no_grad():
        for m in (None, mask):
            tok_c, log_c = greedy_generate(model, prompt, n, attention_mask=m, use_cache=True)
            seq = torch.cat([prompt, tok_c[:, :-1]], dim=1)
            fm = None if m is None else torch.cat([m, torch.ones_like(tok_c[:, :-1])], dim=1)
            log_f = model(seq, attention_mask=fm)[:, t - 1:]
            err = max(err, (log_c - log_f).abs().max().item())
            assert err < 1e-4, "KV-cache logits differ from full recomputation by %g" % err
            best = log_f.max(-1).values
            chosen = log_f.gather(-1, tok_c.unsqueeze(-1)).squeeze(-1)
            assert (best - chosen).max().item() < 1e-4, "KV-cache token is not the recomputed argmax"
    return err


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model_args(ap)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--prompt-len", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--check-tokens", type=int, default=4, help="tokens checked against full recomputation")
    args = ap.parse_args()

    default_threads = setup_threads(args)
    model, cfg = make_model(args, args.prompt_len + args.new_tokens)
    model.eval()
    gen = torch.Generator().manual_seed(args.seed + 2)
    prompt = torch.randint(0, args.vocab, (args.batch, args.prompt_len), generator=gen).to(args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    check_err = None
    if args.check_tokens > 0:
        check_err = check_cache_equals_recompute(model, prompt[:, : min(args.prompt_len, 16)],
                                                 min(args.check_tokens, args.new_tokens))

    greedy_generate(model, prompt, args.new_tokens)  # warm-up
    sync()
    t0 = time.perf_counter()
    with torch.no_grad():
        cache = model.new_cache(args.batch, args.prompt_len + args.new_tokens)
        logits = model(prompt, cache=cache)[:, -1]
        nxt = logits.argmax(-1, keepdim=True)
        sync()
        t_prefill = time.perf_counter() - t0
        tokens = [nxt]
        for _ in range(args.new_tokens - 1):
            nxt = model(nxt, cache=cache)[:, -1].argmax(-1, keepdim=True)
            tokens.append(nxt)
        sync()
    total = time.perf_counter() - t0
    out = torch.cat(tokens, dim=1)
    ref, _ = greedy_generate(model, prompt, min(args.new_tokens, 8))
    assert torch.equal(out[:, : ref.shape[1]], ref), "timed loop disagrees with greedy_generate"

    decode = total - t_prefill
    emit({
        "name": "generate",
        "impl": "pytorch",
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "torch_default_threads": default_threads,
        "blas_threads": blas_threads(),
        "device": args.device,
        "config": {"arch": args.arch, "layers": args.layers, "d": args.d, "heads": args.heads,
                   "kv_heads": cfg.get("num_key_value_heads", args.heads), "vocab": args.vocab,
                   "batch": args.batch, "prompt_len": args.prompt_len, "new_tokens": args.new_tokens,
                   "sampling": "greedy", "kv_cache": "preallocated"},
        "ms_total": total * 1e3,
        "tokens_per_s": args.batch * args.new_tokens / total,
        "prefill_ms": t_prefill * 1e3,
        "decode_ms_per_step": decode * 1e3 / max(args.new_tokens - 1, 1),
        "kv_check_max_abs_err": check_err,
    })


if __name__ == "__main__":
    main()
