// Dot products for the CPU backend. target_clones lets one binary use AVX2 where the CPU has it.
#include "cpu/row-logits.h"

namespace attnscope::cpu {

__attribute__((target_clones("avx2", "default"))) float dotProduct(const float* a, const float* b, int n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int c = 0;
    for (; c + 8 <= n; c += 8)
        for (int l = 0; l < 8; ++l) acc[l] += a[c + l] * b[c + l];
    float tail = 0.0f;
    for (; c < n; ++c) tail += a[c] * b[c];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

void computeRowLogits(const HeadTensors& head, int i, KeyRange range, float* out) {
    const float* q = head.queryRow(i);
    for (int j = range.begin; j < range.end; ++j)
        out[j - range.begin] = scaledLogit(head.config, dotProduct(q, head.keyRow(j), head.headDim));
}

}  // namespace attnscope::cpu
