#!/usr/bin/env python3
"""Timelines of the warp-specialized forward (kernels/src/forward-wgmma-specialized.cu): where each
consumer's cycles go, block by block, on a GPU. A developer's diagnostic, driven by
scripts/gpu-trace.sh; the committed kernel carries no trace code.

  instrument TREE      adds clock64 trace points to TREE's kernel (an exported copy, never the
                       working tree) and two C entry points to its bench/gpu/layer-capi.cpp
  record LIB OUTDIR    (GPU machine) runs the 8K Llama-3-8B layer shapes (seeded random bf16, synthetic)
                       dense and sink + 4 through LIB, saves trace-CASE.npz (the last of 4 launches)
  summary DIR...       prints, per recorded tree, the consumer phases of a block, the cost of the
                       row-writing block, the item period, the launch ramp and the end spread

Per CTA (the first 132), per consumer and iteration, the events are clock64 at: 0 loop top,
1 data landed (K/V full; query full on an item's first block), 2 turn acquired, 3 products issued
and turn passed, 4 scores done, 5 previous P V done, 6 P packed; 7 holds flags (key block,
first block of an item, rows written in this iteration); 8-10 split the row write: scores waited
for, rows written (or staged), O cleared. The producer (index 2) records 0 next block found,
1 query slot free, 2 K/V stage free (loads issued). The trace stores perturb the kernel (about
20 % slower per block): compare trees traced alike, not traced with untraced numbers.
"""
import os
import re
import sys

TRACE_EVENTS = 12
TRACE_ITERS = 160
TRACE_CTAS = 132


