// What a variant keeps and how it weights what it keeps. A SparseMask is a union of simple
// components (sink columns, a band, a block map, explicit columns, per-row top-k), always
// intersected with the model's own mask. The representation costs O(T) or O(blocks), never T x T,
// and every cell's membership is a pointwise test, so CPU and GPU evaluate identical masks.
#pragma once

#include <cstdint>
#include <vector>

#include "attnscope/attention-mask.h"

namespace attnscope {

// Per-row top-k as a threshold in the total order (logit descending, key index ascending): key j
// is kept iff logit > thresholdLogit, or logit == thresholdLogit and j <= thresholdKey.
// thresholdKey = -1 with thresholdLogit = +inf keeps nothing; = INT32_MAX with -inf keeps all.
struct RowThreshold {
    float thresholdLogit = 0.0f;
    int32_t thresholdKey = 0;
};

struct SparseMask {
    bool keepAll = false;       // dense: everything the model's mask allows
    int sinkTokens = 0;         // keys j < sinkTokens
    int windowSize = 0;         // band: 0 <= i - j < windowSize (causal) or |i - j| < windowSize
    int blockSize = 0;          // > 0 enables the block map
    int blockRows = 0;          // ceil(T / blockSize)
    int blockCols = 0;
    std::vector<uint8_t> blocks;       // [blockRows, blockCols], 1 = keep the whole block
    std::vector<int32_t> columns;      // sorted keys kept for every query (KV-eviction style)
    std::vector<RowThreshold> rowTopK; // [T] when non-empty

    // Membership of a visible cell (the caller checks visibility under the model's mask).
    bool keeps(int i, int j, float logit) const;
    // Whether the mask can be evaluated without logits (all but the top-k component).
    bool isStructural() const { return rowTopK.empty(); }
};

enum class WeightKind {
    SoftmaxInMask,   // softmax renormalized over the kept cells
    LinearEluPlusOne // linear attention, phi(x) = elu(x) + 1: w_ij = phi(q_i).phi(k_j) / sum_j' phi(q_i).phi(k_j')
};

const char* weightKindName(WeightKind kind);

struct VariantPlan {
    SparseMask mask;
    WeightKind weights = WeightKind::SoftmaxInMask;
};

}  // namespace attnscope
