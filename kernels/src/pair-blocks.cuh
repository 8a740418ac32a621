// The key blocks a CTA of two 64-row query blocks visits: the ascending union of the two blocks'
// lists (block-sparse) or dense ranges, with a bit per query block saying whether it uses the key
// block. Shared by the two-query-block forward kernels (mma.sync and wgmma).
#pragma once

#include <climits>

#include "launchers.h"
#include "row-sweep.cuh"

namespace attnscope::cuda {

// One query block's key blocks, read one entry ahead: `head` is the entry at `i` (INT_MAX past
// the end), loaded when the previous entry was taken, so that a list load has a whole key block
// to land before the merge compares it.
struct ListCursor {
    const int* list = nullptr;  // nullptr: the dense range first, first + 1, ...
    int n = 0, first = 0, i = 0;
    int head = INT_MAX;
    __device__ __forceinline__ int at(int j) const { return list ? list[j] : first + j; }
    __device__ __forceinline__ void reset(const int* l, int count, int f) {
        list = l;
        n = count;
        first = f;
        i = 0;
        head = n > 0 ? at(0) : INT_MAX;
    }
    __device__ __forceinline__ void advance() {
        ++i;
        head = i < n ? at(i) : INT_MAX;
    }
};

// blockOffsets[qb0], [qb0 + 1] and (with a second query block) [qb0 + 2]: where the lists of
// query blocks qb0 and qb0 + 1 begin and end (o2 == o1 without a second block).
struct ListOffsets {
    int o0, o1, o2;
};

__device__ __forceinline__ ListOffsets listOffsets(const ForwardArgs& a, int qb0, bool hasSecond) {
    ListOffsets o;
    o.o0 = a.blockOffsets[qb0];
    o.o1 = a.blockOffsets[qb0 + 1];
    o.o2 = hasSecond ? a.blockOffsets[qb0 + 2] : o.o1;
    return o;
}

struct PairBlocks {
    ListCursor c0, c1;
    __device__ __forceinline__ bool next(int& kb, unsigned& halves) {
        const int k0 = c0.head, k1 = c1.head;
        if (k0 == INT_MAX && k1 == INT_MAX) return false;
        kb = min(k0, k1);
        halves = (k0 == kb ? 1u : 0u) | (k1 == kb ? 2u : 0u);
        if (k0 == kb) c0.advance();
        if (k1 == kb) c1.advance();
        return true;
    }
};

// The iterator over the forward's block lists, from their offsets.
__device__ __forceinline__ PairBlocks listBlocks(const ForwardArgs& a, const ListOffsets& o) {
    PairBlocks it;
    it.c0.reset(a.blockList + o.o0, o.o1 - o.o0, 0);
    it.c1.reset(a.blockList + o.o1, o.o2 - o.o1, 0);
    return it;
}

// The iterator for query blocks qb0 and qb0 + 1 (when hasSecond) of the forward's block lists or,
// without lists, their dense visible ranges.
__device__ __forceinline__ PairBlocks pairBlocks(const HeadView& h, const ForwardArgs& a, int qb0, bool hasSecond) {
    if (a.blockOffsets) return listBlocks(a, listOffsets(a, qb0, hasSecond));
    PairBlocks it;
    const BlockSource d0 = denseBlocks(h, qb0);
    it.c0.reset(nullptr, d0.count, d0.first);
    if (hasSecond) {
        const BlockSource d1 = denseBlocks(h, qb0 + 1);
        it.c1.reset(nullptr, d1.count, d1.first);
    }
    return it;
}

}  // namespace attnscope::cuda
