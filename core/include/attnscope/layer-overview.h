// The whole-model overview (TARGETS.md): for every query head of a layer, the sink mass (mean
// attention to token 0), the mean row entropy and, for a set of masks, the dense attention mass each
// mask keeps (recall) and its kept cells. Computed a whole layer at a time, so a GPU backend can run
// every head of the layer in one launch instead of one Backend call per head and variant.
#pragma once

#include <string>
#include <vector>

#include "attnscope/head-tensors.h"
#include "attnscope/variant.h"

namespace attnscope {

// One layer's Q/K/V, all heads, row-major and contiguous (the capture's own layout):
//   q [qHeads, seqLen, headDim], k [kvHeads, seqLen, headDim], v [kvHeads, seqLen, valueDim].
// Query head h uses K/V head h / (qHeads / kvHeads) (GQA).
struct LayerTensors {
    int layer = -1;
    int qHeads = 0;
    int kvHeads = 0;
    int seqLen = 0;
    int headDim = 0;
    int valueDim = 0;
    std::vector<float> q;
    std::vector<float> k;
    std::vector<float> v;
    AttentionConfig config;
    StorageType storage = StorageType::Float32;

    // A copy of query head h with its K/V head, as the per-head Backend calls take it.
    HeadTensors head(int queryHead) const;
};

// Throws std::invalid_argument naming the first inconsistency.
void validateLayerTensors(const LayerTensors& layer);

// A variant's mask as a recipe every backend builds per head by itself (the union of the parts
// that are set, as in SparseMask). Variant::overviewMask gives it for the variants that have one.
struct OverviewMask {
    std::string label;        // the variant id, for tables
    bool keepAll = false;     // dense, linear attention (keeps every visible cell)
    int sinkTokens = 0;       // keys j < sinkTokens
    int windowSize = 0;       // |i - j| < windowSize
    int topK = 0;             // oracle per-row top-k: the k highest logits (ties: lower key)
    int gateBlock = 0;        // MoBA block gate: blocks of gateBlock tokens ranked by
    int gateTopK = 0;         //   mean(q block) . mean(k block), gateTopK best earlier blocks + own block
};

// The recipe of a registered variant with complete `params` (resolveParams): dense and linear-elu
// keep every cell, window, streaming-llm, topk and moba map to their parts. Throws ParamError for a
// variant without a recipe (adding a variant: docs/adding-a-variant.md).
OverviewMask overviewMaskFor(const Variant& variant, const ParamValues& params);

// The mask of one head, built with `backend` (top-k thresholds, the MoBA gate): what the default
// computeLayerOverview evaluates, and what tests compare overrides with.
SparseMask buildOverviewMask(const OverviewMask& recipe, const HeadTensors& head, Backend& backend);

struct HeadOverview {
    double sinkMass = 0.0;      // (1/T) sum_i A_i0
    double meanEntropy = 0.0;   // (1/T) sum_i H_i in nats
    std::vector<double> recall;           // per mask: (1/T) sum_i (dense mass of row i inside the mask)
    std::vector<long long> keptCells;     // per mask
    long long visibleCells = 0;
};

}  // namespace attnscope
