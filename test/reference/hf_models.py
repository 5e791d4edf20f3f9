#!/usr/bin/env python3
"""Self-contained PyTorch reference implementations of Hugging Face's GPT-2, Llama and Qwen2
causal LMs, plus loading and saving of Hugging Face model folders.

The `transformers` package is not needed: the modules below follow the math of
transformers' modeling_gpt2.py (GPT2LMHeadModel), modeling_llama.py (LlamaForCausalLM) and
modeling_qwen2.py (Qwen2ForCausalLM) in eval mode (no dropout), with the same parameter names as
`save_pretrained` writes, so `model.state_dict()` keys are Hugging Face checkpoint keys.

What is the same as Hugging Face:
  * GPT-2: token + learned position embeddings; pre-LN blocks; `Conv1D` (weight [in, out],
    y = x @ W + b); fused c_attn (q, k, v split in that order); scores / sqrt(head_dim); causal
    mask; gelu_new (tanh approximation); final ln_f; lm_head tied to wte.
  * Llama / Qwen2: RMSNorm `weight * (x * rsqrt(mean(x^2) + eps))` computed in (at least) float32;
    RoPE of the "default" rope type: inv_freq = 1 / theta ** (arange(0, dim, 2).float() / dim)
    (computed in float32 exactly as HF does), angles = position * inv_freq, cos/sin of
    cat(freqs, freqs), rotate_half; grouped-query attention via repeat_kv; scores * head_dim**-0.5;
    SwiGLU MLP down(silu(gate(x)) * up(x)); nn.Linear weights [out, in]; Qwen2 adds biases on
    q_proj/k_proj/v_proj only; Llama's attention_bias / mlp_bias options are supported too.
  * Loss: mean next-token cross-entropy over positions 0..T-2 (HF `labels=input_ids`).

Deliberate differences (they only matter below float32 precision or at padding positions):
  * HF casts RMSNorm input to float32 and computes RoPE cos/sin in float32 even for a float64
    model; here those steps run in max(float32, model dtype), so a float64 model stays float64
    throughout (the reference fixtures are computed in float64). inv_freq itself is the
    float32 tensor HF computes, widened.
  * Softmax runs in max(float32, dtype) (HF Llama/Qwen2: float32, then cast back).
  * With an attention_mask (1 = token, 0 = left padding), position ids are
    clamp(cumsum(mask) - 1, min=0) for all three architectures. HF's generate() uses
    cumsum(mask) - 1 with padding positions filled with 1; the difference only changes the
    outputs *at* padding positions, which are meaningless either way.
  * Masked scores (future keys, padding keys) are replaced by finfo(dtype).min before the
    softmax. A query whose keys are all masked (a left-padding position) then attends
    uniformly to every key; compare logits only where attention_mask == 1.

KV cache: `KVCache` preallocates [B, kv_heads, max_len, head_dim] per layer; forward(ids, cache=c)
appends the new keys/values and attends over everything cached so far.
"""

import json
import math
import os
import struct
import sys

import torch
import torch.utils.checkpoint
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_safetensors import serialize  # noqa: E402  (stdlib safetensors writer, canonical layout)


# ----------------------------------------------------------------------------------------------
# Shared pieces


def _compute_dtype(dtype):
    """HF upcasts RMSNorm / softmax / RoPE to float32; never downcast a float64 reference."""
    return torch.promote_types(dtype, torch.float32)


class KVCache:
    """Preallocated key/value cache: one [B, kv_heads, max_len, head_dim] pair per layer."""

    def __init__(self, n_layers, batch, kv_heads, max_len, head_dim, dtype=torch.float32, device="cpu"):
        shape = (batch, kv_heads, max_len, head_dim)
        self.k = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.v = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.length = 0  # tokens already cached (same for every row: left padding keeps rows aligned)
        self.max_len = max_len

    def update(self, layer, k, v):
        """Write k, v [B, kv_heads, T, hd] after the cached ones; return views over all of them."""
        t = k.shape[2]
        end = self.length + t
        if end > self.max_len:
            raise ValueError("KV cache full: %d + %d > %d" % (self.length, t, self.max_len))
        self.k[layer][:, :, self.length:end] = k
        self.v[layer][:, :, self.length:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]


def position_ids_for(attention_mask, past, t, batch, device):
    """Positions of the t new tokens: past..past+t-1, or from the mask (covering past + t)."""
    if attention_mask is None:
        return torch.arange(past, past + t, device=device).unsqueeze(0).expand(batch, t)
    pos = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    return pos[:, -t:]


def allowed_keys(attention_mask, past, t, device, sliding_window=None):
    """Bool [B or 1, 1, t, past+t]: causal, and not a padding key. With a sliding window (Mistral),
    also kv_idx > q_idx - sliding_window over cache indices, as transformers' masking_utils
    (sliding_window_overlay) builds it."""
    total = past + t
    q = torch.arange(past, total, device=device).unsqueeze(1)
    k = torch.arange(total, device=device).unsqueeze(0)
    allowed = (k <= q)
    if sliding_window is not None:
        allowed = allowed & (k > q - sliding_window)
    allowed = allowed[None, None]
    if attention_mask is not None:
        if attention_mask.shape[1] != total:
            raise ValueError("attention_mask covers %d tokens, expected past + new = %d"
                             % (attention_mask.shape[1], total))
        allowed = allowed & attention_mask.bool()[:, None, None, :]
    return allowed


def attend(q, k, v, allowed, scale_div=None, scale_mul=None):
    """q [B,H,t,hd], k/v [B,H,T,hd] -> [B,H,t,hd]. Masked scores become finfo.min."""
    scores = torch.matmul(q, k.transpose(-1, -2))
    if scale_div is not None:
        scores = scores / scale_div          # GPT-2: / sqrt(head_dim)
    if scale_mul is not None:
        scores = scores * scale_mul          # Llama/Qwen2: * head_dim ** -0.5
    scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    probs = F.softmax(scores, dim=-1, dtype=_compute_dtype(scores.dtype)).to(v.dtype)
    return torch.matmul(probs, v)


def run_layer(model, layer, *args):
    """One decoder layer; recomputed in the backward pass when the model's `gradient_checkpointing` is set
    (as transformers' GradientCheckpointingLayer does in training), used by bench_ppo.py's --gradient-checkpointing."""
    if getattr(model, "gradient_checkpointing", False) and torch.is_grad_enabled():
        return torch.utils.checkpoint.checkpoint(layer, *args, use_reentrant=False)
    return layer(*args)


