// Token pruning / KV eviction replayed on captured Q/K/V: StreamingLLM, H2O, SnapKV, TOVA, KNorm, KeyDiff,
// PyramidKV, AdaKV, FastV and [CLS]-attention pruning. Each policy gives a kept key set per layer and
// head; the backend evaluates attention restricted to it (a VariantPlan with columns = kept set) on the
// observed queries. Prefill ("press") semantics as in NVIDIA KVPress; each policy cites its paper in
// kv-eviction-policies.cpp and docs/analyses.md "KV eviction".
#pragma once

#include <string>
#include <vector>

#include "attnscope/analysis/analysis-common.h"
#include "attnscope/analysis/dense-statistics-cache.h"

namespace attnscope::analysis {

enum class EvictionPolicy { StreamingLlm, H2O, SnapKV, Tova, KNorm, KeyDiff, PyramidKV, AdaKV, FastV, ClsAttention };

const std::vector<EvictionPolicy>& allEvictionPolicies();
const char* evictionPolicyId(EvictionPolicy policy);      // "streaming-llm", "h2o", "snapkv", ...
const char* evictionPolicyCitation(EvictionPolicy policy);
// Throws std::invalid_argument listing the known ids.
EvictionPolicy parseEvictionPolicy(const std::string& id);

struct EvictionOptions {
    int sinkTokens = 4;          // StreamingLLM sinks
    int observationWindow = 64;  // SnapKV / PyramidKV / AdaKV window (clipped to T / 4); also the observed queries
    int poolingKernel = 5;       // SnapKV 1D average pooling (odd; 1 = none)
    int pyramidBeta = 20;        // PyramidKV: smallest layer budget = (B - window) / beta
    double adaAlpha = 0.2;       // AdaKV safeguard: every head keeps at least floor(alpha * B) keys
    int fastvLayer = 2;          // FastV prunes after this layer (layers > K use the kept set)
    // Observed queries: the last `observedQueries` rows (0: SnapKV's observation window for causal models,
    // all rows for bidirectional ones). They stand in for the queries that will read the compressed cache.
    int observedQueries = 0;
};

struct HeadEviction {
    std::vector<int32_t> kept;  // sorted keys kept
    KeptSetMetrics metrics;
};

struct EvictionRun {
    EvictionPolicy policy = EvictionPolicy::StreamingLlm;
    int budget = 0;                               // keys kept per head (mean over layers for PyramidKV / heads for AdaKV)
    std::vector<int> layerBudget;                 // [L] per-head budget in each layer (PyramidKV varies it)
    std::vector<std::vector<HeadEviction>> heads; // [L][H]
    std::vector<double> survival;                 // [L, T] fraction of the layer's heads that keep token j
    double meanRetainedMass = 0.0;                // over all heads
    double meanOutputError = 0.0;
    bool perHead = false;                         // whether kept sets may differ between heads of a layer
};

struct EvictionReport {
    ModelShape shape;
    int seqLen = 0;
    int observedBegin = 0;  // observed queries are rows [observedBegin, T)
    EvictionOptions options;
    std::vector<EvictionRun> runs;  // policies x budgets, policy-major
};

// PyramidKV per-layer budgets (KVCache-Factory's arithmetic): with m = (B - w) / beta and M = 2 (B - w) - m
// (integer division), layer l keeps w + M - l * ((M - m) / (L - 1)); B <= w gives B in every layer.
std::vector<int> pyramidBudgets(int budget, int window, int layers, int beta);

// Runs every policy at every budget (keys per head, clamped to [1, T]), layer by layer: each layer's heads
// are loaded once and their dense statistics computed once, and each head's kept sets of every policy and
// budget are measured in one Backend::evaluateMaskBatch (the metrics of evaluateKeptSet). Throws
// std::invalid_argument for [CLS] pruning on a causal model (row 0 sees only itself). With `cache`, the
// dense statistics come from it (shared with the other analyses of the same model; same results).
EvictionReport analyzeEviction(const ModelShape& shape, const HeadSource& source, Backend& backend,
                               const std::vector<EvictionPolicy>& policies, const std::vector<int>& budgets,
                               const EvictionOptions& options = {}, JobControl* job = nullptr,
                               DenseStatisticsCache* cache = nullptr);

}  // namespace attnscope::analysis
