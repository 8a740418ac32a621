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

// The query blocks of [first, last] whose every cell sees every key of key block kb:
// [fullFirst, fullLast], empty when fullLast < fullFirst. They form one interval because a query's
// visible span [begin, end) only moves right as the query moves down: "the block's first query
// sees past its last key" turns true once, "its last query exists and sees its first key" turns
// false once. Each is found by a binary search (blockFullyVisible of every block would cost more
// than a step).
__device__ __forceinline__ void fullQueryBlockRange(const HeadView& h, int kb, int first, int last, int& fullFirst,
                                                    int& fullLast) {
    const int k0 = kb * kTile;
    const int k1 = k0 + kTile;
    int lo = first, hi = last + 1;
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (deviceVisibleKeys(h, mid * kTile).end >= k1) hi = mid;
        else lo = mid + 1;
    }
    fullFirst = lo;
    lo = first - 1;
    hi = last;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        const int q1 = mid * kTile + kTile - 1;
        if (q1 < h.seqLen && deviceVisibleKeys(h, q1).begin <= k0) lo = mid;
        else hi = mid - 1;
    }
    fullLast = k1 <= h.seqLen ? lo : fullFirst - 1;
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

// addWarpBlockStatistics for two query blocks at once (block and block + blockStride of the grid):
// the first shuffle swaps the blocks' partial sums so that lanes 0-15 go on reducing the first
// block and lanes 16-31 the second (five shuffles and adds instead of ten); lanes 0 and 16 add the
// results.
__device__ __forceinline__ void addWarpBlockStatisticsPair(const float (&blockSum)[2], const float (&blockMax)[2],
                                                           float* gridSum, float* gridMax, size_t block,
                                                           size_t blockStride) {
    const int lane = threadIdx.x & 31;
    const bool second = (lane & 16) != 0;
    float sum = second ? blockSum[1] : blockSum[0];
    sum += __shfl_xor_sync(0xffffffffu, second ? blockSum[0] : blockSum[1], 16);
#pragma unroll
    for (int off = 8; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    const unsigned max0 = __reduce_max_sync(0xffffffffu, __float_as_uint(blockMax[0]));
    const unsigned max1 = __reduce_max_sync(0xffffffffu, __float_as_uint(blockMax[1]));
    if ((lane & 15) == 0) {
        const size_t b = block + (second ? blockStride : 0);
        atomicAdd(gridSum + b, sum);
        atomicMax(reinterpret_cast<int*>(gridMax + b), static_cast<int>(second ? max1 : max0));
    }
}

}  // namespace attnscope::cuda
