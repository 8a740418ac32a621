// Brute-force attention in fp64 with the full T x T matrix materialized: the independent oracle
// the engine is tested against on small inputs (T up to a few hundred).
#pragma once

#include <cstdint>
#include <vector>

#include "attnscope/head-tensors.h"
#include "attnscope/sparse-mask.h"

namespace attnscope::testing {

struct BruteForceAttention {
    int seqLen = 0;
    int valueDim = 0;
    std::vector<uint8_t> visible;   // [T, T]
    std::vector<double> logits;     // [T, T] scaled (soft-capped) logits, 0 where not visible
    std::vector<double> probs;      // [T, T]
    std::vector<double> rowMax, rowLse, rowEntropy, columnSums;
    std::vector<double> output;     // [T, dv]
    double p(int i, int j) const { return probs[static_cast<size_t>(i) * seqLen + j]; }
    double s(int i, int j) const { return logits[static_cast<size_t>(i) * seqLen + j]; }
    bool vis(int i, int j) const { return visible[static_cast<size_t>(i) * seqLen + j] != 0; }
};

BruteForceAttention bruteForceAttention(const HeadTensors& head);

// Synthetic head with N(0, sigma^2) entries (seeded; for unit tests only, not real activations).
HeadTensors randomHead(int seqLen, int headDim, int valueDim, bool causal, uint64_t seed, float sigma = 1.0f,
                       int slidingWindow = 0, float softcap = 0.0f);

// Brute-force kept flag of a mask for cell (i, j), using the fp64 logit rounded to fp32 the way
// the engine sees it.
bool bruteKeeps(const SparseMask& mask, int i, int j, float logit);

}  // namespace attnscope::testing
