// Runtime (element type, head dim) to template dispatch for the launchers.
#pragma once

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "launchers.h"

namespace attnscope::cuda {

// Only the dims of ATTNSCOPE_CUDA_HEAD_DIMS are instantiated (kernels/CMakeLists.txt).
template <class F>
void dispatchHeadDim(int D, F&& f) {
    switch (D) {
#ifdef ATTNSCOPE_HEAD_DIM_32
        case 32: f.template operator()<32>(); return;
#endif
#ifdef ATTNSCOPE_HEAD_DIM_48
        case 48: f.template operator()<48>(); return;
#endif
#ifdef ATTNSCOPE_HEAD_DIM_64
        case 64: f.template operator()<64>(); return;
#endif
#ifdef ATTNSCOPE_HEAD_DIM_80
        case 80: f.template operator()<80>(); return;
#endif
#ifdef ATTNSCOPE_HEAD_DIM_96
        case 96: f.template operator()<96>(); return;
#endif
#ifdef ATTNSCOPE_HEAD_DIM_112
        case 112: f.template operator()<112>(); return;
#endif
#ifdef ATTNSCOPE_HEAD_DIM_128
        case 128: f.template operator()<128>(); return;
#endif
        default: break;
    }
    const bool known = D >= 32 && D <= 128 && D % 16 == 0;
    throw std::invalid_argument(known ? "CUDA kernels: padded head dim " + std::to_string(D) +
                                            " is not compiled into this build (ATTNSCOPE_CUDA_HEAD_DIMS)"
                                      : "CUDA kernels: unsupported padded head dim " + std::to_string(D));
}

template <class F>
void dispatchElement(Element e, F&& f) {
    switch (e) {
        case Element::BFloat16: f.template operator()<__nv_bfloat16>(); break;
        case Element::Float16: f.template operator()<__half>(); break;
        case Element::Float32: f.template operator()<float>(); break;
    }
}

// Sets the dynamic shared-memory limit of a kernel once per instantiation.
template <class Kernel>
void allowSharedMemory(Kernel kernel, size_t bytes) {
    if (bytes > 48 * 1024) cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
}

// ATTNSCOPE_CUDA_KERNELS picks a kernel family for side-by-side benchmarks and tests: "single"
// (mma.sync, one m16 tile per warp), "pair" (mma.sync, two m16 tiles per warp); unset: the Hopper
// wgmma kernels on compute capability 9.0, else "pair".
inline bool useSingleTileKernels() {
    const char* v = std::getenv("ATTNSCOPE_CUDA_KERNELS");
    return v && std::string(v) == "single";
}

// Whether the sm_90a (wgmma) kernels may run: the current device has compute capability 9.0
// (they are compiled for sm_90a only) and ATTNSCOPE_CUDA_KERNELS does not name another family.
inline bool useHopperKernels() {
    static const bool hopperDevice = [] {
        int device = 0, major = 0, minor = 0;
        const bool ok = cudaGetDevice(&device) == cudaSuccess &&
                        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
                        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) == cudaSuccess;
        if (!ok) cudaGetLastError();
        return ok && major == 9 && minor == 0;
    }();
    const char* v = std::getenv("ATTNSCOPE_CUDA_KERNELS");
    const std::string family = v ? v : "";
    return hopperDevice && family != "single" && family != "pair";
}

// Which Hopper forward runs (forward-wgmma-specialized.cu or forward-wgmma.cu):
// ATTNSCOPE_CUDA_FORWARD=specialized or =synchronous for side-by-side benchmarks and tests; unset:
// the warp-specialized kernel, dense and block-sparse (faster for both on an H100, docs/performance.md;
// where it declines, the synchronous one runs).
inline bool useSpecializedForward() {
    const char* v = std::getenv("ATTNSCOPE_CUDA_FORWARD");
    return !(v && std::string(v) == "synchronous");
}

// Streaming multiprocessors of the current device (1 when it cannot be read), for persistent grids.
inline int multiprocessorCount() {
    int device = 0, count = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
        cudaGetLastError();
        return 1;
    }
    return count;
}

// Throws BackendError when the last launch failed (defined in cuda-check.cpp).
void checkLaunch(const char* what);

}  // namespace attnscope::cuda
