// The base attention mask a model applies (causal or bidirectional, optional native window) and the
// logit function (scale, optional softcap). Every backend and variant uses these definitions, so
// the CPU reference and the GPU kernels agree on which cells exist.
#pragma once

#include <algorithm>
#include <cmath>

#include "attnscope/head-tensors.h"

namespace attnscope {

// Half-open interval of keys [begin, end).
struct KeyRange {
    int begin = 0;
    int end = 0;
    int size() const { return end > begin ? end - begin : 0; }
    bool contains(int j) const { return j >= begin && j < end; }
};

// The keys query i may attend to under the model's own mask. Always one contiguous interval.
inline KeyRange visibleKeys(const AttentionConfig& config, int seqLen, int i) {
    KeyRange range{0, config.causal ? i + 1 : seqLen};
    if (config.slidingWindow > 0) {
        range.begin = std::max(0, i - config.slidingWindow + 1);
        if (!config.causal) range.end = std::min(seqLen, i + config.slidingWindow);
    }
    return range;
}

inline bool isVisible(const AttentionConfig& config, int seqLen, int i, int j) {
    return visibleKeys(config, seqLen, i).contains(j);
}

// Number of visible cells in the rectangle rows [q0, q1) x keys [k0, k1).
long long visibleCellCount(const AttentionConfig& config, int seqLen, int q0, int q1, int k0, int k1);

// Scaled (and soft-capped) logit from a raw dot product.
inline float scaledLogit(const AttentionConfig& config, float dot) {
    float s = dot * config.softmaxScale;
    if (config.softcap > 0.0f) s = config.softcap * std::tanh(s / config.softcap);
    return s;
}

}  // namespace attnscope