def lm_loss(logits, input_ids):
    """HF `labels=input_ids`: mean cross-entropy of token t+1 given positions <= t."""
    v = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1, :].reshape(-1, v).to(_compute_dtype(logits.dtype)),
                           input_ids[:, 1:].reshape(-1))


# ----------------------------------------------------------------------------------------------
# GPT-2


def gelu_new(x):
    """transformers.activations.NewGELUActivation (tanh approximation)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Conv1D(nn.Module):
    """transformers.pytorch_utils.Conv1D: weight [in, out], y = x @ W + b."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        out_shape = x.shape[:-1] + (self.nf,)
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(out_shape)


class GPT2Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["n_embd"]
        self.n_head = cfg["n_head"]
        self.head_dim = d // self.n_head
        self.c_attn = Conv1D(3 * d, d)
        self.c_proj = Conv1D(d, d)
        self.scale = cfg.get("scale_attn_weights", True)
        if cfg.get("scale_attn_by_inverse_layer_idx") or cfg.get("reorder_and_upcast_attn"):
            raise ValueError("scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported")

    def forward(self, x, allowed, cache=None, layer=0):
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.n_head, self.head_dim).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            k, v = cache.update(layer, k, v)
        div = math.sqrt(self.head_dim) if self.scale else None
        y = attend(q, k, v, allowed, scale_div=div)
        return self.c_proj(y.transpose(1, 2).reshape(b, t, d))


class GPT2MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["n_embd"]
        inner = cfg.get("n_inner") or 4 * d
        self.c_fc = Conv1D(inner, d)
        self.c_proj = Conv1D(d, inner)
        act = cfg.get("activation_function", "gelu_new")
        if act not in ("gelu_new", "gelu_pytorch_tanh"):
            raise ValueError("activation_function %r is not supported (gelu_new only)" % act)

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class GPT2Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, eps = cfg["n_embd"], cfg.get("layer_norm_epsilon", 1e-5)
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.attn = GPT2Attention(cfg)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.mlp = GPT2MLP(cfg)

    def forward(self, x, allowed, cache=None, layer=0):
        x = x + self.attn(self.ln_1(x), allowed, cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT2Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.wte = nn.Embedding(cfg["vocab_size"], cfg["n_embd"])
        self.wpe = nn.Embedding(cfg["n_positions"], cfg["n_embd"])
        self.h = nn.ModuleList([GPT2Block(cfg) for _ in range(cfg["n_layer"])])
        self.ln_f = nn.LayerNorm(cfg["n_embd"], eps=cfg.get("layer_norm_epsilon", 1e-5))


class GPT2LMHeadModel(nn.Module):
    model_type = "gpt2"

    def __init__(self, cfg):
        super().__init__()
        self.config = dict(cfg)
        if not cfg.get("tie_word_embeddings", True):
            raise ValueError("untied GPT-2 heads are not supported")
        self.transformer = GPT2Model(cfg)

    @property
    def n_layers(self):
        return len(self.transformer.h)

    def new_cache(self, batch, max_len, dtype=None):
        c = self.config
        dtype = dtype or self.transformer.wte.weight.dtype
        return KVCache(c["n_layer"], batch, c["n_head"], max_len, c["n_embd"] // c["n_head"], dtype,
                       self.transformer.wte.weight.device)

    def forward(self, input_ids, attention_mask=None, cache=None, return_hidden=False):
        b, t = input_ids.shape
        past = cache.length if cache is not None else 0
        dev = input_ids.device
        pos = position_ids_for(attention_mask, past, t, b, dev)
        x = self.transformer.wte(input_ids) + self.transformer.wpe(pos)
        allowed = allowed_keys(attention_mask, past, t, dev)
        for i, block in enumerate(self.transformer.h):
            x = run_layer(self, block, x, allowed, cache, i)
        if cache is not None:
            cache.length += t
        x = self.transformer.ln_f(x)
        if return_hidden:
            return x
        return F.linear(x, self.transformer.wte.weight)  # lm_head tied to wte


# ----------------------------------------------------------------------------------------------
# Llama / Qwen2


class RMSNorm(nn.Module):
    """LlamaRMSNorm / Qwen2RMSNorm."""

    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.variance_epsilon = eps

    def forward(self, x):
        in_dtype = x.dtype
        h = x.to(_compute_dtype(in_dtype))
        variance = h.pow(2).mean(-1, keepdim=True)
        h = h * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * h.to(in_dtype)


def default_inv_freq(theta, dim):
    """LlamaRotaryEmbedding / Qwen2RotaryEmbedding compute_default_rope_parameters (float32)."""
    return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def rope_settings(cfg):
    """(theta, rope dict) from either config layout: transformers 4.x keeps rope_theta at the top
    and the scaling in rope_scaling; 5.x keeps both in rope_parameters."""
    params = cfg.get("rope_parameters") or None
    scaling = cfg.get("rope_scaling") or None
    theta = float((params or {}).get("rope_theta", cfg.get("rope_theta", 10000.0)))
    rope = dict(params or scaling or {})
    rope["rope_type"] = rope.get("rope_type") or rope.get("type") or "default"
    return theta, rope


def scaled_inv_freq(theta, dim, rope, cfg=None):
    """modeling_rope_utils (transformers 5.x; yarn's and longrope's rules as the 4.4x-4.5x releases share
    them for the configs the engine accepts): _compute_default/_linear_scaling/_llama3/_dynamic_ntk (the
    dynamic table equals the default one for sequences within original_max_position_embeddings), yarn and
    longrope (the short factors: sequences stay within the original length). Returns (inv_freq float32,
    attention_factor), the factor HF multiplies cos and sin by."""
    inv_freq = default_inv_freq(theta, dim)
    kind = rope["rope_type"]
    if kind in ("default", "dynamic"):
        return inv_freq, 1.0
    if kind == "linear":
        return inv_freq / rope["factor"], 1.0
    if kind == "llama3":
        factor = rope["factor"]
        low_freq_factor = rope["low_freq_factor"]
        high_freq_factor = rope["high_freq_factor"]
        old_context_len = rope["original_max_position_embeddings"]
        low_freq_wavelen = old_context_len / low_freq_factor
        high_freq_wavelen = old_context_len / high_freq_factor
        wavelen = 2 * math.pi / inv_freq
        inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
        smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
        is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama), 1.0
    exponents = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim
    if kind == "yarn":
        return yarn_inv_freq(theta, dim, rope, cfg["max_position_embeddings"], exponents)
    if kind == "longrope":
        # original length: the top-level key first (Phi3Config always has one, 4096 by default)
        original = cfg.get("original_max_position_embeddings") or (4096 if cfg.get("model_type") == "phi3" else None)
        original = original or rope.get("original_max_position_embeddings") or cfg["max_position_embeddings"]
        factor = rope.get("factor") or cfg["max_position_embeddings"] / original
        attention = rope.get("attention_factor")
        if attention is None:
            attention = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(original))
        short = torch.tensor(rope["short_factor"], dtype=torch.float32)
        return 1.0 / (short * theta ** exponents), attention
    raise ValueError("rope type %r is not supported" % kind)


