// Attention-sink analysis per head, per token and per model: attention received, mean attention to
// token 0, Sink_eps (Gu et al., "When Attention Sink Emerges in Language Models", arXiv:2410.10781),
// non-initial (secondary) sinks with their layer span (judged on the attention from far queries, so that
// local heads do not make sinks of the tokens next to them), value-norm drain and the key-bias test.
// Definitions: docs/analyses.md "Sinks".
#pragma once

#include <vector>

#include "attnscope/analysis/analysis-common.h"
#include "attnscope/analysis/dense-statistics-cache.h"

namespace attnscope::analysis {

struct SinkOptions {
    double epsilon = 0.3;  // Sink_eps threshold on a head's mean attention to token 0 (Gu et al.)
    double kappa = 5.0;    // a token j > 0 is a sink in a layer when its far-query ratio exceeds kappa
    // Locality correction: only queries at distance |i - j| >= localWindow (i - j for a causal model) judge
    // key j, so a head that attends to its last few tokens does not make sinks of them. 0 counts every query.
    int localWindow = 32;
    int minQueries = 16;   // tokens seen by fewer (far) queries are not judged (their mean rests on too few rows)
};

struct HeadSinkStats {
    int layer = -1;
    int head = -1;
    std::vector<double> received;      // [T] column sums: sum_i A_ij
    std::vector<double> meanReceived;  // [T] received / number of queries that see key j
    // Far queries only (|i - j| >= localWindow): far column sum = received minus the near band
    // sum_{i sees j, |i - j| < localWindow} A_ij, the band computed in fp64 from Q, K and the dense row LSE.
    int localWindow = 0;
    std::vector<double> farReceived;      // [T] sum over far queries i of A_ij (>= 0)
    std::vector<double> farMeanReceived;  // [T] farReceived / number of far queries of j (0 when none)
    double token0Mean = 0.0;           // meanReceived[0]: (1/|{i sees 0}|) sum_i A_i0
    int topToken = 0;                  // argmax_j meanReceived[j]
    std::vector<double> valueNormRatio;  // [T] ||v_j|| / median_j' ||v_j'||
    // Key-bias test: g_i = s_i0 - max_{j != 0, visible} s_ij (scaled logits) over rows that see key 0 and
    // at least one other key. A constant g (small std) means k_0 acts as a query-independent key bias.
    double keyBiasGapMean = 0.0;
    double keyBiasGapStd = 0.0;
    int keyBiasRows = 0;
};

// One head: dense statistics and top-2 rows from `backend`; value norms, q_i . k_0 and the near band
// (T x localWindow cells) directly (O(T d localWindow)). Uses options.localWindow only.
HeadSinkStats analyzeHeadSinks(const HeadTensors& head, Backend& backend, const SinkOptions& options = {},
                               JobControl* job = nullptr);
// The same with the head's dense statistics given (they must hold rowLse and columnSums).
HeadSinkStats analyzeHeadSinks(const HeadTensors& head, const HeadStatistics& dense, Backend& backend,
                               const SinkOptions& options = {}, JobControl* job = nullptr);

// A token j > 0 that is a sink in at least one layer: farRatio_{l,j} > kappa (see ModelSinkReport).
struct NonInitialSink {
    int token = 0;
    int firstLayer = 0;
    int lastLayer = 0;
    int layerCount = 0;  // layers in [firstLayer, lastLayer] where it is a sink
    double peakRatio = 0.0;  // the largest farRatio_{l,j} over layers
    int peakLayer = 0;
    int farQueries = 0;      // far queries of the token in the peak layer (the rows its ratio rests on)
};

struct ModelSinkReport {
    ModelShape shape;
    int seqLen = 0;
    SinkOptions options;
    std::vector<HeadSinkStats> heads;      // [L * H], layer-major
    double sinkEpsilon = 0.0;              // fraction of heads with token0Mean > epsilon
    // All queries (what the views show as attention received, not locality-corrected):
    // r_{l,j} = (1/H) sum_h meanReceived_{l,h}[j]; u_{l,j} = uniform baseline (uniformReceivedBaseline);
    // receivedRatio_{l,j} = r_{l,j} / u_{l,j}. Not used to judge sinks.
    std::vector<double> layerTokenReceived;       // [L, T]
    std::vector<double> layerTokenReceivedRatio;  // [L, T]; 0 for tokens seen by fewer than minQueries queries
    // Far queries only (|i - j| >= localWindow), the ratio that judges non-initial sinks:
    // f_{l,j} = (1/H) sum_h farMeanReceived_{l,h}[j]; u^far_{l,j} = uniformReceivedBaseline(.., localWindow);
    // farRatio_{l,j} = f_{l,j} / u^far_{l,j}: j > 0 is a sink in layer l when farRatio > kappa.
    std::vector<int> layerTokenFarQueries;        // [L, T] number of far queries of token j
    std::vector<double> layerTokenFarReceived;    // [L, T]
    std::vector<double> layerTokenFarRatio;       // [L, T]; 0 for tokens with fewer than minQueries far queries
    std::vector<double> layerTokenValueNorm;      // [L, T] head mean of valueNormRatio
    std::vector<NonInitialSink> nonInitialSinks;  // sorted by peak ratio, descending
    const HeadSinkStats& at(int layer, int head) const { return heads[static_cast<size_t>(layer) * shape.numHeads + head]; }
};

// Whole model, head by head from `source`; reports "sinks" progress per head. With `cache`, each head's
// dense statistics come from it (shared with the other analyses of the same model; same results).
ModelSinkReport analyzeModelSinks(const ModelShape& shape, const HeadSource& source, Backend& backend,
                                  const SinkOptions& options = {}, JobControl* job = nullptr,
                                  DenseStatisticsCache* cache = nullptr);

}  // namespace attnscope::analysis
