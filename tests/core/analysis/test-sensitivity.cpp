// Head sensitivity and pattern classes on planted heads: a local head, a sink + local head, vertical
// stripes, a block-diagonal head and a near-uniform head get the classes they were built to have; the
// needed density for 95 % recall equals a brute-force scan over the budget; the batched analysis equals
// the path it replaced (one evaluateVariant per budget, bisection, one evaluateVariant per candidate).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "attnscope/analysis/sensitivity.h"
#include "attnscope/cpu-backend.h"
#include "brute-force-reference.h"
#include "planted-heads.h"
#include "reference-backend.h"
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

// The sensitivity analysis as it was before Backend::evaluateMaskBatch: paramsForDensity and one
// evaluateVariant per point, a bisection of full evaluations for the needed density, and the pattern
// candidates evaluated one by one (classifyHeadPattern on a backend without the batched override).
analysis::HeadSensitivity legacyHeadSensitivity(const HeadTensors& head, const analysis::SensitivityOptions& options) {
    testing::ReferenceBackend backend(2);
    analysis::HeadSensitivity result;
    const HeadStatistics dense = backend.computeStatistics(head, {}, nullptr);
    auto run = [&](const Variant& v, const ParamValues& params) {
        return backend.evaluateVariant(head, dense, v.plan(head, params, backend), nullptr).metrics;
    };
    const auto variants = analysis::resolveSensitivityVariants(options.variants);
    for (size_t vi = 0; vi < variants.size(); ++vi) {
        const Variant& v = *variants[vi];
        const std::string budget = v.budgetParameter();
        for (double d : options.densities) {
            analysis::SensitivityPoint p;
            p.variant = static_cast<int>(vi);
            p.targetDensity = d;
            p.params = paramsForDensity(v, head, {}, d, backend);
            p.metrics = run(v, p.params);
            result.points.push_back(p);
        }
        const ParamValues full = paramsForDensity(v, head, {}, 1.0, backend);
        long long lo = -1, hi = static_cast<long long>(full.at(budget));
        VariantMetrics hiMetrics = run(v, full);
        if (hiMetrics.recall < options.recallTarget) {
            result.neededDensity.push_back(std::numeric_limits<double>::quiet_NaN());
            continue;
        }
        for (const analysis::SensitivityPoint& p : result.points) {
            if (p.variant != static_cast<int>(vi)) continue;
            const long long b = static_cast<long long>(p.params.at(budget));
            if (p.metrics.recall >= options.recallTarget && b < hi) {
                hi = b;
                hiMetrics = p.metrics;
            } else if (p.metrics.recall < options.recallTarget && b > lo) {
                lo = b;
            }
        }
        ParamValues params = resolveParams(v, {});
        long long minBudget = 0;
        for (const ParamSpec& s : v.parameters())
            if (s.name == budget) minBudget = static_cast<long long>(s.minValue);
        if (lo < minBudget) lo = minBudget - 1;
        while (hi - lo > 1) {
            const long long mid = lo + (hi - lo) / 2;
            params[budget] = static_cast<double>(mid);
            const VariantMetrics m = run(v, params);
            if (m.recall >= options.recallTarget) {
                hi = mid;
                hiMetrics = m;
            } else {
                lo = mid;
            }
        }
        result.neededDensity.push_back(hiMetrics.density);
    }
    result.pattern = analysis::classifyHeadPattern(head, dense, backend, options.pattern);
    return result;
}