def yarn_inv_freq(theta, dim, rope, max_positions, exponents):
    """_compute_yarn_parameters: the frequencies are ramped from extrapolated (kept) to interpolated
    (divided by factor) between the correction dims of beta_fast and beta_slow rotations over the
    original length; attention factor from attention_factor, else mscale / mscale_all_dim."""
    factor = rope["factor"]
    original = rope.get("original_max_position_embeddings") or max_positions

    def mscale_of(scale, m=1.0):
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    attention = rope.get("attention_factor")
    if attention is None:
        ms, ms_all = rope.get("mscale"), rope.get("mscale_all_dim")
        attention = mscale_of(factor, ms) / mscale_of(factor, ms_all) if ms and ms_all else mscale_of(factor)
    fast, slow = rope.get("beta_fast") or 32, rope.get("beta_slow") or 1

    def correction_dim(rotations):
        return dim * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(theta))

    lo, hi = correction_dim(fast), correction_dim(slow)
    if rope.get("truncate", True):
        lo, hi = math.floor(lo), math.ceil(hi)
    lo, hi = max(lo, 0), min(hi, dim - 1)
    if lo == hi:
        hi += 0.001
    ramp = ((torch.arange(dim // 2, dtype=torch.float32) - lo) / (hi - lo)).clamp(0, 1)
    keep = 1 - ramp                                   # weight of the extrapolated (unscaled) frequency
    powers = theta ** exponents
    inv = (1.0 / (factor * powers)) * (1 - keep) + (1.0 / powers) * keep
    return inv, attention


def rope_cos_sin(inv_freq, position_ids, dtype, attention_factor=1.0):
    """cos, sin [B, T, dim] of cat(freqs, freqs), freqs = position * inv_freq, times the rope type's
    attention factor (HF: cos() * attention_scaling)."""
    cdt = _compute_dtype(dtype)
    freqs = position_ids.to(cdt)[:, :, None] * inv_freq.to(cdt)[None, None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return (emb.cos() * attention_factor).to(dtype), (emb.sin() * attention_factor).to(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(q, k, cos, sin):
    """Rotates the first cos.shape[-1] dims of each head, the rest pass through (Phi-3's partial rotary,
    modular_phi3.apply_rotary_pos_emb; the whole head for the other families)."""
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    r = cos.shape[-1]

    def turn(x):
        x_rot = x[..., :r] * cos + rotate_half(x[..., :r]) * sin
        return torch.cat((x_rot, x[..., r:]), dim=-1) if r < x.shape[-1] else x_rot

    return turn(q), turn(k)


def repeat_kv(x, n_rep):
    b, h, t, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, h, n_rep, t, d).reshape(b, h * n_rep, t, d)


class LlamaAttention(nn.Module):
    def __init__(self, cfg, qkv_bias, o_bias, qk_norm=False):
        super().__init__()
        d = cfg["hidden_size"]
        self.n_head = cfg["num_attention_heads"]
        self.n_kv = cfg.get("num_key_value_heads") or self.n_head
        self.head_dim = cfg.get("head_dim") or d // self.n_head
        self.scaling = self.head_dim ** -0.5
        self.q_proj = nn.Linear(d, self.n_head * self.head_dim, bias=qkv_bias)
        self.k_proj = nn.Linear(d, self.n_kv * self.head_dim, bias=qkv_bias)
        self.v_proj = nn.Linear(d, self.n_kv * self.head_dim, bias=qkv_bias)
        self.o_proj = nn.Linear(self.n_head * self.head_dim, d, bias=o_bias)
        if qk_norm:  # Qwen3Attention: RMSNorm over head_dim, before the transpose and RoPE
            self.q_norm = RMSNorm(self.head_dim, cfg.get("rms_norm_eps", 1e-6))
            self.k_norm = RMSNorm(self.head_dim, cfg.get("rms_norm_eps", 1e-6))
        self.qk_norm = qk_norm

    def forward(self, x, cos, sin, allowed, cache=None, layer=0):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, -1, self.head_dim)
        k = self.k_proj(x).view(b, t, -1, self.head_dim)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = self.v_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, k, cos, sin)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        rep = self.n_head // self.n_kv
        y = attend(q, repeat_kv(k, rep), repeat_kv(v, rep), allowed, scale_mul=self.scaling)
        return self.o_proj(y.transpose(1, 2).reshape(b, t, -1))


class LlamaMLP(nn.Module):
    def __init__(self, cfg, bias):
        super().__init__()
        d, i = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = nn.Linear(d, i, bias=bias)
        self.up_proj = nn.Linear(d, i, bias=bias)
        self.down_proj = nn.Linear(i, d, bias=bias)
        if cfg.get("hidden_act", "silu") != "silu":
            raise ValueError("hidden_act %r is not supported (silu only)" % cfg.get("hidden_act"))

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, cfg, qkv_bias, o_bias, mlp_bias, qk_norm=False):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg.get("rms_norm_eps", 1e-6)
        self.self_attn = LlamaAttention(cfg, qkv_bias, o_bias, qk_norm)
        self.mlp = LlamaMLP(cfg, mlp_bias)
        self.input_layernorm = RMSNorm(d, eps)
        self.post_attention_layernorm = RMSNorm(d, eps)

    def forward(self, x, cos, sin, allowed, cache=None, layer=0):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, allowed, cache, layer)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, cfg, qkv_bias, o_bias, mlp_bias, qk_norm=False):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([LlamaDecoderLayer(cfg, qkv_bias, o_bias, mlp_bias, qk_norm)
                                     for _ in range(cfg["num_hidden_layers"])])
        self.norm = RMSNorm(cfg["hidden_size"], cfg.get("rms_norm_eps", 1e-6))


