// Hot loops of the CPU backend; see row-logits.h for why they are multiversioned.
#include "cpu/row-logits.h"

#include <immintrin.h>

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

namespace {

// GCC widens float vectors to double poorly through generic vectors, so the AVX2 loop is written with
// intrinsics and picked at run time; the portable loop is the reference order it reproduces.
double accumulateScaledRowsPortable(double* acc, const double* weights, double scale, const int32_t* keys,
                                    const float* values, int count, int n) {
    double total = 0.0;
    for (int r = 0; r < count; ++r) {
        const double w = weights[keys[r]] * scale;
        total += w;
        const float* v = values + static_cast<size_t>(keys[r]) * n;
        for (int c = 0; c < n; ++c) acc[c] += w * static_cast<double>(v[c]);
    }
    return total;
}

// 32 columns per pass over the keys, held in eight registers (then 4, then one): per lane a product, then
// a sum, in the order of r (no fused multiply-add: the target has none), exactly the portable loop.
__attribute__((target("avx2"))) double accumulateScaledRowsAvx2(double* acc, const double* weights, double scale,
                                                                const int32_t* keys, const float* values, int count,
                                                                int n) {
    double total = 0.0;
    for (int r = 0; r < count; ++r) total += weights[keys[r]] * scale;
    constexpr int kRegisters = 8;
    int c0 = 0;
    for (; c0 + 4 * kRegisters <= n; c0 += 4 * kRegisters) {
        __m256d a[kRegisters];
        for (int l = 0; l < kRegisters; ++l) a[l] = _mm256_loadu_pd(acc + c0 + 4 * l);
        for (int r = 0; r < count; ++r) {
            const float* v = values + static_cast<size_t>(keys[r]) * n + c0;
            const __m256d w = _mm256_set1_pd(weights[keys[r]] * scale);
            for (int l = 0; l < kRegisters; ++l)
                a[l] = _mm256_add_pd(a[l], _mm256_mul_pd(w, _mm256_cvtps_pd(_mm_loadu_ps(v + 4 * l))));
        }
        for (int l = 0; l < kRegisters; ++l) _mm256_storeu_pd(acc + c0 + 4 * l, a[l]);
    }
    for (; c0 + 4 <= n; c0 += 4) {
        __m256d a = _mm256_loadu_pd(acc + c0);
        for (int r = 0; r < count; ++r)
            a = _mm256_add_pd(a, _mm256_mul_pd(_mm256_set1_pd(weights[keys[r]] * scale),
                                               _mm256_cvtps_pd(_mm_loadu_ps(values + static_cast<size_t>(keys[r]) * n + c0))));
        _mm256_storeu_pd(acc + c0, a);
    }
    for (; c0 < n; ++c0)
        for (int r = 0; r < count; ++r)
            acc[c0] += (weights[keys[r]] * scale) * static_cast<double>(values[static_cast<size_t>(keys[r]) * n + c0]);
    return total;
}

}  // namespace

double accumulateScaledRows(double* acc, const double* weights, double scale, const int32_t* keys, const float* values,
                            int count, int n) {
    static const bool avx2 = __builtin_cpu_supports("avx2");
    return (avx2 ? accumulateScaledRowsAvx2 : accumulateScaledRowsPortable)(acc, weights, scale, keys, values, count, n);
}

}  // namespace attnscope::cpu
