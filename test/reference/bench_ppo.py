"""PyTorch eager baseline for `rrlhf bench ppo`: the same PPO iteration as engine/rlhf/ppo.ts, timed.

One iteration on a GPT-2 or Llama policy (hf_models.py, random HF-style weights) with a value head on
its trunk and a frozen reference copy; with --lora R the policy is the frozen base plus hand-written LoRA
adapters (as PEFT's lora.Linear: y = base(x) + (alpha/r) * B(A(x)), A kaiming-uniform, B zero, alpha 2r,
dropout 0) on the engine's bench targets (c_attn for GPT-2, q_proj + v_proj for Llama), and the
reference is the same modules with the adapters switched off (no second copy):
  1. rollout: sample new_tokens per prompt with a KV cache (temperature 1, multinomial);
  2. score: one no-grad forward of the policy (log-probs of the sampled tokens, values) and one of the
     reference (log-probs); the reward is the fraction of token 7 in the response (as the engine's bench);
  3. per-token rewards -kl_coef*(logp - ref_logp), plus the clipped score at the last token;
     GAE (gamma 1, lambda 0.95), returns, advantage whitening over response tokens;
  4. epochs x mini_batches updates: clipped policy loss + 0.5 * clipped value loss, entropy computed as a
     diagnostic, clip_grad_norm_(1.0), AdamW (lr 1e-4, no weight decay).
Layout as the engine's: prompts (all the same length here) followed by responses; per-token arrays over
the response positions only, as engine/rlhf/ppo.ts computes them (--head-positions all: over every logit
position t = 0..L-2, as TRL's PPOTrainer computes the logits and slices them afterwards).

Run:  /usr/bin/python3 test/reference/bench_ppo.py [--arch gpt2|llama --layers 2 --d 64 --heads 4 --vocab 26] \\
          [--kv-heads K --intermediate I] [--batch 64 --prompt-len 2 --new-tokens 13 --epochs 4 --mini-batches 2 \\
          --iterations 5] [--lora R]
Prints one JSON line: {name, impl, torch_version, threads, config, lora, ms_per_step, ms_per_iteration,
ms_rollout, ms_score, ms_train, peak_memory_mb, peak_memory_source, peak_memory_mb_by_phase,
memory_mb_by_iteration} — per-phase peaks as the engine's bench reports them (PhaseMemory below).
"""

import argparse
import contextlib
import copy
import math
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import add_model_args, blas_threads, emit, make_model, setup_threads, torch  # noqa: E402
from hf_models import Conv1D  # noqa: E402

F = torch.nn.functional
LORA_TARGETS = {"gpt2": ["c_attn"], "llama": ["q_proj", "v_proj"]}  # engine/bench/ppo.ts benchLoraTargets


class LoraLinear(torch.nn.Module):
    """A frozen nn.Linear / Conv1D plus a LoRA adapter: base(x) + scale * (x A^T) B^T while `on`."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        w = base.weight
        fan_in, fan_out = (w.shape[0], w.shape[1]) if isinstance(base, Conv1D) else (w.shape[1], w.shape[0])
        self.lora_A = torch.nn.Parameter(torch.empty(r, fan_in, device=w.device))
        torch.nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # PEFT's default init of A
        self.lora_B = torch.nn.Parameter(torch.zeros(fan_out, r, device=w.device))
        self.scale = alpha / r
        self.on = True

    def forward(self, x):
        y = self.base(x)
        return y + self.scale * F.linear(F.linear(x, self.lora_A), self.lora_B) if self.on else y


def add_lora(model, targets, r, alpha):
    """Freezes the model and wraps every module whose path is a target or ends with "." + target."""
    for prm in model.parameters():
        prm.requires_grad_(False)
    wrapped = []
    for name, mod in list(model.named_modules()):
        for cname, child in list(mod.named_children()):
            path = "%s.%s" % (name, cname) if name else cname
            if any(path == t or path.endswith("." + t) for t in targets):
                lora = LoraLinear(child, r, alpha)
                setattr(mod, cname, lora)
                wrapped.append(lora)
    return wrapped


def set_adapters(wrapped, on):
    for w in wrapped:
        w.on = on


def trunk(model, ids, mask):
    """The causal LM's forward without the LM head: final hidden states [B, L, d]."""
    return model(ids, attention_mask=mask, return_hidden=True)


