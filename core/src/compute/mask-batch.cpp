// The reference Backend::evaluateMaskBatch (see backend.h): one evaluateVariant per plan and per swept
// budget; the needed budget is bracketed by the swept budgets, then bisected over the integer budget
// (recall does not decrease with the budget for nested masks). Backends override it with a one-pass
// version and are tested against this one.
#include <cmath>
#include <stdexcept>
#include <string>

#include "attnscope/backend.h"

namespace attnscope {

namespace {

long long budgetMinimum(const Variant& variant) {
    const std::string budget = variant.budgetParameter();
    for (const ParamSpec& s : variant.parameters())
        if (s.name == budget) return static_cast<long long>(s.minValue);
    throw std::invalid_argument("mask batch: variant '" + variant.id() + "' has no budget parameter");
}

}  // namespace

MaskBatchResult Backend::evaluateMaskBatch(const HeadTensors& head, const HeadStatistics& dense, const MaskBatch& batch,
                                           JobControl* job) {
    MaskBatchResult result;
    for (const VariantPlan& plan : batch.plans) result.plans.push_back(evaluateVariant(head, dense, plan, job).metrics);
    for (const BudgetSweep& sweep : batch.sweeps) {
        const Variant& v = *sweep.variant;
        const long long minBudget = budgetMinimum(v);
        const std::string budget = v.budgetParameter();
        auto run = [&](long long value) {
            ParamValues params = sweep.params;
            params[budget] = static_cast<double>(value);
            return evaluateVariant(head, dense, v.plan(head, params, *this), job).metrics;
        };
        BudgetSweepResult& r = result.sweeps.emplace_back();
        for (long long b : sweep.budgets) r.metrics.push_back(run(b));
        if (std::isnan(sweep.recallTarget)) continue;
        // lo misses the target (or lies below the minimum), hi meets it.
        long long lo = -1, hi = sweep.searchLimit;
        VariantMetrics hiMetrics = run(hi);
        if (hiMetrics.recall < sweep.recallTarget) continue;
        for (size_t k = 0; k < sweep.budgets.size(); ++k) {
            const long long b = sweep.budgets[k];
            if (r.metrics[k].recall >= sweep.recallTarget && b < hi) {
                hi = b;
                hiMetrics = r.metrics[k];
            } else if (r.metrics[k].recall < sweep.recallTarget && b > lo) {
                lo = b;
            }
        }
        if (lo < minBudget) lo = minBudget - 1;
        while (hi - lo > 1) {
            const long long mid = lo + (hi - lo) / 2;
            const VariantMetrics m = run(mid);
            if (m.recall >= sweep.recallTarget) {
                hi = mid;
                hiMetrics = m;
            } else {
                lo = mid;
            }
        }
        r.neededBudget = hi;
        r.neededDensity = hiMetrics.density;
    }
    return result;
}

}  // namespace attnscope
