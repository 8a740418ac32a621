// Minimal dynamic-scheduling parallel loop for the CPU backend. Tasks are taken from an atomic
// counter (causal rows are uneven in cost); the first exception stops the loop and is rethrown on
// the calling thread, so JobCancelled and errors surface where the caller can handle them.
#pragma once

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace attnscope::cpu {

// fn(worker, task) for task in [0, taskCount); worker in [0, threads) identifies per-thread scratch.
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
        for (int w = 1; w < threads; ++w) pool.emplace_back(work, w);
        work(0);
        for (std::thread& t : pool) t.join();
    }
    if (firstError) std::rethrow_exception(firstError);
}

}  // namespace attnscope::cpu
