#!/usr/bin/env python3
"""Writes test/fixtures/evals/loglik_reference.json: the summed log-likelihood of continuation tokens
given context tokens, as lm-evaluation-harness's HFLM._loglikelihood_tokens computes it (one unpadded
row context + continuation, log_softmax of the logits, the continuation's tokens picked from the last
positions), under the PyTorch reference (hf_models.py, float64) for two committed fixture models.
test/integration/eval.test.ts compares the engine's batched, left-padded scoring with it.

Run:  /usr/bin/python3 test/reference/make_eval_reference.py   (deterministic)
"""

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from hf_models import load_folder  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
MODELS = ["gpt2-tiny", "llama-tiny-gqa"]


def lcg_ids(seed, n, vocab):
    """Token ids from a small linear congruential generator (no RNG library state involved)."""
    out, x = [], seed
    for _ in range(n):
        x = (1103515245 * x + 12345) % (2 ** 31)
        out.append(x % vocab)
    return out


def main():
    result = {"about": "sum of log p(continuation | context) per case, PyTorch reference in float64 (make_eval_reference.py)", "models": {}}
    for name in MODELS:
        folder = os.path.join(ROOT, "test", "fixtures", "models", name)
        model, cfg = load_folder(folder, torch.float64)
        vocab = cfg["vocab_size"]
        cases = []
        # Different context and continuation lengths, so a batch of them is left-padded.
        for k, (nc, nk) in enumerate([(5, 1), (9, 3), (3, 4), (12, 2), (1, 6), (7, 7)]):
            ctx = lcg_ids(100 * k + 1, nc, vocab)
            cont = lcg_ids(100 * k + 2, nk, vocab)
            ids = torch.tensor([ctx + cont], dtype=torch.long)
            with torch.no_grad():
                logp = torch.log_softmax(model(ids), dim=-1)[0]
            T = len(ctx) + len(cont)
            ll = sum(float(logp[T - len(cont) - 1 + i, t]) for i, t in enumerate(cont))
            greedy = all(int(logp[T - len(cont) - 1 + i].argmax()) == t for i, t in enumerate(cont))
            cases.append({"context": ctx, "continuation": cont, "loglikelihood": ll, "is_greedy": greedy})
        result["models"][name] = cases
    path = os.path.join(ROOT, "test", "fixtures", "evals", "loglik_reference.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
