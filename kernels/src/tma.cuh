// The Hopper bulk tensor copy engine (TMA, sm_90) for the swizzled 16-bit tiles of wgmma.cuh: one
// thread asks the copy engine for a whole 64-row tile, which lands in shared memory in the same
// 128-byte swizzled layout loadRowsSwizzledAsync writes, and completes on an mbarrier (the
// transaction bytes it expects), so the threads that compute never issue loads or address math.
// The other way, fp32 output boxes staged in shared memory go out as bulk stores (bulk groups).
// Also the warp-specialization helpers the TMA-fed kernels use: named barriers and setmaxnreg.
#pragma once

#include <cuda.h>
#include <cudaTypedefs.h>

#include <cstdint>

#include "mbarrier.cuh"
#include "wgmma.cuh"

namespace attnscope::cuda {

// The driver's cuTensorMapEncodeTiled (nullptr when the driver has none), looked up once.
inline PFN_cuTensorMapEncodeTiled_v12000 tensorMapEncoder() {
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
    return encode;
}

// A tensor map over a row-major [rows, D] matrix of 16-bit elements, in boxes of 64 rows x 64
// elements (128 bytes, the swizzle span) with the 128-byte swizzle: a 64-row tile of D columns is
// D / 64 boxes. Returns false (map untouched) when the driver has no cuTensorMapEncodeTiled or
// rejects the matrix (an address not 16-byte aligned, say): the caller then takes a kernel that
// loads with cp.async.
inline bool encodeTileTensorMap(CUtensorMap& map, const void* base, uint64_t rows, int D, bool bf16) {
    const PFN_cuTensorMapEncodeTiled_v12000 encode = tensorMapEncoder();
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

// A tensor map over the forward's fp32 output [heads][rowsPadded][D], for stores of 64-row x
// 32-column boxes (128 bytes, the swizzle span) with the 128-byte swizzle. Rows >= seqLen lie outside
// the map, so the copy engine leaves them untouched (as the register path skips them). Returns false
// (map untouched) where encodeTileTensorMap would.
inline bool encodeOutputTensorMap(CUtensorMap& map, float* base, int D, int seqLen, int rowsPadded, int heads) {
    const PFN_cuTensorMapEncodeTiled_v12000 encode = tensorMapEncoder();
    if (!encode || D % 32 != 0) return false;
    const cuuint64_t dims[3] = {static_cast<cuuint64_t>(D), static_cast<cuuint64_t>(seqLen),
                                static_cast<cuuint64_t>(heads)};
    const cuuint64_t strides[2] = {static_cast<cuuint64_t>(D) * 4, static_cast<cuuint64_t>(rowsPadded) * D * 4};
    const cuuint32_t box[3] = {32, kTile, 1};
    const cuuint32_t elementStrides[3] = {1, 1, 1};
    CUtensorMap m;
    const CUresult r = encode(&m, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 3, base, dims, strides, box, elementStrides,
                              CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                              CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
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

// One 64-row x 32-column fp32 box (8 KB, 128-byte swizzled, 1024-byte aligned) to rows
// firstRow.. of column block col / 32 of head `head` (encodeOutputTensorMap); bulk-group completion.
__device__ __forceinline__ void tmaStoreOutputBox(const unsigned char* box, const CUtensorMap* map, int col, int firstRow,
                                                  int head) {
    asm volatile("cp.async.bulk.tensor.3d.global.shared::cta.bulk_group [%0, {%1, %2, %3}], [%4];\n" ::"l"(
                     reinterpret_cast<uint64_t>(map)),
                 "r"(col), "r"(firstRow), "r"(head), "r"(sharedAddress(box))
                 : "memory");
}
__device__ __forceinline__ void bulkCommit() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
// Waits until the copy engine has read the shared memory of every committed bulk store of this thread.
__device__ __forceinline__ void bulkWaitRead() { asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory"); }
// Makes this thread's shared-memory writes visible to the copy engine (async proxy).
__device__ __forceinline__ void fenceProxyAsyncShared() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

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
