// Variants on the GPU: the block-sparse SoftmaxInMask forward (normalizer, output, kept count and
// kept dense mass per row, visiting only the key blocks the mask can touch), the oracle pass that
// compares the mask with the per-row top-|M_i| set, and the LinearEluPlusOne forward (float path).
#include "dispatch.cuh"
#include "row-sweep.cuh"

namespace attnscope::cuda {

namespace {

template <typename T, int D>
struct VariantOp {
    OnlineSoftmax<D> state;
    const VariantArgs* a;
    const HeadView* h;
    int qb;
    float lse[2];
    int kept[2];
    float recall[2];

    __device__ __forceinline__ void tile(float s[8][4], int kb, const T* sV, float* scratch) {
        const int lane = threadIdx.x & 31;
        const int rowBase = qb * kTile + (threadIdx.x >> 5) * 16;
#pragma unroll
        for (int n = 0; n < 8; ++n)
#pragma unroll
            for (int c = 0; c < 4; ++c) {
                const float x = s[n][c];
                if (x == -INFINITY) continue;
                const int i = rowBase + fragRow(lane, c);
                const int j = kb * kTile + fragCol(lane, n, c);
                if (deviceKeeps(a->mask, i, j, x)) {
                    kept[c >> 1] += 1;
                    recall[c >> 1] += exp2f((x - lse[c >> 1]) * kLog2e);
                } else {
                    s[n][c] = -INFINITY;
                }
            }
        state.template update<false>(s);
        warpPV<T, D, true>(s, sV, scratch, state.o);
    }
};

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) variant_kernel(HeadView h, VariantArgs a) {
    extern __shared__ __align__(16) unsigned char smem[];
    const int qb = gridDim.x - 1 - blockIdx.x;
    const int lane = threadIdx.x & 31;
    const int rowBase = qb * kTile + (threadIdx.x >> 5) * 16;
    BlockSource src = denseBlocks(h, qb);
    if (a.blockOffsets) {
        src.list = a.blockList + a.blockOffsets[qb];
        src.count = a.blockOffsets[qb + 1] - a.blockOffsets[qb];
    }
    VariantOp<T, D> op;
    op.state.init();
    op.a = &a;
    op.h = &h;
    op.qb = qb;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int i = rowBase + (lane >> 2) + 8 * r;
        op.lse[r] = i < h.seqLen ? a.denseLse[i] : 0.0f;
        op.kept[r] = 0;
        op.recall[r] = 0.0f;
    }
    rowSweep<T, D, true>(h, 0, qb, src, smem, op);
    op.state.finish();
    op.state.writeOutput(a.out, rowBase, h.seqLen);
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        int kept = op.kept[r];
        kept += __shfl_xor_sync(0xffffffffu, kept, 1);
        kept += __shfl_xor_sync(0xffffffffu, kept, 2);
        const float recall = quadSum(op.recall[r]);
        const int i = rowBase + (lane >> 2) + 8 * r;
        if ((lane & 3) == 0 && i < h.seqLen) {
            const float l = op.state.l[r];
            a.normalizer[i] = l > 0.0f ? op.state.m[r] + logf(l) : -INFINITY;
            a.kept[i] = kept;
            a.recall[i] = recall;
        }
    }
}

template <typename T, int D>
struct OracleOp {
    const OracleArgs* a;
    int qb;
    float lse[2];
    int both[2];
    float mass[2];
    __device__ __forceinline__ void tile(float s[8][4], int kb, const T*, float*) {
        const int lane = threadIdx.x & 31;
        const int rowBase = qb * kTile + (threadIdx.x >> 5) * 16;
#pragma unroll
        for (int n = 0; n < 8; ++n)
#pragma unroll
            for (int c = 0; c < 4; ++c) {
                const float x = s[n][c];
                if (x == -INFINITY) continue;
                const int i = rowBase + fragRow(lane, c);
                const int j = kb * kTile + fragCol(lane, n, c);
                if (!passesThreshold(a->oracle[i], j, x)) continue;
                mass[c >> 1] += exp2f((x - lse[c >> 1]) * kLog2e);
                if (deviceKeeps(a->mask, i, j, x)) both[c >> 1] += 1;
            }
    }
};

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) oracle_kernel(HeadView h, OracleArgs a) {
    extern __shared__ __align__(16) unsigned char smem[];
    const int qb = gridDim.x - 1 - blockIdx.x;
    const int lane = threadIdx.x & 31;
    const int rowBase = qb * kTile + (threadIdx.x >> 5) * 16;
    OracleOp<T, D> op;
    op.a = &a;
    op.qb = qb;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int i = rowBase + (lane >> 2) + 8 * r;
        op.lse[r] = i < h.seqLen ? a.denseLse[i] : 0.0f;
        op.both[r] = 0;
        op.mass[r] = 0.0f;
    }
    rowSweep<T, D, false>(h, 0, qb, denseBlocks(h, qb), smem, op);
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        int both = op.both[r];
        both += __shfl_xor_sync(0xffffffffu, both, 1);
        both += __shfl_xor_sync(0xffffffffu, both, 2);
        const float mass = quadSum(op.mass[r]);
        const int i = rowBase + (lane >> 2) + 8 * r;
        if ((lane & 3) == 0 && i < h.seqLen) {
            a.intersection[i] = both;
            a.oracleRecall[i] = mass;
        }
    }
}

