// Scaled logits of one query row against a contiguous key range and the fp64 weighted-row
// accumulation: the inner loops of every CPU computation. fp32 products with eight partial sums
// (d is at most a few hundred, so fp32 is exact enough); long sums over keys are accumulated in
// fp64 by the callers. The loops are compiled for AVX2 and a baseline (target_clones), chosen at
// load time, so one binary runs everywhere and uses wide vectors where the CPU has them.
#pragma once

#include <cstdint>

#include "attnscope/attention-mask.h"
#include "attnscope/head-tensors.h"

namespace attnscope::cpu {

// Inlined into the vectorized callers.
__attribute__((always_inline)) inline float dotProductInline(const float* a, const float* b, int n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int c = 0;
    for (; c + 8 <= n; c += 8)
        for (int l = 0; l < 8; ++l) acc[l] += a[c + l] * b[c + l];
    float tail = 0.0f;
    for (; c < n; ++c) tail += a[c] * b[c];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

float dotProduct(const float* a, const float* b, int n);

// out[j - range.begin] = scaledLogit(q_i . k_j) for j in range.
void computeRowLogits(const HeadTensors& head, int i, KeyRange range, float* out);

// acc[c] += weight * v[c] for c < n, in fp64.
void accumulateWeighted(double* acc, double weight, const float* v, int n);

// acc[c] += sum_t weights[t] * rows[t][c] for `count` rows of stride n starting at `rows`,
// four rows per pass so the accumulator is loaded and stored once per four keys.
void accumulateWeightedRows(double* acc, const double* weights, const float* rows, int count, int n);

// With w_r = weights[keys[r]] * scale: acc[c] += sum over r < count of w_r * values[keys[r]][c] (rows of
// stride n), returning sum_r w_r. Where the CPU has AVX2, 32 columns at a time in registers. Every sum runs
// one term at a time in the order of r (a product, then a sum), so the result is bit for bit that of
// `for r: { w = weights[keys[r]] * scale; total += w; for c: acc[c] += w * v[c]; }`.
double accumulateScaledRows(double* acc, const double* weights, double scale, const int32_t* keys, const float* values,
                            int count, int n);

// Keys range [begin, end) clipped to what row i may see.
inline KeyRange clipToVisible(const HeadTensors& head, int i, int begin, int end) {
    KeyRange r = visibleKeys(head.config, head.seqLen, i);
    r.begin = std::max(r.begin, begin);
    r.end = std::min(r.end, end);
    if (r.end < r.begin) r.end = r.begin;
    return r;
}

}  // namespace attnscope::cpu
