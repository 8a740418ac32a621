// Many masks of one head measured together (Backend::evaluateMaskBatch): fixed plans (the pattern
// candidates) and budget sweeps of nested-mask variants (the head sensitivity sweep and its search for
// the budget a recall target needs). The metrics are those of Backend::evaluateVariant
// (variant-evaluation.h, docs/metrics.md); no output or normalizers are returned.
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

struct MaskBatch {
    std::vector<VariantPlan> plans;
    std::vector<BudgetSweep> sweeps;
};

struct MaskBatchResult {
    std::vector<VariantMetrics> plans;        // per batch.plans
    std::vector<BudgetSweepResult> sweeps;    // per batch.sweeps
};

}  // namespace attnscope
