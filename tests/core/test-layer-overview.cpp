// The whole-model overview on the CPU reference: layer slicing (GQA), every registered variant's
// overview recipe against the variant's own plan, a hand-computed uniform-attention case and the
// fp64 brute force on synthetic random layers (not real activations).
#include <gtest/gtest.h>

#include <cmath>

#include "attnscope/cpu-backend.h"
#include "attnscope/layer-overview.h"
#include "attnscope/variant.h"
#include "brute-force-reference.h"

namespace attnscope {
namespace {

using testing::bruteForceAttention;
using testing::bruteKeeps;
using testing::randomHead;

// Rounds to multiples of 1/16: dot products are then exact in fp32, so the engine's fp32 logits and
// the brute force's fp64 ones agree and top-k boundaries are the same cells.
void quantize(std::vector<float>& values) {
    for (float& x : values) x = std::round(x * 16.0f) / 16.0f;
}

// The logit as the engine rounds it (fp32 scale and softcap on the exact dot product), so top-k
// boundaries are judged on the values the thresholds were taken from.
float engineLogit(const HeadTensors& head, int i, int j) {
    double dot = 0.0;
    for (int c = 0; c < head.headDim; ++c) dot += static_cast<double>(head.queryRow(i)[c]) * head.keyRow(j)[c];
    return scaledLogit(head.config, static_cast<float>(dot));
}

// A layer of qHeads query heads over kvHeads K/V heads built from random heads.
LayerTensors randomLayer(int T, int d, int qHeads, int kvHeads, bool causal, uint64_t seed, int window = 0,
                         float softcap = 0.0f) {
    LayerTensors layer;
    layer.layer = 3;
    layer.qHeads = qHeads;
    layer.kvHeads = kvHeads;
    layer.seqLen = T;
    layer.headDim = layer.valueDim = d;
    for (int h = 0; h < qHeads; ++h) {
        const HeadTensors head = randomHead(T, d, d, causal, seed + h, 1.5f, window, softcap);
        layer.config = head.config;
        layer.q.insert(layer.q.end(), head.q.begin(), head.q.end());
        if (h < kvHeads) {
            layer.k.insert(layer.k.end(), head.k.begin(), head.k.end());
            layer.v.insert(layer.v.end(), head.v.begin(), head.v.end());
        }
    }
    quantize(layer.q);
    quantize(layer.k);
    return layer;
}

TEST(LayerOverview, HeadSlicesQueriesAndSharedKeyValueHead) {
    const LayerTensors layer = randomLayer(10, 4, 4, 2, true, 5);
    const HeadTensors h3 = layer.head(3);
    EXPECT_EQ(h3.kvHead, 1);
    EXPECT_EQ(h3.queryHead, 3);
    EXPECT_EQ(h3.layer, 3);
    EXPECT_EQ(h3.q[0], layer.q[3 * 10 * 4]);
    EXPECT_EQ(h3.k[0], layer.k[1 * 10 * 4]);
    EXPECT_EQ(h3.v.back(), layer.v.back());
    EXPECT_EQ(layer.head(1).kvHead, 0);
    EXPECT_THROW(layer.head(4), std::out_of_range);
}

TEST(LayerOverview, ValidationNamesTheProblem) {
    LayerTensors layer = randomLayer(10, 4, 4, 2, true, 5);
    layer.kvHeads = 3;
    EXPECT_THROW(validateLayerTensors(layer), std::invalid_argument);
    layer = randomLayer(10, 4, 4, 2, true, 5);
    layer.k.pop_back();
    try {
        validateLayerTensors(layer);
        FAIL() << "expected an error";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("k must hold"), std::string::npos) << e.what();
    }
}

// Every registered variant has a recipe, and the recipe's mask keeps exactly what the variant's
// plan keeps (so an overview number is the variant's number). A variant added without a recipe
// fails here: docs/adding-a-variant.md.
TEST(LayerOverview, EveryVariantRecipeMatchesItsPlan) {
    CpuBackend cpu(2);
    for (bool causal : {true, false}) {
        const HeadTensors head = randomHead(150, 16, 16, causal, 11, 1.5f);
        for (const auto& variant : variantRegistry()) {
            SCOPED_TRACE(variant->id() + (causal ? " causal" : " bidirectional"));
            ParamValues params = resolveParams(*variant, {});
            if (variant->id() == "moba") params["block"] = 16;
            OverviewMask recipe;
            ASSERT_NO_THROW(recipe = overviewMaskFor(*variant, params));
            EXPECT_EQ(recipe.label, variant->id());
            const SparseMask fromRecipe = buildOverviewMask(recipe, head, cpu);
            const SparseMask fromPlan = variant->plan(head, params, cpu).mask;
            const testing::BruteForceAttention ref = bruteForceAttention(head);
            long long differing = 0, kept = 0;
            for (int i = 0; i < head.seqLen; ++i)
                for (int j = 0; j < head.seqLen; ++j) {
                    if (!ref.vis(i, j)) continue;
                    const float logit = static_cast<float>(ref.s(i, j));  // the same logit for both masks
                    const bool a = fromRecipe.keeps(i, j, logit), b = fromPlan.keeps(i, j, logit);
                    differing += a != b;
                    kept += a;
                }
            EXPECT_EQ(differing, 0);
            EXPECT_GT(kept, 0);
        }
    }
}

// T = 3, all queries zero: uniform attention over the visible keys. Row 0 puts 1 on key 0, row 1
// 1/2 on each of keys 0-1, row 2 1/3 on each of keys 0-2. Sink mass = (1 + 1/2 + 1/3) / 3 = 11/18;
// a window of 1 keeps the diagonal with the same mass; entropy (0 + ln 2 + ln 3) / 3.
TEST(LayerOverview, UniformAttentionByHand) {
    LayerTensors layer;
    layer.qHeads = layer.kvHeads = 1;
    layer.seqLen = 3;
    layer.headDim = layer.valueDim = 2;
    layer.q.assign(6, 0.0f);
    layer.k = {1, 0, 0, 1, 1, 1};
    layer.v = {1, 0, 0, 1, 1, 1};
    layer.config.causal = true;
    layer.config.softmaxScale = 1.0f;
    OverviewMask diagonal;
    diagonal.windowSize = 1;
    OverviewMask first;
    first.sinkTokens = 1;
    OverviewMask all;
    all.keepAll = true;
    CpuBackend cpu(1);
    const std::vector<HeadOverview> out = cpu.computeLayerOverview(layer, {diagonal, first, all});
    ASSERT_EQ(out.size(), 1u);
    const HeadOverview& o = out[0];
    EXPECT_NEAR(o.sinkMass, 11.0 / 18.0, 1e-7);
    EXPECT_NEAR(o.meanEntropy, (std::log(2.0) + std::log(3.0)) / 3.0, 1e-6);
    EXPECT_EQ(o.visibleCells, 6);
    EXPECT_NEAR(o.recall[0], 11.0 / 18.0, 1e-7);
    EXPECT_EQ(o.keptCells[0], 3);
    EXPECT_NEAR(o.recall[1], 11.0 / 18.0, 1e-7);
    EXPECT_EQ(o.keptCells[1], 3);
    EXPECT_NEAR(o.recall[2], 1.0, 1e-7);
    EXPECT_EQ(o.keptCells[2], 6);
}

// Random layers against the fp64 brute force: sink mass, entropy, and per mask the recall and kept
// cells of the mask the recipe describes (GQA, causal and bidirectional, native window, softcap).
TEST(LayerOverview, MatchesBruteForce) {
    CpuBackend cpu(2);
    struct Case {
        int T, d;
        bool causal;
        int window;
        float softcap;
    };
    for (const Case& c : {Case{130, 16, true, 0, 0.0f}, Case{97, 32, false, 0, 0.0f}, Case{120, 16, true, 40, 0.0f},
                          Case{90, 16, false, 25, 20.0f}}) {
        SCOPED_TRACE(::testing::Message() << "T=" << c.T << " causal=" << c.causal << " window=" << c.window);
        const LayerTensors layer = randomLayer(c.T, c.d, 4, 2, c.causal, 100 + c.T, c.window, c.softcap);
        std::vector<OverviewMask> masks(4);
        masks[0].windowSize = 9;
        masks[1].sinkTokens = 3;
        masks[1].windowSize = 5;
        masks[2].topK = 7;
        masks[3].gateBlock = 16;
        masks[3].gateTopK = 2;
        const std::vector<HeadOverview> out = cpu.computeLayerOverview(layer, masks);
        ASSERT_EQ(out.size(), 4u);
        for (int h = 0; h < layer.qHeads; ++h) {
            const HeadTensors head = layer.head(h);
            const testing::BruteForceAttention ref = bruteForceAttention(head);
            double sink = 0.0, entropy = 0.0;
            long long visible = 0;
            for (int i = 0; i < c.T; ++i) {
                sink += ref.p(i, 0);
                entropy += ref.rowEntropy[i];
                for (int j = 0; j < c.T; ++j) visible += ref.vis(i, j);
            }
            EXPECT_NEAR(out[h].sinkMass, sink / c.T, 1e-6);
            EXPECT_NEAR(out[h].meanEntropy, entropy / c.T, 1e-5);
            EXPECT_EQ(out[h].visibleCells, visible);
            for (size_t m = 0; m < masks.size(); ++m) {
                const SparseMask mask = buildOverviewMask(masks[m], head, cpu);
                double recall = 0.0;
                long long kept = 0;
                for (int i = 0; i < c.T; ++i)
                    for (int j = 0; j < c.T; ++j)
                        if (ref.vis(i, j) && bruteKeeps(mask, i, j, engineLogit(head, i, j))) {
                            recall += ref.p(i, j);
                            ++kept;
                        }
                EXPECT_NEAR(out[h].recall[m], recall / c.T, 1e-6) << "mask " << m;
                EXPECT_EQ(out[h].keptCells[m], kept) << "mask " << m;
            }
        }
    }
}

}  // namespace
}  // namespace attnscope
