// Turning CUDA errors into BackendError messages a user can act on.
#include "cuda-check.h"

#include <cstdio>

#include "dispatch.cuh"

namespace attnscope::cuda {

namespace {

std::string mebibytes(size_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB"; }

}  // namespace

void throwCudaError(cudaError_t error, const std::string& what) {
    cudaGetLastError();  // clear a non-sticky error so later calls can proceed
    if (error == cudaErrorMemoryAllocation)
        throw BackendError("the GPU ran out of memory while " + what +
                           "; close other GPU programs, use a shorter sequence, or use the CPU backend");
    throw BackendError("GPU error while " + what + ": " + cudaGetErrorString(error) + " (" + cudaGetErrorName(error) +
                       ")");
}

namespace {

// Stream-ordered allocation from the device's memory pool, which keeps freed memory for reuse:
// plain cudaMalloc/cudaFree cost a driver call each and cudaFree waits for the whole device, which
// dominated small per-head calls. All kernels run on the backend's one stream, so memory freed on
// the legacy stream and handed out again is only touched by later work on that same stream.
bool useMemoryPool() {
    static const bool supported = [] {
        int device = 0, pools = 0;
        if (cudaGetDevice(&device) != cudaSuccess ||
            cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device) != cudaSuccess || !pools) {
            cudaGetLastError();
            return false;
        }
        cudaMemPool_t pool;
        if (cudaDeviceGetDefaultMemPool(&pool, device) == cudaSuccess) {
            uint64_t keep = UINT64_MAX;  // never trim the pool at synchronization points
            cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
        }
        cudaGetLastError();
        return true;
    }();
    return supported;
}

}  // namespace

void deviceFree(void* ptr) {
    if (!ptr) return;
    if (useMemoryPool()) cudaFreeAsync(ptr, nullptr);
    else cudaFree(ptr);
}

void* deviceAllocate(size_t bytes, const char* what) {
    void* ptr = nullptr;
    cudaError_t error = useMemoryPool() ? cudaMallocAsync(&ptr, bytes, nullptr) : cudaMalloc(&ptr, bytes);
    if (error == cudaErrorMemoryAllocation && useMemoryPool()) {
        // The pool may hold freed blocks of other sizes: give them back and retry once.
        cudaGetLastError();
        cudaDeviceSynchronize();
        int device = 0;
        cudaMemPool_t pool;
        if (cudaGetDevice(&device) == cudaSuccess && cudaDeviceGetDefaultMemPool(&pool, device) == cudaSuccess)
            cudaMemPoolTrimTo(pool, 0);
        error = cudaMallocAsync(&ptr, bytes, nullptr);
    }
    if (error == cudaSuccess) return ptr;
    cudaGetLastError();
    if (error == cudaErrorMemoryAllocation) {
        size_t freeBytes = 0, totalBytes = 0;
        cudaMemGetInfo(&freeBytes, &totalBytes);
        throw BackendError("the GPU ran out of memory: " + std::string(what) + " needs " + mebibytes(bytes) + " but only " +
                           mebibytes(freeBytes) + " of " + mebibytes(totalBytes) +
                           " are free; close other GPU programs, use a shorter sequence, or use the CPU backend");
    }
    throwCudaError(error, std::string("allocating ") + what);
}

void checkLaunch(const char* what) {
    const cudaError_t error = cudaGetLastError();
    if (error != cudaSuccess) throwCudaError(error, std::string("launching the ") + what + " kernel");
}

}  // namespace attnscope::cuda
