// KV-eviction policies: kept sets on hand-computed cases (planted sink + stripe heads, keys with chosen
// norms and directions), PyramidKV budgets, AdaKV's head-adaptive split, FastV's layer switch, [CLS]
// ranking, survival matrices, and the kept-set metrics against the fp64 brute force.
#include <gtest/gtest.h>

#include <cmath>

#include "attnscope/analysis/kv-eviction.h"
#include "attnscope/cpu-backend.h"
#include "brute-force-reference.h"
#include "planted-heads.h"
#include "test-helpers.h"

namespace attnscope {
namespace {

using analysis::EvictionPolicy;
using Kept = std::vector<int32_t>;

analysis::EvictionReport runOne(const analysis::HeadSource& source, int layers, int heads, EvictionPolicy policy, int budget,
                                analysis::EvictionOptions options = {}) {
    CpuBackend backend(2);
    return analysis::analyzeEviction({layers, heads}, source, backend, {policy}, {budget}, options);
}

// Causal T = 40: token 0 (a = 4) and token 10 (b = 4) get logit 4, all others 0.
HeadTensors sinkStripe(int, int) { return testing::plantedSinkHead(40, true, 4.0f, 10, 4.0f); }

TEST(Eviction, StreamingLlmKeepsSinksAndRecent) {
    const auto r = runOne(sinkStripe, 2, 1, EvictionPolicy::StreamingLlm, 6);
    EXPECT_EQ(r.runs[0].heads[1][0].kept, (Kept{0, 1, 2, 3, 38, 39}));
    EXPECT_DOUBLE_EQ(r.runs[0].survival[1 * 40 + 2], 1.0);
    EXPECT_DOUBLE_EQ(r.runs[0].survival[1 * 40 + 20], 0.0);
}

TEST(Eviction, H2OKeepsHeavyHittersAndRecentHalf) {
    // Recent 3 = {37, 38, 39}; heavy hitters by accumulated attention: 0 and 10, then token 1 (one more
    // observer than any other logit-0 key before the recent window).
    const auto r = runOne(sinkStripe, 1, 1, EvictionPolicy::H2O, 6);
    EXPECT_EQ(r.runs[0].heads[0][0].kept, (Kept{0, 1, 10, 37, 38, 39}));
}

TEST(Eviction, SnapKvWindowPlusTopScoresWithoutPooling) {
    analysis::EvictionOptions o;
    o.observationWindow = 4;
    o.poolingKernel = 1;
    // Window {36..39} kept; then 0 and 10 (logit 4), then the lowest-index logit-0 key.
    const auto r = runOne(sinkStripe, 1, 1, EvictionPolicy::SnapKV, 7, o);
    EXPECT_EQ(r.runs[0].heads[0][0].kept, (Kept{0, 1, 10, 36, 37, 38, 39}));
    EXPECT_EQ(r.observedBegin, 36);  // causal: the observed queries default to the window
}

TEST(Eviction, SnapKvPoolingSpreadsToNeighbours) {
    analysis::EvictionOptions o;
    o.observationWindow = 4;
    o.poolingKernel = 3;
    // With window rows giving tokens 0 and 10 weight p and every other prefix key q < p, kernel-3 pooling over
    // in-range neighbours scores token 0 (p + q) / 2 and tokens 1, 9, 10, 11 (p + 2q) / 3 (a tie), all others q:
    // token 0 first, then the tie goes to the lowest indices 1 and 9 (10 itself is pooled away).
    const auto r = runOne(sinkStripe, 1, 1, EvictionPolicy::SnapKV, 7, o);
    EXPECT_EQ(r.runs[0].heads[0][0].kept, (Kept{0, 1, 9, 36, 37, 38, 39}));
}

TEST(Eviction, TovaUsesTheLastQueryAveragedOverHeads) {
    const auto r = runOne(sinkStripe, 1, 2, EvictionPolicy::Tova, 3);
    EXPECT_EQ(r.runs[0].heads[0][0].kept, (Kept{0, 1, 10}));
    EXPECT_EQ(r.runs[0].heads[0][1].kept, (Kept{0, 1, 10}));
}

TEST(Eviction, KNormKeepsLowNormKeysAndKeyDiffKeepsOutliers) {
    auto head = [](int, int) {
        HeadTensors h = testing::plantedSinkHead(12, true, 0.0f);
        for (int j = 0; j < 12; ++j) {
            const float n = static_cast<float>(1 + (j * 5) % 12);  // distinct norms 1..12
            h.k[2 * j] = n;
            h.k[2 * j + 1] = (j == 3 || j == 8) ? 3.0f * n : 0.0f;  // 3 and 8 point elsewhere
        }
        return h;
    };
    const auto knorm = runOne(head, 1, 1, EvictionPolicy::KNorm, 3);
    // Norms: 1 + (5j mod 12), times sqrt(10) for the two keys with a second coordinate.
    Kept expectedNorm;
    {
        std::vector<std::pair<double, int>> norms;
        for (int j = 0; j < 12; ++j) {
            const double n = 1 + (j * 5) % 12;
            norms.push_back({(j == 3 || j == 8) ? n * std::sqrt(10.0) : n, j});
        }
        std::sort(norms.begin(), norms.end());
        for (int r = 0; r < 3; ++r) expectedNorm.push_back(norms[r].second);
        std::sort(expectedNorm.begin(), expectedNorm.end());
    }
    EXPECT_EQ(knorm.runs[0].heads[0][0].kept, expectedNorm);
    const auto keydiff = runOne(head, 1, 1, EvictionPolicy::KeyDiff, 2);
    EXPECT_EQ(keydiff.runs[0].heads[0][0].kept, (Kept{3, 8}));
}

TEST(Eviction, PyramidBudgetsFollowKvCacheFactoryArithmetic) {
    // B = 20, w = 4, beta = 20: m = 16 / 20 = 0, M = 32, step = 32 / 3 = 10.
    EXPECT_EQ(analysis::pyramidBudgets(20, 4, 4, 20), (std::vector<int>{36, 26, 16, 6}));
    EXPECT_EQ(analysis::pyramidBudgets(3, 4, 4, 20), (std::vector<int>{3, 3, 3, 3}));
    analysis::EvictionOptions o;
    o.observationWindow = 4;
    const auto r = runOne(sinkStripe, 4, 1, EvictionPolicy::PyramidKV, 20, o);
    EXPECT_EQ(r.runs[0].layerBudget, (std::vector<int>{36, 26, 16, 6}));
    EXPECT_EQ(r.runs[0].heads[3][0].kept.size(), 6u);
}

TEST(Eviction, AdaKvGivesTheDiffuseHeadMoreKeys) {
    // Head 0: all mass on tokens 0 and 10; head 1: near-uniform. Total budget 2 x 10.
    auto head = [](int, int h) {
        return h == 0 ? testing::plantedSinkHead(40, true, 12.0f, 10, 12.0f) : testing::plantedSinkHead(40, true, 0.0f);
    };
    analysis::EvictionOptions o;
    o.observationWindow = 4;
    o.poolingKernel = 1;
    const auto r = runOne(head, 1, 2, EvictionPolicy::AdaKV, 10, o);
    const auto& h0 = r.runs[0].heads[0][0].kept;
    const auto& h1 = r.runs[0].heads[0][1].kept;
    EXPECT_EQ(h0.size() + h1.size(), 20u);
    EXPECT_GE(h0.size(), 2u);  // safeguard floor(0.2 * 10)
    EXPECT_LT(h0.size(), h1.size());
    EXPECT_TRUE(std::binary_search(h0.begin(), h0.end(), 0) && std::binary_search(h0.begin(), h0.end(), 10));
}

TEST(Eviction, FastVKeepsAllUpToLayerKThenTheMostAttended) {
    auto head = [](int l, int) { return l == 2 ? sinkStripe(0, 0) : testing::plantedSinkHead(40, true, 0.0f); };
    const auto r = runOne(head, 4, 1, EvictionPolicy::FastV, 2);
    for (int l = 0; l <= 2; ++l) {
        EXPECT_EQ(r.runs[0].heads[l][0].kept.size(), 40u);
        EXPECT_DOUBLE_EQ(r.runs[0].heads[l][0].metrics.retainedMass, 1.0);
    }
    EXPECT_EQ(r.runs[0].heads[3][0].kept, (Kept{0, 10}));
    EXPECT_DOUBLE_EQ(r.runs[0].survival[3 * 40 + 10], 1.0);
    EXPECT_DOUBLE_EQ(r.runs[0].survival[3 * 40 + 11], 0.0);
}

TEST(Eviction, ClsRanksByTheLastLayerClsRowAndRejectsCausal) {
    auto head = [](int, int) {
        HeadTensors h = testing::plantedSinkHead(30, false, 0.0f, 17, 5.0f);
        h.k[2 * 5] = 3.0f;  // token 5: second strongest for every query, [CLS] included
        h.k[2 * 5 + 1] = 0.0f;
        return h;
    };
    const auto r = runOne(head, 2, 2, EvictionPolicy::ClsAttention, 3);
    EXPECT_EQ(r.runs[0].heads[0][1].kept, (Kept{0, 5, 17}));
    EXPECT_EQ(r.observedBegin, 0);  // bidirectional: all queries observed
    EXPECT_THROW(runOne(sinkStripe, 1, 1, EvictionPolicy::ClsAttention, 3), std::invalid_argument);
}

TEST(Eviction, KeptSetMetricsMatchBruteForce) {
    CpuBackend backend(2);
    const HeadTensors head = testing::randomHead(50, 8, 8, true, 21, 1.3f);
    const HeadStatistics dense = backend.computeStatistics(head, {});
    const Kept kept = {0, 3, 7, 20, 33, 45, 49};
    const auto m = analysis::evaluateKeptSet(backend, head, dense, kept, 40);
    const auto ref = testing::bruteForceAttention(head);
    double mass = 0.0, diff2 = 0.0, ref2 = 0.0;
    for (int i = 40; i < 50; ++i) {
        double z = 0.0;
        std::vector<double> out(8, 0.0);
        for (int j : kept)
            if (j <= i) z += ref.p(i, j);
        mass += z;
        for (int j : kept)
            if (j <= i)
                for (int c = 0; c < 8; ++c) out[c] += ref.p(i, j) / z * head.valueRow(j)[c];
        for (int c = 0; c < 8; ++c) {
            diff2 += (out[c] - ref.output[i * 8 + c]) * (out[c] - ref.output[i * 8 + c]);
            ref2 += ref.output[i * 8 + c] * ref.output[i * 8 + c];
        }
    }
    EXPECT_NEAR(m.retainedMass, mass / 10, 1e-6);
    EXPECT_NEAR(m.outputError, std::sqrt(diff2 / ref2), 1e-5);
    EXPECT_EQ(m.observedRows, 10);
}

}  // namespace
}  // namespace attnscope
