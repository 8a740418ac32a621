// Per-head products of the dense (softmax) attention: row statistics, output, attention received
// and the 64x64 block grid the map pyramid is built from. Produced by Backend::computeStatistics.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace attnscope {

constexpr int kStatisticsBlockSize = 64;

// Sum and max of the attention probabilities over each blockSize x blockSize cell block.
// Layout [rows, cols] row-major; rows = ceil(T / blockSize) query blocks, cols likewise for keys.
// Blocks with no visible cell hold sum 0 and max 0.
struct BlockGrid {
    int blockSize = kStatisticsBlockSize;
    int rows = 0;
    int cols = 0;
    std::vector<double> sum;
    std::vector<float> max;

    size_t index(int r, int c) const { return static_cast<size_t>(r) * cols + c; }
};

struct HeadStatistics {
    int seqLen = 0;
    int valueDim = 0;
    std::vector<float> rowMax;       // [T] max scaled logit over visible keys
    std::vector<double> rowLse;      // [T] natural-log sum of exp of scaled logits (the softmax normalizer)
    std::vector<double> rowEntropy;  // [T] entropy of the row's attention distribution, in nats
    std::vector<float> output;       // [T, valueDim] O = softmax(S) V
    std::vector<double> columnSums;  // [T] attention received by each key, summed over queries
    BlockGrid blocks;
};

// Which products to compute; the forward-only path skips column sums and blocks.
struct StatisticsRequest {
    bool output = true;
    bool columnSums = true;
    bool blocks = true;
};

// Per-row top-k keys by attention weight (equivalently by logit), ties broken by lower key index.
// Rows with fewer than k visible keys pad with index -1 and weight 0.
struct RowTopK {
    int k = 0;
    std::vector<int32_t> indices;  // [T, k], descending weight
    std::vector<float> weights;    // [T, k] softmax probabilities
};

}  // namespace attnscope
