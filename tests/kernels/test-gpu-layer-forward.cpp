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
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <tuple>

#include "attnscope/cuda-layer.h"
#include "cuda-check.h"
#include "kernel-test-support.h"

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

// bf16 bits of values that bf16 holds exactly (makeHead's fp16/bf16 values).
std::vector<uint16_t> toBf16(const std::vector<float>& x) {
    std::vector<uint16_t> out(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
        uint32_t bits;
        std::memcpy(&bits, &x[i], sizeof bits);
        out[i] = static_cast<uint16_t>(bits >> 16);
    }
    return out;
}

struct BlockLists {
    std::vector<int> offsets{0}, blocks;
};

BlockLists sinkWindowLists(int nb, int windowBlocks, bool emptyLists) {
    BlockLists l;
    for (int qb = 0; qb < nb; ++qb) {
        if (!emptyLists || qb % 3 != 1) {
            l.blocks.push_back(0);
            for (int kb = std::max(1, qb - windowBlocks + 1); kb <= qb; ++kb) l.blocks.push_back(kb);
        }
        l.offsets.push_back(static_cast<int>(l.blocks.size()));
    }
    return l;
}

// Softmax over the visible keys of the listed blocks, in double: what the block-sparse forward
// computes for one head. A row with no key: output 0, max and LSE -inf, entropy 0.
struct RowReference {
    std::vector<double> lse, entropy;
    std::vector<float> rowMax, output;
};
RowReference sparseReference(const HeadTensors& h, const BlockLists& l) {
    const int T = h.seqLen, D = h.headDim;
    RowReference r;
    r.lse.resize(T);
    r.entropy.resize(T);
    r.rowMax.resize(T);
    r.output.assign(static_cast<size_t>(T) * D, 0.0f);
    for (int i = 0; i < T; ++i) {
        std::vector<std::pair<int, double>> logits;
        const int qb = i / 64;
        for (int e = l.offsets[qb]; e < l.offsets[qb + 1]; ++e)
            for (int j = l.blocks[e] * 64; j < l.blocks[e] * 64 + 64 && j < T; ++j) {
                if (h.config.causal && j > i) continue;
                double dot = 0.0;
                for (int c = 0; c < D; ++c) dot += static_cast<double>(h.queryRow(i)[c]) * h.keyRow(j)[c];
                logits.emplace_back(j, dot * h.config.softmaxScale);
            }
        double m = -INFINITY;
        for (const auto& [j, s] : logits) m = std::max(m, s);
        double z = 0.0, zs = 0.0;
        for (const auto& [j, s] : logits) {
            z += std::exp(s - m);
            zs += std::exp(s - m) * (s - m);
        }
        r.rowMax[i] = static_cast<float>(m);
        r.lse[i] = logits.empty() ? -INFINITY : m + std::log(z);
        r.entropy[i] = logits.empty() ? 0.0 : std::log(z) - zs / z;
        for (const auto& [j, s] : logits)
            for (int c = 0; c < D; ++c)
                r.output[static_cast<size_t>(i) * D + c] += static_cast<float>(std::exp(s - r.lse[i]) * h.valueRow(j)[c]);
    }
    return r;
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
    const int T = c.seqLen, D = c.headDim, group = c.qHeads / c.kvHeads;
    const size_t headSize = static_cast<size_t>(T) * D;
    std::vector<HeadTensors> heads;
    std::vector<float> q, k, v;
    for (int kv = 0; kv < c.kvHeads; ++kv) {
        const HeadTensors base = makeHead(makeCase(T, D, StorageType::BFloat16, c.causal, 0, 0.0f, 100 + kv));
        k.insert(k.end(), base.k.begin(), base.k.end());
        v.insert(v.end(), base.v.begin(), base.v.end());
        for (int g = 0; g < group; ++g) heads.push_back(withNewQueries(base, 200 + kv * group + g));
    }
    for (const HeadTensors& h : heads) q.insert(q.end(), h.q.begin(), h.q.end());

    cuda::DeviceBuffer<uint16_t> dq(q.size(), "test q"), dk(k.size(), "test k"), dv(v.size(), "test v");
    dq.upload(toBf16(q).data(), q.size());
    dk.upload(toBf16(k).data(), k.size());
    dv.upload(toBf16(v).data(), v.size());
    const size_t rows = static_cast<size_t>(c.qHeads) * T;
    cuda::DeviceBuffer<float> out(rows * D, "test out"), rowMax(rows, "test max"), rowLse(rows, "test lse"),
        rowEntropy(rows, "test entropy");
    // NaN everywhere first: a row the launch does not write fails the comparison.
    const std::vector<float> nans(rows * D, NAN);
    for (cuda::DeviceBuffer<float>* b : {&out, &rowMax, &rowLse, &rowEntropy}) b->upload(nans.data(), b == &out ? rows * D : rows);
    const BlockLists lists = c.windowBlocks > 0 ? sinkWindowLists(T / 64, c.windowBlocks, c.emptyLists) : BlockLists{};
    cuda::DeviceBuffer<int> offsets(lists.offsets.size(), "test offsets"), blocks(lists.blocks.size(), "test blocks");
    if (c.windowBlocks > 0) {
        offsets.upload(lists.offsets.data(), lists.offsets.size());
        blocks.upload(lists.blocks.data(), lists.blocks.size());
    }
    cuda::LayerShape shape;
    shape.qHeads = c.qHeads;
    shape.kvHeads = c.kvHeads;
    shape.seqLen = T;
    shape.headDim = D;
    shape.causal = c.causal;
    {
        std::optional<ScopedEnv> cap;
        if (c.ctas > 0) cap.emplace("ATTNSCOPE_CUDA_FORWARD_CTAS", std::to_string(c.ctas));
        cuda::layerForward(shape, cuda::LayerDType::BFloat16, dq.get(), dk.get(), dv.get(), out.get(), rowMax.get(),
                           rowLse.get(), rowEntropy.get(), true, c.windowBlocks > 0 ? offsets.get() : nullptr,
                           c.windowBlocks > 0 ? blocks.get() : nullptr, nullptr);
    }
    std::vector<float> gOut(rows * D), gMax(rows), gLse(rows), gEntropy(rows);
    out.download(gOut.data(), gOut.size());
    rowMax.download(gMax.data(), gMax.size());
    rowLse.download(gLse.data(), gLse.size());
    rowEntropy.download(gEntropy.data(), gEntropy.size());

    const double tol = tolerance(StorageType::BFloat16);
    for (int hd = 0; hd < c.qHeads; ++hd) {
        SCOPED_TRACE("query head " + std::to_string(hd) + " (K/V head " + std::to_string(hd / group) + ")");
        auto slice = [&](const std::vector<float>& x, size_t n) {
            return std::vector<float>(x.begin() + hd * n, x.begin() + (hd + 1) * n);
        };
        auto rowsOf = [&](const std::vector<float>& x) {
            return std::vector<double>(x.begin() + hd * T, x.begin() + (hd + 1) * T);
        };
        if (c.windowBlocks > 0) {
            const RowReference r = sparseReference(heads[hd], lists);
            EXPECT_TRUE(allClose(rowsOf(gLse), r.lse, tol, 1.0, "rowLse"));
            EXPECT_TRUE(allClose(slice(gMax, T), r.rowMax, tol, 1.0, "rowMax"));
            EXPECT_TRUE(allClose(rowsOf(gEntropy), r.entropy, tol, 1.0, "rowEntropy"));
            EXPECT_TRUE(normClose(slice(gOut, headSize), r.output, tol, "output"));
        } else {
            const HeadStatistics r = cpuBackend().computeStatistics(heads[hd], {true, false, false});
            EXPECT_TRUE(allClose(rowsOf(gLse), r.rowLse, tol, 1.0, "rowLse"));
            EXPECT_TRUE(allClose(slice(gMax, T), r.rowMax, tol, 1.0, "rowMax"));
            EXPECT_TRUE(allClose(rowsOf(gEntropy), r.rowEntropy, tol, 1.0, "rowEntropy"));
            EXPECT_TRUE(normClose(slice(gOut, headSize), r.output, tol, "output"));
        }
    }
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