class LlamaForCausalLM(nn.Module):
    model_type = "llama"

    def __init__(self, cfg):
        super().__init__()
        self.config = dict(cfg)
        qkv_bias, o_bias, mlp_bias = self._biases(cfg)
        theta, rope = rope_settings(cfg)
        if self.model_type == "phi3" and rope["rope_type"] in ("su", "yarn"):
            rope["rope_type"] = "longrope"  # Phi3Config's legacy names
        if rope["rope_type"] not in ("default", "linear", "llama3", "dynamic", "yarn", "longrope"):
            raise ValueError("rope type %r is not supported" % rope["rope_type"])
        self.model = LlamaModel(cfg, qkv_bias, o_bias, mlp_bias, self.qk_norm)
        self.tied = bool(cfg.get("tie_word_embeddings", False))
        if not self.tied:
            self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)
        attn = self.model.layers[0].self_attn if len(self.model.layers) else None
        head_dim = attn.head_dim if attn else cfg["hidden_size"] // cfg["num_attention_heads"]
        # Kept as a plain float32 attribute (HF: a non-persistent float32 buffer), so that
        # model.to(dtype) does not round it; widened where it is used.
        self.inv_freq, self.attention_factor = scaled_inv_freq(theta, int(head_dim * self._rotary_fraction(cfg)), rope, cfg)
        self.layer_windows = self._layer_windows(cfg)

    qk_norm = False

    @staticmethod
    def _sliding_window(cfg):
        return None

    def _layer_windows(self, cfg):
        """The window of each layer (None: full causal attention); one for all by default."""
        return [self._sliding_window(cfg)] * cfg["num_hidden_layers"]

    @staticmethod
    def _biases(cfg):
        b = bool(cfg.get("attention_bias", False))
        return b, b, bool(cfg.get("mlp_bias", False))

    @staticmethod
    def _rotary_fraction(cfg):
        return 1.0

    @property
    def n_layers(self):
        return len(self.model.layers)

    def new_cache(self, batch, max_len, dtype=None):
        a = self.model.layers[0].self_attn
        w = self.model.embed_tokens.weight
        return KVCache(len(self.model.layers), batch, a.n_kv, max_len, a.head_dim, dtype or w.dtype, w.device)

    def forward(self, input_ids, attention_mask=None, cache=None, return_hidden=False):
        b, t = input_ids.shape
        past = cache.length if cache is not None else 0
        dev = input_ids.device
        x = self.model.embed_tokens(input_ids)
        pos = position_ids_for(attention_mask, past, t, b, dev)
        cos, sin = rope_cos_sin(self.inv_freq.to(dev), pos, x.dtype, self.attention_factor)
        # one mask per distinct window, as masking_utils builds one per layer type
        masks = {w: allowed_keys(attention_mask, past, t, dev, w) for w in set(self.layer_windows)}
        for i, layer in enumerate(self.model.layers):
            x = run_layer(self, layer, x, cos, sin, masks[self.layer_windows[i]], cache, i)
        if cache is not None:
            cache.length += t
        x = self.model.norm(x)
        if return_hidden:
            return x
        head = self.model.embed_tokens.weight if self.tied else self.lm_head.weight
        return F.linear(x, head)


def qwen_layer_windows(cfg):
    """Qwen2Config / Qwen3Config and Qwen2Attention: sliding_window is None unless use_sliding_window;
    layer_types, when absent, is "sliding_attention" for layers i >= max_window_layers (28) if a window
    is set; a sliding layer attends with sliding_window, a full one without. A sliding layer without a
    window has no mask in transformers (create_sliding_window_causal_mask needs one): refused."""
    n = cfg["num_hidden_layers"]
    window = cfg.get("sliding_window", 4096) if cfg.get("use_sliding_window", False) else None
    types = cfg.get("layer_types")
    if types is None:
        start = cfg.get("max_window_layers", 28)
        types = ["sliding_attention" if window is not None and i >= start else "full_attention" for i in range(n)]
    if len(types) != n or any(t not in ("sliding_attention", "full_attention") for t in types):
        raise ValueError("layer_types must list %d sliding_attention/full_attention entries" % n)
    if window is None and "sliding_attention" in types:
        raise ValueError("layer_types marks sliding layers but there is no sliding_window (use_sliding_window false or window null)")
    return [window if t == "sliding_attention" else None for t in types]


class Qwen2ForCausalLM(LlamaForCausalLM):
    """Qwen2 = Llama with biases on q_proj/k_proj/v_proj (not o_proj, not the MLP)."""
    model_type = "qwen2"

    @staticmethod
    def _biases(cfg):
        return True, False, False

    def _layer_windows(self, cfg):
        return qwen_layer_windows(cfg)


class MistralForCausalLM(LlamaForCausalLM):
    """Mistral = Llama without attention or MLP biases, with a sliding window on every layer
    (MistralAttention: sliding_window=config.sliding_window)."""
    model_type = "mistral"

    @staticmethod
    def _biases(cfg):
        return False, False, False

    @staticmethod
    def _sliding_window(cfg):
        return cfg.get("sliding_window", 4096)


class Qwen3ForCausalLM(LlamaForCausalLM):
    """Qwen3 = Llama with q_norm/k_norm (RMSNorm over head_dim before RoPE); attention_bias biases
    q/k/v/o; head_dim defaults to 128."""
    model_type = "qwen3"
    qk_norm = True

    @staticmethod
    def _biases(cfg):
        b = bool(cfg.get("attention_bias", False))
        return b, b, False

    def _layer_windows(self, cfg):
        return qwen_layer_windows(cfg)


class Phi3Attention(nn.Module):
    """modeling_phi3.Phi3Attention: qkv_proj rows are [q (H*hd) | k (KV*hd) | v (KV*hd)]; no biases."""

    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.n_head = cfg["num_attention_heads"]
        self.n_kv = cfg.get("num_key_value_heads") or self.n_head
        self.head_dim = cfg.get("head_dim") or d // self.n_head
        self.scaling = self.head_dim ** -0.5
        self.qkv_proj = nn.Linear(d, (self.n_head + 2 * self.n_kv) * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.n_head * self.head_dim, d, bias=False)

    def forward(self, x, cos, sin, allowed, cache=None, layer=0):
        b, t, _ = x.shape
        qkv = self.qkv_proj(x)
        qp, kp = self.n_head * self.head_dim, self.n_kv * self.head_dim
        q = qkv[..., :qp].view(b, t, -1, self.head_dim).transpose(1, 2)
        k = qkv[..., qp:qp + kp].view(b, t, -1, self.head_dim).transpose(1, 2)
        v = qkv[..., qp + kp:].view(b, t, -1, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, k, cos, sin)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        rep = self.n_head // self.n_kv
        y = attend(q, repeat_kv(k, rep), repeat_kv(v, rep), allowed, scale_mul=self.scaling)
        return self.o_proj(y.transpose(1, 2).reshape(b, t, -1))


