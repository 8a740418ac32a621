// CPU reference engine at 2K / 8K / 32K tokens (one head, d = 128, causal, synthetic N(0, 1.5)
// inputs). Reports time per head; compare runs on the same machine only (docs/performance.md).
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "attnscope/cpu-backend.h"
#include "attnscope/variant.h"

namespace {

attnscope::HeadTensors syntheticHead(int T, int d) {
    attnscope::HeadTensors h;
    h.seqLen = T;
    h.headDim = d;
    h.valueDim = d;
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 1.5f);
    for (auto* v : {&h.q, &h.k, &h.v}) {
        v->resize(static_cast<size_t>(T) * d);
        for (float& x : *v) x = normal(rng);
    }
    h.config.causal = true;
    h.config.softmaxScale = 1.0f / std::sqrt(static_cast<float>(d));
    return h;
}

void BM_Statistics(benchmark::State& state) {
    const auto head = syntheticHead(static_cast<int>(state.range(0)), 128);
    attnscope::CpuBackend backend;
    for (auto _ : state) benchmark::DoNotOptimize(backend.computeStatistics(head, {}));
    state.counters["threads"] = backend.threadCount();
}

void BM_Tile256(benchmark::State& state) {
    const auto head = syntheticHead(static_cast<int>(state.range(0)), 128);
    attnscope::CpuBackend backend;
    const auto stats = backend.computeStatistics(head, {});
    // A zoomed-in 1024 x 1024-cell viewport at 256 x 256 pixels (not block-aligned: exact path).
    const int T = head.seqLen;
    const attnscope::TileRequest request{T - 1000, T, T - 1030, T - 30, 256, 256};
    for (auto _ : state) benchmark::DoNotOptimize(backend.computeTile(head, stats, request));
}

void BM_VariantStreamingLlm(benchmark::State& state) {
    const auto head = syntheticHead(static_cast<int>(state.range(0)), 128);
    attnscope::CpuBackend backend;
    const auto stats = backend.computeStatistics(head, {});
    const auto& variant = *attnscope::findVariant("streaming-llm");
    const auto plan = variant.plan(head, attnscope::resolveParams(variant, {}), backend);
    for (auto _ : state) benchmark::DoNotOptimize(backend.evaluateVariant(head, stats, plan));
}

}  // namespace

BENCHMARK(BM_Statistics)->Arg(2048)->Arg(8192)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Statistics)->Arg(32768)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Tile256)->Arg(2048)->Arg(32768)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_VariantStreamingLlm)->Arg(2048)->Arg(8192)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
