// Helpers of the layer-level forward tests; see layer-forward-support.h.
#include "layer-forward-support.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "cuda-check.h"
#include "host-staging.h"

namespace attnscope::test {

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

namespace {

// 16-bit bits of values the type holds exactly (the tests' inputs: seeded integers / 64, or a
// capture's fp16 values).
std::vector<uint16_t> toBits(const std::vector<float>& x, cuda::LayerDType dtype) {
    std::vector<uint16_t> out(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
        const uint32_t bits = std::bit_cast<uint32_t>(x[i]);
        if (dtype == cuda::LayerDType::BFloat16) {
            if (!cuda::staging::bf16Representable(bits)) throw std::invalid_argument("a value bf16 does not hold exactly");
            out[i] = static_cast<uint16_t>(bits >> 16);
        } else {
            uint32_t slow = 0;
            out[i] = cuda::staging::halfExact(bits, slow);
            if (slow) throw std::invalid_argument("a value fp16 does not hold exactly");
        }
    }
    return out;
}

}  // namespace

LayerForwardRows runLayerForward(const std::vector<HeadTensors>& heads, int kvHeads, cuda::LayerDType dtype,
                                 const BlockLists* lists) {
    const HeadTensors& first = heads.at(0);
    const int qHeads = static_cast<int>(heads.size()), group = qHeads / kvHeads;
    const int T = first.seqLen, D = first.headDim;
    std::vector<float> q, k, v;
    for (const HeadTensors& h : heads) q.insert(q.end(), h.q.begin(), h.q.end());
    for (int kv = 0; kv < kvHeads; ++kv) {
        const HeadTensors& h = heads[static_cast<size_t>(kv) * group];
        k.insert(k.end(), h.k.begin(), h.k.end());
        v.insert(v.end(), h.v.begin(), h.v.end());
    }
    cuda::DeviceBuffer<uint16_t> dq(q.size(), "test q"), dk(k.size(), "test k"), dv(v.size(), "test v");
    dq.upload(toBits(q, dtype).data(), q.size());
    dk.upload(toBits(k, dtype).data(), k.size());
    dv.upload(toBits(v, dtype).data(), v.size());
    const size_t rows = static_cast<size_t>(qHeads) * T;
    cuda::DeviceBuffer<float> out(rows * D, "test out"), rowMax(rows, "test max"), rowLse(rows, "test lse"),
        rowEntropy(rows, "test entropy");
    // NaN everywhere first: a row the launch does not write fails the comparison.
    const std::vector<float> nans(rows * D, NAN);
    for (cuda::DeviceBuffer<float>* b : {&out, &rowMax, &rowLse, &rowEntropy}) b->upload(nans.data(), b == &out ? rows * D : rows);
    const size_t listEntries = lists ? lists->blocks.size() : 0;
    cuda::DeviceBuffer<int> offsets(lists ? lists->offsets.size() : 0, "test offsets"), blocks(listEntries, "test blocks");
    if (lists) {
        offsets.upload(lists->offsets.data(), lists->offsets.size());
        blocks.upload(lists->blocks.data(), listEntries);
    }
    cuda::LayerShape shape;
    shape.qHeads = qHeads;
    shape.kvHeads = kvHeads;
    shape.seqLen = T;
    shape.headDim = D;
    shape.causal = first.config.causal;
    shape.scale = first.config.softmaxScale;
    cuda::layerForward(shape, dtype, dq.get(), dk.get(), dv.get(), out.get(), rowMax.get(), rowLse.get(),
                       rowEntropy.get(), true, lists ? offsets.get() : nullptr, lists ? blocks.get() : nullptr, nullptr);
    LayerForwardRows g;
    g.out.resize(rows * D);
    g.rowMax.resize(rows);
    g.rowLse.resize(rows);
    g.rowEntropy.resize(rows);
    out.download(g.out.data(), g.out.size());
    rowMax.download(g.rowMax.data(), rows);
    rowLse.download(g.rowLse.data(), rows);
    rowEntropy.download(g.rowEntropy.data(), rows);
    return g;
}

void expectLayerMatchesReference(const LayerForwardRows& g, const std::vector<HeadTensors>& heads, int kvHeads,
                                 const BlockLists* lists, double tol) {
    const int group = static_cast<int>(heads.size()) / kvHeads;
    for (size_t hd = 0; hd < heads.size(); ++hd) {
        const int T = heads[hd].seqLen;
        const size_t headSize = static_cast<size_t>(T) * heads[hd].headDim;
        SCOPED_TRACE("query head " + std::to_string(hd) + " (K/V head " + std::to_string(hd / group) + ")");
        auto slice = [&](const std::vector<float>& x, size_t n) {
            return std::vector<float>(x.begin() + hd * n, x.begin() + (hd + 1) * n);
        };
        auto rowsOf = [&](const std::vector<float>& x) {
            return std::vector<double>(x.begin() + hd * T, x.begin() + (hd + 1) * T);
        };
        if (lists) {
            const RowReference r = sparseReference(heads[hd], *lists);
            EXPECT_TRUE(allClose(rowsOf(g.rowLse), r.lse, tol, 1.0, "rowLse"));
            EXPECT_TRUE(allClose(slice(g.rowMax, T), r.rowMax, tol, 1.0, "rowMax"));
            EXPECT_TRUE(allClose(rowsOf(g.rowEntropy), r.entropy, tol, 1.0, "rowEntropy"));
            EXPECT_TRUE(normClose(slice(g.out, headSize), r.output, tol, "output"));
        } else {
            const HeadStatistics r = cpuBackend().computeStatistics(heads[hd], {true, false, false});
            EXPECT_TRUE(allClose(rowsOf(g.rowLse), r.rowLse, tol, 1.0, "rowLse"));
            EXPECT_TRUE(allClose(slice(g.rowMax, T), r.rowMax, tol, 1.0, "rowMax"));
            EXPECT_TRUE(allClose(rowsOf(g.rowEntropy), r.rowEntropy, tol, 1.0, "rowEntropy"));
            EXPECT_TRUE(normClose(slice(g.out, headSize), r.output, tol, "output"));
        }
    }
}

}  // namespace attnscope::test
