// fp64 brute force; see brute-force-reference.h.
#include "brute-force-reference.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace attnscope::testing {

BruteForceAttention bruteForceAttention(const HeadTensors& head) {
    const int T = head.seqLen, d = head.headDim, dv = head.valueDim;
    BruteForceAttention b;
    b.seqLen = T;
    b.valueDim = dv;
    const size_t n = static_cast<size_t>(T) * T;
    b.visible.assign(n, 0);
    b.logits.assign(n, 0.0);
    b.probs.assign(n, 0.0);
    b.rowMax.assign(T, -INFINITY);
    b.rowLse.assign(T, 0.0);
    b.rowEntropy.assign(T, 0.0);
    b.columnSums.assign(T, 0.0);
    b.output.assign(static_cast<size_t>(T) * dv, 0.0);
    for (int i = 0; i < T; ++i) {
        for (int j = 0; j < T; ++j) {
            bool vis = head.config.causal ? j <= i : true;
            if (head.config.slidingWindow > 0) vis = vis && std::abs(i - j) < head.config.slidingWindow;
            if (!vis) continue;
            double dot = 0.0;
            for (int c = 0; c < d; ++c)
                dot += static_cast<double>(head.q[static_cast<size_t>(i) * d + c]) * head.k[static_cast<size_t>(j) * d + c];
            double s = dot * head.config.softmaxScale;
            if (head.config.softcap > 0) s = head.config.softcap * std::tanh(s / head.config.softcap);
            b.visible[static_cast<size_t>(i) * T + j] = 1;
            b.logits[static_cast<size_t>(i) * T + j] = s;
            b.rowMax[i] = std::max(b.rowMax[i], s);
        }
        double sum = 0.0;
        for (int j = 0; j < T; ++j)
            if (b.vis(i, j)) sum += std::exp(b.s(i, j) - b.rowMax[i]);
        b.rowLse[i] = b.rowMax[i] + std::log(sum);
        for (int j = 0; j < T; ++j) {
            if (!b.vis(i, j)) continue;
            const double p = std::exp(b.s(i, j) - b.rowLse[i]);
            b.probs[static_cast<size_t>(i) * T + j] = p;
            b.rowEntropy[i] -= p * std::log(p);
            b.columnSums[j] += p;
            for (int c = 0; c < dv; ++c) b.output[static_cast<size_t>(i) * dv + c] += p * head.v[static_cast<size_t>(j) * dv + c];
        }
    }
    return b;
}

HeadTensors randomHead(int seqLen, int headDim, int valueDim, bool causal, uint64_t seed, float sigma,
                       int slidingWindow, float softcap) {
    HeadTensors h;
    h.seqLen = seqLen;
    h.headDim = headDim;
    h.valueDim = valueDim;
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, sigma);
    h.q.resize(static_cast<size_t>(seqLen) * headDim);
    h.k.resize(static_cast<size_t>(seqLen) * headDim);
    h.v.resize(static_cast<size_t>(seqLen) * valueDim);
    for (float& x : h.q) x = normal(rng);
    for (float& x : h.k) x = normal(rng);
    std::normal_distribution<float> unit(0.0f, 1.0f);
    for (float& x : h.v) x = unit(rng);
    h.config.causal = causal;
    h.config.softmaxScale = 1.0f / std::sqrt(static_cast<float>(headDim));
    h.config.slidingWindow = slidingWindow;
    h.config.softcap = softcap;
    return h;
}

bool bruteKeeps(const SparseMask& mask, int i, int j, float logit) {
    if (mask.keepAll) return true;
    if (j < mask.sinkTokens) return true;
    if (mask.windowSize > 0 && std::abs(i - j) < mask.windowSize) return true;
    if (mask.blockSize > 0 && mask.blocks[static_cast<size_t>(i / mask.blockSize) * mask.blockCols + j / mask.blockSize])
        return true;
    if (std::find(mask.columns.begin(), mask.columns.end(), j) != mask.columns.end()) return true;
    if (!mask.rowTopK.empty()) {
        const RowThreshold& t = mask.rowTopK[i];
        if (logit > t.thresholdLogit || (logit == t.thresholdLogit && j <= t.thresholdKey)) return true;
    }
    return false;
}

}  // namespace attnscope::testing
