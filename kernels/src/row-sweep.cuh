// The row-major sweep every query-block kernel is built on: a CTA owns 64 query rows, streams the
// key blocks it needs (a contiguous range or an explicit block list, for block-sparse work) through
// double-buffered shared memory, and hands each warp's 16x64 logit tile to an operation.
#pragma once

#include "attention-common.cuh"

namespace attnscope::cuda {

template <typename T, int D, bool kWithV>
constexpr size_t rowSweepSmemBytes() {
    return static_cast<size_t>(1 + 2 + (kWithV ? 2 : 0)) * kTileElems<T, D> * sizeof(T) +
           (kIsMma<T> ? 0 : static_cast<size_t>(kWarps) * kPvScratchPerWarp * sizeof(float));
}

// Key blocks to visit: list[0..count) when list is set, else first .. first + count - 1.
struct BlockSource {
    const int* list = nullptr;
    int count = 0;
    int first = 0;
    __device__ __forceinline__ int at(int idx) const { return list ? list[idx] : first + idx; }
};

// Dense visible key blocks of query block qb.
__device__ __forceinline__ BlockSource denseBlocks(const HeadView& h, int qb) {
    int first, last;
    keyBlockRange(h, qb, first, last);
    BlockSource s;
    s.first = first;
    s.count = last >= first ? last - first + 1 : 0;
    return s;
}

// op.tile(float s[8][4] logits (-inf where invisible), int kb, const T* sV, float* warpScratch) is
// called by every thread for every block; it may use __syncthreads (all threads call it).
template <typename T, int D, bool kWithV, class Op>
__device__ void rowSweep(const HeadView& h, int head, int qb, const BlockSource& src, unsigned char* smemRaw, Op& op) {
    constexpr int E = kTileElems<T, D>;
    T* sQ = reinterpret_cast<T*>(smemRaw);
    T* sK = sQ + E;
    T* sV = sK + 2 * E;
    float* scratch = reinterpret_cast<float*>(sQ + (kWithV ? 5 : 3) * E);
    const int warp = threadIdx.x >> 5;
    const HeadPointers<T, D> ptr = headPointers<T, D>(h, head);
    const T* q = ptr.q + static_cast<size_t>(qb) * kTile * D;
    const T* kBase = ptr.k;
    const T* vBase = ptr.v;
    if (src.count <= 0) return;

    loadTileAsync<T, D>(sQ, q);
    {
        const int kb = src.at(0);
        loadTileAsync<T, D>(sK, kBase + static_cast<size_t>(kb) * kTile * D);
        if constexpr (kWithV) loadTileAsync<T, D>(sV, vBase + static_cast<size_t>(kb) * kTile * D);
        cpAsyncCommit();
    }
    for (int idx = 0; idx < src.count; ++idx) {
        const int buf = idx & 1;
        if (idx + 1 < src.count) {
            const int next = src.at(idx + 1);
            loadTileAsync<T, D>(sK + (buf ^ 1) * E, kBase + static_cast<size_t>(next) * kTile * D);
            if constexpr (kWithV) loadTileAsync<T, D>(sV + (buf ^ 1) * E, vBase + static_cast<size_t>(next) * kTile * D);
            cpAsyncCommit();
            cpAsyncWait<1>();
        } else {
            cpAsyncWait<0>();
        }
        __syncthreads();
        const int kb = src.at(idx);
        float s[8][4];
        warpScores<T, D>(sQ + warp * 16 * kStride<T, D>, sK + buf * E, s);
        finishLogits(h, s, qb * kTile + warp * 16, kb * kTile, blockFullyVisible(h, qb, kb));
        op.tile(s, kb, sV + buf * E, scratch + (kIsMma<T> ? 0 : warp * kPvScratchPerWarp));
        __syncthreads();
    }
}

// LSE and entropy of one finished row from its max m, sum l and entropy accumulator u (quad
// totals). The hardware log2 and reciprocal suffice: l >= 1 once a row has seen a key (its max
// counts 1), so the absolute error of log l is about 2^-21.
struct RowSummary {
    float lse;
    float entropy;
};
__device__ __forceinline__ RowSummary summarizeRow(float m, float l, float u) {
    const bool seen = l > 0.0f;
    const float logL = fastLog(l);
    return {seen ? m + logL : -INFINITY, seen ? fmaxf(0.0f, logL - u * approxReciprocal(l)) : 0.0f};
}

// The finished softmax totals of the two rows a thread holds: max m, sum l and entropy
// accumulator u = sum p * (s - m), l and u as per-thread partials until finish().
struct RowTotals {
    float m[2];
    float l[2];
    float u[2];