class Phi3MLP(nn.Module):
    """modeling_phi3.Phi3MLP: gate, up = gate_up_proj(x).chunk(2); down(up * silu(gate))."""

    def __init__(self, cfg):
        super().__init__()
        d, i = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_up_proj = nn.Linear(d, 2 * i, bias=False)
        self.down_proj = nn.Linear(i, d, bias=False)

    def forward(self, x):
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(up * F.silu(gate))


class Phi3ForCausalLM(LlamaForCausalLM):
    """Phi-3 = Mistral (sliding_window on every layer when set; default None) with fused qkv_proj and
    gate_up_proj, longrope (Phi-3.5 / Phi-4-mini) and a partial rotary factor (Phi-4-mini: RoPE on the
    first int(head_dim * partial_rotary_factor) dims of each head)."""
    model_type = "phi3"

    def __init__(self, cfg):
        cfg = dict(cfg)
        cfg.setdefault("rms_norm_eps", 1e-5)  # Phi3Config's default
        super().__init__(cfg)
        for layer in self.model.layers:
            layer.self_attn = Phi3Attention(cfg)
            layer.mlp = Phi3MLP(cfg)

    @staticmethod
    def _biases(cfg):
        return False, False, False

    @staticmethod
    def _sliding_window(cfg):
        return cfg.get("sliding_window")

    @staticmethod
    def _rotary_fraction(cfg):
        return (cfg.get("rope_parameters") or {}).get("partial_rotary_factor", cfg.get("partial_rotary_factor", 1.0))


# ----------------------------------------------------------------------------------------------
# Gemma 1, 2 and 3 text (modeling_gemma.py, modeling_gemma2.py, modeling_gemma3.py)


class GemmaRMSNorm(nn.Module):
    """GemmaRMSNorm / Gemma2RMSNorm / Gemma3RMSNorm: x * rsqrt(mean(x^2) + eps) * (1 + weight), computed in
    (at least) float32."""

    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(d))
        self.eps = eps

    def forward(self, x):
        h = x.to(_compute_dtype(x.dtype))
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return (h * (1.0 + self.weight.to(h.dtype))).to(x.dtype)


def softcap(x, cap):
    return x if cap is None else torch.tanh(x / cap) * cap


def gemma_act(name):
    if name == "gelu":
        return lambda h: F.gelu(h)
    if name in ("gelu_pytorch_tanh", "gelu_new"):
        return gelu_new
    raise ValueError("hidden_activation %r is not supported" % name)


class Gemma2Attention(nn.Module):
    """scores = q k^T * query_pre_attn_scalar**-0.5 (Gemma 1: head_dim**-0.5), soft-capped (tanh) before
    the mask when a cap is set; Gemma 3 normalises each head's q and k ((1 + w) RMSNorm) before RoPE."""

    def __init__(self, cfg, sliding, version=2):
        super().__init__()
        d = cfg["hidden_size"]
        self.n_head = cfg["num_attention_heads"]
        self.n_kv = cfg.get("num_key_value_heads", 16 if version == 1 else 4)
        self.head_dim = cfg.get("head_dim", 256)
        self.scaling = (self.head_dim if version == 1 else cfg.get("query_pre_attn_scalar", 256)) ** -0.5
        self.cap = None if version == 1 else cfg.get("attn_logit_softcapping", 50.0 if version == 2 else None)
        self.sliding = sliding
        bias = cfg.get("attention_bias", False)
        self.q_proj = nn.Linear(d, self.n_head * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(d, self.n_kv * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(d, self.n_kv * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.n_head * self.head_dim, d, bias=bias)
        self.qk_norm = version == 3
        if self.qk_norm:
            self.q_norm = GemmaRMSNorm(self.head_dim, cfg.get("rms_norm_eps", 1e-6))
            self.k_norm = GemmaRMSNorm(self.head_dim, cfg.get("rms_norm_eps", 1e-6))

    def forward(self, x, cos, sin, allowed, cache=None, layer=0):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, -1, self.head_dim).transpose(1, 2)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = apply_rope(q, k, cos, sin)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        rep = self.n_head // self.n_kv
        k, v = repeat_kv(k, rep), repeat_kv(v, rep)
        scores = softcap(torch.matmul(q, k.transpose(-1, -2)) * self.scaling, self.cap)
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        probs = F.softmax(scores, dim=-1, dtype=_compute_dtype(scores.dtype)).to(v.dtype)
        return self.o_proj(torch.matmul(probs, v).transpose(1, 2).reshape(b, t, -1))


class Gemma2MLP(nn.Module):
    def __init__(self, cfg, act):
        super().__init__()
        d, i = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = nn.Linear(d, i, bias=False)
        self.up_proj = nn.Linear(d, i, bias=False)
        self.down_proj = nn.Linear(i, d, bias=False)
        self.act = gemma_act(act)

    def forward(self, x):
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


class Gemma2DecoderLayer(nn.Module):
    """Gemma 2/3: norms before and after attention and MLP. Gemma 1: Llama's two pre-norms
    (input_layernorm, post_attention_layernorm before the MLP)."""

    def __init__(self, cfg, sliding, version, act):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg.get("rms_norm_eps", 1e-6)
        self.self_attn = Gemma2Attention(cfg, sliding, version)
        self.mlp = Gemma2MLP(cfg, act)
        self.input_layernorm = GemmaRMSNorm(d, eps)
        self.post_attention_layernorm = GemmaRMSNorm(d, eps)
        self.sandwich = version != 1
        if self.sandwich:
            self.pre_feedforward_layernorm = GemmaRMSNorm(d, eps)
            self.post_feedforward_layernorm = GemmaRMSNorm(d, eps)

    def forward(self, x, cos, sin, allowed, cache=None, layer=0):
        y = self.self_attn(self.input_layernorm(x), cos, sin, allowed, cache, layer)
        if not self.sandwich:
            x = x + y
            return x + self.mlp(self.post_attention_layernorm(x))
        x = x + self.post_attention_layernorm(y)
        return x + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(x)))


class Gemma2Model(nn.Module):
    def __init__(self, cfg, layer_types, version, act):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([Gemma2DecoderLayer(cfg, t == "sliding_attention", version, act) for t in layer_types])
        self.norm = GemmaRMSNorm(cfg["hidden_size"], cfg.get("rms_norm_eps", 1e-6))


