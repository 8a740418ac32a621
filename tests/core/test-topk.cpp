// Per-row top-k lists and thresholds against sorting the brute-force logits, ties included.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "attnscope/cpu-backend.h"
#include "brute-force-reference.h"
#include "test-helpers.h"

namespace attnscope {
namespace {

using testing::bruteForceAttention;

// Visible keys of row i sorted by (logit desc, key asc).
std::vector<int> bruteOrder(const testing::BruteForceAttention& ref, int i) {
    std::vector<int> keys;
    for (int j = 0; j < ref.seqLen; ++j)
        if (ref.vis(i, j)) keys.push_back(j);
    std::stable_sort(keys.begin(), keys.end(), [&](int a, int b) { return ref.s(i, a) > ref.s(i, b); });
    return keys;
}

TEST(TopK, ListsMatchSortedBruteForceWithTies) {
    for (bool causal : {true, false}) {
        const HeadTensors head = testing::integerHead(150, 8, causal, 21);
        CpuBackend backend(2);
        const HeadStatistics stats = backend.computeStatistics(head, {});
        const auto ref = bruteForceAttention(head);
        const RowTopK top = backend.computeRowTopK(head, stats, 10);
        for (int i = 0; i < 150; ++i) {
            const std::vector<int> order = bruteOrder(ref, i);
            for (int r = 0; r < 10; ++r) {
                const int expected = r < static_cast<int>(order.size()) ? order[r] : -1;
                ASSERT_EQ(top.indices[static_cast<size_t>(i) * 10 + r], expected) << "row " << i << " rank " << r;
                const double w = expected < 0 ? 0.0 : ref.p(i, expected);
                ASSERT_NEAR(top.weights[static_cast<size_t>(i) * 10 + r], w, 1e-6 * std::max(w, 1.0));
            }
        }
    }
}

TEST(TopK, ThresholdsKeepExactlyTheTopKeys) {
    const HeadTensors head = testing::integerHead(120, 4, true, 22);  // few distinct logits: many ties
    CpuBackend backend(2);
    const auto ref = bruteForceAttention(head);
    std::vector<int32_t> keep(120);
    for (int i = 0; i < 120; ++i) keep[i] = (i * 7) % 30;  // includes 0 and budgets above the visible count
    const std::vector<RowThreshold> thresholds = backend.computeRowThresholds(head, keep);
    SparseMask mask;
    mask.rowTopK = thresholds;
    for (int i = 0; i < 120; ++i) {
        const std::vector<int> order = bruteOrder(ref, i);
        const int n = std::min<int>(keep[i], static_cast<int>(order.size()));
        std::vector<int> expected(order.begin(), order.begin() + n);
        std::sort(expected.begin(), expected.end());
        std::vector<int> kept;
        for (int j = 0; j <= i; ++j)
            if (mask.keeps(i, j, static_cast<float>(ref.s(i, j)))) kept.push_back(j);
        ASSERT_EQ(kept, expected) << "row " << i << " keep " << keep[i];
    }
}

TEST(TopK, HandCheckedRow) {
    // One query (1, 0) against keys with first components 3, 1, 3, 2, 0: logits (scale 1) are
    // 3, 1, 3, 2, 0; bidirectional. Top-2 = keys 0 and 2 (tie at 3, lower index first);
    // top-3 adds key 3; top-1 is key 0 alone.
    HeadTensors head;
    head.seqLen = 5;
    head.headDim = 2;
    head.valueDim = 1;
    head.config.causal = false;
    head.config.softmaxScale = 1.0f;
    head.q = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0};
    head.k = {3, 0, 1, 0, 3, 0, 2, 0, 0, 0};
    head.v = {0, 0, 0, 0, 0};
    CpuBackend backend(1);
    for (auto [k, expected] : std::vector<std::pair<int, std::vector<int>>>{{1, {0}}, {2, {0, 2}}, {3, {0, 2, 3}}}) {
        SparseMask mask;
        mask.rowTopK = backend.computeRowThresholds(head, std::vector<int32_t>(5, k));
        const float logits[] = {3, 1, 3, 2, 0};
        std::vector<int> kept;
        for (int j = 0; j < 5; ++j)
            if (mask.keeps(0, j, logits[j])) kept.push_back(j);
        EXPECT_EQ(kept, expected) << "k=" << k;
    }
}

}  // namespace
}  // namespace attnscope
