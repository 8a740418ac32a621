// The key blocks a CTA of two 64-row query blocks visits: the ascending union of the two blocks'
// lists (block-sparse) or dense ranges, with a bit per query block saying whether it uses the key
// block. Shared by the two-query-block forward kernels (mma.sync and wgmma).
#pragma once

#include <climits>

#include "launchers.h"
#include "row-sweep.cuh"

namespace attnscope::cuda {

struct PairBlocks {
    const int* l0 = nullptr;
    const int* l1 = nullptr;
    int n0 = 0, n1 = 0, f0 = 0, f1 = 0;
    int i0 = 0, i1 = 0;
    __device__ __forceinline__ int at0(int i) const { return l0 ? l0[i] : f0 + i; }
    __device__ __forceinline__ int at1(int i) const { return l1 ? l1[i] : f1 + i; }
    __device__ __forceinline__ bool next(int& kb, unsigned& halves) {
        const int a = i0 < n0 ? at0(i0) : INT_MAX;
        const int b = i1 < n1 ? at1(i1) : INT_MAX;
        if (a == INT_MAX && b == INT_MAX) return false;
        kb = min(a, b);
        halves = (a == kb ? 1u : 0u) | (b == kb ? 2u : 0u);
        if (a == kb) ++i0;
        if (b == kb) ++i1;
        return true;
    }
};

// The iterator for query blocks qb0 and qb0 + 1 (when hasSecond) of the forward's block lists or,
// without lists, their dense visible ranges.
__device__ __forceinline__ PairBlocks pairBlocks(const HeadView& h, const ForwardArgs& a, int qb0, bool hasSecond) {
    PairBlocks it;
    if (a.blockOffsets) {
        it.l0 = a.blockList + a.blockOffsets[qb0];
        it.n0 = a.blockOffsets[qb0 + 1] - a.blockOffsets[qb0];
        if (hasSecond) {
            it.l1 = a.blockList + a.blockOffsets[qb0 + 1];
            it.n1 = a.blockOffsets[qb0 + 2] - a.blockOffsets[qb0 + 1];
        }
    } else {
        const BlockSource d0 = denseBlocks(h, qb0);
        it.f0 = d0.first;
        it.n0 = d0.count;
        if (hasSecond) {
            const BlockSource d1 = denseBlocks(h, qb0 + 1);
            it.f1 = d1.first;
            it.n1 = d1.count;
        }
    }
    return it;
}

}  // namespace attnscope::cuda
