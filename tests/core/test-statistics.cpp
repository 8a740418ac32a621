// Every dense statistic of the CPU engine against the fp64 brute force, across sequence lengths
// (including non-multiples of the 64 block), head dims, causal and bidirectional, native sliding
// windows and soft-capping.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "attnscope/cpu-backend.h"
#include "brute-force-reference.h"
#include "test-helpers.h"

namespace attnscope {
namespace {

using testing::bruteForceAttention;
using testing::closeRelative;
using testing::randomHead;

struct Case {
    int seqLen;
    int headDim;
    bool causal;
    int window;
    float softcap;
    float sigma;
};

void PrintTo(const Case& c, std::ostream* os) {
    *os << "T=" << c.seqLen << " d=" << c.headDim << (c.causal ? " causal" : " bidirectional") << " window=" << c.window
        << " softcap=" << c.softcap << " sigma=" << c.sigma;
}

class StatisticsTest : public ::testing::TestWithParam<Case> {};

TEST_P(StatisticsTest, MatchesBruteForce) {
    const Case c = GetParam();
    const HeadTensors head = randomHead(c.seqLen, c.headDim, c.headDim + 16, c.causal, 1000 + c.seqLen * 7 + c.headDim,
                                        c.sigma, c.window, c.softcap);
    CpuBackend backend(3);
    const HeadStatistics stats = backend.computeStatistics(head, {});
    const auto ref = bruteForceAttention(head);
    const int T = c.seqLen, dv = head.valueDim;
    for (int i = 0; i < T; ++i) {
        ASSERT_TRUE(closeRelative(stats.rowMax[i], ref.rowMax[i], 1e-5, 1e-6)) << "rowMax " << i;
        ASSERT_TRUE(closeRelative(stats.rowLse[i], ref.rowLse[i], 1e-5, 1e-6)) << "rowLse " << i;
        ASSERT_TRUE(closeRelative(stats.rowEntropy[i], ref.rowEntropy[i], 1e-5, 1e-9)) << "rowEntropy " << i;
        double err = 0.0, norm = 0.0;
        for (int c2 = 0; c2 < dv; ++c2) {
            const double e = stats.output[static_cast<size_t>(i) * dv + c2] - ref.output[static_cast<size_t>(i) * dv + c2];
            err += e * e;
            norm += ref.output[static_cast<size_t>(i) * dv + c2] * ref.output[static_cast<size_t>(i) * dv + c2];
        }
        ASSERT_LE(std::sqrt(err), 1e-5 * std::sqrt(norm) + 1e-7) << "output row " << i;
    }
    for (int j = 0; j < T; ++j) ASSERT_TRUE(closeRelative(stats.columnSums[j], ref.columnSums[j], 1e-5)) << "column " << j;

    const int nb = (T + 63) / 64;
    ASSERT_EQ(stats.blocks.rows, nb);
    ASSERT_EQ(stats.blocks.cols, nb);
    for (int r = 0; r < nb; ++r) {
        for (int b = 0; b < nb; ++b) {
            double sum = 0.0, mx = 0.0;
            for (int i = r * 64; i < std::min(T, r * 64 + 64); ++i)
                for (int j = b * 64; j < std::min(T, b * 64 + 64); ++j) {
                    sum += ref.p(i, j);
                    mx = std::max(mx, ref.p(i, j));
                }
            ASSERT_TRUE(closeRelative(stats.blocks.sum[stats.blocks.index(r, b)], sum, 1e-5)) << r << "," << b;
            ASSERT_TRUE(closeRelative(stats.blocks.max[stats.blocks.index(r, b)], mx, 1e-5)) << r << "," << b;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, StatisticsTest,
    ::testing::Values(Case{1, 32, true, 0, 0, 1}, Case{7, 16, true, 0, 0, 1}, Case{64, 32, false, 0, 0, 1},
                      Case{100, 64, true, 0, 0, 2}, Case{129, 48, false, 0, 0, 2}, Case{257, 128, true, 0, 0, 1.5f},
                      Case{300, 80, true, 37, 0, 1}, Case{200, 64, false, 50, 0, 1}, Case{150, 32, true, 0, 5.0f, 3},
                      Case{512, 64, true, 0, 0, 2}, Case{512, 128, false, 0, 0, 1}),
    [](const ::testing::TestParamInfo<Case>& info) {
        const Case& c = info.param;
        return "T" + std::to_string(c.seqLen) + "_d" + std::to_string(c.headDim) + (c.causal ? "_causal" : "_bidir") +
               (c.window ? "_win" + std::to_string(c.window) : "") + (c.softcap > 0 ? "_softcap" : "");
    });

TEST(Statistics, RowsSumToOneAndColumnSumsToRowCount) {
    const HeadTensors head = randomHead(333, 64, 64, true, 5, 2.0f);
    CpuBackend backend(2);
    const HeadStatistics stats = backend.computeStatistics(head, {});
    double total = 0.0;
    for (double c : stats.columnSums) total += c;
    EXPECT_NEAR(total, 333.0, 1e-9);
    double blockTotal = 0.0;
    for (double s : stats.blocks.sum) blockTotal += s;
    EXPECT_NEAR(blockTotal, 333.0, 1e-9);
}

// Bit for bit, column sums included (they are summed per fixed stripe of query blocks, never per
// worker), across thread counts and repeated runs. 5000 tokens: 79 query blocks, more than the 64
// stripes, so stripes hold several blocks.
TEST(Statistics, ThreadCountDoesNotChangeResults) {
    for (int T : {300, 5000}) {
        SCOPED_TRACE(T);
        const HeadTensors head = randomHead(T, 32, 32, true, 9);
        const HeadStatistics one = CpuBackend(1).computeStatistics(head, {});
        for (int threads : {2, 4, 7, 7}) {
            const HeadStatistics many = CpuBackend(threads).computeStatistics(head, {});
            EXPECT_EQ(one.rowLse, many.rowLse);
            EXPECT_EQ(one.output, many.output);
            EXPECT_EQ(one.blocks.sum, many.blocks.sum);
            EXPECT_EQ(one.columnSums, many.columnSums) << threads << " threads";
        }
    }
}

TEST(Statistics, SkipsProductsNotRequested) {
    const HeadTensors head = randomHead(70, 32, 32, true, 3);
    StatisticsRequest request;
    request.output = false;
    request.columnSums = false;
    request.blocks = false;
    const HeadStatistics stats = CpuBackend(2).computeStatistics(head, request);
    EXPECT_EQ(stats.rowLse.size(), 70u);
    EXPECT_TRUE(stats.output.empty());
    EXPECT_TRUE(stats.columnSums.empty());
    EXPECT_EQ(stats.blocks.rows, 0);
}

TEST(Statistics, UniformKeysGiveMaximalEntropy) {
    // All keys equal: each causal row i attends uniformly over i+1 keys, entropy log(i+1).
    HeadTensors head = randomHead(90, 16, 16, true, 4);
    for (int j = 0; j < 90; ++j)
        for (int c = 0; c < 16; ++c) head.k[static_cast<size_t>(j) * 16 + c] = head.k[c];
    const HeadStatistics stats = CpuBackend(2).computeStatistics(head, {});
    for (int i = 0; i < 90; ++i) EXPECT_NEAR(stats.rowEntropy[i], std::log(i + 1.0), 1e-9);
    EXPECT_NEAR(stats.columnSums[0], [] { double s = 0; for (int i = 0; i < 90; ++i) s += 1.0 / (i + 1); return s; }(), 1e-9);
}

TEST(Statistics, CancelledJobStops) {
    const HeadTensors head = randomHead(400, 32, 32, true, 1);
    JobControl job;
    job.cancel();
    EXPECT_THROW(CpuBackend(2).computeStatistics(head, {}, &job), JobCancelled);
}

TEST(Statistics, RejectsInconsistentTensors) {
    HeadTensors head = randomHead(10, 8, 8, true, 1);
    head.k.pop_back();
    EXPECT_THROW(CpuBackend(1).computeStatistics(head, {}), std::invalid_argument);
}

}  // namespace
}  // namespace attnscope