    // Sums the quad's partials of l and u (every lane of the quad gets the row's totals).
    __device__ __forceinline__ static void reduceQuad(float (&l)[2], float (&u)[2]) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            l[r] = quadSum(l[r]);
            u[r] = quadSum(u[r]);
        }
    }

    __device__ __forceinline__ void finish() { reduceQuad(l, u); }

    // The row max (when rowMax is set), LSE and entropy of the rows (one lane per row); rows >=
    // limit are skipped. Call after finish(). Every lane computes and only the stores are
    // predicated, so that the compiler can interleave this with a caller's row writes.
    __device__ __forceinline__ void write(float* rowMax, float* rowLse, float* rowEntropy, int rowBase, int limit) const {
        const int lane = threadIdx.x & 31;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int i = rowBase + (lane >> 2) + 8 * r;
            const RowSummary summary = summarizeRow(m[r], l[r], u[r]);
            if ((lane & 3) == 0 && i < limit) {
                if (rowMax) rowMax[i] = m[r];
                rowLse[i] = summary.lse;
                rowEntropy[i] = summary.entropy;
            }
        }
    }
};

// Online softmax state of the two rows a thread holds, with the entropy accumulator
// u = sum p * (s - m); l and u are per-thread partials (quad-reduced in finish()).
template <int D>
struct OnlineSoftmax {
    float o[D / 8][4];
    float m[2];
    float l[2];
    float u[2];

    __device__ __forceinline__ void init() {
        clearOutput();
        restartRows();
    }

    // Turns logits (-inf = excluded) into p = exp(s - m) in place and rescales the state.
    template <bool kEntropy>
    __device__ __forceinline__ void update(float s[8][4]) {
        float alpha[2];
        scaleScores<kEntropy>(s, alpha);
        rescaleOutput(alpha);
    }