def instrument(tree):
    path = os.path.join(tree, "kernels/src/forward-wgmma-specialized.cu")
    src = open(path).read()

    def replace(old, new):
        nonlocal src
        if src.count(old) != 1:
            raise SystemExit(f"forward-trace.py: {path}: expected one match of {old.splitlines()[0]!r}, "
                             f"found {src.count(old)}: the kernel changed, update instrument()")
        src = src.replace(old, new)

    def trace(who, event):
        return f"if (tracer) traceAt({who}, it, {event}, clock64());"

    replace("namespace {\n\nconstexpr int kConsumers = 2;", f"""// TRACE (scripts/forward-trace.py): per-iteration clock64 timeline.
constexpr int kTraceCtas = {TRACE_CTAS}, kTraceIters = {TRACE_ITERS}, kTraceEvents = {TRACE_EVENTS};
__device__ long long g_trace[kTraceCtas][3][kTraceIters][kTraceEvents];  // [cta][consumer 0, 1 | producer]
__device__ long long g_ctaInfo[kTraceCtas][4];  // smid, globaltimer at start, clock64 at start, globaltimer at end

void copyForwardTrace(void* trace, void* info) {{
    cudaDeviceSynchronize();
    cudaMemcpyFromSymbol(trace, g_trace, sizeof(g_trace));
    cudaMemcpyFromSymbol(info, g_ctaInfo, sizeof(g_ctaInfo));
}}
void clearForwardTrace() {{
    void* p;
    cudaGetSymbolAddress(&p, g_trace);
    cudaMemset(p, 0, sizeof(g_trace));
}}

namespace {{

__device__ __forceinline__ void traceAt(int who, int iter, int event, long long value) {{
    if (blockIdx.x < kTraceCtas && iter < kTraceIters) g_trace[blockIdx.x][who][iter][event] = value;
}}

constexpr int kConsumers = 2;""")
    replace("""    while (stream.next(h, a, items, kb, halves, first)) {
        if (first) {
            mbarrierWait(&b.qEmpty[qSlot], qEmptyPhase);""", """    int pIter = 0;
    while (stream.next(h, a, items, kb, halves, first)) {
        traceAt(2, pIter, 0, clock64());
        if (first) {
            mbarrierWait(&b.qEmpty[qSlot], qEmptyPhase);
            traceAt(2, pIter, 1, clock64());""")
    replace("""        mbarrierWait(&b.kvEmpty[stage], emptyPhase);
        b.tickets[stage] = StageTicket{""", """        mbarrierWait(&b.kvEmpty[stage], emptyPhase);
        traceAt(2, pIter, 2, clock64());
        traceAt(2, pIter, 7, kb | (first ? 65536 : 0));
        ++pIter;
        b.tickets[stage] = StageTicket{""")
    replace("""    if (consumer == 1) namedBarrierArrive(kTurnBarrier, kConsumerThreads);  // consumer 0 goes first
    for (;;) {
""", f"""    if (consumer == 1) namedBarrierArrive(kTurnBarrier, kConsumerThreads);  // consumer 0 goes first
    const bool tracer = (threadIdx.x & 127) == 0;
    int it = 0;
    for (;;) {{
        {trace("consumer", 0)}
""")
    replace("""            mbarrierWait(&b.qFull[qSlot], qFullPhase);
        }
""", f"""            mbarrierWait(&b.qFull[qSlot], qFullPhase);
        }}
        {trace("consumer", 1)}
        if (tracer) traceAt(consumer, it, 7, kb | (first ? 65536 : 0) | (rowsToWrite ? 131072 : 0));
""")
    replace("""        namedBarrierSync(ownTurn, kConsumerThreads);
        wgmmaFence();""", f"""        namedBarrierSync(ownTurn, kConsumerThreads);
        {trace("consumer", 2)}
        wgmmaFence();""")
    replace("""            wgmmaWait<1>();
            // The finished item's rows go out""", f"""            wgmmaWait<1>();
            {trace("consumer", 8)}
            // The finished item's rows go out""")
    # The row write of the loop (writeRows, or stageRows in variants that stage them).
    # (Variants that do not clear O there get events 9 and 10 at the same point.)
    pattern = re.compile(r"(            (?:write|stage)Rows\(heldRows, finished\);\n)((?:            st\.clearOutput\(\);\n)?)"
                         r"(            heldRows = nextRows;\n            rowsToWrite = false;)")
    # Kernels whose loop calls a writeHeldRows hand-over (a lambda defined before the trace
    # variables) get events 9 and 10 together, right after that call: the rows staged and O cleared.
    held = "            writeHeldRows();\n"
    if len(pattern.findall(src)) == 1:
        src = pattern.sub(lambda m: m.group(1) + "            " + trace("consumer", 9) + "\n" + m.group(2) +
                          "            " + trace("consumer", 10) + "\n" + m.group(3), src)
    elif src.count(held) == 1:
        src = src.replace(held, held + "            " + trace("consumer", 9) + "\n            " +
                          trace("consumer", 10) + "\n")
    else:
        raise SystemExit(f"forward-trace.py: {path}: the loop's row write changed, update instrument()")
    replace("""        namedBarrierArrive(otherTurn, kConsumerThreads);
        // The previous item's query tile""", f"""        namedBarrierArrive(otherTurn, kConsumerThreads);
        {trace("consumer", 3)}
        // The previous item's query tile""")
    replace("""        wgmmaWait<1>();  // the scores; the previous block's O += P V may still run
        fenceAccumulators(s);""", f"""        wgmmaWait<1>();  // the scores; the previous block's O += P V may still run
        fenceAccumulators(s);
        {trace("consumer", 4)}""")
    replace("""        wgmmaWait<0>();
        fenceAccumulators(st.o);
        // The previous stage's V""", f"""        wgmmaWait<0>();
        fenceAccumulators(st.o);
        {trace("consumer", 5)}
        // The previous stage's V""")
    replace("""        pendingStage = stage;
        pendingHeld = true;""", f"""        {trace("consumer", 6)}
        ++it;
        pendingStage = stage;
        pendingHeld = true;""")
    replace("""    const int tid = threadIdx.x;
    if (tid == 0) {""", """    const int tid = threadIdx.x;
    if (tid == 0 && blockIdx.x < kTraceCtas) {
        unsigned smid;
        asm volatile("mov.u32 %0, %%smid;" : "=r"(smid));
        unsigned long long now;
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
        g_ctaInfo[blockIdx.x][0] = smid;
        g_ctaInfo[blockIdx.x][1] = static_cast<long long>(now);
        g_ctaInfo[blockIdx.x][2] = clock64();
    }
    if (tid == 0) {""")
    call = re.compile(r"(        consume<T, D, kSplit, kRawScores>\(h, a, wg - 1[^;]*;\n)")
    if len(call.findall(src)) != 1:
        raise SystemExit(f"forward-trace.py: {path}: the consumer call changed, update instrument()")
    src = call.sub(lambda m: m.group(1) + """        if (tid == kWarpgroupThreads && blockIdx.x < kTraceCtas) {
            unsigned long long now;
            asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
            g_ctaInfo[blockIdx.x][3] = static_cast<long long>(now);
        }
""", src)
    open(path, "w").write(src)

    capi = os.path.join(tree, "bench/gpu/layer-capi.cpp")
    text = open(capi).read()
    text = text.replace("namespace {\n\nthread_local", """namespace attnscope::cuda {
void copyForwardTrace(void* trace, void* info);
void clearForwardTrace();
}  // namespace attnscope::cuda

namespace {

thread_local""", 1)
    text = text.replace('}  // extern "C"', """// TRACE (scripts/forward-trace.py): the warp-specialized forward's timeline.
void attnscope_trace_copy(void* trace, void* info) { attnscope::cuda::copyForwardTrace(trace, info); }
void attnscope_trace_clear() { attnscope::cuda::clearForwardTrace(); }

}  // extern "C\"""", 1)
    if "attnscope_trace_copy" not in text or "void clearForwardTrace();" not in text:
        raise SystemExit(f"forward-trace.py: {capi}: could not add the trace entry points")
    open(capi, "w").write(text)
    print(f"instrumented {tree}")


