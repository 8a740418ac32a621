// Flash-style forward on Hopper (sm_90a): the two-query-block forward of forward.cu with both
// products on wgmma. A CTA of two warpgroups owns two 64-row query tiles (one per warpgroup, Q in
// swizzled shared memory for the whole pass): one query block of two query heads that share a K/V
// head when the GQA group is even (the layer launches; measured 5 % faster dense and 7-15 % faster
// block-sparse at 8K than block pairs, whose key block lists differ at the ends), else two
// consecutive query blocks of one head. K and V tiles stream through a 4-buffer ring of swizzled shared
// memory, which the tensor cores read directly: S = Q K^T with Q and K K-major, O += P V with V
// MN-major (P converted from the S accumulators in registers, as hi + lo 16-bit parts for the
// exact split-P mode). Head dims that are multiples of 64 (64, 128); others use forward.cu.
// Block-sparse launches are persistent: one CTA per SM runs through several items (one CTA's worth
// of query rows) with the K/V pipeline running on across items.
#include <algorithm>
#include <cstdlib>

#include "dispatch.cuh"
#include "forward-items.cuh"
#include "wgmma.cuh"

namespace attnscope::cuda {

namespace {

constexpr int kGroups = 2;  // warpgroups per CTA, one 64-row query block each
constexpr int kCtaThreads = kGroups * kWarpgroupThreads;
// K/V tiles: one computing, one loading, and two behind, so that one barrier per key block
// suffices and a block's O += P V may still run while the next block's scores are issued.
constexpr int kBuffers = 4;
// Query tiles: the current item's and the next one's, loaded with the next item's first K/V tile.
constexpr int kQSlots = 2;

template <int D>
constexpr size_t wgmmaForwardSmemBytes() {
    return kSwizzleAlign + static_cast<size_t>(kQSlots * kGroups + 2 * kBuffers) * kSwizzledTileBytes<D>;
}

// kAcrossItems: the grid has fewer CTAs than items (persistent). Without it a CTA has one item and
// the cross-item steps are compiled out (measured: they cost the dense launch 1-3 %).
template <typename T, int D, bool kSplit, bool kAcrossItems>
__global__ void __launch_bounds__(kCtaThreads, 1) forward_wgmma_kernel(HeadView h, ForwardArgs a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    static_assert(D % 64 == 0, "the wgmma forward takes head dims that are multiples of 64");
    extern __shared__ __align__(16) unsigned char smemRaw[];
    constexpr int kTileBytes = kSwizzledTileBytes<D>;
    // Aligned here, on the shared array itself: through a helper taking a generic pointer the
    // statistics kernel spilled at D = 128.
    const uint32_t rawAddress = sharedAddress(smemRaw);
    unsigned char* sQ = smemRaw + ((kSwizzleAlign - (rawAddress & (kSwizzleAlign - 1))) & (kSwizzleAlign - 1));
    unsigned char* sK = sQ + kQSlots * kGroups * kTileBytes;  // [kBuffers]
    unsigned char* sV = sK + kBuffers * kTileBytes;          // [kBuffers]

    const int tid = threadIdx.x;
    // Warp-uniform as far as the compiler can tell (a value read from lane 0): ptxas serializes
    // wgmma under branches it must treat as divergent.
    const int wg = __shfl_sync(0xffffffffu, tid / kWarpgroupThreads, 0);
    const int warpInGroup = (tid >> 5) & 3;
    const int nb = h.rowsPadded / kTile;
    const ForwardItems items(h);
    ItemBlockStream stream;
    stream.start(h, a, items, kAcrossItems);
    // K/V tiles of key block kb of the stream's current item.
    auto loadKeys = [&](int kb, int buf) {
        const size_t offset = (stream.kvRows + static_cast<size_t>(kb) * kTile) * D;
        loadTileSwizzledAsync<T, D, kCtaThreads>(sK + buf * kTileBytes, static_cast<const T*>(h.k) + offset, tid);
        loadTileSwizzledAsync<T, D, kCtaThreads>(sV + buf * kTileBytes, static_cast<const T*>(h.v) + offset, tid);
    };
    // Each warpgroup loads its own query tile (none for a missing second block): the slot it
    // overwrites was last read by its own scores.
    auto loadQuery = [&](const WarpgroupRows& r, int slot) {
        if (r.qb < nb)
            loadTileSwizzledAsync<T, D, kWarpgroupThreads>(sQ + (slot * kGroups + wg) * kTileBytes,
                                                           headPointers<T, D>(h, r.head).q + static_cast<size_t>(r.qb) * kTile * D,
                                                           tid % kWarpgroupThreads);
    };

    // The next key block of the stream, made warp-uniform for the compiler (see wg).
    auto nextBlock = [&](int& kbOut, unsigned& halvesOut, bool& firstOut) {
        const bool more = stream.next(h, a, items, kbOut, halvesOut, firstOut);
        kbOut = __shfl_sync(0xffffffffu, kbOut, 0);
        halvesOut = __shfl_sync(0xffffffffu, halvesOut, 0);
        firstOut = __shfl_sync(0xffffffffu, static_cast<int>(firstOut), 0) != 0;
        return __shfl_sync(0xffffffffu, static_cast<int>(more), 0) != 0;
    };
    // The rows of the current key block's item, and the rows the softmax state holds (those of the
    // previous item until the current item's first block has been folded in).
    WarpgroupRows rows = stream.rows(h, wg);
    WarpgroupRows heldRows = rows;
    int qSlot = 0;
    OnlineSoftmax<D> st;
    st.init();
    loadQuery(rows, qSlot);
    int kb = 0;
    unsigned halves = 0;
    bool first = false;
    bool have = nextBlock(kb, halves, first);
    first = false;  // the CTA's first block: the state holds no earlier rows to hand over
    if (have) loadKeys(kb, 0);
    cpAsyncCommit();

    // O += P V of the previous key block is issued together with the next block's scores, so the
    // tensor cores work on it while the warpgroup computes exp of the next block; across items too,
    // where it completes the previous item's rows, written out while the next K/V tiles load.
    // Every warpgroup runs this pipeline over every block of the stream (blocks it does not use
    // are masked out entirely, and before the first block P is zero): the same wgmma sequence on
    // every path, which ptxas needs to keep the products asynchronous.
    uint32_t pHi[4][4] = {}, pLo[4][4] = {};
    int pendingBuf = 0;
    auto issueOutput = [&]() {
        const unsigned char* tileV = sV + pendingBuf * kTileBytes;
#pragma unroll
        for (int cb = 0; cb < D / 64; ++cb) {
            float(&o)[8][4] = *reinterpret_cast<float(*)[8][4]>(&st.o[8 * cb][0]);
#pragma unroll
            for (int kk = 0; kk < 4; ++kk) {
                const uint64_t desc = mnMajorDescriptor(tileV, cb, kk);
                wgmmaM64N64K16AccumulateTransposedB<T>(o, pHi[kk], desc);
                if constexpr (kSplit) wgmmaM64N64K16AccumulateTransposedB<T>(o, pLo[kk], desc);
            }
        }
        wgmmaCommit();
    };
    // Output (o, still the finished rows') and row statistics of finished rows r.
    auto writeRows = [&](const WarpgroupRows& r, RowTotals& totals) {
        totals.finish();
        const size_t headRows = static_cast<size_t>(r.head) * h.rowsPadded;
        const int rowBase = r.qb * kTile + warpInGroup * 16;
        st.writeOutputRows(totals.l, a.out + headRows * D, rowBase, h.seqLen);
        totals.write(a.rowMax + headRows, a.rowLse + headRows, a.rowEntropy + headRows, rowBase, h.seqLen);
    };

    float s[8][4];
#pragma unroll
    for (int n = 0; n < 8; ++n)
#pragma unroll
        for (int c = 0; c < 4; ++c) s[n][c] = 0.0f;
    int buf = 0;
    while (have) {
        int nextKb = 0;
        unsigned nextHalves = 0;
        bool nextFirst = false;
        const bool nextHave = nextBlock(nextKb, nextHalves, nextFirst);
        if (nextHave) {
            loadKeys(nextKb, buf == kBuffers - 1 ? 0 : buf + 1);
            cpAsyncCommit();
            cpAsyncWait<1>();
        } else {
            cpAsyncWait<0>();
        }
        fenceSharedForAsyncProxy();
        // Key block kb (and, at an item's first block, its query tiles) has landed for everyone.
        // The load above (issued after the previous barrier) reuses the buffer of block kb - 3 in
        // visiting order, whose O += P V every warpgroup waited for before that barrier.
        __syncthreads();
        wgmmaFence();  // P and O were written by this thread since the last wgmma
        wgmmaScores<T, D>(s, sQ + (qSlot * kGroups + wg) * kTileBytes, sK + buf * kTileBytes);
        wgmmaCommit();
        issueOutput();
        // The next item's query tiles go to the other slot, last read by the scores of the item
        // before this one, which every thread finished before the barrier above.
        WarpgroupRows nextRows = rows;
        int nextSlot = qSlot;
        if (kAcrossItems && nextHave && nextFirst) {
            nextRows = stream.rows(h, wg);
            nextSlot = qSlot ^ 1;
            loadQuery(nextRows, nextSlot);
            cpAsyncCommit();
        }
        wgmmaWait<1>();  // the scores; the previous block's O += P V may still run
        fenceAccumulators(s);
        const bool uses = (halves >> wg) & 1u;
        if (!uses) {
#pragma unroll
            for (int n = 0; n < 8; ++n)
#pragma unroll
                for (int c = 0; c < 4; ++c) s[n][c] = -INFINITY;
        }
        // An item's first block after another item: the state starts the new rows, the old
        // rows' totals are kept for writing once their last O += P V is done.
        const bool newRows = kAcrossItems && first;
        RowTotals done{};
        if (newRows) done = st.restartRows();
        float alpha[2];
        if (h.softcap > 0.0f || !(h.scale > 0.0f)) {  // the raw-dot path needs a positive scale
            if (uses) finishLogits(h, s, rows.qb * kTile + warpInGroup * 16, kb * kTile, blockFullyVisible(h, rows.qb, kb));
            st.template scaleScores<true>(s, alpha);
        } else {
            if (uses && !blockFullyVisible(h, rows.qb, kb)) maskInvisible(h, s, rows.qb * kTile + warpInGroup * 16, kb * kTile);
            st.template scaleRawScores<true>(s, h.scale, alpha);
        }
        wgmmaWait<0>();
        fenceAccumulators(st.o);
        if (newRows) {
            writeRows(heldRows, done);
            st.clearOutput();
            heldRows = rows;
        } else {
            st.rescaleOutput(alpha);
        }

        // P as the A fragments of 4 k-steps of 16 keys (hi and, split, lo parts).
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) {
            float r[8];
            pHi[kk][0] = packPair<T>(s[2 * kk][0], s[2 * kk][1], r[0], r[1]);
            pHi[kk][1] = packPair<T>(s[2 * kk][2], s[2 * kk][3], r[2], r[3]);
            pHi[kk][2] = packPair<T>(s[2 * kk + 1][0], s[2 * kk + 1][1], r[4], r[5]);
            pHi[kk][3] = packPair<T>(s[2 * kk + 1][2], s[2 * kk + 1][3], r[6], r[7]);
            if constexpr (kSplit) {
                float unused[2];
#pragma unroll
                for (int j = 0; j < 4; ++j) pLo[kk][j] = packPair<T>(r[2 * j], r[2 * j + 1], unused[0], unused[1]);
            }
        }
        pendingBuf = buf;
        kb = nextKb;
        halves = nextHalves;
        first = nextFirst;
        have = nextHave;
        rows = nextRows;
        qSlot = nextSlot;
        buf = buf == kBuffers - 1 ? 0 : buf + 1;
    }
    wgmmaFence();
    issueOutput();
    wgmmaWait<0>();
    fenceAccumulators(st.o);
    RowTotals last = st.restartRows();
    writeRows(heldRows, last);
#endif
}

}  // namespace

