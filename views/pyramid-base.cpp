#include "pyramid-base.h"

#include <limits>

#include "attnscope/block-pyramid.h"

namespace attnscope::views {

PyramidBaseImage pyramidBaseImage(const BlockGrid& blocks, const AttentionConfig& config, int seqLen) {
    const BlockPyramid pyramid(blocks, config, seqLen);
    int level = 0;
    while (level + 1 < pyramid.levelCount() && pyramid.level(level).rows > kMaxPyramidBaseSide) ++level;
    const PyramidLevel& base = pyramid.level(level);
    PyramidBaseImage image;
    image.cellsPerBlock = base.cellsPerBlock;
    image.rows = base.rows;
    image.cols = base.cols;
    const size_t n = static_cast<size_t>(base.rows) * base.cols;
    image.mean.resize(n);
    image.max.resize(n);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (size_t i = 0; i < n; ++i) {
        const bool any = base.visibleCells[i] > 0;
        image.mean[i] = any ? static_cast<float>(base.sum[i] / base.visibleCells[i]) : nan;
        image.max[i] = any ? base.max[i] : nan;
    }
    return image;
}

int pyramidCutLevel(int baseCellsPerBlock) {
    int level = 0;
    while ((1 << level) < baseCellsPerBlock) ++level;
    return level;
}

}  // namespace attnscope::views
