#!/usr/bin/env python3
"""Block-sparse forward against our dense forward, kernel variants side by side in one process.

Llama-3-8B layer shapes (32 query heads, 8 KV heads, d = 128, causal, bf16, split P), seeded
random inputs (synthetic, for timing only). Lists: key block 0 (sinks) plus a w-block window up to
the diagonal (bench_attention.py's), and the dense causal forward. Each variant is a value of
ATTNSCOPE_CUDA_FORWARD (specialized, synchronous). Timing: batches of --batch back-to-back launches
per CUDA event pair, enqueued while the stream spins for --head-start cycles (so the host side of
the launches does not count, not even the first one's), --rounds rounds with the
variants and cases interleaved (each round starting at another variant and case), medians
reported. Before timing, every variant's output, LSE, max and entropy are compared with the first
variant's on every case (they must agree to rounding).

Prints ms, density and ms / (density x the fastest variant's dense ms): the target is <= 1.2 at
density >= 5 % (TARGETS.md).

--streams N (N > 1) times throughput instead: each batch spreads its launches round-robin over N
streams (each with its own output buffers), so that one launch's last CTAs and the next one's start
overlap, as independent forwards issued back to back could. Reported as ms per launch; not the
single-launch figure the target is about.

Variants named in --unchecked (diagnostics that are wrong on purpose, such as a build without the
output stores) skip the agreement check and never count as the best dense.

A variant "LABEL:NAME" runs NAME in the library given as --other-lib LABEL=PATH, so that a build of
another commit can be timed in the same process (A/B of a kernel change).

usage: bench_block_sparse.py --lib build-gpu/bench/gpu/libattnscope_layer_capi.so
       [--seq 8192 32768] [--variants specialized synchronous] [--other-lib base=PATH
       --variants specialized base:specialized] [--json out.json]
"""
import argparse
import datetime
import json
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_attention import D, H_KV, H_Q, HOST_HEAD_START_CYCLES, Ours, batch_ms, sink_window_blocks  # noqa: E402

WINDOWS = {8192: (1, 2, 4, 8, 16), 32768: (8, 16, 48), 131072: (48,)}


def batch_ms_streams(run_on, batch, streams, head_start):
    """Milliseconds per launch of `batch` launches spread round-robin over `streams` between one pair
    of events on the current stream; run_on(i) launches on torch's current stream with buffer set i."""
    origin = torch.cuda.current_stream()
    a = torch.cuda.Event(enable_timing=True)
    b = torch.cuda.Event(enable_timing=True)
    if head_start:
        torch.cuda._sleep(head_start)  # as in batch_ms: the host enqueues ahead of the GPU
    a.record(origin)
    for s in streams:
        s.wait_event(a)
    for i in range(batch):
        with torch.cuda.stream(streams[i % len(streams)]):
            run_on(i % len(streams))
    for s in streams:
        origin.wait_stream(s)
    b.record(origin)
    torch.cuda.synchronize()
    return a.elapsed_time(b) / batch


