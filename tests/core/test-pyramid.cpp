// Block pyramid levels against direct sums and maxima of the brute-force probabilities.
#include <gtest/gtest.h>

#include "attnscope/block-pyramid.h"
#include "attnscope/cpu-backend.h"
#include "brute-force-reference.h"
#include "test-helpers.h"

namespace attnscope {
namespace {

using testing::bruteForceAttention;
using testing::closeRelative;
using testing::randomHead;

struct Direct {
    double sum = 0.0;
    double max = 0.0;
    long long visible = 0;
};

Direct directAggregate(const testing::BruteForceAttention& ref, int q0, int q1, int k0, int k1) {
    Direct d;
    for (int i = q0; i < std::min(q1, ref.seqLen); ++i)
        for (int j = k0; j < std::min(k1, ref.seqLen); ++j) {
            d.sum += ref.p(i, j);
            d.max = std::max(d.max, ref.p(i, j));
            d.visible += ref.vis(i, j);
        }
    return d;
}

TEST(BlockPyramid, EveryLevelMatchesDirectReduction) {
    for (bool causal : {true, false}) {
        const HeadTensors head = randomHead(500, 32, 32, causal, 77, 2.0f);
        const HeadStatistics stats = CpuBackend(2).computeStatistics(head, {});
        const auto ref = bruteForceAttention(head);
        const BlockPyramid pyramid(stats.blocks, head.config, head.seqLen);
        ASSERT_EQ(pyramid.levelCount(), 4);  // 8x8, 4x4, 2x2, 1x1 blocks of 64, 128, 256, 512 cells
        for (int l = 0; l < pyramid.levelCount(); ++l) {
            const PyramidLevel& level = pyramid.level(l);
            EXPECT_EQ(level.cellsPerBlock, 64 << l);
            for (int r = 0; r < level.rows; ++r)
                for (int c = 0; c < level.cols; ++c) {
                    const int s = level.cellsPerBlock;
                    const Direct d = directAggregate(ref, r * s, (r + 1) * s, c * s, (c + 1) * s);
                    const size_t idx = static_cast<size_t>(r) * level.cols + c;
                    EXPECT_TRUE(closeRelative(level.sum[idx], d.sum, 1e-5)) << "level " << l;
                    EXPECT_TRUE(closeRelative(level.max[idx], d.max, 1e-5)) << "level " << l;
                    EXPECT_EQ(level.visibleCells[idx], d.visible) << "level " << l;
                }
        }
    }
}

TEST(BlockPyramid, AlignedAggregatesAreExactAndUnalignedAreRefused) {
    const HeadTensors head = randomHead(300, 16, 16, true, 78, 2.0f);
    const HeadStatistics stats = CpuBackend(2).computeStatistics(head, {});
    const auto ref = bruteForceAttention(head);
    const BlockPyramid pyramid(stats.blocks, head.config, head.seqLen);
    const int rects[][4] = {{0, 300, 0, 300}, {64, 192, 0, 128}, {256, 300, 128, 300}, {128, 256, 128, 256}};
    for (const auto& r : rects) {
        const auto agg = pyramid.aggregate(r[0], r[1], r[2], r[3]);
        ASSERT_TRUE(agg.has_value());
        const Direct d = directAggregate(ref, r[0], r[1], r[2], r[3]);
        EXPECT_TRUE(closeRelative(agg->sum, d.sum, 1e-5));
        EXPECT_TRUE(closeRelative(agg->max, d.max, 1e-5));
        EXPECT_EQ(agg->visibleCells, d.visible);
    }
    EXPECT_FALSE(pyramid.aggregate(0, 100, 0, 64).has_value());
    EXPECT_FALSE(pyramid.aggregate(0, 64, 10, 64).has_value());
}

}  // namespace
}  // namespace attnscope
