// What every KV-major statistics kernel does with one tile of transposed scores S^T (rows = keys,
// columns = queries, m16n8k16 accumulator layout per warp): p = exp(S - LSE) of the visible cells,
// summed per key (attention received) and per 64x64 block (sum and max).
#pragma once

#include "attention-common.cuh"

namespace attnscope::cuda {

// Query blocks that can see some key of key block kb: [first, last].
__device__ __forceinline__ void queryBlockRange(const HeadView& h, int kb, int& first, int& last) {
    const int k0 = kb * kTile;
    const int k1 = min(k0 + kTile, h.seqLen) - 1;
    int q0 = h.causal ? k0 : 0;
    int q1 = h.seqLen - 1;
    if (h.window > 0) {
        q1 = min(q1, k1 + h.window - 1);
        if (!h.causal) q0 = max(0, k0 - h.window + 1);
    }
    first = q0 / kTile;
    last = q1 / kTile;
}

// Query blocks that can see some key of key blocks kbFirst .. kbFirst + blocks - 1: the range a
// CTA owning those blocks streams.
__device__ __forceinline__ void ctaQueryBlockRange(const HeadView& h, int kbFirst, int blocks, int& first, int& last) {
    queryBlockRange(h, kbFirst, first, last);
    for (int b = 1; b < blocks; ++b) {
        int f, l;
        queryBlockRange(h, kbFirst + b, f, l);
        first = min(first, f);
        last = max(last, l);
    }
}

// s[m] holds raw dot products of keys keyBase + 16 m + fragRow against queries qb * 64 + fragCol;
// lse2 = LSE * log2(e) of the 64 queries. Adds p per key row into part[m][row half] and folds the
// cells into blockMax. Branches are taken per tile, not per cell.
template <int M, bool kSoftcap, bool kFull>
__device__ __forceinline__ void statisticsCellsT(const HeadView& h, const float (&s)[M][8][4], const float* lse2, int qb,
                                                 int keyBase, float (&part)[M][2], float& blockMax) {
    const int lane = threadIdx.x & 31;
    const float scale2 = h.scale * kLog2e;
    // One running sum and max per accumulator column c: four independent dependency chains instead
    // of one 32-long chain per tile (the pass was bound by latency, not by the exp units).
    float sums[M][4], maxima[4];
#pragma unroll
    for (int c = 0; c < 4; ++c) {
        maxima[c] = 0.0f;
#pragma unroll
        for (int m = 0; m < M; ++m) sums[m][c] = 0.0f;
    }
#pragma unroll
    for (int n = 0; n < 8; ++n) {
        // The thread's two columns of group n are adjacent: one 8-byte load for both.
        const float2 lsePair = *reinterpret_cast<const float2*>(lse2 + fragCol(lane, n, 0));
#pragma unroll
        for (int c = 0; c < 4; ++c) {
            const float l2 = (c & 1) ? lsePair.y : lsePair.x;
            // Tiles crossing the mask boundary (a few per key block) test each cell; computing the
            // query's visible span here rather than once per tile keeps 32 registers free.
            KeySpan r{0, 0};
            if constexpr (!kFull) {
                const int i = qb * kTile + fragCol(lane, n, c);
                if (i < h.seqLen) r = deviceVisibleKeys(h, i);
            }
#pragma unroll
            for (int m = 0; m < M; ++m) {
                float e;
                if constexpr (kSoftcap) e = fmaf(deviceLogit(h, s[m][n][c]), kLog2e, -l2);
                else e = fmaf(s[m][n][c], scale2, -l2);
                if constexpr (!kFull) {
                    const int j = keyBase + m * 16 + fragRow(lane, c);
                    if (j < r.begin || j >= r.end) e = -INFINITY;
                }
                const float p = fastExp2(e);
                sums[m][c] += p;
                maxima[c] = fmaxf(maxima[c], p);
            }
        }
    }
#pragma unroll
    for (int m = 0; m < M; ++m) {
        part[m][0] += sums[m][0] + sums[m][1];
        part[m][1] += sums[m][2] + sums[m][3];
    }
    blockMax = fmaxf(blockMax, fmaxf(fmaxf(maxima[0], maxima[1]), fmaxf(maxima[2], maxima[3])));
}

template <int M>
__device__ __forceinline__ void statisticsCells(const HeadView& h, const float (&s)[M][8][4], const float* lse2, int qb,
                                                int keyBase, bool full, float (&part)[M][2], float& blockMax) {
    if (h.softcap > 0.0f) {
        if (full) statisticsCellsT<M, true, true>(h, s, lse2, qb, keyBase, part, blockMax);
        else statisticsCellsT<M, true, false>(h, s, lse2, qb, keyBase, part, blockMax);
    } else {
        if (full) statisticsCellsT<M, false, true>(h, s, lse2, qb, keyBase, part, blockMax);
        else statisticsCellsT<M, false, false>(h, s, lse2, qb, keyBase, part, blockMax);
    }
}

// Reduces one warp's block sum and max and adds them to block (qb, kb) of the head's grid
// (buffers start at zero). p >= 0, so floats order like their bit patterns: the max is one
// integer warp reduction (redux) and the grid takes the integer atomicMax.
__device__ __forceinline__ void addWarpBlockStatistics(float blockSum, float blockMax, float* gridSum, float* gridMax,
                                                       size_t block) {
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) blockSum += __shfl_xor_sync(0xffffffffu, blockSum, off);
    const unsigned maxBits = __reduce_max_sync(0xffffffffu, __float_as_uint(blockMax));
    if ((threadIdx.x & 31) == 0) {
        atomicAdd(gridSum + block, blockSum);
        atomicMax(reinterpret_cast<int*>(gridMax + block), static_cast<int>(maxBits));
    }
}

}  // namespace attnscope::cuda
