// Pooled tiles on the GPU against the CPU reference: zoomed out (pixels of whole 64x64 blocks, from
// the block grid), unaligned rectangles, zoomed in (pixels repeat cells), mean and max pooling, the
// dense map and every TileQuantity of structural, top-k and linear variants.
#include "attnscope/variant.h"
#include "kernel-test-support.h"

namespace attnscope::test {
namespace {

class GpuTiles : public ::testing::TestWithParam<HeadCase> {};

TEST_P(GpuTiles, DenseMatchesCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const HeadCase& hc = GetParam();
    SCOPED_TRACE(hc.label());
    const HeadTensors head = makeHead(hc);
    const HeadStatistics dense = cpuBackend().computeStatistics(head, {});
    for (const TileRequest& r : tileRequestsFor(hc.seqLen)) expectSameTile(*gpu, head, dense, r, nullptr, nullptr);
    // The GPU's own statistics drive its tiles the same way.
    const HeadStatistics own = gpu->computeStatistics(head, {});
    const TileRequest r = tileRect(0, hc.seqLen, 0, hc.seqLen, 16, 16);
    expectSameTile(*gpu, head, own, r, nullptr, nullptr);
}

TEST_P(GpuTiles, VariantQuantitiesMatchCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const HeadCase& hc = GetParam();
    SCOPED_TRACE(hc.label());
    const HeadTensors head = makeHead(hc);
    const HeadStatistics dense = cpuBackend().computeStatistics(head, {});
    std::vector<std::pair<std::string, VariantPlan>> plans;
    VariantPlan streaming;
    streaming.mask.sinkTokens = 4;
    streaming.mask.windowSize = 48;
    plans.emplace_back("sinks+window", streaming);
    VariantPlan linear;
    linear.mask.keepAll = true;
    linear.weights = WeightKind::LinearEluPlusOne;
    plans.emplace_back("linear", linear);
    if (hc.storage != StorageType::Float32) {  // exact logits: CPU thresholds are exact GPU thresholds
        VariantPlan topk;
        topk.mask.rowTopK = cpuBackend().computeRowThresholds(head, std::vector<int32_t>(hc.seqLen, 16));
        plans.emplace_back("top-16", topk);
    }
    for (const auto& [name, plan] : plans) {
        SCOPED_TRACE(name);
        const VariantEvaluation eval = cpuBackend().evaluateVariant(head, dense, plan);
        for (TileQuantity q : {TileQuantity::VariantWeight, TileQuantity::KeptFraction, TileQuantity::Difference,
                               TileQuantity::DroppedMass})
            for (const TileRequest& base : tileRequestsFor(hc.seqLen)) {
                TileRequest r = base;
                r.quantity = q;
                expectSameTile(*gpu, head, dense, r, &plan, &eval);
            }
    }
}

INSTANTIATE_TEST_SUITE_P(Cases, GpuTiles,
                         ::testing::Values(makeCase(1024, 128, StorageType::BFloat16, true, 0, 0.0f, 31),
                                           makeCase(1000, 64, StorageType::Float16, false, 150, 0.0f, 32),
                                           makeCase(333, 80, StorageType::Float32, true, 0, 0.0f, 33),
                                           makeCase(2048, 32, StorageType::BFloat16, false, 0, 0.0f, 34)));

}  // namespace
}  // namespace attnscope::test
