// Exact pooled tiles. Pixel rows are independent tasks. Dense tiles whose pixels are aligned to
// the 64x64 block grid come straight from the block pyramid (exact reductions); everything else
// recomputes the cells it covers from Q, K and the row normalizers.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "attnscope/block-pyramid.h"
#include "attnscope/cpu-backend.h"
#include "cpu/cell-weights.h"
#include "cpu/parallel-for.h"
#include "cpu/row-logits.h"

namespace attnscope {

namespace {

struct PixelAccumulator {
    double sum = 0.0;
    double max = -std::numeric_limits<double>::infinity();
    long long count = 0;
    void add(double v) {
        sum += v;
        max = std::max(max, v);
        ++count;
    }
    float result(Pooling pooling) const {
        if (count == 0) return std::numeric_limits<float>::quiet_NaN();
        return static_cast<float>(pooling == Pooling::Mean ? sum / static_cast<double>(count) : max);
    }
};

}  // namespace

PooledTile CpuBackend::computeTile(const HeadTensors& head, const HeadStatistics& dense, const TileRequest& request,
                                   const VariantPlan* plan, const VariantEvaluation* variant, JobControl* job) {
    validateHeadTensors(head);
    validateTileRequest(request, head.seqLen);
    const cpu::CellValue prototype(request.quantity, dense, plan, variant);

    // The pyramid answers dense pixels that cover whole 64x64 blocks.
    std::optional<BlockPyramid> pyramid;
    const long long keySpan = request.keyEnd - request.keyBegin;
    const long long querySpan = request.queryEnd - request.queryBegin;
    if (request.quantity == TileQuantity::DenseWeight && dense.blocks.rows > 0 &&
        keySpan >= static_cast<long long>(kStatisticsBlockSize) * request.width &&
        querySpan >= static_cast<long long>(kStatisticsBlockSize) * request.height)
        pyramid.emplace(dense.blocks, head.config, head.seqLen);

    std::vector<float> phiKeys;
    std::vector<float> phiQueries;
    if (prototype.needsLinearFeatures()) {
        phiKeys = cpu::eluPlusOneFeatures(head.k.data(), head.seqLen, head.headDim);
        phiQueries = cpu::eluPlusOneFeatures(head.q.data(), head.seqLen, head.headDim);
    }

    PooledTile tile;
    tile.width = request.width;
    tile.height = request.height;
    tile.values.assign(static_cast<size_t>(request.width) * request.height, 0.0f);
    std::vector<PixelSpan> columnSpans(request.width);
    for (int x = 0; x < request.width; ++x) columnSpans[x] = pixelSpan(request.keyBegin, request.keyEnd, request.width, x);

    const int workers = std::max(1, std::min(m_threads, request.height));
    std::vector<std::vector<float>> logitBuffers(workers, std::vector<float>(keySpan));
    std::vector<std::vector<PixelAccumulator>> accumulatorBuffers(workers, std::vector<PixelAccumulator>(request.width));
    std::atomic<int> doneRows{0};

    cpu::parallelFor(workers, request.height, [&](int worker, int y) {
        throwIfCancelled(job);
        const PixelSpan rows = pixelSpan(request.queryBegin, request.queryEnd, request.height, y);
        float* out = tile.values.data() + static_cast<size_t>(y) * request.width;
        if (pyramid) {
            bool allAligned = true;
            for (int x = 0; x < request.width && allAligned; ++x) {
                const auto agg = pyramid->aggregate(rows.begin, rows.end, columnSpans[x].begin, columnSpans[x].end);
                if (!agg) {
                    allAligned = false;
                    break;
                }
                out[x] = agg->visibleCells == 0 ? std::numeric_limits<float>::quiet_NaN()
                         : request.pooling == Pooling::Mean
                             ? static_cast<float>(agg->sum / static_cast<double>(agg->visibleCells))
                             : agg->max;
            }
            if (allAligned) {
                reportProgress(job, "tile", static_cast<double>(++doneRows) / request.height);
                return;
            }
        }
        cpu::CellValue cell = prototype;
        std::vector<PixelAccumulator>& acc = accumulatorBuffers[worker];
        std::fill(acc.begin(), acc.end(), PixelAccumulator{});
        std::vector<float>& logits = logitBuffers[worker];
        for (int i = rows.begin; i < rows.end; ++i) {
            const KeyRange range = cpu::clipToVisible(head, i, request.keyBegin, request.keyEnd);
            if (range.size() == 0) continue;
            cpu::computeRowLogits(head, i, range, logits.data());
            cell.beginRow(i, phiQueries.empty() ? nullptr : phiQueries.data() + static_cast<size_t>(i) * head.headDim);
            for (int x = 0; x < request.width; ++x) {
                const int b = std::max(columnSpans[x].begin, range.begin);
                const int e = std::min(columnSpans[x].end, range.end);
                for (int j = b; j < e; ++j) {
                    const float* phiKey = phiKeys.empty() ? nullptr : phiKeys.data() + static_cast<size_t>(j) * head.headDim;
                    acc[x].add(cell.value(i, j, logits[j - range.begin], phiKey, head.headDim));
                }
            }
        }
        for (int x = 0; x < request.width; ++x) out[x] = acc[x].result(request.pooling);
        reportProgress(job, "tile", static_cast<double>(++doneRows) / request.height);
    });
    return tile;
}

}  // namespace attnscope
