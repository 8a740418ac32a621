// Helpers of the GPU tests; see kernel-test-support.h.
#include "kernel-test-support.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <utility>

#include "attnscope/cuda-backend.h"
#include "attnscope/variant.h"

namespace attnscope::test {

std::string HeadCase::label() const {
    std::ostringstream s;
    s << "T=" << seqLen << " d=" << headDim << " " << storageTypeName(storage) << (config.causal ? " causal" : " bidir")
      << " window=" << config.slidingWindow << " softcap=" << config.softcap << " seed=" << seed;
    return s.str();
}

namespace {

void fill(std::vector<float>& v, StorageType storage, std::mt19937& rng) {
    std::uniform_int_distribution<int> integer(-127, 127);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& x : v) x = storage == StorageType::Float32 ? normal(rng) : static_cast<float>(integer(rng)) / 64.0f;
}

}  // namespace

HeadCase makeCase(int T, int d, StorageType s, bool causal, int window, float softcap, unsigned seed) {
    HeadCase c;
    c.seqLen = T;
    c.headDim = d;
    c.storage = s;
    c.config.causal = causal;
    c.config.slidingWindow = window;
    c.config.softcap = softcap;
    c.seed = seed;
    return c;
}

HeadTensors makeHead(const HeadCase& c) {
    HeadTensors h;
    h.seqLen = c.seqLen;
    h.headDim = c.headDim;
    h.valueDim = c.headDim;
    h.storage = c.storage;
    h.config = c.config;
    if (h.config.softmaxScale == 1.0f) h.config.softmaxScale = 1.0f / std::sqrt(static_cast<float>(c.headDim));
    std::mt19937 rng(c.seed);
    const size_t n = static_cast<size_t>(c.seqLen) * c.headDim;
    h.q.resize(n);
    h.k.resize(n);
    h.v.resize(n);
    fill(h.q, c.storage, rng);
    fill(h.k, c.storage, rng);
    fill(h.v, c.storage, rng);
    return h;
}

HeadTensors withNewQueries(const HeadTensors& base, unsigned seed) {
    HeadTensors h = base;
    std::mt19937 rng(seed);
    fill(h.q, base.storage, rng);
    return h;
}

double tolerance(StorageType storage) { return storage == StorageType::Float32 ? 1e-5 : 1e-4; }

Backend* gpuBackend(std::string* reason) {
    static std::string why = probeCudaDevice();
    static std::unique_ptr<Backend> backend = why.empty() ? createCudaBackend() : nullptr;
    if (!backend && reason) *reason = why;
    return backend.get();
}

CpuBackend& cpuBackend() {
    static CpuBackend cpu;  // every core: the reference is most of a GPU test's time
    return cpu;
}

template <typename A, typename B>
::testing::AssertionResult allClose(const std::vector<A>& gpu, const std::vector<B>& cpu, double tol, double floor,
                                    const std::string& what) {
    if (gpu.size() != cpu.size())
        return ::testing::AssertionFailure() << what << ": size " << gpu.size() << " vs " << cpu.size();
    int failures = 0;
    std::ostringstream msg;
    double worst = 0.0;
    for (size_t i = 0; i < gpu.size(); ++i) {
        const double a = static_cast<double>(gpu[i]);
        const double b = static_cast<double>(cpu[i]);
        if (std::isnan(a) || std::isnan(b)) {
            if (std::isnan(a) != std::isnan(b) && failures++ < 5) msg << "\n  [" << i << "] gpu " << a << " cpu " << b;
            continue;
        }
        if (std::isinf(a) || std::isinf(b)) {
            if (a != b && failures++ < 5) msg << "\n  [" << i << "] gpu " << a << " cpu " << b;
            continue;
        }
        const double err = std::abs(a - b) / std::max(std::abs(b), floor);
        worst = std::max(worst, err);
        if (err > tol && failures++ < 5) msg << "\n  [" << i << "] gpu " << a << " cpu " << b << " rel " << err;
    }
    if (failures == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << what << ": " << failures << " of " << gpu.size()
                                         << " elements off (tol " << tol << ", worst " << worst << ")" << msg.str();
}

template ::testing::AssertionResult allClose(const std::vector<float>&, const std::vector<float>&, double, double,
                                             const std::string&);
template ::testing::AssertionResult allClose(const std::vector<double>&, const std::vector<double>&, double, double,
                                             const std::string&);

::testing::AssertionResult normClose(const std::vector<float>& gpu, const std::vector<float>& cpu, double tol,
                                     const std::string& what) {
    if (gpu.size() != cpu.size())
        return ::testing::AssertionFailure() << what << ": size " << gpu.size() << " vs " << cpu.size();
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < gpu.size(); ++i) {
        const double d = static_cast<double>(gpu[i]) - cpu[i];
        num += d * d;
        den += static_cast<double>(cpu[i]) * cpu[i];
    }
    const double rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
    if (rel <= tol) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << what << ": relative Frobenius error " << rel << " > " << tol;
}

