// computeLayerOverview on the GPU (one upload, layer-wide launches) against the CPU reference's
// per-head implementation: sink mass, mean entropy, and per mask recall and kept cells, for every
// recipe part (keep-all, sinks, window, per-row top-k, MoBA gate) and a union of them. Synthetic
// seeded layers (not real activations): 4 query heads over 2 KV heads.
#include "attnscope/layer-overview.h"
#include "kernel-test-support.h"

namespace attnscope::test {
namespace {

LayerTensors layerFor(const HeadCase& c) {
    LayerTensors layer;
    layer.layer = 0;
    layer.qHeads = 4;
    layer.kvHeads = 2;
    for (int kv = 0; kv < layer.kvHeads; ++kv) {
        HeadCase kvCase = c;
        kvCase.seed = c.seed * 10 + kv;
        const HeadTensors base = makeHead(kvCase);
        layer.seqLen = base.seqLen;
        layer.headDim = base.headDim;
        layer.valueDim = base.valueDim;
        layer.config = base.config;
        layer.storage = base.storage;
        layer.k.insert(layer.k.end(), base.k.begin(), base.k.end());
        layer.v.insert(layer.v.end(), base.v.begin(), base.v.end());
    }
    for (int h = 0; h < layer.qHeads; ++h) {
        HeadCase qCase = c;
        qCase.seed = c.seed * 100 + h;
        const HeadTensors q = makeHead(qCase);
        layer.q.insert(layer.q.end(), q.q.begin(), q.q.end());
    }
    return layer;
}

std::vector<OverviewMask> recipes(int T, bool withTopK) {
    //                                  label            all  sinks window topK   gate block/topk
    std::vector<OverviewMask> m = {overviewRecipe("dense", true, 0, 0, 0, 0, 0),
                                   overviewRecipe("window", false, 0, 37, 0, 0, 0),
                                   overviewRecipe("streaming", false, 4, 16, 0, 0, 0),
                                   overviewRecipe("moba64", false, 0, 0, 0, 64, 2),
                                   overviewRecipe("moba16+window", false, 0, 8, 0, 16, 3)};
    if (withTopK) {
        m.push_back(overviewRecipe("top20", false, 0, 0, 20, 0, 0));
        m.push_back(overviewRecipe("top5+sinks", false, 2, 0, 5, 0, 0));
        m.push_back(overviewRecipe("topT", false, 0, 0, T + 5, 0, 0));  // covers every row: keeps everything
    }
    return m;
}

// Bands and sink ranges wide enough that whole 64-key tiles lie inside them for all 16 rows of a
// warp (the metrics pass decides those tiles per warp, not per row); a second pass of the test, as
// the layer kernel takes at most kMaxOverviewMasks masks at once.
std::vector<OverviewMask> wideRecipes() {
    return {overviewRecipe("sinks70+window150", false, 70, 150, 0, 0, 0), overviewRecipe("window300", false, 0, 300, 0, 0, 0),
            overviewRecipe("sinks130", false, 130, 0, 0, 0, 0)};
}

class GpuOverview : public ::testing::TestWithParam<HeadCase> {};

TEST_P(GpuOverview, LayerMatchesCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const HeadCase& hc = GetParam();
    SCOPED_TRACE(hc.label());
    const LayerTensors layer = layerFor(hc);
    // Top-k membership is decided by exact logit comparison; fp32 logits may differ in the last bit
    // between CPU and GPU, so top-k recipes run on the exact (integer-valued) inputs only.
    for (const std::vector<OverviewMask>& masks : {recipes(hc.seqLen, hc.storage != StorageType::Float32), wideRecipes()}) {
        const std::vector<HeadOverview> c = cpuBackend().computeLayerOverview(layer, masks);
        const std::vector<HeadOverview> g = gpu->computeLayerOverview(layer, masks);
        expectSameOverview(g, c, masks, tolerance(hc.storage));
    }
}

TEST(GpuOverviewSelection, RowsBeyondTheHistogramMatchCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const int T = 700, d = 64;
    LayerTensors layer;
    layer.layer = 0;
    layer.qHeads = 2;
    layer.kvHeads = 1;
    layer.seqLen = T;
    layer.headDim = layer.valueDim = d;
    layer.storage = StorageType::BFloat16;
    layer.config.causal = true;
    layer.config.softmaxScale = 0.125f;
    layer.q.assign(static_cast<size_t>(2) * T * d, 0.0f);
    layer.k.assign(static_cast<size_t>(T) * d, 0.0f);
    layer.v.assign(static_cast<size_t>(T) * d, 1.0f);
    for (int i = 0; i < T; ++i)
        for (int c = 0; c < 4; ++c) {
            layer.q[static_cast<size_t>(i) * d + c] = 2.0f;                    // head 0
            layer.q[(static_cast<size_t>(T) + i) * d + c] = (i % 3) ? 1.0f : 2.0f;  // head 1: 4 or 8 per level
            layer.k[static_cast<size_t>(i) * d + c] = static_cast<float>(i % 50);
        }
    const std::vector<OverviewMask> masks = {overviewRecipe("dense", true, 0, 0, 0, 0, 0), overviewRecipe("top400", false, 0, 0, 400, 0, 0),
                                             overviewRecipe("top400+sinks", false, 0, 0, 400, 0, 0)};
    std::vector<OverviewMask> withSinks = masks;
    withSinks[2].sinkTokens = 3;
    const std::vector<HeadOverview> c = cpuBackend().computeLayerOverview(layer, withSinks);
    const std::vector<HeadOverview> g = gpu->computeLayerOverview(layer, withSinks);
    ASSERT_EQ(g.size(), c.size());
    for (size_t h = 0; h < c.size(); ++h)
        for (size_t m = 0; m < withSinks.size(); ++m) {
            SCOPED_TRACE("head " + std::to_string(h) + ", " + withSinks[m].label);
            EXPECT_EQ(g[h].keptCells[m], c[h].keptCells[m]);
            EXPECT_NEAR(g[h].recall[m], c[h].recall[m], 1e-4 * c[h].recall[m]);
        }
}

INSTANTIATE_TEST_SUITE_P(Cases, GpuOverview,
                         ::testing::Values(makeCase(1000, 128, StorageType::BFloat16, true, 0, 0, 61),
                                           makeCase(333, 80, StorageType::Float16, false, 0, 0, 62),
                                           makeCase(517, 64, StorageType::BFloat16, true, 120, 0, 63),
                                           makeCase(64, 32, StorageType::BFloat16, false, 0, 0, 64),
                                           makeCase(300, 64, StorageType::Float32, true, 0, 0, 65),
                                           makeCase(257, 128, StorageType::Float32, false, 50, 0, 66),
                                           makeCase(200, 48, StorageType::BFloat16, true, 0, 30.0f, 67)));

}  // namespace
}  // namespace attnscope::test
