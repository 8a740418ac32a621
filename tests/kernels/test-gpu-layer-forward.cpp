// Layer-level forward (attnscope/cuda-layer.h): every query head of a layer in one launch, GQA
// native. On compute capability 9.0 with an even GQA group, a CTA of the wgmma forward takes one
// query block of two query heads of one K/V head; otherwise two query blocks of one head (odd block
// counts leave the last CTA one block). Each head is checked against the CPU reference (dense) or
// against a double-precision softmax over the listed key blocks (block-sparse). Cases with a capped
// grid (ATTNSCOPE_CUDA_FORWARD_CTAS) make each CTA run through several items, as block-sparse
// launches of real lengths do, including items whose lists are empty and partial last rounds.
// Every case runs on both Hopper forward kernels (ATTNSCOPE_CUDA_FORWARD: the warp-specialized and
// the synchronous one); on other GPUs every name gives the mma.sync forward.
#include <algorithm>
#include <optional>
#include <string>
#include <tuple>

#include "layer-forward-support.h"

namespace attnscope::test {
namespace {

struct LayerCase {
    int qHeads, kvHeads, seqLen, headDim;
    bool causal;
    int windowBlocks;  // > 0: block-sparse, key block 0 plus the last windowBlocks blocks up to the diagonal
    int ctas = 0;      // > 0: the wgmma forward's grid is capped at this many CTAs, each running through several items
    bool emptyLists = false;  // block-sparse: every third query block lists no key block
};

// GoogleTest's (and ctest's) name for a case.
void PrintTo(const LayerCase& c, std::ostream* os) {
    *os << c.qHeads << "/" << c.kvHeads << " heads T=" << c.seqLen << " d=" << c.headDim
        << (c.causal ? " causal" : " bidir");
    if (c.windowBlocks > 0) *os << " sink+" << c.windowBlocks << " blocks" << (c.emptyLists ? " (empty lists)" : "");
    if (c.ctas > 0) *os << " ctas=" << c.ctas;
}

// The test's name, for filters that outlive a new case (compute-sanitizer in scripts/gpu-run.sh):
// kernel_qHeads x kvHeads_T_d_causal|bidir[_wW][_cC][_empty], e.g. specialized_8x2_T448_d128_causal_w2_c3_empty.
std::string layerCaseName(const ::testing::TestParamInfo<std::tuple<LayerCase, std::string>>& info) {
    const LayerCase& c = std::get<0>(info.param);
    std::string kernel = std::get<1>(info.param);
    std::replace(kernel.begin(), kernel.end(), '-', '_');
    std::string name = kernel + "_" + std::to_string(c.qHeads) + "x" + std::to_string(c.kvHeads) + "_T" +
                       std::to_string(c.seqLen) + "_d" + std::to_string(c.headDim) + (c.causal ? "_causal" : "_bidir");
    if (c.windowBlocks > 0) name += "_w" + std::to_string(c.windowBlocks);
    if (c.ctas > 0) name += "_c" + std::to_string(c.ctas);
    if (c.emptyLists) name += "_empty";
    return name;
}

class GpuLayerForward : public ::testing::TestWithParam<std::tuple<LayerCase, std::string>> {};

TEST_P(GpuLayerForward, EveryHeadMatchesReference) {
    ATTNSCOPE_REQUIRE_GPU(gpu);
    const LayerCase c = std::get<0>(GetParam());
    const ScopedEnv kernel("ATTNSCOPE_CUDA_FORWARD", std::get<1>(GetParam()));
    const int group = c.qHeads / c.kvHeads;
    std::vector<HeadTensors> heads;
    for (int kv = 0; kv < c.kvHeads; ++kv) {
        const HeadTensors base = makeHead(makeCase(c.seqLen, c.headDim, StorageType::BFloat16, c.causal, 0, 0.0f, 100 + kv));
        for (int g = 0; g < group; ++g) heads.push_back(withNewQueries(base, 200 + kv * group + g));
    }
    const BlockLists lists = sinkWindowLists(c.seqLen / 64, c.windowBlocks, c.emptyLists);
    const BlockLists* sparse = c.windowBlocks > 0 ? &lists : nullptr;
    std::optional<ScopedEnv> cap;
    if (c.ctas > 0) cap.emplace("ATTNSCOPE_CUDA_FORWARD_CTAS", std::to_string(c.ctas));
    const LayerForwardRows g = runLayerForward(heads, c.kvHeads, cuda::LayerDType::BFloat16, sparse);
    expectLayerMatchesReference(g, heads, c.kvHeads, sparse, tolerance(StorageType::BFloat16));
}

INSTANTIATE_TEST_SUITE_P(Cases, GpuLayerForward,
                         ::testing::Combine(::testing::Values(LayerCase{4, 2, 320, 128, true, 0},    // head pairs (wgmma)
                                           LayerCase{4, 2, 256, 64, false, 0},    // head pairs, bidirectional
                                           LayerCase{8, 2, 448, 128, true, 2},    // head pairs, block-sparse
                                           LayerCase{3, 3, 320, 128, true, 2},    // block pairs, odd block count
                                           LayerCase{3, 3, 192, 64, true, 0},     // block pairs, dense
                                           LayerCase{4, 1, 256, 96, true, 3},     // mma.sync forward
                                           // Few CTAs, each running through several items (the K/V
                                           // pipeline crossing items), with empty lists among them.
                                           LayerCase{8, 2, 448, 128, true, 2, 3, true},   // head pairs, block-sparse
                                           LayerCase{3, 3, 320, 128, true, 2, 2, true},   // block pairs, odd block count
                                           LayerCase{4, 2, 320, 64, true, 0, 3},          // head pairs, dense
                                           LayerCase{3, 3, 192, 128, false, 0, 2},       // block pairs, dense, bidirectional
                                           // Partial last rounds of long items (7 key blocks).
                                           LayerCase{4, 2, 448, 128, false, 0, 3},       // head pairs: 14 items
                                           LayerCase{3, 3, 448, 64, false, 0, 5}),       // block pairs: 12 items
                                            ::testing::Values(std::string("specialized"), std::string("synchronous"))),
                         layerCaseName);

}  // namespace
}  // namespace attnscope::test
