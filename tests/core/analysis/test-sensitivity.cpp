// Head sensitivity and pattern classes on planted heads: a local head, a sink + local head, vertical
// stripes, a block-diagonal head and a near-uniform head get the classes they were built to have; the
// needed density for 95 % recall equals a brute-force scan over the budget.
#include <gtest/gtest.h>

#include "attnscope/analysis/sensitivity.h"
#include "attnscope/cpu-backend.h"
#include "brute-force-reference.h"
#include "planted-heads.h"
#include "test-helpers.h"

namespace attnscope {
namespace {

using analysis::PatternClass;

PatternClass classify(const HeadTensors& head, analysis::PatternClassification* out = nullptr) {
    CpuBackend backend(2);
    const HeadStatistics dense = backend.computeStatistics(head, {});
    const auto c = analysis::classifyHeadPattern(head, dense, backend);
    if (out) *out = c;
    std::string log;
    for (const auto& cand : c.candidates)
        log += std::string(analysis::patternClassName(cand.pattern)) + " " + cand.detail + " density " +
               std::to_string(cand.density) + " recall " + std::to_string(cand.recall) + "\n";
    ::testing::Test::RecordProperty("candidates", log);
    return c.pattern;
}

TEST(Pattern, LocalHeadIsLocal) {
    analysis::PatternClassification c;
    EXPECT_EQ(classify(testing::localHead(128, true), &c), PatternClass::Local);
    ASSERT_EQ(c.candidates.size(), 4u);
    for (const auto& cand : c.candidates) EXPECT_NEAR(cand.density, 0.1, 0.04) << analysis::patternClassName(cand.pattern);
}

TEST(Pattern, SinkPlusLocalIsAShape) {
    EXPECT_EQ(classify(testing::sinkLocalHead(128, true, 38.0f)), PatternClass::AShape);
}

TEST(Pattern, PlantedVerticalStripesAreVerticalSlash) {
    EXPECT_EQ(classify(testing::stripeHead(128, true, {20, 45, 70, 95}, 6.0f)), PatternClass::VerticalSlash);
}

TEST(Pattern, PlantedBlocksAreBlockSparse) {
    analysis::PatternClassification c;
    EXPECT_EQ(classify(testing::blockHead(128, 16, false), &c), PatternClass::BlockSparse);
    EXPECT_GT(c.candidates.back().recall, 0.99);
}

TEST(Pattern, NearUniformHeadIsDiffuse) {
    EXPECT_EQ(classify(testing::randomHead(128, 16, 8, false, 5, 0.05f)), PatternClass::Diffuse);
}

TEST(Pattern, BlockSumsMatchBruteForce) {
    CpuBackend backend(2);
    const HeadTensors head = testing::randomHead(75, 8, 8, true, 9, 1.2f);
    const HeadStatistics dense = backend.computeStatistics(head, {});
    const auto sums = analysis::denseBlockSums(head, dense, backend, 16);
    const auto ref = testing::bruteForceAttention(head);
    const int nb = 5;
    for (int r = 0; r < nb; ++r)
        for (int c = 0; c < nb; ++c) {
            double s = 0.0;
            for (int i = r * 16; i < std::min(75, (r + 1) * 16); ++i)
                for (int j = c * 16; j < std::min(75, (c + 1) * 16); ++j) s += ref.p(i, j);
            EXPECT_NEAR(sums[r * nb + c], s, 1e-5) << r << "," << c;
        }
}

TEST(Sensitivity, SweepMatchesDirectEvaluationAndNeededDensityMatchesScan) {
    CpuBackend backend(2);
    const HeadTensors head = testing::localHead(96, true, 4.0f);
    analysis::SensitivityOptions options;
    options.variants = {"window", "topk"};
    options.densities = {0.05, 0.2};
    const auto s = analysis::analyzeHeadSensitivity(head, backend, options);
    ASSERT_EQ(s.points.size(), 4u);
    const HeadStatistics dense = backend.computeStatistics(head, {});
    for (const auto& p : s.points) {
        const Variant& v = *findVariant(options.variants[p.variant]);
        const auto direct = backend.evaluateVariant(head, dense, v.plan(head, p.params, backend)).metrics;
        EXPECT_DOUBLE_EQ(p.metrics.recall, direct.recall);
        EXPECT_DOUBLE_EQ(p.metrics.outputError, direct.outputError);
    }
    // Brute-force scan over the window for the first window whose recall reaches 95 %.
    const Variant& window = *findVariant("window");
    double scanned = -1.0;
    for (int w = 1; w <= 96 && scanned < 0; ++w) {
        const auto m = backend.evaluateVariant(head, dense, window.plan(head, {{"window", w}}, backend)).metrics;
        if (m.recall >= 0.95) scanned = m.density;
    }
    EXPECT_DOUBLE_EQ(s.neededDensity[0], scanned);
}

TEST(Sensitivity, PlantedSinkNeedsOneKeyPerRow) {
    CpuBackend backend(2);
    const int T = 64;
    const HeadTensors head = testing::plantedSinkHead(T, true, 30.0f);
    analysis::SensitivityOptions options;
    options.variants = {"topk", "streaming-llm"};
    options.classify = false;
    const auto s = analysis::analyzeHeadSensitivity(head, backend, options);
    // Top-1 keeps key 0 in every row: T kept cells of T(T+1)/2 visible.
    EXPECT_DOUBLE_EQ(s.neededDensity[0], 2.0 / (T + 1));
    // StreamingLLM (4 sinks): window 1 already reaches the target.
    SparseMask m;
    m.sinkTokens = 4;
    m.windowSize = 1;
    EXPECT_DOUBLE_EQ(s.neededDensity[1], static_cast<double>(countKeptCells(m, head.config, T)) / (T * (T + 1) / 2));
}

TEST(Sensitivity, RejectsVariantsWithoutBudget) {
    EXPECT_THROW(analysis::resolveSensitivityVariants({"dense"}), ParamError);
    EXPECT_THROW(analysis::resolveSensitivityVariants({"nope"}), ParamError);
}

}  // namespace
}  // namespace attnscope
