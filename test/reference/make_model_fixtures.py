#!/usr/bin/env python3
"""Generates the model parity fixtures in test/fixtures/models/ with the PyTorch reference
(hf_models.py): three tiny random Hugging Face folders and what PyTorch computes for them.

Run:  /usr/bin/python3 test/reference/make_model_fixtures.py      (Debian python3-torch; no numpy)

Deterministic (fixed seeds; running it twice gives byte-identical files). Folders:

  gpt2-tiny/        GPT2LMHeadModel  vocab 96, n_positions 32, n_embd 32, 2 layers, 4 heads (tied head)
  llama-tiny-gqa/   LlamaForCausalLM vocab 96, hidden 32, intermediate 64, 2 layers, 4 heads, 2 kv heads,
                    rope_theta 1e4, rms_norm_eps 1e-6, untied lm_head
  qwen2-tiny/       Qwen2ForCausalLM same sizes, rope_theta 1e6, tied embeddings, q/k/v biases
  sharded-llama/    llama-tiny-gqa's weights in two shards + model.safetensors.index.json
  mistral-tiny/     MistralForCausalLM llama-tiny-gqa's sizes, sliding_window 3 (masks keys 3+ back)
  llama31-tiny/     LlamaForCausalLM with Llama 3.1's rope (rope_type llama3: factor 8, original 64)
  qwen3-tiny/       Qwen3ForCausalLM q_norm/k_norm, head_dim 16, tied; transformers 5 config layout
  phi3-tiny/        Phi3ForCausalLM fused qkv_proj / gate_up_proj, 4 heads / 2 kv heads, sliding_window 5,
                    rms_norm_eps left to Phi3Config's default (1e-5); transformers 4 layout as Phi-3-mini's
  gemma2-tiny/      Gemma2ForCausalLM head_dim 16 (≠ 32/4), 4 layers alternating sliding (window 3) and full,
                    soft-capping 2.0 on scores and 3.0 on logits (small, so the tanh bends), tied
  pythia-tiny/      GPTNeoXForCausalLM as Pythia: hidden 64, 4 heads (head 16), rotary_pct 0.25 (4 dims),
                    parallel residual, biases, exact GELU, untied embed_out; transformers 4 layout
  neox-seq-tiny/    GPTNeoXForCausalLM sequential residual, no attention biases, gelu_new, tied,
                    partial_rotary_factor 0.5 and theta in rope_parameters (transformers 5 layout)
  qwen2-yarn-tiny/  Qwen2ForCausalLM with yarn (factor 4, original 64; 4.x layout)
  llama-yarn-tiny/  LlamaForCausalLM with yarn and every optional key (5.x layout)
  phi4-mini-tiny/   Phi3ForCausalLM with longrope and partial_rotary_factor 0.75, tied (as Phi-4-mini)
  gemma3-tiny/      Gemma3ForCausalLM q/k norms, local and global (linear x8) ropes, 3 sliding layers of 4
  gemma-tiny/       GemmaForCausalLM (Gemma 1) exact GELU, one kv head, tied
  qwen2-sliding-tiny/ Qwen2ForCausalLM use_sliding_window, window 3 from max_window_layers 1 (layer 1 of 2)
  qwen3-sliding-tiny/ Qwen3ForCausalLM the same with layer_types written out (transformers 5 layout)

Each folder has config.json (as transformers' save_pretrained writes it: indent 2, sorted keys),
model.safetensors (F32; or the shards) and expected.json:

  {
    "about": "...",
    "input_ids": [[8 ids], [8 ids]],
    "logits": [B][T][V] floats (7 significant digits),
    "loss": mean next-token cross-entropy over positions 0..T-2 (HF labels=input_ids),
    "grads": {"<HF name>": {"sum": s, "abs_sum": a, "wsum": w}, ...}  d(loss)/d(param), full
             precision; wsum = sum_i g[i] * ((i % 7) - 3) over the row-major flattened gradient
             (sum and abs_sum cannot see a transposed layout; wsum can). Tied heads: the
             embedding's gradient includes the head's contribution. Several sums are
             structurally ~0 (LayerNorm / softmax invariances), so compare sum and wsum with a
             tolerance scaled by abs_sum, not relative to themselves,
    "padded": {
      "input_ids": [[0, 0, 0, a, b, c, d, e], [8 real ids]],
      "attention_mask": [[0, 0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1]],
      "logits": [B][T][V]   (only positions with attention_mask 1 are meaningful)
    }
  }

Weights are drawn in float32 (normal, std 0.2 for matrices, embeddings and biases; norm scales
1 + 0.1 N(0,1)), saved as float32, and the expected values are computed by the same weights
widened to float64, so the float32 engine is compared against a more exact reference.
padded row 0 holds input_ids[0][:5] after 3 pads, row 1 is input_ids[1]; so their logits at
real positions equal logits[0][:5] and logits[1] (asserted here).
"""

