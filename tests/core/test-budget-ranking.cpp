// Entry budgets (budget-ranking.h) against the variants' own masks: for every budgeted variant and many
// budgets, a cell is kept by plan() exactly when its entry budget is <= the budget. Also the two row
// helpers the one-pass mask batch relies on: the radix row order equals std::sort with the top-k
// comparator, and the interval-built kept flags and kept key lists equal SparseMask::keeps. All heads are synthetic
// (random or small-integer q/k, so ties are frequent), with lengths that are not multiples of 64.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "attnscope/cpu-backend.h"
#include "attnscope/variant.h"
#include "brute-force-reference.h"
#include "cpu/masked-row.h"
#include "cpu/row-logits.h"
#include "cpu/row-order.h"
#include "test-helpers.h"

namespace attnscope {
namespace {

// Row i's visible keys sorted by the top-k total order (logit descending, key ascending), by std::sort.
std::vector<int32_t> sortedKeys(const std::vector<float>& logits, KeyRange range) {
    std::vector<int32_t> keys(range.size());
    std::iota(keys.begin(), keys.end(), range.begin);
    std::sort(keys.begin(), keys.end(), [&](int32_t a, int32_t b) {
        const float la = logits[a - range.begin], lb = logits[b - range.begin];
        return la > lb || (la == lb && a < b);
    });
    return keys;
}

struct Case {
    const char* name;
    HeadTensors head;
};

std::vector<Case> cases() {
    std::vector<Case> out;
    out.push_back({"random causal T=75", testing::randomHead(75, 8, 8, true, 3, 1.5f)});
    out.push_back({"random bidirectional T=130", testing::randomHead(130, 8, 8, false, 4, 1.5f)});
    out.push_back({"random causal native window 40, T=101", testing::randomHead(101, 8, 8, true, 5, 1.5f, 40)});
    out.push_back({"random bidirectional native window 30, T=90", testing::randomHead(90, 8, 8, false, 6, 1.5f, 30)});
    out.push_back({"integer ties causal T=97", testing::integerHead(97, 4, true, 7, 1)});
    out.push_back({"integer ties bidirectional T=70", testing::integerHead(70, 4, false, 8, 1)});
    return out;
}

TEST(BudgetRanking, EntryBudgetsAgreeWithPlannedMasks) {
    CpuBackend backend(2);
    struct VariantCase {
        const char* id;
        ParamValues given;
    };
    const std::vector<VariantCase> variants = {
        {"window", {}},         {"streaming-llm", {}},          {"streaming-llm", {{"sinks", 0}}},
        {"streaming-llm", {{"sinks", 9}}}, {"topk", {}},        {"moba", {{"block", 16}}},
        {"moba", {{"block", 13}}},         {"moba", {{"block", 64}}}};
    for (const Case& c : cases()) {
        const HeadTensors& head = c.head;
        const int T = head.seqLen;
        for (const VariantCase& vc : variants) {
            const Variant& v = *findVariant(vc.id);
            const ParamValues base = resolveParams(v, vc.given);
            const std::optional<BudgetRanking> ranking = v.budgetRanking(head, base, backend);
            ASSERT_TRUE(ranking.has_value()) << vc.id;
            // Entries of every visible cell, row by row.
            std::vector<int32_t> entries(static_cast<size_t>(T) * T, kNeverKept);
            std::vector<std::vector<float>> logits(T, std::vector<float>(T));
            for (int i = 0; i < T; ++i) {
                const KeyRange range = visibleKeys(head.config, T, i);
                cpu::computeRowLogits(head, i, range, logits[i].data());
                const std::vector<int32_t> order = sortedKeys(logits[i], range);
                rowEntryBudgets(*ranking, i, range, order.data(), entries.data() + static_cast<size_t>(i) * T + range.begin);
                for (int j = range.begin; j < range.end; ++j) {
                    const int32_t e = entries[static_cast<size_t>(i) * T + j];
                    if (e == kNeverKept) continue;
                    ASSERT_GE(e, ranking->minBudget);
                    ASSERT_LE(e, ranking->maxEntry);
                }
            }
            for (long long b = ranking->minBudget; b <= ranking->maxEntry + 2; ++b) {
                ParamValues p = base;
                p[v.budgetParameter()] = static_cast<double>(b);
                const SparseMask mask = v.plan(head, p, backend).mask;
                long long mismatches = 0;
                for (int i = 0; i < T; ++i) {
                    const KeyRange range = visibleKeys(head.config, T, i);
                    for (int j = range.begin; j < range.end; ++j) {
                        const bool kept = mask.keeps(i, j, logits[i][j - range.begin]);
                        if (kept != (entries[static_cast<size_t>(i) * T + j] <= b)) ++mismatches;
                    }
                }
                EXPECT_EQ(mismatches, 0) << c.name << ", " << vc.id << " budget " << b;
            }
        }
    }
}

TEST(BudgetRanking, RadixRowOrderEqualsComparisonSort) {
    std::mt19937 rng(11);
    cpu::RowOrder sorter;
    const float inf = std::numeric_limits<float>::infinity();
    for (int trial = 0; trial < 200; ++trial) {
        const int n = 1 + static_cast<int>(rng() % 300);
        std::vector<float> logits(n);
        for (float& x : logits) {
            switch (rng() % 6) {
            case 0: x = static_cast<float>(static_cast<int>(rng() % 5) - 2); break;  // ties
            case 1: x = (rng() % 2) ? 0.0f : -0.0f; break;                          // signed zeros tie
            case 2: x = (rng() % 2) ? inf : -inf; break;
            default: x = std::ldexp(static_cast<float>(rng() % 100000) - 50000.0f, static_cast<int>(rng() % 40) - 30);
            }
        }
        const int first = static_cast<int>(rng() % 50);
        std::vector<int32_t> order(n);
        sorter.sort(logits.data(), n, first, order.data());
        EXPECT_EQ(order, sortedKeys(logits, {first, first + n})) << "trial " << trial;
    }
}

TEST(BudgetRanking, RowKeptSetsEqualPointwiseKeeps) {
    CpuBackend backend(2);
    for (const Case& c : cases()) {
        const HeadTensors& head = c.head;
        const int T = head.seqLen;
        std::vector<SparseMask> masks(7);
        masks[0].keepAll = true;
        masks[1].sinkTokens = 3;
        masks[1].windowSize = 7;
        masks[2].columns = {0, 5, 6, 40, T - 1};
        masks[2].windowSize = 2;
        masks[3].blockSize = 16;
        masks[3].blockRows = masks[3].blockCols = (T + 15) / 16;
        masks[3].blocks.resize(static_cast<size_t>(masks[3].blockRows) * masks[3].blockCols);
        for (size_t b = 0; b < masks[3].blocks.size(); ++b) masks[3].blocks[b] = (b * 7) % 3 == 0;
        std::vector<int32_t> keep(T);
        for (int i = 0; i < T; ++i) keep[i] = i % 9;  // 0 keeps nothing from the top-k part
        masks[4].rowTopK = backend.computeRowThresholds(head, keep);
        masks[5] = masks[3];
        masks[5].rowTopK = masks[4].rowTopK;
        masks[5].sinkTokens = 2;
        masks[6].columns = {2, 3, 3, 20, 21, 60};  // a repeated column, columns inside and outside the band
        masks[6].windowSize = 4;
        masks[6].sinkTokens = 1;
        std::vector<float> logits(T);
        std::vector<uint8_t> flags(T), scratch(T);
        std::vector<int32_t> keys(T);
        std::vector<KeyRange> intervals;
        for (size_t m = 0; m < masks.size(); ++m)
            for (int i = 0; i < T; ++i) {
                const KeyRange range = visibleKeys(head.config, T, i);
                cpu::computeRowLogits(head, i, range, logits.data());
                cpu::maskRowFlags(masks[m], i, range, logits.data(), flags.data());
                std::vector<int32_t> expected;
                for (int j = range.begin; j < range.end; ++j) {
                    const bool kept = masks[m].keeps(i, j, logits[j - range.begin]);
                    ASSERT_EQ(flags[j - range.begin] != 0, kept) << c.name << ", mask " << m << ", cell " << i << "," << j;
                    if (kept) expected.push_back(j - range.begin);
                }
                const int count = cpu::maskRowKeys(masks[m], i, range, logits.data(), scratch, intervals, keys.data());
                ASSERT_EQ(std::vector<int32_t>(keys.begin(), keys.begin() + count), expected) << c.name << ", mask " << m << ", row " << i;
            }
    }
}

}  // namespace
}  // namespace attnscope
