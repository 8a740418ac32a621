// See analysis/analysis-common.h. Every attention quantity comes from a Backend call; only O(T) or
// O(T * d) bookkeeping runs here.
#include "attnscope/analysis/analysis-common.h"

#include <algorithm>
#include <cmath>

#include "attnscope/attention-mask.h"
#include "attnscope/mask-batch.h"

namespace attnscope::analysis {

namespace {

// The keys query i sees at distance >= minDistance: at most two contiguous intervals, the one before the
// diagonal [begin, i - minDistance + 1) and, bidirectional only, the one after it [i + minDistance, end).
// minDistance <= 0 gives the whole visible range (as the first interval).
template <typename Visit>
void forFarKeyRanges(const AttentionConfig& config, int seqLen, int i, int minDistance, Visit&& visit) {
    const KeyRange r = visibleKeys(config, seqLen, i);
    if (minDistance <= 0) {
        if (r.size() > 0) visit(r, r.size());
        return;
    }
    const KeyRange before{r.begin, std::min(r.end, i - minDistance + 1)};
    const KeyRange after{std::max(r.begin, i + minDistance), r.end};
    if (before.size() > 0) visit(before, r.size());
    if (after.size() > 0) visit(after, r.size());
}

}  // namespace

std::vector<int> queriesSeeingKey(const AttentionConfig& config, int seqLen, int minDistance) {
    // Each query sees one or two contiguous intervals: a difference array gives the counts in O(T).
    std::vector<int> diff(static_cast<size_t>(seqLen) + 1, 0);
    for (int i = 0; i < seqLen; ++i)
        forFarKeyRanges(config, seqLen, i, minDistance, [&](KeyRange r, int) {
            diff[r.begin] += 1;
            diff[r.end] -= 1;
        });
    std::vector<int> counts(seqLen);
    int running = 0;
    for (int j = 0; j < seqLen; ++j) counts[j] = running += diff[j];
    return counts;
}

std::vector<double> uniformReceivedBaseline(const AttentionConfig& config, int seqLen, int minDistance) {
    std::vector<double> diff(static_cast<size_t>(seqLen) + 1, 0.0);
    for (int i = 0; i < seqLen; ++i)
        forFarKeyRanges(config, seqLen, i, minDistance, [&](KeyRange r, int visible) {
            const double w = 1.0 / std::max(1, visible);
            diff[r.begin] += w;
            diff[r.end] -= w;
        });
    const std::vector<int> counts = queriesSeeingKey(config, seqLen, minDistance);
    std::vector<double> u(seqLen, 0.0);
    double running = 0.0;
    for (int j = 0; j < seqLen; ++j) {
        running += diff[j];
        u[j] = counts[j] > 0 ? running / counts[j] : 0.0;
    }
    return u;
}

std::vector<float> denseAttentionRows(Backend& backend, const HeadTensors& head, const HeadStatistics& dense,
                                      int rowBegin, int rowEnd, JobControl* job) {
    const int T = head.seqLen;
    std::vector<float> rows;
    if (rowEnd <= rowBegin) return rows;
    rows.reserve(static_cast<size_t>(rowEnd - rowBegin) * T);
    // Tiles are limited in height, so long row ranges go in chunks; one pixel per cell keeps them exact.
    constexpr int kChunk = 1024;
    for (int r0 = rowBegin; r0 < rowEnd; r0 += kChunk) {
        TileRequest request;
        request.queryBegin = r0;
        request.queryEnd = std::min(rowEnd, r0 + kChunk);
        request.keyBegin = 0;
        request.keyEnd = T;
        request.width = T;
        request.height = request.queryEnd - request.queryBegin;
        request.quantity = TileQuantity::DenseWeight;
        const PooledTile tile = backend.computeTile(head, dense, request, nullptr, nullptr, job);
        for (float v : tile.values) rows.push_back(std::isnan(v) ? 0.0f : v);
    }
    return rows;
}

KeptSetMetrics evaluateKeptSet(Backend& backend, const HeadTensors& head, const HeadStatistics& dense,
                               const std::vector<int32_t>& keptSorted, int observedBegin, JobControl* job) {
    KeptSetMetrics m;
    m.keptKeys = static_cast<int>(keptSorted.size());
    m.observedRows = head.seqLen - std::clamp(observedBegin, 0, head.seqLen);
    const KeptKeyMetrics sums = evaluateKeptKeySet(backend, head, dense, keptSorted, observedBegin, job);
    m.retainedMass = sums.retainedMass;
    m.outputError = sums.outputError;
    return m;
}

double median(std::vector<double> values) {
    if (values.empty()) return 0.0;
    const size_t mid = values.size() / 2;
    std::nth_element(values.begin(), values.begin() + mid, values.end());
    double m = values[mid];
    if (values.size() % 2 == 0) m = 0.5 * (m + *std::max_element(values.begin(), values.begin() + mid));
    return m;
}

}  // namespace attnscope::analysis
