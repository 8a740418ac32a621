// The dense statistics cache the report shares between its analyses: it never holds more than its byte
// budget (evicting whole entries, higher (layer, head) keys first; entries too large are not kept), it
// returns exactly what a fresh computeStatistics gives, and the sink, sensitivity and eviction analyses
// give identical reports with and without it (one cache shared by all three, as `report` does, with a
// large and a tiny budget). Synthetic seeded random heads with a planted token-0 sink (not real
// activations), on the CPU backend.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "attnscope/analysis/dense-statistics-cache.h"
#include "attnscope/analysis/kv-eviction.h"
#include "attnscope/analysis/sensitivity.h"
#include "attnscope/analysis/sinks.h"
#include "attnscope/cpu-backend.h"
#include "brute-force-reference.h"
#include "cpu-forwarding-backend.h"

namespace attnscope {
namespace {

using analysis::DenseStatisticsCache;

// testing::randomHead with the head's place in the model and a token-0 sink whose strength
// varies by head: q_i[0] = 2 + head, k_0 = (3, 0, ...).
HeadTensors randomHead(int layer, int head, int T, bool causal) {
    HeadTensors h = testing::randomHead(
        T, 8, 6, causal,
        977u * static_cast<unsigned>(layer) + 31u * static_cast<unsigned>(head) + static_cast<unsigned>(T));
    h.config.softmaxScale = 0.4f;
    h.layer = layer;
    h.queryHead = head;
    for (int i = 0; i < T; ++i) h.q[static_cast<size_t>(i) * h.headDim] = 2.0f + static_cast<float>(head);
    for (int c = 0; c < h.headDim; ++c) h.k[c] = c == 0 ? 3.0f : 0.0f;
    return h;
}

// The CPU backend, counting computeStatistics calls.
class CountingBackend final : public testing::CpuForwardingBackend {
public:
    CountingBackend() : CpuForwardingBackend(2) {}
    int statisticsCalls = 0;
    HeadStatistics computeStatistics(const HeadTensors& h, const StatisticsRequest& r,
                                     JobControl* j = nullptr) override {
        ++statisticsCalls;
        return CpuForwardingBackend::computeStatistics(h, r, j);
    }
};

// Bit-exact equality (NaN equals NaN: a needed density may be NaN).
bool same(double a, double b) { return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b); }
bool same(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (!same(a[i], b[i])) return false;
    return true;
}
bool same(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) return false;
    return true;
}

void expectSameStatistics(const HeadStatistics& a, const HeadStatistics& b, const StatisticsRequest& fields) {
    EXPECT_EQ(a.seqLen, b.seqLen);
    EXPECT_EQ(a.valueDim, b.valueDim);
    EXPECT_TRUE(same(a.rowMax, b.rowMax));
    EXPECT_TRUE(same(a.rowLse, b.rowLse));
    EXPECT_TRUE(same(a.rowEntropy, b.rowEntropy));
    if (fields.output) {
        EXPECT_TRUE(same(a.output, b.output));
    }
    if (fields.columnSums) {
        EXPECT_TRUE(same(a.columnSums, b.columnSums));
    }
    if (fields.blocks) {
        EXPECT_EQ(a.blocks.rows, b.blocks.rows);
        EXPECT_EQ(a.blocks.cols, b.blocks.cols);
        EXPECT_TRUE(same(a.blocks.sum, b.blocks.sum));
        EXPECT_TRUE(same(a.blocks.max, b.blocks.max));
    }
}

