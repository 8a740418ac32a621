"""The PyTorch script a researcher would write for the whole-model overview (TARGETS.md): for each
(layer, query head) of a Llama-3-8B-shaped layer stack at T tokens (32 q heads, 8 kv heads,
d = 128, causal, bf16), materialize the attention map and compute the sink mass on token 0, the
mean entropy and the recall of dense, sliding window, StreamingLLM, oracle top-k, MoBA block top-k
(block 64) and linear elu+1 at 10 % density. Seeded random inputs (not real activations), generated
on the GPU and not timed. The layers run `repeats` times; the median is reported (and the first run,
which pays one-time costs). Usage: python overview_pytorch.py [layers] [T] [repeats=3]
Prints "RESULT pytorch layers=.. heads=.. T=.. total_s=.. per_head_ms=..".
"""
import sys
import time

import torch


def band_width_for_density(t, density, sinks=0):
    """Smallest causal window whose kept fraction (plus `sinks` columns) reaches `density`."""
    total = t * (t + 1) / 2
    lo, hi = 1, t
    while lo < hi:
        mid = (lo + hi) // 2
        rows = torch.arange(t, dtype=torch.float64)
        kept = torch.minimum(rows + 1, torch.full_like(rows, mid)).sum().item()
        if sinks:
            kept += torch.clamp(rows - mid + 1, min=0, max=sinks).sum().item()
        if kept / total >= density:
            hi = mid
        else:
            lo = mid + 1
    return lo


def head_overview(q, k, v, scale, window, sink_window, topk, moba_topk, causal):
    t = q.shape[0]
    s = (q.float() @ k.float().T) * scale
    s = s.masked_fill(~causal, float("-inf"))
    p = torch.softmax(s, dim=-1)
    sink = p[:, 0].mean()
    entropy = -torch.special.xlogy(p, p).sum(-1).mean()
    rows = torch.arange(t, device=q.device)
    dist = rows[:, None] - rows[None, :]
    recalls = [p.sum(-1).mean()]  # dense
    recalls.append((p * (dist < window)).sum(-1).mean())  # window (causal part already zero)
    keep = (dist < sink_window) | (rows[None, :] < 4)
    recalls.append((p * keep).sum(-1).mean())  # StreamingLLM
    idx = torch.topk(s, topk, dim=-1).indices  # rows with fewer visible keys pick -inf cells (p = 0)
    recalls.append(torch.gather(p, 1, idx).sum(-1).mean())  # oracle top-k
    nb = t // 64
    qb = q.float().view(nb, 64, -1).mean(1)
    kb = k.float().view(nb, 64, -1).mean(1)
    gate = qb @ kb.T
    blk = torch.arange(nb, device=q.device)
    gate = gate.masked_fill(blk[None, :] >= blk[:, None], float("-inf"))  # strictly earlier blocks
    chosen = torch.zeros(nb, nb, dtype=torch.bool, device=q.device)
    if moba_topk > 0:
        top = torch.topk(gate, moba_topk, dim=-1)
        chosen.scatter_(1, top.indices, top.values > float("-inf"))
    chosen |= torch.eye(nb, dtype=torch.bool, device=q.device)
    mask = chosen.repeat_interleave(64, 0).repeat_interleave(64, 1)
    recalls.append((p * mask).sum(-1).mean())  # MoBA
    phi_q = torch.nn.functional.elu(q.float()) + 1
    phi_k = torch.nn.functional.elu(k.float()) + 1
    w = (phi_q @ phi_k.T).masked_fill(~causal, 0.0)
    w = w / w.sum(-1, keepdim=True)
    recalls.append(torch.ones((), device=q.device))  # linear attention keeps every cell
    del w
    return sink, entropy, torch.stack(recalls)


def main():
    layers = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    t = int(sys.argv[2]) if len(sys.argv) > 2 else 8192
    repeats = max(1, int(sys.argv[3])) if len(sys.argv) > 3 else 3
    hq, hkv, d, density = 32, 8, 128, 0.1
    dev = "cuda"
    torch.manual_seed(0)
    scale = d ** -0.5
    causal = torch.ones(t, t, dtype=torch.bool, device=dev).tril()
    window = band_width_for_density(t, density)
    sink_window = band_width_for_density(t, density, sinks=4)
    topk = max(1, round(density * (t + 1) / 2))  # sum_i min(k, i + 1) ~ density * total for k << t
    moba_topk = max(0, round(density * (t // 64 + 1) / 2) - 1)
    print(f"overview_pytorch: {layers} layers x {hq} heads, T={t}, window={window}, sink window={sink_window}, "
          f"topk={topk}, moba topk={moba_topk}, {torch.cuda.get_device_name()}", flush=True)
    inputs = []
    for layer in range(layers):
        k = torch.randn(hkv, t, d, device=dev, dtype=torch.bfloat16) * 1.4
        v = torch.randn(hkv, t, d, device=dev, dtype=torch.bfloat16) * 1.4
        q = torch.randn(hq, t, d, device=dev, dtype=torch.bfloat16) * 1.4
        inputs.append((q, k, v))
    runs = []
    sink_sum = 0.0
    for rep in range(repeats):  # the first pays one-time costs (cuBLAS handles, kernel loading)
        total = 0.0
        for layer, (q, k, v) in enumerate(inputs):
            torch.cuda.synchronize()
            start = time.perf_counter()
            for h in range(hq):
                sink, _, _ = head_overview(q[h], k[h // (hq // hkv)], v[h // (hq // hkv)], scale, window, sink_window,
                                           topk, moba_topk, causal)
                sink_sum += sink.item()  # the researcher's loop reads each number back
            torch.cuda.synchronize()
            total += time.perf_counter() - start
        runs.append(total)
        print(f"  repetition {rep}: {total:.3f} s", flush=True)
    first = runs[0]
    total = sorted(runs)[len(runs) // 2]
    heads = layers * hq
    print(f"RESULT pytorch layers={layers} heads={heads} T={t} repeats={repeats} total_s={total:.3f} (median; first "
          f"{first:.3f}) per_head_ms={1e3 * total / heads:.2f} "
          f"peak_mem_gib={torch.cuda.max_memory_allocated() / 2**30:.1f}")


if __name__ == "__main__":
    main()
