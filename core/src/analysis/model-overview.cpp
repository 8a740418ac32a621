// Whole-model overview driver (see the header): budgets once, then one computeLayerOverview per layer,
// with the next layer loading on a background thread meanwhile.
#include "attnscope/analysis/model-overview.h"

#include <future>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace attnscope::analysis {

ModelOverviewReport analyzeModelOverview(const ModelShape& shape, const LayerSource& source, Backend& backend,
                                         const OverviewOptions& options, JobControl* job) {
    return analyzeModelOverview(
        shape, LayerLoader([&source](int layer, LayerTensors& into) { into = source(layer); }), backend, options, job);
}

ModelOverviewReport analyzeModelOverview(const ModelShape& shape, const LayerLoader& load, Backend& backend,
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
    // Two layers' storage, used in turn: layer l + 1 loads into one while the backend reads the other.
    // `pending` is declared after `buffers`, so on any exit it is waited for (a std::async future's
    // destructor blocks) before the buffer it writes goes away.
    LayerTensors buffers[2];
    std::future<void> pending;
    auto startLoading = [&](int l) {
        LayerTensors& into = buffers[l % 2];
        try {
            pending = std::async(std::launch::async, [&load, &into, l] { load(l, into); });
        } catch (const std::system_error&) {  // no thread to be had: load on this thread when needed
            pending = std::async(std::launch::deferred, [&load, &into, l] { load(l, into); });
        }
    };
    for (int l = 0; l < shape.numLayers; ++l) {
        throwIfCancelled(job);
        if (l == 0) startLoading(0);
        pending.get();  // rethrows what loading layer l threw
        if (l + 1 < shape.numLayers) startLoading(l + 1);
        const LayerTensors& layer = buffers[l % 2];
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
