// Warp-level building blocks shared by every kernel: 16-byte async tile loads into padded shared
// memory, the 16x64 score tile of one warp (tensor cores for fp16/bf16, fp32 FMA for float) and the
// P x V product. Fragment layout is the mma.m16n8k16 accumulator layout for both paths, so kernels
// are written once for all three element types.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

namespace attnscope::cuda {

constexpr int kTile = 64;      // query rows and keys per CTA tile (also the BlockGrid block size)
constexpr int kWarps = 4;      // one warp per 16 rows of a tile
constexpr int kThreads = 128;
constexpr float kLog2e = 1.4426950408889634f;

template <typename T>
constexpr bool kIsMma = !std::is_same_v<T, float>;

// Row padding of shared tiles: 16 bytes, so ldmatrix rows (and float rows read by a quad) fall in
// distinct banks (row stride = D + 8 halves or D + 4 floats).
template <typename T>
constexpr int kPad = 16 / static_cast<int>(sizeof(T));

template <typename T, int D>
constexpr int kStride = D + kPad<T>;

template <typename T, int D>
constexpr int kTileElems = kTile * kStride<T, D>;

// ---------------------------------------------------------------------------------------------
// PTX wrappers

// The 32-bit shared-window address PTX instructions take for a generic pointer into shared memory.
__device__ __forceinline__ uint32_t sharedAddress(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void cpAsync16(void* smem, const void* gmem) {
    const unsigned s = sharedAddress(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cpAsyncWait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrixX4(uint32_t r[4], const void* smem) {
    const unsigned s = sharedAddress(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s));
}
__device__ __forceinline__ void ldmatrixX4Trans(uint32_t r[4], const void* smem) {
    const unsigned s = sharedAddress(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s));
}

template <typename T>
__device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    } else {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
}

// Two floats into one register of two 16-bit values (lower column in the low half), rounded to
// nearest; `rest` receives what rounding lost (for the hi/lo split of P).
template <typename T>
__device__ __forceinline__ uint32_t packPair(float x, float y, float& restX, float& restY) {
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
        const __nv_bfloat162 h = __floats2bfloat162_rn(x, y);
        restX = x - __low2float(h);
        restY = y - __high2float(h);
        return *reinterpret_cast<const uint32_t*>(&h);
    } else {
        const __half2 h = __floats2half2_rn(x, y);
        restX = x - __low2float(h);
        restY = y - __high2float(h);
        return *reinterpret_cast<const uint32_t*>(&h);
    }
}

// ---------------------------------------------------------------------------------------------
// Tiles: 64 rows of a row-major [rows, D] global matrix into padded shared memory.

template <typename T, int D>
__device__ __forceinline__ void loadTileAsync(T* smem, const T* gmem) {
    constexpr int kPerVec = 16 / static_cast<int>(sizeof(T));
    constexpr int kVecPerRow = D / kPerVec;
    for (int idx = threadIdx.x; idx < kTile * kVecPerRow; idx += kThreads) {
        const int r = idx / kVecPerRow;
        const int c = (idx % kVecPerRow) * kPerVec;
        cpAsync16(smem + r * kStride<T, D> + c, gmem + static_cast<size_t>(r) * D + c);
    }
}

// Accumulator coordinates inside a warp's 16x64 tile: element acc[n][c] is
// row = lane/4 + 8*(c/2), column = 8n + 2*(lane%4) + (c%2).
__device__ __forceinline__ int fragRow(int lane, int c) { return (lane >> 2) + ((c >> 1) << 3); }
__device__ __forceinline__ int fragCol(int lane, int n, int c) { return 8 * n + 2 * (lane & 3) + (c & 1); }

