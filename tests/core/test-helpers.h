// Small assertions shared by the core tests.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "attnscope/head-tensors.h"

namespace attnscope::testing {

// |actual - expected| <= rel * |expected| (+ a tiny absolute floor for exact zeros).
inline ::testing::AssertionResult closeRelative(double actual, double expected, double rel, double absFloor = 1e-300) {
    const double err = std::abs(actual - expected);
    if (err <= rel * std::abs(expected) + absFloor) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "actual " << actual << " expected " << expected << " rel err "
                                         << err / std::max(std::abs(expected), 1e-300);
}

// Head whose q/k entries are small integers, so every logit is exact in fp32 and fp64 alike and
// ties are frequent: the right input for top-k ordering tests (synthetic, unit tests only).
inline HeadTensors integerHead(int seqLen, int headDim, bool causal, uint64_t seed, int range = 2) {
    HeadTensors h;
    h.seqLen = seqLen;
    h.headDim = headDim;
    h.valueDim = headDim;
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> dist(-range, range);
    h.q.resize(static_cast<size_t>(seqLen) * headDim);
    h.k.resize(h.q.size());
    h.v.resize(h.q.size());
    for (float& x : h.q) x = static_cast<float>(dist(rng));
    for (float& x : h.k) x = static_cast<float>(dist(rng));
    for (float& x : h.v) x = static_cast<float>(dist(rng));
    h.config.causal = causal;
    h.config.softmaxScale = 0.5f;
    return h;
}

}  // namespace attnscope::testing
