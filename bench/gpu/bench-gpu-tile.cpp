// Tile latency through the Backend interface: one 128K-token head (bf16-valued, d = 128, causal)
// on the CUDA backend; after its statistics (forward + statistics pass, timed too), 256x256 tiles
// at several zoom levels. Prints one line per case with the median of repeated calls (host
// overhead included: the index arrays, the launch, the copy back). Seeded random inputs.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "attnscope/cuda-backend.h"
#include "bench-support.h"

using namespace attnscope;
using bench::medianMs;
using bench::millisecondsSince;

int main(int argc, char** argv) {
    const int T = argc > 1 ? std::atoi(argv[1]) : 131072;
    const int d = 128;
    const std::string reason = probeCudaDevice();
    if (!reason.empty()) {
        std::printf("bench_gpu_tile: no usable GPU: %s\n", reason.c_str());
        return 0;
    }
    auto backend = createCudaBackend();
    const HeadTensors head = bench::syntheticBf16Head(T, d, 7);
    auto t0 = std::chrono::steady_clock::now();
    HeadStatistics stats = backend->computeStatistics(head, {});
    const double first = millisecondsSince(t0);
    const double again = medianMs(3, [&] { stats = backend->computeStatistics(head, {}); });
    std::printf("%s, T=%d d=%d causal bf16\n", backend->name().c_str(), T, d);
    std::printf("computeStatistics (forward + stats pass + copies), first call incl. upload: %.1f ms; cached: %.1f ms\n",
                first, again);

    struct Case {
        const char* name;
        TileRequest r;
    };
    auto req = [&](int q0, int q1, int k0, int k1, TileQuantity q = TileQuantity::DenseWeight) {
        TileRequest r;
        r.queryBegin = q0;
        r.queryEnd = q1;
        r.keyBegin = k0;
        r.keyEnd = k1;
        r.width = r.height = 256;
        r.quantity = q;
        return r;
    };
    const int z3 = T / 8, z4 = T / 16, z9 = T / 512;
    std::vector<Case> cases = {
        {"whole map (z0, from the block grid)", req(0, T, 0, T)},
        {"z3 tile on the diagonal (block grid)", req(3 * z3, 4 * z3, 3 * z3, 4 * z3)},
        {"z4 tile on the diagonal (cells)", req(5 * z4, 6 * z4, 5 * z4, 6 * z4)},
        {"z4 tile below the diagonal (cells)", req(9 * z4, 10 * z4, 2 * z4, 3 * z4)},
        {"z9 tile, 1 cell per pixel", req(300 * z9, 301 * z9, 200 * z9, 201 * z9)},
        {"unaligned 5000x7000 rectangle (cells)", req(70001, 75001, 40013, 47013)},
        {"whole map, kept fraction of sinks+window (cells)", req(0, T, 0, T, TileQuantity::KeptFraction)},
    };
    VariantPlan plan;
    plan.mask.sinkTokens = 4;
    plan.mask.windowSize = 2048;
    for (const Case& c : cases) {
        for (Pooling p : {Pooling::Mean, Pooling::Max}) {
            TileRequest r = c.r;
            r.pooling = p;
            const VariantPlan* pl = r.quantity == TileQuantity::DenseWeight ? nullptr : &plan;
            backend->computeTile(head, stats, r, pl, nullptr);  // warm-up
            const double ms = medianMs(5, [&] { backend->computeTile(head, stats, r, pl, nullptr); });
            std::printf("tile 256x256 %-50s %-4s %8.2f ms\n", c.name, p == Pooling::Mean ? "mean" : "max", ms);
        }
    }
    return 0;
}
