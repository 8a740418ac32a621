// CUDA error handling for the backend: every failing call becomes an attnscope::BackendError whose
// message says what was being done, in words (out of memory says how much was asked and how much
// is free). Device buffers own their memory (RAII), so an exception leaks nothing.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>

#include "attnscope/backend.h"

namespace attnscope::cuda {

[[noreturn]] void throwCudaError(cudaError_t error, const std::string& what);

inline void checkCuda(cudaError_t error, const char* what) {
    if (error != cudaSuccess) throwCudaError(error, what);
}

// Untyped device allocation; throws BackendError (out of memory in plain words) on failure.
void* deviceAllocate(size_t bytes, const char* what);
// Returns memory from deviceAllocate to the pool (nullptr is ignored).
void deviceFree(void* ptr);

template <typename T>
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    DeviceBuffer(size_t count, const char* what) : m_count(count) {
        if (count > 0) m_ptr = static_cast<T*>(deviceAllocate(count * sizeof(T), what));
    }
    ~DeviceBuffer() { deviceFree(m_ptr); }
    DeviceBuffer(DeviceBuffer&& other) noexcept
        : m_ptr(std::exchange(other.m_ptr, nullptr)), m_count(std::exchange(other.m_count, 0)) {}
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
        if (this != &other) {
            deviceFree(m_ptr);
            m_ptr = std::exchange(other.m_ptr, nullptr);
            m_count = std::exchange(other.m_count, 0);
        }
        return *this;
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    T* get() const { return m_ptr; }
    size_t size() const { return m_count; }

    void upload(const T* host, size_t count, cudaStream_t stream = nullptr) {
        checkCuda(cudaMemcpyAsync(m_ptr, host, count * sizeof(T), cudaMemcpyHostToDevice, stream), "copying to the GPU");
    }
    void download(T* host, size_t count, cudaStream_t stream = nullptr) const {
        checkCuda(cudaMemcpyAsync(host, m_ptr, count * sizeof(T), cudaMemcpyDeviceToHost, stream),
                  "copying from the GPU");
        checkCuda(cudaStreamSynchronize(stream), "waiting for the GPU");
    }
    void zero(cudaStream_t stream = nullptr) {
        if (m_count) checkCuda(cudaMemsetAsync(m_ptr, 0, m_count * sizeof(T), stream), "clearing GPU memory");
    }

private:
    T* m_ptr = nullptr;
    size_t m_count = 0;
};

}  // namespace attnscope::cuda
