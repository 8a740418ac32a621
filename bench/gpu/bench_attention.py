#!/usr/bin/env python3
"""AttnScope CUDA kernels vs the PyTorch baselines, same random bf16 Q/K/V, same process and stream.

Llama-3-8B attention shapes: 32 query heads, 8 KV heads, d = 128, causal, bf16, one layer.
Rows: cuDNN SDPA and FlashAttention-2 (torch SDPA backends; K/V repeated to 32 heads as SDPA
needs), FlexAttention (compiled, causal BlockMask, LSE returned), the materialized softmax +
column-sum script (ONE head; times 32 for a layer), and ours: forward with LSE/max/entropy (exact
split-P and single-P), statistics pass (column sums + 64x64 block sum/max, LSE given), and the
block-sparse forward at several densities. Times are medians of CUDA-event-timed repetitions after
a warm-up (calls under 1 ms timed in batches of 10 back-to-back calls, see timed()); ratios are to
cuDNN measured in this same run. Seeded inputs (torch.manual_seed(0)).

usage: bench_attention.py --lib build-gpu/bench/gpu/libattnscope_layer_capi.so [--seq 8192 32768 131072]
"""
import argparse
import ctypes
import datetime
import json
import math
import os
import statistics
import subprocess
import sys

import torch
import torch.nn.functional as F

H_Q, H_KV, D = 32, 8, 128


# GPU cycles the stream spins before a timed batch (about 1 ms): long enough for the host to
# enqueue the start event and the whole batch behind it.
HOST_HEAD_START_CYCLES = 2_000_000


def batch_ms(fn, batch, head_start=HOST_HEAD_START_CYCLES):
    """Milliseconds per call of `batch` back-to-back calls between one pair of CUDA events. The
    stream first spins (torch.cuda._sleep) while the host enqueues the start event and the calls,
    so the GPU never waits for the host to issue the first call: without it, that host time
    (Python, ctypes, tensor-map encoding, tens of microseconds) counted once per batch, a few
    percent of a 0.1-0.2 ms launch."""
    a = torch.cuda.Event(enable_timing=True)
    b = torch.cuda.Event(enable_timing=True)
    if head_start:
        torch.cuda._sleep(head_start)
    a.record()
    for _ in range(batch):
        fn()
    b.record()
    torch.cuda.synchronize()
    return a.elapsed_time(b) / batch


