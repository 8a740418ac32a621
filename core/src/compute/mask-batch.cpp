// The reference Backend::evaluateMaskBatch (see backend.h): one evaluateVariant per plan and per swept
// budget; the needed budget is bracketed by the swept budgets, then bisected over the integer budget
// (recall does not decrease with the budget for nested masks); kept key sets as analysis::evaluateKeptSet
// measures them (one evaluateVariant per set, all T rows, then the sums over the observed rows). Backends
// override it with a one-pass version and are tested against this one.
#include <algorithm>
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
    for (const std::vector<int32_t>& set : batch.keptSets.sets)
        result.keptSets.push_back(evaluateKeptKeySet(*this, head, dense, set, batch.keptSets.rowBegin, job));
    return result;
}

KeptKeyMetrics evaluateKeptKeySet(Backend& backend, const HeadTensors& head, const HeadStatistics& dense,
                                  const std::vector<int32_t>& set, int rowBegin, JobControl* job) {
    validateKeptKeySet(set);
    const int T = head.seqLen;
    const int dv = head.valueDim;
    rowBegin = std::clamp(rowBegin, 0, T);
    KeptKeyMetrics m;
    if (rowBegin == T) return m;
    VariantEvaluation eval;
    if (set.empty()) {
        // An empty columns list means "no column component", i.e. nothing kept: the output is zero.
        eval.rowNormalizer.assign(T, -INFINITY);
        eval.output.assign(static_cast<size_t>(T) * dv, 0.0f);
    } else {
        VariantPlan plan;
        plan.mask.columns = set;
        eval = backend.evaluateVariant(head, dense, plan, job);
    }
    double mass = 0.0, diff2 = 0.0, ref2 = 0.0;
    for (int i = rowBegin; i < T; ++i) {
        const double lse = eval.rowNormalizer[i];
        mass += std::isfinite(lse) ? std::min(1.0, std::exp(lse - dense.rowLse[i])) : 0.0;
        for (int c = 0; c < dv; ++c) {
            const double o = dense.output[static_cast<size_t>(i) * dv + c];
            const double d = eval.output[static_cast<size_t>(i) * dv + c] - o;
            diff2 += d * d;
            ref2 += o * o;
        }
    }
    m.retainedMass = mass / (T - rowBegin);
    m.outputError = ref2 > 0.0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
    return m;
}

void validateKeptKeySet(const std::vector<int32_t>& set) {
    for (size_t r = 1; r < set.size(); ++r)
        if (set[r] <= set[r - 1])
            throw std::invalid_argument("mask batch: a kept key set must be strictly increasing");
}

}  // namespace attnscope
