"""Shared pieces of bench_lm.py and bench_generate.py: model construction, thread setup, FLOP counts."""

import json
import sys

try:
    import torch
except ImportError:
    sys.stderr.write("PyTorch is not importable by %s.\n"
                     "Debian/Ubuntu: sudo apt-get install python3-torch libopenblas0-pthread "
                     "(then run it with /usr/bin/python3), or pip install torch.\n" % sys.executable)
    sys.exit(3)

from hf_models import build_model, is_norm_weight  # noqa: E402


def add_model_args(ap):
    ap.add_argument("--arch", choices=["gpt2", "llama"], default="gpt2")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--kv-heads", type=int, default=None, help="llama only (default: --heads)")
    ap.add_argument("--intermediate", type=int, default=None,
                    help="MLP width (default: 4*d for gpt2, 8*d/3 rounded up to a multiple of 32 for llama)")
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: leave torch's default alone)")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    ap.add_argument("--seed", type=int, default=0)


def setup_threads(args):
    default = torch.get_num_threads()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    return default


def blas_threads():
    """OpenBLAS's thread count, if torch's BLAS is an OpenBLAS loaded in this process."""
    try:
        import ctypes
        return int(ctypes.CDLL("libopenblas.so.0").openblas_get_num_threads())
    except (OSError, AttributeError):
        return None


def make_config(args, max_len):
    if args.arch == "gpt2":
        return {"model_type": "gpt2", "vocab_size": args.vocab, "n_positions": max(1024, max_len),
                "n_embd": args.d, "n_layer": args.layers, "n_head": args.heads,
                "n_inner": args.intermediate, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"}
    inter = args.intermediate or -(-8 * args.d // 3 // 32) * 32
    return {"model_type": "llama", "vocab_size": args.vocab, "hidden_size": args.d, "intermediate_size": inter,
            "num_hidden_layers": args.layers, "num_attention_heads": args.heads,
            "num_key_value_heads": args.kv_heads or args.heads, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
            "max_position_embeddings": max(2048, max_len), "tie_word_embeddings": False}


def make_model(args, max_len):
    """Random float32 model, HF-style init: N(0, 0.02) weights and embeddings, zero biases, unit norms."""
    cfg = make_config(args, max_len)
    torch.manual_seed(args.seed)
    model = build_model(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if is_norm_weight(name):
                p.fill_(1.0)
            elif name.endswith(".bias"):
                p.zero_()
            else:
                p.normal_(0.0, 0.02)
    return model.to(args.device), cfg


def matmul_params(model, cfg):
    """Weights that take part in a matmul per token: every 2-D weight inside the blocks, plus the
    LM head (d x V, counted even when tied to the embedding). Embedding lookups are not matmuls."""
    n = 0
    for name, p in model.named_parameters():
        if p.dim() == 2 and not name.endswith(("wte.weight", "wpe.weight", "embed_tokens.weight", "lm_head.weight")):
            n += p.numel()
    return n + cfg["vocab_size"] * (cfg.get("n_embd") or cfg.get("hidden_size"))


def emit(obj):
    print(json.dumps(obj))
    sys.stdout.flush()
