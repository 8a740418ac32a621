// Variant metrics (density, recall, output error, oracle Jaccard and recall) and outputs against
// a brute-force computation on materialized matrices.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "attnscope/cpu-backend.h"
#include "attnscope/variant.h"
#include "brute-force-reference.h"
#include "test-helpers.h"

namespace attnscope {
namespace {

using testing::bruteForceAttention;
using testing::closeRelative;

struct BruteMetrics {
    double density, recall, outputError, jaccard, oracleRecall;
    std::vector<double> output;
};

BruteMetrics bruteMetrics(const HeadTensors& head, const VariantPlan& plan) {
    const auto ref = bruteForceAttention(head);
    const int T = head.seqLen, dv = head.valueDim;
    BruteMetrics m{};
    m.output.assign(static_cast<size_t>(T) * dv, 0.0);
    long long kept = 0, visible = 0, inter = 0, uni = 0;
    double errSq = 0, refSq = 0;
    for (int i = 0; i < T; ++i) {
        std::vector<int> keys, keptKeys;
        for (int j = 0; j < T; ++j) {
            if (!ref.vis(i, j)) continue;
            keys.push_back(j);
            if (testing::bruteKeeps(plan.mask, i, j, static_cast<float>(ref.s(i, j)))) keptKeys.push_back(j);
        }
        visible += keys.size();
        kept += keptKeys.size();
        double rowRecall = 0, maxKept = -INFINITY;
        for (int j : keptKeys) {
            rowRecall += ref.p(i, j);
            maxKept = std::max(maxKept, ref.s(i, j));
        }
        m.recall += rowRecall / T;
        // Variant output.
        std::vector<double> w(T, 0.0);
        double z = 0;
        if (plan.weights == WeightKind::LinearEluPlusOne) {
            for (int j : keys) {
                double dot = 0;
                for (int c = 0; c < head.headDim; ++c) {
                    const double q = head.q[static_cast<size_t>(i) * head.headDim + c];
                    const double k = head.k[static_cast<size_t>(j) * head.headDim + c];
                    dot += (q > 0 ? q + 1 : std::exp(q)) * (k > 0 ? k + 1 : std::exp(k));
                }
                w[j] = dot;
                z += dot;
            }
        } else {
            for (int j : keptKeys) {
                w[j] = std::exp(ref.s(i, j) - maxKept);
                z += w[j];
            }
        }
        for (int c = 0; c < dv; ++c) {
            double o = 0;
            for (int j : keys) o += (z > 0 ? w[j] / z : 0.0) * head.v[static_cast<size_t>(j) * dv + c];
            m.output[static_cast<size_t>(i) * dv + c] = o;
            const double diff = o - ref.output[static_cast<size_t>(i) * dv + c];
            errSq += diff * diff;
            refSq += ref.output[static_cast<size_t>(i) * dv + c] * ref.output[static_cast<size_t>(i) * dv + c];
        }
        // Oracle: top-|M_i| by (logit desc, key asc).
        std::vector<int> order = keys;
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return ref.s(i, a) > ref.s(i, b); });
        order.resize(keptKeys.size());
        double oracleMass = 0;
        long long rowInter = 0;
        for (int j : order) {
            oracleMass += ref.p(i, j);
            rowInter += std::binary_search(keptKeys.begin(), keptKeys.end(), j);
        }
        m.oracleRecall += oracleMass / T;
        inter += rowInter;
        uni += 2 * static_cast<long long>(keptKeys.size()) - rowInter;
    }
    m.density = static_cast<double>(kept) / static_cast<double>(visible);
    m.outputError = std::sqrt(errSq / refSq);
    m.jaccard = uni ? static_cast<double>(inter) / static_cast<double>(uni) : 1.0;
    return m;
}