def gemma3_ropes(cfg):
    """Gemma3TextConfig: the full layers' rope (rope_theta, 1e6 by default, and rope_scaling) and the
    sliding layers' default rope over rope_local_base_freq (10000); in the 5.x layout both sit in
    rope_parameters under their layer type."""
    nested = cfg.get("rope_parameters")
    if nested:
        full = dict(nested.get("full_attention") or {})
        full.setdefault("rope_theta", cfg.get("rope_theta", 1e6))
        local = float((nested.get("sliding_attention") or {}).get("rope_theta", cfg.get("rope_local_base_freq", 10000.0)))
    else:
        full = dict(cfg.get("rope_scaling") or {})
        full["rope_theta"] = cfg.get("rope_theta", 1e6)
        local = float(cfg.get("rope_local_base_freq", 10000.0))
    full["rope_type"] = full.get("rope_type") or full.get("type") or "default"
    return float(full["rope_theta"]), full, local


class Gemma2ForCausalLM(nn.Module):
    model_type = "gemma2"
    version = 2

    def __init__(self, cfg):
        super().__init__()
        self.config = dict(cfg)
        v = self.version
        n = cfg["num_hidden_layers"]
        if v == 1:
            layer_types = ["full_attention"] * n
            act = cfg.get("hidden_act") or "gelu_pytorch_tanh"  # modeling_gemma.GemmaMLP (>= 4.48)
        else:
            every = 2 if v == 2 else cfg.get("sliding_window_pattern", 6)
            layer_types = cfg.get("layer_types") or [
                "sliding_attention" if (i + 1) % every else "full_attention" for i in range(n)]
            act = cfg.get("hidden_activation") or "gelu_pytorch_tanh"
            if cfg.get("use_bidirectional_attention"):
                raise ValueError("bidirectional attention is not supported")
        self.model = Gemma2Model(cfg, layer_types, v, act)
        self.tied = bool(cfg.get("tie_word_embeddings", True))
        if not self.tied:
            self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)
        self.head_dim = cfg.get("head_dim", 256)
        if v == 3:
            theta, rope, local = gemma3_ropes(cfg)
            self.inv_freq, self.attention_factor = scaled_inv_freq(theta, self.head_dim, rope, cfg)
            self.local_inv_freq = default_inv_freq(local, self.head_dim)
        else:
            theta, rope = rope_settings(cfg)
            self.inv_freq, self.attention_factor = scaled_inv_freq(theta, self.head_dim, rope, cfg)
            self.local_inv_freq = None
        self.window = None if v == 1 else cfg.get("sliding_window", 4096)
        self.final_cap = None if v == 1 else cfg.get("final_logit_softcapping", 30.0 if v == 2 else None)
        self.n_kv = cfg.get("num_key_value_heads", 16 if v == 1 else 4)

    @property
    def n_layers(self):
        return len(self.model.layers)

    def new_cache(self, batch, max_len, dtype=None):
        w = self.model.embed_tokens.weight
        return KVCache(self.n_layers, batch, self.n_kv, max_len, self.head_dim, dtype or w.dtype, w.device)

    def forward(self, input_ids, attention_mask=None, cache=None, return_hidden=False):
        b, t = input_ids.shape
        past = cache.length if cache is not None else 0
        dev = input_ids.device
        x = self.model.embed_tokens(input_ids)
        x = x * torch.tensor(self.config["hidden_size"] ** 0.5, dtype=x.dtype)
        pos = position_ids_for(attention_mask, past, t, b, dev)
        cos, sin = rope_cos_sin(self.inv_freq.to(dev), pos, x.dtype, self.attention_factor)
        local = (cos, sin) if self.local_inv_freq is None else rope_cos_sin(self.local_inv_freq.to(dev), pos, x.dtype)
        full = allowed_keys(attention_mask, past, t, dev)
        sliding = allowed_keys(attention_mask, past, t, dev, self.window)
        for i, layer in enumerate(self.model.layers):
            s = layer.self_attn.sliding
            lc, ls = local if s else (cos, sin)
            x = layer(x, lc, ls, sliding if s else full, cache, i)
        if cache is not None:
            cache.length += t
        x = self.model.norm(x)
        if return_hidden:
            return x
        head = self.model.embed_tokens.weight if self.tied else self.lm_head.weight
        return softcap(F.linear(x, head), self.final_cap)


class GemmaForCausalLM(Gemma2ForCausalLM):
    """Gemma 1: GeGLU from hidden_act, (1 + w) norms, sqrt(d) embedding scale, scores * head_dim**-0.5,
    no soft-caps or windows, two norms per layer."""
    model_type = "gemma"
    version = 1


class Gemma3ForCausalLM(Gemma2ForCausalLM):
    """Gemma 3 text: Gemma 2 with q/k norms, a local rope for sliding layers, soft-caps off by default and
    five sliding layers to one full (sliding_window_pattern 6) when layer_types is absent."""
    model_type = "gemma3_text"
    version = 3


# ----------------------------------------------------------------------------------------------
# GPT-NeoX / Pythia (modeling_gpt_neox.py)


class GPTNeoXAttention(nn.Module):
    """query_key_value viewed [B, T, H, 3*hd]: q, k, v are consecutive hd-slices of each head.
    RoPE on the first rotary_ndims = int(hd * rotary_pct) dims of q and k; the rest pass through.
    Scores * hd**-0.5 (norm_factor)."""

    def __init__(self, cfg, rotary_ndims, bias):
        super().__init__()
        d = cfg["hidden_size"]
        self.n_head = cfg["num_attention_heads"]
        self.head_dim = d // self.n_head
        self.rotary_ndims = rotary_ndims
        self.query_key_value = nn.Linear(d, 3 * d, bias=bias)
        self.dense = nn.Linear(d, d, bias=bias)

    def forward(self, x, cos, sin, allowed, cache=None, layer=0):
        b, t, _ = x.shape
        qkv = self.query_key_value(x).view(b, t, self.n_head, 3 * self.head_dim).transpose(1, 2)
        q, k, v = qkv.chunk(3, dim=-1)
        r = self.rotary_ndims
        q_rot, k_rot = apply_rope(q[..., :r], k[..., :r], cos, sin)
        q = torch.cat((q_rot, q[..., r:]), dim=-1)
        k = torch.cat((k_rot, k[..., r:]), dim=-1)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        y = attend(q, k, v, allowed, scale_mul=self.head_dim ** -0.5)
        return self.dense(y.transpose(1, 2).reshape(b, t, -1))


class GPTNeoXMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(cfg["hidden_size"], cfg["intermediate_size"])
        self.dense_4h_to_h = nn.Linear(cfg["intermediate_size"], cfg["hidden_size"])
        act = cfg.get("hidden_act", "gelu")
        if act == "gelu":
            self.act = lambda h: F.gelu(h)            # GELUActivation: exact erf form
        elif act in ("gelu_new", "gelu_pytorch_tanh"):
            self.act = gelu_new                        # both are the tanh approximation
        else:
            raise ValueError("hidden_act %r is not supported" % act)

    def forward(self, x):
        return self.dense_4h_to_h(self.act(self.dense_h_to_4h(x)))


class GPTNeoXLayer(nn.Module):
    """use_parallel_residual: x + attn(ln1(x)) + mlp(ln2(x)); otherwise h = x + attn(ln1(x)),
    h + mlp(ln2(h))."""

    def __init__(self, cfg, rotary_ndims):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg.get("layer_norm_eps", 1e-5)
        self.use_parallel_residual = cfg.get("use_parallel_residual", True)
        self.input_layernorm = nn.LayerNorm(d, eps=eps)
        self.post_attention_layernorm = nn.LayerNorm(d, eps=eps)
        self.attention = GPTNeoXAttention(cfg, rotary_ndims, cfg.get("attention_bias", True))
        self.mlp = GPTNeoXMLP(cfg)

    def forward(self, x, cos, sin, allowed, cache=None, layer=0):
        attn = self.attention(self.input_layernorm(x), cos, sin, allowed, cache, layer)
        if self.use_parallel_residual:
            return self.mlp(self.post_attention_layernorm(x)) + attn + x
        h = attn + x
        return self.mlp(self.post_attention_layernorm(h)) + h


class GPTNeoXModel(nn.Module):
    def __init__(self, cfg, rotary_ndims):
        super().__init__()
        self.embed_in = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([GPTNeoXLayer(cfg, rotary_ndims) for _ in range(cfg["num_hidden_layers"])])
        self.final_layer_norm = nn.LayerNorm(cfg["hidden_size"], eps=cfg.get("layer_norm_eps", 1e-5))


def neox_rope_settings(cfg):
    """GPTNeoXConfig.convert_rope_params_to_dict: rope_parameters (5.x) or rope_scaling (4.x), with
    rope_theta defaulting to rotary_emb_base and partial_rotary_factor to rotary_pct (0.25)."""
    rope = dict(cfg.get("rope_parameters") or cfg.get("rope_scaling") or {})
    theta = float(rope.get("rope_theta", cfg.get("rope_theta", cfg.get("rotary_emb_base", 10000.0))))
    partial = float(rope.get("partial_rotary_factor", cfg.get("partial_rotary_factor", cfg.get("rotary_pct", 0.25))))
    rope["rope_type"] = rope.get("rope_type") or rope.get("type") or "default"
    return theta, partial, rope


class GPTNeoXForCausalLM(nn.Module):
    model_type = "gpt_neox"

    def __init__(self, cfg):
        super().__init__()
        self.config = dict(cfg)
        theta, partial, rope = neox_rope_settings(cfg)
        head_dim = cfg["hidden_size"] // cfg["num_attention_heads"]
        rotary_ndims = int(head_dim * partial)
        self.gpt_neox = GPTNeoXModel(cfg, rotary_ndims)
        self.tied = bool(cfg.get("tie_word_embeddings", False))
        if not self.tied:
            self.embed_out = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)
        self.inv_freq, self.attention_factor = scaled_inv_freq(theta, rotary_ndims, rope, cfg)
        self.head_dim = head_dim

    @property
    def n_layers(self):
        return len(self.gpt_neox.layers)

    def new_cache(self, batch, max_len, dtype=None):
        w = self.gpt_neox.embed_in.weight
        return KVCache(self.n_layers, batch, self.config["num_attention_heads"], max_len, self.head_dim, dtype or w.dtype, w.device)

    def forward(self, input_ids, attention_mask=None, cache=None, return_hidden=False):
        b, t = input_ids.shape
        past = cache.length if cache is not None else 0
        dev = input_ids.device
        x = self.gpt_neox.embed_in(input_ids)
        pos = position_ids_for(attention_mask, past, t, b, dev)
        cos, sin = rope_cos_sin(self.inv_freq.to(dev), pos, x.dtype, self.attention_factor)
        allowed = allowed_keys(attention_mask, past, t, dev)
        for i, layer in enumerate(self.gpt_neox.layers):
            x = layer(x, cos, sin, allowed, cache, i)
        if cache is not None:
            cache.length += t
        x = self.gpt_neox.final_layer_norm(x)
        if return_hidden:
            return x
        head = self.gpt_neox.embed_in.weight if self.tied else self.embed_out.weight
        return F.linear(x, head)


ARCHITECTURES = {"gpt2": GPT2LMHeadModel, "llama": LlamaForCausalLM, "qwen2": Qwen2ForCausalLM,
                 "mistral": MistralForCausalLM, "qwen3": Qwen3ForCausalLM, "phi3": Phi3ForCausalLM,
                 "gemma": GemmaForCausalLM, "gemma2": Gemma2ForCausalLM, "gemma3_text": Gemma3ForCausalLM,
                 "gpt_neox": GPTNeoXForCausalLM}


def build_model(cfg):
    mt = cfg.get("model_type")
    if mt not in ARCHITECTURES:
        raise ValueError("unsupported model_type %r; supported: %s" % (mt, ", ".join(sorted(ARCHITECTURES))))
    return ARCHITECTURES[mt](cfg)


def is_norm_weight(name):
    """LayerNorm / RMSNorm scale parameters (initialised near 1 in the fixtures)."""
    return name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight", "layernorm.weight", "norm.weight",
                          "final_layer_norm.weight", "feedforward_layernorm.weight"))


# ----------------------------------------------------------------------------------------------
# Greedy generation (used by bench_generate.py and the fixture checks)


@torch.no_grad()
def greedy_generate(model, input_ids, new_tokens, attention_mask=None, use_cache=True):
    """Greedy decoding. Returns (tokens [B, new_tokens], per-step logits [B, new_tokens, V]).

    With use_cache, the prompt is run once (prefill) and each new token is one forward of
    length 1 against the KV cache; without it, every step recomputes the whole sequence."""
    b, t = input_ids.shape
    ids, mask = input_ids, attention_mask
    out_tokens, out_logits = [], []
    cache = model.new_cache(b, t + new_tokens) if use_cache else None
    step_in = ids
    for _ in range(new_tokens):
        if use_cache:
            logits = model(step_in, attention_mask=mask, cache=cache)[:, -1]
        else:
            logits = model(ids, attention_mask=mask)[:, -1]
        nxt = logits.argmax(-1, keepdim=True)
        out_tokens.append(nxt)
        out_logits.append(logits)
        ids = torch.cat([ids, nxt], dim=1)
        if mask is not None:
            mask = torch.cat([mask, torch.ones_like(nxt, dtype=mask.dtype)], dim=1)
        step_in = nxt
    return torch.cat(out_tokens, dim=1), torch.stack(out_logits, dim=1)


