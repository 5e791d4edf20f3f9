#!/usr/bin/env python3
"""Generates test/fixtures/lora/: a PEFT-format LoRA adapter for the tiny GPT-2 and Llama fixtures and
what PyTorch (float64, hf_models.py) computes with it, as PEFT's lora.Linear forward does:
y = base(x) + (lora_alpha / r) * lora_B(lora_A(x)) (dropout 0, eval).

Run:  /usr/bin/python3 test/reference/lora_reference.py      (deterministic; byte-identical on rerun)

Each folder (gpt2-tiny/, llama-tiny-gqa/) holds adapter_config.json, adapter_model.safetensors (PEFT's
keys base_model.model.<module>.lora_A.weight [r, in] / lora_B.weight [out, r], F32) and expected.json:
  {"base": fixture folder name, "input_ids": [[..]], "logits": [B][T][V], "loss": float,
   "grads": {"<module>.lora_A.weight": [flat row-major d(loss)/dA], "<module>.lora_B.weight": [...]}}
A and B are drawn non-zero (B too), so dA is not trivially zero.
"""

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from hf_models import load_folder, lm_loss, write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
IDS = [[3, 17, 42, 5, 88, 1, 60, 9], [70, 2, 2, 31, 14, 55, 8, 90]]
CASES = [("gpt2-tiny", ["c_attn", "mlp.c_proj"], True), ("llama-tiny-gqa", ["q_proj", "v_proj", "down_proj"], False)]
R, ALPHA = 4, 8


def matches(name, targets):
    return any(name == t or name.endswith("." + t) for t in targets)


def main():
    for base, targets, conv1d in CASES:
        model, _ = load_folder(os.path.join(ROOT, "test", "fixtures", "models", base), dtype=torch.float64)
        gen = torch.Generator().manual_seed(1234)
        adapters = {}
        for name, mod in model.named_modules():
            if not matches(name, targets) or not hasattr(mod, "weight") or mod.weight.dim() != 2:
                continue
            w = mod.weight
            fan_in, fan_out = (w.shape[0], w.shape[1]) if conv1d else (w.shape[1], w.shape[0])
            # float32 draws, so the file holds exactly the values the float64 computation uses
            a = ((torch.rand(R, fan_in, generator=gen) * 2 - 1) / fan_in ** 0.5).to(torch.float32).to(torch.float64)
            b = (torch.randn(fan_out, R, generator=gen) * 0.3).to(torch.float32).to(torch.float64)
            a.requires_grad_(True)
            b.requires_grad_(True)
            adapters[name] = (a, b)
            orig = mod.forward
            mod.forward = (lambda orig, a, b: lambda x: orig(x) + (ALPHA / R) * ((x @ a.t()) @ b.t()))(orig, a, b)
        ids = torch.tensor(IDS)
        logits = model(ids)
        logits = logits[0] if isinstance(logits, tuple) else logits
        loss = lm_loss(logits, ids)
        loss.backward()
        out = os.path.join(ROOT, "test", "fixtures", "lora", base)
        os.makedirs(out, exist_ok=True)
        cfg = {"base_model_name_or_path": base, "bias": "none", "fan_in_fan_out": conv1d, "lora_alpha": ALPHA,
               "lora_dropout": 0.0, "peft_type": "LORA", "r": R, "target_modules": sorted(targets), "task_type": "CAUSAL_LM"}
        with open(os.path.join(out, "adapter_config.json"), "w", encoding="utf-8") as f:
            f.write(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
        tensors = {}
        for name, (a, b) in adapters.items():
            tensors["base_model.model.%s.lora_A.weight" % name] = a
            tensors["base_model.model.%s.lora_B.weight" % name] = b
        write_safetensors(os.path.join(out, "adapter_model.safetensors"), tensors)
        grads = {}
        for name, (a, b) in adapters.items():
            grads[name + ".lora_A.weight"] = [float(x) for x in a.grad.reshape(-1).tolist()]
            grads[name + ".lora_B.weight"] = [float(x) for x in b.grad.reshape(-1).tolist()]
        exp = {"base": base, "input_ids": IDS, "loss": float(loss),
               "logits": [[[float("%.7g" % v) for v in row] for row in seq] for seq in logits.detach().tolist()], "grads": grads}
        with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
            f.write(json.dumps(exp) + "\n")
        print(base, len(adapters), "adapters, loss", float(loss))


if __name__ == "__main__":
    main()
