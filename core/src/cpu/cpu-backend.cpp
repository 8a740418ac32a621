// CpuBackend construction: thread count from the argument, ATTNSCOPE_THREADS, or the hardware.
#include <cstdlib>
#include <string>
#include <thread>

#include "attnscope/cpu-backend.h"

namespace attnscope {

namespace {

int defaultThreadCount() {
    if (const char* env = std::getenv("ATTNSCOPE_THREADS")) {
        const int n = std::atoi(env);
        if (n > 0) return n;
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return hw > 0 ? static_cast<int>(hw) : 1;
}

}  // namespace

CpuBackend::CpuBackend(int threads) : m_threads(threads > 0 ? threads : defaultThreadCount()) {}

std::string CpuBackend::name() const {
    return "CPU (" + std::to_string(m_threads) + (m_threads == 1 ? " thread)" : " threads)");
}

}  // namespace attnscope
