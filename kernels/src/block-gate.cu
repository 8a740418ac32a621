// MoBA's block gate on the device, every query head of a layer at once (Lu et al., arXiv:2502.13189;
// the CPU definition is core/src/variants/moba-variant.cpp and this must agree with it): blocks of
// `block` tokens, each represented by its mean query / mean key (fp64 sums rounded to fp32, as on the
// CPU); a query block keeps its own block and the `topk` best candidates by mean(q) . mean(k), ties
// to the lower block. Candidates: blocks strictly before it (causal) or all others, with at least one
// visible cell. The gate dot product uses the CPU's summation order (8 partial sums, no FMA), so the
// scores, and therefore the chosen blocks, are bit-identical.
#include "dispatch.cuh"

namespace attnscope::cuda {

namespace {

// means [heads, nBlocks, dim] of x [heads, rowsPadded, stride] (columns >= dim are padding):
// grid (nBlocks, heads), one thread per column.
template <typename T>
__global__ void block_means_kernel(const T* x, int rowsPadded, int stride, int seqLen, int dim, int block,
                                   float* means) {
    const int b = blockIdx.x;
    const int head = blockIdx.y;
    const int nBlocks = gridDim.x;
    const int r0 = b * block;
    const int r1 = min(seqLen, r0 + block);
    const T* src = x + static_cast<size_t>(head) * rowsPadded * stride;
    for (int c = threadIdx.x; c < dim; c += blockDim.x) {
        double sum = 0.0;
        for (int r = r0; r < r1; ++r) sum += static_cast<float>(src[static_cast<size_t>(r) * stride + c]);
        means[(static_cast<size_t>(head) * nBlocks + b) * dim + c] = static_cast<float>(sum / (r1 - r0));
    }
}

// cpu::dotProduct's order: lanes l = c mod 8 accumulate separately, then ((0+4)+(1+5))+((2+6)+(3+7)).
__device__ float cpuOrderDot(const float* a, const float* b, int n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int c = 0;
    for (; c + 8 <= n; c += 8)
#pragma unroll
        for (int l = 0; l < 8; ++l) acc[l] = __fadd_rn(acc[l], __fmul_rn(a[c + l], b[c + l]));
    float tail = 0.0f;
    for (; c < n; ++c) tail = __fadd_rn(tail, __fmul_rn(a[c], b[c]));
    const float low = __fadd_rn(__fadd_rn(acc[0], acc[4]), __fadd_rn(acc[1], acc[5]));
    const float high = __fadd_rn(__fadd_rn(acc[2], acc[6]), __fadd_rn(acc[3], acc[7]));
    return __fadd_rn(__fadd_rn(low, high), tail);
}

// Whether query block [q0, q1) sees any key of [k0, k1). Visible ranges [b_i, e_i) grow with i, so
// the first row whose range ends after k0 has the smallest begin among the rows that could qualify.
__device__ bool blockPairVisible(const HeadView& h, int q0, int q1, int k0, int k1) {
    int lo = q0, hi = q1;  // first i in [q0, q1) with e_i > k0, or q1
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (deviceVisibleKeys(h, mid).end > k0) hi = mid;
        else lo = mid + 1;
    }
    return lo < q1 && deviceVisibleKeys(h, lo).begin < k1;
}

// grid (nBlocks, qHeads); scores in shared memory; blocks [qHeads, nBlocks, nBlocks] written fully.
__global__ void block_gate_kernel(HeadView h, int block, int topk, const float* meanQ, const float* meanK, int dim,
                                  uint8_t* blocks) {
    extern __shared__ float score[];  // [nBlocks]; NaN marks a non-candidate
    const int qb = blockIdx.x;
    const int head = blockIdx.y;
    const int n = gridDim.x;
    const int kvHead = head / (h.qHeads / h.kvHeads);
    const float* mq = meanQ + (static_cast<size_t>(head) * n + qb) * dim;
    const int q0 = qb * block, q1 = min(h.seqLen, q0 + block);
    for (int kb = threadIdx.x; kb < n; kb += blockDim.x) {
        const int k0 = kb * block, k1 = min(h.seqLen, k0 + block);
        const bool candidate = kb != qb && !(h.causal && kb > qb) && blockPairVisible(h, q0, q1, k0, k1);
        score[kb] = candidate ? cpuOrderDot(mq, meanK + (static_cast<size_t>(kvHead) * n + kb) * dim, dim) : NAN;
    }
    __syncthreads();
    uint8_t* row = blocks + (static_cast<size_t>(head) * n + qb) * n;
    for (int kb = threadIdx.x; kb < n; kb += blockDim.x) {
        const float mine = score[kb];
        bool keep = kb == qb;
        if (!isnan(mine)) {
            int rank = 0;  // candidates ordered before kb: higher score, or equal score and lower block
            for (int c = 0; c < n && rank < topk; ++c) {
                const float other = score[c];
                if (!isnan(other) && (other > mine || (other == mine && c < kb))) ++rank;
            }
            keep = rank < topk;
        }
        row[kb] = keep ? 1 : 0;
    }
}

}  // namespace

void launchBlockGate(Element e, const HeadView& h, int stride, int dim, int block, int topk, float* meanQ,
                     float* meanK, uint8_t* blocks, cudaStream_t stream) {
    const int n = (h.seqLen + block - 1) / block;
    const int threads = dim < 128 ? 32 * ((dim + 31) / 32) : 128;
    dispatchElement(e, [&]<typename T>() {
        block_means_kernel<T><<<dim3(n, h.qHeads), threads, 0, stream>>>(static_cast<const T*>(h.q), h.rowsPadded,
                                                                          stride, h.seqLen, dim, block, meanQ);
        block_means_kernel<T><<<dim3(n, h.kvHeads), threads, 0, stream>>>(static_cast<const T*>(h.k), h.rowsPadded,
                                                                           stride, h.seqLen, dim, block, meanK);
    });
    checkLaunch("block means");
    const size_t bytes = static_cast<size_t>(n) * sizeof(float);
    if (bytes > 48 * 1024) cudaFuncSetAttribute(block_gate_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
    block_gate_kernel<<<dim3(n, h.qHeads), 128, bytes, stream>>>(h, block, topk, meanQ, meanK, dim, blocks);
    checkLaunch("block gate");
}

}  // namespace attnscope::cuda