def record(lib_path, out_dir):
    import ctypes

    import numpy as np
    import torch

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "gpu"))
    from bench_attention import D, H_KV, H_Q, Ours, sink_window_blocks

    ours = Ours(lib_path)
    ours.lib.attnscope_trace_copy.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    os.environ["ATTNSCOPE_CUDA_FORWARD"] = "specialized"
    dev = torch.device("cuda")
    T = 8192
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, h, T, D, device=dev, dtype=torch.bfloat16) for h in (H_Q, H_KV, H_KV))
    out = torch.empty((H_Q, T, D), device=dev)
    rows = [torch.empty((H_Q, T), device=dev) for _ in range(3)]
    offsets, blocks, _ = sink_window_blocks(T, 4, dev)
    os.makedirs(out_dir, exist_ok=True)
    for name, offs, blks in (("dense", None, None), ("sink4", offsets, blocks)):
        for _ in range(4):  # the last launch's timeline is kept (the first ones load the module, warm up)
            ours.lib.attnscope_trace_clear()
            ours.forward(q, k, v, out, *rows, True, offs, blks)
        torch.cuda.synchronize()
        trace = np.zeros((TRACE_CTAS, 3, TRACE_ITERS, TRACE_EVENTS), dtype=np.int64)
        info = np.zeros((TRACE_CTAS, 4), dtype=np.int64)
        ours.lib.attnscope_trace_copy(trace.ctypes.data, info.ctypes.data)
        np.savez_compressed(os.path.join(out_dir, f"trace-{name}.npz"), trace=trace, info=info)
        print(f"{out_dir}: {name}: first {TRACE_CTAS} CTAs span {(info[:, 3].max() - info[:, 1].min()) / 1e3:.1f} us")


