// Sink metrics on planted inputs: a token-0 sink with a closed-form answer, a planted non-initial sink
// in chosen layers, value drain, the key-bias gap, and agreement with the fp64 brute-force reference.
#include <gtest/gtest.h>

#include <cmath>

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
    EXPECT_TRUE(closeRelative(report.layerTokenRatio[1 * T + 30], r / u, 1e-6));
    ASSERT_GT(r / u, options.kappa);
    ASSERT_FALSE(report.nonInitialSinks.empty());
    const auto& sink = report.nonInitialSinks.front();
    EXPECT_EQ(sink.token, 30);
    EXPECT_EQ(sink.firstLayer, 1);
    EXPECT_EQ(sink.lastLayer, 2);
    EXPECT_EQ(sink.layerCount, 2);
    // Nothing else is a sink: the remaining keys share the leftover mass evenly (ratio below kappa).
    EXPECT_EQ(report.nonInitialSinks.size(), 1u);
    // Tokens seen by fewer than minQueries queries are not judged.
    EXPECT_EQ(report.layerTokenRatio[0 * T + T - 1], 0.0);
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
}

}  // namespace
}  // namespace attnscope
