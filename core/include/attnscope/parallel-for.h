// Minimal dynamic-scheduling parallel loop, shared by the CPU backend, the capture reader's
// conversion and the CUDA backend's host-side staging. Tasks are taken from an atomic counter
// (uneven tasks balance themselves); the first exception stops the loop and is rethrown on the
// calling thread, so JobCancelled and errors surface where the caller can handle them. Threads are
// started per call (about 20-50 us each): give it tasks worth well over that.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace attnscope {

// std::thread::hardware_concurrency(), at least 1.
inline int hardwareThreads() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

// Threads worth using for `work` units of memory-bound work of which one thread should get at least
// `grain`: 1 for small inputs, at most min(hardwareThreads(), cap).
inline int threadsFor(size_t work, size_t grain, int cap = 16) {
    const size_t byWork = grain == 0 ? 1 : work / grain;
    const int limit = std::max(1, std::min(hardwareThreads(), cap));
    return static_cast<int>(std::max<size_t>(1, std::min<size_t>(byWork, static_cast<size_t>(limit))));
}

// fn(worker, task) for task in [0, taskCount); worker in [0, threads) identifies per-thread scratch.
// Worker 0 is the calling thread.
template <class Fn>
void parallelFor(int threads, int taskCount, Fn&& fn) {
    threads = std::max(1, std::min(threads, taskCount));
    std::atomic<int> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr firstError;
    std::mutex errorMutex;
    auto work = [&](int worker) {
        while (!failed.load(std::memory_order_relaxed)) {
            const int task = next.fetch_add(1);
            if (task >= taskCount) break;
            try {
                fn(worker, task);
            } catch (...) {
                std::lock_guard lock(errorMutex);
                if (!firstError) firstError = std::current_exception();
                failed.store(true);
            }
        }
    };
    if (threads == 1) {
        work(0);
    } else {
        std::vector<std::thread> pool;
        pool.reserve(threads - 1);
        try {
            for (int w = 1; w < threads; ++w) pool.emplace_back(work, w);
        } catch (const std::system_error&) {
            // No more threads to be had: the ones started (and this one) take every task.
        }
        work(0);
        for (std::thread& t : pool) t.join();
    }
    if (firstError) std::rethrow_exception(firstError);
}

}  // namespace attnscope