import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_models import (build_model, greedy_generate, hf_state_dict, is_norm_weight, lm_loss,  # noqa: E402
                       load_folder, save_config, write_safetensors)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "models")
VOCAB, T, B, PADS = 96, 8, 2, 3

CONFIGS = {
    "gpt2-tiny": {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.0,
        "bos_token_id": 95,
        "embd_pdrop": 0.0,
        "eos_token_id": 95,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_embd": 32,
        "n_head": 4,
        "n_inner": None,
        "n_layer": 2,
        "n_positions": 32,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.0,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": VOCAB,
    },
    "llama-tiny-gqa": {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "head_dim": 8,
        "hidden_act": "silu",
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": VOCAB,
    },
    "qwen2-tiny": {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": 95,
        "eos_token_id": 95,
        "hidden_act": "silu",
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
        "max_window_layers": 28,
        "model_type": "qwen2",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000.0,
        "sliding_window": 4096,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": VOCAB,
    },
}
# The families added after the first three, each exercising what differs from Llama. T = 8 tokens, so
# mistral-tiny's window of 3 masks most of each row; llama31-tiny's frequencies (head_dim 8, theta 1e4:
# wavelengths 6.3, 63, 628, 6283) fall in all three llama3 regimes (original length 64: 16 < 63 < 64);
# qwen3-tiny is written in the transformers 5 layout (rope_parameters, dtype) with head_dim 16 != 32/4.
CONFIGS["mistral-tiny"] = {
    "architectures": ["MistralForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "head_dim": 8,
    "hidden_act": "silu",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
    "model_type": "mistral",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-05,
    "rope_theta": 10000.0,
    "sliding_window": 3,
    "tie_word_embeddings": False,
    "torch_dtype": "float32",
    "use_cache": True,
    "vocab_size": VOCAB,
}
CONFIGS["llama31-tiny"] = dict(CONFIGS["llama-tiny-gqa"], rope_scaling={
    "factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
    "original_max_position_embeddings": 64, "rope_type": "llama3"}, max_position_embeddings=128)
CONFIGS["qwen3-tiny"] = {
    "architectures": ["Qwen3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 95,
    "dtype": "float32",
    "eos_token_id": 95,
    "head_dim": 16,
    "hidden_act": "silu",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 64,
    "layer_types": ["full_attention", "full_attention"],
    "max_position_embeddings": 64,
    "max_window_layers": 28,
    "model_type": "qwen3",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"},
    "sliding_window": None,
    "tie_word_embeddings": True,
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": VOCAB,
}
# Phi-3-mini-4k's config keys (sliding_window, original_max_position_embeddings, embd/resid_pdrop).
CONFIGS["phi3-tiny"] = {
    "architectures": ["Phi3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "embd_pdrop": 0.0,
    "eos_token_id": 94,
    "hidden_act": "silu",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
    "model_type": "phi3",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "original_max_position_embeddings": 64,
    "pad_token_id": 94,
    "resid_pdrop": 0.0,
    "rope_scaling": None,
    "rope_theta": 10000.0,
    "sliding_window": 5,
    "tie_word_embeddings": False,
    "torch_dtype": "float32",
    "use_cache": True,
    "vocab_size": VOCAB,
}
# Gemma 2: caps far below the real 50 / 30 so that a reader ignoring them fails parity.
CONFIGS["gemma2-tiny"] = {
    "architectures": ["Gemma2ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attn_logit_softcapping": 2.0,
    "bos_token_id": 2,
    "eos_token_id": 1,
    "final_logit_softcapping": 3.0,
    "head_dim": 16,
    "hidden_act": "gelu_pytorch_tanh",
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
    "model_type": "gemma2",
    "num_attention_heads": 4,
    "num_hidden_layers": 4,
    "num_key_value_heads": 2,
    "pad_token_id": 0,
    "query_pre_attn_scalar": 24,
    "rms_norm_eps": 1e-06,
    "rope_theta": 10000.0,
    "sliding_window": 3,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "use_cache": True,
    "vocab_size": VOCAB,
}
# GPT-NeoX: Pythia's config as transformers 4.x saved it (rotary_pct, rotary_emb_base), and a variant in
# the 5.x layout that flips every switch Pythia leaves at its default.
CONFIGS["pythia-tiny"] = {
    "architectures": ["GPTNeoXForCausalLM"],
    "attention_bias": True,
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "classifier_dropout": 0.1,
    "eos_token_id": 0,
    "hidden_act": "gelu",
    "hidden_dropout": 0.0,
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 128,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 64,
    "model_type": "gpt_neox",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "rope_scaling": None,
    "rotary_emb_base": 10000,
    "rotary_pct": 0.25,
    "tie_word_embeddings": False,
    "torch_dtype": "float32",
    "use_cache": True,
    "use_parallel_residual": True,
    "vocab_size": VOCAB,
}
CONFIGS["neox-seq-tiny"] = {
    "architectures": ["GPTNeoXForCausalLM"],
    "attention_bias": False,
    "bos_token_id": 1,
    "dtype": "float32",
    "eos_token_id": 2,
    "hidden_act": "gelu_new",
    "hidden_size": 32,
    "intermediate_size": 64,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 64,
    "model_type": "gpt_neox",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "rope_parameters": {"partial_rotary_factor": 0.5, "rope_theta": 1000.0, "rope_type": "default"},
    "tie_word_embeddings": True,
    "use_parallel_residual": False,
    "vocab_size": VOCAB,
}
# RoPE scaling with an attention factor. qwen2-yarn-tiny: Qwen2.5's yarn recipe in the 4.x layout ("type"),
# head_dim 8 at theta 1e4 over an original 64 gives correction dims 0..2, so the four frequencies are kept,
# half-ramped and interpolated twice. llama-yarn-tiny: every optional yarn key in the 5.x layout (truncate
# false moves the ramp to 0.21..2.02 from 0..3; mscale / mscale_all_dim set the attention factor).
# phi4-mini-tiny: Phi-4-mini's longrope with partial_rotary_factor 0.75 (6 of 8 dims turn, 3 factors),
# original 16 of 64 positions (attention factor sqrt(1 + ln 4 / ln 16)); rows stay within 16 (short factors).
CONFIGS["qwen2-yarn-tiny"] = dict(CONFIGS["qwen2-tiny"], rope_theta=10000.0, max_position_embeddings=256, rope_scaling={
    "factor": 4.0, "original_max_position_embeddings": 64, "type": "yarn"})
CONFIGS["llama-yarn-tiny"] = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "bos_token_id": 1,
    "dtype": "float32",
    "eos_token_id": 2,
    "head_dim": 16,
    "hidden_act": "silu",
    "hidden_size": 32,
    "intermediate_size": 64,
    "max_position_embeddings": 1024,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_parameters": {"beta_fast": 16, "beta_slow": 2, "factor": 8.0, "mscale": 1.0, "mscale_all_dim": 0.5,
                        "original_max_position_embeddings": 128, "rope_theta": 10000.0, "rope_type": "yarn", "truncate": False},
    "tie_word_embeddings": False,
    "vocab_size": VOCAB,
}
CONFIGS["phi4-mini-tiny"] = dict(CONFIGS["phi3-tiny"], max_position_embeddings=64, original_max_position_embeddings=16,
                                 partial_rotary_factor=0.75, sliding_window=None, tie_word_embeddings=True, rope_scaling={
    "long_factor": [1.25, 4.5, 9.0], "short_factor": [1.0, 1.75, 3.125], "type": "longrope"})
# Gemma 3 text as the 4b checkpoints write it (linear rope factor 8 on the full layers, the sliding
# layers' own theta, soft-caps null), with layer_types left to sliding_window_pattern 3: layers 0, 1 and 3
# slide (window 3), layer 2 is full. Gemma 1 with the exact GELU named by both activation keys, MQA.
CONFIGS["gemma3-tiny"] = {
    "architectures": ["Gemma3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attn_logit_softcapping": None,
    "bos_token_id": 2,
    "eos_token_id": 1,
    "final_logit_softcapping": None,
    "head_dim": 16,
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 32,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
    "model_type": "gemma3_text",
    "num_attention_heads": 4,
    "num_hidden_layers": 4,
    "num_key_value_heads": 2,
    "pad_token_id": 0,
    "query_pre_attn_scalar": 24,
    "rms_norm_eps": 1e-06,
    "rope_local_base_freq": 10000.0,
    "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
    "rope_theta": 1000000.0,
    "sliding_window": 3,
    "sliding_window_pattern": 3,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "use_cache": True,
    "vocab_size": VOCAB,
}
CONFIGS["gemma-tiny"] = {
    "architectures": ["GemmaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 2,
    "eos_token_id": 1,
    "head_dim": 16,
    "hidden_act": "gelu",
    "hidden_activation": "gelu",
    "hidden_size": 32,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
    "model_type": "gemma",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 1,
    "pad_token_id": 0,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "use_cache": True,
    "vocab_size": VOCAB,
}
# Qwen's sliding layers (use_sliding_window): window 3 on layer 1 only (max_window_layers 1 of 2), so a
# reader that windows every layer, or none, fails. qwen2 in the 4.x layout (the layers from
# max_window_layers), qwen3 in the 5.x layout (layer_types written out).
CONFIGS["qwen2-sliding-tiny"] = dict(CONFIGS["qwen2-tiny"], use_sliding_window=True, sliding_window=3, max_window_layers=1)
CONFIGS["qwen3-sliding-tiny"] = dict(CONFIGS["qwen3-tiny"], use_sliding_window=True, sliding_window=3, max_window_layers=1,
                                     layer_types=["full_attention", "sliding_attention"])
SEEDS = {"gpt2-tiny": 1001, "llama-tiny-gqa": 2002, "qwen2-tiny": 3003, "mistral-tiny": 4004, "llama31-tiny": 5005, "qwen3-tiny": 6006, "phi3-tiny": 9009, "gemma2-tiny": 1111, "pythia-tiny": 7007, "neox-seq-tiny": 8008,
         "qwen2-yarn-tiny": 1212, "llama-yarn-tiny": 1313, "phi4-mini-tiny": 1414,
         "gemma3-tiny": 1515, "gemma-tiny": 1616, "qwen2-sliding-tiny": 1717, "qwen3-sliding-tiny": 1818}

ABOUT = ("PyTorch reference (test/reference/hf_models.py, float64 from the float32 weights in this folder). "
         "loss: mean next-token cross-entropy over positions 0..T-2 (HF labels=input_ids). "
         "grads: sum and abs_sum of d(loss)/d(param) under HF names (a tied head's gradient is in the embedding's), "
         "and wsum = sum_i g[i] * ((i % 7) - 3) over the row-major flattened gradient (catches layout errors); "
         "several sums are structurally ~0 (LayerNorm/softmax invariances): compare sum and wsum with a tolerance "
         "scaled by abs_sum. "
         "padded: left padding with attention_mask; compare logits only where attention_mask is 1.")


def init_weights(model, gen):
    """float32: N(0, 0.2^2) for everything but norm scales, which are 1 + 0.1 N(0, 1)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            z = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            p.copy_(1.0 + 0.1 * z if is_norm_weight(name) else 0.2 * z)


def round7(x):
    return float("%.7g" % x)


def nested(t, fn=float):
    if t.dim() == 0:
        return fn(t.item())
    return [nested(s, fn) for s in t]


def dumps(obj, indent=0):
    """JSON with lists of numbers on one line (readable diffs, small files)."""
    pad = " " * indent
    if isinstance(obj, dict):
        items = ["%s %s: %s" % (pad, json.dumps(k), dumps(v, indent + 1)) for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and obj and isinstance(obj[0], (list, dict)):
        return "[\n" + ",\n".join(pad + " " + dumps(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj, allow_nan=False, separators=(", ", ": "))


def write_text(path, text):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def compute_expected(model64, input_ids):
    """Logits, loss, grads (unpadded) and the padded case, all in float64."""
    model64.zero_grad(set_to_none=True)
    logits = model64(input_ids)
    loss = lm_loss(logits, input_ids)
    loss.backward()
    grads = {}
    for name, p in model64.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        flat = g.reshape(-1)
        weights = (torch.arange(flat.numel()) % 7 - 3).to(flat.dtype)
        grads[name] = {"sum": float(flat.sum().item()), "abs_sum": float(flat.abs().sum().item()),
                       "wsum": float((flat * weights).sum().item())}

    with torch.no_grad():
        real0 = input_ids[0, : T - PADS]
        padded_ids = torch.stack([torch.cat([torch.zeros(PADS, dtype=torch.long), real0]), input_ids[1]])
        mask = torch.ones(B, T, dtype=torch.long)
        mask[0, :PADS] = 0
        padded_logits = model64(padded_ids, attention_mask=mask)
        # Padded rows at real positions == the same tokens run alone, unpadded.
        alone0 = model64(real0.unsqueeze(0))[0]
        alone1 = model64(input_ids[1:2])[0]
        err0 = (padded_logits[0, PADS:] - alone0).abs().max().item()
        err1 = (padded_logits[1] - alone1).abs().max().item()
        assert err0 < 1e-12 and err1 < 1e-12, ("padded != unpadded", err0, err1)
        assert (alone0 - logits[0, : T - PADS]).abs().max().item() < 1e-12
        assert (alone1 - logits[1]).abs().max().item() < 1e-12

        # KV-cache generation == recomputing the full sequence, padded prompts included.
        for ids, m in ((input_ids[:, :4], None), (padded_ids[:, :6], mask[:, :6])):
            tok_c, log_c = greedy_generate(model64, ids, 4, attention_mask=m, use_cache=True)
            tok_f, log_f = greedy_generate(model64, ids, 4, attention_mask=m, use_cache=False)
            assert torch.equal(tok_c, tok_f), ("KV-cache tokens differ", tok_c, tok_f)
            assert (log_c - log_f).abs().max().item() < 1e-10, "KV-cache logits differ"

    return {
        "about": ABOUT,
        "input_ids": input_ids.tolist(),
        "logits": nested(logits.detach(), round7),
        "loss": float(loss.item()),
        "grads": grads,
        "padded": {
            "input_ids": padded_ids.tolist(),
            "attention_mask": mask.tolist(),
            "logits": nested(padded_logits, round7),
        },
    }


def make(name):
    cfg = CONFIGS[name]
    gen = torch.Generator().manual_seed(SEEDS[name])
    model = build_model(cfg)
    init_weights(model, gen)
    input_ids = torch.randint(0, VOCAB, (B, T), generator=gen, dtype=torch.long)

    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    save_config(folder, cfg)
    write_safetensors(os.path.join(folder, "model.safetensors"), hf_state_dict(model))

    # Reload what was written (float32 on disk) as float64: checks the round trip and the loader.
    model64, _ = load_folder(folder, torch.float64)
    for n, p in model.named_parameters():
        assert torch.equal(dict(model64.named_parameters())[n].float(), p.detach()), n
    expected = compute_expected(model64, input_ids)
    write_text(os.path.join(folder, "expected.json"), dumps(expected) + "\n")
    return model, expected


def make_sharded(model, expected):
    """sharded-llama/: embeddings + layer 0 in shard 1; layer 1, norm, lm_head in shard 2."""
    folder = os.path.join(OUT, "sharded-llama")
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    save_config(folder, CONFIGS["llama-tiny-gqa"])
    state = hf_state_dict(model)
    shards = {"model-00001-of-00002.safetensors": {}, "model-00002-of-00002.safetensors": {}}
    weight_map, total = {}, 0
    for n, t in state.items():
        first = n == "model.embed_tokens.weight" or n.startswith("model.layers.0.")
        shard = "model-00001-of-00002.safetensors" if first else "model-00002-of-00002.safetensors"
        shards[shard][n] = t
        weight_map[n] = shard
        total += t.numel() * 4
    for shard, tensors in shards.items():
        write_safetensors(os.path.join(folder, shard), tensors)
    # transformers writes the index with indent=2, sorted keys and a final newline.
    write_text(os.path.join(folder, "model.safetensors.index.json"),
               json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2, sort_keys=True) + "\n")
    model64, _ = load_folder(folder, torch.float64)
    again = compute_expected(model64, torch.tensor(expected["input_ids"]))
    assert again == expected, "sharded folder does not reproduce llama-tiny-gqa"
    write_text(os.path.join(folder, "expected.json"), dumps(expected) + "\n")


def main():
    torch.manual_seed(0)  # nothing below uses the global RNG; set for safety
    os.makedirs(OUT, exist_ok=True)
    made = {name: make(name) for name in CONFIGS}
    make_sharded(*made["llama-tiny-gqa"])
    for name in list(CONFIGS) + ["sharded-llama"]:
        with open(os.path.join(OUT, name, "expected.json"), encoding="utf-8") as f:
            e = json.load(f)
        size = sum(os.path.getsize(os.path.join(OUT, name, x)) for x in os.listdir(os.path.join(OUT, name)))
        print("%-16s loss %.6f  %d params  %d bytes" % (name, e["loss"], len(e["grads"]), size))


if __name__ == "__main__":
    main()
