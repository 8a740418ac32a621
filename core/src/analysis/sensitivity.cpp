// Head sensitivity sweep (see the header). Every number is a Backend::evaluateVariant against the
// head's dense statistics; the needed-density search relies on recall not decreasing with the budget
// parameter, which holds for the nested masks of window, streaming-llm, topk and moba.
#include "attnscope/analysis/sensitivity.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnscope::analysis {

std::vector<const Variant*> resolveSensitivityVariants(const std::vector<std::string>& ids) {
    std::vector<const Variant*> out;
    for (const std::string& id : ids) {
        const Variant* v = findVariant(id);
        if (!v) throw ParamError("unknown variant '" + id + "'");
        if (v->budgetParameter().empty())
            throw ParamError("variant '" + id + "' has no budget parameter, so it has no density sweep");
        out.push_back(v);
    }
    return out;
}

HeadSensitivity analyzeHeadSensitivity(const HeadTensors& head, Backend& backend, const SensitivityOptions& options,
                                       JobControl* job) {
    const std::vector<const Variant*> variants = resolveSensitivityVariants(options.variants);
    HeadSensitivity result;
    result.layer = head.layer;
    result.head = head.queryHead;
    const HeadStatistics dense = backend.computeStatistics(head, {}, job);
    auto run = [&](const Variant& v, const ParamValues& params) {
        return backend.evaluateVariant(head, dense, v.plan(head, params, backend), job).metrics;
    };
    for (size_t vi = 0; vi < variants.size(); ++vi) {
        const Variant& v = *variants[vi];
        const std::string budget = v.budgetParameter();
        for (double d : options.densities) {
            SensitivityPoint p;
            p.variant = static_cast<int>(vi);
            p.targetDensity = d;
            p.params = paramsForDensity(v, head, {}, d, backend);
            p.metrics = run(v, p.params);
            result.points.push_back(p);
        }
        if (!options.neededDensity) {
            result.neededDensity.push_back(std::numeric_limits<double>::quiet_NaN());
            continue;
        }
        // Bracket the budget with the sweep, then bisect: lo fails the target (or is the minimum), hi meets it.
        const ParamValues full = paramsForDensity(v, head, {}, 1.0, backend);
        long long lo = -1, hi = static_cast<long long>(full.at(budget));
        VariantMetrics hiMetrics = run(v, full);
        if (hiMetrics.recall < options.recallTarget) {
            result.neededDensity.push_back(std::numeric_limits<double>::quiet_NaN());
            continue;
        }
        for (const SensitivityPoint& p : result.points) {
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
    if (options.classify) result.pattern = classifyHeadPattern(head, dense, backend, options.pattern, job);
    return result;
}

ModelSensitivityReport analyzeModelSensitivity(const ModelShape& shape, const HeadSource& source, Backend& backend,
                                               const SensitivityOptions& options, JobControl* job) {
    resolveSensitivityVariants(options.variants);  // fail before any work
    ModelSensitivityReport report;
    report.shape = shape;
    report.options = options;
    const int total = shape.numLayers * shape.numHeads;
    for (int l = 0; l < shape.numLayers; ++l)
        for (int h = 0; h < shape.numHeads; ++h) {
            throwIfCancelled(job);
            HeadTensors head = source(l, h);
            report.seqLen = head.seqLen;
            HeadSensitivity s = analyzeHeadSensitivity(head, backend, options, nullptr);
            s.layer = l;
            s.head = h;
            report.heads.push_back(std::move(s));
            reportProgress(job, "sensitivity", static_cast<double>(l * shape.numHeads + h + 1) / total);
        }
    return report;
}

}  // namespace attnscope::analysis