TEST(DenseStatisticsCache, ReturnsWhatAFreshComputationGives) {
    CpuBackend backend(2);
    DenseStatisticsCache cache;
    StatisticsRequest sinkFields;  // what the sink analysis asks for
    sinkFields.output = false;
    sinkFields.blocks = false;
    for (int pass = 0; pass < 2; ++pass)  // a miss, then a hit
        for (int h = 0; h < 3; ++h) {
            SCOPED_TRACE("pass " + std::to_string(pass) + " head " + std::to_string(h));
            const HeadTensors head = randomHead(0, h, 100 + 30 * h, h != 1);
            const auto cached = cache.get(0, h, head, backend);
            expectSameStatistics(*cached, backend.computeStatistics(head, {}), StatisticsRequest{});
            // A narrower request gets the same numbers in the fields it asks for.
            const auto viaHelper = analysis::denseStatistics(&cache, 0, h, head, backend, sinkFields);
            EXPECT_EQ(viaHelper.get(), cached.get());
            expectSameStatistics(*viaHelper, backend.computeStatistics(head, sinkFields), sinkFields);
        }
    EXPECT_EQ(cache.misses(), 3);
    EXPECT_EQ(cache.hits(), 9);
    EXPECT_EQ(cache.entryCount(), 3u);
}

TEST(DenseStatisticsCache, WithoutACacheTheHelperComputesTheRequest) {
    CountingBackend backend;
    const HeadTensors head = randomHead(0, 0, 90, true);
    StatisticsRequest request;
    request.blocks = false;
    const auto a = analysis::denseStatistics(nullptr, 0, 0, head, backend, request);
    const auto b = analysis::denseStatistics(nullptr, 0, 0, head, backend, request);
    EXPECT_EQ(backend.statisticsCalls, 2);
    EXPECT_TRUE(a->blocks.sum.empty());  // exactly the request, as before the cache existed
    expectSameStatistics(*a, *b, request);
}

TEST(DenseStatisticsCache, KeepsLowestKeysWithinBudgetAndEvictsHigherOnes) {
    CountingBackend backend;
    const HeadTensors head = randomHead(0, 0, 128, true);  // every key gets a head of this shape: same size
    const size_t entry = DenseStatisticsCache::entryBytes(backend.computeStatistics(head, {}));
    DenseStatisticsCache cache(2 * entry + entry / 2);  // room for two entries
    auto get = [&](int l, int h) {
        (void)cache.get(l, h, head, backend);
        EXPECT_LE(cache.usedBytes(), cache.budgetBytes());
    };
    get(1, 0);
    get(1, 1);
    EXPECT_EQ(cache.usedBytes(), 2 * entry);
    get(2, 0);  // higher than both: not kept, nothing evicted
    EXPECT_TRUE(cache.contains(1, 0) && cache.contains(1, 1) && !cache.contains(2, 0));
    get(0, 3);  // lower: evicts the highest entry, (1, 1)
    EXPECT_TRUE(cache.contains(0, 3) && cache.contains(1, 0) && !cache.contains(1, 1));
    get(0, 1);  // evicts (1, 0)
    EXPECT_TRUE(cache.contains(0, 1) && cache.contains(0, 3) && !cache.contains(1, 0));
    EXPECT_EQ(cache.entryCount(), 2u);
    EXPECT_EQ(cache.usedBytes(), 2 * entry);

    const int calls = backend.statisticsCalls;
    get(0, 1);
    get(0, 3);
    EXPECT_EQ(backend.statisticsCalls, calls);  // hits compute nothing
    get(1, 1);
    EXPECT_EQ(backend.statisticsCalls, calls + 1);  // an evicted entry is computed again
}

