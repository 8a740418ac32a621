// Device-side view of one head (or one layer) and the model's mask and logit function, mirroring
// attnscope/attention-mask.h exactly, plus the device form of SparseMask::keeps. Every kernel
// tests visibility and membership through these functions.
#pragma once

#include <cmath>
#include <cstdint>

#include "warp-math.cuh"

namespace attnscope::cuda {

// Q [qHeads, rowsPadded, D], K and V [kvHeads, rowsPadded, D], rows padded with zeros to a
// multiple of 64 and head dims padded with zeros to D (zeros change no dot product).
struct HeadView {
    const void* q = nullptr;
    const void* k = nullptr;
    const void* v = nullptr;
    int seqLen = 0;
    int rowsPadded = 0;
    int qHeads = 1;
    int kvHeads = 1;
    bool causal = true;
    int window = 0;
    float scale = 1.0f;
    float softcap = 0.0f;
};

// Where query head `head` and its K/V head (GQA: head / (qHeads / kvHeads)) start in a HeadView;
// rows = head * rowsPadded, the offset of the head's per-row outputs.
template <typename T, int D>
struct HeadPointers {
    const T* q;
    const T* k;
    const T* v;
    size_t rows;
};

template <typename T, int D>
__device__ __forceinline__ HeadPointers<T, D> headPointers(const HeadView& h, int head) {
    const size_t rows = static_cast<size_t>(head) * h.rowsPadded;
    const size_t kvOffset = static_cast<size_t>(head / (h.qHeads / h.kvHeads)) * h.rowsPadded * D;
    return {static_cast<const T*>(h.q) + rows * D, static_cast<const T*>(h.k) + kvOffset,
            static_cast<const T*>(h.v) + kvOffset, rows};
}

struct KeySpan {
    int begin;
    int end;
};

// visibleKeys() of attention-mask.h, with end clipped to T for padded rows.
__device__ __forceinline__ KeySpan deviceVisibleKeys(const HeadView& h, int i) {
    KeySpan r{0, h.causal ? i + 1 : h.seqLen};
    if (h.window > 0) {
        r.begin = max(0, i - h.window + 1);
        if (!h.causal) r.end = min(h.seqLen, i + h.window);
    }
    r.end = min(r.end, h.seqLen);
    return r;
}

// scaledLogit() of attention-mask.h. __fmul_rn keeps the rounded logit identical in every kernel
// (no contraction into a later FMA), so top-k membership decisions agree between kernels.
__device__ __forceinline__ float deviceLogit(const HeadView& h, float dot) {
    float s = __fmul_rn(dot, h.scale);
    if (h.softcap > 0.0f) s = __fmul_rn(h.softcap, tanhf(__fdiv_rn(s, h.softcap)));
    return s;
}

// Key blocks a query block [q0, q0 + 64) may see: [first, last] inclusive; empty when last < first.
__device__ __forceinline__ void keyBlockRange(const HeadView& h, int qb, int& first, int& last) {
    const int q0 = qb * kTile;
    const int q1 = min(q0 + kTile, h.seqLen) - 1;
    const KeySpan a = deviceVisibleKeys(h, q0);
    const KeySpan b = deviceVisibleKeys(h, q1);
    first = a.begin / kTile;
    last = (max(a.end, b.end) - 1) / kTile;
}

// Whether every cell of query block qb x key block kb is visible (no per-cell test needed).
__device__ __forceinline__ bool blockFullyVisible(const HeadView& h, int qb, int kb) {
    const int q0 = qb * kTile;
    const int q1 = q0 + kTile - 1;
    const int k0 = kb * kTile;
    if (q1 >= h.seqLen || k0 + kTile > h.seqLen) return false;
    return deviceVisibleKeys(h, q1).begin <= k0 && deviceVisibleKeys(h, q0).end >= k0 + kTile;
}

// 2^x on the special-function unit (max relative error ~2^-22; -inf -> 0; results below 2^-126
// flush to 0). exp2f adds range fix-ups around the same instruction.
__device__ __forceinline__ float fastExp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// ln x and 1 / x on the special-function unit for normal positive x (log2 with absolute error
// about 2^-22 near 1; reciprocal within 1 ulp), without the range fix-ups of logf and __fdividef:
// the row sums they take are at least 1.
__device__ __forceinline__ float fastLog(float x) {
    float y;
    asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y * 0.69314718f;
}
__device__ __forceinline__ float approxReciprocal(float x) {
    float y;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// Scales raw dot products of one warp tile into logits; invisible cells become -inf.
// rowBase: first query row of the warp's 16 rows; keyBase: first key of the tile. The softcap and
// visibility branches are taken once per tile, not per cell (per-cell branches cost 2x here).
template <bool kSoftcap, bool kFull>
__device__ __forceinline__ void finishLogitsT(const HeadView& h, float acc[8][4], int rowBase, int keyBase) {
    const int lane = threadIdx.x & 31;
    KeySpan rows[2];
    if constexpr (!kFull) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int i = rowBase + (lane >> 2) + 8 * r;
            rows[r] = i < h.seqLen ? deviceVisibleKeys(h, i) : KeySpan{0, 0};
        }
    }
#pragma unroll
    for (int n = 0; n < 8; ++n)
#pragma unroll
        for (int c = 0; c < 4; ++c) {
            float s = __fmul_rn(acc[n][c], h.scale);
            if constexpr (kSoftcap) s = __fmul_rn(h.softcap, tanhf(__fdiv_rn(s, h.softcap)));
            if constexpr (!kFull) {
                const int j = keyBase + fragCol(lane, n, c);
                const KeySpan& r = rows[c >> 1];
                if (j < r.begin || j >= r.end) s = -INFINITY;
            }
            acc[n][c] = s;
        }
}

