// Entry budgets of a nested mask family. For the budgeted variants (window, streaming-llm, topk, moba)
// the mask at budget b contains the mask at every smaller budget, so each cell (i, j) has a smallest
// budget at which it is kept, its *entry budget*: cell kept at b <=> entry(i, j) <= b. Knowing the
// entries, one pass over a head's cells gives the kept cells and the dense mass kept at every budget
// at once (Backend::evaluateMaskBatch), instead of one evaluation per budget.
//
// Like SparseMask, a ranking is data (a union of components, O(T) or O(blocks)), so every backend can
// build the entries itself. Variant::budgetRanking gives a variant's ranking; tests check it against
// the variant's plan() at many budgets.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "attnscope/attention-mask.h"

namespace attnscope {

// Entry of a cell no budget keeps.
constexpr int32_t kNeverKept = std::numeric_limits<int32_t>::max();

struct BudgetRanking {
    int32_t minBudget = 0;   // the budget parameter's lowest value
    int32_t maxEntry = 0;    // every finite entry lies in [minBudget, maxEntry]
    // The entry of a cell is the smallest entry any of these components gives it:
    int sinkTokens = 0;      // keys j < sinkTokens: minBudget (kept at every budget)
    bool band = false;       // |i - j| + 1: the first window |i - j| < w that covers the cell
    bool rowRank = false;    // 1 + the key's rank in its row's total order (logit descending, key ascending)
    int blockSize = 0;       // > 0: blockEntry[(i / blockSize) * blockCount + j / blockSize]
    int blockCount = 0;
    std::vector<int32_t> blockEntry;  // [blockCount, blockCount], kNeverKept for blocks never kept
};

// Entry budgets of row i's visible keys `range`: out[t] for key range.begin + t. `rowOrder` lists the
// row's visible keys in the total order (logit descending, key ascending); it is read only when
// ranking.rowRank is set and may be null otherwise.
void rowEntryBudgets(const BudgetRanking& ranking, int i, KeyRange range, const int32_t* rowOrder, int32_t* out);

}  // namespace attnscope
