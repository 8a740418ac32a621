// Attention sinks (docs/analyses.md "Sinks"). Sink_eps follows Gu et al., "When Attention Sink Emerges
// in Language Models: An Empirical View", ICLR 2025 (arXiv:2410.10781); non-initial sinks follow the
// secondary-sink reading of "On the Existence and Behaviour of Secondary Attention Sinks" and the
// later-token detector of ACT (Yu et al., arXiv:2406.15765), judged on far queries only (a sink draws
// attention from queries regardless of their distance, StreamingLLM, Xiao et al. arXiv:2309.17453); value
// drain follows "Active-Dormant Attention Heads" (Guo et al., arXiv:2410.13835).
#include "attnscope/analysis/sinks.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "attnscope/attention-mask.h"

namespace attnscope::analysis {

namespace {

double dot(const float* a, const float* b, int n) {
    double s = 0.0;
    for (int c = 0; c < n; ++c) s += static_cast<double>(a[c]) * b[c];
    return s;
}

// What the sink analysis reads: row LSE and column sums.
StatisticsRequest sinkStatisticsRequest() {
    StatisticsRequest request;
    request.output = false;
    request.blocks = false;
    return request;
}

}  // namespace

HeadSinkStats analyzeHeadSinks(const HeadTensors& head, Backend& backend, const SinkOptions& options, JobControl* job) {
    if (options.localWindow < 0) throw std::invalid_argument("sink analysis: the local window must be >= 0");
    return analyzeHeadSinks(head, backend.computeStatistics(head, sinkStatisticsRequest(), job), backend, options, job);
}

HeadSinkStats analyzeHeadSinks(const HeadTensors& head, const HeadStatistics& dense, Backend& backend,
                               const SinkOptions& options, JobControl* job) {
    if (options.localWindow < 0) throw std::invalid_argument("sink analysis: the local window must be >= 0");
    const int T = head.seqLen;
    HeadSinkStats s;
    s.layer = head.layer;
    s.head = head.queryHead;
    s.received = dense.columnSums;
    const std::vector<int> seen = queriesSeeingKey(head.config, T);
    s.meanReceived.assign(T, 0.0);
    for (int j = 0; j < T; ++j) s.meanReceived[j] = seen[j] > 0 ? s.received[j] / seen[j] : 0.0;
    s.token0Mean = s.meanReceived[0];
    s.topToken = static_cast<int>(std::max_element(s.meanReceived.begin(), s.meanReceived.end()) - s.meanReceived.begin());

    // Far column sums: the dense column sum minus the near band {(i, j) visible : |i - j| < w}, at most
    // T (2w - 1) cells, whose probabilities exp(s_ij - LSE_i) come from Q, K and the dense row LSE with the
    // engine's logit (scaledLogit: scale, softcap) and mask (visibleKeys: causal, native window).
    const int w = options.localWindow;
    s.localWindow = w;
    s.farReceived = s.received;
    if (w > 0) {
        std::vector<double> nearSum(T, 0.0);
        for (int i = 0; i < T; ++i) {
            if ((i & 255) == 0) throwIfCancelled(job);
            const KeyRange r = visibleKeys(head.config, T, i);
            const int begin = std::max(r.begin, i - w + 1), end = std::min(r.end, i + w);
            const double lse = dense.rowLse[i];
            for (int j = begin; j < end; ++j) {
                const double logit = scaledLogit(head.config, static_cast<float>(dot(head.queryRow(i), head.keyRow(j), head.headDim)));
                nearSum[j] += std::exp(logit - lse);
            }
        }
        for (int j = 0; j < T; ++j) s.farReceived[j] = std::max(0.0, s.received[j] - nearSum[j]);
    }
    const std::vector<int> far = queriesSeeingKey(head.config, T, w);
    s.farMeanReceived.assign(T, 0.0);
    for (int j = 0; j < T; ++j) {
        if (far[j] == 0) s.farReceived[j] = 0.0;  // only rounding is left when no far query sees j
        else s.farMeanReceived[j] = s.farReceived[j] / far[j];
    }

    std::vector<double> norms(T);
    for (int j = 0; j < T; ++j) norms[j] = std::sqrt(dot(head.valueRow(j), head.valueRow(j), head.valueDim));
    const double med = median(norms);
    s.valueNormRatio.resize(T);
    for (int j = 0; j < T; ++j) s.valueNormRatio[j] = med > 0.0 ? norms[j] / med : 0.0;

    // Key bias: the best competitor of key 0 is row top-1 unless top-1 is key 0, then top-2; its logit is
    // log(weight) + LSE. A competitor weight that underflows to 0 leaves the row out (gap beyond ~100 nats).
    const RowTopK top = backend.computeRowTopK(head, dense, 2, job);
    double sum = 0.0, sum2 = 0.0;
    int n = 0;
    for (int i = 0; i < T; ++i) {
        const KeyRange r = visibleKeys(head.config, T, i);
        if (!r.contains(0) || r.size() < 2) continue;
        const int32_t* idx = top.indices.data() + static_cast<size_t>(i) * 2;
        const float* w = top.weights.data() + static_cast<size_t>(i) * 2;
        const int pick = idx[0] == 0 ? 1 : 0;
        if (idx[pick] < 0 || !(w[pick] > 0.0f)) continue;
        const double competitor = std::log(static_cast<double>(w[pick])) + dense.rowLse[i];
        const double s0 = scaledLogit(head.config, static_cast<float>(dot(head.queryRow(i), head.keyRow(0), head.headDim)));
        const double g = s0 - competitor;
        sum += g;
        sum2 += g * g;
        ++n;
    }
    s.keyBiasRows = n;
    if (n > 0) {
        s.keyBiasGapMean = sum / n;
        s.keyBiasGapStd = std::sqrt(std::max(0.0, sum2 / n - s.keyBiasGapMean * s.keyBiasGapMean));
    }
    return s;
}

ModelSinkReport analyzeModelSinks(const ModelShape& shape, const HeadSource& source, Backend& backend,
                                  const SinkOptions& options, JobControl* job, DenseStatisticsCache* cache) {
    const int L = shape.numLayers, H = shape.numHeads;
    if (L <= 0 || H <= 0) throw std::invalid_argument("sink analysis needs at least one layer and one head");
    ModelSinkReport report;
    report.shape = shape;
    report.options = options;
    if (options.localWindow < 0) throw std::invalid_argument("sink analysis: the local window must be >= 0");
    int T = 0;
    int above = 0;
    for (int l = 0; l < L; ++l) {
        std::vector<double> baseline, farBaseline;
        std::vector<int> seen;
        for (int h = 0; h < H; ++h) {
            throwIfCancelled(job);
            const HeadTensors head = source(l, h);
            if (T == 0) {
                T = head.seqLen;
                report.seqLen = T;
                report.layerTokenReceived.assign(static_cast<size_t>(L) * T, 0.0);
                report.layerTokenReceivedRatio.assign(static_cast<size_t>(L) * T, 0.0);
                report.layerTokenFarQueries.assign(static_cast<size_t>(L) * T, 0);
                report.layerTokenFarReceived.assign(static_cast<size_t>(L) * T, 0.0);
                report.layerTokenFarRatio.assign(static_cast<size_t>(L) * T, 0.0);
                report.layerTokenValueNorm.assign(static_cast<size_t>(L) * T, 0.0);
            } else if (head.seqLen != T) {
                throw std::invalid_argument("sink analysis: heads of one model must share the sequence length");
            }
            if (h == 0) {
                baseline = uniformReceivedBaseline(head.config, T);
                seen = queriesSeeingKey(head.config, T);
                farBaseline = uniformReceivedBaseline(head.config, T, options.localWindow);
                const std::vector<int> far = queriesSeeingKey(head.config, T, options.localWindow);
                std::copy(far.begin(), far.end(), report.layerTokenFarQueries.begin() + static_cast<long>(l) * T);
            }
            const auto dense = denseStatistics(cache, l, h, head, backend, sinkStatisticsRequest());
            HeadSinkStats stats = analyzeHeadSinks(head, *dense, backend, options, nullptr);
            stats.layer = l;
            stats.head = h;
            if (stats.token0Mean > options.epsilon) ++above;
            for (int j = 0; j < T; ++j) {
                report.layerTokenReceived[static_cast<size_t>(l) * T + j] += stats.meanReceived[j] / H;
                report.layerTokenFarReceived[static_cast<size_t>(l) * T + j] += stats.farMeanReceived[j] / H;
                report.layerTokenValueNorm[static_cast<size_t>(l) * T + j] += stats.valueNormRatio[j] / H;
            }
            report.heads.push_back(std::move(stats));
            reportProgress(job, "sinks", static_cast<double>(l * H + h + 1) / (L * H));
        }
        for (int j = 0; j < T; ++j) {
            const size_t at = static_cast<size_t>(l) * T + j;
            if (seen[j] >= options.minQueries && baseline[j] > 0.0)
                report.layerTokenReceivedRatio[at] = report.layerTokenReceived[at] / baseline[j];
            if (report.layerTokenFarQueries[at] >= options.minQueries && farBaseline[j] > 0.0)
                report.layerTokenFarRatio[at] = report.layerTokenFarReceived[at] / farBaseline[j];
        }
    }
    report.sinkEpsilon = static_cast<double>(above) / (L * H);

    for (int j = 1; j < T; ++j) {
        NonInitialSink sink;
        sink.token = j;
        bool any = false;
        for (int l = 0; l < L; ++l) {
            const double ratio = report.layerTokenFarRatio[static_cast<size_t>(l) * T + j];
            if (ratio <= options.kappa) continue;
            if (!any) sink.firstLayer = l;
            any = true;
            sink.lastLayer = l;
            ++sink.layerCount;
            if (ratio > sink.peakRatio) {
                sink.peakRatio = ratio;
                sink.peakLayer = l;
                sink.farQueries = report.layerTokenFarQueries[static_cast<size_t>(l) * T + j];
            }
        }
        if (any) report.nonInitialSinks.push_back(sink);
    }
    std::sort(report.nonInitialSinks.begin(), report.nonInitialSinks.end(),
              [](const NonInitialSink& a, const NonInitialSink& b) { return a.peakRatio > b.peakRatio; });
    return report;
}

}  // namespace attnscope::analysis
