// The whole-model overview loads layer l + 1 on a background thread while the backend computes layer
// l. Checked here: the results equal a plain layer-by-layer computation; the loader is called once per
// layer, in order, never twice at a time and never on the calling thread; loading really overlaps the
// computation; a loader's exception surfaces with its message; cancellation stops before the next layer.
// Synthetic seeded random layers (not real activations), on the CPU backend.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "attnscope/analysis/model-overview.h"
#include "attnscope/cpu-backend.h"
#include "cpu-forwarding-backend.h"

namespace attnscope {
namespace {

constexpr int kLayers = 4;
constexpr int kHeads = 2;

LayerTensors randomLayer(int layer) {
    LayerTensors t;
    t.layer = layer;
    t.qHeads = kHeads;
    t.kvHeads = 1;
    t.seqLen = 96;
    t.headDim = 8;
    t.valueDim = 8;
    t.config.causal = true;
    t.config.softmaxScale = 0.35f;
    std::mt19937 rng(1234u + static_cast<unsigned>(layer));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    auto fill = [&](std::vector<float>& v, int heads) {
        v.resize(static_cast<size_t>(heads) * t.seqLen * t.headDim);
        for (float& x : v) x = normal(rng);
    };
    fill(t.q, t.qHeads);
    fill(t.k, t.kvHeads);
    fill(t.v, t.kvHeads);
    for (int h = 0; h < t.qHeads; ++h)  // a planted sink on token 0, different per layer
        for (int i = 0; i < t.seqLen; ++i) t.q[(static_cast<size_t>(h) * t.seqLen + i) * t.headDim] = 2.0f + layer;
    for (int c = 0; c < t.headDim; ++c) t.k[c] = c == 0 ? 3.0f : 0.0f;
    return t;
}

analysis::OverviewOptions options() {
    analysis::OverviewOptions o;
    o.variants = {"dense", "window", "topk"};
    o.density = 0.25;
    return o;
}

// The CPU backend with a hook that computeLayerOverview runs first (the tests' view of timing); one
// thread, so that its sums are reproducible to the bit.
class HookedBackend final : public testing::CpuForwardingBackend {
public:
    HookedBackend() : CpuForwardingBackend(1) {}
    std::function<void(const LayerTensors&)> beforeLayer;
    std::vector<HeadOverview> computeLayerOverview(const LayerTensors& layer, const std::vector<OverviewMask>& masks,
                                                   JobControl* j) override {
        if (beforeLayer) beforeLayer(layer);
        return CpuForwardingBackend::computeLayerOverview(layer, masks, j);
    }
};

void expectSameReport(const analysis::ModelOverviewReport& a, const analysis::ModelOverviewReport& b) {
    ASSERT_EQ(a.heads.size(), b.heads.size());
    EXPECT_EQ(a.variants, b.variants);
    EXPECT_EQ(a.seqLen, b.seqLen);
    for (size_t i = 0; i < a.heads.size(); ++i) {
        EXPECT_EQ(a.heads[i].sinkMass, b.heads[i].sinkMass) << i;
        EXPECT_EQ(a.heads[i].meanEntropy, b.heads[i].meanEntropy) << i;
        EXPECT_EQ(a.heads[i].recall, b.heads[i].recall) << i;
        EXPECT_EQ(a.heads[i].keptCells, b.heads[i].keptCells) << i;
    }
}

TEST(ModelOverviewLoading, LoaderAndSourceGiveTheLayerByLayerResult) {
    HookedBackend backend;
    const auto bySource =
        analysis::analyzeModelOverview({kLayers, kHeads}, [](int l) { return randomLayer(l); }, backend, options());

    std::mutex mutex;
    std::vector<int> order;
    std::atomic<int> inFlight{0};
    std::atomic<bool> overlapping{false}, onCaller{false};
    const auto caller = std::this_thread::get_id();
    const auto byLoader = analysis::analyzeModelOverview(
        {kLayers, kHeads},
        [&](int l, LayerTensors& into) {
            if (inFlight.fetch_add(1) != 0) overlapping = true;
            if (std::this_thread::get_id() == caller) onCaller = true;
            {
                std::lock_guard lock(mutex);
                order.push_back(l);
            }
            into = randomLayer(l);
            inFlight.fetch_sub(1);
        },
        backend, options());
    expectSameReport(bySource, byLoader);
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
    EXPECT_FALSE(overlapping) << "two loads at a time";
    EXPECT_FALSE(onCaller) << "a load on the calling thread";

    // The reference: each layer computed on its own, with the budgets found on head (0, 0).
    ASSERT_EQ(byLoader.heads.size(), static_cast<size_t>(kLayers * kHeads));
    std::vector<OverviewMask> masks;
    for (size_t v = 0; v < byLoader.variants.size(); ++v)
        masks.push_back(overviewMaskFor(*findVariant(byLoader.variants[v]), byLoader.params[v]));
    for (int l = 0; l < kLayers; ++l) {
        const auto heads = backend.computeLayerOverview(randomLayer(l), masks, nullptr);
        for (int h = 0; h < kHeads; ++h) {
            EXPECT_EQ(heads[h].sinkMass, byLoader.at(l, h).sinkMass);
            EXPECT_EQ(heads[h].meanEntropy, byLoader.at(l, h).meanEntropy);
            EXPECT_EQ(heads[h].recall, byLoader.at(l, h).recall);
            EXPECT_EQ(heads[h].keptCells, byLoader.at(l, h).keptCells);
        }
    }
}

// Layer l + 1 is loading while layer l computes: the backend, on layer l, waits (bounded) until the
// loader has been asked for layer l + 1.
TEST(ModelOverviewLoading, NextLayerLoadsWhileTheBackendComputes) {
    HookedBackend backend;
    std::mutex mutex;
    std::condition_variable started;
    int highestRequested = -1;
    std::vector<bool> overlapped;
    backend.beforeLayer = [&](const LayerTensors& layer) {
        std::unique_lock lock(mutex);
        const bool last = layer.layer + 1 == kLayers;
        overlapped.push_back(last || started.wait_for(lock, std::chrono::seconds(10),
                                                      [&] { return highestRequested > layer.layer; }));
    };
    const auto report = analysis::analyzeModelOverview(
        {kLayers, kHeads},
        [&](int l, LayerTensors& into) {
            {
                std::lock_guard lock(mutex);
                highestRequested = l;
            }
            started.notify_all();
            into = randomLayer(l);
        },
        backend, options());
    EXPECT_EQ(overlapped, std::vector<bool>(kLayers, true));
    EXPECT_EQ(report.heads.size(), static_cast<size_t>(kLayers * kHeads));
}

TEST(ModelOverviewLoading, ALoadersExceptionSurfacesWithItsMessage) {
    HookedBackend backend;
    std::vector<int> computed;
    backend.beforeLayer = [&](const LayerTensors& layer) { computed.push_back(layer.layer); };
    try {
        (void)analysis::analyzeModelOverview(
            {kLayers, kHeads},
            [](int l, LayerTensors& into) {
                if (l == 2) throw std::runtime_error("capture.h5: layer 2 is damaged");
                into = randomLayer(l);
            },
            backend, options());
        ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& error) {
        EXPECT_STREQ(error.what(), "capture.h5: layer 2 is damaged");
    }
    EXPECT_EQ(computed, (std::vector<int>{0, 1}));  // as if loaded on this thread: layers before it computed
}

TEST(ModelOverviewLoading, CancellationStopsBeforeTheNextLayer) {
    struct CancelAfterFirstLayer : JobControl {
        void report(std::string_view stage, double fraction) override {
            if (stage == "overview" && fraction > 0.0) cancel();
        }
    } job;
    HookedBackend backend;
    std::vector<int> loaded, computed;
    std::mutex mutex;
    backend.beforeLayer = [&](const LayerTensors& layer) { computed.push_back(layer.layer); };
    EXPECT_THROW((void)analysis::analyzeModelOverview(
                     {kLayers, kHeads},
                     [&](int l, LayerTensors& into) {
                         {
                             std::lock_guard lock(mutex);
                             loaded.push_back(l);
                         }
                         into = randomLayer(l);
                     },
                     backend, options(), &job),
                 JobCancelled);
    EXPECT_EQ(computed, (std::vector<int>{0}));
    std::lock_guard lock(mutex);
    EXPECT_EQ(loaded, (std::vector<int>{0, 1}));  // layer 1 was already loading; nothing after it
}

}  // namespace
}  // namespace attnscope
