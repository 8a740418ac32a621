// The CUDA backend (kernels/): the Backend interface on an NVIDIA GPU (sm_90+), tested against the
// exact CpuBackend. registerCudaBackend() adds it to core's registry as "cuda" (the CLI and GUI call
// it under #ifdef ATTNSCOPE_WITH_CUDA); createBackend("auto") then prefers it when probe() is empty.
#pragma once

#include <memory>
#include <string>

#include "attnscope/backend.h"

namespace attnscope {

// Registers the "cuda" BackendFactory. Safe to call more than once.
void registerCudaBackend();

// Empty when a GPU is usable, else the reason in plain words (driver missing or too old, stub
// driver library, no device, compute capability below 9.0, no free memory).
std::string probeCudaDevice();

// The backend on device 0; throws BackendError with probeCudaDevice()'s reason when unusable.
std::unique_ptr<Backend> createCudaBackend();

}  // namespace attnscope