TEST(DenseStatisticsCache, EntriesLargerThanTheBudgetAreNotKept) {
    CpuBackend backend(2);
    const HeadTensors small = randomHead(0, 0, 64, true), large = randomHead(0, 1, 256, true);
    const size_t smallBytes = DenseStatisticsCache::entryBytes(backend.computeStatistics(small, {}));
    const size_t largeBytes = DenseStatisticsCache::entryBytes(backend.computeStatistics(large, {}));
    ASSERT_GT(largeBytes, 2 * smallBytes);
    DenseStatisticsCache cache(largeBytes - 1);
    const auto s = cache.get(0, 0, small, backend);
    const auto l = cache.get(0, 1, large, backend);  // alone over the budget: computed, returned, not kept
    expectSameStatistics(*l, backend.computeStatistics(large, {}), StatisticsRequest{});
    EXPECT_TRUE(cache.contains(0, 0));
    EXPECT_FALSE(cache.contains(0, 1));
    EXPECT_EQ(cache.usedBytes(), smallBytes);
    DenseStatisticsCache none(0);
    (void)none.get(0, 0, small, backend);
    EXPECT_EQ(none.entryCount(), 0u);
    EXPECT_EQ(none.usedBytes(), 0u);
}

TEST(DenseStatisticsCache, NeverExceedsItsBudgetUnderRandomAccess) {
    CpuBackend backend(2);
    std::vector<HeadTensors> heads;  // 4 layers x 3 heads of different lengths, so entries differ in size
    for (int l = 0; l < 4; ++l)
        for (int h = 0; h < 3; ++h) heads.push_back(randomHead(l, h, 40 + 37 * ((l * 3 + h) % 5), true));
    size_t total = 0;
    for (const HeadTensors& h : heads) total += DenseStatisticsCache::entryBytes(backend.computeStatistics(h, {}));
    DenseStatisticsCache cache(total / 3);
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> pick(0, static_cast<int>(heads.size()) - 1);
    size_t evictions = 0;
    for (int step = 0; step < 200; ++step) {
        const int at = pick(rng);
        const size_t before = cache.entryCount();
        const bool wasKept = cache.contains(at / 3, at % 3);
        const auto stats = cache.get(at / 3, at % 3, heads[at], backend);
        ASSERT_LE(cache.usedBytes(), cache.budgetBytes()) << "step " << step;
        ASSERT_EQ(stats->seqLen, heads[at].seqLen);
        if (!wasKept && cache.contains(at / 3, at % 3)) evictions += before + 1 - cache.entryCount();
    }
    EXPECT_GT(cache.hits(), 0);
    EXPECT_GT(evictions, 0u);
}

TEST(DenseStatisticsCache, AnEntryOfAnotherShapeThrows) {
    CpuBackend backend(2);
    DenseStatisticsCache cache;
    (void)cache.get(0, 0, randomHead(0, 0, 64, true), backend);
    EXPECT_THROW((void)cache.get(0, 0, randomHead(0, 0, 65, true), backend), std::invalid_argument);
}

// --- the three analyses with and without a shared cache ---

void expectSameSinks(const analysis::ModelSinkReport& a, const analysis::ModelSinkReport& b) {
    ASSERT_EQ(a.heads.size(), b.heads.size());
    for (size_t i = 0; i < a.heads.size(); ++i) {
        SCOPED_TRACE("sink head " + std::to_string(i));
        const auto &x = a.heads[i], &y = b.heads[i];
        EXPECT_TRUE(same(x.received, y.received));
        EXPECT_TRUE(same(x.meanReceived, y.meanReceived));
        EXPECT_TRUE(same(x.farReceived, y.farReceived));
        EXPECT_TRUE(same(x.farMeanReceived, y.farMeanReceived));
        EXPECT_TRUE(same(x.valueNormRatio, y.valueNormRatio));
        EXPECT_TRUE(same(x.token0Mean, y.token0Mean));
        EXPECT_EQ(x.topToken, y.topToken);
        EXPECT_TRUE(same(x.keyBiasGapMean, y.keyBiasGapMean));
        EXPECT_TRUE(same(x.keyBiasGapStd, y.keyBiasGapStd));
        EXPECT_EQ(x.keyBiasRows, y.keyBiasRows);
    }
    EXPECT_TRUE(same(a.sinkEpsilon, b.sinkEpsilon));
    EXPECT_TRUE(same(a.layerTokenReceived, b.layerTokenReceived));
    EXPECT_TRUE(same(a.layerTokenReceivedRatio, b.layerTokenReceivedRatio));
    EXPECT_EQ(a.layerTokenFarQueries, b.layerTokenFarQueries);
    EXPECT_TRUE(same(a.layerTokenFarReceived, b.layerTokenFarReceived));
    EXPECT_TRUE(same(a.layerTokenFarRatio, b.layerTokenFarRatio));
    EXPECT_TRUE(same(a.layerTokenValueNorm, b.layerTokenValueNorm));
    ASSERT_EQ(a.nonInitialSinks.size(), b.nonInitialSinks.size());
    for (size_t i = 0; i < a.nonInitialSinks.size(); ++i) {
        EXPECT_EQ(a.nonInitialSinks[i].token, b.nonInitialSinks[i].token);
        EXPECT_TRUE(same(a.nonInitialSinks[i].peakRatio, b.nonInitialSinks[i].peakRatio));
    }
}

