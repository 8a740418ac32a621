// Layer-level entry points (attnscope/cuda-layer.h): validate the shape, build the HeadView and
// call the same launchers the Backend uses.
#include "attnscope/cuda-layer.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "cuda-check.h"
#include "launchers.h"
#include "overview-driver.h"

namespace attnscope::cuda {

namespace {

HeadView layerView(const LayerShape& s, const void* q, const void* k, const void* v) {
    if (s.seqLen <= 0 || s.seqLen % kTile != 0)
        throw std::invalid_argument("layer kernels: seqLen must be a positive multiple of 64, got " +
                                    std::to_string(s.seqLen));
    if (s.headDim < 32 || s.headDim > kMaxHeadDim || s.headDim % 16 != 0)
        throw std::invalid_argument("layer kernels: headDim must be 32..128 in steps of 16, got " +
                                    std::to_string(s.headDim));
    if (s.qHeads <= 0 || s.kvHeads <= 0 || s.qHeads % s.kvHeads != 0)
        throw std::invalid_argument("layer kernels: qHeads must be a positive multiple of kvHeads");
    HeadView h;
    h.q = q;
    h.k = k;
    h.v = v;
    h.seqLen = s.seqLen;
    h.rowsPadded = s.seqLen;
    h.qHeads = s.qHeads;
    h.kvHeads = s.kvHeads;
    h.causal = s.causal;
    h.window = s.window;
    h.scale = s.scale > 0.0f ? s.scale : 1.0f / std::sqrt(static_cast<float>(s.headDim));
    h.softcap = s.softcap;
    return h;
}

Element element(LayerDType t) { return t == LayerDType::BFloat16 ? Element::BFloat16 : Element::Float16; }

}  // namespace

void layerForward(const LayerShape& shape, LayerDType dtype, const void* q, const void* k, const void* v, float* out,
                  float* rowMax, float* rowLse, float* rowEntropy, bool splitP, const int* blockOffsets,
                  const int* blockList, void* stream) {
    const HeadView h = layerView(shape, q, k, v);
    ForwardArgs a;
    a.out = out;
    a.rowMax = rowMax;
    a.rowLse = rowLse;
    a.rowEntropy = rowEntropy;
    a.splitP = splitP;
    a.blockOffsets = blockOffsets;
    a.blockList = blockList;
    launchForward(element(dtype), shape.headDim, h, a, static_cast<cudaStream_t>(stream));
}

void layerStatistics(const LayerShape& shape, LayerDType dtype, const void* q, const void* k, const float* rowLse,
                     float* columnSums, float* blockSum, float* blockMax, void* stream) {
    const HeadView h = layerView(shape, q, k, nullptr);
    StatisticsArgs a;
    a.rowLse = rowLse;
    a.columnSums = columnSums;
    a.blockSum = blockSum;
    a.blockMax = blockMax;
    launchStatistics(element(dtype), shape.headDim, h, a, static_cast<cudaStream_t>(stream));
}

std::vector<HeadOverview> layerOverview(const LayerShape& shape, LayerDType dtype, const void* q, const void* k,
                                        const std::vector<OverviewMask>& masks, void* stream) {
    const HeadView h = layerView(shape, q, k, nullptr);
    return runLayerOverview(element(dtype), shape.headDim, shape.headDim, h, masks, static_cast<cudaStream_t>(stream));
}

}  // namespace attnscope::cuda
