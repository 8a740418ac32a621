// Per-row top-k (small k) and threshold form (any budget) on the GPU against the CPU reference.
// Ties in logit (frequent with the integer-valued fp16/bf16 inputs, whose dot products are exact)
// must resolve identically: lower key first.
#include <cmath>
#include <random>

#include "kernel-test-support.h"

namespace attnscope::test {
namespace {

class GpuTopK : public ::testing::TestWithParam<HeadCase> {};

TEST_P(GpuTopK, ThresholdsMatchCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const HeadCase& hc = GetParam();
    SCOPED_TRACE(hc.label());
    const HeadTensors head = makeHead(hc);
    std::mt19937 rng(hc.seed + 100);
    std::vector<int32_t> keep(hc.seqLen);
    for (int i = 0; i < hc.seqLen; ++i) {
        const int visible = visibleKeys(head.config, hc.seqLen, i).size();
        keep[i] = std::uniform_int_distribution<int>(-1, visible + 1)(rng);
    }
    const std::vector<RowThreshold> c = cpuBackend().computeRowThresholds(head, keep);
    const std::vector<RowThreshold> g = gpu->computeRowThresholds(head, keep);
    ASSERT_EQ(g.size(), c.size());
    const bool exact = hc.storage != StorageType::Float32;
    int keyMismatches = 0;
    for (int i = 0; i < hc.seqLen; ++i) {
        if (exact) {
            EXPECT_EQ(g[i].thresholdLogit, c[i].thresholdLogit) << "row " << i << " keep " << keep[i];
            EXPECT_EQ(g[i].thresholdKey, c[i].thresholdKey) << "row " << i << " keep " << keep[i];
        } else if (std::isinf(c[i].thresholdLogit) || std::isinf(g[i].thresholdLogit)) {
            EXPECT_EQ(g[i].thresholdLogit, c[i].thresholdLogit) << "row " << i;
            EXPECT_EQ(g[i].thresholdKey, c[i].thresholdKey) << "row " << i;
        } else {
            EXPECT_NEAR(g[i].thresholdLogit, c[i].thresholdLogit, 1e-5 * std::max(1.0f, std::abs(c[i].thresholdLogit)))
                << "row " << i;
            keyMismatches += g[i].thresholdKey != c[i].thresholdKey;
        }
    }
    // fp32: logits differ in the last bit between CPU and GPU sums; a near-tie may swap a key.
    EXPECT_LE(keyMismatches, hc.seqLen / 100);
}

TEST_P(GpuTopK, SmallKMatchesCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const HeadCase& hc = GetParam();
    SCOPED_TRACE(hc.label());
    const HeadTensors head = makeHead(hc);
    const HeadStatistics dense = cpuBackend().computeStatistics(head, {});
    for (int k : {1, 5, 32}) {
        const RowTopK c = cpuBackend().computeRowTopK(head, dense, k);
        const RowTopK g = gpu->computeRowTopK(head, dense, k);
        ASSERT_EQ(g.k, k);
        EXPECT_TRUE(allClose(g.weights, c.weights, tolerance(hc.storage), 1e-30, "top-k weights"));
        int mismatches = 0;
        for (size_t n = 0; n < c.indices.size(); ++n) mismatches += g.indices[n] != c.indices[n];
        if (hc.storage != StorageType::Float32) EXPECT_EQ(mismatches, 0) << "k " << k;
        else EXPECT_LE(mismatches, static_cast<int>(c.indices.size() / 100)) << "k " << k;
    }
}

// Rows the two-sweep selection cannot finish itself and hands to the radix select: targets more
// than 32 nats below the row's LSE, and bins holding more tied cells than the candidate buffer.
// Logits here are exact (integer-valued bf16), so thresholds must equal the CPU's bit for bit.
HeadTensors structuredHead(int T, bool tiedKeys) {
    HeadTensors h;
    h.seqLen = T;
    h.headDim = 64;
    h.valueDim = 64;
    h.storage = StorageType::BFloat16;
    h.config.causal = true;
    h.config.softmaxScale = 0.125f;
    h.q.assign(static_cast<size_t>(T) * 64, 0.0f);
    h.k.assign(static_cast<size_t>(T) * 64, 0.0f);
    h.v.assign(static_cast<size_t>(T) * 64, 1.0f);
    for (int i = 0; i < T; ++i)
        for (int c = 0; c < 4; ++c) {
            h.q[static_cast<size_t>(i) * 64 + c] = 2.0f;
            // logit(i, j) = (j % 50) nats: 50 levels 1 nat apart, each tied ~T/50 times; or all equal
            h.k[static_cast<size_t>(i) * 64 + c] = tiedKeys ? 1.0f : static_cast<float>(i % 50);
        }
    return h;
}

TEST(GpuTopKSelection, DeepTargetsAndLargeTiesMatchCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    for (bool tied : {false, true}) {
        SCOPED_TRACE(tied ? "all keys tied" : "logits spread over 50 nats");
        const HeadTensors head = structuredHead(700, tied);
        std::vector<int32_t> keep(head.seqLen);
        for (int i = 0; i < head.seqLen; ++i) keep[i] = (i * 37) % (i + 2);  // 0 .. i + 1 (= visible)
        const std::vector<RowThreshold> c = cpuBackend().computeRowThresholds(head, keep);
        const std::vector<RowThreshold> g = gpu->computeRowThresholds(head, keep);
        ASSERT_EQ(g.size(), c.size());
        int deep = 0;
        for (int i = 0; i < head.seqLen; ++i) {
            EXPECT_EQ(g[i].thresholdLogit, c[i].thresholdLogit) << "row " << i << " keep " << keep[i];
            EXPECT_EQ(g[i].thresholdKey, c[i].thresholdKey) << "row " << i << " keep " << keep[i];
            deep += !tied && std::isfinite(c[i].thresholdLogit) && c[i].thresholdLogit < (i >= 49 ? 49.0f : i) - 33.0f;
        }
        if (!tied) {
            EXPECT_GT(deep, 50) << "the case must reach targets beyond the histogram";
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Cases, GpuTopK,
                         ::testing::Values(makeCase(64, 32, StorageType::BFloat16, true, 0, 0.0f, 41),
                                           makeCase(1000, 128, StorageType::BFloat16, true, 0, 0.0f, 42),
                                           makeCase(333, 80, StorageType::Float16, false, 0, 0.0f, 43),
                                           makeCase(517, 64, StorageType::BFloat16, true, 90, 0.0f, 44),
                                           makeCase(400, 64, StorageType::Float32, true, 0, 0.0f, 45)));

}  // namespace
}  // namespace attnscope::test