void expectSameMetrics(const VariantMetrics& a, const VariantMetrics& b) {
    EXPECT_TRUE(same(a.density, b.density));
    EXPECT_TRUE(same(a.recall, b.recall));
    EXPECT_TRUE(same(a.outputError, b.outputError));
    EXPECT_TRUE(same(a.oracleJaccard, b.oracleJaccard));
    EXPECT_TRUE(same(a.oracleRecall, b.oracleRecall));
    EXPECT_EQ(a.keptCells, b.keptCells);
    EXPECT_EQ(a.visibleCells, b.visibleCells);
}

void expectSameSensitivity(const analysis::ModelSensitivityReport& a, const analysis::ModelSensitivityReport& b) {
    ASSERT_EQ(a.heads.size(), b.heads.size());
    for (size_t i = 0; i < a.heads.size(); ++i) {
        SCOPED_TRACE("sensitivity head " + std::to_string(i));
        const auto &x = a.heads[i], &y = b.heads[i];
        ASSERT_EQ(x.points.size(), y.points.size());
        for (size_t p = 0; p < x.points.size(); ++p) {
            EXPECT_EQ(x.points[p].params, y.points[p].params);
            expectSameMetrics(x.points[p].metrics, y.points[p].metrics);
        }
        EXPECT_TRUE(same(x.neededDensity, y.neededDensity));
        EXPECT_EQ(x.pattern.pattern, y.pattern.pattern);
        EXPECT_TRUE(same(x.pattern.bestRecall, y.pattern.bestRecall));
        ASSERT_EQ(x.pattern.candidates.size(), y.pattern.candidates.size());
        for (size_t c = 0; c < x.pattern.candidates.size(); ++c) {
            EXPECT_EQ(x.pattern.candidates[c].detail, y.pattern.candidates[c].detail);
            EXPECT_TRUE(same(x.pattern.candidates[c].recall, y.pattern.candidates[c].recall));
            EXPECT_TRUE(same(x.pattern.candidates[c].outputError, y.pattern.candidates[c].outputError));
        }
    }
}

void expectSameEviction(const analysis::EvictionReport& a, const analysis::EvictionReport& b) {
    EXPECT_EQ(a.observedBegin, b.observedBegin);
    ASSERT_EQ(a.runs.size(), b.runs.size());
    for (size_t r = 0; r < a.runs.size(); ++r) {
        const auto &x = a.runs[r], &y = b.runs[r];
        SCOPED_TRACE(std::string("eviction ") + analysis::evictionPolicyId(x.policy) +
                     " B=" + std::to_string(x.budget));
        EXPECT_EQ(x.layerBudget, y.layerBudget);
        EXPECT_TRUE(same(x.survival, y.survival));
        EXPECT_TRUE(same(x.meanRetainedMass, y.meanRetainedMass));
        EXPECT_TRUE(same(x.meanOutputError, y.meanOutputError));
        for (size_t l = 0; l < x.heads.size(); ++l)
            for (size_t h = 0; h < x.heads[l].size(); ++h) {
                EXPECT_EQ(x.heads[l][h].kept, y.heads[l][h].kept);
                EXPECT_TRUE(same(x.heads[l][h].metrics.retainedMass, y.heads[l][h].metrics.retainedMass));
                EXPECT_TRUE(same(x.heads[l][h].metrics.outputError, y.heads[l][h].metrics.outputError));
            }
    }
}

