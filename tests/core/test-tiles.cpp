// Pooled tiles against brute-force pooling: zoomed out (many cells per pixel), zoomed in (one cell
// repeated), mean and max, the pyramid fast path, and every variant quantity.
#include <gtest/gtest.h>

#include <cmath>

#include "attnscope/cpu-backend.h"
#include "attnscope/variant.h"
#include "brute-force-reference.h"
#include "test-helpers.h"

namespace attnscope {
namespace {

using testing::bruteForceAttention;
using testing::closeRelative;
using testing::randomHead;

// Brute-force pooled value of one pixel for a per-cell function f(i, j) -> value.
template <class F>
double brutePixel(const TileRequest& r, const testing::BruteForceAttention& ref, int x, int y, F f, bool& empty) {
    const PixelSpan rows = pixelSpan(r.queryBegin, r.queryEnd, r.height, y);
    const PixelSpan cols = pixelSpan(r.keyBegin, r.keyEnd, r.width, x);
    double sum = 0.0, mx = -INFINITY;
    long long n = 0;
    for (int i = rows.begin; i < rows.end; ++i)
        for (int j = cols.begin; j < cols.end; ++j) {
            if (!ref.vis(i, j)) continue;
            const double v = f(i, j);
            sum += v;
            mx = std::max(mx, v);
            ++n;
        }
    empty = n == 0;
    return r.pooling == Pooling::Mean ? sum / static_cast<double>(std::max(n, 1LL)) : mx;
}

template <class F>
void expectTileMatches(const PooledTile& tile, const TileRequest& r, const testing::BruteForceAttention& ref, F f,
                       double rel = 1e-5) {
    ASSERT_EQ(tile.width, r.width);
    ASSERT_EQ(tile.height, r.height);
    for (int y = 0; y < r.height; ++y)
        for (int x = 0; x < r.width; ++x) {
            bool empty = false;
            const double expected = brutePixel(r, ref, x, y, f, empty);
            if (empty) {
                ASSERT_TRUE(std::isnan(tile.at(x, y))) << x << "," << y;
            } else {
                ASSERT_TRUE(closeRelative(tile.at(x, y), expected, rel, 1e-7)) << x << "," << y;
            }
        }
}

TEST(Tiles, DenseMeanAndMaxAtManyZoomLevels) {
    const HeadTensors head = randomHead(300, 32, 32, true, 11, 2.0f);
    CpuBackend backend(2);
    const HeadStatistics stats = backend.computeStatistics(head, {});
    const auto ref = bruteForceAttention(head);
    const TileRequest requests[] = {
        {0, 300, 0, 300, 37, 23, Pooling::Mean}, {0, 300, 0, 300, 64, 64, Pooling::Max},
        {100, 140, 20, 90, 100, 120, Pooling::Mean},  // zoomed in: pixels repeat cells
        {250, 260, 0, 300, 7, 3, Pooling::Max},       {0, 10, 200, 300, 16, 16, Pooling::Mean}};  // all masked
    for (const TileRequest& r : requests) {
        const PooledTile tile = backend.computeTile(head, stats, r);
        expectTileMatches(tile, r, ref, [&](int i, int j) { return ref.p(i, j); });
    }
}

TEST(Tiles, PyramidPathEqualsExactPath) {
    const HeadTensors head = randomHead(512, 32, 32, false, 12, 2.0f);
    CpuBackend backend(2);
    const HeadStatistics withBlocks = backend.computeStatistics(head, {});
    StatisticsRequest noBlocks;
    noBlocks.blocks = false;
    const HeadStatistics withoutBlocks = backend.computeStatistics(head, noBlocks);
    for (Pooling pooling : {Pooling::Mean, Pooling::Max}) {
        const TileRequest r{0, 512, 0, 512, 4, 8, pooling};  // 128x64-cell pixels: block aligned
        const PooledTile fast = backend.computeTile(head, withBlocks, r);
        const PooledTile exact = backend.computeTile(head, withoutBlocks, r);
        for (size_t i = 0; i < fast.values.size(); ++i) EXPECT_TRUE(closeRelative(fast.values[i], exact.values[i], 1e-6));
    }
}

TEST(Tiles, VariantQuantitiesMatchBruteForce) {
    // Integer-valued q/k with a power-of-two scale: logits are exact in fp32, so the brute force
    // and the engine agree on top-k membership even at ties.
    HeadTensors head = testing::integerHead(200, 32, true, 13, 1);
    head.config.softmaxScale = 0.125f;
    CpuBackend backend(2);
    const HeadStatistics stats = backend.computeStatistics(head, {});
    const auto ref = bruteForceAttention(head);
    for (const char* id : {"streaming-llm", "moba", "topk", "linear-elu"}) {
        const Variant* variant = findVariant(id);
        ParamValues params = resolveParams(*variant, {});
        if (std::string(id) == "streaming-llm") params = resolveParams(*variant, {{"window", 20}, {"sinks", 2}});
        if (std::string(id) == "moba") params = resolveParams(*variant, {{"block", 16}, {"topk", 2}});
        if (std::string(id) == "topk") params = resolveParams(*variant, {{"k", 9}});
        const VariantPlan plan = variant->plan(head, params, backend);
        const VariantEvaluation eval = backend.evaluateVariant(head, stats, plan);
        auto keeps = [&](int i, int j) { return plan.mask.keeps(i, j, static_cast<float>(ref.s(i, j))); };
        auto weight = [&](int i, int j) -> double {
            if (plan.weights == WeightKind::LinearEluPlusOne) {
                double w = 0.0;
                for (int c = 0; c < head.headDim; ++c) {
                    const float q = head.q[static_cast<size_t>(i) * head.headDim + c];
                    const float k = head.k[static_cast<size_t>(j) * head.headDim + c];
                    w += (q > 0 ? q + 1.0 : std::exp(q)) * (k > 0 ? k + 1.0 : std::exp(k));
                }
                return w / eval.rowNormalizer[i];
            }
            return keeps(i, j) ? std::exp(ref.s(i, j) - eval.rowNormalizer[i]) : 0.0;
        };
        for (Pooling pooling : {Pooling::Mean, Pooling::Max}) {
            TileRequest r{0, 200, 0, 200, 50, 40, pooling, TileQuantity::VariantWeight};
            expectTileMatches(backend.computeTile(head, stats, r, &plan, &eval), r, ref, weight, 1e-4);
            r.quantity = TileQuantity::KeptFraction;
            expectTileMatches(backend.computeTile(head, stats, r, &plan, &eval), r, ref,
                              [&](int i, int j) { return keeps(i, j) ? 1.0 : 0.0; });
            r.quantity = TileQuantity::DroppedMass;
            expectTileMatches(backend.computeTile(head, stats, r, &plan, &eval), r, ref,
                              [&](int i, int j) { return keeps(i, j) ? 0.0 : ref.p(i, j); });
        }
        // The difference is signed and small: compare absolutely against the weights' scale.
        const TileRequest r{0, 200, 0, 200, 25, 25, Pooling::Mean, TileQuantity::Difference};
        const PooledTile diff = backend.computeTile(head, stats, r, &plan, &eval);
        for (int y = 0; y < 25; ++y)
            for (int x = 0; x < 25; ++x) {
                bool empty = false;
                const double expected = brutePixel(r, ref, x, y, [&](int i, int j) { return weight(i, j) - ref.p(i, j); }, empty);
                if (empty) EXPECT_TRUE(std::isnan(diff.at(x, y)));
                else EXPECT_NEAR(diff.at(x, y), expected, 1e-6) << id;
            }
    }
}

TEST(Tiles, RejectsBadRequestsAndMissingVariant) {
    const HeadTensors head = randomHead(50, 16, 16, true, 14);
    CpuBackend backend(1);
    const HeadStatistics stats = backend.computeStatistics(head, {});
    EXPECT_THROW(backend.computeTile(head, stats, {0, 51, 0, 50, 8, 8}), std::invalid_argument);
    EXPECT_THROW(backend.computeTile(head, stats, {10, 10, 0, 50, 8, 8}), std::invalid_argument);
    EXPECT_THROW(backend.computeTile(head, stats, {0, 50, 0, 50, 0, 8}), std::invalid_argument);
    EXPECT_THROW(backend.computeTile(head, stats, {0, 50, 0, 50, 8, 8, Pooling::Mean, TileQuantity::VariantWeight}),
                 std::invalid_argument);
}

}  // namespace
}  // namespace attnscope
