// Shared-memory mbarriers (sm_90): split arrive/wait barriers with a phase bit, so that warpgroups
// of one CTA can hand buffers to each other (full: data landed; empty: every reader is done)
// without stopping the whole CTA at __syncthreads. A barrier completes a phase when `count`
// arrivals have happened; waiters name the phase by its parity (0, 1, 0, ...).
#pragma once

#include <cstdint>

#include "warp-math.cuh"

namespace attnscope::cuda {

// One thread initializes; a __syncthreads must follow before any other thread uses the barrier.
__device__ __forceinline__ void mbarrierInit(uint64_t* bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(sharedAddress(bar)), "r"(count) : "memory");
}

// Arrive with release semantics: this thread's earlier shared-memory writes are visible to threads
// that observe the phase completing.
__device__ __forceinline__ void mbarrierArrive(uint64_t* bar) {
    asm volatile("{\n.reg .b64 state;\nmbarrier.arrive.shared::cta.b64 state, [%0];\n}\n" ::"r"(sharedAddress(bar))
                 : "memory");
}

// Waits (acquire) until the phase with the given parity has completed.
__device__ __forceinline__ void mbarrierWait(uint64_t* bar, uint32_t parity) {
    asm volatile(
        "{\n.reg .pred done;\nwait_%=:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
        "@!done bra wait_%=;\n}\n" ::"r"(sharedAddress(bar)),
        "r"(parity)
        : "memory");
}

}  // namespace attnscope::cuda
