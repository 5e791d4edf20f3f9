#!/usr/bin/env python3
"""OpenRLHF's PPO command line (train_ppo_ray), rebuilt from openrlhf_ppo_flags.json: every flag of
OpenRLHF 0.11.0's parser as data (name, action, type, nargs, choices, default; the commit is in the
file). test/integration/export.test.ts runs each command `rrlhf export --engine openrlhf` writes
through it: argparse rejects unknown flags and values of the wrong type with exit code 2, and the
parsed values are compared with the study's settings.

  /usr/bin/python3 test/reference/openrlhf_args.py ARGS...   ->  {"dest": value, ...} on stdout
"""
import argparse
import json
import math
import os
import sys

TYPES = {"int": int, "float": float, "str": str}


def build_parser():
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "openrlhf_ppo_flags.json"), encoding="utf-8") as f:
        spec = json.load(f)
    parser = argparse.ArgumentParser(prog="train_ppo_ray")
    for f in spec["flags"]:
        kw = {"dest": f["dest"], "default": f["default"]}
        if f["action"] != "store":
            kw["action"] = f["action"]
        else:
            kw["type"] = TYPES[f.get("type") or "str"]
            if "nargs" in f:
                kw["nargs"] = f["nargs"]
            if "choices" in f:
                kw["choices"] = f["choices"]
            if isinstance(f["default"], str) and f["default"] in ("inf", "-inf", "nan"):
                kw["default"] = float(f["default"])
        parser.add_argument(f["flag"], **kw)
    return parser


if __name__ == "__main__":
    args = build_parser().parse_args(sys.argv[1:])
    # JSON has no infinity (--ckpt.max_mem defaults to inf): non-finite floats travel as strings.
    finite = lambda v: str(v) if isinstance(v, float) and not math.isfinite(v) else v
    print(json.dumps({k: finite(v) for k, v in vars(args).items()}, default=str))
