// Shared pieces of the whole-model analyses (sinks, sensitivity, KV eviction): the head source the
// drivers read from (so core stays free of HDF5), visibility counts, exact attention rows and the
// evaluation of a kept key set, all through the Backend interface so the CUDA backend accelerates them.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "attnscope/backend.h"

namespace attnscope::analysis {

// (layer, query head) -> the head's Q/K/V. The CLI passes CaptureReader::loadHead; tests pass synthetic heads.
using HeadSource = std::function<HeadTensors(int layer, int head)>;

struct ModelShape {
    int numLayers = 0;
    int numHeads = 0;  // query heads per layer
};

// Number of queries i that see key j under the model's mask, per key. With minDistance > 0 only the "far"
// queries count: those with |i - j| >= minDistance (i - j >= minDistance for a causal model).
std::vector<int> queriesSeeingKey(const AttentionConfig& config, int seqLen, int minDistance = 0);

// u_j = mean over the queries i that see key j of 1 / n_i (n_i = keys query i sees): the attention key j
// would receive on average if every query attended uniformly. u_j = 1 / N_j with N_j the harmonic mean of
// n_i; for a bidirectional model without window N_j = T. With minDistance > 0 the mean runs over the far
// queries only (as in queriesSeeingKey); 0 for a key no such query sees.
std::vector<double> uniformReceivedBaseline(const AttentionConfig& config, int seqLen, int minDistance = 0);

// Dense attention probabilities of query rows [rowBegin, rowEnd) against all keys, [rows, T] row-major,
// 0 where a cell is not visible. Exact (one tile pixel per cell). `dense` must hold rowLse.
std::vector<float> denseAttentionRows(Backend& backend, const HeadTensors& head, const HeadStatistics& dense,
                                      int rowBegin, int rowEnd, JobControl* job = nullptr);

// Attention restricted to a kept key set (KV eviction): the backend evaluates a VariantPlan whose mask is
// columns = kept, and the metrics are taken over the observed query rows [observedBegin, T).
struct KeptSetMetrics {
    double retainedMass = 0.0;  // mean over observed rows of the dense mass on kept keys
    double outputError = 0.0;   // ||O_kept - O_dense||_F / ||O_dense||_F over observed rows
    int keptKeys = 0;
    int observedRows = 0;
};
KeptSetMetrics evaluateKeptSet(Backend& backend, const HeadTensors& head, const HeadStatistics& dense,
                               const std::vector<int32_t>& keptSorted, int observedBegin, JobControl* job = nullptr);

// Median of a copy of `values` (0 when empty).
double median(std::vector<double> values);

}  // namespace attnscope::analysis
