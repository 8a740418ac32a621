// Pooled tiles of any rectangle at any size, exact. Cells are recomputed from Q, K and the row
// normalizers and pooled into "groups" (one group per pixel when pixels pool several cells, one per
// cell row/column when they repeat cells); dense tiles take whole 64x64 blocks from the block grid
// instead. A last kernel counts each pixel's visible cells and writes mean or max (NaN if none).
#include <cmath>

#include "dispatch.cuh"
#include "row-sweep.cuh"

namespace attnscope::cuda {

namespace {

constexpr int kTileChunk = 8;  // key blocks per CTA: spreads wide rectangles over more CTAs

__device__ __forceinline__ void flushGroup(const TileArgs& a, int gy, int gx, double sum, float mx) {
    const size_t g = static_cast<size_t>(gy) * a.groupCols + gx;
    atomicAdd(a.groupSum + g, sum);
    atomicMax(a.groupMax + g, orderedBits(mx));
}

template <typename T, int D, bool kLinear>
struct TileOp {
    const HeadView* h;
    const TileArgs* a;
    int qb;
    float* sPhiQ;  // linear only: [64][stride] phi(q), and [64][stride] phi(k) after it
    float* sPhiK;

    __device__ __forceinline__ void tile(float s[8][4], int kb, const T*, float*) {
        const TileArgs& A = *a;
        if (A.useBlocks && A.rowBlockAligned[qb] && A.colBlockAligned[kb]) return;  // served by the grid
        const int lane = threadIdx.x & 31;
        const int warp = threadIdx.x >> 5;
        float w[8][4];
        if constexpr (kLinear) {
            constexpr int kVec = kTile * D / 4;
            const float4* src = reinterpret_cast<const float4*>(A.phiK + static_cast<size_t>(kb) * kTile * D);
            for (int idx = threadIdx.x; idx < kVec; idx += kThreads) {
                const int r = idx / (D / 4);
                const int c = (idx % (D / 4)) * 4;
                *reinterpret_cast<float4*>(sPhiK + r * kStride<float, D> + c) = src[idx];
            }
            __syncthreads();
            warpScores<float, D>(sPhiQ + warp * 16 * kStride<float, D>, sPhiK, w);
            __syncthreads();
        }
        int curY = -1, curX = -1;
        double sum = 0.0;
        float mx = -INFINITY;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int i = qb * kTile + warp * 16 + (lane >> 2) + 8 * r;
            if (i < A.q0 || i >= A.q1) continue;
            const int gy = A.rowGroup[i - A.q0];
            const float lse = A.rowLse[i];
            const float vn = A.variantNorm ? A.variantNorm[i] : 0.0f;
#pragma unroll
            for (int n = 0; n < 8; ++n)
#pragma unroll
                for (int c = 2 * r; c < 2 * r + 2; ++c) {
                    const int j = kb * kTile + fragCol(lane, n, c);
                    const float x = s[n][c];
                    if (x == -INFINITY || j < A.k0 || j >= A.k1) continue;
                    const float p = exp2f((x - lse) * kLog2e);
                    float value = p;
                    if (A.quantity != CellQuantity::Dense) {
                        const bool kept = deviceKeeps(A.mask, i, j, x);
                        float vw = 0.0f;
                        if constexpr (kLinear) {
                            vw = vn > 0.0f ? w[n][c] / vn : 0.0f;
                        } else {
                            vw = (kept && vn != -INFINITY) ? exp2f((x - vn) * kLog2e) : 0.0f;
                        }
                        switch (A.quantity) {
                            case CellQuantity::Variant: value = vw; break;
                            case CellQuantity::Kept: value = kept ? 1.0f : 0.0f; break;
                            case CellQuantity::Difference: value = vw - p; break;
                            case CellQuantity::Dropped: value = kept ? 0.0f : p; break;
                            default: break;
                        }
                    }
                    const int gx = A.colGroup[j - A.k0];
                    if (gy != curY || gx != curX) {
                        if (curY >= 0) flushGroup(A, curY, curX, sum, mx);
                        curY = gy;
                        curX = gx;
                        sum = 0.0;
                        mx = -INFINITY;
                    }
                    sum += value;
                    mx = fmaxf(mx, value);
                }
        }
        if (curY >= 0) flushGroup(A, curY, curX, sum, mx);
    }
};

template <typename T, int D, bool kLinear>
constexpr size_t tileSmemBytes() {
    return rowSweepSmemBytes<T, D, false>() + (kLinear ? 2 * static_cast<size_t>(kTileElems<float, D>) * sizeof(float) : 0);
}

template <typename T, int D, bool kLinear>
__global__ void __launch_bounds__(kThreads) tile_cells_kernel(HeadView h, TileArgs a) {
    extern __shared__ __align__(16) unsigned char smem[];
    const int qb = a.q0 / kTile + blockIdx.x;
    int first, last;
    keyBlockRange(h, qb, first, last);
    first = max(first, a.k0 / kTile);
    last = min(last, (a.k1 - 1) / kTile);
    BlockSource src;
    src.first = first + blockIdx.y * kTileChunk;
    src.count = min(last - src.first + 1, kTileChunk);
    if (src.count <= 0) return;
    if (a.useBlocks && a.rowBlockAligned[qb]) {
        bool all = true;
        for (int kb = src.first; kb < src.first + src.count; ++kb) all = all && a.colBlockAligned[kb];
        if (all) return;
    }
    TileOp<T, D, kLinear> op{&h, &a, qb, nullptr, nullptr};
    if constexpr (kLinear) {
        op.sPhiQ = reinterpret_cast<float*>(smem + rowSweepSmemBytes<T, D, false>());
        op.sPhiK = op.sPhiQ + kTileElems<float, D>;
        const float* src4 = a.phiQ + static_cast<size_t>(qb) * kTile * D;
        for (int idx = threadIdx.x; idx < kTile * D; idx += kThreads)
            op.sPhiQ[(idx / D) * kStride<float, D> + idx % D] = src4[idx];
        __syncthreads();
    }
    rowSweep<T, D, false>(h, 0, qb, src, smem, op);
}

__global__ void tile_blocks_kernel(HeadView h, TileArgs a, const float* blockSum, const float* blockMax) {
    const int nb = h.rowsPadded / kTile;
    const int qbFirst = a.q0 / kTile;
    const int kbFirst = a.k0 / kTile;
    const int qb = qbFirst + blockIdx.y * blockDim.y + threadIdx.y;
    const int kb = kbFirst + blockIdx.x * blockDim.x + threadIdx.x;
    if (qb * kTile >= a.q1 || kb * kTile >= a.k1) return;
    if (!a.rowBlockAligned[qb] || !a.colBlockAligned[kb]) return;
    const size_t b = static_cast<size_t>(qb) * nb + kb;
    // A block without visible cells holds sum 0 and max 0: adding it changes no group (weights are
    // >= 0, and a group without visible cells is NaN from its count).
    const float s = blockSum[b];
    const float m = blockMax[b];
    flushGroup(a, a.rowGroup[qb * kTile - a.q0], a.colGroup[kb * kTile - a.k0], s, m);
}

__global__ void tile_finish_kernel(HeadView h, TileArgs a, int width, int height, const int* pixelRowGroup,
                                   const int* pixelColGroup, bool meanPooling, float* values) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y;
    if (x >= width) return;
    const long long nq = a.q1 - a.q0;
    const long long nk = a.k1 - a.k0;
    const int r0 = a.q0 + static_cast<int>(y * nq / height);
    int r1 = a.q0 + static_cast<int>((y + 1) * nq / height);
    if (r1 <= r0) r1 = r0 + 1;
    const int c0 = a.k0 + static_cast<int>(x * nk / width);
    int c1 = a.k0 + static_cast<int>((x + 1) * nk / width);
    if (c1 <= c0) c1 = c0 + 1;
    long long count = 0;
    for (int i = r0; i < r1; ++i) {
        const KeySpan r = deviceVisibleKeys(h, i);
        const int b = max(r.begin, c0);
        const int e = min(r.end, c1);
        if (e > b) count += e - b;
    }
    float out = NAN;
    if (count > 0) {
        const size_t g = static_cast<size_t>(pixelRowGroup[y]) * a.groupCols + pixelColGroup[x];
        out = meanPooling ? static_cast<float>(a.groupSum[g] / static_cast<double>(count)) : fromOrderedBits(a.groupMax[g]);
    }
    values[static_cast<size_t>(y) * width + x] = out;
}

}  // namespace

