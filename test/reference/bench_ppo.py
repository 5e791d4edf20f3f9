"""PyTorch eager baseline for `rrlhf bench ppo`: the same PPO iteration as engine/rlhf/ppo.ts, timed.

One iteration on a GPT-2 policy (hf_models.py, random HF-style weights) with a value head on its
trunk and a frozen reference copy:
  1. rollout: sample new_tokens per prompt with a KV cache (temperature 1, multinomial);
  2. score: one no-grad forward of the policy (log-probs of the sampled tokens, values) and one of the
     reference (log-probs); the reward is the fraction of token 7 in the response (as the engine's bench);
  3. per-token rewards -kl_coef*(logp - ref_logp), plus the clipped score at the last token;
     GAE (gamma 1, lambda 0.95), returns, advantage whitening over response tokens;
  4. epochs x mini_batches updates: clipped policy loss + 0.5 * clipped value loss, entropy computed as a
     diagnostic, clip_grad_norm_(1.0), AdamW (lr 1e-4, no weight decay).
Layout as the engine's: prompts (all the same length here) followed by responses; per-token arrays over
"logit positions" t = 0..L-2.

Run:  /usr/bin/python3 test/reference/bench_ppo.py [--layers 2 --d 64 --heads 4 --vocab 26] \\
          [--batch 64 --prompt-len 2 --new-tokens 13 --epochs 4 --mini-batches 2 --iterations 5]
Prints one JSON line: {name, impl, torch_version, threads, config, ms_per_step, ms_rollout, ms_score, ms_train}.
"""

import argparse
import copy
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import add_model_args, blas_threads, emit, make_model, setup_threads, torch  # noqa: E402
from hf_models import allowed_keys, position_ids_for  # noqa: E402

F = torch.nn.functional


def trunk(model, ids, mask):
    """GPT2LMHeadModel.forward without the LM head: final hidden states [B, L, d]."""
    b, t = ids.shape
    tr = model.transformer
    pos = position_ids_for(mask, 0, t, b, ids.device)
    x = tr.wte(ids) + tr.wpe(pos)
    allowed = allowed_keys(mask, 0, t, ids.device)
    for i, block in enumerate(tr.h):
        x = block(x, allowed, None, i)
    return tr.ln_f(x)


def next_token_logprobs(model, hidden, ids):
    logits = F.linear(hidden[:, :-1], model.transformer.wte.weight)
    logp = F.log_softmax(logits, -1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
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
    args = ap.parse_args()

    default_threads = setup_threads(args)
    policy, cfg = make_model(args, args.prompt_len + args.new_tokens + 8)
    ref = copy.deepcopy(policy).eval()
    for prm in ref.parameters():
        prm.requires_grad_(False)
    dev = args.device
    v_head = torch.nn.Linear(args.d, 1).to(dev)
    params = list(policy.parameters()) + list(v_head.parameters())
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    cpu_gen = torch.Generator().manual_seed(args.seed + 1)
    gen = torch.Generator(device=dev).manual_seed(args.seed + 1)
    prompts = torch.randint(0, args.vocab, (args.batch, args.prompt_len), generator=cpu_gen).to(dev)
    target = 7 % args.vocab
    sync = torch.cuda.synchronize if dev.startswith("cuda") else (lambda: None)

    def iteration():
        t0 = time.perf_counter()
        policy.eval()
        resp = rollout(policy, prompts, args.new_tokens, gen)
        sync()
        t1 = time.perf_counter()
        ids = torch.cat([prompts, resp], 1)
        mask = torch.ones_like(ids)
        b, L = ids.shape
        resp_mask = torch.zeros(b, L - 1, device=dev)
        resp_mask[:, args.prompt_len - 1:] = 1
        with torch.no_grad():
            h = trunk(policy, ids, mask)
            old_logp, _ = next_token_logprobs(policy, h, ids)
            values = v_head(h[:, :-1]).squeeze(-1)
            ref_logp, _ = next_token_logprobs(ref, trunk(ref, ids, mask), ids)
        scores = (resp == target).float().mean(1).clamp(-10, 10)
        sync()
        t2 = time.perf_counter()
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
                h = trunk(policy, ids[rows], mask[rows])
                logp, logits = next_token_logprobs(policy, h, ids[rows])
                v = v_head(h[:, :-1]).squeeze(-1)
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
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
        sync()
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    iteration()  # warm-up
    parts = [0.0, 0.0, 0.0]
    start = time.perf_counter()
    for _ in range(args.iterations):
        for i, x in enumerate(iteration()):
            parts[i] += x
    total = time.perf_counter() - start
    n = args.iterations
    emit({
        "name": "ppo", "impl": "pytorch", "torch_version": torch.__version__, "threads": torch.get_num_threads(),
        "torch_default_threads": default_threads, "blas_threads": blas_threads(),
        "config": {"layers": args.layers, "d": args.d, "heads": args.heads, "vocab": args.vocab, "batch": args.batch,
                   "prompt_len": args.prompt_len, "new_tokens": args.new_tokens, "epochs": args.epochs,
                   "mini_batches": args.mini_batches, "iterations": n},
        "ms_per_step": total / n * 1e3, "ms_rollout": parts[0] / n * 1e3, "ms_score": parts[1] / n * 1e3,
        "ms_train": parts[2] / n * 1e3,
    })


if __name__ == "__main__":
    main()