# ----------------------------------------------------------------------------------------------
# Hugging Face folders: safetensors (stdlib parsing), config.json, sharded index

ST_DTYPES = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2),
             "F64": (torch.float64, 8)}


def read_safetensors(path):
    """{name: float32 tensor} from a .safetensors file (F32/F16/BF16/F64)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError("%s: header length %d exceeds the file" % (path, n))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = info["dtype"]
        if dt not in ST_DTYPES:
            raise ValueError("%s: tensor %r has unsupported dtype %s" % (path, name, dt))
        tdtype, size = ST_DTYPES[dt]
        start, end = info["data_offsets"]
        count = 1
        for s in info["shape"]:
            count *= s
        if end - start != count * size or end > len(body):
            raise ValueError("%s: tensor %r has bad data_offsets" % (path, name))
        buf = bytearray(body[start:end])
        t = torch.frombuffer(buf, dtype=tdtype) if count else torch.empty(0, dtype=tdtype)
        out[name] = t.reshape(info["shape"]).to(torch.float32).clone()
    return out


def write_safetensors(path, tensors):
    """{name: tensor} -> F32 safetensors in the canonical layout (metadata {"format": "pt"})."""
    raw = {}
    for name, t in tensors.items():
        t = t.detach().to(torch.float32).contiguous().cpu()
        vals = t.reshape(-1).tolist()
        raw[name] = ("F32", list(t.shape), struct.pack("<%df" % len(vals), *vals))
    with open(path, "wb") as f:
        f.write(serialize(raw, {"format": "pt"}))


def read_folder_tensors(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    single = os.path.join(folder, "model.safetensors")
    if os.path.exists(single):
        return read_safetensors(single)
    if os.path.exists(index):
        with open(index, encoding="utf-8") as f:
            weight_map = json.load(f)["weight_map"]
        out = {}
        for shard in sorted(set(weight_map.values())):
            tensors = read_safetensors(os.path.join(folder, shard))
            for name, t in tensors.items():
                if weight_map.get(name) == shard:
                    out[name] = t
        missing = [n for n in weight_map if n not in out]
        if missing:
            raise ValueError("%s: index names tensors missing from their shards: %s" % (folder, ", ".join(missing)))
        return out
    raise FileNotFoundError("%s has neither model.safetensors nor model.safetensors.index.json" % folder)


def _normalise_names(model, tensors):
    """Map checkpoint names onto the model's: GPT-2 checkpoints saved from GPT2Model (e.g. the
    Hub's gpt2) lack the "transformer." prefix and may carry attn.bias / attn.masked_bias
    buffers; a tied model ignores a stored lm_head.weight."""
    out = {}
    gpt2 = isinstance(model, GPT2LMHeadModel)
    for name, t in tensors.items():
        if gpt2 and (name.endswith(".attn.bias") or name.endswith(".attn.masked_bias")):
            continue
        if gpt2 and not name.startswith("transformer.") and name not in ("lm_head.weight", "score.weight"):
            name = "transformer." + name
        out[name] = t
    tied = gpt2 or getattr(model, "tied", False)
    if tied:
        out.pop("lm_head.weight", None)
    return out


LM_HEADS = ("lm_head.weight", "embed_out.weight")


def is_sequence_classifier(cfg):
    return any(a.endswith("ForSequenceClassification") for a in cfg.get("architectures") or [])


def load_folder(folder, dtype=torch.float64):
    """Build the reference model for a Hugging Face folder and load its weights (as dtype).
    A *ForSequenceClassification folder holds the trunk and score.weight [num_labels, d] and no LM
    head; its model gets `score` (nn.Linear without bias) and no head parameters."""
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    model = build_model(cfg)
    tensors = _normalise_names(model, read_folder_tensors(folder))
    if is_sequence_classifier(cfg):
        for head in LM_HEADS:
            if hasattr(model, head.split(".")[0]):
                delattr(model, head.split(".")[0])
        score = tensors.get("score.weight")
        if score is None:
            raise ValueError("%s: a sequence-classification folder needs score.weight" % folder)
        model.score = nn.Linear(score.shape[1], score.shape[0], bias=False)
    params = dict(model.named_parameters())
    missing = [n for n in params if n not in tensors]
    unexpected = [n for n in tensors if n not in params]
    bad = ["%s %s (expected %s)" % (n, list(tensors[n].shape), list(p.shape))
           for n, p in params.items() if n in tensors and tuple(tensors[n].shape) != tuple(p.shape)]
    if missing or unexpected or bad:
        raise ValueError("%s (%s): missing tensors: %s; unexpected tensors: %s; mis-shaped tensors: %s"
                         % (folder, cfg.get("model_type"), ", ".join(missing) or "none",
                            ", ".join(unexpected) or "none", "; ".join(bad) or "none"))
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(tensors[n])
    model.to(dtype)
    model.eval()
    return model, cfg


def sequence_scores(model, input_ids, attention_mask, pad_token_id):
    """*ForSequenceClassification's logits [B, num_labels]: score(hidden) at the rightmost token that is
    not pad_token_id (transformers >= 4.48: (arange(T) * (ids != pad)).argmax(-1))."""
    hidden = model(input_ids, attention_mask=attention_mask, return_hidden=True)
    logits = model.score(hidden)
    if pad_token_id is None:  # transformers: one row scores at its last token; a batch is refused
        if input_ids.shape[0] != 1:
            raise ValueError("Cannot handle batch sizes > 1 if no padding token is defined.")
        return logits[:, -1]
    non_pad = (input_ids != pad_token_id).int()
    last = (torch.arange(input_ids.shape[-1]) * non_pad).argmax(-1)
    return logits[torch.arange(input_ids.shape[0]), last]


def save_config(folder, cfg):
    """transformers' PretrainedConfig.to_json_file: indent 2, sorted keys, final newline."""
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def hf_state_dict(model):
    """Parameters under their HF names, as save_pretrained writes them (tied head omitted)."""
    return {n: p.detach() for n, p in model.named_parameters()}