// Linear weights w = phi(q).phi(k): run on a HeadView whose q and k are the phi features (scale 1,
// no softcap), so the sweep's "logits" are the weights themselves (-inf where invisible).
template <int D>
struct LinearOp {
    float o[D / 8][4];
    float z[2];
    __device__ __forceinline__ void tile(float s[8][4], int, const float* sV, float* scratch) {
#pragma unroll
        for (int n = 0; n < 8; ++n)
#pragma unroll
            for (int c = 0; c < 4; ++c) {
                if (s[n][c] == -INFINITY) s[n][c] = 0.0f;
                z[c >> 1] += s[n][c];
            }
        warpPV<float, D, false>(s, sV, scratch, o);
    }
};

template <int D>
__global__ void __launch_bounds__(kThreads) linear_variant_kernel(HeadView h, LinearArgs a) {
    extern __shared__ __align__(16) unsigned char smem[];
    const int qb = gridDim.x - 1 - blockIdx.x;
    const int lane = threadIdx.x & 31;
    const int rowBase = qb * kTile + (threadIdx.x >> 5) * 16;
    LinearOp<D> op;
#pragma unroll
    for (int n = 0; n < D / 8; ++n)
#pragma unroll
        for (int c = 0; c < 4; ++c) op.o[n][c] = 0.0f;
    op.z[0] = op.z[1] = 0.0f;
    rowSweep<float, D, true>(h, 0, qb, denseBlocks(h, qb), smem, op);
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const float z = quadSum(op.z[r]);
        const int i = rowBase + (lane >> 2) + 8 * r;
        if (i >= h.seqLen) continue;
        const float inv = z > 0.0f ? 1.0f / z : 1.0f;
#pragma unroll
        for (int n = 0; n < D / 8; ++n) {
            const float2 v = make_float2(op.o[n][2 * r] * inv, op.o[n][2 * r + 1] * inv);
            *reinterpret_cast<float2*>(a.out + static_cast<size_t>(i) * D + 8 * n + 2 * (lane & 3)) = v;
        }
        if ((lane & 3) == 0) a.z[i] = z;
    }
}

__global__ void elu_plus_one_kernel(const float* in, float* out, size_t count) {
    for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < count;
         idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
        const float x = in[idx];
        out[idx] = x > 0.0f ? x + 1.0f : expf(x);
    }
}

}  // namespace

void launchVariant(Element e, int D, const HeadView& h, const VariantArgs& a, cudaStream_t stream) {
    dispatchElement(e, [&]<typename T>() {
        dispatchHeadDim(D, [&]<int kD>() {
            const size_t bytes = rowSweepSmemBytes<T, kD, true>();
            allowSharedMemory(variant_kernel<T, kD>, bytes);
            variant_kernel<T, kD><<<h.rowsPadded / kTile, kThreads, bytes, stream>>>(h, a);
        });
    });
    checkLaunch("variant forward");
}

void launchOracle(Element e, int D, const HeadView& h, const OracleArgs& a, cudaStream_t stream) {
    dispatchElement(e, [&]<typename T>() {
        dispatchHeadDim(D, [&]<int kD>() {
            const size_t bytes = rowSweepSmemBytes<T, kD, false>();
            allowSharedMemory(oracle_kernel<T, kD>, bytes);
            oracle_kernel<T, kD><<<h.rowsPadded / kTile, kThreads, bytes, stream>>>(h, a);
        });
    });
    checkLaunch("oracle comparison");
}

void launchLinearVariant(int D, const HeadView& h, const LinearArgs& a, cudaStream_t stream) {
    dispatchHeadDim(D, [&]<int kD>() {
        const size_t bytes = rowSweepSmemBytes<float, kD, true>();
        allowSharedMemory(linear_variant_kernel<kD>, bytes);
        linear_variant_kernel<kD><<<h.rowsPadded / kTile, kThreads, bytes, stream>>>(h, a);
    });
    checkLaunch("linear variant");
}

void launchEluPlusOne(const float* in, float* out, size_t count, cudaStream_t stream) {
    const int blocks = static_cast<int>(std::min<size_t>((count + 255) / 256, 4096));
    elu_plus_one_kernel<<<blocks > 0 ? blocks : 1, 256, 0, stream>>>(in, out, count);
    checkLaunch("elu+1 features");
}

}  // namespace attnscope::cuda
