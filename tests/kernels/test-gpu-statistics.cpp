// Forward (output, row max, LSE, entropy) and statistics pass (column sums, 64x64 block sum/max)
// of the CUDA backend against the CPU reference, over T (multiples of 64 and not), head dims
// 32..128 (also 40, padded), causal / bidirectional, sliding window, softcap, fp16/bf16/fp32.
#include <cstdlib>

#include "kernel-test-support.h"

namespace attnscope::test {
namespace {

class GpuStatistics : public ::testing::TestWithParam<HeadCase> {};

TEST_P(GpuStatistics, MatchesCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const HeadCase& c = GetParam();
    expectSameStatistics(*gpu, makeHead(c), c.label());
}

constexpr auto BF = StorageType::BFloat16;
constexpr auto FP = StorageType::Float16;
constexpr auto F32 = StorageType::Float32;

INSTANTIATE_TEST_SUITE_P(
    Cases, GpuStatistics,
    ::testing::Values(makeCase(64, 32, BF, true), makeCase(200, 64, BF, true, 0, 0, 2), makeCase(333, 80, FP, false, 0, 0, 3),
                      makeCase(1000, 128, BF, true, 0, 0, 4), makeCase(1000, 128, FP, true, 100, 0, 5),
                      makeCase(517, 64, BF, false, 70, 0, 6), makeCase(300, 64, BF, true, 0, 2.0f, 7),
                      makeCase(130, 48, BF, true, 0, 0, 8), makeCase(190, 96, FP, false, 0, 0, 9),
                      makeCase(250, 112, BF, true, 33, 0, 10), makeCase(160, 40, BF, true, 0, 0, 11),
                      makeCase(200, 32, F32, true, 0, 0, 12), makeCase(333, 80, F32, false, 0, 0, 13),
                      makeCase(1000, 128, F32, true, 200, 0, 14), makeCase(257, 64, F32, true, 0, 2.0f, 15),
                      makeCase(128, 64, F32, false, 0, 0, 16)));

// The default kernels are the wgmma ones on compute capability 9.0; the mma.sync families
// (ATTNSCOPE_CUDA_KERNELS=pair|single) run on every other GPU and must stay exact too.
TEST(GpuStatisticsKernelFamilies, MmaSyncFamiliesMatchCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    int seed = 40;
    for (const char* family : {"pair", "single"}) {
        const ScopedEnv kernels("ATTNSCOPE_CUDA_KERNELS", family);
        for (const HeadCase& c : {makeCase(1000, 128, BF, true, 0, 0, ++seed), makeCase(333, 80, FP, false, 0, 0, ++seed),
                                  makeCase(300, 64, BF, true, 70, 2.0f, ++seed)})
            expectSameStatistics(*gpu, makeHead(c), std::string(family) + " kernels, " + c.label());
    }
}

// Dense launches take the warp-specialized wgmma forward by default (the cases above); the
// synchronous one (ATTNSCOPE_CUDA_FORWARD=synchronous, and wherever the specialized one declines)
// must be exact too, also where T is not a multiple of 64 and with a window, bidirectional rows
// and softcap.
TEST(GpuStatisticsKernelFamilies, SynchronousForwardMatchesCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const ScopedEnv forward("ATTNSCOPE_CUDA_FORWARD", "synchronous");
    int seed = 60;
    for (const HeadCase& c : {makeCase(1000, 128, BF, true, 0, 0, ++seed), makeCase(517, 64, BF, false, 70, 0, ++seed),
                              makeCase(300, 128, FP, true, 0, 2.0f, ++seed), makeCase(130, 64, BF, true, 0, 0, ++seed)})
        expectSameStatistics(*gpu, makeHead(c), "synchronous forward, " + c.label());
}

// GQA-style: two query heads sharing one K/V head (the backend keeps both on the GPU).
TEST(GpuStatisticsShared, TwoQueryHeadsOfOneKvHead) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const HeadTensors a = makeHead(makeCase(700, 128, BF, true, 0, 0, 21));
    const HeadTensors b = withNewQueries(a, 22);
    expectSameStatistics(*gpu, a, "query head a");
    expectSameStatistics(*gpu, b, "query head b (same K/V)");
    expectSameStatistics(*gpu, a, "query head a again (cached)");
}

// Bytes that do not fit the stated storage type take the fp32 path and stay exact.
TEST(GpuStatisticsShared, StorageMismatchFallsBackToFloat32) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    HeadTensors h = makeHead(makeCase(150, 64, F32, true, 0, 0, 23));
    h.storage = StorageType::BFloat16;  // claims bf16 but holds fp32 values
    const HeadStatistics c = cpuBackend().computeStatistics(h, {});
    const HeadStatistics g = gpu->computeStatistics(h, {});
    EXPECT_TRUE(allClose(g.rowLse, c.rowLse, 1e-5, 1.0, "rowLse"));
    EXPECT_TRUE(normClose(g.output, c.output, 1e-5, "output"));
}

}  // namespace
}  // namespace attnscope::test