// S[16 x 64] = A[16 rows of sA] . B[64 rows of sB]^T over D.
template <typename T, int D>
__device__ __forceinline__ void warpScores(const T* sA, const T* sB, float acc[8][4]) {
    constexpr int S = kStride<T, D>;
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int n = 0; n < 8; ++n)
#pragma unroll
        for (int c = 0; c < 4; ++c) acc[n][c] = 0.0f;
    if constexpr (kIsMma<T>) {
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk) {
            uint32_t a[4];
            ldmatrixX4(a, sA + (lane & 15) * S + kk * 16 + (lane >> 4) * 8);
#pragma unroll
            for (int np = 0; np < 4; ++np) {
                uint32_t b[4];
                ldmatrixX4(b, sB + (np * 16 + (lane >> 4) * 8 + (lane & 7)) * S + kk * 16 + ((lane >> 3) & 1) * 8);
                mma16816<T>(acc[2 * np], a, b[0], b[1]);
                mma16816<T>(acc[2 * np + 1], a, b[2], b[3]);
            }
        }
    } else {
        const int g = lane >> 2;
        const int t = lane & 3;
        const float* a0 = sA + g * S;
        const float* a1 = sA + (g + 8) * S;
#pragma unroll 4
        for (int k = 0; k < D; ++k) {
            const float x0 = a0[k];
            const float x1 = a1[k];
#pragma unroll
            for (int n = 0; n < 8; ++n)
#pragma unroll
                for (int c = 0; c < 2; ++c) {
                    const float y = sB[(8 * n + 2 * t + c) * S + k];
                    acc[n][c] = fmaf(x0, y, acc[n][c]);
                    acc[n][2 + c] = fmaf(x1, y, acc[n][2 + c]);
                }
        }
    }
}

// Scratch a warp needs for warpPV on the float path: 16 rows x 68 floats.
constexpr int kPvScratchStride = kTile + 4;
constexpr int kPvScratchPerWarp = 16 * kPvScratchStride;

// O[16 x D] += P[16 x 64] . V[64 x D]. kSplit: P is fed to the tensor cores as hi + lo 16-bit
// parts (two MMAs), so the product keeps ~16 significant bits of P instead of 8 (bf16) or 11 (fp16).
template <typename T, int D, bool kSplit>
__device__ __forceinline__ void warpPV(const float p[8][4], const T* sV, float* scratch, float o[D / 8][4]) {
    constexpr int S = kStride<T, D>;
    const int lane = threadIdx.x & 31;
    if constexpr (kIsMma<T>) {
        (void)scratch;
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) {
            uint32_t a[4];
            float r[8];
            a[0] = packPair<T>(p[2 * kk][0], p[2 * kk][1], r[0], r[1]);
            a[1] = packPair<T>(p[2 * kk][2], p[2 * kk][3], r[2], r[3]);
            a[2] = packPair<T>(p[2 * kk + 1][0], p[2 * kk + 1][1], r[4], r[5]);
            a[3] = packPair<T>(p[2 * kk + 1][2], p[2 * kk + 1][3], r[6], r[7]);
            uint32_t lo[4];
            if constexpr (kSplit) {
                float unused[2];
                lo[0] = packPair<T>(r[0], r[1], unused[0], unused[1]);
                lo[1] = packPair<T>(r[2], r[3], unused[0], unused[1]);
                lo[2] = packPair<T>(r[4], r[5], unused[0], unused[1]);
                lo[3] = packPair<T>(r[6], r[7], unused[0], unused[1]);
            }
#pragma unroll
            for (int dp = 0; dp < D / 16; ++dp) {
                uint32_t b[4];
                ldmatrixX4Trans(b, sV + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * S + dp * 16 + (lane >> 4) * 8);
                mma16816<T>(o[2 * dp], a, b[0], b[1]);
                mma16816<T>(o[2 * dp + 1], a, b[2], b[3]);
                if constexpr (kSplit) {
                    mma16816<T>(o[2 * dp], lo, b[0], b[1]);
                    mma16816<T>(o[2 * dp + 1], lo, b[2], b[3]);
                }
            }
        }
    } else {
        const int g = lane >> 2;
        const int t = lane & 3;
#pragma unroll
        for (int n = 0; n < 8; ++n)
#pragma unroll
            for (int c = 0; c < 4; ++c) scratch[fragRow(lane, c) * kPvScratchStride + fragCol(lane, n, c)] = p[n][c];
        __syncwarp();
        for (int key = 0; key < kTile; ++key) {
            const float p0 = scratch[g * kPvScratchStride + key];
            const float p1 = scratch[(g + 8) * kPvScratchStride + key];
            const float* v = sV + key * S;
#pragma unroll
            for (int dn = 0; dn < D / 8; ++dn)
#pragma unroll
                for (int c = 0; c < 2; ++c) {
                    const float y = v[8 * dn + 2 * t + c];
                    o[dn][c] = fmaf(p0, y, o[dn][c]);
                    o[dn][2 + c] = fmaf(p1, y, o[dn][2 + c]);
                }
        }
        __syncwarp();
    }
}

