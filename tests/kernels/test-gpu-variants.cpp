// evaluateVariant on the GPU against the CPU reference for every SparseMask component (keepAll,
// sinks, window band, block map, columns, per-row top-k and a union of them) and both weight
// kinds: normalizers, kept counts, outputs and all metrics (density, recall, output error, oracle
// Jaccard and recall). Both backends get the same dense statistics (the CPU's).
#include <random>

#include "kernel-test-support.h"

namespace attnscope::test {
namespace {

std::vector<std::pair<std::string, VariantPlan>> plansFor(const HeadTensors& head, bool withTopK, unsigned seed) {
    const int T = head.seqLen;
    std::vector<std::pair<std::string, VariantPlan>> plans;
    VariantPlan dense;
    dense.mask.keepAll = true;
    plans.emplace_back("dense", dense);
    VariantPlan streaming;
    streaming.mask.sinkTokens = 4;
    streaming.mask.windowSize = 64;
    plans.emplace_back("sinks+window", streaming);
    std::mt19937 rng(seed);
    for (int bs : {64, 32}) {
        VariantPlan blocks;
        blocks.mask.blockSize = bs;
        blocks.mask.blockRows = blocks.mask.blockCols = (T + bs - 1) / bs;
        blocks.mask.blocks.resize(static_cast<size_t>(blocks.mask.blockRows) * blocks.mask.blockCols);
        for (auto& b : blocks.mask.blocks) b = std::bernoulli_distribution(0.2)(rng) ? 1 : 0;
        plans.emplace_back("blocks" + std::to_string(bs), blocks);
    }
    VariantPlan columns;
    for (int j = 0; j < T; j += 7) columns.mask.columns.push_back(j);
    columns.mask.windowSize = 3;
    plans.emplace_back("columns+window3", columns);
    if (withTopK) {
        VariantPlan topk;
        topk.mask.rowTopK = cpuBackend().computeRowThresholds(head, std::vector<int32_t>(T, 20));
        plans.emplace_back("top-20", topk);
        VariantPlan mixed = topk;
        mixed.mask.sinkTokens = 2;
        mixed.mask.windowSize = 16;
        plans.emplace_back("top-20+sinks+window", mixed);
    }
    VariantPlan linear;
    linear.mask.keepAll = true;
    linear.weights = WeightKind::LinearEluPlusOne;
    plans.emplace_back("linear", linear);
    return plans;
}

class GpuVariants : public ::testing::TestWithParam<HeadCase> {};

TEST_P(GpuVariants, EvaluationMatchesCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const HeadCase& hc = GetParam();
    SCOPED_TRACE(hc.label());
    const HeadTensors head = makeHead(hc);
    const HeadStatistics dense = cpuBackend().computeStatistics(head, {});
    const double tol = tolerance(hc.storage);
    // Top-k masks decide membership by exact logit comparison; with fp32 inputs CPU and GPU logits
    // may differ in the last bit, so top-k plans are compared on the exact (integer-valued) inputs.
    const bool exact = hc.storage != StorageType::Float32;
    for (const auto& [name, plan] : plansFor(head, exact, hc.seed)) {
        SCOPED_TRACE(name);
        const VariantEvaluation c = cpuBackend().evaluateVariant(head, dense, plan);
        const VariantEvaluation g = gpu->evaluateVariant(head, dense, plan);
        expectSameEvaluation(g, c, tol);
    }
}

// The GPU builds its own top-k plan (its own thresholds): same kept counts and metrics.
TEST_P(GpuVariants, OwnTopKPlanMatches) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const HeadCase& hc = GetParam();
    if (hc.storage == StorageType::Float32) GTEST_SKIP() << "covered by the threshold tests for fp32";
    const HeadTensors head = makeHead(hc);
    const HeadStatistics dense = cpuBackend().computeStatistics(head, {});
    VariantPlan cpuPlan, gpuPlan;
    cpuPlan.mask.rowTopK = cpuBackend().computeRowThresholds(head, std::vector<int32_t>(hc.seqLen, 10));
    gpuPlan.mask.rowTopK = gpu->computeRowThresholds(head, std::vector<int32_t>(hc.seqLen, 10));
    const VariantEvaluation c = cpuBackend().evaluateVariant(head, dense, cpuPlan);
    const VariantEvaluation g = gpu->evaluateVariant(head, dense, gpuPlan);
    EXPECT_EQ(g.keptPerRow, c.keptPerRow);
    EXPECT_NEAR(g.metrics.recall, c.metrics.recall, tolerance(hc.storage) * c.metrics.recall);
    EXPECT_NEAR(g.metrics.oracleJaccard, 1.0, 1e-12);
}

INSTANTIATE_TEST_SUITE_P(Cases, GpuVariants,
                         ::testing::Values(makeCase(1000, 128, StorageType::BFloat16, true, 0, 0, 51),
                                           makeCase(333, 80, StorageType::Float16, false, 0, 0, 52),
                                           makeCase(517, 64, StorageType::BFloat16, true, 120, 0, 53),
                                           makeCase(64, 32, StorageType::BFloat16, false, 0, 0, 54),
                                           makeCase(300, 64, StorageType::Float32, true, 0, 0, 55),
                                           makeCase(257, 128, StorageType::Float32, false, 50, 0, 56)));

}  // namespace
}  // namespace attnscope::test