void expectSameStatistics(Backend& gpu, const HeadTensors& head, const std::string& label) {
    const double tol = tolerance(head.storage);
    const HeadStatistics c = cpuBackend().computeStatistics(head, {});
    const HeadStatistics g = gpu.computeStatistics(head, {});
    SCOPED_TRACE(label);
    EXPECT_TRUE(allClose(g.rowMax, c.rowMax, tol, 1.0, "rowMax"));
    EXPECT_TRUE(allClose(g.rowLse, c.rowLse, tol, 1.0, "rowLse"));
    EXPECT_TRUE(allClose(g.rowEntropy, c.rowEntropy, tol, 1.0, "rowEntropy"));
    EXPECT_TRUE(normClose(g.output, c.output, tol, "output"));
    EXPECT_TRUE(allClose(g.columnSums, c.columnSums, tol, 1e-12, "columnSums"));
    ASSERT_EQ(g.blocks.rows, c.blocks.rows);
    ASSERT_EQ(g.blocks.cols, c.blocks.cols);
    EXPECT_TRUE(allClose(g.blocks.sum, c.blocks.sum, tol, 1e-12, "block sums"));
    EXPECT_TRUE(allClose(g.blocks.max, c.blocks.max, tol, 1e-12, "block maxima"));
}

TileRequest tileRect(int q0, int q1, int k0, int k1, int w, int h, Pooling p, TileQuantity q) {
    TileRequest r;
    r.queryBegin = q0;
    r.queryEnd = q1;
    r.keyBegin = k0;
    r.keyEnd = k1;
    r.width = w;
    r.height = h;
    r.pooling = p;
    r.quantity = q;
    return r;
}

std::vector<TileRequest> tileRequestsFor(int T) {
    std::vector<TileRequest> out;
    for (Pooling p : {Pooling::Mean, Pooling::Max}) {
        out.push_back(tileRect(0, T, 0, T, 16, 16, p));                               // zoomed out
        out.push_back(tileRect(0, T, 0, T, 37, 23, p));                               // uneven pixels
        out.push_back(tileRect(T / 7, T - 13, 5, T - 3, 50, 70, p));                  // unaligned
        out.push_back(tileRect(T / 3, T / 3 + 40, T / 4, T / 4 + 30, 100, 90, p));    // zoomed in
        out.push_back(tileRect(T / 2, T, 0, T / 2, 1, 1, p));                         // one pixel
    }
    return out;
}