// oracleExact: the oracle recall too must match bit for bit (the batched CPU pass sums it in another order).
void expectSameSensitivity(const analysis::HeadSensitivity& a, const analysis::HeadSensitivity& b, bool oracleExact,
                           const std::string& what) {
    ASSERT_EQ(a.points.size(), b.points.size()) << what;
    for (size_t k = 0; k < a.points.size(); ++k) {
        const auto &p = a.points[k], &q = b.points[k];
        const std::string at = what + ", point " + std::to_string(k);
        EXPECT_EQ(p.params, q.params) << at;
        EXPECT_EQ(p.metrics.keptCells, q.metrics.keptCells) << at;
        EXPECT_EQ(p.metrics.density, q.metrics.density) << at;
        EXPECT_EQ(p.metrics.recall, q.metrics.recall) << at;
        EXPECT_EQ(p.metrics.outputError, q.metrics.outputError) << at;
        EXPECT_EQ(p.metrics.oracleJaccard, q.metrics.oracleJaccard) << at;
        if (oracleExact) {
            EXPECT_EQ(p.metrics.oracleRecall, q.metrics.oracleRecall) << at;
        } else {
            EXPECT_TRUE(testing::closeRelative(p.metrics.oracleRecall, q.metrics.oracleRecall, 1e-12)) << at;
        }
    }
    ASSERT_EQ(a.neededDensity.size(), b.neededDensity.size()) << what;
    for (size_t v = 0; v < a.neededDensity.size(); ++v) {
        EXPECT_EQ(std::isnan(a.neededDensity[v]), std::isnan(b.neededDensity[v])) << what << ", variant " << v;
        if (!std::isnan(b.neededDensity[v])) {
            EXPECT_EQ(a.neededDensity[v], b.neededDensity[v]) << what << ", variant " << v;
        }
    }
    EXPECT_EQ(a.pattern.pattern, b.pattern.pattern) << what;
    EXPECT_EQ(a.pattern.bestRecall, b.pattern.bestRecall) << what;
    ASSERT_EQ(a.pattern.candidates.size(), b.pattern.candidates.size()) << what;
    for (size_t c = 0; c < a.pattern.candidates.size(); ++c) {
        const auto &x = a.pattern.candidates[c], &y = b.pattern.candidates[c];
        EXPECT_EQ(x.pattern, y.pattern) << what;
        EXPECT_EQ(x.detail, y.detail) << what;
        EXPECT_EQ(x.density, y.density) << what << ", " << x.detail;
        EXPECT_EQ(x.recall, y.recall) << what << ", " << x.detail;
        EXPECT_EQ(x.outputError, y.outputError) << what << ", " << x.detail;
    }
}

std::vector<std::pair<std::string, HeadTensors>> comparisonHeads() {
    return {{"random causal T=150", testing::randomHead(150, 16, 12, true, 41, 1.5f)},
            {"random bidirectional T=133", testing::randomHead(133, 8, 8, false, 42, 2.0f)},
            {"random causal native window 60 T=140", testing::randomHead(140, 8, 8, true, 43, 2.0f, 60)},
            {"integer ties causal T=100", testing::integerHead(100, 4, true, 44, 1)},
            {"planted local T=128", testing::localHead(128, true)},
            {"planted sink + local T=128", testing::sinkLocalHead(128, true, 38.0f)},
            {"planted stripes T=128", testing::stripeHead(128, true, {20, 45, 70, 95}, 6.0f)},
            {"planted blocks T=128", testing::blockHead(128, 16, false)}};
}

TEST(Sensitivity, BatchedAnalysisEqualsLegacyPath) {
    CpuBackend backend(2);
    analysis::SensitivityOptions options;  // all four variants, six densities, classification
    for (const auto& [name, head] : comparisonHeads())
        expectSameSensitivity(analysis::analyzeHeadSensitivity(head, backend, options), legacyHeadSensitivity(head, options),
                              false, name);
}

TEST(Sensitivity, ReferenceBackendReproducesLegacyPathExactly) {
    // The default evaluateMaskBatch is the old code path: everything equal, oracle recall included.
    testing::ReferenceBackend backend(2);
    analysis::SensitivityOptions options;
    options.recallTarget = 0.9;
    for (const auto& [name, head] : comparisonHeads())
        expectSameSensitivity(analysis::analyzeHeadSensitivity(head, backend, options), legacyHeadSensitivity(head, options),
                              true, name);
}

TEST(Sensitivity, RejectsVariantsWithoutBudget) {
    EXPECT_THROW(analysis::resolveSensitivityVariants({"dense"}), ParamError);
    EXPECT_THROW(analysis::resolveSensitivityVariants({"nope"}), ParamError);
}

}  // namespace
}  // namespace attnscope