def rotated(items, k):
    """items[k:] + items[:k] (k taken modulo the length)."""
    k %= len(items)
    return items[k:] + items[:k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--other-lib", action="append", default=[], help="LABEL=PATH, for variants LABEL:NAME")
    ap.add_argument("--seq", type=int, nargs="+", default=[8192, 32768])
    ap.add_argument("--variants", nargs="+", default=["specialized", "synchronous"])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--json", default=None)
    ap.add_argument("--streams", type=int, default=1,
                    help="N > 1: throughput with launches spread over N streams (see the top of the file)")
    ap.add_argument("--head-start", type=int, default=HOST_HEAD_START_CYCLES,
                    help="GPU cycles the stream spins before each timed batch so that the host enqueues ahead "
                         "(0: none; the first launch of a batch then waits for the host to issue it)")
    ap.add_argument("--unchecked", nargs="*", default=[],
                    help="diagnostic variants (deliberately wrong, e.g. without O stores): timed, not compared, "
                         "never the best dense")
    args = ap.parse_args()
    libs = {"": Ours(args.lib)}
    for spec in args.other_lib:
        label, path = spec.split("=", 1)
        libs[label] = Ours(path)
    dev = torch.device("cuda")
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
              "date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}", "streams": args.streams,
              "cases": []}
    print(f"device: {report['device']}, torch {report['torch']}, {report['date']}")

    for T in args.seq:
        torch.manual_seed(0)
        q = torch.randn(1, H_Q, T, D, device=dev, dtype=torch.bfloat16)
        k = torch.randn(1, H_KV, T, D, device=dev, dtype=torch.bfloat16)
        v = torch.randn(1, H_KV, T, D, device=dev, dtype=torch.bfloat16)
        cases = [("dense", None, None, 1.0)]
        for w in WINDOWS.get(T, (16,)):
            offs, blks, rho = sink_window_blocks(T, w, dev)
            cases.append((f"sink + {w}", offs, blks, rho))

        def outputs():
            out = torch.full((H_Q, T, D), float("nan"), device=dev)
            rows = [torch.full((H_Q, T), float("nan"), device=dev) for _ in range(3)]
            return out, rows

        def run(variant, case, bufs):
            label, _, name = variant.rpartition(":")
            os.environ["ATTNSCOPE_CUDA_FORWARD"] = name
            _, offs, blks, _ = case
            out, (mx, lse, ent) = bufs
            libs[label].forward(q, k, v, out, mx, lse, ent, True, offs, blks)

        # Agreement with the first variant, every case (NaN-filled outputs: unwritten rows fail).
        for case in cases:
            ref = outputs()
            run(args.variants[0], case, ref)
            assert not torch.isnan(ref[0]).any(), f"{args.variants[0]} left output rows unwritten ({case[0]})"
            for variant in args.variants[1:]:
                got = outputs()
                run(variant, case, got)
                torch.cuda.synchronize()
                o_err = ((got[0] - ref[0]).norm() / ref[0].norm()).item()
                finite = torch.isfinite(ref[1][1])
                lse_err = (got[1][1][finite] - ref[1][1][finite]).abs().max().item()
                same_inf = torch.equal(torch.isfinite(got[1][1]), finite)
                print(f"T={T} {case[0]}: {variant} vs {args.variants[0]}: ||dO||/||O|| {o_err:.1e}, "
                      f"max |dLSE| {lse_err:.1e}, same -inf rows {same_inf}")
                if variant not in args.unchecked and not (o_err < 1e-5 and lse_err < 1e-5 and same_inf):
                    raise SystemExit(f"T={T} {case[0]}: {variant} disagrees with {args.variants[0]}")

        bufs = outputs()
        stream_bufs = [bufs] + [outputs() for _ in range(args.streams - 1)]
        streams = [torch.cuda.Stream() for _ in range(args.streams)] if args.streams > 1 else []

        def timed_batch(vr, c):
            if streams:
                return batch_ms_streams(lambda i: run(vr, c, stream_bufs[i]), args.batch, streams, args.head_start)
            return batch_ms(lambda: run(vr, c, bufs), args.batch, args.head_start)

        times = {(vr, c[0]): [] for vr in args.variants for c in cases}
        for vr in args.variants:  # warm-up (module load, first launch)
            for c in cases:
                run(vr, c, bufs)
        torch.cuda.synchronize()
        for r in range(args.rounds):
            # Each round starts at another variant and case, so that no variant always runs first
            # (in one A/B a build without O stores timed 3 % slower than the first variant on dense
            # launches, where it can only be faster: order or noise, and rotation rules out order).
            order = [(vr, c) for vr in rotated(args.variants, r) for c in rotated(cases, r)]
            for vr, c in order:
                times[(vr, c[0])].append(timed_batch(vr, c))
        med = {key: statistics.median(t) for key, t in times.items()}
        spread = f", spread over {args.streams} streams (throughput)" if streams else ""
        print(f"\nT={T // 1024}K (batches of {args.batch}{spread}, median of {args.rounds} rounds)")
        print("| case | density | " + " | ".join(f"{vr} ms | x rho x best dense" for vr in args.variants) + " |")
        print("|---|---|" + "---|---|" * len(args.variants))
        # The target's "our dense forward" is the fastest dense launch we have, not each variant's
        # own (a slower dense kernel would flatter its sparse ratios).
        best_dense = min(med[(vr, "dense")] for vr in args.variants if vr not in args.unchecked)
        for name, _, _, rho in cases:
            cells = []
            for vr in args.variants:
                ms = med[(vr, name)]
                ratio = ms / (rho * best_dense)
                cells.append(f"{ms:.3f} | {ratio:.2f}")
                report["cases"].append({"T": T, "case": name, "density": rho, "variant": vr, "ms": ms,
                                        "ratio": ratio, "spread": [min(times[(vr, name)]), max(times[(vr, name)])]})
            print(f"| {name} | {100 * rho:.1f} % | " + " | ".join(cells) + " |")
        del q, k, v, bufs, stream_bufs
        torch.cuda.empty_cache()
    os.environ.pop("ATTNSCOPE_CUDA_FORWARD", None)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