def summary(dirs):
    import numpy as np

    for d in dirs:
        for name in ("dense", "sink4"):
            path = os.path.join(d, f"trace-{name}.npz")
            if not os.path.exists(path):
                continue
            z = np.load(path)
            t, info = z["trace"], z["info"]
            done = t[:, :2, :, 6] > 0
            flags = t[:, :2, :, 7]
            first = ((flags >> 16) & 1) == 1
            writes = ((flags >> 17) & 1) == 1
            plain = done & ~first & ~writes
            ev = t[:, :2]
            phase = lambda a, b, mask: float(np.median((ev[..., b] - ev[..., a])[mask]))
            # Cycles per microsecond from each CTA's clock64 and globaltimer over its whole run.
            last = np.array([ev[c, 0][done[c, 0]][-1, 6] for c in range(len(info))])
            ghz = float(np.median((last - info[:, 2]) / (info[:, 3] - info[:, 1])))
            period = np.diff(ev[..., 0], axis=-1)[done[..., 1:]]
            print(f"== {d} {name}: {ghz:.2f} GHz, block period median {np.median(period):.0f} cycles")
            print("   plain block: data %.0f, turn %.0f, issue %.0f, scores %.0f, softmax %.0f, pack %.0f cycles" %
                  tuple(phase(a, b, plain) for a, b in ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6))))
            if (first & done).any():
                print("   an item's first block: data %.0f, turn %.0f, issue %.0f, scores %.0f, softmax %.0f, pack %.0f cycles" %
                      tuple(phase(a, b, first & done) for a, b in ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6))))
                # Periods (loop top to the next loop top) by the block's place in its item: where an
                # item's time beyond its plain blocks goes (the last block is sink + w's diagonal).
                per = np.diff(ev[..., 0], axis=-1)
                measured = done[..., :-1] & done[..., 1:]
                last_of_item = np.zeros_like(first)
                last_of_item[..., :-1] = first[..., 1:]
                by_kind = lambda mask: float(np.median(per[mask[..., :-1] & measured])) if (mask[..., :-1] & measured).any() else float("nan")
                print("   block period by place: item's first %.0f, row-writing %.0f, plain %.0f, item's last %.0f cycles" %
                      (by_kind(first), by_kind(writes & ~first), by_kind(plain & ~last_of_item),
                       by_kind(last_of_item & ~first & ~writes)))
            if writes.any():
                print("   row-writing block: issue window %.0f (plain %.0f); inside: scores %.0f, rows %.0f, clear %.0f, "
                      "P V issue %.0f cycles" % (phase(2, 3, writes), phase(2, 3, plain), phase(2, 8, writes),
                                                 phase(8, 9, writes), phase(9, 10, writes), phase(10, 3, writes)))
                items = []
                for c in range(len(info)):
                    w = np.nonzero(writes[c, 0] & done[c, 0])[0]
                    items += list(np.diff(ev[c, 0, w, 0]))
                print(f"   item period median {np.median(items):.0f} cycles")
            # Load lead: from the producer's loads for a block (its stage free) to consumer 0 reaching
            # that block; what a shallower ring would take off is one block period.
            leads = []
            for c in range(len(info)):
                n = min(int((t[c, 2, :, 2] > 0).sum()), int(done[c, 0].sum()))
                leads += list((ev[c, 0, 1:n, 0] - t[c, 2, 1:n, 2]) / ghz / 1e3)
            if leads:
                print("   load lead (K/V issued to consumer at the block): 1st percentile %.2f, median %.2f us" %
                      tuple(np.percentile(leads, [1, 50])))
            start = (info[:, 1] - info[:, 1].min()) / 1e3
            end = (info[:, 3] - info[:, 1].min()) / 1e3
            ramp = (ev[:, 0, 0, 2] - info[:, 2]) / ghz / 1e3
            n_items = first[:, 0].sum(axis=1)
            print(f"   ramp (CTA start to first turn) median {np.median(ramp):.2f} us; ends min {end.min():.1f} "
                  f"median {np.median(end):.1f} max {end.max():.1f} us (starts within {start.max():.2f} us)")
            for n in sorted(set(n_items.tolist())):
                print(f"   CTAs with {n} items: {int((n_items == n).sum())}, end median {np.median(end[n_items == n]):.1f} us")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "instrument":
        instrument(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "record":
        record(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 3 and sys.argv[1] == "summary":
        summary(sys.argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
