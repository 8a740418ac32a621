// Helpers of the Backend-level GPU benchmarks: wall-clock timing and a seeded synthetic head
// (random values that bf16 holds exactly; for timing only, not real activations).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <vector>

#include "attnscope/head-tensors.h"

namespace attnscope::bench {

inline double millisecondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Median wall time of `reps` calls of f, in ms.
template <class F>
double medianMs(int reps, F&& f) {
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        t.push_back(millisecondsSince(t0));
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

// One causal head of T tokens and head dim d, bf16 storage, values k / 64 for k in [-127, 127].
inline HeadTensors syntheticBf16Head(int T, int d, unsigned seed) {
    HeadTensors head;
    head.seqLen = T;
    head.headDim = head.valueDim = d;
    head.storage = StorageType::BFloat16;
    head.config.causal = true;
    head.config.softmaxScale = 1.0f / std::sqrt(static_cast<float>(d));
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> integer(-127, 127);
    for (auto* v : {&head.q, &head.k, &head.v}) {
        v->resize(static_cast<size_t>(T) * d);
        for (float& x : *v) x = static_cast<float>(integer(rng)) / 64.0f;
    }
    return head;
}

}  // namespace attnscope::bench
