// Hopper warpgroup MMA (wgmma, sm_90a): a warpgroup of 4 warps multiplies a 64-row A (in shared
// memory or registers) by a B operand it reads straight from shared memory, asynchronously, so
// the tensor cores of one warpgroup work while other warps (or the same warps) do exp and
// reductions, and no ldmatrix traffic is spent on the operands. Only files compiled for sm_90a include this (kernels/CMakeLists.txt:
// attnscope_cuda_sm90a); their kernels run on compute capability 9.0 devices only.
//
// B tiles use the 128-byte swizzled K-major layout wgmma reads without bank conflicts: a tile of
// 64 rows x D 16-bit elements is stored as ceil(D / 64) column blocks of 64 rows x 128 bytes, and
// inside a block the 16-byte chunk c of row r sits at chunk c ^ (r % 8). Blocks start on 1024-byte
// boundaries (the swizzle pattern repeats every 8 rows = 1024 bytes).
#pragma once

#include <cstdint>

#include "warp-math.cuh"

namespace attnscope::cuda {

constexpr int kWarpgroupThreads = 128;
constexpr int kSwizzleAlign = 1024;

// Bytes of a swizzled tile of Rows rows x D 16-bit elements.
template <int D, int Rows = kTile>
constexpr int kSwizzledTileBytes = ((D + 63) / 64) * Rows * 128;

// Byte offset of the 16-byte chunk `chunk` (along D) of row `row` in a swizzled tile of Rows rows.
template <int Rows = kTile>
__device__ __forceinline__ uint32_t swizzledOffset(int row, int chunk) {
    return static_cast<uint32_t>((chunk >> 3) * (Rows * 128) + row * 128 + (((chunk & 7) ^ (row & 7)) << 4));
}

// Count rows of a row-major [rows, D] global matrix into rows firstRow .. firstRow + Count - 1 of
// a swizzled tile of Rows rows (firstRow a multiple of 8); the Threads threads of the CTA, this one
// being `tid`, share the copies. The rows are contiguous in global memory, so copy i of a thread is
// element 8 (tid + i Threads). When a pass of Threads chunks covers a multiple of 8 rows (head dims
// 32, 64 and 128 with 256 threads), every copy of a thread keeps its chunk column and swizzle
// phase, so its shared offset is one base plus a constant: a fixed list of cp.async with immediate
// offsets (a generic strided loop cost more instructions than the cells of a tile).
template <typename T, int D, int Threads, int Rows = kTile, int Count = kTile>
__device__ __forceinline__ void loadRowsSwizzledAsync(unsigned char* tile, int firstRow, const T* gmem, int tid) {
    static_assert(sizeof(T) == 2, "wgmma tiles hold 16-bit elements");
    constexpr int kChunksPerRow = D / 8;
    constexpr int kChunks = Count * kChunksPerRow;
    constexpr int kCopies = (kChunks + Threads - 1) / Threads;
    if constexpr (Threads % kChunksPerRow == 0 && (Threads / kChunksPerRow) % 8 == 0) {
        constexpr int kRowsPerCopy = Threads / kChunksPerRow;
        unsigned char* base = tile + swizzledOffset<Rows>(firstRow + tid / kChunksPerRow, tid % kChunksPerRow);
        const T* src = gmem + static_cast<size_t>(tid) * 8;
#pragma unroll
        for (int i = 0; i < kCopies; ++i)
            if (kChunks % Threads == 0 || tid + i * Threads < kChunks)
                cpAsync16(base + i * kRowsPerCopy * 128, src + static_cast<size_t>(i) * Threads * 8);
    } else {
#pragma unroll
        for (int i = 0; i < kCopies; ++i) {
            const int idx = tid + i * Threads;
            if (kChunks % Threads == 0 || idx < kChunks)
                cpAsync16(tile + swizzledOffset<Rows>(firstRow + idx / kChunksPerRow, idx % kChunksPerRow),
                          gmem + static_cast<size_t>(idx) * 8);
        }
    }
}

// A whole 64-row tile.
template <typename T, int D, int Threads>
__device__ __forceinline__ void loadTileSwizzledAsync(unsigned char* tile, const T* gmem, int tid) {
    loadRowsSwizzledAsync<T, D, Threads>(tile, 0, gmem, tid);
}

// Shared-memory matrix descriptor (PTX ISA, "Matrix Descriptor Format") with the 128-byte swizzle;
// byte offsets are encoded in 16-byte units.
__device__ __forceinline__ uint64_t swizzledDescriptor(uint32_t address, uint32_t leadingBytes, uint32_t strideBytes) {
    uint64_t d = (address & 0x3FFFFu) >> 4;
    d |= static_cast<uint64_t>((leadingBytes & 0x3FFFFu) >> 4) << 16;
    d |= static_cast<uint64_t>((strideBytes & 0x3FFFFu) >> 4) << 32;
    d |= static_cast<uint64_t>(1) << 62;  // 128-byte swizzle
    return d;
}

// A K-major operand (rows = M or N, the reduction along D) of a tile of Rows rows at k-step kk
// (elements 16 kk .. 16 kk + 15): column block kk / 4, byte 32 (kk % 4) of each row; groups of 8
// rows are 1024 bytes apart (stride byte offset); the leading byte offset is unused for swizzled
// K-major layouts (encoded 1). The k-step is added to the tile's descriptor rather than to its
// address, so the unrolled k-steps of one tile share one descriptor computation (the address
// field cannot overflow: shared memory ends below 2^18 bytes).
template <int Rows = kTile>
__device__ __forceinline__ uint64_t kMajorDescriptor(const unsigned char* tile, int kk) {
    const uint64_t base = swizzledDescriptor(sharedAddress(tile), 16, 1024);
    // Added to the low word alone: 32-bit adds, no carry into the constant high word.
    const uint32_t low = static_cast<uint32_t>(base) +
                         ((static_cast<uint32_t>(kk >> 2) * (Rows * 128) + static_cast<uint32_t>(kk & 3) * 32) >> 4);
    return (base & 0xFFFFFFFF00000000ull) | low;
}

// An MN-major operand: the tile's rows are the reduction (the 64 keys of a V tile) and its D
// columns the N dimension. Columns 64 cb .. 64 cb + 63 at k-step kk (rows 16 kk .. 16 kk + 15):
// column block cb, rows from 16 kk on (2048 bytes per k-step); groups of 8 rows are 1024 bytes
// apart (stride byte offset), column blocks 8192 (leading byte offset; unused for N = 64).
__device__ __forceinline__ uint64_t mnMajorDescriptor(const unsigned char* tile, int cb, int kk) {
    const uint32_t address = sharedAddress(tile) + cb * (kTile * 128) + kk * 2048;
    return swizzledDescriptor(address, kTile * 128, 1024);
}

__device__ __forceinline__ void wgmmaFence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmmaCommit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmmaWait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Orders this thread's completed cp.async (generic proxy) writes before later wgmma (async proxy)
// reads of the same shared memory; a barrier then publishes them to the warpgroup.
__device__ __forceinline__ void fenceSharedForAsyncProxy() {
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
// Keeps the compiler from moving uses of accumulator registers across wgmma issue / wait (it does
// not know the instruction is asynchronous).
template <int N>
__device__ __forceinline__ void fenceAccumulators(float (&d)[N][4]) {
#pragma unroll
    for (int n = 0; n < N; ++n)
#pragma unroll
        for (int c = 0; c < 4; ++c) asm volatile("" : "+f"(d[n][c])::"memory");
}

// Accumulator operands of a wgmma: 4 per 8-column group n of the warp's m16n8 layout.
#define ATTNSCOPE_WGMMA_ACC4(n) "+f"(d[n][0]), "+f"(d[n][1]), "+f"(d[n][2]), "+f"(d[n][3])
#define ATTNSCOPE_WGMMA_ACC32(b)                                                                       \
    ATTNSCOPE_WGMMA_ACC4((b) + 0), ATTNSCOPE_WGMMA_ACC4((b) + 1), ATTNSCOPE_WGMMA_ACC4((b) + 2),        \
        ATTNSCOPE_WGMMA_ACC4((b) + 3), ATTNSCOPE_WGMMA_ACC4((b) + 4), ATTNSCOPE_WGMMA_ACC4((b) + 5),    \
        ATTNSCOPE_WGMMA_ACC4((b) + 6), ATTNSCOPE_WGMMA_ACC4((b) + 7)
// The destination lists of m64n64 (%0 .. %31) and m64n128 (%0 .. %63).
#define ATTNSCOPE_WGMMA_D32 \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, " \
    "%20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
#define ATTNSCOPE_WGMMA_D64 \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, " \
    "%20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, " \
    "%39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, " \
    "%58, %59, %60, %61, %62, %63}, "

// D[64 x N] (+)= A[64 x 16] . B[N x 16]^T for one warpgroup, N = 64 or 128, both operands K-major in
// shared memory (descriptors from kMajorDescriptor). d[n][c] is the m16n8k16 accumulator layout of
// the warp's 16 rows (fragRow/fragCol of warp-math.cuh), n < N / 8; accumulate = false overwrites d.
template <typename T, int N>
__device__ __forceinline__ void wgmmaSS(float (&d)[N / 8][4], uint64_t descA, uint64_t descB, bool accumulate) {
    static_assert(N == 64 || N == 128, "m64n64 or m64n128");
// DESC_A, DESC_B, FLAG: the operand numbers of descA, descB and the accumulate flag, after the accumulators.
#define ATTNSCOPE_WGMMA_SS(SHAPE, TYPE, DLIST, DESC_A, DESC_B, FLAG, ...)                                 \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" FLAG ", 0;\n"                                       \
                 "wgmma.mma_async.sync.aligned." SHAPE ".f32." TYPE "." TYPE " " DLIST "%" DESC_A ", %"     \
                 DESC_B ", p, 1, 1, 0, 0;\n}\n"                                                           \
                 : __VA_ARGS__                                                                           \
                 : "l"(descA), "l"(descB), "r"(static_cast<int>(accumulate)))
    constexpr bool kBf16 = std::is_same_v<T, __nv_bfloat16>;
    if constexpr (N == 64) {
        if constexpr (kBf16)
            ATTNSCOPE_WGMMA_SS("m64n64k16", "bf16", ATTNSCOPE_WGMMA_D32, "32", "33", "34", ATTNSCOPE_WGMMA_ACC32(0));
        else ATTNSCOPE_WGMMA_SS("m64n64k16", "f16", ATTNSCOPE_WGMMA_D32, "32", "33", "34", ATTNSCOPE_WGMMA_ACC32(0));
    } else {
        if constexpr (kBf16)
            ATTNSCOPE_WGMMA_SS("m64n128k16", "bf16", ATTNSCOPE_WGMMA_D64, "64", "65", "66", ATTNSCOPE_WGMMA_ACC32(0),
                               ATTNSCOPE_WGMMA_ACC32(8));
        else
            ATTNSCOPE_WGMMA_SS("m64n128k16", "f16", ATTNSCOPE_WGMMA_D64, "64", "65", "66", ATTNSCOPE_WGMMA_ACC32(0),
                               ATTNSCOPE_WGMMA_ACC32(8));
    }
#undef ATTNSCOPE_WGMMA_SS
}

// S[64 x N] = A . B^T over D for one warpgroup: A a K-major swizzled tile of 64 rows, B one of N
// rows (64 or 128).
template <typename T, int D, int N = 64>
__device__ __forceinline__ void wgmmaScores(float (&d)[N / 8][4], const unsigned char* tileA,
                                            const unsigned char* tileB) {
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk)
        wgmmaSS<T, N>(d, kMajorDescriptor(tileA, kk), kMajorDescriptor<N>(tileB, kk), kk > 0);
}

