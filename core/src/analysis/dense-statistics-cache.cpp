// See analysis/dense-statistics-cache.h.
#include "attnscope/analysis/dense-statistics-cache.h"

#include <iterator>
#include <stdexcept>
#include <string>

namespace attnscope::analysis {

namespace {

template <typename T>
size_t capacityBytes(const std::vector<T>& v) {
    return v.capacity() * sizeof(T);
}

}  // namespace

size_t DenseStatisticsCache::entryBytes(const HeadStatistics& s) {
    return sizeof(HeadStatistics) + capacityBytes(s.rowMax) + capacityBytes(s.rowLse) + capacityBytes(s.rowEntropy) +
           capacityBytes(s.output) + capacityBytes(s.columnSums) + capacityBytes(s.blocks.sum) +
           capacityBytes(s.blocks.max);
}

std::shared_ptr<const HeadStatistics> DenseStatisticsCache::get(int layer, int head, const HeadTensors& tensors,
                                                                Backend& backend, JobControl* job) {
    const auto found = m_entries.find({layer, head});
    if (found != m_entries.end()) {
        const HeadStatistics& s = *found->second.stats;
        if (s.seqLen != tensors.seqLen || s.valueDim != tensors.valueDim)
            throw std::invalid_argument("dense statistics cache: layer " + std::to_string(layer) + " head " +
                                        std::to_string(head) + " was cached for a head of another shape");
        ++m_hits;
        return found->second.stats;
    }
    ++m_misses;
    auto stats = std::make_shared<const HeadStatistics>(backend.computeStatistics(tensors, StatisticsRequest{}, job));
    insert({layer, head}, stats);
    return stats;
}

void DenseStatisticsCache::insert(Key key, std::shared_ptr<const HeadStatistics> stats) {
    // The analyses scan the heads in layer order, one pass after another. Least-recently-used would evict
    // each entry just before the next pass asks for it; keeping the lowest (layer, head) keys instead lets
    // every later pass hit all of them. So a new entry may displace only entries with higher keys, and is
    // not kept when even that leaves no room (or it alone exceeds the budget).
    const size_t bytes = entryBytes(*stats);
    size_t lowerBytes = 0;
    for (auto it = m_entries.begin(); it != m_entries.end() && it->first < key; ++it) lowerBytes += it->second.bytes;
    if (bytes > m_budgetBytes || lowerBytes > m_budgetBytes - bytes) return;
    while (m_usedBytes > m_budgetBytes - bytes) {  // the highest key goes first; stops at lowerBytes at the latest
        const auto last = std::prev(m_entries.end());
        m_usedBytes -= last->second.bytes;
        m_entries.erase(last);
    }
    m_usedBytes += bytes;
    m_entries.emplace(key, Entry{std::move(stats), bytes});
}

std::shared_ptr<const HeadStatistics> denseStatistics(DenseStatisticsCache* cache, int layer, int head,
                                                      const HeadTensors& tensors, Backend& backend,
                                                      const StatisticsRequest& request, JobControl* job) {
    if (cache) return cache->get(layer, head, tensors, backend, job);
    return std::make_shared<const HeadStatistics>(backend.computeStatistics(tensors, request, job));
}

}  // namespace attnscope::analysis
