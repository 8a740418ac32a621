// Layer tensors, the variants' overview recipes and the per-head reference implementation of
// Backend::computeLayerOverview (see layer-overview.h).
#include "attnscope/layer-overview.h"

#include <stdexcept>
#include <string>

#include "attnscope/backend.h"

namespace attnscope {

void validateLayerTensors(const LayerTensors& layer) {
    const std::string where = "layer " + std::to_string(layer.layer) + ": ";
    if (layer.qHeads <= 0 || layer.kvHeads <= 0 || layer.qHeads % layer.kvHeads != 0)
        throw std::invalid_argument(where + "query heads must be a positive multiple of KV heads");
    if (layer.seqLen <= 0 || layer.headDim <= 0 || layer.valueDim <= 0)
        throw std::invalid_argument(where + "sequence length and head dims must be positive");
    const size_t T = static_cast<size_t>(layer.seqLen);
    if (layer.q.size() != layer.qHeads * T * layer.headDim)
        throw std::invalid_argument(where + "q must hold qHeads x seqLen x headDim values");
    if (layer.k.size() != layer.kvHeads * T * layer.headDim)
        throw std::invalid_argument(where + "k must hold kvHeads x seqLen x headDim values");
    if (layer.v.size() != layer.kvHeads * T * layer.valueDim)
        throw std::invalid_argument(where + "v must hold kvHeads x seqLen x valueDim values");
    if (!(layer.config.softmaxScale > 0.0f)) throw std::invalid_argument(where + "softmax scale must be positive");
}

HeadTensors LayerTensors::head(int queryHead) const {
    if (queryHead < 0 || queryHead >= qHeads) throw std::out_of_range("query head " + std::to_string(queryHead));
    const int kv = queryHead / (qHeads / kvHeads);
    const size_t T = static_cast<size_t>(seqLen);
    HeadTensors h;
    h.seqLen = seqLen;
    h.headDim = headDim;
    h.valueDim = valueDim;
    h.q.assign(q.begin() + queryHead * T * headDim, q.begin() + (queryHead + 1) * T * headDim);
    h.k.assign(k.begin() + kv * T * headDim, k.begin() + (kv + 1) * T * headDim);
    h.v.assign(v.begin() + kv * T * valueDim, v.begin() + (kv + 1) * T * valueDim);
    h.config = config;
    h.storage = storage;
    h.layer = layer;
    h.queryHead = queryHead;
    h.kvHead = kv;
    return h;
}

OverviewMask overviewMaskFor(const Variant& variant, const ParamValues& params) {
    const std::string id = variant.id();
    OverviewMask m;
    m.label = id;
    if (id == "dense" || id == "linear-elu") {
        m.keepAll = true;  // linear attention weights every visible cell: all of the dense mass is inside
    } else if (id == "window") {
        m.windowSize = static_cast<int>(params.at("window"));
    } else if (id == "streaming-llm") {
        m.sinkTokens = static_cast<int>(params.at("sinks"));
        m.windowSize = static_cast<int>(params.at("window"));
    } else if (id == "topk") {
        m.topK = static_cast<int>(params.at("k"));
    } else if (id == "moba") {
        m.gateBlock = static_cast<int>(params.at("block"));
        m.gateTopK = static_cast<int>(params.at("topk"));
    } else {
        throw ParamError("variant '" + id + "' has no overview recipe");
    }
    return m;
}

SparseMask buildOverviewMask(const OverviewMask& recipe, const HeadTensors& head, Backend& backend) {
    SparseMask mask;
    if (recipe.gateBlock > 0) {
        const Variant* moba = findVariant("moba");
        mask = moba->plan(head, {{"block", recipe.gateBlock}, {"topk", recipe.gateTopK}}, backend).mask;
    }
    mask.keepAll = recipe.keepAll;
    mask.sinkTokens = recipe.sinkTokens;
    mask.windowSize = recipe.windowSize;
    if (recipe.topK > 0) mask.rowTopK = backend.computeRowThresholds(head, std::vector<int32_t>(head.seqLen, recipe.topK));
    return mask;
}

std::vector<HeadOverview> Backend::computeLayerOverview(const LayerTensors& layer, const std::vector<OverviewMask>& masks,
                                                        JobControl* job) {
    validateLayerTensors(layer);
    StatisticsRequest request;
    request.blocks = false;
    std::vector<HeadOverview> out;
    for (int h = 0; h < layer.qHeads; ++h) {
        throwIfCancelled(job);
        const HeadTensors head = layer.head(h);
        const HeadStatistics dense = computeStatistics(head, request, job);
        HeadOverview o;
        o.sinkMass = dense.columnSums[0] / head.seqLen;
        for (double e : dense.rowEntropy) o.meanEntropy += e;
        o.meanEntropy /= head.seqLen;
        o.visibleCells = visibleCellCount(head.config, head.seqLen, 0, head.seqLen, 0, head.seqLen);
        MaskBatch batch;  // every mask of the head in one evaluation (one pass on the CPU backend)
        for (const OverviewMask& recipe : masks) {
            VariantPlan plan;
            plan.mask = buildOverviewMask(recipe, head, *this);
            batch.plans.push_back(std::move(plan));
        }
        for (const VariantMetrics& m : evaluateMaskBatch(head, dense, batch, job).plans) {
            o.recall.push_back(m.recall);
            o.keptCells.push_back(m.keptCells);
        }
        out.push_back(std::move(o));
        reportProgress(job, "overview", static_cast<double>(h + 1) / layer.qHeads);
    }
    return out;
}

}  // namespace attnscope