struct AllReports {
    analysis::ModelSinkReport sinks;
    analysis::ModelSensitivityReport sensitivity;
    analysis::EvictionReport eviction;
};

// The report's sequence: sinks, sensitivity, eviction, with one cache (or none) for all three.
AllReports runAll(int L, int H, bool causal, Backend& backend, DenseStatisticsCache* cache) {
    const int T = 150;  // not a multiple of 64: a partial block row and column
    const analysis::HeadSource source = [&](int l, int h) { return randomHead(l, h, T, causal); };
    analysis::SensitivityOptions sensitivity;
    sensitivity.densities = {0.05, 0.2};
    analysis::EvictionOptions eviction;
    eviction.observationWindow = 16;
    eviction.fastvLayer = 0;
    std::vector<analysis::EvictionPolicy> policies;
    for (analysis::EvictionPolicy p : analysis::allEvictionPolicies())
        if (!(causal && p == analysis::EvictionPolicy::ClsAttention)) policies.push_back(p);
    AllReports r;
    r.sinks = analysis::analyzeModelSinks({L, H}, source, backend, {}, nullptr, cache);
    r.sensitivity = analysis::analyzeModelSensitivity({L, H}, source, backend, sensitivity, nullptr, cache);
    r.eviction = analysis::analyzeEviction({L, H}, source, backend, policies, {12, 40}, eviction, nullptr, cache);
    return r;
}

class AnalysesWithCache : public ::testing::TestWithParam<bool> {};

TEST_P(AnalysesWithCache, GiveIdenticalReportsAndComputeEachHeadOnce) {
    const bool causal = GetParam();
    const int L = 3, H = 2;
    CountingBackend plainBackend;
    const AllReports plain = runAll(L, H, causal, plainBackend, nullptr);
    // Without a cache every analysis computes every head (the [CLS] pass reads the last layer once more).
    const int clsPass = causal ? 0 : H;
    EXPECT_EQ(plainBackend.statisticsCalls, 3 * L * H + clsPass);

    CountingBackend cachedBackend;
    DenseStatisticsCache cache;
    const AllReports cached = runAll(L, H, causal, cachedBackend, &cache);
    EXPECT_EQ(cachedBackend.statisticsCalls, L * H);
    EXPECT_EQ(cache.hits(), 2 * L * H + clsPass);
    expectSameSinks(plain.sinks, cached.sinks);
    expectSameSensitivity(plain.sensitivity, cached.sensitivity);
    expectSameEviction(plain.eviction, cached.eviction);

    // A budget of two entries: most heads miss, and the results are still the same.
    CountingBackend tightBackend;
    const HeadTensors one = randomHead(0, 0, 150, causal);
    DenseStatisticsCache tight(2 * DenseStatisticsCache::entryBytes(tightBackend.computeStatistics(one, {})));
    const AllReports tightReports = runAll(L, H, causal, tightBackend, &tight);
    EXPECT_EQ(tight.entryCount(), 2u);
    EXPECT_EQ(tight.hits(), 2 * 2);
    expectSameSinks(plain.sinks, tightReports.sinks);
    expectSameSensitivity(plain.sensitivity, tightReports.sensitivity);
    expectSameEviction(plain.eviction, tightReports.eviction);
}

INSTANTIATE_TEST_SUITE_P(Models, AnalysesWithCache, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                             return info.param ? "Causal" : "Bidirectional";
                         });

}  // namespace
}  // namespace attnscope
