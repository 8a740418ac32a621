// Hand-constructed heads with known attention structure for the analysis tests (synthetic, not real
// activations): a planted token-0 sink, a planted vertical stripe, a planted block pattern, a local head.
#pragma once

#include <cmath>
#include <vector>

#include "attnscope/head-tensors.h"

namespace attnscope::testing {

// d = 2. Every query is (1, 0); key 0 is (a, 0), key `stripe` (when >= 0) is (b, 0), all other keys (0, 1).
// Logits (scale 1): s_i0 = a, s_i,stripe = b, else 0. Values: v_0 = (v0Norm, 0), others (1, 1) / sqrt 2 ... * 1.
inline HeadTensors plantedSinkHead(int T, bool causal, float a, int stripe = -1, float b = 0.0f, float v0Norm = 0.1f) {
    HeadTensors h;
    h.seqLen = T;
    h.headDim = 2;
    h.valueDim = 2;
    h.config.causal = causal;
    h.config.softmaxScale = 1.0f;
    h.q.assign(static_cast<size_t>(T) * 2, 0.0f);
    h.k.assign(h.q.size(), 0.0f);
    h.v.assign(h.q.size(), 0.0f);
    for (int i = 0; i < T; ++i) {
        h.q[2 * i] = 1.0f;
        h.k[2 * i + 1] = 1.0f;
        // Distinct values so output errors are informative: v_j = (cos j, sin j), norm 1.
        h.v[2 * i] = std::cos(0.37f * i);
        h.v[2 * i + 1] = std::sin(0.37f * i);
    }
    h.k[0] = a;
    h.k[1] = 0.0f;
    h.v[0] = v0Norm;
    h.v[1] = 0.0f;
    if (stripe > 0) {
        h.k[2 * stripe] = b;
        h.k[2 * stripe + 1] = 0.0f;
    }
    return h;
}

// Local head: q_i and k_j on a circle at angle 0.05 i with radius r, so s_ij = r^2 cos(0.05 (i - j)) peaks
// on the diagonal and decays with distance.
inline HeadTensors localHead(int T, bool causal, float r = 6.0f) {
    HeadTensors h;
    h.seqLen = T;
    h.headDim = 2;
    h.valueDim = 2;
    h.config.causal = causal;
    h.config.softmaxScale = 1.0f;
    h.q.resize(static_cast<size_t>(T) * 2);
    h.k.resize(h.q.size());
    h.v.resize(h.q.size());
    for (int i = 0; i < T; ++i) {
        const float t = 0.05f * i;
        h.q[2 * i] = h.k[2 * i] = r * std::cos(t);
        h.q[2 * i + 1] = h.k[2 * i + 1] = r * std::sin(t);
        h.v[2 * i] = std::cos(0.37f * i);
        h.v[2 * i + 1] = std::sin(0.37f * i);
    }
    return h;
}

// Recent-tokens head (causal): q_i = (1, i, 0), k_j = (m j, -m, 0), so s_ij = -m (i - j) exactly in fp32
// (integers): ALiBi-like exponential decay with distance, row mass e^{-m d} (1 - e^{-m}) at distance d, i.e. a
// purely local head (m = 2: 86 % on the diagonal, e^{-64} beyond 32 tokens). With sink >= 0, key `sink` is
// (0, 0, b) and every query has 1 in the third coordinate: s_i,sink = b for every query, whatever its distance.
inline HeadTensors recentTokensHead(int T, float m, int sink = -1, float b = 0.0f) {
    HeadTensors h;
    h.seqLen = T;
    h.headDim = 3;
    h.valueDim = 2;
    h.config.causal = true;
    h.config.softmaxScale = 1.0f;
    h.q.assign(static_cast<size_t>(T) * 3, 0.0f);
    h.k.assign(h.q.size(), 0.0f);
    h.v.resize(static_cast<size_t>(T) * 2);
    for (int i = 0; i < T; ++i) {
        h.q[3 * i] = 1.0f;
        h.q[3 * i + 1] = static_cast<float>(i);
        h.q[3 * i + 2] = 1.0f;
        h.k[3 * i] = m * static_cast<float>(i);
        h.k[3 * i + 1] = -m;
        h.v[2 * i] = std::cos(0.37f * i);
        h.v[2 * i + 1] = std::sin(0.37f * i);
    }
    if (sink >= 0) {
        h.k[3 * sink] = h.k[3 * sink + 1] = 0.0f;
        h.k[3 * sink + 2] = b;
    }
    return h;
}

// Block head: tokens in groups of `group`; a one-hot group code in q and k (d = number of groups), so a
// query attends strongly (logit g) to the keys of its own group only: a block-diagonal pattern.
inline HeadTensors blockHead(int T, int group, bool causal, float g = 8.0f) {
    const int groups = (T + group - 1) / group;
    HeadTensors h;
    h.seqLen = T;
    h.headDim = groups;
    h.valueDim = 2;
    h.config.causal = causal;
    h.config.softmaxScale = 1.0f;
    h.q.assign(static_cast<size_t>(T) * groups, 0.0f);
    h.k.assign(h.q.size(), 0.0f);
    h.v.resize(static_cast<size_t>(T) * 2);
    for (int i = 0; i < T; ++i) {
        h.q[static_cast<size_t>(i) * groups + i / group] = std::sqrt(g);
        h.k[static_cast<size_t>(i) * groups + i / group] = std::sqrt(g);
        h.v[2 * i] = std::cos(0.37f * i);
        h.v[2 * i + 1] = std::sin(0.37f * i);
    }
    return h;
}

}  // namespace attnscope::testing

namespace attnscope::testing {

// Local head plus a token-0 sink: key 0 is (0, 0, a) and every query has 1 in the third coordinate, so
// s_i0 = a for every query while the local logits are r^2 cos(0.05 (i - j)).
inline HeadTensors sinkLocalHead(int T, bool causal, float a, float r = 6.0f) {
    HeadTensors base = localHead(T, causal, r);
    HeadTensors h = base;
    h.headDim = 3;
    h.q.assign(static_cast<size_t>(T) * 3, 0.0f);
    h.k.assign(h.q.size(), 0.0f);
    for (int i = 0; i < T; ++i) {
        for (int c = 0; c < 2; ++c) {
            h.q[3 * i + c] = base.q[2 * i + c];
            h.k[3 * i + c] = base.k[2 * i + c];
        }
        h.q[3 * i + 2] = 1.0f;
    }
    h.k[0] = h.k[1] = 0.0f;
    h.k[2] = a;
    return h;
}

// Vertical stripes: every query (1, 0); keys in `stripes` are (b, 0), all others (0, 1).
inline HeadTensors stripeHead(int T, bool causal, const std::vector<int>& stripes, float b) {
    HeadTensors h = plantedSinkHead(T, causal, 0.0f, -1, 0.0f, 1.0f);
    h.k[0] = 0.0f;
    h.k[1] = 1.0f;
    for (int s : stripes) {
        h.k[2 * s] = b;
        h.k[2 * s + 1] = 0.0f;
    }
    return h;
}

}  // namespace attnscope::testing
