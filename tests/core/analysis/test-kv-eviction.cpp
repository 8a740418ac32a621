// KV-eviction policies: kept sets on hand-computed cases (planted sink + stripe heads, keys with chosen
// norms and directions), PyramidKV budgets, AdaKV's head-adaptive split, FastV's layer switch, [CLS]
// ranking, survival matrices, the kept-set metrics against the fp64 brute force, and every policy's
// metrics (one batched evaluateMaskBatch per head) bit for bit against evaluateKeptSet per kept set.
#include <gtest/gtest.h>

#include <cmath>

#include "attnscope/analysis/kv-eviction.h"
#include "attnscope/cpu-backend.h"
#include "brute-force-reference.h"
#include "planted-heads.h"
#include "reference-backend.h"
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

// The analysis measures all kept sets of a head in one Backend::evaluateMaskBatch; each must equal what
// evaluateKeptSet gives for that set alone (the path it replaced), and the reference backend (no batching)
// must give the same report.
void expectBatchedEqualsPerSet(const analysis::HeadSource& source, int L, int H, bool causal,
                               const std::vector<int>& budgets, const analysis::EvictionOptions& options) {
    std::vector<EvictionPolicy> policies;
    for (EvictionPolicy p : analysis::allEvictionPolicies())
        if (!(causal && p == EvictionPolicy::ClsAttention)) policies.push_back(p);
    CpuBackend cpu(2);
    testing::ReferenceBackend reference(2);
    const auto fast = analysis::analyzeEviction({L, H}, source, cpu, policies, budgets, options);
    const auto ref = analysis::analyzeEviction({L, H}, source, reference, policies, budgets, options);
    ASSERT_EQ(fast.runs.size(), policies.size() * budgets.size());
    ASSERT_EQ(ref.runs.size(), fast.runs.size());
    const int T = fast.seqLen;
    for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h) {
            const HeadTensors head = source(l, h);
            const HeadStatistics dense = cpu.computeStatistics(head, {});
            for (size_t r = 0; r < fast.runs.size(); ++r) {
                const std::string what = std::string(analysis::evictionPolicyId(fast.runs[r].policy)) + " B=" +
                                         std::to_string(fast.runs[r].budget) + " L" + std::to_string(l) + " H" + std::to_string(h);
                const analysis::HeadEviction& e = fast.runs[r].heads[l][h];
                const analysis::HeadEviction& o = ref.runs[r].heads[l][h];
                EXPECT_EQ(e.kept, o.kept) << what;
                EXPECT_EQ(e.metrics.retainedMass, o.metrics.retainedMass) << what;
                EXPECT_EQ(e.metrics.outputError, o.metrics.outputError) << what;
                EXPECT_EQ(e.metrics.keptKeys, static_cast<int>(e.kept.size())) << what;
                EXPECT_EQ(e.metrics.observedRows, T - fast.observedBegin) << what;
                if (static_cast<int>(e.kept.size()) == T) {
                    EXPECT_EQ(e.metrics.retainedMass, 1.0) << what;
                    EXPECT_EQ(e.metrics.outputError, 0.0) << what;
                    continue;
                }
                const auto m = analysis::evaluateKeptSet(cpu, head, dense, e.kept, fast.observedBegin);
                EXPECT_EQ(e.metrics.retainedMass, m.retainedMass) << what;
                EXPECT_EQ(e.metrics.outputError, m.outputError) << what;
            }
        }
    for (size_t r = 0; r < fast.runs.size(); ++r) {
        EXPECT_EQ(fast.runs[r].survival, ref.runs[r].survival);
        EXPECT_EQ(fast.runs[r].meanRetainedMass, ref.runs[r].meanRetainedMass);
        EXPECT_EQ(fast.runs[r].meanOutputError, ref.runs[r].meanOutputError);
    }
}

TEST(Eviction, BatchedMetricsEqualPerSetEvaluationCausal) {
    auto source = [](int l, int h) { return testing::randomHead(96, 8, 12, true, 100 + 10 * l + h, 1.5f); };
    analysis::EvictionOptions o;
    o.observationWindow = 16;
    expectBatchedEqualsPerSet(source, 4, 3, true, {1, 5, 24, 60, 96}, o);
    o.observedQueries = 40;  // more observed rows than the window
    expectBatchedEqualsPerSet(source, 4, 3, true, {7, 30}, o);
}

TEST(Eviction, BatchedMetricsEqualPerSetEvaluationBidirectional) {
    auto source = [](int l, int h) { return testing::randomHead(70, 8, 8, false, 200 + 10 * l + h, 1.5f); };
    analysis::EvictionOptions o;
    o.fastvLayer = 0;
    expectBatchedEqualsPerSet(source, 3, 2, false, {3, 20, 70}, o);
}

}  // namespace
}  // namespace attnscope
