// The Hopper bulk tensor copy engine (TMA, sm_90) for the swizzled 16-bit tiles of wgmma.cuh: one
// thread asks the copy engine for a whole 64-row tile, which lands in shared memory in the same
// 128-byte swizzled layout loadRowsSwizzledAsync writes, and completes on an mbarrier (the
// transaction bytes it expects), so the threads that compute never issue loads or address math.
// Also the warp-specialization helpers the TMA-fed kernels use: named barriers and setmaxnreg.
#pragma once

#include <cuda.h>
#include <cudaTypedefs.h>

#include <cstdint>

#include "mbarrier.cuh"
#include "wgmma.cuh"

namespace attnscope::cuda {

// A tensor map over a row-major [rows, D] matrix of 16-bit elements, in boxes of 64 rows x 64
// elements (128 bytes, the swizzle span) with the 128-byte swizzle: a 64-row tile of D columns is
// D / 64 boxes. Returns false (map untouched) when the driver has no cuTensorMapEncodeTiled or
// rejects the matrix (an address not 16-byte aligned, say): the caller then takes a kernel that
// loads with cp.async.
inline bool encodeTileTensorMap(CUtensorMap& map, const void* base, uint64_t rows, int D, bool bf16) {
    static const PFN_cuTensorMapEncodeTiled_v12000 encode = [] {
        void* fn = nullptr;
        cudaDriverEntryPointQueryResult found{};
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found) !=
                cudaSuccess ||
            found != cudaDriverEntryPointSuccess) {
            cudaGetLastError();
            fn = nullptr;
        }
        return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
    }();
    if (!encode || D % 64 != 0) return false;
    const cuuint64_t dims[2] = {static_cast<cuuint64_t>(D), rows};
    const cuuint64_t strides[1] = {static_cast<cuuint64_t>(D) * 2};  // bytes between rows
    const cuuint32_t box[2] = {64, kTile};
    const cuuint32_t elementStrides[2] = {1, 1};
    CUtensorMap m;
    const CUresult r = encode(&m, bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2,
                              const_cast<void*>(base), dims, strides, box, elementStrides,
                              CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                              CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) return false;
    map = m;
    return true;
}

// Bytes a 64-row tile of D columns brings (what its mbarrier expects).
template <int D>
constexpr uint32_t kTmaTileBytes = static_cast<uint32_t>(kSwizzledTileBytes<D>);

__device__ __forceinline__ void prefetchTensorMap(const CUtensorMap* map) {
    asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}

// Makes initialized mbarriers visible to the copy engine (async proxy); __syncthreads follows.
__device__ __forceinline__ void fenceBarrierInit() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }

// Arrives on `bar` and adds `bytes` to the transactions its current phase waits for.
__device__ __forceinline__ void mbarrierArriveExpectTx(uint64_t* bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(sharedAddress(bar)), "r"(bytes)
                 : "memory");
}

// Rows firstRow .. firstRow + 63 of the map's matrix into a swizzled tile (1024-byte aligned),
// completing `bytes` kTmaTileBytes<D> on bar.
template <int D>
__device__ __forceinline__ void tmaLoadTile(unsigned char* tile, const CUtensorMap* map, int firstRow, uint64_t* bar) {
#pragma unroll
    for (int cb = 0; cb < D / 64; ++cb)
        asm volatile(
            "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
                sharedAddress(tile + cb * kTile * 128)),
            "l"(reinterpret_cast<uint64_t>(map)), "r"(cb * 64), "r"(firstRow), "r"(sharedAddress(bar))
            : "memory");
}

// Named barriers (ids 1..15; 0 is __syncthreads) among `threads` threads of the CTA: sync waits
// until that many have arrived or synced, arrive only counts this warp in.
__device__ __forceinline__ void namedBarrierSync(int id, int threads) {
    asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void namedBarrierArrive(int id, int threads) {
    asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// Hands registers between warpgroups (every thread of the warpgroup executes it): the loading
// warpgroup gives its registers up, the computing ones take them.
template <int N>
__device__ __forceinline__ void releaseRegisters() {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
}
template <int N>
__device__ __forceinline__ void claimRegisters() {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
}

}  // namespace attnscope::cuda