def lm_head(model):
    if hasattr(model, "transformer"):
        return model.transformer.wte.weight  # GPT-2: tied
    return model.model.embed_tokens.weight if model.tied else model.lm_head.weight


def next_token_logprobs(model, hidden, ids, start):
    """Log-probs of tokens start+1.. from positions start..L-2 (start 0: every position, as TRL computes them)."""
    logits = F.linear(hidden[:, start:-1], lm_head(model))
    logp = F.log_softmax(logits, -1).gather(-1, ids[:, start + 1:].unsqueeze(-1)).squeeze(-1)
    return logp, logits


@torch.no_grad()
def rollout(model, prompts, new_tokens, gen):
    b, p = prompts.shape
    cache = model.new_cache(b, p + new_tokens)
    logits = model(prompts, cache=cache)[:, -1]
    out = []
    for i in range(new_tokens):
        probs = F.softmax(logits, -1)
        tok = torch.multinomial(probs, 1, generator=gen)
        out.append(tok)
        if i + 1 < new_tokens:
            logits = model(tok, cache=cache)[:, -1]
    return torch.cat(out, 1)


def gae(rewards, values, resp_mask, gamma=1.0, lam=0.95):
    b, t = rewards.shape
    adv = torch.zeros_like(rewards)
    last = torch.zeros(b, device=rewards.device)
    next_value = torch.zeros(b, device=rewards.device)
    for i in reversed(range(t)):
        m = resp_mask[:, i]
        delta = rewards[:, i] + gamma * next_value - values[:, i]
        last = torch.where(m > 0, delta + gamma * lam * last, last)
        adv[:, i] = torch.where(m > 0, last, torch.zeros_like(last))
        next_value = torch.where(m > 0, values[:, i], next_value)
    return adv, adv + values