    // update() without touching O: p = exp(s - m) in place, m, l, u updated; O is to be multiplied
    // by alpha (rescaleOutput) before the tile's P V is added. Split so that the exp work can run
    // while an earlier P V product is still in flight (wgmma).
    template <bool kEntropy>
    __device__ __forceinline__ void scaleScores(float s[8][4], float alpha[2]) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            float mNew;
            const float ms = startRow(r, rowTileMax(s, r), alpha[r], mNew);
            float rowSums[2] = {0.0f, 0.0f};
            float rowDots[2] = {0.0f, 0.0f};
#pragma unroll
            for (int n = 0; n < 8; ++n)
#pragma unroll
                for (int c = 2 * r; c < 2 * r + 2; ++c) {
                    const float d = s[n][c] - ms;
                    const float p = fastExp2(d * kLog2e);
                    rowSums[c & 1] += p;
                    if constexpr (kEntropy) rowDots[c & 1] += p > 0.0f ? p * d : 0.0f;
                    s[n][c] = p;
                }
            finishRow<kEntropy>(r, alpha[r], ms, mNew, rowSums[0] + rowSums[1], rowDots[0] + rowDots[1]);
        }
    }

    // scaleScores for raw dot products (no softcap; invisible cells already -inf): the logit
    // scale is folded into one FMA per cell, p = 2^(dot * scale * log2 e - m * log2 e), and the
    // tile max is taken over the raw dots (scale > 0 and rounding are monotone, so max(dot) *
    // scale equals max(dot * scale) exactly). p differs from scaleScores' by a few ulp of the
    // exponent (|logit| * 2^-24 relative).
    template <bool kEntropy>
    __device__ __forceinline__ void scaleRawScores(float s[8][4], float scale, float alpha[2]) {
        const float scale2 = scale * kLog2e;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            float mNew;
            const float ms = startRow(r, rowTileMax(s, r) * scale, alpha[r], mNew);
            const float ms2 = ms * kLog2e;
            float rowSums[2] = {0.0f, 0.0f};
            float rowDots[2] = {0.0f, 0.0f};  // sum p * (logit - m) * log2 e
#pragma unroll
            for (int n = 0; n < 8; ++n)
#pragma unroll
                for (int c = 2 * r; c < 2 * r + 2; ++c) {
                    // Clamped so that excluded cells give p = 0 and p * d2 = 0 (not 0 * -inf).
                    const float d2 = fmaxf(fmaf(s[n][c], scale2, -ms2), -1024.0f);
                    const float p = fastExp2(d2);
                    rowSums[c & 1] += p;
                    if constexpr (kEntropy) rowDots[c & 1] = fmaf(p, d2, rowDots[c & 1]);
                    s[n][c] = p;
                }
            finishRow<kEntropy>(r, alpha[r], ms, mNew, rowSums[0] + rowSums[1],
                                (rowDots[0] + rowDots[1]) * (1.0f / kLog2e));
        }
    }

    __device__ __forceinline__ void rescaleOutput(const float alpha[2]) {
#pragma unroll
        for (int r = 0; r < 2; ++r)
#pragma unroll
            for (int n = 0; n < D / 8; ++n) {
                o[n][2 * r] *= alpha[r];
                o[n][2 * r + 1] *= alpha[r];
            }
    }

    // Max of row half r of a tile over the quad (pairwise: short dependency chains).
    __device__ __forceinline__ static float rowTileMax(const float s[8][4], int r) {
        float half[4];
#pragma unroll
        for (int n = 0; n < 4; ++n)
            half[n] = fmaxf(fmaxf(s[n][2 * r], s[n][2 * r + 1]), fmaxf(s[n + 4][2 * r], s[n + 4][2 * r + 1]));
        return quadMax(fmaxf(fmaxf(half[0], half[1]), fmaxf(half[2], half[3])));
    }

    // Row r after a tile with max tileMax: the new running max mNew, the shift ms used for the
    // tile's p (mNew, or 0 while the row has seen nothing) and the factor alpha for the old l, u, O.
    __device__ __forceinline__ float startRow(int r, float tileMax, float& alpha, float& mNew) const {
        mNew = fmaxf(m[r], tileMax);
        const float ms = mNew == -INFINITY ? 0.0f : mNew;
        alpha = fastExp2((m[r] - ms) * kLog2e);
        return ms;
    }

    // Folds a tile's sum p and sum p * (logit - ms) into row r.
    template <bool kEntropy>
    __device__ __forceinline__ void finishRow(int r, float alpha, float ms, float mNew, float rowSum, float rowDot) {
        if constexpr (kEntropy) u[r] = alpha * u[r] + (l[r] > 0.0f ? alpha * l[r] * (m[r] - ms) : 0.0f) + rowDot;
        l[r] = alpha * l[r] + rowSum;
        m[r] = mNew;
    }

    __device__ __forceinline__ void finish() { RowTotals::reduceQuad(l, u); }

    // The per-thread m, l, u partials of the rows so far; the state then starts new rows (m = -inf,
    // l = u = 0, so the next tile's alpha is 0) while o still holds the old rows' output, for
    // kernels that run several row sets through one state.
    __device__ __forceinline__ RowTotals restartRows() {
        RowTotals t;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            t.m[r] = m[r];
            t.l[r] = l[r];
            t.u[r] = u[r];
            m[r] = -INFINITY;
            l[r] = 0.0f;
            u[r] = 0.0f;
        }
        return t;
    }

    __device__ __forceinline__ void clearOutput() {
#pragma unroll
        for (int n = 0; n < D / 8; ++n)
#pragma unroll
            for (int c = 0; c < 4; ++c) o[n][c] = 0.0f;
    }

    // Writes O / l for the thread's rows into out (row stride D); rows >= limit are skipped.
    __device__ __forceinline__ void writeOutput(float* out, int rowBase, int limit) const {
        writeOutputRows(l, out, rowBase, limit);
    }

    // writeOutput with the sums l of finished rows (restartRows, then RowTotals::finish).
    __device__ __forceinline__ void writeOutputRows(const float (&rowSum)[2], float* out, int rowBase, int limit) const {
        const int lane = threadIdx.x & 31;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int i = rowBase + (lane >> 2) + 8 * r;
            if (i >= limit) continue;
            // The hardware reciprocal (about 1 ulp) without IEEE division's slow path.
            const float inv = rowSum[r] > 0.0f ? approxReciprocal(rowSum[r]) : 0.0f;
#pragma unroll
            for (int n = 0; n < D / 8; ++n) {
                const float2 v = make_float2(o[n][2 * r] * inv, o[n][2 * r + 1] * inv);
                *reinterpret_cast<float2*>(out + static_cast<size_t>(i) * D + 8 * n + 2 * (lane & 3)) = v;
            }
        }
    }

    // Writes the row max (when rowMax is set), LSE and entropy of the thread's rows (one lane per
    // row); rows >= limit are skipped. Call after finish().
    __device__ __forceinline__ void writeRowStatistics(float* rowMax, float* rowLse, float* rowEntropy, int rowBase,
                                                       int limit) const {
        RowTotals{{m[0], m[1]}, {l[0], l[1]}, {u[0], u[1]}}.write(rowMax, rowLse, rowEntropy, rowBase, limit);
    }
};

}  // namespace attnscope::cuda
