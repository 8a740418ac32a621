// Dense attention statistics in one pass over 64-row query blocks: for each row the logits of its
// visible keys, then max, LSE, entropy, output and the row's contribution to column sums and to
// its block row. A query block is one task, so block sums need no locking; column sums go to
// per-worker fp64 buffers reduced at the end.
#include <algorithm>
#include <cmath>
#include <vector>

#include "attnscope/cpu-backend.h"
#include "cpu/parallel-for.h"
#include "cpu/row-logits.h"

namespace attnscope {

HeadStatistics CpuBackend::computeStatistics(const HeadTensors& head, const StatisticsRequest& request,
                                             JobControl* job) {
    validateHeadTensors(head);
    const int T = head.seqLen;
    const int dv = head.valueDim;
    const int B = kStatisticsBlockSize;
    const int blockRows = (T + B - 1) / B;

    HeadStatistics stats;
    stats.seqLen = T;
    stats.valueDim = dv;
    stats.rowMax.assign(T, 0.0f);
    stats.rowLse.assign(T, 0.0);
    stats.rowEntropy.assign(T, 0.0);
    if (request.output) stats.output.assign(static_cast<size_t>(T) * dv, 0.0f);
    if (request.blocks) {
        stats.blocks.blockSize = B;
        stats.blocks.rows = blockRows;
        stats.blocks.cols = blockRows;
        stats.blocks.sum.assign(static_cast<size_t>(blockRows) * blockRows, 0.0);
        stats.blocks.max.assign(static_cast<size_t>(blockRows) * blockRows, 0.0f);
    }

    // Column sums are added per stripe of consecutive query blocks, in row order, and the stripes in
    // stripe order: the result does not depend on the thread count or on scheduling (per-worker
    // partials did, in the last bits, and analyses that rank by attention received inherited that).
    // 64 stripes keep causal rows balanced on 16 threads; their partials cost 64 x T doubles.
    constexpr int kMaxStripes = 64;
    const int stripes = std::min(kMaxStripes, blockRows);
    const auto stripeBegin = [&](int stripe) {
        return static_cast<int>(static_cast<long long>(stripe) * blockRows / stripes);
    };
    const int workers = std::max(1, std::min(m_threads, stripes));
    std::vector<std::vector<double>> columnPartials(request.columnSums ? stripes : 0);
    for (auto& partial : columnPartials) partial.assign(T, 0.0);
    struct Scratch {
        std::vector<float> logits;
        std::vector<double> weights;
        std::vector<double> out;
    };
    std::vector<Scratch> scratch(workers);
    for (Scratch& s : scratch) {
        s.logits.resize(T);
        s.weights.resize(T);
        s.out.resize(dv);
    }
    std::atomic<int> doneBlocks{0};

    cpu::parallelFor(workers, stripes, [&](int worker, int stripe) {
        for (int qb = stripeBegin(stripe); qb < stripeBegin(stripe + 1); ++qb) {
            throwIfCancelled(job);
            Scratch& s = scratch[worker];
            for (int i = qb * B; i < std::min(T, (qb + 1) * B); ++i) {
                const KeyRange range = visibleKeys(head.config, T, i);
                const int n = range.size();
                cpu::computeRowLogits(head, i, range, s.logits.data());
                const float m = *std::max_element(s.logits.begin(), s.logits.begin() + n);
                double sumExp = 0.0;
                for (int t = 0; t < n; ++t) {
                    s.weights[t] = std::exp(static_cast<double>(s.logits[t]) - m);
                    sumExp += s.weights[t];
                }
                const double lse = m + std::log(sumExp);
                double weightedLogits = 0.0;
                for (int t = 0; t < n; ++t) {
                    s.weights[t] /= sumExp;
                    weightedLogits += s.weights[t] * s.logits[t];
                }
                stats.rowMax[i] = m;
                stats.rowLse[i] = lse;
                stats.rowEntropy[i] = std::max(0.0, lse - weightedLogits);

                if (request.output) {
                    std::fill(s.out.begin(), s.out.end(), 0.0);
                    cpu::accumulateWeightedRows(s.out.data(), s.weights.data(), head.valueRow(range.begin), n, dv);
                    float* o = stats.output.data() + static_cast<size_t>(i) * dv;
                    for (int c = 0; c < dv; ++c) o[c] = static_cast<float>(s.out[c]);
                }
                if (request.columnSums) {
                    double* col = columnPartials[stripe].data() + range.begin;
                    for (int t = 0; t < n; ++t) col[t] += s.weights[t];
                }
                if (request.blocks) {
                    double* blockSum = stats.blocks.sum.data() + static_cast<size_t>(qb) * blockRows;
                    float* blockMax = stats.blocks.max.data() + static_cast<size_t>(qb) * blockRows;
                    for (int t = 0; t < n; ++t) {
                        const int kb = (range.begin + t) / B;
                        blockSum[kb] += s.weights[t];
                        blockMax[kb] = std::max(blockMax[kb], static_cast<float>(s.weights[t]));
                    }
                }
            }
            reportProgress(job, "statistics", static_cast<double>(++doneBlocks) / blockRows);
        }
    });

    if (request.columnSums) {
        stats.columnSums.assign(T, 0.0);
        for (const auto& partial : columnPartials)
            for (int j = 0; j < T; ++j) stats.columnSums[j] += partial[j];
    }
    return stats;
}

}  // namespace attnscope
