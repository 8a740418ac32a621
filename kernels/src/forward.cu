// Flash-style forward: per query row the output O, row max, LSE and entropy in one pass over the
// visible key blocks (or a block list: the block-sparse forward costs in proportion to its blocks).
// One CTA = 64 query rows x one query head; GQA maps query head h to K/V head h / (qHeads / kvHeads).
#include "dispatch.cuh"
#include "pair-blocks.cuh"
#include "row-sweep.cuh"

namespace attnscope::cuda {

namespace {

template <typename T, int D, bool kSplit>
struct ForwardOp {
    OnlineSoftmax<D> state;
    __device__ __forceinline__ void tile(float s[8][4], int, const T* sV, float* scratch) {
        state.template update<true>(s);
        warpPV<T, D, kSplit>(s, sV, scratch, state.o);
    }
};

template <typename T, int D, bool kSplit>
__global__ void __launch_bounds__(kThreads) forward_kernel(HeadView h, ForwardArgs a) {
    extern __shared__ __align__(16) unsigned char smem[];
    // Causal rows near the end see the most keys: start them first.
    const int qb = gridDim.x - 1 - blockIdx.x;
    const int head = blockIdx.y;
    BlockSource src = denseBlocks(h, qb);
    if (a.blockOffsets) {
        src.list = a.blockList + a.blockOffsets[qb];
        src.count = a.blockOffsets[qb + 1] - a.blockOffsets[qb];
    }
    ForwardOp<T, D, kSplit> op;
    op.state.init();
    rowSweep<T, D, true>(h, head, qb, src, smem, op);
    op.state.finish();

    const int rowBase = qb * kTile + (threadIdx.x >> 5) * 16;
    const size_t headRows = static_cast<size_t>(head) * h.rowsPadded;
    op.state.writeOutput(a.out + headRows * D, rowBase, h.seqLen);
    op.state.writeRowStatistics(a.rowMax + headRows, a.rowLse + headRows, a.rowEntropy + headRows, rowBase, h.seqLen);
}

// Tensor-core forward, 128 query rows per CTA: each warp owns 32 rows (two m16 tiles) of one of
// the two 64-row query blocks, so each K/V fragment read from shared memory feeds two MMAs
// (the 64-row version was bound by ldmatrix traffic: 36 KB per warp per key block).
template <typename T, int D, bool kSplit>
__global__ void __launch_bounds__(kThreads) forward_pair_kernel(HeadView h, ForwardArgs a) {
    extern __shared__ __align__(16) unsigned char smem[];
    constexpr int E = kTileElems<T, D>;
    constexpr int S = kStride<T, D>;
    T* sQ = reinterpret_cast<T*>(smem);  // [128][S]
    T* sK = sQ + 2 * E;                  // [2][64][S]
    T* sV = sK + 2 * E;                  // [2][64][S]
    const int nb = h.rowsPadded / kTile;
    const int pairs = (nb + 1) / 2;
    const int qb0 = 2 * (pairs - 1 - static_cast<int>(blockIdx.x));  // long causal rows first
    const bool hasSecond = qb0 + 1 < nb;
    const int head = blockIdx.y;
    const int warp = threadIdx.x >> 5;
    const int half = warp >> 1;
    const bool active = half == 0 || hasSecond;
    const int myQb = qb0 + half;
    const HeadPointers<T, D> ptr = headPointers<T, D>(h, head);
    const size_t headRows = ptr.rows;
    const T* q = ptr.q + static_cast<size_t>(qb0) * kTile * D;
    const T* kBase = ptr.k;
    const T* vBase = ptr.v;

    PairBlocks it = pairBlocks(h, a, qb0, hasSecond);

    OnlineSoftmax<D> st[2];
    st[0].init();
    st[1].init();
    loadTileAsync<T, D>(sQ, q);
    if (hasSecond) loadTileAsync<T, D>(sQ + E, q + static_cast<size_t>(kTile) * D);
    int kb = 0;
    unsigned halves = 0;
    bool have = it.next(kb, halves);
    if (have) {
        loadTileAsync<T, D>(sK, kBase + static_cast<size_t>(kb) * kTile * D);
        loadTileAsync<T, D>(sV, vBase + static_cast<size_t>(kb) * kTile * D);
    }
    cpAsyncCommit();
    int buf = 0;
    while (have) {
        int nextKb = 0;
        unsigned nextHalves = 0;
        const bool nextHave = it.next(nextKb, nextHalves);
        if (nextHave) {
            loadTileAsync<T, D>(sK + (buf ^ 1) * E, kBase + static_cast<size_t>(nextKb) * kTile * D);
            loadTileAsync<T, D>(sV + (buf ^ 1) * E, vBase + static_cast<size_t>(nextKb) * kTile * D);
            cpAsyncCommit();
            cpAsyncWait<1>();
        } else {
            cpAsyncWait<0>();
        }
        __syncthreads();
        if (active && ((halves >> half) & 1u)) {
            float s[2][8][4];
            warpScores2<T, D>(sQ + warp * 32 * S, sK + buf * E, s);
            const bool full = blockFullyVisible(h, myQb, kb);
            const int rowBase = qb0 * kTile + warp * 32;
            finishLogits(h, s[0], rowBase, kb * kTile, full);
            finishLogits(h, s[1], rowBase + 16, kb * kTile, full);
            st[0].template update<true>(s[0]);
            st[1].template update<true>(s[1]);
            warpPV2<T, D, kSplit>(s, sV + buf * E, st[0].o, st[1].o);
        }
        __syncthreads();
        kb = nextKb;
        halves = nextHalves;
        have = nextHave;
        buf ^= 1;
    }
    if (!active) return;
#pragma unroll
    for (int m = 0; m < 2; ++m) {
        OnlineSoftmax<D>& state = st[m];
        state.finish();
        const int rowBase = qb0 * kTile + warp * 32 + 16 * m;
        state.writeOutput(a.out + headRows * D, rowBase, h.seqLen);
        state.writeRowStatistics(a.rowMax + headRows, a.rowLse + headRows, a.rowEntropy + headRows, rowBase, h.seqLen);
    }
}

}  // namespace

void launchForward(Element e, int D, const HeadView& h, const ForwardArgs& a, cudaStream_t stream) {
    if (useSpecializedForward() && launchForwardWgmmaSpecialized(e, D, h, a, stream)) {
        checkLaunch("attention forward (wgmma, warp-specialized)");
        return;
    }
    if (launchForwardWgmma(e, D, h, a, stream)) {
        checkLaunch("attention forward (wgmma)");
        return;
    }
    dispatchElement(e, [&]<typename T>() {
        dispatchHeadDim(D, [&]<int kD>() {
            const int nb = h.rowsPadded / kTile;
            if (kIsMma<T> && useSingleTileKernels()) {
                const size_t bytes = rowSweepSmemBytes<T, kD, true>();
                if (a.splitP) {
                    allowSharedMemory(forward_kernel<T, kD, true>, bytes);
                    forward_kernel<T, kD, true><<<dim3(nb, h.qHeads), kThreads, bytes, stream>>>(h, a);
                } else {
                    allowSharedMemory(forward_kernel<T, kD, false>, bytes);
                    forward_kernel<T, kD, false><<<dim3(nb, h.qHeads), kThreads, bytes, stream>>>(h, a);
                }
            } else if constexpr (kIsMma<T>) {
                const dim3 grid((nb + 1) / 2, h.qHeads);
                const size_t bytes = 6 * static_cast<size_t>(kTileElems<T, kD>) * sizeof(T);
                if (a.splitP) {
                    allowSharedMemory(forward_pair_kernel<T, kD, true>, bytes);
                    forward_pair_kernel<T, kD, true><<<grid, kThreads, bytes, stream>>>(h, a);
                } else {
                    allowSharedMemory(forward_pair_kernel<T, kD, false>, bytes);
                    forward_pair_kernel<T, kD, false><<<grid, kThreads, bytes, stream>>>(h, a);
                }
            } else {
                const size_t bytes = rowSweepSmemBytes<T, kD, true>();
                allowSharedMemory(forward_kernel<T, kD, true>, bytes);
                forward_kernel<T, kD, true><<<dim3(nb, h.qHeads), kThreads, bytes, stream>>>(h, a);
            }
        });
    });
    checkLaunch("attention forward");
}

}  // namespace attnscope::cuda
