// The whole-model overview (TARGETS.md): per (layer, query head) the sink mass on token 0, the mean
// row entropy and the recall of each variant at one density, layer by layer through
// Backend::computeLayerOverview (the CUDA backend runs a whole layer in a few launches).
// Definitions: docs/analyses.md "Whole-model overview".
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "attnscope/analysis/analysis-common.h"
#include "attnscope/layer-overview.h"

namespace attnscope::analysis {

// layer -> every head of it.
using LayerSource = std::function<LayerTensors(int layer)>;
// The same, written into `into`, whose storage may be that of a layer loaded before (the CLI passes
// CaptureReader::loadLayer(layer, into)): the overview loads into two LayerTensors in turn.
using LayerLoader = std::function<void(int layer, LayerTensors& into)>;

struct OverviewOptions {
    std::vector<std::string> variants;  // empty: every registered variant
    double density = 0.10;              // budgeted variants are matched to it (paramsForDensity)
};

struct ModelOverviewReport {
    ModelShape shape;
    int seqLen = 0;
    OverviewOptions options;
    std::vector<std::string> variants;  // ids, in column order
    std::vector<ParamValues> params;    // per variant, the parameters used for every head
    std::vector<HeadOverview> heads;    // [L * H], layer-major
    const HeadOverview& at(int layer, int head) const { return heads[static_cast<size_t>(layer) * shape.numHeads + head]; }
};

// Budgets are chosen once, on head (0, 0), and used for every head: the kept-cell counts of these
// masks depend on the model's mask and T, not on the head's values (MoBA's can, under a native
// window), and each head's achieved density is reported. Throws ParamError for an unknown variant
// or one without an overview recipe.
// Layer l + 1 is loaded on a background thread while the backend computes layer l; the source is
// called from that thread only, one layer at a time, in layer order. Its exceptions surface here, as
// they would from a call on this thread; cancellation is checked before each layer.
ModelOverviewReport analyzeModelOverview(const ModelShape& shape, const LayerSource& source, Backend& backend,
                                         const OverviewOptions& options = {}, JobControl* job = nullptr);
ModelOverviewReport analyzeModelOverview(const ModelShape& shape, const LayerLoader& load, Backend& backend,
                                         const OverviewOptions& options = {}, JobControl* job = nullptr);

}  // namespace attnscope::analysis