void expectSameTile(Backend& gpu, const HeadTensors& head, const HeadStatistics& dense, const TileRequest& r,
                    const VariantPlan* plan, const VariantEvaluation* eval) {
    const PooledTile c = cpuBackend().computeTile(head, dense, r, plan, eval);
    const PooledTile g = gpu.computeTile(head, dense, r, plan, eval);
    ASSERT_EQ(g.width, c.width);
    ASSERT_EQ(g.height, c.height);
    TileRequest denseRequest = r;
    denseRequest.quantity = TileQuantity::DenseWeight;
    const PooledTile scale = r.quantity == TileQuantity::DenseWeight ? c : cpuBackend().computeTile(head, dense, denseRequest);
    double maxAbs = 0.0;
    for (float v : c.values)
        if (!std::isnan(v)) maxAbs = std::max(maxAbs, static_cast<double>(std::abs(v)));
    const double tol = tolerance(head.storage);
    int failures = 0;
    std::string first;
    for (size_t n = 0; n < c.values.size(); ++n) {
        const float a = g.values[n], b = c.values[n];
        if (std::isnan(a) || std::isnan(b)) {
            if (std::isnan(a) != std::isnan(b)) ++failures;
            continue;
        }
        const double floor = std::max(std::isnan(scale.values[n]) ? 0.0 : std::abs(scale.values[n]) * 1.0, 1e-9 * maxAbs);
        const double err = std::abs(static_cast<double>(a) - b) / std::max(static_cast<double>(std::abs(b)), floor + 1e-30);
        if (err > tol && failures++ < 3)
            first += "\n  [" + std::to_string(n) + "] gpu " + std::to_string(a) + " cpu " + std::to_string(b) +
                     " rel " + std::to_string(err);
    }
    EXPECT_EQ(failures, 0) << tileQuantityName(r.quantity) << " " << poolingName(r.pooling) << " tile ["
                           << r.queryBegin << "," << r.queryEnd << ")x[" << r.keyBegin << "," << r.keyEnd << ") at "
                           << r.width << "x" << r.height << first;
}

void expectSameEvaluation(const VariantEvaluation& g, const VariantEvaluation& c, double tol) {
    EXPECT_EQ(g.keptPerRow, c.keptPerRow);
    EXPECT_TRUE(allClose(g.rowNormalizer, c.rowNormalizer, tol, 1.0, "row normalizers"));
    EXPECT_TRUE(normClose(g.output, c.output, tol, "output"));
    const VariantMetrics& gm = g.metrics;
    const VariantMetrics& cm = c.metrics;
    EXPECT_EQ(gm.keptCells, cm.keptCells);
    EXPECT_EQ(gm.visibleCells, cm.visibleCells);
    EXPECT_DOUBLE_EQ(gm.density, cm.density);
    EXPECT_NEAR(gm.recall, cm.recall, tol * cm.recall);
    EXPECT_NEAR(gm.oracleRecall, cm.oracleRecall, tol * cm.oracleRecall);
    EXPECT_NEAR(gm.oracleJaccard, cm.oracleJaccard, tol * cm.oracleJaccard);
    // outputError is itself a relative error: compare in absolute terms.
    EXPECT_NEAR(gm.outputError, cm.outputError, tol);
}

OverviewMask overviewRecipe(std::string label, bool keepAll, int sinks, int window, int topK, int gateBlock,
                            int gateTopK) {
    OverviewMask m;
    m.label = std::move(label);
    m.keepAll = keepAll;
    m.sinkTokens = sinks;
    m.windowSize = window;
    m.topK = topK;
    m.gateBlock = gateBlock;
    m.gateTopK = gateTopK;
    return m;
}

void expectSameOverview(const std::vector<HeadOverview>& g, const std::vector<HeadOverview>& c,
                        const std::vector<OverviewMask>& masks, double tol) {
    ASSERT_EQ(g.size(), c.size());
    for (size_t h = 0; h < c.size(); ++h) {
        SCOPED_TRACE("head " + std::to_string(h));
        EXPECT_NEAR(g[h].sinkMass, c[h].sinkMass, tol * std::max(c[h].sinkMass, 1e-3));
        EXPECT_NEAR(g[h].meanEntropy, c[h].meanEntropy, tol * std::max(c[h].meanEntropy, 1.0));
        EXPECT_EQ(g[h].visibleCells, c[h].visibleCells);
        ASSERT_EQ(g[h].recall.size(), masks.size());
        for (size_t m = 0; m < masks.size(); ++m) {
            SCOPED_TRACE(masks[m].label);
            EXPECT_EQ(g[h].keptCells[m], c[h].keptCells[m]);
            EXPECT_NEAR(g[h].recall[m], c[h].recall[m], tol * c[h].recall[m]);
        }
    }
}

}  // namespace attnscope::test