// Two m16 tiles per warp (32 rows) sharing every B fragment: half the ldmatrix traffic per MMA of
// warpScores/warpPV. Tensor-core types only.
template <typename T, int D>
__device__ __forceinline__ void warpScores2(const T* sA, const T* sB, float acc[2][8][4]) {
    constexpr int S = kStride<T, D>;
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int m = 0; m < 2; ++m)
#pragma unroll
        for (int n = 0; n < 8; ++n)
#pragma unroll
            for (int c = 0; c < 4; ++c) acc[m][n][c] = 0.0f;
#pragma unroll 2
    for (int kk = 0; kk < D / 16; ++kk) {
        uint32_t a[2][4];
#pragma unroll
        for (int m = 0; m < 2; ++m) ldmatrixX4(a[m], sA + (m * 16 + (lane & 15)) * S + kk * 16 + (lane >> 4) * 8);
#pragma unroll
        for (int np = 0; np < 4; ++np) {
            uint32_t b[4];
            ldmatrixX4(b, sB + (np * 16 + (lane >> 4) * 8 + (lane & 7)) * S + kk * 16 + ((lane >> 3) & 1) * 8);
#pragma unroll
            for (int m = 0; m < 2; ++m) {
                mma16816<T>(acc[m][2 * np], a[m], b[0], b[1]);
                mma16816<T>(acc[m][2 * np + 1], a[m], b[2], b[3]);
            }
        }
    }
}

template <typename T, int D, bool kSplit>
__device__ __forceinline__ void warpPV2(const float p[2][8][4], const T* sV, float (&o0)[D / 8][4],
                                        float (&o1)[D / 8][4]) {
    constexpr int S = kStride<T, D>;
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
        uint32_t a[2][4], lo[2][4];
#pragma unroll
        for (int m = 0; m < 2; ++m) {
            float r[8];
            a[m][0] = packPair<T>(p[m][2 * kk][0], p[m][2 * kk][1], r[0], r[1]);
            a[m][1] = packPair<T>(p[m][2 * kk][2], p[m][2 * kk][3], r[2], r[3]);
            a[m][2] = packPair<T>(p[m][2 * kk + 1][0], p[m][2 * kk + 1][1], r[4], r[5]);
            a[m][3] = packPair<T>(p[m][2 * kk + 1][2], p[m][2 * kk + 1][3], r[6], r[7]);
            if constexpr (kSplit) {
                float unused[2];
                lo[m][0] = packPair<T>(r[0], r[1], unused[0], unused[1]);
                lo[m][1] = packPair<T>(r[2], r[3], unused[0], unused[1]);
                lo[m][2] = packPair<T>(r[4], r[5], unused[0], unused[1]);
                lo[m][3] = packPair<T>(r[6], r[7], unused[0], unused[1]);
            }
        }
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
            uint32_t b[4];
            ldmatrixX4Trans(b, sV + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * S + dp * 16 + (lane >> 4) * 8);
#pragma unroll
            for (int m = 0; m < 2; ++m) {
                float(&o)[D / 8][4] = m == 0 ? o0 : o1;
                mma16816<T>(o[2 * dp], a[m], b[0], b[1]);
                mma16816<T>(o[2 * dp + 1], a[m], b[2], b[3]);
                if constexpr (kSplit) {
                    mma16816<T>(o[2 * dp], lo[m], b[0], b[1]);
                    mma16816<T>(o[2 * dp + 1], lo[m], b[2], b[3]);
                }
            }
        }
    }
}

// Quad (4 lanes sharing a row) reductions.
__device__ __forceinline__ float quadSum(float x) {
    x += __shfl_xor_sync(0xffffffffu, x, 1);
    x += __shfl_xor_sync(0xffffffffu, x, 2);
    return x;
}
__device__ __forceinline__ float quadMax(float x) {
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
    return x;
}

}  // namespace attnscope::cuda
