// See overview-driver.h. Each recipe part becomes a DeviceMask part; the structural parts need no
// device work, top-k needs a radix select per head, the gate a block ranking per head.
#include "overview-driver.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "attnscope/attention-mask.h"
#include "cuda-check.h"

namespace attnscope::cuda {

namespace {

// ATTNSCOPE_OVERVIEW_TIMING=1 prints each phase's GPU time (events on the stream) to stderr.
struct PhaseTimer {
    cudaStream_t stream;
    bool on = std::getenv("ATTNSCOPE_OVERVIEW_TIMING") != nullptr;
    cudaEvent_t last = nullptr;
    explicit PhaseTimer(cudaStream_t s) : stream(s) {
        if (!on) return;
        cudaEventCreate(&last);
        cudaEventRecord(last, stream);
    }
    void mark(const char* phase) {
        if (!on) return;
        cudaEvent_t now;
        cudaEventCreate(&now);
        cudaEventRecord(now, stream);
        cudaEventSynchronize(now);
        float ms = 0.0f;
        cudaEventElapsedTime(&ms, last, now);
        std::fprintf(stderr, "  overview phase %-12s %8.3f ms\n", phase, ms);
        cudaEventDestroy(last);
        last = now;
    }
    ~PhaseTimer() {
        if (last) cudaEventDestroy(last);
    }
};

}  // namespace

std::vector<HeadOverview> runLayerOverview(Element e, int D, int headDim, const HeadView& h,
                                           const std::vector<OverviewMask>& masks, cudaStream_t stream) {
    if (masks.size() > static_cast<size_t>(kMaxOverviewMasks))
        throw std::invalid_argument("overview: at most " + std::to_string(kMaxOverviewMasks) + " masks, got " +
                                    std::to_string(masks.size()));
    const int H = h.qHeads, R = h.rowsPadded;
    PhaseTimer timer(stream);
    DeviceBuffer<float> rowLse(static_cast<size_t>(H) * R, "row LSE"), rowEntropy(static_cast<size_t>(H) * R, "row entropy");
    launchRowLse(e, D, h, rowLse.get(), rowEntropy.get(), stream);
    timer.mark("row LSE");

    MaskMetricsArgs a;
    a.count = static_cast<int>(masks.size());
    std::vector<DeviceBuffer<DeviceThreshold>> thresholds;
    std::vector<DeviceBuffer<uint8_t>> gates;
    std::vector<DeviceBuffer<float>> keptMass;
    std::vector<DeviceBuffer<int>> keptCells;
    DeviceBuffer<int> need;
    DeviceBuffer<float> meanQ, meanK;
    for (size_t m = 0; m < masks.size(); ++m) {
        const OverviewMask& recipe = masks[m];
        DeviceMask& dm = a.masks[m];
        dm.keepAll = recipe.keepAll;
        dm.sinkTokens = recipe.sinkTokens;
        dm.windowSize = recipe.windowSize;
        if (recipe.topK > 0) {
            if (!need.get()) need = DeviceBuffer<int>(R, "row budgets");
            thresholds.emplace_back(static_cast<size_t>(H) * R, "top-k thresholds");
            launchTopKBudgets(h, recipe.topK, need.get(), thresholds.back().get(), stream);
            // A pure top-k mask is measured by the selection itself (its second sweep sees every
            // kept cell); the metrics pass then only handles the rows it leaves.
            const bool pure = !recipe.keepAll && recipe.sinkTokens == 0 && recipe.windowSize == 0 && recipe.gateBlock == 0;
            float* mass = nullptr;
            int* cells = nullptr;
            if (pure) {
                keptMass.emplace_back(static_cast<size_t>(H) * R, "top-k kept mass");
                keptCells.emplace_back(static_cast<size_t>(H) * R, "top-k kept cells");
                checkCuda(cudaMemsetAsync(keptCells.back().get(), 0xFF, keptCells.back().size() * sizeof(int), stream),
                          "clearing top-k sums");
                mass = keptMass.back().get();
                cells = keptCells.back().get();
                a.rowKeptMass[m] = mass;
                a.rowKeptCells[m] = cells;
            }
            launchRowThresholds(e, D, h, need.get(), rowLse.get(), thresholds.back().get(), stream, mass, cells);
            dm.rowTopK = thresholds.back().get();
            timer.mark("top-k");
        }
        if (recipe.gateBlock > 0) {
            const int n = (h.seqLen + recipe.gateBlock - 1) / recipe.gateBlock;
            meanQ = DeviceBuffer<float>(static_cast<size_t>(h.qHeads) * n * headDim, "block means");
            meanK = DeviceBuffer<float>(static_cast<size_t>(h.kvHeads) * n * headDim, "block means");
            gates.emplace_back(static_cast<size_t>(H) * n * n, "block gates");
            launchBlockGate(e, h, D, headDim, recipe.gateBlock, recipe.gateTopK, meanQ.get(), meanK.get(),
                            gates.back().get(), stream);
            dm.blockSize = recipe.gateBlock;
            dm.blockCols = n;
            dm.blocks = gates.back().get();
            a.blocksHeadStride[m] = static_cast<size_t>(n) * n;
            timer.mark("block gate");
        }
    }
    DeviceBuffer<double> sums(static_cast<size_t>(H) * (2 * kMaxOverviewMasks + 2), "overview sums");
    sums.zero(stream);
    a.rowLse = rowLse.get();
    a.rowEntropy = rowEntropy.get();
    a.recallSum = sums.get();
    a.keptSum = reinterpret_cast<unsigned long long*>(sums.get() + static_cast<size_t>(H) * kMaxOverviewMasks);
    a.sinkSum = sums.get() + static_cast<size_t>(H) * 2 * kMaxOverviewMasks;
    a.entropySum = a.sinkSum + H;
    launchMaskMetrics(e, D, h, a, stream);
    timer.mark("mask metrics");

    std::vector<double> host(sums.size());
    sums.download(host.data(), host.size(), stream);
    const unsigned long long* kept = reinterpret_cast<const unsigned long long*>(host.data() + static_cast<size_t>(H) * kMaxOverviewMasks);
    AttentionConfig config;
    config.causal = h.causal;
    config.slidingWindow = h.window;
    const long long visible = visibleCellCount(config, h.seqLen, 0, h.seqLen, 0, h.seqLen);
    std::vector<HeadOverview> out(H);
    for (int head = 0; head < H; ++head) {
        HeadOverview& o = out[head];
        o.sinkMass = host[static_cast<size_t>(H) * 2 * kMaxOverviewMasks + head] / h.seqLen;
        o.meanEntropy = host[static_cast<size_t>(H) * 2 * kMaxOverviewMasks + H + head] / h.seqLen;
        o.visibleCells = visible;
        for (size_t m = 0; m < masks.size(); ++m) {
            o.recall.push_back(host[static_cast<size_t>(head) * kMaxOverviewMasks + m] / h.seqLen);
            o.keptCells.push_back(static_cast<long long>(kept[static_cast<size_t>(head) * kMaxOverviewMasks + m]));
        }
    }
    return out;
}

}  // namespace attnscope::cuda
