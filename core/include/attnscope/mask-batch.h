// Many masks of one head measured together (Backend::evaluateMaskBatch): fixed plans (the pattern
// candidates), budget sweeps of nested-mask variants (the head sensitivity sweep and its search for
// the budget a recall target needs) and kept key sets on a range of query rows (KV eviction). The metrics
// are those of Backend::evaluateVariant (variant-evaluation.h, docs/metrics.md), and for kept key sets
// those of analysis::evaluateKeptSet; no output or normalizers are returned.
#pragma once

#include <limits>
#include <vector>

#include "attnscope/sparse-mask.h"
#include "attnscope/variant-evaluation.h"
#include "attnscope/variant.h"

namespace attnscope {

// One variant at several budgets, the other parameters fixed.
struct BudgetSweep {
    const Variant* variant = nullptr;  // must have a budget parameter
    ParamValues params;                // complete (resolveParams); the budget parameter's value is ignored
    std::vector<long long> budgets;    // metrics at each of these budget values
    // When not NaN: also the smallest budget in [the parameter's minimum, searchLimit] whose recall
    // reaches recallTarget, provided searchLimit's does (recall does not decrease with the budget).
    double recallTarget = std::numeric_limits<double>::quiet_NaN();
    long long searchLimit = 0;         // e.g. the budget of density 1 (paramsForDensity)
};

struct BudgetSweepResult {
    std::vector<VariantMetrics> metrics;  // per budgets[k]
    long long neededBudget = -1;          // -1: no target, or even searchLimit misses it
    double neededDensity = std::numeric_limits<double>::quiet_NaN();  // density at neededBudget
};

// Kept key sets (KV eviction / token pruning: a columns-only mask, the same keys for every query) measured
// on the observed query rows [rowBegin, T) only, as analysis::evaluateKeptSet does (analysis-common.h):
// evaluateVariant of the plan with mask.columns = the set, then over the observed rows
//   retainedMass = mean of min(1, exp(rowNormalizer_i - LSE_i)) (0 where the row keeps nothing),
//   outputError  = ||O_kept - O||_F / ||O||_F with O_kept the stored fp32 output (zero where nothing is kept),
// every sum in row order, then column order. No VariantMetrics are computed for these sets.
struct KeptKeySets {
    int rowBegin = 0;                         // clamped to [0, T]
    std::vector<std::vector<int32_t>> sets;   // each sorted ascending, no duplicates; may be empty
};

struct KeptKeyMetrics {
    double retainedMass = 0.0;
    double outputError = 0.0;
};

struct MaskBatch {
    std::vector<VariantPlan> plans;
    std::vector<BudgetSweep> sweeps;
    KeptKeySets keptSets;
};

struct MaskBatchResult {
    std::vector<VariantMetrics> plans;        // per batch.plans
    std::vector<BudgetSweepResult> sweeps;    // per batch.sweeps
    std::vector<KeptKeyMetrics> keptSets;     // per batch.keptSets.sets
};

// One kept key set measured as KeptKeySets describes, with backend.evaluateVariant (the default
// evaluateMaskBatch, and analysis::evaluateKeptSet, use it). Validates the set.
KeptKeyMetrics evaluateKeptKeySet(Backend& backend, const HeadTensors& head, const HeadStatistics& dense,
                                  const std::vector<int32_t>& set, int rowBegin, JobControl* job);

// Throws std::invalid_argument unless the keys are strictly increasing.
void validateKeptKeySet(const std::vector<int32_t>& set);

}  // namespace attnscope
