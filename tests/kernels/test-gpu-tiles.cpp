// Pooled tiles on the GPU against the CPU reference: zoomed out (pixels of whole 64x64 blocks, from
// the block grid), unaligned rectangles, zoomed in (pixels repeat cells), mean and max pooling, the
// dense map and every TileQuantity of structural, top-k and linear variants.
#include <algorithm>
#include <cmath>

#include "attnscope/variant.h"
#include "kernel-test-support.h"

namespace attnscope::test {
namespace {

TileRequest rect(int q0, int q1, int k0, int k1, int w, int h, Pooling p = Pooling::Mean,
                 TileQuantity q = TileQuantity::DenseWeight) {
    TileRequest r;
    r.queryBegin = q0;
    r.queryEnd = q1;
    r.keyBegin = k0;
    r.keyEnd = k1;
    r.width = w;
    r.height = h;
    r.pooling = p;
    r.quantity = q;
    return r;
}

std::vector<TileRequest> requestsFor(int T) {
    std::vector<TileRequest> out;
    for (Pooling p : {Pooling::Mean, Pooling::Max}) {
        out.push_back(rect(0, T, 0, T, 16, 16, p));                                   // zoomed out
        out.push_back(rect(0, T, 0, T, 37, 23, p));                                   // uneven pixels
        out.push_back(rect(T / 7, T - 13, 5, T - 3, 50, 70, p));                      // unaligned
        out.push_back(rect(T / 3, T / 3 + 40, T / 4, T / 4 + 30, 100, 90, p));        // zoomed in
        out.push_back(rect(T / 2, T, 0, T / 2, 1, 1, p));                             // one pixel
    }
    return out;
}

// Per pixel: |gpu - cpu| <= tol * max(|cpu|, scale), where scale is the dense tile's value of that
// pixel (the size of the weights that entered it: a signed difference or a dropped mass can be far
// smaller than its terms) and a tiny fraction of the tile's largest value.
void expectSameTile(Backend& gpu, const HeadTensors& head, const HeadStatistics& dense, const TileRequest& r,
                    const VariantPlan* plan, const VariantEvaluation* eval) {
    const PooledTile c = cpuBackend().computeTile(head, dense, r, plan, eval);
    const PooledTile g = gpu.computeTile(head, dense, r, plan, eval);
    ASSERT_EQ(g.width, c.width);
    ASSERT_EQ(g.height, c.height);
    TileRequest denseRequest = r;
    denseRequest.quantity = TileQuantity::DenseWeight;
    const PooledTile scale = r.quantity == TileQuantity::DenseWeight ? c : cpuBackend().computeTile(head, dense, denseRequest);
    double maxAbs = 0.0;
    for (float v : c.values)
        if (!std::isnan(v)) maxAbs = std::max(maxAbs, static_cast<double>(std::abs(v)));
    const double tol = tolerance(head.storage);
    int failures = 0;
    std::string first;
    for (size_t n = 0; n < c.values.size(); ++n) {
        const float a = g.values[n], b = c.values[n];
        if (std::isnan(a) || std::isnan(b)) {
            if (std::isnan(a) != std::isnan(b)) ++failures;
            continue;
        }
        const double floor = std::max(std::isnan(scale.values[n]) ? 0.0 : std::abs(scale.values[n]) * 1.0, 1e-9 * maxAbs);
        const double err = std::abs(static_cast<double>(a) - b) / std::max(static_cast<double>(std::abs(b)), floor + 1e-30);
        if (err > tol && failures++ < 3)
            first += "\n  [" + std::to_string(n) + "] gpu " + std::to_string(a) + " cpu " + std::to_string(b) +
                     " rel " + std::to_string(err);
    }
    EXPECT_EQ(failures, 0) << tileQuantityName(r.quantity) << " " << poolingName(r.pooling) << " tile ["
                           << r.queryBegin << "," << r.queryEnd << ")x[" << r.keyBegin << "," << r.keyEnd << ") at "
                           << r.width << "x" << r.height << first;
}

class GpuTiles : public ::testing::TestWithParam<HeadCase> {};

TEST_P(GpuTiles, DenseMatchesCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const HeadCase& hc = GetParam();
    SCOPED_TRACE(hc.label());
    const HeadTensors head = makeHead(hc);
    const HeadStatistics dense = cpuBackend().computeStatistics(head, {});
    for (const TileRequest& r : requestsFor(hc.seqLen)) expectSameTile(*gpu, head, dense, r, nullptr, nullptr);
    // The GPU's own statistics drive its tiles the same way.
    const HeadStatistics own = gpu->computeStatistics(head, {});
    const TileRequest r = rect(0, hc.seqLen, 0, hc.seqLen, 16, 16);
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
            for (const TileRequest& base : requestsFor(hc.seqLen)) {
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