def timed(fn, reps, warmup=1, batch_below_ms=1.0, batch=10):
    """Median milliseconds of one call over reps CUDA-event-timed repetitions. Calls shorter than
    batch_below_ms are timed in batches of `batch` back-to-back calls per event pair (the time per
    call reported): a single short launch between two events also counts the host's time to issue
    it (Python, ctypes, argument setup), which the GPU would otherwise hide behind the previous one."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    n = batch if batch_ms(fn, 1) < batch_below_ms else 1
    return statistics.median(batch_ms(fn, n) for _ in range(reps))


def causal_flops(T, heads=H_Q, d=D):
    return 2.0 * heads * T * (T / 2) * (2 * d)  # FA convention: QK^T and PV, half the square


class Ours:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        p = ctypes.c_void_p
        i = ctypes.c_int
        self.lib.attnscope_layer_forward.argtypes = [i, i, i, i, i, i, i, p, p, p, p, p, p, p, i, p, p, p]
        self.lib.attnscope_layer_statistics.argtypes = [i, i, i, i, i, i, i, p, p, p, p, p, p, p]
        self.lib.attnscope_last_error.restype = ctypes.c_char_p

    def _check(self, rc):
        if rc != 0:
            raise RuntimeError(self.lib.attnscope_last_error().decode())

    def forward(self, q, k, v, out, mx, lse, ent, split, offsets=None, blocks=None):
        T = q.shape[-2]
        s = torch.cuda.current_stream().cuda_stream
        self._check(self.lib.attnscope_layer_forward(
            H_Q, H_KV, T, D, 1, 0, 0, q.data_ptr(), k.data_ptr(), v.data_ptr(), out.data_ptr(), mx.data_ptr(),
            lse.data_ptr(), ent.data_ptr(), 1 if split else 0,
            offsets.data_ptr() if offsets is not None else None, blocks.data_ptr() if blocks is not None else None, s))

    def statistics(self, q, k, lse, col, bsum, bmax):
        T = q.shape[-2]
        s = torch.cuda.current_stream().cuda_stream
        self._check(self.lib.attnscope_layer_statistics(
            H_Q, H_KV, T, D, 1, 0, 0, q.data_ptr(), k.data_ptr(), lse.data_ptr(), col.data_ptr(), bsum.data_ptr(),
            bmax.data_ptr(), s))


def sink_window_blocks(T, window_blocks, device):
    """Causal block list: key block 0 (sinks) plus the last `window_blocks` blocks up to the diagonal."""
    nb = T // 64
    offsets, blocks = [0], []
    for qb in range(nb):
        row = sorted(set([0] + list(range(max(0, qb - window_blocks + 1), qb + 1))))
        blocks += row
        offsets.append(len(blocks))
    density = len(blocks) / (nb * (nb + 1) / 2)
    return (torch.tensor(offsets, dtype=torch.int32, device=device),
            torch.tensor(blocks, dtype=torch.int32, device=device), density)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--seq", type=int, nargs="+", default=[8192, 32768, 131072])
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-flex", action="store_true")
    args = ap.parse_args()

    ours = Ours(args.lib)
    dev = torch.device("cuda")
    from torch.nn.attention import SDPBackend, sdpa_kernel
    results = {}  # name -> {T: ms or str}
    notes = []

    def put(name, T, value):
        results.setdefault(name, {})[T] = value

    for T in args.seq:
        torch.manual_seed(0)
        reps = 20 if T <= 8192 else (7 if T <= 32768 else 3)
        q = torch.randn(1, H_Q, T, D, device=dev, dtype=torch.bfloat16)
        k = torch.randn(1, H_KV, T, D, device=dev, dtype=torch.bfloat16)
        v = torch.randn(1, H_KV, T, D, device=dev, dtype=torch.bfloat16)
        scale = 1.0 / math.sqrt(D)
        print(f"--- T={T} ---", flush=True)

        # ours
        out = torch.empty(H_Q, T, D, device=dev, dtype=torch.float32)
        mx = torch.empty(H_Q, T, device=dev, dtype=torch.float32)
        lse = torch.empty_like(mx)
        ent = torch.empty_like(mx)
        t_ours = timed(lambda: ours.forward(q, k, v, out, mx, lse, ent, True), reps)
        put("ours: forward + LSE/max/entropy (split P, exact)", T, t_ours)
        t_fast = timed(lambda: ours.forward(q, k, v, out, mx, lse, ent, False), reps)
        put("ours: forward + LSE/max/entropy (single 16-bit P)", T, t_fast)
        nb = T // 64
        col = torch.empty(H_Q, T, device=dev, dtype=torch.float32)
        bsum = torch.empty(H_Q, nb, nb, device=dev, dtype=torch.float32)
        bmax = torch.empty_like(bsum)
        t_stats = timed(lambda: ours.statistics(q, k, lse, col, bsum, bmax), reps)
        put("ours: statistics pass (colsum + 64x64 block sum/max)", T, t_stats)
        # The mma.sync kernels with two m16 tiles per warp (the default before the wgmma kernels;
        # what runs on GPUs other than compute capability 9.0), for comparison.
        os.environ["ATTNSCOPE_CUDA_KERNELS"] = "pair"
        put("ours, mma.sync kernels: forward (single 16-bit P)", T,
            timed(lambda: ours.forward(q, k, v, out, mx, lse, ent, False), reps))
        put("ours, mma.sync kernels: statistics pass", T, timed(lambda: ours.statistics(q, k, lse, col, bsum, bmax), reps))
        # The one-m16-tile-per-warp kernels (ATTNSCOPE_CUDA_KERNELS=single), for comparison.
        os.environ["ATTNSCOPE_CUDA_KERNELS"] = "single"
        put("ours, 64-row kernels: forward (split P)", T, timed(lambda: ours.forward(q, k, v, out, mx, lse, ent, True), reps))
        put("ours, 64-row kernels: statistics pass", T, timed(lambda: ours.statistics(q, k, lse, col, bsum, bmax), reps))
        del os.environ["ATTNSCOPE_CUDA_KERNELS"]
        for wb in (4, 8, 16, 48):
            offs, blks, rho = sink_window_blocks(T, wb, dev)
            if rho < 0.04 or rho > 0.5:
                continue
            t_sp = timed(lambda: ours.forward(q, k, v, out, mx, lse, ent, True, offs, blks), reps)
            name = f"ours: block-sparse forward, sink + {wb}-block window"
            put(name, T, t_sp)
            notes.append(f"T={T}: {name}: density {rho:.3f}, {t_sp:.2f} ms = {t_sp / (rho * t_ours):.2f} x rho x dense "
                         f"(target <= 1.2)")
            del offs, blks

        # sanity: our output vs cuDNN-free reference on one head (fp32 math on the bf16 inputs)
        if T <= 8192:
            ours.forward(q, k, v, out, mx, lse, ent, True)
            qh, kh, vh = q[0, 5].float(), k[0, 1].float(), v[0, 1].float()
            s = (qh @ kh.T) * scale
            s = s.masked_fill(torch.ones(T, T, device=dev, dtype=torch.bool).triu(1), float("-inf"))
            ref_lse = torch.logsumexp(s, -1)
            ref_o = torch.softmax(s, -1) @ vh
            notes.append(f"T={T}: check head 5 (KV head 1): |lse - ref| max {((lse[5] - ref_lse).abs().max()):.2e}, "
                         f"||O - ref|| / ||ref|| {((out[5] - ref_o).norm() / ref_o.norm()):.2e}")
            del s, ref_o

        # PyTorch SDPA backends (K/V repeated to 32 heads)
        kr = k.repeat_interleave(H_Q // H_KV, dim=1)
        vr = v.repeat_interleave(H_Q // H_KV, dim=1)
        for name, backend in (("cuDNN SDPA forward", SDPBackend.CUDNN_ATTENTION),
                              ("FlashAttention-2 (SDPA flash) forward", SDPBackend.FLASH_ATTENTION)):
            try:
                with sdpa_kernel([backend]):
                    put(name, T, timed(lambda: F.scaled_dot_product_attention(q, kr, vr, is_causal=True), reps))
            except Exception as e:  # noqa: BLE001
                put(name, T, f"error: {type(e).__name__}")
                notes.append(f"T={T}: {name}: {e}")
            torch.cuda.empty_cache()
        del kr, vr

        # FlexAttention with LSE
        if not args.no_flex:
            try:
                from torch.nn.attention.flex_attention import create_block_mask, flex_attention
                try:
                    from torch.nn.attention.flex_attention import AuxRequest
                    aux = {"return_aux": AuxRequest(lse=True)}
                except ImportError:
                    aux = {"return_lse": True}
                flex = torch.compile(flex_attention, dynamic=False)
                bm = create_block_mask(lambda b, h, qi, ki: qi >= ki, None, None, T, T, device=dev)
                put("FlexAttention forward + LSE (compiled)", T,
                    timed(lambda: flex(q, k, v, block_mask=bm, enable_gqa=True, **aux), reps, warmup=2))
            except Exception as e:  # noqa: BLE001
                put("FlexAttention forward + LSE (compiled)", T, f"error: {type(e).__name__}")
                notes.append(f"T={T}: FlexAttention: {e}")
            torch.cuda.empty_cache()

        # The materialized script a researcher would write, one head
        def materialized():
            qh, kh = q[0, 0], k[0, 0]
            s = (qh @ kh.T).float() * scale
            s = s.masked_fill(torch.ones(T, T, device=dev, dtype=torch.bool).triu(1), float("-inf"))
            p = s.softmax(-1)
            return p.sum(-2)
        name = "materialized softmax + column sums, ONE head"
        try:
            torch.cuda.reset_peak_memory_stats()
            put(name, T, timed(materialized, 3 if T <= 32768 else 1))
            notes.append(f"T={T}: {name}: peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
        except torch.OutOfMemoryError:
            put(name, T, "out of memory")
        torch.cuda.empty_cache()
        del q, k, v, out, mx, lse, ent, col, bsum, bmax
        torch.cuda.empty_cache()

    # table
    seqs = args.seq
    base = results.get("cuDNN SDPA forward", {})
    head = "| per layer (32 q heads, 8 kv heads, d=128, causal, bf16) | " + " | ".join(
        f"{T // 1024}K ms | x cuDNN" for T in seqs) + " |"
    lines = [head, "|---|" + "---|---|" * len(seqs)]
    for name, row in results.items():
        cells = []
        for T in seqs:
            val = row.get(T, "-")
            b = base.get(T)
            if isinstance(val, float):
                ratio = f"{val / b:.2f}" if isinstance(b, float) else "-"
                flops = causal_flops(T, 1 if "ONE head" in name else H_Q)
                if "statistics" in name:
                    flops /= 2  # QK^T only
                tf = flops / (val * 1e-3) / 1e12
                cells.append(f"{val:.2f} ({tf:.0f} TF/s) | {ratio}")
            else:
                cells.append(f"{val} | -")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    commit = os.environ.get("ATTNSCOPE_COMMIT", "")
    if not commit:
        try:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True).stdout.strip() or "unknown"
        except Exception:  # noqa: BLE001
            commit = "unknown"
    print()
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, commit {commit}, "
          f"date {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}")
    print("TF/s: FA convention (causal = half the square); the statistics pass counts QK^T only (half a forward).")
    print("\n".join(lines))
    print()
    for n in notes:
        print("note:", n)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": {k: {str(t): v for t, v in r.items()} for k, r in results.items()}, "notes": notes,
                       "device": torch.cuda.get_device_name(), "commit": commit}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