// Sets the invisible cells of a warp tile of raw dot products to -inf (rowBase, keyBase as above).
__device__ __forceinline__ void maskInvisible(const HeadView& h, float acc[8][4], int rowBase, int keyBase) {
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int i = rowBase + (lane >> 2) + 8 * r;
        const KeySpan span = i < h.seqLen ? deviceVisibleKeys(h, i) : KeySpan{0, 0};
#pragma unroll
        for (int n = 0; n < 8; ++n)
#pragma unroll
            for (int c = 2 * r; c < 2 * r + 2; ++c) {
                const int j = keyBase + fragCol(lane, n, c);
                if (j < span.begin || j >= span.end) acc[n][c] = -INFINITY;
            }
    }
}

__device__ __forceinline__ void finishLogits(const HeadView& h, float acc[8][4], int rowBase, int keyBase, bool full) {
    if (h.softcap > 0.0f) {
        if (full) finishLogitsT<true, true>(h, acc, rowBase, keyBase);
        else finishLogitsT<true, false>(h, acc, rowBase, keyBase);
    } else {
        if (full) finishLogitsT<false, true>(h, acc, rowBase, keyBase);
        else finishLogitsT<false, false>(h, acc, rowBase, keyBase);
    }
}

// RowThreshold of sparse-mask.h (same layout: float then int32).
struct DeviceThreshold {
    float logit;
    int32_t key;
};

__device__ __forceinline__ bool passesThreshold(const DeviceThreshold& t, int j, float logit) {
    return (logit > t.logit) | ((logit == t.logit) & (j <= t.key));  // bitwise: no branches per cell
}

// SparseMask::keeps on the device. The explicit column list becomes a byte map over keys.
struct DeviceMask {
    bool keepAll = false;
    int sinkTokens = 0;
    int windowSize = 0;
    int blockSize = 0;
    int blockCols = 0;
    const uint8_t* blocks = nullptr;
    const uint8_t* columnMap = nullptr;      // [T] or null
    const DeviceThreshold* rowTopK = nullptr;  // [T] or null
};

__device__ __forceinline__ bool deviceKeeps(const DeviceMask& m, int i, int j, float logit) {
    if (m.keepAll) return true;
    if (j < m.sinkTokens) return true;
    if (m.windowSize > 0 && abs(i - j) < m.windowSize) return true;
    if (m.blockSize > 0 && m.blocks[static_cast<size_t>(i / m.blockSize) * m.blockCols + j / m.blockSize]) return true;
    if (m.columnMap && m.columnMap[j]) return true;
    if (m.rowTopK && passesThreshold(m.rowTopK[i], j, logit)) return true;
    return false;
}

// Float max through atomicMax on an order-preserving unsigned encoding.
__device__ __forceinline__ unsigned orderedBits(float x) {
    const unsigned u = __float_as_uint(x);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float fromOrderedBits(unsigned u) {
    return __uint_as_float((u & 0x80000000u) ? (u & 0x7fffffffu) : ~u);
}

}  // namespace attnscope::cuda
