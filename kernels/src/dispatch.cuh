// Runtime (element type, head dim) to template dispatch for the launchers.
#pragma once

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "launchers.h"

namespace attnscope::cuda {

template <class F>
void dispatchHeadDim(int D, F&& f) {
    switch (D) {
        case 32: f.template operator()<32>(); break;
        case 48: f.template operator()<48>(); break;
        case 64: f.template operator()<64>(); break;
        case 80: f.template operator()<80>(); break;
        case 96: f.template operator()<96>(); break;
        case 112: f.template operator()<112>(); break;
        case 128: f.template operator()<128>(); break;
        default: throw std::invalid_argument("CUDA kernels: unsupported padded head dim " + std::to_string(D));
    }
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

// ATTNSCOPE_CUDA_KERNELS=single selects the one-m16-tile-per-warp forward and statistics kernels
// instead of the two-tile ones (for side-by-side benchmarks).
inline bool useSingleTileKernels() {
    const char* v = std::getenv("ATTNSCOPE_CUDA_KERNELS");
    return v && std::string(v) == "single";
}

// Throws BackendError when the last launch failed (defined in cuda-check.cpp).
void checkLaunch(const char* what);

}  // namespace attnscope::cuda
