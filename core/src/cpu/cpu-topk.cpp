// Per-row top-k: explicit lists for small k (tables, hover readouts) and the O(T) threshold form
// used as the oracle top-k mask. Both use one total order, logit descending then key ascending,
// so ties are resolved identically everywhere.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "attnscope/cpu-backend.h"
#include "cpu/parallel-for.h"
#include "cpu/row-logits.h"

namespace attnscope {

namespace {

struct ScoredKey {
    float logit;
    int32_t key;
};

bool ranksBefore(const ScoredKey& a, const ScoredKey& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.key < b.key);
}

// Fills `keys` with row i's visible keys and their logits.
void scoreRow(const HeadTensors& head, int i, std::vector<float>& logits, std::vector<ScoredKey>& keys) {
    const KeyRange range = visibleKeys(head.config, head.seqLen, i);
    cpu::computeRowLogits(head, i, range, logits.data());
    keys.resize(range.size());
    for (int t = 0; t < range.size(); ++t) keys[t] = {logits[t], range.begin + t};
}

constexpr int kRowsPerTask = 64;

}  // namespace

RowTopK CpuBackend::computeRowTopK(const HeadTensors& head, const HeadStatistics& dense, int k, JobControl* job) {
    validateHeadTensors(head);
    if (k < 1) throw std::invalid_argument("top-k: k must be >= 1, got " + std::to_string(k));
    if (static_cast<int>(dense.rowLse.size()) != head.seqLen)
        throw std::invalid_argument("top-k: dense statistics must hold the row LSE of this head");
    const int T = head.seqLen;
    RowTopK result;
    result.k = k;
    result.indices.assign(static_cast<size_t>(T) * k, -1);
    result.weights.assign(static_cast<size_t>(T) * k, 0.0f);
    const int tasks = (T + kRowsPerTask - 1) / kRowsPerTask;
    const int workers = std::max(1, std::min(m_threads, tasks));
    std::vector<std::vector<float>> logitBuffers(workers, std::vector<float>(T));
    std::vector<std::vector<ScoredKey>> keyBuffers(workers);
    cpu::parallelFor(workers, tasks, [&](int worker, int task) {
        throwIfCancelled(job);
        for (int i = task * kRowsPerTask; i < std::min(T, (task + 1) * kRowsPerTask); ++i) {
            std::vector<ScoredKey>& keys = keyBuffers[worker];
            scoreRow(head, i, logitBuffers[worker], keys);
            const int n = std::min<int>(k, static_cast<int>(keys.size()));
            std::partial_sort(keys.begin(), keys.begin() + n, keys.end(), ranksBefore);
            for (int r = 0; r < n; ++r) {
                result.indices[static_cast<size_t>(i) * k + r] = keys[r].key;
                result.weights[static_cast<size_t>(i) * k + r] =
                    static_cast<float>(std::exp(static_cast<double>(keys[r].logit) - dense.rowLse[i]));
            }
        }
    });
    return result;
}

std::vector<RowThreshold> CpuBackend::computeRowThresholds(const HeadTensors& head, const std::vector<int32_t>& keep,
                                                           JobControl* job) {
    validateHeadTensors(head);
    const int T = head.seqLen;
    if (static_cast<int>(keep.size()) != T)
        throw std::invalid_argument("row thresholds: keep must hold one budget per row (" + std::to_string(T) + "), got " +
                                    std::to_string(keep.size()));
    std::vector<RowThreshold> thresholds(T);
    const int tasks = (T + kRowsPerTask - 1) / kRowsPerTask;
    const int workers = std::max(1, std::min(m_threads, tasks));
    std::vector<std::vector<float>> logitBuffers(workers, std::vector<float>(T));
    std::vector<std::vector<ScoredKey>> keyBuffers(workers);
    cpu::parallelFor(workers, tasks, [&](int worker, int task) {
        throwIfCancelled(job);
        for (int i = task * kRowsPerTask; i < std::min(T, (task + 1) * kRowsPerTask); ++i) {
            const int visible = visibleKeys(head.config, T, i).size();
            if (keep[i] <= 0) {
                thresholds[i] = {std::numeric_limits<float>::infinity(), -1};
                continue;
            }
            if (keep[i] >= visible) {
                thresholds[i] = {-std::numeric_limits<float>::infinity(), std::numeric_limits<int32_t>::max()};
                continue;
            }
            std::vector<ScoredKey>& keys = keyBuffers[worker];
            scoreRow(head, i, logitBuffers[worker], keys);
            std::nth_element(keys.begin(), keys.begin() + (keep[i] - 1), keys.end(), ranksBefore);
            thresholds[i] = {keys[keep[i] - 1].logit, keys[keep[i] - 1].key};
        }
    });
    return thresholds;
}

}  // namespace attnscope
