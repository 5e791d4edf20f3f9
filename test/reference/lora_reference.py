#!/usr/bin/env python3
"""Generates test/fixtures/lora/: a PEFT-format LoRA adapter for the tiny GPT-2 and Llama fixtures and
what PyTorch (float64, hf_models.py) computes with it, as PEFT's lora.Linear forward does:
y = base(x) + (lora_alpha / r) * lora_B(lora_A(x)) (dropout 0, eval).

Run:  /usr/bin/python3 test/reference/lora_reference.py      (deterministic up to float64 rounding of
      the gradients, ~1e-11 relative, which varies with BLAS threading)

Each folder (gpt2-tiny/, llama-tiny-gqa/) holds adapter_config.json, adapter_model.safetensors (PEFT's
keys base_model.model.<module>.lora_A.weight [r, in] / lora_B.weight [out, r], F32) and expected.json:
  {"base": fixture folder name, "input_ids": [[..]], "logits": [B][T][V], "loss": float,
   "grads": {"<module>.lora_A.weight": [flat row-major d(loss)/dA], "<module>.lora_B.weight": [...]}}
A and B are drawn non-zero (B too), so dA is not trivially zero.

Each <base>-reward/ folder is a LoRA reward model as the engine saves one (RewardModel.saveAdapters): a
PEFT SEQ_CLS adapter whose modules_to_save is the scalar head `score` (base_model.model.score.weight
[1, d]), plus rrlhf.json (pad id), on the same base trunk. Its expected.json holds one Bradley–Terry
train step as engine/rlhf/reward.ts buildBtLoss computes it: rows = prompt + chosen for every pair, then
prompt + rejected, left-padded with pad id 0; reward = score(final hidden state at the last position);
loss = sum_i w_i softplus(r_rejected_i - r_chosen_i) / sum_i w_i:
  {"base", "rows": [[..]], "pad_id", "pair_weight": [..], "rewards": [2P], "loss",
   "grads": {"<module>.lora_A.weight": [...], "<module>.lora_B.weight": [...], "score.weight": [...]}}

Each <base>-dropout/ folder is the same kind of adapter with lora_dropout DROPOUT, and expected.json holds
the LM loss and dA, dB of one training-mode forward as PEFT computes it with nn.Dropout(DROPOUT):
y = base(x) + (lora_alpha / r) * lora_B(lora_A(x * mask / (1 - DROPOUT))), with one fixed keep-mask per
adapted module (the shape of its input [B, T, in], drawn here and stored so the engine is fed the same):
  {"base", "input_ids", "dropout", "loss", "eval_loss" (no dropout), "masks": {"<module>": [flat 0/1]},
   "grads": {...}}
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from hf_models import load_folder, lm_loss, write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
IDS = [[3, 17, 42, 5, 88, 1, 60, 9], [70, 2, 2, 31, 14, 55, 8, 90]]
CASES = [("gpt2-tiny", ["c_attn", "mlp.c_proj"], True), ("llama-tiny-gqa", ["q_proj", "v_proj", "down_proj"], False)]
R, ALPHA = 4, 8
DROPOUT = 0.25
# The reward step's pairs (prompt, chosen, rejected) and weights, as test/integration/lora-reward.test.ts's.
PAIRS = [([3, 17, 42], [5, 88, 1], [60, 9]), ([70, 2], [2, 31, 14, 55], [8, 90, 7]), ([11, 12, 13, 14], [15], [16, 17])]
PAIR_WEIGHT = [1.0, 2.0, 1.0]
PAD = 0


def matches(name, targets):
    return any(name == t or name.endswith("." + t) for t in targets)


def add_adapters(model, targets, conv1d, gen, masks=None):
    """Non-zero float32-valued A and B on every targeted projection, added to its forward. With `masks`
    (a dict filled here), the adapter input goes through inverted dropout with a keep-mask drawn once per
    module from `gen` (training mode); `masks[name]` is None to run that forward without dropout."""
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
        if masks is None:
            mod.forward = (lambda orig, a, b: lambda x: orig(x) + (ALPHA / R) * ((x @ a.t()) @ b.t()))(orig, a, b)
        else:
            masks[name] = None
            mod.forward = (lambda orig, a, b, name: lambda x: orig(x) + (ALPHA / R) * ((dropped(x, name, masks, gen) @ a.t()) @ b.t()))(orig, a, b, name)
    return adapters


def dropped(x, name, masks, gen):
    """x through inverted dropout with this module's keep-mask (drawn on first use), or x when disabled."""
    if masks.get("off"):
        return x
    if masks[name] is None:
        masks[name] = (torch.rand(x.shape, generator=gen, dtype=torch.float64) >= DROPOUT).to(torch.float64)
    return x * masks[name] / (1 - DROPOUT)


def peft_config(base, targets, conv1d, task, modules_to_save=None, dropout=0.0):
    cfg = {"base_model_name_or_path": base, "bias": "none", "fan_in_fan_out": conv1d, "lora_alpha": ALPHA,
           "lora_dropout": dropout, "peft_type": "LORA", "r": R, "target_modules": sorted(targets), "task_type": task}
    if modules_to_save:
        cfg["modules_to_save"] = modules_to_save
    return json.dumps(cfg, indent=2, sort_keys=True) + "\n"


