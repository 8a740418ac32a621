// The GPU products on the bundled real captures (resources/samples: MiniLM-L6 and AttnScope's demo
// causal LM, fp16 activations of trained models) against the exact CPU reference, at the tolerance of
// the seeded cases (1e-4 relative for fp16 inputs):
// * every head of every layer: the forward (row max, LSE, entropy, output) and the statistics pass
//   (column sums, 64x64 block sums and maxima);
// * the heads the capture keeps /reference values for (sink, induction, previous-token heads...):
//   dense tiles and the tiles of every variant quantity, every mask kind's evaluation, per-row top-k
//   and thresholds;
// * every layer: the whole-layer overview (sink mass, entropy, kept cells and recall per recipe);
// * the layer-level forward, dense and block-sparse (sink + window lists), on the captures whose
//   length is a multiple of 64.
// The captures' heads have d = 32, and the Hopper (wgmma) kernels take head dims that are multiples
// of 64: the forward, statistics and layer checks also run on the same activations zero-padded to
// d = 64 and 128 (softmax scale kept: every logit, weight and output column is unchanged).
// Real activations do not give exactly representable logits: the CPU and the GPU sum a dot product in
// another order, so a key whose logit equals a row's top-k threshold on one backend can fall a last
// bit below it on the other. Top-k masks therefore use each backend's own thresholds (both keep the
// same counts; the weights they keep agree), and threshold keys may differ on near-ties.
//
// Sample paths are compiled in (ATTNSCOPE_SAMPLE_LIST); ATTNSCOPE_SAMPLES_DIR points the test at
// another copy of resources/samples (the GPU machine runs a copy of the tree elsewhere).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "attnscope/io/capture-reader.h"
#include "attnscope/variant.h"
#include "kernel-test-support.h"
#include "layer-forward-support.h"

