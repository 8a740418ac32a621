// Entry budgets of one row (see budget-ranking.h) and the default Variant::budgetRanking (none).
#include "attnscope/budget-ranking.h"

#include <algorithm>
#include <cstdlib>

#include "attnscope/variant.h"

namespace attnscope {

void rowEntryBudgets(const BudgetRanking& ranking, int i, KeyRange range, const int32_t* rowOrder, int32_t* out) {
    const int n = range.size();
    std::fill(out, out + n, kNeverKept);
    for (int j = range.begin; j < std::min(range.end, ranking.sinkTokens); ++j) out[j - range.begin] = ranking.minBudget;
    if (ranking.band)
        for (int t = 0; t < n; ++t) out[t] = std::min(out[t], static_cast<int32_t>(std::abs(i - (range.begin + t)) + 1));
    if (ranking.rowRank)
        for (int r = 0; r < n; ++r) {
            int32_t& e = out[rowOrder[r] - range.begin];
            e = std::min(e, static_cast<int32_t>(r + 1));
        }
    if (ranking.blockSize > 0) {
        const int32_t* row = ranking.blockEntry.data() + static_cast<size_t>(i / ranking.blockSize) * ranking.blockCount;
        for (int c = range.begin / ranking.blockSize; c * ranking.blockSize < range.end; ++c) {
            const int begin = std::max(range.begin, c * ranking.blockSize);
            const int end = std::min(range.end, (c + 1) * ranking.blockSize);
            for (int j = begin; j < end; ++j) out[j - range.begin] = std::min(out[j - range.begin], row[c]);
        }
    }
}

std::optional<BudgetRanking> Variant::budgetRanking(const HeadTensors&, const ParamValues&, Backend&) const {
    return std::nullopt;
}

}  // namespace attnscope
