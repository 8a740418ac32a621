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
    std::vector<OverviewMask> m;
    OverviewMask all;
    all.label = "dense";
    all.keepAll = true;
    m.push_back(all);
    OverviewMask window;
    window.label = "window";
    window.windowSize = 37;
    m.push_back(window);
    OverviewMask streaming;
    streaming.label = "streaming";
    streaming.sinkTokens = 4;
    streaming.windowSize = 16;
    m.push_back(streaming);
    OverviewMask moba;
    moba.label = "moba64";
    moba.gateBlock = 64;
    moba.gateTopK = 2;
    m.push_back(moba);
    OverviewMask mobaSmall;
    mobaSmall.label = "moba16+window";
    mobaSmall.gateBlock = 16;
    mobaSmall.gateTopK = 3;
    mobaSmall.windowSize = 8;
    m.push_back(mobaSmall);
    if (withTopK) {
        OverviewMask topk;
        topk.label = "top20";
        topk.topK = 20;
        m.push_back(topk);
        OverviewMask mixed;
        mixed.label = "top5+sinks";
        mixed.topK = 5;
        mixed.sinkTokens = 2;
        m.push_back(mixed);
        OverviewMask wide;
        wide.label = "topT";
        wide.topK = T + 5;  // covers every row: keeps everything
        m.push_back(wide);
    }
    return m;
}

class GpuOverview : public ::testing::TestWithParam<HeadCase> {};

TEST_P(GpuOverview, LayerMatchesCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const HeadCase& hc = GetParam();
    SCOPED_TRACE(hc.label());
    const LayerTensors layer = layerFor(hc);
    // Top-k membership is decided by exact logit comparison; fp32 logits may differ in the last bit
    // between CPU and GPU, so top-k recipes run on the exact (integer-valued) inputs only.
    const std::vector<OverviewMask> masks = recipes(hc.seqLen, hc.storage != StorageType::Float32);
    const std::vector<HeadOverview> c = cpuBackend().computeLayerOverview(layer, masks);
    const std::vector<HeadOverview> g = gpu->computeLayerOverview(layer, masks);
    ASSERT_EQ(g.size(), c.size());
    const double tol = tolerance(hc.storage);
    for (size_t h = 0; h < c.size(); ++h) {
        SCOPED_TRACE("head " + std::to_string(h));
        EXPECT_NEAR(g[h].sinkMass, c[h].sinkMass, tol * std::max(c[h].sinkMass, 1e-3));
        EXPECT_NEAR(g[h].meanEntropy, c[h].meanEntropy, tol * std::max(c[h].meanEntropy, 1.0));
        EXPECT_EQ(g[h].visibleCells, c[h].visibleCells);
        ASSERT_EQ(g[h].recall.size(), masks.size());
        for (size_t m = 0; m < masks.size(); ++m) {
            SCOPED_TRACE(masks[m].label);
            EXPECT_EQ(g[h].keptCells[m], c[h].keptCells[m]);
            EXPECT_NEAR(g[h].recall[m], c[h].recall[m], tol * c[h].recall[m]);
        }
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