namespace attnscope::test {
namespace {

std::vector<std::string> sampleFiles() {
    std::vector<std::string> files;
    std::stringstream list(ATTNSCOPE_SAMPLE_LIST);
    const char* dir = std::getenv("ATTNSCOPE_SAMPLES_DIR");
    std::string path;
    while (std::getline(list, path, '|')) {
        if (path.empty()) continue;
        if (dir && *dir) path = (std::filesystem::path(dir) / std::filesystem::path(path).filename()).string();
        files.push_back(path);
    }
    return files;
}

std::string sampleName(const std::string& path) { return std::filesystem::path(path).filename().string(); }

std::string headLabel(const std::string& sample, int layer, int head) {
    return sample + " layer " + std::to_string(layer) + " head " + std::to_string(head);
}

// The head with q, k and v zero-padded to d columns, its softmax scale kept.
HeadTensors zeroPadded(const HeadTensors& h, int d) {
    if (d <= h.headDim) return h;
    HeadTensors p = h;
    p.headDim = p.valueDim = d;
    auto pad = [&](const std::vector<float>& x, int width) {
        std::vector<float> out(static_cast<size_t>(h.seqLen) * d, 0.0f);
        for (int i = 0; i < h.seqLen; ++i)
            std::copy_n(x.begin() + static_cast<size_t>(i) * width, width, out.begin() + static_cast<size_t>(i) * d);
        return out;
    };
    p.q = pad(h.q, h.headDim);
    p.k = pad(h.k, h.headDim);
    p.v = pad(h.v, h.valueDim);
    return p;
}

// Native, then zero-padded to the Hopper kernels' 64 and 128.
constexpr int kPaddedDims[] = {0, 64, 128};

std::string dimLabel(int d) { return d == 0 ? "native head dim" : "zero-padded to d = " + std::to_string(d); }

// Runs check(head, dense) on every head the capture keeps /reference values for (its interesting
// ones, chosen when it was made: sinks, induction, previous token...), dense = the CPU's statistics.
template <typename Check>
void forEachReferenceHead(const std::string& path, Check check) {
    const CaptureReader reader = CaptureReader::open(path);
    for (const ReferenceHeadInfo& r : reader.info().references) {
        SCOPED_TRACE(headLabel(sampleName(path), r.layer, r.queryHead));
        const HeadTensors head = reader.loadHead(r.layer, r.queryHead);
        check(head, cpuBackend().computeStatistics(head, {}));
    }
}

// Each backend's own top-k plan (see the top of the file); the other parts as given.
VariantPlan withOwnTopK(Backend& backend, const HeadTensors& head, VariantPlan plan, int k) {
    plan.mask.rowTopK = backend.computeRowThresholds(head, std::vector<int32_t>(head.seqLen, k));
    return plan;
}

// Masks of every kind (SparseMask components and both weight kinds); top-k ones are marked.
struct NamedPlan {
    std::string name;
    VariantPlan plan;
    int topK = 0;  // > 0: add each backend's own per-row top-k of this budget
};

std::vector<NamedPlan> plansFor(int T) {
    std::vector<NamedPlan> plans;
    NamedPlan dense{"dense", {}};
    dense.plan.mask.keepAll = true;
    plans.push_back(dense);
    NamedPlan streaming{"sinks+window", {}};
    streaming.plan.mask.sinkTokens = 4;
    streaming.plan.mask.windowSize = 64;
    plans.push_back(streaming);
    for (int bs : {64, 32}) {
        // A fixed block pattern: the diagonal and every third block of each block row.
        NamedPlan blocks{"blocks" + std::to_string(bs), {}};
        VariantPlan& p = blocks.plan;
        p.mask.blockSize = bs;
        p.mask.blockRows = p.mask.blockCols = (T + bs - 1) / bs;
        p.mask.blocks.assign(static_cast<size_t>(p.mask.blockRows) * p.mask.blockCols, 0);
        for (int r = 0; r < p.mask.blockRows; ++r)
            for (int c = 0; c < p.mask.blockCols; ++c)
                p.mask.blocks[static_cast<size_t>(r) * p.mask.blockCols + c] = (r == c || (r + 2 * c) % 3 == 0) ? 1 : 0;
        plans.push_back(blocks);
    }
    NamedPlan columns{"columns+window3", {}};
    for (int j = 0; j < T; j += 7) columns.plan.mask.columns.push_back(j);
    columns.plan.mask.windowSize = 3;
    plans.push_back(columns);
    plans.push_back(NamedPlan{"top-20", {}, 20});
    NamedPlan mixed{"top-8+sinks+window", {}, 8};
    mixed.plan.mask.sinkTokens = 2;
    mixed.plan.mask.windowSize = 16;
    plans.push_back(mixed);
    NamedPlan linear{"linear", {}};
    linear.plan.mask.keepAll = true;
    linear.plan.weights = WeightKind::LinearEluPlusOne;
    plans.push_back(linear);
    return plans;
}

class GpuRealSample : public ::testing::TestWithParam<std::string> {};

TEST_P(GpuRealSample, EveryHeadsStatisticsMatchCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const CaptureReader reader = CaptureReader::open(GetParam());
    const CaptureInfo& info = reader.info();
    for (int l = 0; l < info.numLayers; ++l)
        for (int h = 0; h < info.numQueryHeads; ++h) {
            const HeadTensors head = reader.loadHead(l, h);
            for (int d : kPaddedDims)
                expectSameStatistics(*gpu, zeroPadded(head, d), headLabel(sampleName(GetParam()), l, h) + ", " + dimLabel(d));
        }
}

TEST_P(GpuRealSample, ReferenceHeadsTilesMatchCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    forEachReferenceHead(GetParam(), [&](const HeadTensors& head, const HeadStatistics& dense) {
        for (const TileRequest& r : tileRequestsFor(head.seqLen)) expectSameTile(*gpu, head, dense, r, nullptr, nullptr);
        // Variant quantities of masks that do not depend on a top-k threshold (see the top of the file).
        for (const NamedPlan& p : plansFor(head.seqLen)) {
            if (p.topK > 0) continue;
            SCOPED_TRACE(p.name);
            const VariantEvaluation eval = cpuBackend().evaluateVariant(head, dense, p.plan);
            for (TileQuantity q : {TileQuantity::VariantWeight, TileQuantity::KeptFraction, TileQuantity::Difference,
                                   TileQuantity::DroppedMass})
                for (const TileRequest& base : tileRequestsFor(head.seqLen)) {
                    TileRequest r = base;
                    r.quantity = q;
                    expectSameTile(*gpu, head, dense, r, &p.plan, &eval);
                }
        }
    });
}

TEST_P(GpuRealSample, ReferenceHeadsVariantsMatchCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    forEachReferenceHead(GetParam(), [&](const HeadTensors& head, const HeadStatistics& dense) {
        const double tol = tolerance(head.storage);
        for (const NamedPlan& p : plansFor(head.seqLen)) {
            SCOPED_TRACE(p.name);
            const VariantPlan cpuPlan = p.topK > 0 ? withOwnTopK(cpuBackend(), head, p.plan, p.topK) : p.plan;
            const VariantPlan gpuPlan = p.topK > 0 ? withOwnTopK(*gpu, head, p.plan, p.topK) : p.plan;
            expectSameEvaluation(gpu->evaluateVariant(head, dense, gpuPlan), cpuBackend().evaluateVariant(head, dense, cpuPlan),
                                 tol);
        }
    });
}

TEST_P(GpuRealSample, ReferenceHeadsTopKMatchCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    forEachReferenceHead(GetParam(), [&](const HeadTensors& head, const HeadStatistics& dense) {
        const int T = head.seqLen;
        const double tol = tolerance(head.storage);
        for (int k : {1, 5, 32}) {
            const RowTopK c = cpuBackend().computeRowTopK(head, dense, k);
            const RowTopK g = gpu->computeRowTopK(head, dense, k);
            ASSERT_EQ(g.k, k);
            // Sorted weights agree even where a near-tie swaps two keys.
            EXPECT_TRUE(allClose(g.weights, c.weights, tol, 1e-30, "top-" + std::to_string(k) + " weights"));
            int swapped = 0;
            for (size_t n = 0; n < c.indices.size(); ++n) swapped += g.indices[n] != c.indices[n];
            EXPECT_LE(swapped, static_cast<int>(c.indices.size() / 100)) << "k " << k;
        }
        // Budgets from none to every visible key.
        std::vector<int32_t> keep(T);
        for (int i = 0; i < T; ++i) keep[i] = (i * 37) % (i + 2);
        const std::vector<RowThreshold> c = cpuBackend().computeRowThresholds(head, keep);
        const std::vector<RowThreshold> g = gpu->computeRowThresholds(head, keep);
        ASSERT_EQ(g.size(), c.size());
        int keyMismatches = 0;
        for (int i = 0; i < T; ++i) {
            if (std::isinf(c[i].thresholdLogit) || std::isinf(g[i].thresholdLogit)) {
                EXPECT_EQ(g[i].thresholdLogit, c[i].thresholdLogit) << "row " << i << " keep " << keep[i];
                EXPECT_EQ(g[i].thresholdKey, c[i].thresholdKey) << "row " << i << " keep " << keep[i];
                continue;
            }
            // A logit, summed in another order: within the product's tolerance for the storage type.
            EXPECT_NEAR(g[i].thresholdLogit, c[i].thresholdLogit, tol * std::max(1.0f, std::abs(c[i].thresholdLogit)))
                << "row " << i << " keep " << keep[i];
            keyMismatches += g[i].thresholdKey != c[i].thresholdKey;
        }
        EXPECT_LE(keyMismatches, T / 100);
    });
}

TEST_P(GpuRealSample, EveryLayersOverviewMatchesCpuReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const CaptureReader reader = CaptureReader::open(GetParam());
    const std::vector<OverviewMask> masks = {
        //             label          all  sinks window topK gate block/topk
        overviewRecipe("dense", true, 0, 0, 0, 0, 0),       overviewRecipe("window", false, 0, 37, 0, 0, 0),
        overviewRecipe("streaming", false, 4, 16, 0, 0, 0), overviewRecipe("moba64", false, 0, 0, 0, 64, 2),
        overviewRecipe("top20", false, 0, 0, 20, 0, 0),     overviewRecipe("top5+sinks", false, 2, 0, 5, 0, 0)};
    for (int l = 0; l < reader.info().numLayers; ++l) {
        SCOPED_TRACE(sampleName(GetParam()) + " layer " + std::to_string(l));
        const LayerTensors layer = reader.loadLayer(l);
        expectSameOverview(gpu->computeLayerOverview(layer, masks), cpuBackend().computeLayerOverview(layer, masks), masks,
                           tolerance(layer.storage));
    }
}

TEST_P(GpuRealSample, EveryLayersForwardMatchesReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const CaptureReader reader = CaptureReader::open(GetParam());
    const CaptureInfo& info = reader.info();
    if (info.seqLen % 64 != 0 || info.storage != StorageType::Float16)
        GTEST_SKIP() << "the layer-level forward takes fp16/bf16 layers of a multiple of 64 tokens; "
                     << sampleName(GetParam()) << " has " << info.seqLen << " " << storageTypeName(info.storage);
    const BlockLists lists = sinkWindowLists(info.seqLen / 64, 4, false);
    for (int l = 0; l < info.numLayers; ++l) {
        SCOPED_TRACE(sampleName(GetParam()) + " layer " + std::to_string(l));
        const LayerTensors layer = reader.loadLayer(l);
        for (int d : kPaddedDims) {
            SCOPED_TRACE(dimLabel(d));
            std::vector<HeadTensors> heads;
            for (int h = 0; h < layer.qHeads; ++h) heads.push_back(zeroPadded(layer.head(h), d));
            for (const BlockLists* sparse : {static_cast<const BlockLists*>(nullptr), &lists}) {
                SCOPED_TRACE(sparse ? "block-sparse, sink + 4 blocks" : "dense");
                const LayerForwardRows g = runLayerForward(heads, layer.kvHeads, cuda::LayerDType::Float16, sparse);
                expectLayerMatchesReference(g, heads, layer.kvHeads, sparse, tolerance(layer.storage));
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Samples, GpuRealSample, ::testing::ValuesIn(sampleFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             std::string name = std::filesystem::path(info.param).stem().string();
                             for (char& c : name)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return name;
                         });

}  // namespace
}  // namespace attnscope::test
