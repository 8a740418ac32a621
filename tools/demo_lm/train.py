#!/usr/bin/env python3
"""Trains AttnScope's demo causal LM from scratch: a small Llama (RoPE, GQA, SwiGLU, RMSNorm) on the
public-domain corpus built by prepare_corpus.py + build_data.py.

Every training sequence is <bos> followed by a random window of the training stream, so position 0
always holds the same token (what lets a token-0 attention sink develop). Length curriculum: the first
--short-steps steps use --short-seq tokens per sequence (same tokens per step), the rest --seq = 2048.
In-context repetition (so that induction heads, and the dormant heads that park on the sink, form
within a run of minutes): a fraction --repeat-frac of the sequences gets one span of its own text
copied later into the same window, and a fraction --tile-frac has its text from a random point on
replaced by repeats of the preceding P tokens (P log-uniform in 8 .. seq/4).

  python tools/demo_lm/train.py --out tools/demo_lm/runs/attnscope-demo-lm      # defaults = the recipe

Writes OUT/ as a Hugging Face model directory (config.json, model.safetensors in fp16, tokenizer.json,
tokenizer_config.json) plus OUT/metrics.json, and prints a log. The step count is fixed by --steps; --time-budget only shortens a run that would not
fit (the log and metrics say so, and --steps N reproduces it).
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def log(*a):
    print(*a, flush=True)


def build_model(args, vocab_size, bos_id, eos_id, pad_id):
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=args.d_model,
        intermediate_size=args.ffn,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        head_dim=args.d_model // args.heads,
        max_position_embeddings=args.seq,
        rope_theta=args.rope_theta,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        attention_bias=False,
        mlp_bias=False,
        hidden_act="silu",
        initializer_range=0.02,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    try:  # transformers 5 keeps rope parameters in rope_parameters; set both spellings
        cfg.rope_parameters = {"rope_type": "default", "rope_theta": args.rope_theta}
    except Exception:
        pass
    cfg._attn_implementation = "sdpa"
    model = LlamaForCausalLM(cfg)
    return cfg, model


@torch.no_grad()
def evaluate(model, stream, seq, bos_id, device, amp_dtype, max_windows=64, batch=16):
    """Mean next-token loss over consecutive windows <bos> + stream[i*(seq-1):(i+1)*(seq-1)], and the
    loss by position bucket (to show in-context improvement)."""
    n = min(max_windows, (stream.numel() - 1) // (seq - 1))
    if n == 0:
        return float("nan"), {}
    model.eval()
    tot = torch.zeros(seq - 1, device=device, dtype=torch.float64)
    for s in range(0, n, batch):
        idx = torch.arange(s, min(n, s + batch), device=device)
        starts = idx * (seq - 1)
        body = stream[starts[:, None] + torch.arange(seq - 1, device=device)[None, :]]
        x = torch.cat([torch.full((body.shape[0], 1), bos_id, device=device, dtype=body.dtype), body], 1)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            logits = model(input_ids=x[:, :-1]).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                               reduction="none").view(x.shape[0], -1)
        tot += loss.sum(0).double()
    per_pos = (tot / n).cpu().numpy()
    model.train()
    buckets = {}
    edges = [1, 16, 64, 256, 1024, seq]
    for lo, hi in zip(edges[:-1], edges[1:]):
        if lo - 1 < len(per_pos):
            buckets[f"{lo}-{hi - 1}"] = float(per_pos[lo - 1:hi - 1].mean())
    return float(per_pos.mean()), buckets


@torch.no_grad()
def copy_eval(model, stream, bos_id, device, amp_dtype, n=16, span=255):
    """Loss on the first and on the second copy of <bos> + w + w for n held-out windows w."""
    model.eval()
    w = torch.stack([stream[i * span:(i + 1) * span] for i in range(n)])
    x = torch.cat([torch.full((n, 1), bos_id, device=device, dtype=w.dtype), w, w], 1)
    with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        logits = model(input_ids=x[:, :-1]).logits
    loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                           reduction="none").view(n, -1)
    model.train()
    # targets 1..span are the first copy; span+1.. the second (its first token is predicted from the first copy's last)
    return float(loss[:, :span].mean()), float(loss[:, span + 1:].mean())


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(here, "data"))
    ap.add_argument("--out", default=os.path.join(here, "runs", "attnscope-demo-lm"))
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=768)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--batch", type=int, default=32, help="sequences of --seq tokens per step")
    ap.add_argument("--short-seq", type=int, default=256, help="sequence length of the curriculum's first stage")
    ap.add_argument("--short-steps", type=int, default=800, help="steps at --short-seq (0: none)")
    ap.add_argument("--repeat-frac", type=float, default=0.2,
                    help="fraction of sequences with one span of their text repeated later in the window")
    ap.add_argument("--tile-frac", type=float, default=0.3,
                    help="fraction of sequences whose text, from a random point on, repeats its preceding P tokens")
    ap.add_argument("--keep", choices=["last", "best"], default="last",
                    help="checkpoint saved: the last one, or the one with the lowest held-out loss")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--wd", type=float, default=0.5)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-windows", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (falls back to eager on error)")
    ap.add_argument("--time-budget", type=float, default=0.0,
                    help="seconds of training; if the timed first steps predict more, --steps is lowered")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()

    t_start = time.time()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    device = torch.device(args.device)
    amp_dtype = torch.bfloat16 if device.type == "cuda" else None
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    meta = json.load(open(os.path.join(args.data, "meta.json")))
    bos_id, eos_id = meta["bos_id"], meta["eos_id"]
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(args.data, "tokenizer", "tokenizer.json"))
    vocab_size = tok.get_vocab_size()
    pad_id = tok.token_to_id("<pad>")

    def load(name):
        a = np.fromfile(os.path.join(args.data, name), dtype=np.uint16).astype(np.int64)
        return torch.from_numpy(a).to(device)

    train, val, devil = load("train.bin"), load("val.bin"), load("devil.bin")
    log(f"data: train {train.numel():,} val {val.numel():,} devil(held-out source) {devil.numel():,} tokens; "
        f"vocab {vocab_size}")

    cfg, model = build_model(args, vocab_size, bos_id, eos_id, pad_id)
    model.to(device)
    n_params = sum(p.numel() for p in model.parameters())
    n_embed = model.model.embed_tokens.weight.numel()
    log(f"model: {n_params:,} parameters ({n_params - n_embed:,} without the tied embedding); "
        f"{args.layers} layers, d_model {args.d_model}, {args.heads} q heads / {args.kv_heads} kv heads, "
        f"head_dim {args.d_model // args.heads}, ffn {args.ffn}")

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8,
                            fused=device.type == "cuda")
    fwd = model
    if args.compile:
        try:
            fwd = torch.compile(model)
        except Exception as e:  # noqa: BLE001
            log(f"torch.compile failed ({e!r}); eager")
            fwd = model

    gen = torch.Generator(device=device)
    gen.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    span = args.seq - 1
    n_off = train.numel() - span
    ar = torch.arange(span, device=device)

    def batch(seq):
        nb = args.batch * args.seq // seq
        sp = seq - 1
        off = torch.randint(0, train.numel() - sp, (nb,), device=device, generator=gen)
        body = train[off[:, None] + torch.arange(sp, device=device)[None, :]]
        u = rng.random(nb)
        for i in np.nonzero(u < args.repeat_frac)[0]:
            lo = min(16, max(1, sp // 8))
            ln = int(rng.integers(lo, max(lo + 1, sp // 4 + 1)))
            a = int(rng.integers(0, sp - 2 * ln + 1))
            b = int(rng.integers(a + ln, sp - ln + 1))
            body[i, b:b + ln] = body[i, a:a + ln]
        for i in np.nonzero((u >= args.repeat_frac) & (u < args.repeat_frac + args.tile_frac))[0]:
            hi = max(9, sp // 4)
            per = int(np.exp(rng.uniform(np.log(8), np.log(hi))))
            c = int(rng.integers(per, max(per + 1, sp - per)))
            body[i, c:] = body[i, c - per:c][torch.arange(sp - c, device=device) % per]
        return torch.cat([torch.full((nb, 1), bos_id, device=device, dtype=body.dtype), body], 1)

    total_steps = args.steps
    history = []
    best = {"val": float("inf"), "step": -1}
    best_state = None
    tokens_per_step = args.batch * args.seq
    model.train()
    t_train0 = time.time()
    t_timed = None
    step = 0
    shortened = False
    while step < total_steps:
        lr_now = args.lr * min(1.0, (step + 1) / args.warmup)
        if step >= args.warmup:
            prog = (step - args.warmup) / max(1, total_steps - args.warmup)
            lr_now = args.lr * (args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * prog)))
        for g in opt.param_groups:
            g["lr"] = lr_now
        seq_now = args.short_seq if step < args.short_steps else args.seq
        x = batch(seq_now)
        try:
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                logits = fwd(input_ids=x[:, :-1]).logits
            loss = F.cross_entropy(logits.float().reshape(-1, vocab_size), x[:, 1:].reshape(-1))
        except Exception as e:  # noqa: BLE001
            if fwd is model:
                raise
            log(f"compiled forward failed ({e!r}); eager")
            fwd = model
            continue
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        # Timing of the long-sequence stage (its first 10 steps skipped): lower --steps if it cannot fit.
        long_start = max(args.short_steps, 0)
        if step == long_start + 10:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t_timed = time.time()
        if step == long_start + 40 and args.time_budget > 0 and t_timed is not None:
            if device.type == "cuda":
                torch.cuda.synchronize()
            per_step = (time.time() - t_timed) / 30
            # evals cost about (2 * eval_windows / batch) steps' forwards, i.e. little; keep 5% margin
            fit = int((args.time_budget - (time.time() - t_train0)) / (per_step * 1.05)) + step
            log(f"timing at seq {args.seq}: {per_step * 1000:.1f} ms/step, {tokens_per_step / per_step:,.0f} "
                f"tokens/s; the remaining {total_steps - step} steps would take {per_step * (total_steps - step):.0f} s")
            if fit < total_steps:
                total_steps = max(fit, step + 50)
                shortened = True
                log(f"time budget {args.time_budget:.0f} s: steps lowered to {total_steps} (rerun with --steps {total_steps})")
        if args.time_budget > 0 and time.time() - t_train0 > 1.1 * args.time_budget and step < total_steps:
            log(f"time budget exceeded by 10% at step {step}: stopping")
            total_steps = step
            shortened = True
        if step % 20 == 0 or step == 1:
            log(f"step {step:5d}/{total_steps} loss {loss.item():.4f} lr {lr_now:.2e} gnorm {gnorm.item():.2f} "
                f"seq {seq_now} tokens {step * tokens_per_step / 1e6:.1f}M epoch {step * tokens_per_step / train.numel():.2f} "
                f"t {time.time() - t_train0:.0f}s")
        if step % args.eval_every == 0 or step == total_steps:
            vl, vb = evaluate(model, val, args.seq, bos_id, device, amp_dtype, args.eval_windows)
            dl, db = evaluate(model, devil, args.seq, bos_id, device, amp_dtype, args.eval_windows)
            c1, c2 = copy_eval(model, devil, bos_id, device, amp_dtype)
            rec = {"step": step, "tokens": step * tokens_per_step, "train_loss": loss.item(), "val_loss": vl,
                   "devil_loss": dl, "devil_copy1_loss": c1, "devil_copy2_loss": c2,
                   "lr": lr_now, "time_s": time.time() - t_train0}
            history.append(rec)
            log(f"eval step {step}: train {loss.item():.4f} val {vl:.4f} devil {dl:.4f} "
                f"devil repeated: 1st copy {c1:.3f} 2nd copy {c2:.3f} | val by position {vb}")
            if vl < best["val"]:
                best = {"val": vl, "devil": dl, "step": step, "val_by_position": vb, "devil_by_position": db,
                        "devil_copy1": c1, "devil_copy2": c2}
                if args.keep == "best":
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            last = {"val": vl, "devil": dl, "step": step, "val_by_position": vb, "devil_by_position": db,
                    "devil_copy1": c1, "devil_copy2": c2}
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_wall = time.time() - t_train0
    log(f"trained {step} steps in {train_wall:.1f} s; best val {best['val']:.4f} at step {best['step']}")

    # Train loss of the kept checkpoint: mean over 64 fixed random windows of the plain (unrepeated) stream.
    kept = best if args.keep == "best" else last
    if args.keep == "best":
        model.load_state_dict(best_state)
    g2 = torch.Generator(device=device)
    g2.manual_seed(args.seed + 1)
    off = torch.randint(0, n_off, (64,), device=device, generator=g2)
    win = torch.cat([torch.full((64, 1), bos_id, device=device, dtype=train.dtype),
                     train[off[:, None] + ar[None, :]]], 1)
    model.eval()
    with torch.no_grad(), torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        tl = 0.0
        for i in range(0, 64, 16):
            lg = model(input_ids=win[i:i + 16, :-1]).logits
            tl += F.cross_entropy(lg.float().reshape(-1, vocab_size), win[i:i + 16, 1:].reshape(-1)).item() / 4

    mdir = args.out
    os.makedirs(mdir, exist_ok=True)
    model.to(torch.float16)
    model.config.dtype = "float16"
    model.save_pretrained(mdir, safe_serialization=True, max_shard_size=16 * 2**20 - 2**16)  # one file under 16 MiB
    for extra in ("generation_config.json",):
        p = os.path.join(mdir, extra)
        if os.path.exists(p):
            os.remove(p)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(args.data, "tokenizer", f), os.path.join(mdir, f))
    files = {f: os.path.getsize(os.path.join(mdir, f)) for f in sorted(os.listdir(mdir))}
    metrics = {
        "args": vars(args), "parameters": n_params, "parameters_without_embedding": n_params - n_embed,
        "vocab_size": vocab_size, "train_tokens_in_corpus": int(train.numel()), "val_tokens": int(val.numel()),
        "devil_tokens": int(devil.numel()), "steps": step, "steps_shortened_by_time_budget": shortened,
        "tokens_seen": step * tokens_per_step, "epochs": step * tokens_per_step / train.numel(),
        "train_wall_s": train_wall, "total_wall_s": time.time() - t_start,
        "kept": args.keep, "kept_checkpoint": kept, "best_val_checkpoint": best,
        "kept_checkpoint_train_loss": tl, "history": history,
        "model_files": files,
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
    }
    import transformers
    metrics["transformers"] = transformers.__version__
    json.dump(metrics, open(os.path.join(args.out, "metrics.json"), "w"), indent=1)
    log(f"saved {mdir}: {files}")
    log(f"kept ({args.keep}) step {kept['step']}: train {tl:.4f} val {kept['val']:.4f} devil {kept['devil']:.4f}; "
        f"total wall {time.time() - t_start:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
