"""The PyTorch CPU script a researcher would write for one head's statistics (materialized
softmax): row max, LSE, entropy, output, column sums and 64x64 block sums/maxima. Synthetic
N(0, 1.5) inputs, d = 128, causal — the same shapes as bench_cpu_engine's BM_Statistics.
Prints one line per length: "pytorch-cpu T=<T> median_ms=<ms> threads=<n>".
"""
import sys
import time

import torch


def statistics(q, k, v, scale):
    t = q.shape[0]
    s = (q @ k.T) * scale
    mask = torch.ones(t, t, dtype=torch.bool).tril()
    s = s.masked_fill(~mask, float("-inf"))
    row_max = s.max(dim=-1).values
    lse = torch.logsumexp(s, dim=-1)
    p = torch.exp(s - lse[:, None])
    entropy = lse - (p * s.masked_fill(~mask, 0.0)).sum(-1)
    out = p @ v
    col = p.sum(0)
    nb = (t + 63) // 64
    padded = torch.zeros(nb * 64, nb * 64)
    padded[:t, :t] = p
    blocks = padded.view(nb, 64, nb, 64)
    return row_max, lse, entropy, out, col, blocks.sum((1, 3)), blocks.amax((1, 3))


def main():
    lengths = [int(x) for x in sys.argv[1:]] or [2048, 8192]
    torch.manual_seed(1)
    for t in lengths:
        q, k, v = (torch.randn(t, 128) * 1.5 for _ in range(3))
        times = []
        for _ in range(3):
            start = time.perf_counter()
            statistics(q, k, v, 128 ** -0.5)
            times.append(time.perf_counter() - start)
        times.sort()
        print(f"pytorch-cpu T={t} median_ms={times[1] * 1e3:.1f} threads={torch.get_num_threads()}", flush=True)


if __name__ == "__main__":
    main()
