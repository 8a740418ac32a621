// The CPU backend's one-pass evaluateMaskBatch against Backend's reference implementation (one
// evaluateVariant per plan and per budget, bisection for the needed budget) on synthetic heads:
// density, recall, output error and Jaccard bit for bit, oracle recall to rounding (it is summed in a
// different order), the same needed budgets and densities; kept key sets (KV eviction) bit for bit
// against the reference and analysis::evaluateKeptSet.
#include <gtest/gtest.h>

#include <cmath>

#include "attnscope/analysis/analysis-common.h"
#include "attnscope/cpu-backend.h"
#include "attnscope/variant.h"
#include "brute-force-reference.h"
#include "test-helpers.h"

namespace attnscope {
namespace {

void expectSameMetrics(const VariantMetrics& fast, const VariantMetrics& ref, const std::string& what) {
    EXPECT_EQ(fast.keptCells, ref.keptCells) << what;
    EXPECT_EQ(fast.visibleCells, ref.visibleCells) << what;
    EXPECT_EQ(fast.density, ref.density) << what;
    EXPECT_EQ(fast.recall, ref.recall) << what;
    EXPECT_EQ(fast.outputError, ref.outputError) << what;
    EXPECT_EQ(fast.oracleJaccard, ref.oracleJaccard) << what;
    EXPECT_TRUE(testing::closeRelative(fast.oracleRecall, ref.oracleRecall, 1e-12)) << what;
}

MaskBatch sweepsOf(const HeadTensors& head, Backend& backend, double target) {
    MaskBatch batch;
    for (const char* id : {"window", "streaming-llm", "topk", "moba"}) {
        const Variant& v = *findVariant(id);
        BudgetSweep s;
        s.variant = &v;
        s.params = resolveParams(v, std::string(id) == "moba" ? ParamValues{{"block", 16}} : ParamValues{});
        for (double d : {0.01, 0.05, 0.2, 0.5, 0.9})
            s.budgets.push_back(static_cast<long long>(paramsForDensity(v, head, s.params, d, backend).at(v.budgetParameter())));
        s.budgets.push_back(static_cast<long long>(v.parameters().back().minValue));  // the smallest budget
        s.budgets.push_back(1 << 20);                                                 // beyond every entry
        s.recallTarget = target;
        s.searchLimit = static_cast<long long>(paramsForDensity(v, head, s.params, 1.0, backend).at(v.budgetParameter()));
        batch.sweeps.push_back(s);
    }
    return batch;
}

TEST(MaskBatch, OnePassEqualsReferencePath) {
    struct Case {
        const char* name;
        HeadTensors head;
    };
    const std::vector<Case> cases = {
        {"random causal T=150", testing::randomHead(150, 16, 12, true, 21, 1.5f)},
        {"random bidirectional T=133", testing::randomHead(133, 8, 8, false, 22, 2.0f)},
        {"random causal, native window 50, softcap, T=120", testing::randomHead(120, 8, 8, true, 23, 2.0f, 50, 5.0f)},
        {"integer ties bidirectional T=90", testing::integerHead(90, 4, false, 24, 1)},
    };
    for (const Case& c : cases) {
        CpuBackend cpu(2);
        const HeadStatistics dense = cpu.computeStatistics(c.head, {});
        for (double target : {0.95, 0.5, 0.999}) {
            MaskBatch batch = sweepsOf(c.head, cpu, target);
            if (target == 0.95) {
                // Plans: every SparseMask component, a union, an empty mask and linear attention.
                const int T = c.head.seqLen;
                VariantPlan window, sinks, columns, blocks, topk, none, linear;
                window.mask.windowSize = 9;
                sinks.mask.sinkTokens = 4;
                sinks.mask.windowSize = 3;
                columns.mask.columns = {1, 7, 30, T - 2};
                blocks.mask.blockSize = 32;
                blocks.mask.blockRows = blocks.mask.blockCols = (T + 31) / 32;
                blocks.mask.blocks.assign(static_cast<size_t>(blocks.mask.blockRows) * blocks.mask.blockCols, 0);
                for (int b = 0; b < blocks.mask.blockRows; ++b) blocks.mask.blocks[static_cast<size_t>(b) * blocks.mask.blockCols] = 1;
                topk.mask.rowTopK = cpu.computeRowThresholds(c.head, std::vector<int32_t>(T, 5));
                topk.mask.columns = {0};
                linear.mask.keepAll = true;
                linear.weights = WeightKind::LinearEluPlusOne;
                batch.plans = {window, sinks, columns, blocks, topk, none, linear};
            }
            const MaskBatchResult fast = cpu.evaluateMaskBatch(c.head, dense, batch);
            const MaskBatchResult ref = cpu.Backend::evaluateMaskBatch(c.head, dense, batch);
            ASSERT_EQ(fast.plans.size(), batch.plans.size());
            ASSERT_EQ(fast.sweeps.size(), batch.sweeps.size());
            for (size_t p = 0; p < batch.plans.size(); ++p)
                expectSameMetrics(fast.plans[p], ref.plans[p], std::string(c.name) + ", plan " + std::to_string(p));
            for (size_t s = 0; s < batch.sweeps.size(); ++s) {
                const std::string what = std::string(c.name) + ", " + batch.sweeps[s].variant->id() + ", target " +
                                         std::to_string(target);
                ASSERT_EQ(fast.sweeps[s].metrics.size(), batch.sweeps[s].budgets.size()) << what;
                for (size_t k = 0; k < batch.sweeps[s].budgets.size(); ++k)
                    expectSameMetrics(fast.sweeps[s].metrics[k], ref.sweeps[s].metrics[k],
                                      what + " budget " + std::to_string(batch.sweeps[s].budgets[k]));
                EXPECT_EQ(fast.sweeps[s].neededBudget, ref.sweeps[s].neededBudget) << what;
                EXPECT_EQ(std::isnan(fast.sweeps[s].neededDensity), std::isnan(ref.sweeps[s].neededDensity)) << what;
                if (!std::isnan(ref.sweeps[s].neededDensity)) {
                    EXPECT_EQ(fast.sweeps[s].neededDensity, ref.sweeps[s].neededDensity) << what;
                }
            }
        }
    }
}

TEST(MaskBatch, SweepWithoutTargetHasNoNeededBudget) {
    CpuBackend cpu(1);
    const HeadTensors head = testing::randomHead(70, 8, 8, true, 31);
    const HeadStatistics dense = cpu.computeStatistics(head, {});
    MaskBatch batch = sweepsOf(head, cpu, std::nan(""));
    const MaskBatchResult r = cpu.evaluateMaskBatch(head, dense, batch);
    for (const BudgetSweepResult& s : r.sweeps) {
        EXPECT_EQ(s.neededBudget, -1);
        EXPECT_TRUE(std::isnan(s.neededDensity));
    }
}

TEST(MaskBatch, KeptKeySetsEqualReferenceAndEvaluateKeptSet) {
    struct Case {
        const char* name;
        HeadTensors head;
    };
    const std::vector<Case> cases = {
        {"random causal T=150", testing::randomHead(150, 16, 12, true, 41, 1.5f)},
        {"random bidirectional T=133", testing::randomHead(133, 8, 40, false, 42, 2.0f)},
        {"random causal, native window 50, softcap, T=120", testing::randomHead(120, 8, 8, true, 43, 2.0f, 50, 5.0f)},
        {"integer ties causal T=90", testing::integerHead(90, 4, true, 44, 1)},
        {"random bidirectional T=600 (observed rows in several chunks)", testing::randomHead(600, 8, 8, false, 46, 1.5f)},
    };
    for (const Case& c : cases) {
        CpuBackend cpu(2);
        const int T = c.head.seqLen;
        const HeadStatistics dense = cpu.computeStatistics(c.head, {});
        std::vector<std::vector<int32_t>> sets = {{}, {0}, {1, 7, 30, T - 2}, {T - 1}};
        std::vector<int32_t> all(T), even, front, spread;
        for (int j = 0; j < T; ++j) all[j] = j;
        for (int j = 0; j < T; j += 2) even.push_back(j);
        for (int j = 0; j < T / 3; ++j) front.push_back(j);
        for (int j = 3; j < T; j += 7) spread.push_back(j);
        sets.insert(sets.end(), {all, even, front, spread});
        for (int rowBegin : {0, T - 10, T - 1, T, T + 5, -3}) {
            MaskBatch batch;
            batch.keptSets.rowBegin = rowBegin;
            batch.keptSets.sets = sets;
            if (rowBegin == T - 10) batch.plans.push_back(VariantPlan{});  // a plan in the same batch
            const MaskBatchResult fast = cpu.evaluateMaskBatch(c.head, dense, batch);
            const MaskBatchResult ref = cpu.Backend::evaluateMaskBatch(c.head, dense, batch);
            ASSERT_EQ(fast.keptSets.size(), sets.size());
            ASSERT_EQ(ref.keptSets.size(), sets.size());
            ASSERT_EQ(fast.plans.size(), batch.plans.size());
            for (size_t p = 0; p < batch.plans.size(); ++p) expectSameMetrics(fast.plans[p], ref.plans[p], c.name);
            for (size_t k = 0; k < sets.size(); ++k) {
                const std::string what = std::string(c.name) + ", rows from " + std::to_string(rowBegin) + ", set " +
                                         std::to_string(k);
                EXPECT_EQ(fast.keptSets[k].retainedMass, ref.keptSets[k].retainedMass) << what;
                EXPECT_EQ(fast.keptSets[k].outputError, ref.keptSets[k].outputError) << what;
                const analysis::KeptSetMetrics m = analysis::evaluateKeptSet(cpu, c.head, dense, sets[k], rowBegin);
                EXPECT_EQ(fast.keptSets[k].retainedMass, m.retainedMass) << what;
                EXPECT_EQ(fast.keptSets[k].outputError, m.outputError) << what;
            }
        }
    }
    CpuBackend cpu(1);
    const HeadTensors head = testing::randomHead(40, 8, 8, true, 45);
    const HeadStatistics dense = cpu.computeStatistics(head, {});
    MaskBatch unsorted;
    unsorted.keptSets.sets = {{3, 2}};
    EXPECT_THROW(cpu.evaluateMaskBatch(head, dense, unsorted), std::invalid_argument);
    EXPECT_THROW(cpu.Backend::evaluateMaskBatch(head, dense, unsorted), std::invalid_argument);
}

}  // namespace
}  // namespace attnscope
