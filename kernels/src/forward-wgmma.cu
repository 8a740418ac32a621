// Flash-style forward on Hopper (sm_90a): the two-query-block forward of forward.cu with both
// products on wgmma. A CTA of two warpgroups owns two 64-row query tiles (one per warpgroup, Q in
// swizzled shared memory for the whole pass): one query block of two query heads that share a K/V
// head when the GQA group is even (the layer launches; measured 5 % faster dense and 7-15 % faster
// block-sparse at 8K than block pairs, whose key block lists differ at the ends), else two
// consecutive query blocks of one head. K and V tiles stream through a 4-buffer ring of swizzled shared
// memory, which the tensor cores read directly: S = Q K^T with Q and K K-major, O += P V with V
// MN-major (P converted from the S accumulators in registers, as hi + lo 16-bit parts for the
// exact split-P mode). Head dims that are multiples of 64 (64, 128); others use forward.cu.
#include "dispatch.cuh"
#include "pair-blocks.cuh"
#include "wgmma.cuh"

namespace attnscope::cuda {

namespace {

constexpr int kGroups = 2;  // warpgroups per CTA, one 64-row query block each
constexpr int kCtaThreads = kGroups * kWarpgroupThreads;
// K/V tiles: one computing, one loading, and two behind, so that one barrier per key block
// suffices and a block's O += P V may still run while the next block's scores are issued.
constexpr int kBuffers = 4;

template <int D>
constexpr size_t wgmmaForwardSmemBytes() {
    return kSwizzleAlign + static_cast<size_t>(kGroups + 2 * kBuffers) * kSwizzledTileBytes<D>;
}

// Whether a CTA takes two query heads of one K/V head (GQA groups of even size: their key block
// lists are the same, so neither warpgroup computes blocks only the other uses) rather than two
// query blocks of one head.
__host__ __device__ inline bool forwardPairsHeads(const HeadView& h) { return (h.qHeads / h.kvHeads) % 2 == 0; }

template <typename T, int D, bool kSplit>
__global__ void __launch_bounds__(kCtaThreads, 1) forward_wgmma_kernel(HeadView h, ForwardArgs a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    static_assert(D % 64 == 0, "the wgmma forward takes head dims that are multiples of 64");
    extern __shared__ __align__(16) unsigned char smemRaw[];
    constexpr int kTileBytes = kSwizzledTileBytes<D>;
    // Aligned here, on the shared array itself: through a helper taking a generic pointer the
    // statistics kernel spilled at D = 128.
    const uint32_t rawAddress = sharedAddress(smemRaw);
    unsigned char* sQ = smemRaw + ((kSwizzleAlign - (rawAddress & (kSwizzleAlign - 1))) & (kSwizzleAlign - 1));
    unsigned char* sK = sQ + kGroups * kTileBytes;  // [kBuffers]
    unsigned char* sV = sK + kBuffers * kTileBytes;  // [kBuffers]

    const int tid = threadIdx.x;
    // Warp-uniform as far as the compiler can tell (a value read from lane 0): ptxas serializes
    // wgmma under branches it must treat as divergent.
    const int wg = __shfl_sync(0xffffffffu, tid / kWarpgroupThreads, 0);
    const int warpInGroup = (tid >> 5) & 3;
    const int nb = h.rowsPadded / kTile;
    // Head pairs: the warpgroups take one query block of two query heads of one K/V head. Else
    // two consecutive query blocks of one head (whose key blocks differ at the ends).
    const bool headPairs = forwardPairsHeads(h);
    const int qb0 = headPairs ? nb - 1 - static_cast<int>(blockIdx.x)             // long causal rows first
                              : 2 * ((nb + 1) / 2 - 1 - static_cast<int>(blockIdx.x));
    const bool hasSecond = headPairs || qb0 + 1 < nb;
    const bool active = wg == 0 || hasSecond;
    const int myQb = headPairs ? qb0 : qb0 + wg;
    const int firstHead = headPairs ? 2 * blockIdx.y : blockIdx.y;
    const int head = headPairs ? firstHead + wg : firstHead;
    const HeadPointers<T, D> ptr = headPointers<T, D>(h, firstHead);
    const size_t headRows = static_cast<size_t>(head) * h.rowsPadded;
    const T* q = ptr.q + static_cast<size_t>(qb0) * kTile * D;
    // The second warpgroup's query tile: the next head's block, or the next block of this head.
    const T* qSecond = q + (headPairs ? static_cast<size_t>(h.rowsPadded) * D : static_cast<size_t>(kTile) * D);
    const T* kBase = ptr.k;
    const T* vBase = ptr.v;
    auto loadKeys = [&](int kb, int buf) {
        loadTileSwizzledAsync<T, D, kCtaThreads>(sK + buf * kTileBytes, kBase + static_cast<size_t>(kb) * kTile * D, tid);
        loadTileSwizzledAsync<T, D, kCtaThreads>(sV + buf * kTileBytes, vBase + static_cast<size_t>(kb) * kTile * D, tid);
    };

    PairBlocks it = pairBlocks(h, a, qb0, hasSecond && !headPairs);
    const unsigned bothHalves = headPairs ? 3u : 0u;  // head pairs share one list
    OnlineSoftmax<D> st;
    st.init();
    loadTileSwizzledAsync<T, D, kCtaThreads>(sQ, q, tid);
    if (hasSecond) loadTileSwizzledAsync<T, D, kCtaThreads>(sQ + kTileBytes, qSecond, tid);
    // The next key block of the union, made warp-uniform for the compiler (see wg).
    auto nextBlock = [&](int& kbOut, unsigned& halvesOut) {
        const bool more = it.next(kbOut, halvesOut);
        kbOut = __shfl_sync(0xffffffffu, kbOut, 0);
        halvesOut = __shfl_sync(0xffffffffu, halvesOut | bothHalves, 0);
        return __shfl_sync(0xffffffffu, static_cast<int>(more), 0) != 0;
    };
    int kb = 0;
    unsigned halves = 0;
    bool have = nextBlock(kb, halves);
    if (have) loadKeys(kb, 0);
    cpAsyncCommit();

    // O += P V of the previous key block is issued together with the next block's scores, so the
    // tensor cores work on it while the warpgroup computes exp of the next block. Every warpgroup
    // runs this pipeline over every block of the CTA's union (blocks it does not use are masked
    // out entirely, and before the first block P is zero): the same wgmma sequence on every
    // path, which ptxas needs to keep the products asynchronous.
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

    float s[8][4];
#pragma unroll
    for (int n = 0; n < 8; ++n)
#pragma unroll
        for (int c = 0; c < 4; ++c) s[n][c] = 0.0f;
    int buf = 0;
    while (have) {
        int nextKb = 0;
        unsigned nextHalves = 0;
        const bool nextHave = nextBlock(nextKb, nextHalves);
        if (nextHave) {
            loadKeys(nextKb, buf == kBuffers - 1 ? 0 : buf + 1);
            cpAsyncCommit();
            cpAsyncWait<1>();
        } else {
            cpAsyncWait<0>();
        }
        fenceSharedForAsyncProxy();
        // Key block kb has landed for everyone. The load above (issued after the previous barrier)
        // reuses the buffer of block kb - 3 in visiting order, whose O += P V every warpgroup waited
        // for before that barrier.
        __syncthreads();
        if (active) {
            wgmmaFence();  // P and O were written by this thread since the last wgmma
            wgmmaScores<T, D>(s, sQ + wg * kTileBytes, sK + buf * kTileBytes);
            wgmmaCommit();
            issueOutput();
            wgmmaWait<1>();  // the scores; the previous block's O += P V may still run
            fenceAccumulators(s);
            const bool uses = (halves >> wg) & 1u;
            if (!uses) {
#pragma unroll
                for (int n = 0; n < 8; ++n)
#pragma unroll
                    for (int c = 0; c < 4; ++c) s[n][c] = -INFINITY;
            }
            float alpha[2];
            if (h.softcap > 0.0f || !(h.scale > 0.0f)) {  // the raw-dot path needs a positive scale
                if (uses) finishLogits(h, s, myQb * kTile + warpInGroup * 16, kb * kTile, blockFullyVisible(h, myQb, kb));
                st.template scaleScores<true>(s, alpha);
            } else {
                if (uses && !blockFullyVisible(h, myQb, kb)) maskInvisible(h, s, myQb * kTile + warpInGroup * 16, kb * kTile);
                st.template scaleRawScores<true>(s, h.scale, alpha);
            }
            wgmmaWait<0>();
            fenceAccumulators(st.o);
            st.rescaleOutput(alpha);

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
        }
        kb = nextKb;
        halves = nextHalves;
        have = nextHave;
        buf = buf == kBuffers - 1 ? 0 : buf + 1;
    }
    if (active) {
        wgmmaFence();
        issueOutput();
        wgmmaWait<0>();
        fenceAccumulators(st.o);
    }
    if (!active) return;
    st.finish();
    const int rowBase = myQb * kTile + warpInGroup * 16;
    st.writeOutput(a.out + headRows * D, rowBase, h.seqLen);
    st.writeRowStatistics(a.rowMax + headRows, a.rowLse + headRows, a.rowEntropy + headRows, rowBase, h.seqLen);
#endif
}

}  // namespace

bool launchForwardWgmma(Element e, int D, const HeadView& h, const ForwardArgs& a, cudaStream_t stream) {
    if (e == Element::Float32 || D % 64 != 0 || !useHopperKernels()) return false;
    const int nb = h.rowsPadded / kTile;
    const dim3 grid = forwardPairsHeads(h) ? dim3(nb, h.qHeads / 2) : dim3((nb + 1) / 2, h.qHeads);
    dispatchElement(e, [&]<typename T>() {
        if constexpr (kIsMma<T>) {
            dispatchHeadDim(D, [&]<int kD>() {
                if constexpr (kD % 64 == 0) {
                    const size_t bytes = wgmmaForwardSmemBytes<kD>();
                    if (a.splitP) {
                        allowSharedMemory(forward_wgmma_kernel<T, kD, true>, bytes);
                        forward_wgmma_kernel<T, kD, true><<<grid, kCtaThreads, bytes, stream>>>(h, a);
                    } else {
                        allowSharedMemory(forward_wgmma_kernel<T, kD, false>, bytes);
                        forward_wgmma_kernel<T, kD, false><<<grid, kCtaThreads, bytes, stream>>>(h, a);
                    }
                }
            });
        }
    });
    return true;
}

}  // namespace attnscope::cuda