bool launchForwardWgmma(Element e, int D, const HeadView& h, const ForwardArgs& a, cudaStream_t stream) {
    if (e == Element::Float32 || D % 64 != 0 || !useHopperKernels()) return false;
    // Block-sparse launches are persistent, one CTA per SM running through its items, so that
    // the next item's query and first K/V tiles load under the current item's last block and its
    // output is written under the next item's. H100, 8K, Llama-3-8B shapes, same call: sink + 1,
    // 4, 8-block windows 0.148-0.163 -> 0.126-0.128, 0.234-0.247 -> 0.214-0.217, 0.344-0.347 ->
    // 0.334-0.339 ms; later, heads-first items: sink + 16 0.571 -> 0.539 ms (batched timing). Dense
    // launches keep one CTA per item: for items this long the hardware's CTA scheduler balances
    // better than a static assignment (dense lists, persistent heads-first 2.03 ms, one CTA per
    // item 1.87-1.99 ms).
    // ATTNSCOPE_CUDA_FORWARD_CTAS caps the grid of any launch (tests: several items per CTA).
    const int items = ForwardItems(h).count();
    const char* cap = std::getenv("ATTNSCOPE_CUDA_FORWARD_CTAS");
    const int ctas = cap ? std::max(1, std::atoi(cap)) : a.blockOffsets ? multiprocessorCount() : items;
    const int grid = std::min(items, ctas);
    dispatchElement(e, [&]<typename T>() {
        if constexpr (kIsMma<T>) {
            dispatchHeadDim(D, [&]<int kD>() {
                if constexpr (kD % 64 == 0) {
                    const size_t bytes = wgmmaForwardSmemBytes<kD>();
                    auto launch = [&]<bool kSplit, bool kAcross>() {
                        allowSharedMemory(forward_wgmma_kernel<T, kD, kSplit, kAcross>, bytes);
                        forward_wgmma_kernel<T, kD, kSplit, kAcross><<<grid, kCtaThreads, bytes, stream>>>(h, a);
                    };
                    const bool across = grid < items;
                    if (a.splitP && across) launch.template operator()<true, true>();
                    else if (a.splitP) launch.template operator()<true, false>();
                    else if (across) launch.template operator()<false, true>();
                    else launch.template operator()<false, false>();
                }
            });
        }
    });
    return true;
}

}  // namespace attnscope::cuda
