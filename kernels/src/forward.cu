// Flash-style forward: per query row the output O, row max, LSE and entropy in one pass over the
// visible key blocks (or a block list: the block-sparse forward costs in proportion to its blocks).
// One CTA = 64 query rows x one query head; GQA maps query head h to K/V head h / (qHeads / kvHeads).
#include "dispatch.cuh"
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

    const int lane = threadIdx.x & 31;
    const int rowBase = qb * kTile + (threadIdx.x >> 5) * 16;
    const size_t headRows = static_cast<size_t>(head) * h.rowsPadded;
    op.state.writeOutput(a.out + headRows * D, rowBase, h.seqLen);
    if ((lane & 3) == 0) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int i = rowBase + (lane >> 2) + 8 * r;
            if (i >= h.seqLen) continue;
            const float l = op.state.l[r];
            const float logL = logf(l);
            a.rowMax[headRows + i] = op.state.m[r];
            a.rowLse[headRows + i] = l > 0.0f ? op.state.m[r] + logL : -INFINITY;
            a.rowEntropy[headRows + i] = l > 0.0f ? fmaxf(0.0f, logL - op.state.u[r] / l) : 0.0f;
        }
    }
}

}  // namespace

void launchForward(Element e, int D, const HeadView& h, const ForwardArgs& a, cudaStream_t stream) {
    dispatchElement(e, [&]<typename T>() {
        dispatchHeadDim(D, [&]<int kD>() {
            const dim3 grid(h.rowsPadded / kTile, h.qHeads);
            const size_t bytes = rowSweepSmemBytes<T, kD, true>();
            if (a.splitP || !kIsMma<T>) {
                allowSharedMemory(forward_kernel<T, kD, true>, bytes);
                forward_kernel<T, kD, true><<<grid, kThreads, bytes, stream>>>(h, a);
            } else {
                allowSharedMemory(forward_kernel<T, kD, false>, bytes);
                forward_kernel<T, kD, false><<<grid, kThreads, bytes, stream>>>(h, a);
            }
        });
    });
    checkLaunch("attention forward");
}

}  // namespace attnscope::cuda
