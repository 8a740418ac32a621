// Each variant's mask on hand-worked cases (the expected sets are written out by hand in the
// comments), plus the exact kept-cell counter and density matching.
#include <gtest/gtest.h>

#include <cmath>

#include "attnscope/cpu-backend.h"
#include "attnscope/variant.h"
#include "brute-force-reference.h"
#include "test-helpers.h"

namespace attnscope {
namespace {

HeadTensors zeroHead(int T, int d, bool causal) {
    HeadTensors h;
    h.seqLen = T;
    h.headDim = d;
    h.valueDim = d;
    h.q.assign(static_cast<size_t>(T) * d, 0.0f);
    h.k.assign(static_cast<size_t>(T) * d, 0.0f);
    h.v.assign(static_cast<size_t>(T) * d, 0.0f);
    h.config.causal = causal;
    h.config.softmaxScale = 1.0f;
    return h;
}

// Kept keys of row i under the model's mask (logits all 0: structural masks ignore them).
std::vector<int> keptKeys(const VariantPlan& plan, const HeadTensors& head, int i) {
    std::vector<int> kept;
    for (int j = 0; j < head.seqLen; ++j)
        if (isVisible(head.config, head.seqLen, i, j) && plan.mask.keeps(i, j, 0.0f)) kept.push_back(j);
    return kept;
}

VariantPlan planOf(const char* id, const HeadTensors& head, const ParamValues& given) {
    CpuBackend backend(1);
    const Variant& v = *findVariant(id);
    return v.plan(head, resolveParams(v, given), backend);
}

TEST(VariantMasks, SlidingWindowCausal) {
    // T = 6, window 3: row i keeps max(0, i-2) .. i. Row 4 -> {2, 3, 4}. Kept = 1+2+3+3+3+3 = 15.
    const HeadTensors head = zeroHead(6, 2, true);
    const VariantPlan plan = planOf("window", head, {{"window", 3}});
    EXPECT_EQ(keptKeys(plan, head, 4), (std::vector<int>{2, 3, 4}));
    EXPECT_EQ(keptKeys(plan, head, 1), (std::vector<int>{0, 1}));
    EXPECT_EQ(countKeptCells(plan.mask, head.config, 6), 15);
}

TEST(VariantMasks, SlidingWindowBidirectional) {
    // T = 5, window 2: |i - j| < 2. Rows keep 2, 3, 3, 3, 2 keys = 13. Row 0 -> {0, 1}.
    const HeadTensors head = zeroHead(5, 2, false);
    const VariantPlan plan = planOf("window", head, {{"window", 2}});
    EXPECT_EQ(keptKeys(plan, head, 0), (std::vector<int>{0, 1}));
    EXPECT_EQ(keptKeys(plan, head, 2), (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(countKeptCells(plan.mask, head.config, 5), 13);
}

TEST(VariantMasks, StreamingLlmSinkPlusWindow) {
    // T = 6, sinks 1, window 2: row 5 -> {0, 4, 5}; row 3 -> {0, 2, 3}; row 1 -> {0, 1}.
    // Kept per row: 1, 2, 3, 3, 3, 3 = 15.
    const HeadTensors head = zeroHead(6, 2, true);
    const VariantPlan plan = planOf("streaming-llm", head, {{"sinks", 1}, {"window", 2}});
    EXPECT_EQ(keptKeys(plan, head, 5), (std::vector<int>{0, 4, 5}));
    EXPECT_EQ(keptKeys(plan, head, 3), (std::vector<int>{0, 2, 3}));
    EXPECT_EQ(keptKeys(plan, head, 1), (std::vector<int>{0, 1}));
    EXPECT_EQ(countKeptCells(plan.mask, head.config, 6), 15);
}

TEST(VariantMasks, MobaSelectsBlocksByPooledGate) {
    // T = 8, block 2, top-1. Key block means: b0 = (1, 0), b1 = (0, 1), b2 = (2, 0), b3 = (0, 0);
    // every query is (1, 0), so gate(qb, b) = first component of b's mean: 1, 0, 2, 0.
    // qb3 candidates b0..b2 -> best b2: blocks {2, 3}. qb2: b0 (1) beats b1 (0): {0, 2}.
    // qb1: only b0: {0, 1}. qb0: own block only.
    HeadTensors head = zeroHead(8, 2, true);
    const float keys[8][2] = {{1, 0}, {1, 0}, {0, 1}, {0, 1}, {2, 0}, {2, 0}, {0, 0}, {0, 0}};
    for (int j = 0; j < 8; ++j) {
        head.k[j * 2] = keys[j][0];
        head.k[j * 2 + 1] = keys[j][1];
        head.q[j * 2] = 1.0f;
    }
    const VariantPlan plan = planOf("moba", head, {{"block", 2}, {"topk", 1}});
    const std::vector<uint8_t> expected = {1, 0, 0, 0,  //
                                           1, 1, 0, 0,  //
                                           1, 0, 1, 0,  //
                                           0, 0, 1, 1};
    EXPECT_EQ(plan.mask.blocks, expected);
    EXPECT_EQ(keptKeys(plan, head, 7), (std::vector<int>{4, 5, 6, 7}));
    EXPECT_EQ(keptKeys(plan, head, 6), (std::vector<int>{4, 5, 6}));
    EXPECT_EQ(keptKeys(plan, head, 5), (std::vector<int>{0, 1, 4, 5}));
    // Kept cells: row0 1, row1 2, rows 2-3: 2+1, 2+2, rows 4-5: 2+1, 2+2, rows 6-7: 2+1, 2+2 = 24.
    EXPECT_EQ(countKeptCells(plan.mask, head.config, 8), 24);
}

TEST(VariantMasks, MobaBidirectionalLooksBothWays) {
    // Bidirectional, block 2, top-1, T = 6; gates as above with b0=(0,0), b1=(1,0), b2=(3,0):
    // qb0 picks b2 (3 > 1), qb1 picks b2, qb2 picks b1.
    HeadTensors head = zeroHead(6, 2, false);
    const float firstComponent[6] = {0, 0, 1, 1, 3, 3};
    for (int j = 0; j < 6; ++j) {
        head.k[j * 2] = firstComponent[j];
        head.q[j * 2] = 1.0f;
    }
    const VariantPlan plan = planOf("moba", head, {{"block", 2}, {"topk", 1}});
    EXPECT_EQ(plan.mask.blocks, (std::vector<uint8_t>{1, 0, 1, 0, 1, 1, 0, 1, 1}));
}

TEST(VariantMasks, DenseAndLinearKeepEverything) {
    const HeadTensors head = zeroHead(5, 2, true);
    EXPECT_TRUE(planOf("dense", head, {}).mask.keepAll);
    const VariantPlan linear = planOf("linear-elu", head, {});
    EXPECT_TRUE(linear.mask.keepAll);
    EXPECT_EQ(linear.weights, WeightKind::LinearEluPlusOne);
}

TEST(VariantMasks, LinearEluWeightsHandChecked) {
    // Bidirectional, T = 2, d = 1: q = 0 for both rows, keys 0 and 1. phi(0) = exp(0) = 1,
    // phi(1) = 2, so each row weights the keys 1/3 and 2/3; values 3 and 6 give output 5.
    HeadTensors head = zeroHead(2, 1, false);
    head.k = {0.0f, 1.0f};
    head.v = {3.0f, 6.0f};
    CpuBackend backend(1);
    const HeadStatistics dense = backend.computeStatistics(head, {});
    const VariantPlan plan = planOf("linear-elu", head, {});
    const VariantEvaluation eval = backend.evaluateVariant(head, dense, plan);
    EXPECT_NEAR(eval.rowNormalizer[0], 3.0, 1e-12);
    EXPECT_NEAR(eval.output[0], 5.0, 1e-6);
    EXPECT_NEAR(eval.output[1], 5.0, 1e-6);
    const PooledTile tile =
        backend.computeTile(head, dense, {0, 2, 0, 2, 2, 2, Pooling::Mean, TileQuantity::VariantWeight},
                            &plan, &eval);
    EXPECT_NEAR(tile.at(0, 0), 1.0 / 3.0, 1e-6);
    EXPECT_NEAR(tile.at(1, 1), 2.0 / 3.0, 1e-6);
}

TEST(VariantMasks, CountKeptCellsMatchesBruteCountForUnions) {
    const HeadTensors head = zeroHead(70, 2, true);
    SparseMask mask;
    mask.sinkTokens = 3;
    mask.windowSize = 5;
    mask.blockSize = 16;
    mask.blockRows = mask.blockCols = 5;
    mask.blocks.assign(25, 0);
    mask.blocks[2 * 5 + 0] = mask.blocks[4 * 5 + 1] = mask.blocks[3 * 5 + 3] = 1;
    mask.columns = {1, 10, 40, 41, 69};
    long long brute = 0;
    for (int i = 0; i < 70; ++i)
        for (int j = 0; j <= i; ++j) brute += testing::bruteKeeps(mask, i, j, 0.0f);
    EXPECT_EQ(countKeptCells(mask, head.config, 70), brute);
    HeadTensors window = head;
    window.config.slidingWindow = 9;
    window.config.causal = false;
    brute = 0;
    for (int i = 0; i < 70; ++i)
        for (int j = 0; j < 70; ++j) brute += isVisible(window.config, 70, i, j) && testing::bruteKeeps(mask, i, j, 0.0f);
    EXPECT_EQ(countKeptCells(mask, window.config, 70), brute);
}

TEST(VariantMasks, DensityMatchingFindsClosestBudget) {
    const HeadTensors head = testing::randomHead(256, 16, 16, true, 5);
    CpuBackend backend(2);
    const double visible = 256.0 * 257.0 / 2.0;
    for (const char* id : {"window", "streaming-llm", "topk", "moba"}) {
        const Variant& v = *findVariant(id);
        ParamValues base;
        if (std::string(id) == "moba") base["block"] = 16;
        for (double target : {0.05, 0.1, 0.3}) {
            const ParamValues p = paramsForDensity(v, head, base, target, backend);
            const double achieved = static_cast<double>(v.keptCellCount(head, p, backend)) / visible;
            // No other budget value lands closer.
            for (double delta : {-1.0, 1.0}) {
                ParamValues other = p;
                other[v.budgetParameter()] += delta;
                const auto spec = v.parameters();
                if (other[v.budgetParameter()] < 0) continue;
                try {
                    other = resolveParams(v, other);
                } catch (const ParamError&) {
                    continue;
                }
                const double d2 = static_cast<double>(v.keptCellCount(head, other, backend)) / visible;
                EXPECT_LE(std::abs(achieved - target), std::abs(d2 - target) + 1e-12) << id << " target " << target;
            }
        }
    }
    EXPECT_THROW(paramsForDensity(*findVariant("dense"), head, {}, 0.1, backend), ParamError);
}

}  // namespace
}  // namespace attnscope

namespace attnscope {
namespace {

TEST(VariantMasks, BudgetCountersAgreeWithPlannedMasks) {
    // MoBA ranks blocks once for all budgets; every budget must count exactly what its plan keeps.
    for (bool causal : {true, false}) {
        const HeadTensors head = testing::randomHead(300, 16, 16, causal, 55, 2.0f);
        CpuBackend backend(2);
        for (const char* id : {"moba", "window", "streaming-llm"}) {
            const Variant& v = *findVariant(id);
            ParamValues base = resolveParams(v, {});
            if (std::string(id) == "moba") base["block"] = 32;
            const Variant::BudgetCounter counter = v.budgetCounter(head, base, backend);
            for (long long budget : {0LL, 1LL, 2LL, 5LL, 9LL, 40LL}) {
                ParamValues p = base;
                p[v.budgetParameter()] = static_cast<double>(budget);
                if (budget < v.parameters().back().minValue && std::string(id) != "moba") continue;
                if (std::string(id) != "moba" && budget == 0) continue;
                EXPECT_EQ(counter(budget), countKeptCells(v.plan(head, p, backend).mask, head.config, head.seqLen))
                    << id << " budget " << budget << (causal ? " causal" : " bidirectional");
            }
        }
    }
}

}  // namespace
}  // namespace attnscope
