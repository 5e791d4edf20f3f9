#!/usr/bin/env python3
"""Loads a Hugging Face model folder (gpt2 / llama / qwen2) with the PyTorch reference and prints
what it computes, as JSON on stdout: {"logits": [B][T][V], "loss": float} (+ "grads" with --grads).

Used to check that a folder saved by our engine loads in PyTorch under HF's names and layout:
config.json + model.safetensors or model.safetensors.index.json with shards; F32, F16, BF16
(and F64) tensors, parsed with the standard library; the forward runs in float64.

Run:  /usr/bin/python3 test/reference/check_hf_folder.py FOLDER --input-ids '[[1,2,3],[4,5,6]]'
      [--attention-mask '[[0,1,1],[1,1,1]]'] [--grads] [--dtype float32|float64]
--input-ids / --attention-mask take JSON or the path of a JSON file. loss is HF's labels=input_ids
mean next-token cross-entropy (without a mask; with one, padding labels are ignored as -100).
A *ForSequenceClassification folder (a reward model) prints {"scores": [B][num_labels]} instead,
pooled at the rightmost token that is not pad_token_id, as transformers does.
Errors (unsupported architecture, missing / unexpected / mis-shaped tensors) go to stderr, exit 2.
"""

import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_models import is_sequence_classifier, lm_loss, load_folder, sequence_scores  # noqa: E402


def json_arg(text):
    if os.path.exists(text):
        with open(text, encoding="utf-8") as f:
            return json.load(f)
    return json.loads(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--input-ids", required=True, help="JSON [[ids...], ...] or a file holding it")
    ap.add_argument("--attention-mask", default=None, help="JSON [[0/1...], ...] or a file (left padding)")
    ap.add_argument("--grads", action="store_true", help="also print sum / abs_sum of each parameter's gradient")
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    args = ap.parse_args()

    try:
        model, cfg = load_folder(args.folder, getattr(torch, args.dtype))
    except (ValueError, FileNotFoundError, KeyError) as e:
        sys.stderr.write("check_hf_folder.py: %s\n" % e)
        sys.exit(2)
    ids = torch.tensor(json_arg(args.input_ids), dtype=torch.long)
    mask = torch.tensor(json_arg(args.attention_mask), dtype=torch.long) if args.attention_mask else None
    if ids.dim() != 2:
        sys.stderr.write("check_hf_folder.py: --input-ids must be a [B][T] list\n")
        sys.exit(2)

    if is_sequence_classifier(cfg):  # a reward model: {"scores": [B][num_labels]}
        with torch.no_grad():
            scores = sequence_scores(model, ids, mask, cfg.get("pad_token_id"))
        json.dump({"scores": scores.tolist()}, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
        return
    with torch.set_grad_enabled(args.grads):
        logits = model(ids, attention_mask=mask)
        if mask is None:
            loss = lm_loss(logits, ids)
        else:  # HF with labels = input_ids where mask == 1, else -100
            labels = ids.masked_fill(mask == 0, -100)
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                                   ignore_index=-100)
        out = {"logits": logits.detach().tolist(), "loss": float(loss.item())}
        if args.grads:
            loss.backward()
            out["grads"] = {n: {"sum": float(g.sum().item()), "abs_sum": float(g.abs().sum().item())}
                            for n, g in ((n, p.grad if p.grad is not None else torch.zeros_like(p))
                                         for n, p in model.named_parameters())}
    json.dump(out, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
