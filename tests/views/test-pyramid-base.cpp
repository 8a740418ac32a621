// The map's base image (views/pyramid-base.h): per-block mean over visible cells and max, NaN for
// blocks with no visible cell, the finest level within kMaxPyramidBaseSide, and the tile level
// it serves. Block grids made by hand (no attention computed).
#include <gtest/gtest.h>

#include <cmath>

#include "pyramid-base.h"

using namespace attnscope;
using namespace attnscope::views;

namespace {
BlockGrid gridOf(int blocks, double sum, float max) {
    BlockGrid grid;
    grid.rows = grid.cols = blocks;
    grid.sum.assign(static_cast<size_t>(blocks) * blocks, sum);
    grid.max.assign(static_cast<size_t>(blocks) * blocks, max);
    return grid;
}
AttentionConfig causal() {
    AttentionConfig config;
    config.causal = true;
    return config;
}
}  // namespace

TEST(PyramidBase, MeanOverVisibleCellsAndNanAboveTheDiagonal) {
    // T = 128, causal: blocks (0,0) and (1,1) see 64 * 65 / 2 = 2080 cells, (1,0) all 4096, (0,1) none.
    BlockGrid grid = gridOf(2, 0.0, 0.0f);
    grid.sum = {20.8, 0.0, 40.96, 2.08};
    grid.max = {0.5f, 0.0f, 0.25f, 0.125f};
    const PyramidBaseImage image = pyramidBaseImage(grid, causal(), 128);
    EXPECT_EQ(image.cellsPerBlock, 64);
    ASSERT_EQ(image.rows, 2);
    ASSERT_EQ(image.cols, 2);
    EXPECT_FLOAT_EQ(image.mean[0], 20.8f / 2080.0f);
    EXPECT_TRUE(std::isnan(image.mean[1]));
    EXPECT_TRUE(std::isnan(image.max[1]));
    EXPECT_FLOAT_EQ(image.mean[2], 40.96f / 4096.0f);
    EXPECT_FLOAT_EQ(image.mean[3], 2.08f / 2080.0f);
    EXPECT_FLOAT_EQ(image.max[0], 0.5f);
    EXPECT_FLOAT_EQ(image.max[2], 0.25f);
}

TEST(PyramidBase, CoarserLevelOnceTheGridIsWiderThanTheLimit) {
    // 2049 blocks a side is one more than the limit: the base merges 2 x 2 blocks (1025 a side).
    const int blocks = kMaxPyramidBaseSide + 1;
    AttentionConfig bidirectional;
    bidirectional.causal = false;
    const PyramidBaseImage image = pyramidBaseImage(gridOf(blocks, 1.0, 0.5f), bidirectional, blocks * 64);
    EXPECT_EQ(image.cellsPerBlock, 128);
    EXPECT_EQ(image.rows, 1025);
    EXPECT_EQ(image.cols, 1025);
    // A full 2 x 2 merge sums 4 blocks over 4 x 4096 cells; the last row and column merge one.
    EXPECT_FLOAT_EQ(image.mean[0], 4.0f / (4 * 4096));
    EXPECT_FLOAT_EQ(image.max[0], 0.5f);
    EXPECT_FLOAT_EQ(image.mean.back(), 1.0f / 4096);
}

TEST(PyramidBase, CutLevelIsTheFirstTileLevelCoveringABaseTexel) {
    EXPECT_EQ(pyramidCutLevel(1), 0);
    EXPECT_EQ(pyramidCutLevel(64), 6);
    EXPECT_EQ(pyramidCutLevel(128), 7);
}
