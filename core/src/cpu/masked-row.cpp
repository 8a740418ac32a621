// Input checks, per-row kept sets and row terms; see masked-row.h.
#include "cpu/masked-row.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "cpu/row-logits.h"

namespace attnscope::cpu {

void validateEvaluationInputs(const HeadTensors& head, const HeadStatistics& dense, const VariantPlan& plan) {
    validateHeadTensors(head);
    const size_t T = head.seqLen;
    if (dense.rowLse.size() != T || dense.output.size() != T * head.valueDim)
        throw std::invalid_argument("variant evaluation: dense statistics must hold row LSE and output of this head");
    const SparseMask& m = plan.mask;
    if (!m.rowTopK.empty() && m.rowTopK.size() != T)
        throw std::invalid_argument("variant plan: rowTopK must have one threshold per row");
    if (m.blockSize > 0) {
        const int n = (head.seqLen + m.blockSize - 1) / m.blockSize;
        if (m.blockRows != n || m.blockCols != n || m.blocks.size() != static_cast<size_t>(n) * n)
            throw std::invalid_argument("variant plan: block map must be ceil(T/blockSize) squared");
    }
    if (plan.weights == WeightKind::LinearEluPlusOne && !m.keepAll)
        throw std::invalid_argument("variant plan: linear weights are defined on the full mask only");
}

void maskRowFlags(const SparseMask& mask, int i, KeyRange range, const float* logits, uint8_t* kept) {
    const int n = range.size();
    if (mask.keepAll) {
        std::fill(kept, kept + n, uint8_t{1});
        return;
    }
    std::fill(kept, kept + n, uint8_t{0});
    auto keepKeys = [&](int begin, int end) {  // keys [begin, end) within the row's visible range
        for (int j = std::max(begin, range.begin); j < std::min(end, range.end); ++j) kept[j - range.begin] = 1;
    };
    keepKeys(0, mask.sinkTokens);
    if (mask.windowSize > 0) keepKeys(i - mask.windowSize + 1, i + mask.windowSize);
    if (mask.blockSize > 0) {
        const uint8_t* blocks = mask.blocks.data() + static_cast<size_t>(i / mask.blockSize) * mask.blockCols;
        for (int c = range.begin / mask.blockSize; c <= (range.end - 1) / mask.blockSize; ++c)
            if (blocks[c]) keepKeys(c * mask.blockSize, (c + 1) * mask.blockSize);
    }
    for (auto j = std::lower_bound(mask.columns.begin(), mask.columns.end(), range.begin);
         j != mask.columns.end() && *j < range.end; ++j)
        kept[*j - range.begin] = 1;
    if (!mask.rowTopK.empty()) {
        const RowThreshold& th = mask.rowTopK[i];
        for (int t = 0; t < n; ++t) {
            const float s = logits[t];
            if (s > th.thresholdLogit || (s == th.thresholdLogit && range.begin + t <= th.thresholdKey)) kept[t] = 1;
        }
    }
}

int maskRowKeys(const SparseMask& mask, int i, KeyRange range, const float* logits, std::vector<uint8_t>& flags,
                std::vector<KeyRange>& intervals, int32_t* keys) {
    const int n = range.size();
    int m = 0;
    if (mask.keepAll || !mask.rowTopK.empty()) {
        maskRowFlags(mask, i, range, logits, flags.data());
        for (int t = 0; t < n; ++t) {
            keys[m] = t;
            m += flags[t];
        }
        return m;
    }
    // Disjoint sorted intervals of sinks, band and blocks (clipped to the row), then merged with the columns.
    intervals.clear();
    auto add = [&](int b, int e) {
        b = std::max(b, range.begin);
        e = std::min(e, range.end);
        if (e > b) intervals.push_back({b, e});
    };
    add(0, mask.sinkTokens);
    if (mask.windowSize > 0) add(i - mask.windowSize + 1, i + mask.windowSize);
    if (mask.blockSize > 0) {
        const uint8_t* blocks = mask.blocks.data() + static_cast<size_t>(i / mask.blockSize) * mask.blockCols;
        for (int c = range.begin / mask.blockSize; c <= (range.end - 1) / mask.blockSize; ++c)
            if (blocks[c]) add(c * mask.blockSize, (c + 1) * mask.blockSize);
    }
    std::sort(intervals.begin(), intervals.end(), [](const KeyRange& a, const KeyRange& b) { return a.begin < b.begin; });
    auto column = std::lower_bound(mask.columns.begin(), mask.columns.end(), range.begin);
    const auto columnsEnd = std::lower_bound(column, mask.columns.end(), range.end);
    int next = range.begin;  // keys below are emitted
    auto emitColumnsBefore = [&](int limit) {
        for (; column != columnsEnd && *column < limit; ++column)
            if (*column >= next) {
                keys[m++] = *column - range.begin;
                next = *column + 1;
            }
    };
    for (const KeyRange& r : intervals) {
        emitColumnsBefore(r.begin);
        for (int j = std::max(r.begin, next); j < r.end; ++j) keys[m++] = j - range.begin;
        next = std::max(next, r.end);
    }
    emitColumnsBefore(range.end);
    return m;
}

RowTerms maskRowTerms(const RowContext& row, const int32_t* keys, int m, double* out) {
    const int n = row.range.size();
    const int dv = row.valueDim;
    RowTerms terms;
    terms.kept = m;
    float keptMax = -std::numeric_limits<float>::infinity();
    for (int r = 0; r < m; ++r) {
        terms.recall += row.dense[keys[r]];
        keptMax = std::max(keptMax, row.logits[keys[r]]);
        terms.intersection += row.rank[keys[r]] < m ? 1 : 0;  // |M_i and T_i|; used when 0 < m < n
    }

    std::fill(out, out + dv, 0.0);
    if (m > 0) {
        // exp(s - keptMax) = A_ij * exp(LSE_i - keptMax), as in evaluateVariant.
        const double sumExp = accumulateScaledRows(out, row.dense, std::exp(row.lse - keptMax), keys, row.values, m, dv);
        for (int c = 0; c < dv; ++c) out[c] /= sumExp;
    }
    for (int c = 0; c < dv; ++c) {
        const double diff = out[c] - row.denseOutput[c];
        terms.errorSq += diff * diff;
    }

    if (m == n) {
        terms.intersection = n;
        terms.oracleRecall = terms.recall;
    } else if (m > 0) {
        terms.oracleRecall = row.rankMass[m];
    }
    return terms;
}

}  // namespace attnscope::cpu
