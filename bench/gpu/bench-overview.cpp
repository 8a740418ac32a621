// Whole-model overview through the Backend interface (TARGETS.md "whole-model overview"): for every
// (layer, query head) of a Llama-3-8B-shaped model (32 q heads, 8 kv heads, d = 128, causal) at T
// tokens: dense statistics (sink mass on token 0, mean entropy) and the recall of each registered
// variant at one density (budget matched per head with paramsForDensity). Seeded synthetic
// bf16-valued inputs (not real activations); generation is not timed, file reading is not part of
// this run (no HDF5 on the GPU machine). Usage: bench_overview [layers=32] [T=8192] [backend=cuda]
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "attnscope/backend.h"
#include "attnscope/variant.h"
#ifdef ATTNSCOPE_WITH_CUDA
#include "attnscope/cuda-backend.h"
#endif

using namespace attnscope;

namespace {

// Cheap seeded generator (xorshift) of bf16-representable values: sum of two uniforms, scaled.
struct FastRandom {
    uint64_t state;
    float next() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        const float a = static_cast<float>(state & 0xFFFFFF) / 16777216.0f;
        const float b = static_cast<float>((state >> 24) & 0xFFFFFF) / 16777216.0f;
        float x = (a + b - 1.0f) * 2.5f;
        uint32_t bits;
        std::memcpy(&bits, &x, 4);
        bits &= 0xFFFF0000u;  // truncate to bf16
        std::memcpy(&x, &bits, 4);
        return x;
    }
};

void fill(std::vector<float>& v, size_t n, uint64_t seed) {
    FastRandom r{seed * 0x9E3779B97F4A7C15ull + 1};
    v.resize(n);
    for (float& x : v) x = r.next();
}

double secondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    const int layers = argc > 1 ? std::atoi(argv[1]) : 32;
    const int T = argc > 2 ? std::atoi(argv[2]) : 8192;
    const std::string backendName = argc > 3 ? argv[3] : "cuda";
    const int hq = 32, hkv = 8, d = 128;
    const double density = 0.1;
#ifdef ATTNSCOPE_WITH_CUDA
    registerCudaBackend();
#endif
    auto backend = createBackend(backendName);
    std::printf("overview: %d layers x %d heads (%d kv), T=%d, d=%d, variants at density %.2f, backend %s\n", layers,
                hq, hkv, T, d, density, backend->name().c_str());

    double statsSeconds = 0.0, variantSeconds = 0.0;
    std::vector<double> matchSeconds(variantRegistry().size(), 0.0), evalSeconds(variantRegistry().size(), 0.0);
    double sinkSum = 0.0, entropySum = 0.0;
    std::vector<double> recallSum(variantRegistry().size(), 0.0);
    HeadTensors head;
    head.seqLen = T;
    head.headDim = d;
    head.valueDim = d;
    head.storage = StorageType::BFloat16;
    head.config.causal = true;
    head.config.softmaxScale = 1.0f / std::sqrt(static_cast<float>(d));
    StatisticsRequest request;
    request.blocks = false;  // the overview needs column sums, entropy and output, not the block grid
    for (int l = 0; l < layers; ++l) {
        for (int kv = 0; kv < hkv; ++kv) {
            fill(head.k, static_cast<size_t>(T) * d, 1000 * l + 2 * kv);
            fill(head.v, static_cast<size_t>(T) * d, 1000 * l + 2 * kv + 1);
            for (int g = 0; g < hq / hkv; ++g) {
                const int h = kv * (hq / hkv) + g;
                fill(head.q, static_cast<size_t>(T) * d, 1000000 + 1000 * l + h);
                head.layer = l;
                head.queryHead = h;
                head.kvHead = kv;
                auto t0 = std::chrono::steady_clock::now();
                const HeadStatistics stats = backend->computeStatistics(head, request);
                statsSeconds += secondsSince(t0);
                sinkSum += stats.columnSums[0] / T;
                double entropy = 0.0;
                for (double e : stats.rowEntropy) entropy += e;
                entropySum += entropy / T;
                t0 = std::chrono::steady_clock::now();
                for (size_t v = 0; v < variantRegistry().size(); ++v) {
                    const Variant& variant = *variantRegistry()[v];
                    auto tv = std::chrono::steady_clock::now();
                    ParamValues params = resolveParams(variant, {});
                    if (!variant.budgetParameter().empty())
                        params = paramsForDensity(variant, head, params, density, *backend);
                    const VariantPlan plan = variant.plan(head, params, *backend);
                    matchSeconds[v] += secondsSince(tv);
                    tv = std::chrono::steady_clock::now();
                    const VariantEvaluation eval = backend->evaluateVariant(head, stats, plan);
                    evalSeconds[v] += secondsSince(tv);
                    recallSum[v] += eval.metrics.recall;
                }
                variantSeconds += secondsSince(t0);
            }
        }
        std::printf("  layer %d done: statistics %.2f s, variants %.2f s so far\n", l, statsSeconds, variantSeconds);
        std::fflush(stdout);
    }
    const int heads = layers * hq;
    std::printf("RESULT ours layers=%d heads=%d T=%d statistics_s=%.3f variants_s=%.3f total_s=%.3f per_head_ms=%.2f\n",
                layers, heads, T, statsSeconds, variantSeconds, statsSeconds + variantSeconds,
                1e3 * (statsSeconds + variantSeconds) / heads);
    std::printf("  mean sink mass %.4f, mean entropy %.4f nats; mean recall:", sinkSum / heads, entropySum / heads);
    for (size_t v = 0; v < recallSum.size(); ++v)
        std::printf(" %s=%.4f", variantRegistry()[v]->id().c_str(), recallSum[v] / heads);
    std::printf("\n  per variant, ms per head (budget search + plan | evaluation):");
    for (size_t v = 0; v < recallSum.size(); ++v)
        std::printf(" %s=%.1f|%.1f", variantRegistry()[v]->id().c_str(), 1e3 * matchSeconds[v] / heads,
                    1e3 * evalSeconds[v] / heads);
    std::printf("\n");
    return 0;
}
