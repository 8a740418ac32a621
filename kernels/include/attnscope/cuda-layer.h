// Layer-level entry points of the CUDA kernels: all query heads of one layer in one launch, GQA
// native (query head h reads K/V head h / (qHeads / kvHeads); K/V are never expanded). For
// benchmarks and batch tools that already hold device tensors; the Backend interface stays per head.
#pragma once

#include <vector>

#include "attnscope/layer-overview.h"

namespace attnscope::cuda {

enum class LayerDType { BFloat16, Float16 };

struct LayerShape {
    int qHeads = 32;
    int kvHeads = 8;
    int seqLen = 0;     // multiple of 64
    int headDim = 128;  // 32..128 in steps of 16
    bool causal = true;
    float scale = 0.0f;  // 0: 1/sqrt(headDim)
    int window = 0;
    float softcap = 0.0f;
};

// All pointers are device pointers. q [qHeads, T, d], k and v [kvHeads, T, d] row-major;
// out [qHeads, T, d] fp32; rowMax, rowLse, rowEntropy [qHeads, T] fp32.
// splitP: hi/lo 16-bit P in the P.V product (~1e-5 output error; false: one 16-bit P, ~1e-3, the
// precision of other flash kernels, about 1.3x faster).
// blockOffsets/blockList (optional, device): block-sparse forward, query block b visits key blocks
// blockList[blockOffsets[b] .. blockOffsets[b+1]) (64x64 blocks, ascending per query block, same for
// every head).
// stream: a cudaStream_t (nullptr = default stream). Throws attnscope::BackendError on CUDA errors.
void layerForward(const LayerShape& shape, LayerDType dtype, const void* q, const void* k, const void* v, float* out,
                  float* rowMax, float* rowLse, float* rowEntropy, bool splitP, const int* blockOffsets,
                  const int* blockList, void* stream);

// Statistics pass with the forward's rowLse: columnSums [qHeads, T]; blockSum and blockMax
// [qHeads, T/64, T/64] fp32.
void layerStatistics(const LayerShape& shape, LayerDType dtype, const void* q, const void* k, const float* rowLse,
                     float* columnSums, float* blockSum, float* blockMax, void* stream);

// Whole-model overview of the layer (attnscope/layer-overview.h): sink mass, mean entropy and, per
// mask recipe (at most 8), recall and kept cells of every query head. q and k as above (v unused).
std::vector<HeadOverview> layerOverview(const LayerShape& shape, LayerDType dtype, const void* q, const void* k,
                                        const std::vector<OverviewMask>& masks, void* stream);

}  // namespace attnscope::cuda
