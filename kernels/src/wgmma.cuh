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

template <int D>
constexpr int kSwizzledTileBytes = ((D + 63) / 64) * kTile * 128;

// Byte offset of the 16-byte chunk `chunk` (along D) of row `row` in a swizzled tile.
__device__ __forceinline__ uint32_t swizzledOffset(int row, int chunk) {
    return static_cast<uint32_t>((chunk >> 3) * (kTile * 128) + row * 128 + (((chunk & 7) ^ (row & 7)) << 4));
}

// 64 rows of a row-major [rows, D] global matrix into a swizzled tile; `threads` threads, this one
// being `tid`, share the copies.
template <typename T, int D>
__device__ __forceinline__ void loadTileSwizzledAsync(unsigned char* tile, const T* gmem, int tid, int threads) {
    static_assert(sizeof(T) == 2, "wgmma tiles hold 16-bit elements");
    constexpr int kChunksPerRow = D / 8;
    for (int idx = tid; idx < kTile * kChunksPerRow; idx += threads) {
        const int r = idx / kChunksPerRow;
        const int c = idx % kChunksPerRow;
        cpAsync16(tile + swizzledOffset(r, c), gmem + static_cast<size_t>(r) * D + c * 8);
    }
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

// A K-major operand (rows = M or N, the reduction along D) at k-step kk (elements 16 kk ..
// 16 kk + 15): column block kk / 4, byte 32 (kk % 4) of each row; groups of 8 rows are 1024
// bytes apart (stride byte offset); the leading byte offset is unused for swizzled K-major
// layouts (encoded 1).
__device__ __forceinline__ uint64_t kMajorDescriptor(const unsigned char* tile, int kk) {
    const uint32_t address = static_cast<uint32_t>(__cvta_generic_to_shared(tile)) + (kk >> 2) * (kTile * 128) +
                             (kk & 3) * 32;
    return swizzledDescriptor(address, 16, 1024);
}

// An MN-major operand: the tile's rows are the reduction (the 64 keys of a V tile) and its D
// columns the N dimension. Columns 64 cb .. 64 cb + 63 at k-step kk (rows 16 kk .. 16 kk + 15):
// column block cb, rows from 16 kk on (2048 bytes per k-step); groups of 8 rows are 1024 bytes
// apart (stride byte offset), column blocks 8192 (leading byte offset; unused for N = 64).
__device__ __forceinline__ uint64_t mnMajorDescriptor(const unsigned char* tile, int cb, int kk) {
    const uint32_t address = static_cast<uint32_t>(__cvta_generic_to_shared(tile)) + cb * (kTile * 128) + kk * 2048;
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

// The 32 accumulator operands of an m64n64 wgmma (%0 .. %31) and the instruction head.
#define ATTNSCOPE_WGMMA_ACCUMULATORS                                                                     \
    "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), "+f"(d[1][2]), \
        "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), "+f"(d[3][0]),            \
        "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), "+f"(d[4][2]),            \
        "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]), "+f"(d[6][0]),            \
        "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]), "+f"(d[7][0]), "+f"(d[7][1]), "+f"(d[7][2]), "+f"(d[7][3])
#define ATTNSCOPE_WGMMA_M64N64K16(TYPE)                                                                        \
    "wgmma.mma_async.sync.aligned.m64n64k16.f32." TYPE "." TYPE                                                 \
    " {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, " \
    "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "

// D[64 x 64] (+)= A[64 x 16] . B[64 x 16]^T for one warpgroup, both K-major in shared memory
// (descriptors from kMajorDescriptor). d[n][c] is the m16n8k16 accumulator layout of the warp's 16
// rows (fragRow/fragCol of warp-math.cuh); accumulate = false overwrites d.
template <typename T>
__device__ __forceinline__ void wgmmaM64N64K16(float (&d)[8][4], uint64_t descA, uint64_t descB, bool accumulate) {
#define ATTNSCOPE_WGMMA_SS(TYPE)                                                                         \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n" ATTNSCOPE_WGMMA_M64N64K16(TYPE)           \
                 "%32, %33, p, 1, 1, 0, 0;\n}\n"                                                         \
                 : ATTNSCOPE_WGMMA_ACCUMULATORS                                                          \
                 : "l"(descA), "l"(descB), "r"(static_cast<int>(accumulate)))
    if constexpr (std::is_same_v<T, __nv_bfloat16>) ATTNSCOPE_WGMMA_SS("bf16");
    else ATTNSCOPE_WGMMA_SS("f16");
#undef ATTNSCOPE_WGMMA_SS
}

// S[64 x 64] = A . B^T over D for one warpgroup, A and B K-major swizzled tiles (64 rows x D).
template <typename T, int D>
__device__ __forceinline__ void wgmmaScores(float (&d)[8][4], const unsigned char* tileA, const unsigned char* tileB) {
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk)
        wgmmaM64N64K16<T>(d, kMajorDescriptor(tileA, kk), kMajorDescriptor(tileB, kk), kk > 0);
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
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n" ATTNSCOPE_WGMMA_M64N64K16(TYPE)           \
                 "{%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"                                           \
                 : ATTNSCOPE_WGMMA_ACCUMULATORS                                                          \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(descB), "r"(1))
    if constexpr (std::is_same_v<T, __nv_bfloat16>) ATTNSCOPE_WGMMA_RS("bf16");
    else ATTNSCOPE_WGMMA_RS("f16");
#undef ATTNSCOPE_WGMMA_RS
}

#undef ATTNSCOPE_WGMMA_M64N64K16
#undef ATTNSCOPE_WGMMA_ACCUMULATORS

}  // namespace attnscope::cuda
