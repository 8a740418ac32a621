// Head sensitivity sweep (see the header). Every number is a metric of Backend::evaluateVariant against the
// head's dense statistics; the budgets come from paramsForDensity, and the whole head (the variants' density
// sweeps, their needed-budget searches and the pattern candidates) is one Backend::evaluateMaskBatch. The
// needed-density search relies on recall not decreasing with the budget parameter, which holds for the
// nested masks of window, streaming-llm, topk and moba.
#include "attnscope/analysis/sensitivity.h"

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
    resolveSensitivityVariants(options.variants);  // fail before any work
    return analyzeHeadSensitivity(head, backend.computeStatistics(head, {}, job), backend, options, job);
}

HeadSensitivity analyzeHeadSensitivity(const HeadTensors& head, const HeadStatistics& dense, Backend& backend,
                                       const SensitivityOptions& options, JobControl* job) {
    const std::vector<const Variant*> variants = resolveSensitivityVariants(options.variants);
    HeadSensitivity result;
    result.layer = head.layer;
    result.head = head.queryHead;

    // Every variant's sweep and the pattern candidates go to the backend as one batch.
    MaskBatch batch;
    for (size_t vi = 0; vi < variants.size(); ++vi) {
        const Variant& v = *variants[vi];
        const std::string budget = v.budgetParameter();
        BudgetSweep& sweep = batch.sweeps.emplace_back();
        sweep.variant = &v;
        sweep.params = resolveParams(v, {});
        for (double d : options.densities) {
            SensitivityPoint& p = result.points.emplace_back();
            p.variant = static_cast<int>(vi);
            p.targetDensity = d;
            p.params = paramsForDensity(v, head, {}, d, backend);
            sweep.budgets.push_back(static_cast<long long>(p.params.at(budget)));
        }
        if (options.neededDensity) {
            sweep.recallTarget = options.recallTarget;
            sweep.searchLimit = static_cast<long long>(paramsForDensity(v, head, {}, 1.0, backend).at(budget));
        }
    }
    std::vector<PatternCandidateMask> candidates;
    if (options.classify) candidates = patternCandidateMasks(head, dense, backend, options.pattern, job);
    for (const PatternCandidateMask& c : candidates) batch.plans.push_back({c.mask, WeightKind::SoftmaxInMask});

    const MaskBatchResult measured = backend.evaluateMaskBatch(head, dense, batch, job);
    const size_t nd = options.densities.size();
    for (size_t vi = 0; vi < variants.size(); ++vi) {
        const BudgetSweepResult& r = measured.sweeps[vi];
        for (size_t d = 0; d < nd; ++d) result.points[vi * nd + d].metrics = r.metrics[d];
        result.neededDensity.push_back(r.neededDensity);
    }
    if (options.classify) result.pattern = classifyPatternCandidates(candidates, measured.plans, options.pattern);
    return result;
}

ModelSensitivityReport analyzeModelSensitivity(const ModelShape& shape, const HeadSource& source, Backend& backend,
                                               const SensitivityOptions& options, JobControl* job,
                                               DenseStatisticsCache* cache) {
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
            const auto dense = denseStatistics(cache, l, h, head, backend, StatisticsRequest{});
            HeadSensitivity s = analyzeHeadSensitivity(head, *dense, backend, options, nullptr);
            s.layer = l;
            s.head = h;
            report.heads.push_back(std::move(s));
            reportProgress(job, "sensitivity", static_cast<double>(l * shape.numHeads + h + 1) / total);
        }
    return report;
}

}  // namespace attnscope::analysis
