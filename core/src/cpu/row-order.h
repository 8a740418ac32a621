// A row's visible keys in the total order of top-k (logit descending, key ascending; cpu-topk.cpp),
// by a stable LSD radix sort on the logits' bit patterns: O(n) per row where std::sort is O(n log n),
// which matters when every row of a head needs its full order (topk entry budgets, oracle masses).
#pragma once

#include <cstdint>
#include <vector>

namespace attnscope::cpu {

class RowOrder {
public:
    // order[r] = the key of rank r among keys firstKey .. firstKey + n - 1 with logits[0 .. n).
    // Logits must not be NaN; -0 and +0 tie, as they compare equal.
    void sort(const float* logits, int n, int firstKey, int32_t* order);

private:
    std::vector<uint64_t> m_items, m_swap;  // (order key << 32) | position
};

}  // namespace attnscope::cpu