def adapter_tensors(adapters):
    tensors, grads = {}, {}
    for name, (a, b) in adapters.items():
        tensors["base_model.model.%s.lora_A.weight" % name] = a
        tensors["base_model.model.%s.lora_B.weight" % name] = b
        grads[name + ".lora_A.weight"] = [float(x) for x in a.grad.reshape(-1).tolist()]
        grads[name + ".lora_B.weight"] = [float(x) for x in b.grad.reshape(-1).tolist()]
    return tensors, grads


def reward_case(base, targets, conv1d):
    """One Bradley–Terry step of a LoRA reward model (adapters + score head) on the base's trunk."""
    model, _ = load_folder(os.path.join(ROOT, "test", "fixtures", "models", base), dtype=torch.float64)
    gen = torch.Generator().manual_seed(4321)
    adapters = add_adapters(model, targets, conv1d, gen)
    d = model.config.get("n_embd") or model.config["hidden_size"]
    score = (torch.randn(1, d, generator=gen) * 0.3).to(torch.float32).to(torch.float64).requires_grad_(True)
    rows = [p + c for p, c, _ in PAIRS] + [p + r for p, _, r in PAIRS]
    t = max(len(r) for r in rows)
    ids = torch.tensor([[PAD] * (t - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (t - len(r)) + [1] * len(r) for r in rows])
    hidden = model(ids, attention_mask=mask, return_hidden=True)
    rewards = hidden[:, -1] @ score[0]  # left padding: the last position is every row's last real token
    n = len(PAIRS)
    w = torch.tensor(PAIR_WEIGHT, dtype=torch.float64)
    loss = (F.softplus(rewards[n:] - rewards[:n]) * w).sum() / w.sum()
    loss.backward()
    out = os.path.join(ROOT, "test", "fixtures", "lora", base + "-reward")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "adapter_config.json"), "w", encoding="utf-8") as f:
        f.write(peft_config(base, targets, conv1d, "SEQ_CLS", ["score"]))
    tensors, grads = adapter_tensors(adapters)
    tensors["base_model.model.score.weight"] = score
    grads["score.weight"] = [float(x) for x in score.grad.reshape(-1).tolist()]
    write_safetensors(os.path.join(out, "adapter_model.safetensors"), tensors)
    with open(os.path.join(out, "rrlhf.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps({"kind": "reward_lora", "format": 1, "pad_id": PAD}, indent=2) + "\n")
    exp = {"base": base, "rows": rows, "pad_id": PAD, "pair_weight": PAIR_WEIGHT,
           "rewards": [float(x) for x in rewards.tolist()], "loss": float(loss), "grads": grads}
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(exp) + "\n")
    print(base + "-reward", len(adapters), "adapters + score head, loss", float(loss))


def dropout_case(base, targets, conv1d):
    """One training-mode LM forward and backward with LoRA dropout, each module's keep-mask fixed."""
    model, _ = load_folder(os.path.join(ROOT, "test", "fixtures", "models", base), dtype=torch.float64)
    gen = torch.Generator().manual_seed(2468)
    masks = {}
    adapters = add_adapters(model, targets, conv1d, gen, masks)
    ids = torch.tensor(IDS)
    logits = model(ids)
    logits = logits[0] if isinstance(logits, tuple) else logits
    loss = lm_loss(logits, ids)
    loss.backward()
    masks["off"] = True
    with torch.no_grad():
        ev = model(ids)
        eval_loss = lm_loss(ev[0] if isinstance(ev, tuple) else ev, ids)
    del masks["off"]
    out = os.path.join(ROOT, "test", "fixtures", "lora", base + "-dropout")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "adapter_config.json"), "w", encoding="utf-8") as f:
        f.write(peft_config(base, targets, conv1d, "CAUSAL_LM", dropout=DROPOUT))
    tensors, grads = adapter_tensors(adapters)
    write_safetensors(os.path.join(out, "adapter_model.safetensors"), tensors)
    exp = {"base": base, "input_ids": IDS, "dropout": DROPOUT, "loss": float(loss), "eval_loss": float(eval_loss),
           "masks": {k: [int(v) for v in m.reshape(-1).tolist()] for k, m in masks.items()}, "grads": grads}
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(exp) + "\n")
    kept = sum(sum(m) for m in exp["masks"].values()) / sum(len(m) for m in exp["masks"].values())
    print(base + "-dropout", len(adapters), "adapters, loss", float(loss), "eval loss", float(eval_loss), "kept", kept)


def main():
    for base, targets, conv1d in CASES:
        model, _ = load_folder(os.path.join(ROOT, "test", "fixtures", "models", base), dtype=torch.float64)
        gen = torch.Generator().manual_seed(1234)
        adapters = add_adapters(model, targets, conv1d, gen)
        ids = torch.tensor(IDS)
        logits = model(ids)
        logits = logits[0] if isinstance(logits, tuple) else logits
        loss = lm_loss(logits, ids)
        loss.backward()
        out = os.path.join(ROOT, "test", "fixtures", "lora", base)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "adapter_config.json"), "w", encoding="utf-8") as f:
            f.write(peft_config(base, targets, conv1d, "CAUSAL_LM"))
        tensors, grads = adapter_tensors(adapters)
        write_safetensors(os.path.join(out, "adapter_model.safetensors"), tensors)
        exp = {"base": base, "input_ids": IDS, "loss": float(loss),
               "logits": [[[float("%.7g" % v) for v in row] for row in seq] for seq in logits.detach().tolist()], "grads": grads}
        with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
            f.write(json.dumps(exp) + "\n")
        print(base, len(adapters), "adapters, loss", float(loss))
        reward_case(base, targets, conv1d)
        dropout_case(base, targets, conv1d)


if __name__ == "__main__":
    main()
