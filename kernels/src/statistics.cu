// Statistics pass, KV-major: one CTA owns 64 keys of one query head and streams the query blocks
// that can see them, recomputing P = exp(S - LSE) with the forward's LSE. Column sums (attention
// received) stay in registers for the whole pass; each 64x64 block's sum and max are reduced per
// warp and combined with 4 atomics per block (buffers start at zero: unvisited blocks read 0).
#include "dispatch.cuh"
#include "row-sweep.cuh"
#include "statistics-tile.cuh"

namespace attnscope::cuda {

namespace {

template <typename T, int D>
constexpr size_t statisticsSmemBytes() {
    return 3 * static_cast<size_t>(kTileElems<T, D>) * sizeof(T) + 2 * kTile * sizeof(float);
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) statistics_kernel(HeadView h, StatisticsArgs a) {
    extern __shared__ __align__(16) unsigned char smem[];
    constexpr int E = kTileElems<T, D>;
    T* sK = reinterpret_cast<T*>(smem);
    T* sQ = sK + E;
    float* sLse = reinterpret_cast<float*>(sK + 3 * E);
    const int kb = blockIdx.x;
    const int head = blockIdx.y;
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int nb = h.rowsPadded / kTile;
    const HeadPointers<T, D> ptr = headPointers<T, D>(h, head);
    const size_t headRows = ptr.rows;
    const T* kTileSrc = ptr.k + static_cast<size_t>(kb) * kTile * D;
    const T* qBase = ptr.q;
    const float* lse = a.rowLse + headRows;

    int first, last;
    queryBlockRange(h, kb, first, last);
    float colSum[2] = {0.0f, 0.0f};
    const int count = last - first + 1;
    if (count > 0) {
        loadTileAsync<T, D>(sK, kTileSrc);
        loadTileAsync<T, D>(sQ, qBase + static_cast<size_t>(first) * kTile * D);
        cpAsyncCommit();
        if (threadIdx.x < kTile) {
            const int i = first * kTile + threadIdx.x;
            sLse[threadIdx.x] = i < h.seqLen ? lse[i] : INFINITY;
        }
    }
    for (int idx = 0; idx < count; ++idx) {
        const int buf = idx & 1;
        const int qb = first + idx;
        if (idx + 1 < count) {
            loadTileAsync<T, D>(sQ + (buf ^ 1) * E, qBase + static_cast<size_t>(qb + 1) * kTile * D);
            cpAsyncCommit();
            if (threadIdx.x < kTile) {
                const int i = (qb + 1) * kTile + threadIdx.x;
                sLse[(buf ^ 1) * kTile + threadIdx.x] = i < h.seqLen ? lse[i] : INFINITY;
            }
            cpAsyncWait<1>();
        } else {
            cpAsyncWait<0>();
        }
        __syncthreads();
        float s[8][4];
        warpScores<T, D>(sK + warp * 16 * kStride<T, D>, sQ + buf * E, s);
        const bool full = blockFullyVisible(h, qb, kb);
        float blockSum = 0.0f;
        float blockMax = 0.0f;
#pragma unroll
        for (int n = 0; n < 8; ++n)
#pragma unroll
            for (int c = 0; c < 4; ++c) {
                const int jl = warp * 16 + fragRow(lane, c);  // key within the block
                const int il = fragCol(lane, n, c);           // query within the block
                float x = deviceLogit(h, s[n][c]);
                if (!full) {
                    const int i = qb * kTile + il;
                    const int j = kb * kTile + jl;
                    const KeySpan r = deviceVisibleKeys(h, i);
                    if (i >= h.seqLen || j < r.begin || j >= r.end) x = -INFINITY;
                }
                const float p = fastExp2((x - sLse[buf * kTile + il]) * kLog2e);
                colSum[c >> 1] += p;
                blockSum += p;
                blockMax = fmaxf(blockMax, p);
            }
        addWarpBlockStatistics(blockSum, blockMax, a.blockSum, a.blockMax,
                               static_cast<size_t>(head) * nb * nb + static_cast<size_t>(qb) * nb + kb);
        __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const float total = quadSum(colSum[r]);
        const int j = kb * kTile + warp * 16 + (lane >> 2) + 8 * r;
        if ((lane & 3) == 0 && j < h.seqLen) a.columnSums[headRows + j] = total;
    }
}

// Tensor-core version: a CTA owns 128 keys (two 64-key blocks), each warp 32 keys (two m16 tiles)
// whose K fragments stay in registers for the whole pass, so every Q fragment read from shared
// memory feeds two MMAs (half the shared-memory traffic of one tile per warp; the pass was bound by
// ldmatrix bandwidth: 80 KB per 64x64 block -> 32 KB).
template <typename T, int D>
constexpr size_t statisticsPairSmemBytes() {
    return 4 * static_cast<size_t>(kTileElems<T, D>) * sizeof(T) + 2 * kTile * sizeof(float);
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) statistics_pair_kernel(HeadView h, StatisticsArgs a) {
    extern __shared__ __align__(16) unsigned char smem[];
    constexpr int E = kTileElems<T, D>;
    constexpr int S = kStride<T, D>;
    T* sK = reinterpret_cast<T*>(smem);  // [128][S]
    T* sQ = sK + 2 * E;                  // [2][64][S]
    float* sLse = reinterpret_cast<float*>(sQ + 2 * E);  // [2][64], LSE * log2(e)
    const int nb = h.rowsPadded / kTile;
    const int kbFirst = 2 * blockIdx.x;
    const bool hasSecond = kbFirst + 1 < nb;
    const int head = blockIdx.y;
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int kb = kbFirst + (warp >> 1);
    const bool active = (warp >> 1) == 0 || hasSecond;
    const HeadPointers<T, D> ptr = headPointers<T, D>(h, head);
    const size_t headRows = ptr.rows;
    const T* kSrc = ptr.k + static_cast<size_t>(kbFirst) * kTile * D;
    const T* qBase = ptr.q;
    const float* lse = a.rowLse + headRows;

    int first, last;
    ctaQueryBlockRange(h, kbFirst, hasSecond ? 2 : 1, first, last);
    int wFirst, wLast;
    queryBlockRange(h, kb, wFirst, wLast);
    const int count = last - first + 1;

    float colSum[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
    uint32_t aK[2][D / 16][4];
    if (count > 0) {
        loadTileAsync<T, D>(sK, kSrc);
        if (hasSecond) loadTileAsync<T, D>(sK + E, kSrc + static_cast<size_t>(kTile) * D);
        loadTileAsync<T, D>(sQ, qBase + static_cast<size_t>(first) * kTile * D);
        cpAsyncCommit();
        if (threadIdx.x < kTile) {
            const int i = first * kTile + threadIdx.x;
            sLse[threadIdx.x] = i < h.seqLen ? lse[i] * kLog2e : INFINITY;
        }
    }
    for (int idx = 0; idx < count; ++idx) {
        const int buf = idx & 1;
        const int qb = first + idx;
        if (idx + 1 < count) {
            loadTileAsync<T, D>(sQ + (buf ^ 1) * E, qBase + static_cast<size_t>(qb + 1) * kTile * D);
            cpAsyncCommit();
            if (threadIdx.x < kTile) {
                const int i = (qb + 1) * kTile + threadIdx.x;
                sLse[(buf ^ 1) * kTile + threadIdx.x] = i < h.seqLen ? lse[i] * kLog2e : INFINITY;
            }
            cpAsyncWait<1>();
        } else {
            cpAsyncWait<0>();
        }
        __syncthreads();
        if (idx == 0 && active) {
#pragma unroll
            for (int m = 0; m < 2; ++m)
#pragma unroll
                for (int kk = 0; kk < D / 16; ++kk)
                    ldmatrixX4(aK[m][kk], sK + (warp * 32 + m * 16 + (lane & 15)) * S + kk * 16 + (lane >> 4) * 8);
        }
        if (active && qb >= wFirst && qb <= wLast) {
            const T* sQb = sQ + buf * E;
            float s[2][8][4];
#pragma unroll
            for (int m = 0; m < 2; ++m)
#pragma unroll
                for (int n = 0; n < 8; ++n)
#pragma unroll
                    for (int c = 0; c < 4; ++c) s[m][n][c] = 0.0f;
#pragma unroll
            for (int kk = 0; kk < D / 16; ++kk)
#pragma unroll
                for (int np = 0; np < 4; ++np) {
                    uint32_t b[4];
                    ldmatrixX4(b, sQb + (np * 16 + (lane >> 4) * 8 + (lane & 7)) * S + kk * 16 + ((lane >> 3) & 1) * 8);
#pragma unroll
                    for (int m = 0; m < 2; ++m) {
                        mma16816<T>(s[m][2 * np], aK[m][kk], b[0], b[1]);
                        mma16816<T>(s[m][2 * np + 1], aK[m][kk], b[2], b[3]);
                    }
                }
            const float* lse2 = sLse + buf * kTile;
            float blockMax = 0.0f;
            float part[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
            statisticsCells<2>(h, s, lse2, qb, kbFirst * kTile + warp * 32, blockFullyVisible(h, qb, kb), part, blockMax);
            float blockSum = 0.0f;
#pragma unroll
            for (int m = 0; m < 2; ++m)
#pragma unroll
                for (int r = 0; r < 2; ++r) {
                    colSum[m][r] += part[m][r];
                    blockSum += part[m][r];
                }
            addWarpBlockStatistics(blockSum, blockMax, a.blockSum, a.blockMax,
                                   static_cast<size_t>(head) * nb * nb + static_cast<size_t>(qb) * nb + kb);
        }
        __syncthreads();
    }
    if (!active) return;
#pragma unroll
    for (int m = 0; m < 2; ++m)
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const float total = quadSum(colSum[m][r]);
            const int j = kbFirst * kTile + warp * 32 + m * 16 + (lane >> 2) + 8 * r;
            if ((lane & 3) == 0 && j < h.seqLen) a.columnSums[headRows + j] = total;
        }
}

}  // namespace

void launchStatistics(Element e, int D, const HeadView& h, const StatisticsArgs& a, cudaStream_t stream) {
    const int nb = h.rowsPadded / kTile;
    cudaMemsetAsync(a.blockSum, 0, sizeof(float) * static_cast<size_t>(h.qHeads) * nb * nb, stream);
    cudaMemsetAsync(a.blockMax, 0, sizeof(float) * static_cast<size_t>(h.qHeads) * nb * nb, stream);
    if (launchStatisticsWgmma(e, D, h, a, stream)) {
        checkLaunch("attention statistics (wgmma)");
        return;
    }
    dispatchElement(e, [&]<typename T>() {
        dispatchHeadDim(D, [&]<int kD>() {
            if (kIsMma<T> && useSingleTileKernels()) {
                const size_t bytes = statisticsSmemBytes<T, kD>();
                allowSharedMemory(statistics_kernel<T, kD>, bytes);
                statistics_kernel<T, kD><<<dim3(nb, h.qHeads), kThreads, bytes, stream>>>(h, a);
            } else if constexpr (kIsMma<T>) {
                const size_t bytes = statisticsPairSmemBytes<T, kD>();
                allowSharedMemory(statistics_pair_kernel<T, kD>, bytes);
                statistics_pair_kernel<T, kD><<<dim3((nb + 1) / 2, h.qHeads), kThreads, bytes, stream>>>(h, a);
            } else {
                const size_t bytes = statisticsSmemBytes<T, kD>();
                allowSharedMemory(statistics_kernel<T, kD>, bytes);
                statistics_kernel<T, kD><<<dim3(nb, h.qHeads), kThreads, bytes, stream>>>(h, a);
            }
        });
    });
    checkLaunch("attention statistics");
}

}  // namespace attnscope::cuda