void launchTileCells(Element e, int D, const HeadView& h, const TileArgs& a, cudaStream_t stream) {
    const int qBlocks = (a.q1 - 1) / kTile - a.q0 / kTile + 1;
    const int kBlocks = (a.k1 - 1) / kTile - a.k0 / kTile + 1;
    const dim3 grid(qBlocks, (kBlocks + kTileChunk - 1) / kTileChunk);
    auto launch = [&]<typename T, int kD, bool kLinear>() {
        const size_t bytes = tileSmemBytes<T, kD, kLinear>();
        allowSharedMemory(tile_cells_kernel<T, kD, kLinear>, bytes);
        tile_cells_kernel<T, kD, kLinear><<<grid, kThreads, bytes, stream>>>(h, a);
    };
    if (a.linear) {
        if (e != Element::Float32) throw std::invalid_argument("linear tiles run on the float copy of the head");
        dispatchHeadDim(D, [&]<int kD>() { launch.template operator()<float, kD, true>(); });
    } else {
        dispatchElement(e, [&]<typename T>() {
            dispatchHeadDim(D, [&]<int kD>() { launch.template operator()<T, kD, false>(); });
        });
    }
    checkLaunch("tile cells");
}

void launchTileBlocks(const HeadView& h, const TileArgs& a, const float* blockSum, const float* blockMax,
                      cudaStream_t stream) {
    const int qBlocks = (a.q1 - 1) / kTile - a.q0 / kTile + 1;
    const int kBlocks = (a.k1 - 1) / kTile - a.k0 / kTile + 1;
    const dim3 block(32, 8);
    const dim3 grid((kBlocks + 31) / 32, (qBlocks + 7) / 8);
    tile_blocks_kernel<<<grid, block, 0, stream>>>(h, a, blockSum, blockMax);
    checkLaunch("tile blocks");
}

void launchTileFinish(const HeadView& h, const TileArgs& a, int width, int height, const int* pixelRowGroup,
                      const int* pixelColGroup, bool meanPooling, float* values, cudaStream_t stream) {
    const dim3 grid((width + 127) / 128, height);
    tile_finish_kernel<<<grid, 128, 0, stream>>>(h, a, width, height, pixelRowGroup, pixelColGroup, meanPooling,
                                                 values);
    checkLaunch("tile finish");
}

}  // namespace attnscope::cuda