TEST(VariantEvaluation, EveryVariantMatchesBruteForce) {
    for (bool causal : {true, false}) {
        // Exact integer logits (see test-helpers.h) so both sides agree on top-k membership.
        HeadTensors head = testing::integerHead(190, 16, causal, causal ? 31 : 32, 1);
        head.config.softmaxScale = 0.25f;
        CpuBackend backend(2);
        const HeadStatistics dense = backend.computeStatistics(head, {});
        const std::vector<std::pair<const char*, ParamValues>> cases = {
            {"dense", {}},
            {"window", {{"window", 17}}},
            {"streaming-llm", {{"sinks", 3}, {"window", 11}}},
            {"topk", {{"k", 13}}},
            {"moba", {{"block", 32}, {"topk", 2}}},
            {"linear-elu", {}}};
        for (const auto& [id, given] : cases) {
            const Variant& v = *findVariant(id);
            const VariantPlan plan = v.plan(head, resolveParams(v, given), backend);
            const VariantEvaluation eval = backend.evaluateVariant(head, dense, plan);
            const BruteMetrics ref = bruteMetrics(head, plan);
            SCOPED_TRACE(std::string(id) + (causal ? " causal" : " bidirectional"));
            EXPECT_TRUE(closeRelative(eval.metrics.density, ref.density, 1e-12));
            EXPECT_TRUE(closeRelative(eval.metrics.recall, ref.recall, 1e-6));
            EXPECT_NEAR(eval.metrics.outputError, ref.outputError, 1e-5 * std::max(ref.outputError, 1e-2));
            EXPECT_TRUE(closeRelative(eval.metrics.oracleJaccard, ref.jaccard, 1e-12));
            EXPECT_TRUE(closeRelative(eval.metrics.oracleRecall, ref.oracleRecall, 1e-6));
            for (size_t n = 0; n < ref.output.size(); ++n) ASSERT_NEAR(eval.output[n], ref.output[n], 2e-5) << n;
            EXPECT_EQ(eval.metrics.visibleCells, causal ? 190LL * 191 / 2 : 190LL * 190);
        }
    }
}

TEST(VariantEvaluation, DenseIsPerfectAndEmptyRowsAreHandled) {
    const HeadTensors head = testing::randomHead(100, 32, 32, true, 40, 2.0f);
    CpuBackend backend(2);
    const HeadStatistics dense = backend.computeStatistics(head, {});
    const Variant& d = *findVariant("dense");
    const VariantEvaluation eval = backend.evaluateVariant(head, dense, d.plan(head, {}, backend));
    EXPECT_DOUBLE_EQ(eval.metrics.density, 1.0);
    EXPECT_NEAR(eval.metrics.recall, 1.0, 1e-12);
    EXPECT_NEAR(eval.metrics.outputError, 0.0, 1e-6);
    EXPECT_DOUBLE_EQ(eval.metrics.oracleJaccard, 1.0);

    // A mask keeping only column 50: rows before 50 keep nothing (zero output, -inf normalizer).
    VariantPlan plan;
    plan.mask.columns = {50};
    const VariantEvaluation sparse = backend.evaluateVariant(head, dense, plan);
    EXPECT_TRUE(std::isinf(sparse.rowNormalizer[10]));
    EXPECT_EQ(sparse.keptPerRow[10], 0);
    EXPECT_EQ(sparse.keptPerRow[60], 1);
    EXPECT_EQ(sparse.output[10 * 32], 0.0f);
    EXPECT_NEAR(sparse.output[60 * 32 + 3], head.v[50 * 32 + 3], 1e-6);
    EXPECT_EQ(sparse.metrics.keptCells, 50);
}

TEST(VariantEvaluation, StreamingLlmRecallGrowsWithWindow) {
    const HeadTensors head = testing::randomHead(256, 32, 32, true, 41, 2.0f);
    CpuBackend backend(2);
    const HeadStatistics dense = backend.computeStatistics(head, {});
    const Variant& v = *findVariant("streaming-llm");
    double previous = 0.0;
    for (int window : {8, 32, 128, 256}) {
        const VariantEvaluation eval =
            backend.evaluateVariant(head, dense, v.plan(head, resolveParams(v, {{"window", window}}), backend));
        EXPECT_GT(eval.metrics.recall, previous);
        EXPECT_LE(eval.metrics.recall, eval.metrics.oracleRecall + 1e-12);  // the oracle is the bound
        previous = eval.metrics.recall;
    }
    EXPECT_NEAR(previous, 1.0, 1e-12);
}

}  // namespace
}  // namespace attnscope