// D[64 x 64] += A[64 x 16] . B[16 x 64] for one warpgroup, A in registers (the m16n8k16 A fragment
// of the warp's 16 rows: P in the forward), B MN-major in shared memory (descB from
// mnMajorDescriptor: a V tile read transposed).
// Define A right before its wgmmas: ptxas (CUDA 13.0) was seen to hand the registers of an A
// fragment kept across loop iterations to other values once its wgmma had been issued (forward at
// D = 64, when Q was an A fragment: the P fragments overwrote it).
template <typename T>
__device__ __forceinline__ void wgmmaM64N64K16AccumulateTransposedB(float (&d)[8][4], const uint32_t a[4],
                                                                    uint64_t descB) {
#define ATTNSCOPE_WGMMA_RS(TYPE)                                                                         \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                                             \
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32." TYPE "." TYPE " " ATTNSCOPE_WGMMA_D32     \
                 "{%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"                                           \
                 : ATTNSCOPE_WGMMA_ACC32(0)                                                              \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(descB), "r"(1))
    if constexpr (std::is_same_v<T, __nv_bfloat16>) ATTNSCOPE_WGMMA_RS("bf16");
    else ATTNSCOPE_WGMMA_RS("f16");
#undef ATTNSCOPE_WGMMA_RS
}

#undef ATTNSCOPE_WGMMA_D64
#undef ATTNSCOPE_WGMMA_D32
#undef ATTNSCOPE_WGMMA_ACC32
#undef ATTNSCOPE_WGMMA_ACC4

}  // namespace attnscope::cuda
