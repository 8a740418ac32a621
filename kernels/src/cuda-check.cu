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

void* deviceAllocate(size_t bytes, const char* what) {
    void* ptr = nullptr;
    const cudaError_t error = cudaMalloc(&ptr, bytes);
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
