// Dense statistics shared between whole-model analyses: `attnscope-cli report` runs the sink, sensitivity
// and eviction analyses over the same heads, and each would otherwise compute every head's dense statistics
// again. The cache keeps them per (layer, query head) up to a byte budget. One cache serves one model
// (one HeadSource) and one backend; it is not thread-safe (the analyses visit heads one at a time).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <utility>

#include "attnscope/backend.h"

namespace attnscope::analysis {

class DenseStatisticsCache {
public:
    static constexpr size_t kDefaultBudgetBytes = size_t{512} << 20;

    explicit DenseStatisticsCache(size_t budgetBytes = kDefaultBudgetBytes) : m_budgetBytes(budgetBytes) {}

    // The head's statistics with every product of the default StatisticsRequest (row max, LSE, entropy,
    // output, column sums, block grid), a superset of what each analysis asks for, so one entry serves
    // them all. Computed by `backend` on a miss and kept when it fits the budget; `tensors` must be the
    // head (layer, head) of the cache's model (a stored entry of another length or value dim throws).
    std::shared_ptr<const HeadStatistics> get(int layer, int head, const HeadTensors& tensors, Backend& backend,
                                              JobControl* job = nullptr);

    size_t budgetBytes() const { return m_budgetBytes; }
    size_t usedBytes() const { return m_usedBytes; }
    size_t entryCount() const { return m_entries.size(); }
    bool contains(int layer, int head) const { return m_entries.count({layer, head}) > 0; }
    long long hits() const { return m_hits; }
    long long misses() const { return m_misses; }

    // Heap bytes an entry is charged: the struct plus its vectors' capacities.
    static size_t entryBytes(const HeadStatistics& stats);

private:
    using Key = std::pair<int, int>;  // (layer, query head), ordered layer-major
    struct Entry {
        std::shared_ptr<const HeadStatistics> stats;
        size_t bytes = 0;
    };

    void insert(Key key, std::shared_ptr<const HeadStatistics> stats);

    size_t m_budgetBytes;
    size_t m_usedBytes = 0;
    std::map<Key, Entry> m_entries;
    long long m_hits = 0;
    long long m_misses = 0;
};

// The statistics an analysis computes for one head: the cache's entry when `cache` is set (a superset of
// `request`, every field computed exactly as `request` alone would), else backend.computeStatistics(head,
// request) as without a cache.
std::shared_ptr<const HeadStatistics> denseStatistics(DenseStatisticsCache* cache, int layer, int head,
                                                      const HeadTensors& tensors, Backend& backend,
                                                      const StatisticsRequest& request, JobControl* job = nullptr);

}  // namespace attnscope::analysis
