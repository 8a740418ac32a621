// Flash-style forward on Hopper (sm_90a): the two-query-block forward of forward.cu with both
// products on wgmma. A CTA of two warpgroups owns 128 query rows (64 per warpgroup, Q in swizzled
// shared memory for the whole pass); K and V tiles stream through double-buffered swizzled shared
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

template <int D>
constexpr size_t wgmmaForwardSmemBytes() {
    return kSwizzleAlign + static_cast<size_t>(kGroups + 4) * kSwizzledTileBytes<D>;
}

template <typename T, int D, bool kSplit>
__global__ void __launch_bounds__(kCtaThreads, 1) forward_wgmma_kernel(HeadView h, ForwardArgs a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    static_assert(D % 64 == 0, "the wgmma forward takes head dims that are multiples of 64");
    extern __shared__ __align__(16) unsigned char smemRaw[];
    constexpr int kTileBytes = kSwizzledTileBytes<D>;
    const uint32_t rawAddress = static_cast<uint32_t>(__cvta_generic_to_shared(smemRaw));
    unsigned char* sQ = smemRaw + ((kSwizzleAlign - (rawAddress & (kSwizzleAlign - 1))) & (kSwizzleAlign - 1));
    unsigned char* sK = sQ + kGroups * kTileBytes;  // [2 buffers]
    unsigned char* sV = sK + 2 * kTileBytes;        // [2 buffers]

    const int tid = threadIdx.x;
    const int wg = tid / kWarpgroupThreads;
    const int warpInGroup = (tid >> 5) & 3;
    const int lane = tid & 31;
    const int nb = h.rowsPadded / kTile;
    const int pairs = (nb + 1) / 2;
    const int qb0 = 2 * (pairs - 1 - static_cast<int>(blockIdx.x));  // long causal rows first
    const bool hasSecond = qb0 + 1 < nb;
    const bool active = wg == 0 || hasSecond;
    const int myQb = qb0 + wg;
    const int head = blockIdx.y;
    const int group = h.qHeads / h.kvHeads;
    const size_t kvOffset = static_cast<size_t>(head / group) * h.rowsPadded * D;
    const size_t headRows = static_cast<size_t>(head) * h.rowsPadded;
    const T* q = static_cast<const T*>(h.q) + (headRows + static_cast<size_t>(qb0) * kTile) * D;
    const T* kBase = static_cast<const T*>(h.k) + kvOffset;
    const T* vBase = static_cast<const T*>(h.v) + kvOffset;
    auto loadKeys = [&](int kb, int buf) {
        loadTileSwizzledAsync<T, D>(sK + buf * kTileBytes, kBase + static_cast<size_t>(kb) * kTile * D, tid, kCtaThreads);
        loadTileSwizzledAsync<T, D>(sV + buf * kTileBytes, vBase + static_cast<size_t>(kb) * kTile * D, tid, kCtaThreads);
    };

    PairBlocks it = pairBlocks(h, a, qb0, hasSecond);
    OnlineSoftmax<D> st;
    st.init();
    loadTileSwizzledAsync<T, D>(sQ, q, tid, kCtaThreads);
    if (hasSecond) loadTileSwizzledAsync<T, D>(sQ + kTileBytes, q + static_cast<size_t>(kTile) * D, tid, kCtaThreads);
    int kb = 0;
    unsigned halves = 0;
    bool have = it.next(kb, halves);
    if (have) loadKeys(kb, 0);
    cpAsyncCommit();

    float s[8][4];
#pragma unroll
    for (int n = 0; n < 8; ++n)
#pragma unroll
        for (int c = 0; c < 4; ++c) s[n][c] = 0.0f;
    int buf = 0;
    while (have) {
        int nextKb = 0;
        unsigned nextHalves = 0;
        const bool nextHave = it.next(nextKb, nextHalves);
        if (nextHave) {
            loadKeys(nextKb, buf ^ 1);
            cpAsyncCommit();
            cpAsyncWait<1>();
        } else {
            cpAsyncWait<0>();
        }
        fenceSharedForAsyncProxy();
        __syncthreads();
        if (active && ((halves >> wg) & 1u)) {  // uniform per warpgroup
            const unsigned char* tileK = sK + buf * kTileBytes;
            const unsigned char* tileV = sV + buf * kTileBytes;
            wgmmaFence();
            wgmmaScores<T, D>(s, sQ + wg * kTileBytes, tileK);
            wgmmaCommit();
            wgmmaWait<0>();
            fenceAccumulators(s);
            finishLogits(h, s, myQb * kTile + warpInGroup * 16, kb * kTile, blockFullyVisible(h, myQb, kb));
            st.template update<true>(s);

            // P as the A fragments of 4 k-steps of 16 keys (hi and, split, lo parts).
            uint32_t pHi[4][4], pLo[4][4];
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
            wgmmaFence();
#pragma unroll
            for (int cb = 0; cb < D / 64; ++cb) {
                float(&o)[8][4] = *reinterpret_cast<float(*)[8][4]>(&st.o[8 * cb][0]);
#pragma unroll
                for (int kk = 0; kk < 4; ++kk) {
                    const uint64_t desc = mnMajorDescriptor(tileV, cb, kk);
                    wgmmaM64N64K16<T, true>(o, pHi[kk], desc, true);
                    if constexpr (kSplit) wgmmaM64N64K16<T, true>(o, pLo[kk], desc, true);
                }
            }
            wgmmaCommit();
            wgmmaWait<0>();
            fenceAccumulators(st.o);
        }
        __syncthreads();  // every warpgroup is done with buffer buf before it is refilled
        kb = nextKb;
        halves = nextHalves;
        have = nextHave;
        buf ^= 1;
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
    const dim3 grid((nb + 1) / 2, h.qHeads);
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
