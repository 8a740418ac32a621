// Head-switch latency of the map view on the CUDA backend. TARGETS.md asks for the first complete
// view after selecting another head of a 32K-token capture within 150 ms on the GPU machine. This
// times what the compute thread does between the click and the view's last tile
// (views/compute-session.cpp, views/map-window.cpp): the head's statistics (conversion, upload,
// forward, statistics pass, copies back), the pyramid base image, then the dense tiles the fitted
// view asks for, in its order; and, after a zoom to one cell per pixel on the diagonal, the tiles
// of that view. It alternates between three synthetic heads (seeded random bf16 values, not real
// activations) so that every switch uploads a new head. Not included: reading the head from the
// capture (bench/cpu's attnscope-bench-load-layer times that) and drawing (the UI thread).
// Usage: bench_head_switch [T=32768] [pane width=1400] [pane height=900] [switches=7] [backend=cuda]
// (backend cpu: the same path on the CPU reference, to check the benchmark on a machine without a GPU)
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <cstdlib>
#include <string>
#include <vector>

#include "attnscope/backend.h"
#include "attnscope/cuda-backend.h"
#include "bench-support.h"
#include "map-viewport.h"
#include "pyramid-base.h"

using namespace attnscope;
using bench::millisecondsSince;
using views::MapViewport;

namespace {

struct ViewTiles {
    int level = 0;
    int count = 0;  // tiles computed (dense texels finer than a base block)
    double ms = 0.0;
};

// The dense tiles `viewport` shows, computed one after the other as the compute thread does.
ViewTiles computeViewTiles(Backend& backend, const HeadTensors& head, const HeadStatistics& stats,
                           const MapViewport& viewport, int baseCellsPerBlock) {
    ViewTiles result;
    result.level = viewport.tileLevel();
    const auto t0 = std::chrono::steady_clock::now();
    if (result.level < views::pyramidCutLevel(baseCellsPerBlock)) {
        for (const views::TileCoord& tile : viewport.visibleTiles(result.level)) {
            const TileRequest request = views::tileRequest(tile, head.seqLen);
            if (request.width <= 0 || request.height <= 0) continue;
            backend.computeTile(head, stats, request, nullptr, nullptr);
            ++result.count;
        }
    }
    result.ms = millisecondsSince(t0);
    return result;
}

}  // namespace

int main(int argc, char** argv) {
    const int T = argc > 1 ? std::atoi(argv[1]) : 32768;
    const double paneWidth = argc > 2 ? std::atof(argv[2]) : 1400.0;
    const double paneHeight = argc > 3 ? std::atof(argv[3]) : 900.0;
    const int switches = argc > 4 ? std::max(2, std::atoi(argv[4])) : 7;
    const std::string backendName = argc > 5 ? argv[5] : "cuda";
    const int d = 128;
    if (backendName == "cuda") {
        const std::string reason = probeCudaDevice();
        if (!reason.empty()) {
            std::printf("bench_head_switch: no usable GPU: %s\n", reason.c_str());
            return 0;
        }
    }
    registerCudaBackend();  // the registry knows only the CPU backend until the CUDA one registers
    std::unique_ptr<Backend> backend;
    try {
        backend = createBackend(backendName);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_head_switch: %s\n", e.what());
        return 2;
    }
    std::vector<HeadTensors> heads;
    for (unsigned seed : {11u, 12u, 13u}) heads.push_back(bench::syntheticBf16Head(T, d, seed));
    std::printf("%s, T=%d d=%d causal bf16 (synthetic), pane %.0f x %.0f px\n", backend->name().c_str(), T, d,
                paneWidth, paneHeight);
    std::printf("| switch | statistics ms | base image ms | fitted view: level, tiles, ms | first complete view ms | "
                "zoom to 1 cell/px: level, tiles, ms |\n|---|---|---|---|---|---|\n");
    std::vector<double> totals;
    for (int i = 0; i < switches; ++i) {
        const HeadTensors& head = heads[static_cast<size_t>(i) % heads.size()];
        const auto t0 = std::chrono::steady_clock::now();
        const HeadStatistics stats = backend->computeStatistics(head, {});
        const double statisticsMs = millisecondsSince(t0);
        const auto t1 = std::chrono::steady_clock::now();
        const views::PyramidBaseImage base = views::pyramidBaseImage(stats.blocks, head.config, T);
        const double baseMs = millisecondsSince(t1);
        MapViewport viewport;
        viewport.setSeqLen(T);
        viewport.setPaneSize(paneWidth, paneHeight);
        viewport.fit();
        const ViewTiles fitted = computeViewTiles(*backend, head, stats, viewport, base.cellsPerBlock);
        const double total = millisecondsSince(t0);
        viewport.setView(T * 0.5, T * 0.5, 1.0);
        const ViewTiles zoomed = computeViewTiles(*backend, head, stats, viewport, base.cellsPerBlock);
        std::printf("| %d%s | %.1f | %.1f | %d, %d, %.1f | %.1f | %d, %d, %.1f |\n", i + 1, i == 0 ? " (cold)" : "",
                    statisticsMs, baseMs, fitted.level, fitted.count, fitted.ms, total, zoomed.level, zoomed.count,
                    zoomed.ms);
        if (i > 0) totals.push_back(total);
    }
    std::sort(totals.begin(), totals.end());
    std::printf("first complete view after a head switch (warm, median of %zu): %.1f ms (target <= 150 ms, plus the "
                "capture read)\n",
                totals.size(), totals[totals.size() / 2]);
    return 0;
}
