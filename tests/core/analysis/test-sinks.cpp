// Sink metrics on planted inputs: a token-0 sink with a closed-form answer, a planted non-initial sink
// in chosen layers, value drain, the key-bias gap, the locality correction (far queries only) on a planted
// local head, and agreement with the fp64 brute-force reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "attnscope/analysis/sinks.h"
#include "attnscope/cpu-backend.h"
#include "brute-force-reference.h"
#include "planted-heads.h"
#include "test-helpers.h"

namespace attnscope {
namespace {

using analysis::analyzeHeadSinks;
using analysis::analyzeModelSinks;
using analysis::ModelShape;
using testing::closeRelative;
using testing::plantedSinkHead;
using testing::recentTokensHead;

TEST(Sinks, PlantedTokenZeroSinkMatchesClosedForm) {
    CpuBackend backend(2);
    const int T = 64;
    const float a = 3.0f;
    const HeadTensors head = plantedSinkHead(T, true, a);
    const auto s = analyzeHeadSinks(head, backend);
    // Causal row i sees i + 1 keys: A_i0 = e^a / (e^a + i); every query sees key 0.
    double expected = 0.0;
    for (int i = 0; i < T; ++i) expected += std::exp(a) / (std::exp(a) + i);
    expected /= T;
    EXPECT_TRUE(closeRelative(s.token0Mean, expected, 1e-6));
    EXPECT_EQ(s.topToken, 0);
    // Key-bias gap: s_i0 - max_{j != 0} s_ij = a - 0 for every row i >= 1, so std 0.
    EXPECT_EQ(s.keyBiasRows, T - 1);
    EXPECT_NEAR(s.keyBiasGapMean, a, 1e-5);
    EXPECT_NEAR(s.keyBiasGapStd, 0.0, 1e-5);
    // Value drain: ||v_0|| = 0.1, all others 1.
    EXPECT_NEAR(s.valueNormRatio[0], 0.1, 1e-6);
    EXPECT_NEAR(s.valueNormRatio[17], 1.0, 1e-6);
}

TEST(Sinks, MeanReceivedMatchesBruteForce) {
    CpuBackend backend(2);
    const HeadTensors head = testing::randomHead(90, 16, 8, true, 11, 1.5f);
    const auto s = analyzeHeadSinks(head, backend);
    const auto ref = testing::bruteForceAttention(head);
    for (int j = 0; j < 90; ++j) {
        double sum = 0.0;
        for (int i = j; i < 90; ++i) sum += ref.p(i, j);
        EXPECT_TRUE(closeRelative(s.received[j], sum, 1e-6, 1e-12));
        EXPECT_TRUE(closeRelative(s.meanReceived[j], sum / (90 - j), 1e-6, 1e-12));
    }
    // The gap against a brute-force max over j != 0.
    double mean = 0.0;
    for (int i = 1; i < 90; ++i) {
        double best = -1e300;
        for (int j = 1; j <= i; ++j) best = std::max(best, ref.s(i, j));
        mean += ref.s(i, 0) - best;
    }
    EXPECT_NEAR(s.keyBiasGapMean, mean / 89, 1e-4);
}

TEST(Sinks, SinkEpsilonAndPlantedNonInitialSink) {
    CpuBackend backend(2);
    // 4 layers x 2 heads, T = 80. Head 0 of every layer has a strong token-0 sink (a = 4); head 1 a weak
    // one (a = 0.5). Layers 1 and 2 also plant a stripe at token 30 (b = 4) in both heads.
    const int T = 80, L = 4, H = 2;
    auto makeHead = [&](int l, int h) {
        const float a = h == 0 ? 4.0f : 0.5f;
        const bool planted = l == 1 || l == 2;
        HeadTensors head = plantedSinkHead(T, true, a, planted ? 30 : -1, 4.0f);
        head.layer = l;
        head.queryHead = h;
        return head;
    };
    analysis::SinkOptions options;
    const auto report = analyzeModelSinks(ModelShape{L, H}, makeHead, backend, options);
    // Mean attention to token 0 of the weak head: e^0.5 / (e^0.5 + i) averaged, far below 0.3.
    double weak = 0.0;
    for (int i = 0; i < T; ++i) weak += std::exp(0.5) / (std::exp(0.5) + i);
    weak /= T;
    ASSERT_LT(weak, 0.3);
    EXPECT_GT(report.at(0, 0).token0Mean, 0.3);
    EXPECT_DOUBLE_EQ(report.sinkEpsilon, 0.5);

    // Ratio at token 30 in layer 1: r = head mean of (1 / 50) sum_{i >= 30} A_i,30, against u = (1/50) sum 1/(i+1).
    double u = 0.0;
    for (int i = 30; i < T; ++i) u += 1.0 / (i + 1);
    u /= (T - 30);
    double r = 0.0;
    for (int h = 0; h < H; ++h) {
        const auto ref = testing::bruteForceAttention(makeHead(1, h));
        double m = 0.0;
        for (int i = 30; i < T; ++i) m += ref.p(i, 30);
        r += m / (T - 30) / H;
    }
    EXPECT_TRUE(closeRelative(report.layerTokenReceivedRatio[1 * T + 30], r / u, 1e-6));
    // The ratio that judges sinks counts only the far queries i - 30 >= 32, i.e. i >= 62 (18 queries).
    const int w = options.localWindow;
    ASSERT_EQ(w, 32);
    double uFar = 0.0;
    for (int i = 30 + w; i < T; ++i) uFar += 1.0 / (i + 1);
    uFar /= (T - 30 - w);
    double f = 0.0;
    for (int h = 0; h < H; ++h) {
        const auto ref = testing::bruteForceAttention(makeHead(1, h));
        double m = 0.0;
        for (int i = 30 + w; i < T; ++i) m += ref.p(i, 30);
        f += m / (T - 30 - w) / H;
    }
    EXPECT_EQ(report.layerTokenFarQueries[1 * T + 30], T - 30 - w);
    EXPECT_TRUE(closeRelative(report.layerTokenFarRatio[1 * T + 30], f / uFar, 1e-6));
    ASSERT_GT(f / uFar, options.kappa);
    ASSERT_FALSE(report.nonInitialSinks.empty());
    const auto& sink = report.nonInitialSinks.front();
    EXPECT_EQ(sink.token, 30);
    EXPECT_EQ(sink.firstLayer, 1);
    EXPECT_EQ(sink.lastLayer, 2);
    EXPECT_EQ(sink.layerCount, 2);
    EXPECT_EQ(sink.farQueries, T - 30 - w);
    // Nothing else is a sink: the remaining keys share the leftover mass evenly (ratio below kappa).
    EXPECT_EQ(report.nonInitialSinks.size(), 1u);
    // Tokens seen by fewer than minQueries (far) queries are not judged: T - 1 has one query, T - 40 has 40
    // queries but only 8 far ones.
    EXPECT_EQ(report.layerTokenReceivedRatio[0 * T + T - 1], 0.0);
    EXPECT_EQ(report.layerTokenFarRatio[0 * T + T - 1], 0.0);
    EXPECT_GT(report.layerTokenReceivedRatio[0 * T + T - 40], 0.0);
    EXPECT_EQ(report.layerTokenFarQueries[0 * T + T - 40], 8);
    EXPECT_EQ(report.layerTokenFarRatio[0 * T + T - 40], 0.0);
}

// A purely local head (s_ij = -2 (i - j): 86 % of each row on the diagonal, e^-64 beyond 32 tokens) in every
// layer. Judged by all queries (localWindow 0, the definition before the locality correction), the late tokens
// look like sinks: each receives about 1 in total, from the few queries right after it, while the uniform
// level over those queries is sum_{i >= j} 1 / (i + 1), far below 1 for j near T. Judged by the far queries
// there is no sink at all.
TEST(Sinks, LocalHeadHasNoNonInitialSinksOnceOnlyFarQueriesJudge) {
    CpuBackend backend(2);
    const int T = 256, L = 2, H = 2;
    auto makeHead = [&](int, int) { return recentTokensHead(T, 2.0f); };
    analysis::SinkOptions allQueries;
    allQueries.localWindow = 0;
    const auto before = analyzeModelSinks(ModelShape{L, H}, makeHead, backend, allQueries);
    // Expected flagged set from the fp64 brute force: ratio_j = c_j / sum_{i >= j} 1 / (i + 1) > kappa, among
    // the tokens with at least minQueries observers.
    const auto ref = testing::bruteForceAttention(makeHead(0, 0));
    std::set<int> expected;
    for (int j = 1; j + allQueries.minQueries <= T; ++j) {
        double c = 0.0, harmonic = 0.0;
        for (int i = j; i < T; ++i) {
            c += ref.p(i, j);
            harmonic += 1.0 / (i + 1);
        }
        if (c / harmonic > allQueries.kappa) expected.insert(j);
    }
    ASSERT_FALSE(expected.empty());
    EXPECT_GT(*expected.begin(), T * 3 / 4);  // only late tokens: a locality artefact, not a sink
    std::set<int> flagged;
    for (const auto& sink : before.nonInitialSinks) {
        flagged.insert(sink.token);
        EXPECT_EQ(sink.firstLayer, 0);
        EXPECT_EQ(sink.lastLayer, L - 1);
    }
    EXPECT_EQ(flagged, expected);
    // With localWindow 0 the far ratio is the all-query ratio.
    for (size_t at = 0; at < before.layerTokenFarRatio.size(); ++at)
        EXPECT_EQ(before.layerTokenFarRatio[at], before.layerTokenReceivedRatio[at]);

    const analysis::SinkOptions options;  // localWindow 32
    const auto after = analyzeModelSinks(ModelShape{L, H}, makeHead, backend, options);
    EXPECT_TRUE(after.nonInitialSinks.empty());
    double worst = 0.0;
    for (double r : after.layerTokenFarRatio) worst = std::max(worst, r);
    EXPECT_LT(worst, 1e-6);  // the far queries give these tokens nothing (e^-64 and rounding)
    // The uncorrected numbers the views show are unchanged by the option (up to the order in which the
    // backend's worker threads add up column sums).
    for (size_t at = 0; at < after.layerTokenReceivedRatio.size(); ++at) {
        EXPECT_TRUE(closeRelative(after.layerTokenReceived[at], before.layerTokenReceived[at], 1e-12));
        EXPECT_TRUE(closeRelative(after.layerTokenReceivedRatio[at], before.layerTokenReceivedRatio[at], 1e-12));
    }
}

// The same local heads, plus in layers 1 and 2 a token (100) that every query attends to with logit 1
// whatever its distance: it must be the only non-initial sink, spanning layers 1-2, with the far ratio of
// the fp64 brute force.
TEST(Sinks, PlantedFarSinkOnLocalHeadsIsTheOnlySink) {
    CpuBackend backend(2);
    const int T = 256, L = 4, H = 2, token = 100;
    auto makeHead = [&](int l, int) {
        return (l == 1 || l == 2) ? recentTokensHead(T, 2.0f, token, 1.0f) : recentTokensHead(T, 2.0f);
    };
    const analysis::SinkOptions options;
    const int w = options.localWindow;
    const auto report = analyzeModelSinks(ModelShape{L, H}, makeHead, backend, options);
    ASSERT_EQ(report.nonInitialSinks.size(), 1u);
    const auto& sink = report.nonInitialSinks.front();
    EXPECT_EQ(sink.token, token);
    EXPECT_EQ(sink.firstLayer, 1);
    EXPECT_EQ(sink.lastLayer, 2);
    EXPECT_EQ(sink.layerCount, 2);
    EXPECT_EQ(sink.farQueries, T - token - w);
    const auto ref = testing::bruteForceAttention(makeHead(1, 0));
    double f = 0.0, u = 0.0;
    for (int i = token + w; i < T; ++i) {
        f += ref.p(i, token);
        u += 1.0 / (i + 1);
    }
    EXPECT_TRUE(closeRelative(sink.peakRatio, f / u, 1e-6));
    EXPECT_GT(sink.peakRatio, 50.0);
    // Judged by all queries, the late tokens of every layer would be listed too.
    analysis::SinkOptions allQueries;
    allQueries.localWindow = 0;
    EXPECT_GT(analyzeModelSinks(ModelShape{L, H}, makeHead, backend, allQueries).nonInitialSinks.size(), 1u);
}

// Far column sums (dense column sum minus the near band computed in the analysis from Q, K and the row LSE)
// against the fp64 brute-force reference (tests/core/brute-force-reference.cpp) on random synthetic heads:
// causal and bidirectional, with and without a native sliding window and softcap, local windows below and
// above the native window. Also the far query counts and the far uniform baseline.
TEST(Sinks, FarReceivedMatchesBruteForce) {
    CpuBackend backend(2);
    struct Case {
        bool causal;
        int nativeWindow;
        float softcap;
        int localWindow;
    };
    const Case cases[] = {{true, 0, 0.0f, 8},   {true, 40, 0.0f, 8},  {true, 40, 5.0f, 32}, {false, 0, 0.0f, 16},
                          {false, 40, 0.0f, 8}, {false, 40, 5.0f, 32}, {true, 40, 0.0f, 40}, {false, 0, 0.0f, 0}};
    const int T = 150;
    uint64_t seed = 21;
    for (const Case& c : cases) {
        SCOPED_TRACE(::testing::Message() << (c.causal ? "causal" : "bidirectional") << " window " << c.nativeWindow
                                          << " softcap " << c.softcap << " local " << c.localWindow);
        const HeadTensors head = testing::randomHead(T, 16, 8, c.causal, seed++, 1.5f, c.nativeWindow, c.softcap);
        analysis::SinkOptions options;
        options.localWindow = c.localWindow;
        const auto s = analyzeHeadSinks(head, backend, options);
        const auto ref = testing::bruteForceAttention(head);
        const auto farCount = analysis::queriesSeeingKey(head.config, T, c.localWindow);
        const auto farBaseline = analysis::uniformReceivedBaseline(head.config, T, c.localWindow);
        EXPECT_EQ(s.localWindow, c.localWindow);
        int judged = 0;
        for (int j = 0; j < T; ++j) {
            double far = 0.0, inverseVisible = 0.0;
            int count = 0;
            for (int i = 0; i < T; ++i) {
                if (!ref.vis(i, j) || std::abs(i - j) < c.localWindow) continue;
                far += ref.p(i, j);
                ++count;
                int visible = 0;
                for (int k = 0; k < T; ++k) visible += ref.vis(i, k) ? 1 : 0;
                inverseVisible += 1.0 / visible;
            }
            ASSERT_EQ(farCount[j], count) << "key " << j;
            EXPECT_TRUE(closeRelative(s.farReceived[j], far, 1e-5, 2e-6)) << "key " << j;
            if (count == 0) {
                EXPECT_EQ(s.farReceived[j], 0.0);
                EXPECT_EQ(s.farMeanReceived[j], 0.0);
                EXPECT_EQ(farBaseline[j], 0.0);
                continue;
            }
            ++judged;
            EXPECT_TRUE(closeRelative(s.farMeanReceived[j], far / count, 1e-5, 2e-6 / count)) << "key " << j;
            EXPECT_TRUE(closeRelative(farBaseline[j], inverseVisible / count, 1e-12)) << "key " << j;
        }
        if (c.localWindow >= c.nativeWindow && c.nativeWindow > 0) {
            EXPECT_EQ(judged, 0);  // no visible key is far enough
        } else {
            EXPECT_GT(judged, 0);
        }
        if (c.localWindow == 0) {
            EXPECT_EQ(s.farReceived, s.received);
        }
    }
}

TEST(Sinks, NegativeLocalWindowIsRejected) {
    CpuBackend backend(1);
    analysis::SinkOptions options;
    options.localWindow = -1;
    EXPECT_THROW(analyzeHeadSinks(recentTokensHead(40, 2.0f), backend, options), std::invalid_argument);
    EXPECT_THROW(analyzeModelSinks(ModelShape{1, 1}, [](int, int) { return recentTokensHead(40, 2.0f); }, backend, options),
                 std::invalid_argument);
}

TEST(Sinks, BidirectionalBaselineIsUniform) {
    AttentionConfig config;
    config.causal = false;
    const auto u = analysis::uniformReceivedBaseline(config, 50);
    for (double x : u) EXPECT_NEAR(x, 1.0 / 50, 1e-12);
    config.causal = true;
    const auto seen = analysis::queriesSeeingKey(config, 50);
    EXPECT_EQ(seen[0], 50);
    EXPECT_EQ(seen[49], 1);
    // Far queries (i - j >= 10): key j has max(0, 50 - j - 10) of them; bidirectional |i - j| >= 10.
    const auto far = analysis::queriesSeeingKey(config, 50, 10);
    EXPECT_EQ(far[0], 40);
    EXPECT_EQ(far[39], 1);
    EXPECT_EQ(far[40], 0);
    config.causal = false;
    const auto farBi = analysis::queriesSeeingKey(config, 50, 10);
    EXPECT_EQ(farBi[0], 40);
    EXPECT_EQ(farBi[25], 31);  // i <= 15 or i >= 35
    const auto uFar = analysis::uniformReceivedBaseline(config, 50, 10);
    for (int j = 0; j < 50; ++j) EXPECT_NEAR(uFar[j], 1.0 / 50, 1e-12);
}

}  // namespace
}  // namespace attnscope
