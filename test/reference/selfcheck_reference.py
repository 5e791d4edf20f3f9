#!/usr/bin/env python3
"""Self-checks of hf_models.py against a second, deliberately naive implementation.

The naive versions loop over batch rows, tokens and heads with plain scalar-ish tensor code:
GPT-2 attention written per head with explicit Conv1D matmuls, Llama/Qwen2 RoPE written as a
per-pair rotation (x_i, x_{i+half}) by angle pos * inv_freq_i (HF's rotate_half convention),
grouped-query attention mapping query head h to key/value head h // (heads / kv_heads), and an
explicit log-softmax loss. Also checks that the loss at init with tiny weights is ~ln(vocab).

Run:  /usr/bin/python3 test/reference/selfcheck_reference.py      (prints "ok" per check)
"""

import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_models import build_model, is_norm_weight, lm_loss, load_folder  # noqa: E402

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "models")


def layer_norm(x, w, b, eps):
    mu = sum(x.tolist()) / x.numel()
    var = sum((v - mu) ** 2 for v in x.tolist()) / x.numel()
    return (x - mu) / math.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    ms = sum(v * v for v in x.tolist()) / x.numel()
    return x / math.sqrt(ms + eps) * w


def softmax_list(scores):
    m = max(scores)
    e = [math.exp(s - m) for s in scores]
    z = sum(e)
    return [v / z for v in e]


def naive_gpt2(p, cfg, ids):
    d, H = cfg["n_embd"], cfg["n_head"]
    hd, eps = d // H, cfg["layer_norm_epsilon"]
    gelu = lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    out = []
    for row in ids.tolist():
        xs = [p["transformer.wte.weight"][tok] + p["transformer.wpe.weight"][t] for t, tok in enumerate(row)]
        for L in range(cfg["n_layer"]):
            pre = "transformer.h.%d." % L
            hs = [layer_norm(x, p[pre + "ln_1.weight"], p[pre + "ln_1.bias"], eps) for x in xs]
            qkv = [h @ p[pre + "attn.c_attn.weight"] + p[pre + "attn.c_attn.bias"] for h in hs]
            att = []
            for t in range(len(xs)):
                heads = []
                for h in range(H):
                    q = qkv[t][h * hd:(h + 1) * hd]
                    ks = [qkv[j][d + h * hd: d + (h + 1) * hd] for j in range(t + 1)]
                    vs = [qkv[j][2 * d + h * hd: 2 * d + (h + 1) * hd] for j in range(t + 1)]
                    w = softmax_list([float(q @ k) / math.sqrt(hd) for k in ks])
                    heads.append(sum(wj * vj for wj, vj in zip(w, vs)))
                att.append(torch.cat(heads) @ p[pre + "attn.c_proj.weight"] + p[pre + "attn.c_proj.bias"])
            xs = [x + a for x, a in zip(xs, att)]
            hs = [layer_norm(x, p[pre + "ln_2.weight"], p[pre + "ln_2.bias"], eps) for x in xs]
            mlp = [gelu(h @ p[pre + "mlp.c_fc.weight"] + p[pre + "mlp.c_fc.bias"]) @ p[pre + "mlp.c_proj.weight"]
                   + p[pre + "mlp.c_proj.bias"] for h in hs]
            xs = [x + m for x, m in zip(xs, mlp)]
        xs = [layer_norm(x, p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], eps) for x in xs]
        out.append(torch.stack([p["transformer.wte.weight"] @ x for x in xs]))
    return torch.stack(out)


