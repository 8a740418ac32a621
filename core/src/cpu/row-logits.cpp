// Hot loops of the CPU backend; see row-logits.h for why they are multiversioned.
#include "cpu/row-logits.h"

namespace attnscope::cpu {

__attribute__((target_clones("avx2", "default"))) float dotProduct(const float* a, const float* b, int n) {
    return dotProductInline(a, b, n);
}

__attribute__((target_clones("avx2", "default"))) void computeRowLogits(const HeadTensors& head, int i, KeyRange range,
                                                                        float* out) {
    const float* q = head.queryRow(i);
    const int d = head.headDim;
    const float* k = head.k.data();
    const float scale = head.config.softmaxScale;
    if (head.config.softcap > 0.0f) {
        for (int j = range.begin; j < range.end; ++j)
            out[j - range.begin] = scaledLogit(head.config, dotProductInline(q, k + static_cast<size_t>(j) * d, d));
        return;
    }
    for (int j = range.begin; j < range.end; ++j) out[j - range.begin] = dotProductInline(q, k + static_cast<size_t>(j) * d, d) * scale;
}

__attribute__((target_clones("avx2", "default"))) void accumulateWeighted(double* acc, double weight, const float* v,
                                                                          int n) {
    for (int c = 0; c < n; ++c) acc[c] += weight * static_cast<double>(v[c]);
}

__attribute__((target_clones("avx2", "default"))) void accumulateWeightedRows(double* acc, const double* weights,
                                                                              const float* rows, int count, int n) {
    int t = 0;
    for (; t + 4 <= count; t += 4) {
        const float* v0 = rows + static_cast<size_t>(t) * n;
        const float* v1 = v0 + n;
        const float* v2 = v1 + n;
        const float* v3 = v2 + n;
        const double w0 = weights[t], w1 = weights[t + 1], w2 = weights[t + 2], w3 = weights[t + 3];
        for (int c = 0; c < n; ++c)
            acc[c] += (w0 * static_cast<double>(v0[c]) + w1 * static_cast<double>(v1[c])) +
                      (w2 * static_cast<double>(v2[c]) + w3 * static_cast<double>(v3[c]));
    }
    for (; t < count; ++t) {
        const float* v = rows + static_cast<size_t>(t) * n;
        for (int c = 0; c < n; ++c) acc[c] += weights[t] * static_cast<double>(v[c]);
    }
}

}  // namespace attnscope::cpu
