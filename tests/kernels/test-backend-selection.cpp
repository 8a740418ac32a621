// Backend selection and failure reporting: "cuda" registers itself, "auto" picks it when a GPU is
// usable, and without one the reason is a sentence a user understands. Out of device memory is a
// BackendError, never a crash.
#include <gtest/gtest.h>

#include "attnscope/backend.h"
#include "attnscope/cuda-backend.h"
#include "cuda-check.h"
#include "kernel-test-support.h"

namespace attnscope::test {
namespace {

TEST(CudaBackendSelection, RegistersAsCuda) {
    registerCudaBackend();
    const std::vector<std::string> names = compiledBackends();
    EXPECT_NE(std::find(names.begin(), names.end(), "cuda"), names.end());
}

TEST(CudaBackendSelection, AutoPrefersUsableGpuElseExplainsWhy) {
    registerCudaBackend();
    const std::string reason = probeCudaDevice();
    if (reason.empty()) {
        EXPECT_EQ(createBackend("auto")->name().rfind("CUDA: ", 0), 0u);
        EXPECT_EQ(createBackend("cuda")->name().rfind("CUDA: ", 0), 0u);
    } else {
        EXPECT_EQ(createBackend("auto")->name().rfind("CPU", 0), 0u);
        try {
            createBackend("cuda");
            ADD_FAILURE() << "createBackend(\"cuda\") should throw without a usable GPU";
        } catch (const BackendError& e) {
            EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
        }
        GTEST_SKIP() << "no usable CUDA device (checked the CPU fallback): " << reason;
    }
}

TEST(CudaBackendSelection, OutOfMemoryIsABackendError) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    (void)gpu;
    try {
        cuda::DeviceBuffer<float> huge(size_t{1} << 42, "a 16 TiB test buffer");
        ADD_FAILURE() << "allocating 16 TiB should fail";
    } catch (const BackendError& e) {
        EXPECT_NE(std::string(e.what()).find("ran out of memory"), std::string::npos) << e.what();
    }
    // The device stays usable afterwards.
    HeadCase c;
    c.seqLen = 100;
    const HeadTensors h = makeHead(c);
    EXPECT_EQ(gpu->computeStatistics(h, {}).rowLse.size(), 100u);
}

TEST(CudaBackendSelection, HeadDimAbove128RunsOnCpuPath) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    HeadCase c;
    c.seqLen = 90;
    c.headDim = 160;
    const HeadTensors h = makeHead(c);
    const HeadStatistics g = gpu->computeStatistics(h, {});
    const HeadStatistics r = cpuBackend().computeStatistics(h, {});
    EXPECT_TRUE(allClose(g.rowLse, r.rowLse, 1e-12, 1.0, "rowLse"));
}

}  // namespace
}  // namespace attnscope::test
