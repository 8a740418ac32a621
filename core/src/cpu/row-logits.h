// Scaled logits of one query row against a contiguous key range: the inner loop of every CPU
// computation. fp32 products with eight partial sums (d <= a few hundred, so fp32 is exact enough;
// long sums over keys are accumulated in fp64 by the callers).
#pragma once

#include "attnscope/attention-mask.h"
#include "attnscope/head-tensors.h"

namespace attnscope::cpu {

float dotProduct(const float* a, const float* b, int n);

// out[j - range.begin] = scaledLogit(q_i . k_j) for j in range.
void computeRowLogits(const HeadTensors& head, int i, KeyRange range, float* out);

// Keys range [begin, end) clipped to what row i may see.
inline KeyRange clipToVisible(const HeadTensors& head, int i, int begin, int end) {
    KeyRange r = visibleKeys(head.config, head.seqLen, i);
    r.begin = std::max(r.begin, begin);
    r.end = std::min(r.end, end);
    if (r.end < r.begin) r.end = r.begin;
    return r;
}

}  // namespace attnscope::cpu