def naive_llama(p, cfg, ids, qkv_bias):
    d, H, KV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, eps, theta = d // H, cfg["rms_norm_eps"], cfg["rope_theta"]
    half = hd // 2
    # float32 inv_freq exactly as HF computes it, then used in float64
    inv = [float(1.0 / torch.tensor(theta, dtype=torch.float32) ** torch.tensor(2 * i / hd, dtype=torch.float32))
           for i in range(half)]
    inv32 = (1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))).tolist()
    assert max(abs(a - b) / b for a, b in zip(inv, inv32)) < 1e-6

    def rope(v, pos):
        o = v.clone()
        for i in range(half):
            c, s = math.cos(pos * inv32[i]), math.sin(pos * inv32[i])
            o[i] = v[i] * c - v[i + half] * s
            o[i + half] = v[i + half] * c + v[i] * s
        return o

    def lin(name, x, bias=False):
        y = p[name + ".weight"] @ x
        return y + p[name + ".bias"] if bias else y

    silu = lambda x: x / (1 + torch.exp(-x))
    head = p.get("lm_head.weight", p["model.embed_tokens.weight"])
    out = []
    for row in ids.tolist():
        xs = [p["model.embed_tokens.weight"][tok].clone() for tok in row]
        for L in range(cfg["num_hidden_layers"]):
            pre = "model.layers.%d." % L
            hs = [rms_norm(x, p[pre + "input_layernorm.weight"], eps) for x in xs]
            q = [lin(pre + "self_attn.q_proj", h, qkv_bias) for h in hs]
            k = [lin(pre + "self_attn.k_proj", h, qkv_bias) for h in hs]
            v = [lin(pre + "self_attn.v_proj", h, qkv_bias) for h in hs]
            att = []
            for t in range(len(xs)):
                heads = []
                for h in range(H):
                    g = h // (H // KV)
                    qh = rope(q[t][h * hd:(h + 1) * hd], t)
                    ks = [rope(k[j][g * hd:(g + 1) * hd], j) for j in range(t + 1)]
                    vs = [v[j][g * hd:(g + 1) * hd] for j in range(t + 1)]
                    w = softmax_list([float(qh @ kk) / math.sqrt(hd) for kk in ks])
                    heads.append(sum(wj * vj for wj, vj in zip(w, vs)))
                att.append(lin(pre + "self_attn.o_proj", torch.cat(heads)))
            xs = [x + a for x, a in zip(xs, att)]
            hs = [rms_norm(x, p[pre + "post_attention_layernorm.weight"], eps) for x in xs]
            xs = [x + lin(pre + "mlp.down_proj", silu(lin(pre + "mlp.gate_proj", h)) * lin(pre + "mlp.up_proj", h))
                  for x, h in zip(xs, hs)]
        xs = [rms_norm(x, p["model.norm.weight"], eps) for x in xs]
        out.append(torch.stack([head @ x for x in xs]))
    return torch.stack(out)


def naive_loss(logits, ids):
    total, n = 0.0, 0
    for b in range(ids.shape[0]):
        for t in range(ids.shape[1] - 1):
            row = logits[b, t].tolist()
            m = max(row)
            lse = m + math.log(sum(math.exp(v - m) for v in row))
            total += lse - row[ids[b, t + 1].item()]
            n += 1
    return total / n


def main():
    import json
    for name, fn in (("gpt2-tiny", lambda p, c, i: naive_gpt2(p, c, i)),
                     ("llama-tiny-gqa", lambda p, c, i: naive_llama(p, c, i, False)),
                     ("qwen2-tiny", lambda p, c, i: naive_llama(p, c, i, True))):
        folder = os.path.join(FIX, name)
        model, cfg = load_folder(folder, torch.float64)
        with open(os.path.join(folder, "expected.json")) as f:
            exp = json.load(f)
        ids = torch.tensor(exp["input_ids"])
        p = {n: t.detach() for n, t in model.named_parameters()}
        with torch.no_grad():
            ref = model(ids)
        naive = fn(p, cfg, ids)
        err = (ref - naive).abs().max().item()
        lerr = abs(lm_loss(ref, ids).item() - naive_loss(naive, ids))
        ferr = (torch.tensor(exp["logits"], dtype=torch.float64) - ref).abs().max().item()
        print("%-15s naive-vs-reference max|dlogit| %.2e  |dloss| %.2e  fixture-vs-reference %.2e"
              % (name, err, lerr, ferr))
        assert err < 1e-10 and lerr < 1e-10 and ferr < 1e-5

    # Loss at init with tiny weights ~ ln(vocab): logits ~ 0, softmax ~ uniform.
    for mt, cfg in (("gpt2", {"model_type": "gpt2", "vocab_size": 1000, "n_positions": 64, "n_embd": 64,
                              "n_layer": 2, "n_head": 4}),
                    ("llama", {"model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "intermediate_size": 128,
                               "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2})):
        torch.manual_seed(0)
        m = build_model(cfg)
        with torch.no_grad():
            for n, t in m.named_parameters():
                t.copy_(torch.ones_like(t) if is_norm_weight(n) else 0.002 * torch.randn_like(t))
        ids = torch.randint(0, 1000, (4, 32))
        loss = lm_loss(m(ids), ids).item()
        print("%-15s loss at init %.5f vs ln(V) %.5f" % (mt, loss, math.log(1000)))
        assert abs(loss - math.log(1000)) < 1e-3
    print("ok")


if __name__ == "__main__":
    main()