class PhaseMemory:
    """Peak RSS per phase, as engine/bench/phase-memory.ts measures it: writing "5" to /proc/self/clear_refs
    resets the high-water mark (VmHWM) to the current RSS, so reading VmHWM at a phase's end gives that
    phase's peak. ru_maxrss reads the same mark, so the whole run's peak is carried here. None where
    /proc is absent (the reason in `unavailable`)."""

    def __init__(self):
        self.iterations, self.current, self.unavailable = [], None, None
        try:
            self.overall_kb = self._kb("VmHWM")
            self._reset()
        except OSError as e:
            self.unavailable = "no per-phase peaks: %s" % e

    @staticmethod
    def _kb(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise OSError("/proc/self/status has no %s line" % key)

    @staticmethod
    def _reset():
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")

    def iteration(self):
        if self.unavailable is None:
            self.end()
            self.iterations.append({})

    def begin(self, phase):
        if self.unavailable is None:
            self.end()
            self._reset()
            self.current = (phase, self._kb("VmRSS"))

    def end(self):
        if self.unavailable is None and self.current:
            hwm = self._kb("VmHWM")
            self.overall_kb = max(self.overall_kb, hwm)
            self.iterations[-1][self.current[0]] = {"start_mb": self.current[1] / 1024, "peak_mb": hwm / 1024}
            self.current = None

    def overall_mb(self):
        return max(self.overall_kb, self._kb("VmHWM")) / 1024

    def peaks(self):
        out = {}
        for rec in self.iterations:
            for k, v in rec.items():
                out[k] = max(out.get(k, 0), v["peak_mb"])
        return out


def masked_mean(x, m):
    return (x * m).sum() / m.sum().clamp(min=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model_args(ap)
    ap.set_defaults(layers=2, d=64, heads=4, vocab=26)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--prompt-len", type=int, default=2)
    ap.add_argument("--new-tokens", type=int, default=13)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--mini-batches", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--kl-coef", type=float, default=0.05)
    ap.add_argument("--lora", type=int, default=None, help="LoRA rank (alpha 2r) on the bench targets; default: full fine-tuning")
    ap.add_argument("--gradient-checkpointing", action="store_true", help="recompute each policy layer in the update's backward pass")
    ap.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32",
                    help="bf16/fp16: the iteration under torch.autocast (fp16 with GradScaler), the engine's --precision")
    ap.add_argument("--head-positions", choices=["response", "all"], default="response",
                    help="which positions go through the LM and value heads: the response's (the engine's work) or all (TRL's)")
    args = ap.parse_args()
    head_start = args.prompt_len - 1 if args.head_positions == "response" else 0

    default_threads = setup_threads(args)
    policy, cfg = make_model(args, args.prompt_len + args.new_tokens + 8)
    dev = args.device
    if args.lora:
        adapters = add_lora(policy, LORA_TARGETS[args.arch], args.lora, 2 * args.lora)
        ref = policy  # the base with adapters off, switched around its forwards below
    else:
        adapters = []
        ref = copy.deepcopy(policy).eval()
        for prm in ref.parameters():
            prm.requires_grad_(False)
    policy.gradient_checkpointing = args.gradient_checkpointing
    v_head = torch.nn.Linear(args.d, 1).to(dev)
    params = [p for p in policy.parameters() if p.requires_grad] + list(v_head.parameters())
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    cpu_gen = torch.Generator().manual_seed(args.seed + 1)
    gen = torch.Generator(device=dev).manual_seed(args.seed + 1)
    prompts = torch.randint(0, args.vocab, (args.batch, args.prompt_len), generator=cpu_gen).to(dev)
    target = 7 % args.vocab
    sync = torch.cuda.synchronize if dev.startswith("cuda") else (lambda: None)
    half = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.precision)
    device_type = "cuda" if dev.startswith("cuda") else "cpu"
    autocast = (lambda: torch.autocast(device_type, dtype=half)) if half else contextlib.nullcontext
    scaler = torch.cuda.amp.GradScaler() if args.precision == "fp16" else None

    mem = PhaseMemory()

    def iteration():
        t0 = time.perf_counter()
        mem.iteration()
        mem.begin("rollout")
        policy.eval()
        with autocast():
            resp = rollout(policy, prompts, args.new_tokens, gen)
        sync()
        t1 = time.perf_counter()
        mem.begin("score")
        ids = torch.cat([prompts, resp], 1)
        mask = torch.ones_like(ids)
        b, L = ids.shape
        resp_mask = torch.zeros(b, L - 1 - head_start, device=dev)
        resp_mask[:, args.prompt_len - 1 - head_start:] = 1
        with torch.no_grad(), autocast():
            h = trunk(policy, ids, mask)
            old_logp, _ = next_token_logprobs(policy, h, ids, head_start)
            values = v_head(h[:, head_start:-1]).squeeze(-1).float()
            set_adapters(adapters, False)
            ref_logp, _ = next_token_logprobs(ref, trunk(ref, ids, mask), ids, head_start)
            set_adapters(adapters, True)
        scores = (resp == target).float().mean(1).clamp(-10, 10)
        sync()
        t2 = time.perf_counter()
        mem.begin("train")
        rewards = -args.kl_coef * (old_logp - ref_logp) * resp_mask
        rewards[:, -1] += scores
        adv, ret = gae(rewards, values, resp_mask)
        mean = masked_mean(adv, resp_mask)
        var = masked_mean((adv - mean) ** 2, resp_mask)
        adv = (adv - mean) * torch.rsqrt(var + 1e-8) * resp_mask
        policy.train()
        mb = b // args.mini_batches
        for _ in range(args.epochs):
            order = torch.randperm(b, generator=cpu_gen).to(dev)
            for s in range(0, b - mb + 1, mb):
                rows = order[s:s + mb]
                with autocast():
                    h = trunk(policy, ids[rows], mask[rows])
                    logp, logits = next_token_logprobs(policy, h, ids[rows], head_start)
                    v = v_head(h[:, head_start:-1]).squeeze(-1).float()
                logp = logp.float()
                m = resp_mask[rows]
                ratio = torch.exp(logp - old_logp[rows])
                pg = torch.max(-adv[rows] * ratio, -adv[rows] * ratio.clamp(0.8, 1.2))
                pg_loss = masked_mean(pg, m)
                v_clip = values[rows] + (v - values[rows]).clamp(-0.2, 0.2)
                vf = torch.max((v - ret[rows]) ** 2, (v_clip - ret[rows]) ** 2)
                vf_loss = 0.5 * masked_mean(vf, m)
                loss = pg_loss + 0.5 * vf_loss
                with torch.no_grad():  # diagnostics, as the engine logs them
                    lsm = F.log_softmax(logits, -1)
                    masked_mean(-(lsm.exp() * lsm).sum(-1), m)
                opt.zero_grad(set_to_none=True)
                if scaler:
                    scaler.scale(loss).backward()
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(params, 1.0)
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(params, 1.0)
                    opt.step()
        sync()
        t3 = time.perf_counter()
        mem.end()
        return t1 - t0, t2 - t1, t3 - t2

    iteration()  # warm-up
    parts = [0.0, 0.0, 0.0]
    start = time.perf_counter()
    for _ in range(args.iterations):
        for i, x in enumerate(iteration()):
            parts[i] += x
    total = time.perf_counter() - start
    n = args.iterations
    probed = mem.unavailable is None
    peak_rss_mb = mem.overall_mb() if probed else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
    cuda = dev.startswith("cuda")
    emit({
        "name": "ppo", "impl": "pytorch", "torch_version": torch.__version__, "threads": torch.get_num_threads(),
        "torch_default_threads": default_threads, "blas_threads": blas_threads(),
        "config": {"arch": args.arch, "layers": args.layers, "d": args.d, "heads": args.heads,
                   "kv_heads": args.kv_heads or args.heads, "intermediate": args.intermediate, "vocab": args.vocab, "batch": args.batch,
                   "prompt_len": args.prompt_len, "new_tokens": args.new_tokens, "epochs": args.epochs,
                   "mini_batches": args.mini_batches, "iterations": n, "gradient_checkpointing": args.gradient_checkpointing,
                   "precision": args.precision, "head_positions": args.head_positions},
        "lora": {"r": args.lora, "alpha": 2 * args.lora, "target_modules": LORA_TARGETS[args.arch],
                 "trainable_params": sum(p.numel() for p in params)} if args.lora else None,
        "ms_per_step": total / n * 1e3, "ms_per_iteration": total / n * 1e3,
        "peak_memory_mb": torch.cuda.max_memory_allocated() / 2 ** 20 if cuda else peak_rss_mb,
        "peak_memory_source": "torch.cuda.max_memory_allocated" if cuda else (
            "host RSS (/proc/self/status VmHWM, its maximum carried across the per-phase resets)" if probed else "host RSS (getrusage ru_maxrss)"),
        # Host RSS per phase (warm-up included), as the engine's bench reports it; on CUDA still host RSS.
        "peak_memory_mb_by_phase": mem.peaks() if probed else None,
        **({"memory_mb_by_iteration": [dict(warmup=i == 0, **rec) for i, rec in enumerate(mem.iterations)]} if probed
           else {"peak_memory_by_phase_unavailable": mem.unavailable}),
        "ms_rollout": parts[0] / n * 1e3, "ms_score": parts[1] / n * 1e3,
        "ms_train": parts[2] / n * 1e3,
    })


if __name__ == "__main__":
    main()
