// Whole-model overview (TARGETS.md): for every (layer, query head) of a Llama-3-8B-shaped model
// (32 q heads, 8 kv heads, d = 128, causal) at T tokens, the sink mass on token 0, the mean entropy
// and the recall of every registered variant at 10 % density (budgets from paramsForDensity, the
// same for every head: these masks' kept-cell counts do not depend on the head's values).
// Seeded synthetic bf16 inputs (not real activations), generated on the host and uploaded before
// any timing, as overview_pytorch.py generates its inputs on the GPU untimed. The whole model runs
// `repeats` times; the median is reported (and the first run, which pays one-time costs).
// Modes: "layer" (default) = Backend::computeLayerOverview's kernels through attnscope/cuda-layer.h
// on device tensors; "backend" = the CUDA Backend's computeLayerOverview from host fp32 tensors
// (upload and conversion included, as the CLI does after reading a capture).
// Usage: bench_overview [layers=32] [T=8192] [mode=layer|backend] [repeats=3]
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "attnscope/backend.h"
#include "attnscope/cuda-backend.h"
#include "attnscope/cuda-layer.h"
#include "attnscope/layer-overview.h"
#include "attnscope/variant.h"

using namespace attnscope;

namespace {

// Cheap seeded generator (xorshift) of bf16 values: sum of two uniforms, scaled, truncated to bf16.
struct FastRandom {
    uint64_t state;
    uint16_t next() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        const float a = static_cast<float>(state & 0xFFFFFF) / 16777216.0f;
        const float b = static_cast<float>((state >> 24) & 0xFFFFFF) / 16777216.0f;
        const float x = (a + b - 1.0f) * 2.5f;
        uint32_t bits;
        std::memcpy(&bits, &x, 4);
        return static_cast<uint16_t>(bits >> 16);
    }
};

void fill(std::vector<uint16_t>& bf16, std::vector<float>* asFloat, size_t n, uint64_t seed) {
    FastRandom r{seed * 0x9E3779B97F4A7C15ull + 1};
    bf16.resize(n);
    for (uint16_t& x : bf16) x = r.next();
    if (asFloat) {
        asFloat->resize(n);
        for (size_t i = 0; i < n; ++i) {
            const uint32_t bits = static_cast<uint32_t>(bf16[i]) << 16;
            std::memcpy(&(*asFloat)[i], &bits, 4);
        }
    }
}

void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) {
        std::fprintf(stderr, "CUDA error %s: %s\n", what, cudaGetErrorString(e));
        std::exit(1);
    }
}

double secondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    const int layers = argc > 1 ? std::atoi(argv[1]) : 32;
    const int T = argc > 2 ? std::atoi(argv[2]) : 8192;
    const std::string mode = argc > 3 ? argv[3] : "layer";
    const int repeats = argc > 4 ? std::max(1, std::atoi(argv[4])) : 3;
    const int hq = 32, hkv = 8, d = 128;
    const double density = 0.1;
    registerCudaBackend();
    auto backend = createBackend("cuda");
    auto cpu = createBackend("cpu");

    // Budgets: once, on a head of the model's shape (values irrelevant for these counts).
    HeadTensors shapeHead;
    shapeHead.seqLen = T;
    shapeHead.headDim = shapeHead.valueDim = d;
    shapeHead.config.causal = true;
    shapeHead.config.softmaxScale = 1.0f / std::sqrt(static_cast<float>(d));
    std::vector<uint16_t> scratch;
    fill(scratch, &shapeHead.q, static_cast<size_t>(T) * d, 7);
    fill(scratch, &shapeHead.k, static_cast<size_t>(T) * d, 8);
    fill(scratch, &shapeHead.v, static_cast<size_t>(T) * d, 9);
    std::vector<OverviewMask> masks;
    for (const auto& variant : variantRegistry()) {
        ParamValues params = resolveParams(*variant, {});
        if (!variant->budgetParameter().empty()) params = paramsForDensity(*variant, shapeHead, params, density, *cpu);
        masks.push_back(overviewMaskFor(*variant, params));
    }
    std::printf("overview (%s): %d layers x %d heads (%d kv), T=%d, d=%d, %zu variants at density %.2f, %s\n",
                mode.c_str(), layers, hq, hkv, T, d, masks.size(), density, backend->name().c_str());
    for (const OverviewMask& m : masks)
        std::printf("  %s: keepAll=%d sinks=%d window=%d topk=%d gate=%d/%d\n", m.label.c_str(), m.keepAll ? 1 : 0,
                    m.sinkTokens, m.windowSize, m.topK, m.gateBlock, m.gateTopK);

    cudaStream_t stream;
    check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "creating a stream");
    const size_t qCount = static_cast<size_t>(hq) * T * d, kCount = static_cast<size_t>(hkv) * T * d;
    cuda::LayerShape shape;
    shape.qHeads = hq;
    shape.kvHeads = hkv;
    shape.seqLen = T;
    shape.headDim = d;
    shape.causal = true;

    // Every layer's inputs are made once, before any timing: on the device for "layer", as host
    // fp32 tensors for "backend".
    std::vector<void*> dq(layers, nullptr), dk(layers, nullptr);
    std::vector<LayerTensors> hostLayers(mode == "layer" ? 0 : layers);
    std::vector<uint16_t> q16, k16, v16;
    for (int l = 0; l < layers; ++l) {
        if (mode == "layer") {
            fill(q16, nullptr, qCount, 1000 * l + 1);
            fill(k16, nullptr, kCount, 1000 * l + 2);
            check(cudaMalloc(&dq[l], qCount * 2), "allocating q");
            check(cudaMalloc(&dk[l], kCount * 2), "allocating k");
            check(cudaMemcpy(dq[l], q16.data(), qCount * 2, cudaMemcpyHostToDevice), "uploading q");
            check(cudaMemcpy(dk[l], k16.data(), kCount * 2, cudaMemcpyHostToDevice), "uploading k");
        } else {
            LayerTensors& layer = hostLayers[l];
            layer.layer = l;
            layer.qHeads = hq;
            layer.kvHeads = hkv;
            layer.seqLen = T;
            layer.headDim = layer.valueDim = d;
            layer.config = shapeHead.config;
            layer.storage = StorageType::BFloat16;
            fill(q16, &layer.q, qCount, 1000 * l + 1);
            fill(k16, &layer.k, kCount, 1000 * l + 2);
            fill(v16, &layer.v, kCount, 1000 * l + 3);
        }
    }

    // Whole-model repetitions; the first includes one-time costs (module loading, pool growth), as
    // the PyTorch script's first does. The median is the figure compared.
    double sinkSum = 0.0, entropySum = 0.0;
    std::vector<double> recallSum(masks.size(), 0.0), densitySum(masks.size(), 0.0);
    std::vector<double> runs;
    for (int rep = 0; rep < repeats; ++rep) {
        double seconds = 0.0;
        for (int l = 0; l < layers; ++l) {
            const auto t0 = std::chrono::steady_clock::now();
            const std::vector<HeadOverview> heads =
                mode == "layer" ? cuda::layerOverview(shape, cuda::LayerDType::BFloat16, dq[l], dk[l], masks, stream)
                                : backend->computeLayerOverview(hostLayers[l], masks);
            const double layerSeconds = secondsSince(t0);
            seconds += layerSeconds;
            if (rep == 0 && (l < 2 || l == layers - 1)) std::printf("  repetition 0, layer %d: %.2f ms\n", l, 1e3 * layerSeconds);
            if (rep > 0) continue;
            for (const HeadOverview& o : heads) {
                sinkSum += o.sinkMass;
                entropySum += o.meanEntropy;
                for (size_t m = 0; m < masks.size(); ++m) {
                    recallSum[m] += o.recall[m];
                    densitySum[m] += static_cast<double>(o.keptCells[m]) / static_cast<double>(o.visibleCells);
                }
            }
        }
        runs.push_back(seconds);
        std::printf("  repetition %d: %.3f s\n", rep, seconds);
        std::fflush(stdout);
    }
    std::vector<double> sorted = runs;
    std::sort(sorted.begin(), sorted.end());
    const double seconds = sorted[sorted.size() / 2];
    const int heads = layers * hq;
    std::printf("RESULT ours mode=%s layers=%d heads=%d T=%d repeats=%d total_s=%.3f (median; first %.3f) per_head_ms=%.3f "
                "whole_model_s=%.3f\n",
                mode.c_str(), layers, heads, T, repeats, seconds, runs[0], 1e3 * seconds / heads, seconds * 32.0 / layers);
    std::printf("  mean sink mass %.4f, mean entropy %.4f nats; mean recall (density):", sinkSum / heads,
                entropySum / heads);
    for (size_t m = 0; m < masks.size(); ++m)
        std::printf(" %s=%.4f (%.4f)", masks[m].label.c_str(), recallSum[m] / heads, densitySum[m] / heads);
    std::printf("\n");
    for (void* p : dq) cudaFree(p);
    for (void* p : dk) cudaFree(p);
    cudaStreamDestroy(stream);
    return 0;
}
