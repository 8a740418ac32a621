// The base image of a head's map: the finest block-pyramid level no more than kMaxPyramidBaseSide
// blocks a side, as mean and max per block. The map draws it under the tiles, so that a head shows
// whole at once and dense tiles are computed only where a texel is finer than a base block.
// No Qt, no Vulkan: shared by the compute session and the head-switch benchmark.
#pragma once

#include <vector>

#include "attnscope/head-statistics.h"
#include "attnscope/head-tensors.h"

namespace attnscope::views {

constexpr int kMaxPyramidBaseSide = 2048;

struct PyramidBaseImage {
    int cellsPerBlock = 64;  // cells a side of one base texel
    int rows = 0, cols = 0;
    std::vector<float> mean, max;  // [rows, cols]; NaN where a block has no visible cell
};

PyramidBaseImage pyramidBaseImage(const BlockGrid& blocks, const AttentionConfig& config, int seqLen);

// The first tile level whose texels cover whole base texels: dense tiles at this level and above
// are exact in the base image and are not computed.
int pyramidCutLevel(int baseCellsPerBlock);

}  // namespace attnscope::views
