// Whole-model overview driver (see the header): budgets once, then one computeLayerOverview per layer.
#include "attnscope/analysis/model-overview.h"

#include <stdexcept>

namespace attnscope::analysis {

ModelOverviewReport analyzeModelOverview(const ModelShape& shape, const LayerSource& source, Backend& backend,
                                         const OverviewOptions& options, JobControl* job) {
    if (shape.numLayers <= 0 || shape.numHeads <= 0)
        throw std::invalid_argument("overview needs at least one layer and one head");
    std::vector<const Variant*> variants;
    if (options.variants.empty()) {
        for (const auto& v : variantRegistry()) variants.push_back(v.get());
    } else {
        for (const std::string& id : options.variants) {
            const Variant* v = findVariant(id);
            if (!v) throw ParamError("unknown variant '" + id + "'");
            variants.push_back(v);
        }
    }
    ModelOverviewReport report;
    report.shape = shape;
    report.options = options;
    std::vector<OverviewMask> masks;
    for (int l = 0; l < shape.numLayers; ++l) {
        throwIfCancelled(job);
        const LayerTensors layer = source(l);
        if (layer.qHeads != shape.numHeads)
            throw std::invalid_argument("overview: layer " + std::to_string(l) + " has " + std::to_string(layer.qHeads) +
                                        " query heads, expected " + std::to_string(shape.numHeads));
        if (l == 0) {
            report.seqLen = layer.seqLen;
            const HeadTensors first = layer.head(0);
            for (const Variant* v : variants) {
                ParamValues params = resolveParams(*v, {});
                if (!v->budgetParameter().empty()) params = paramsForDensity(*v, first, params, options.density, backend);
                masks.push_back(overviewMaskFor(*v, params));
                report.variants.push_back(v->id());
                report.params.push_back(params);
            }
        }
        std::vector<HeadOverview> heads = backend.computeLayerOverview(layer, masks);
        for (HeadOverview& h : heads) report.heads.push_back(std::move(h));
        reportProgress(job, "overview", static_cast<double>(l + 1) / shape.numLayers);
    }
    return report;
}

}  // namespace attnscope::analysis
