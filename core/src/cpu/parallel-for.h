// The parallel loop moved to the public attnscope/parallel-for.h (the capture reader and the CUDA
// backend's host staging use it too); the CPU backend keeps calling it as cpu::parallelFor.
#pragma once

#include "attnscope/parallel-for.h"

namespace attnscope::cpu {

using attnscope::parallelFor;

}  // namespace attnscope::cpu
