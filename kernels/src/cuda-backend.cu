// CudaBackend: the Backend interface on top of the kernels. Keeps the last heads it saw on the GPU
// (keyed by a fingerprint of their identity and sampled values) and the last block grid, so pans and
// zooms of one head upload only the tile's small index arrays. Head dims above 128 run on the CPU
// reference backend (said once on stderr). Registration and device probing live here too.
#include "attnscope/cuda-backend.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <numeric>
#include <stdexcept>

#include "attnscope/cpu-backend.h"
#include "cuda-check.h"
#include "device-head.h"
#include "launchers.h"
#include "overview-driver.h"

namespace attnscope {

namespace {

using cuda::DeviceBuffer;
using cuda::DeviceHead;
using cuda::DeviceThreshold;
using cuda::Element;
using cuda::kTile;

std::vector<float> toFloat(const std::vector<double>& x, size_t padTo) {
    std::vector<float> out(padTo, 0.0f);
    for (size_t i = 0; i < x.size(); ++i) out[i] = static_cast<float>(x[i]);
    return out;
}

template <typename T>
DeviceBuffer<T> toDevice(const std::vector<T>& host, const char* what, cudaStream_t stream) {
    DeviceBuffer<T> buffer(host.size(), what);
    if (!host.empty()) buffer.upload(host.data(), host.size(), stream);
    return buffer;
}

template <typename T>
std::vector<T> toHost(const DeviceBuffer<T>& buffer, size_t count, cudaStream_t stream) {
    std::vector<T> host(count);
    if (count) buffer.download(host.data(), count, stream);
    return host;
}

// Device copy of a SparseMask (the column list becomes a byte map over keys).
struct DeviceMaskStorage {
    DeviceBuffer<uint8_t> blocks;
    DeviceBuffer<uint8_t> columnMap;
    DeviceBuffer<DeviceThreshold> rowTopK;
    cuda::DeviceMask mask;

    DeviceMaskStorage(const SparseMask& m, int seqLen, cudaStream_t stream) {
        mask.keepAll = m.keepAll;
        mask.sinkTokens = m.sinkTokens;
        mask.windowSize = m.windowSize;
        mask.blockSize = m.blockSize;
        mask.blockCols = m.blockCols;
        if (m.blockSize > 0) {
            blocks = toDevice(m.blocks, "the variant's block map", stream);
            mask.blocks = blocks.get();
        }
        if (!m.columns.empty()) {
            std::vector<uint8_t> map(seqLen, 0);
            for (int32_t j : m.columns)
                if (j >= 0 && j < seqLen) map[j] = 1;
            columnMap = toDevice(map, "the variant's column list", stream);
            mask.columnMap = columnMap.get();
        }
        if (!m.rowTopK.empty()) {
            std::vector<DeviceThreshold> t(m.rowTopK.size());
            for (size_t i = 0; i < t.size(); ++i) t[i] = {m.rowTopK[i].thresholdLogit, m.rowTopK[i].thresholdKey};
            rowTopK = toDevice(t, "the variant's top-k thresholds", stream);
            mask.rowTopK = rowTopK.get();
        }
    }
};

// Key blocks of query block qb the mask can keep something in (block-sparse work list).
bool maskMayKeep(const SparseMask& m, int qb, int kb, int seqLen, const std::vector<int>& columnPrefix) {
    if (m.keepAll || !m.rowTopK.empty()) return true;
    const int q0 = qb * kTile, q1 = std::min(seqLen, q0 + kTile) - 1;
    const int k0 = kb * kTile, k1 = std::min(seqLen, k0 + kTile) - 1;
    if (k0 < m.sinkTokens) return true;
    if (m.windowSize > 0) {
        const int dist = std::max({0, k0 - q1, q0 - k1});
        if (dist < m.windowSize) return true;
    }
    if (m.blockSize > 0) {
        for (int r = q0 / m.blockSize; r <= q1 / m.blockSize; ++r)
            for (int c = k0 / m.blockSize; c <= k1 / m.blockSize; ++c)
                if (m.blocks[static_cast<size_t>(r) * m.blockCols + c]) return true;
    }
    if (!columnPrefix.empty() && columnPrefix[k1 + 1] > columnPrefix[k0]) return true;
    return false;
}

class CudaBackend final : public Backend {
public:
    CudaBackend() {
        cudaDeviceProp prop{};
        cuda::checkCuda(cudaGetDeviceProperties(&prop, 0), "reading the GPU's properties");
        m_name = std::string("CUDA: ") + prop.name;
        cuda::checkCuda(cudaStreamCreateWithFlags(&m_stream, cudaStreamNonBlocking), "creating a CUDA stream");
    }
    ~CudaBackend() override {
        m_heads.clear();
        if (m_stream) cudaStreamDestroy(m_stream);
    }

    std::string name() const override { return m_name; }

    HeadStatistics computeStatistics(const HeadTensors& head, const StatisticsRequest& request,
                                     JobControl* job) override {
        validateHeadTensors(head);
        if (needsCpu(head)) return m_cpu.computeStatistics(head, request, job);
        std::lock_guard lock(m_mutex);
        throwIfCancelled(job);
        const DeviceHead& d = deviceHead(head, false);
        const int T = head.seqLen, D = d.paddedDim, R = d.rowsPadded, nb = R / kTile;
        DeviceBuffer<float> out(static_cast<size_t>(R) * D, "the attention output");
        DeviceBuffer<float> rowMax(R, "row maxima"), rowLse(R, "row LSE"), rowEntropy(R, "row entropy");
        cuda::ForwardArgs fa;
        fa.out = out.get();
        fa.rowMax = rowMax.get();
        fa.rowLse = rowLse.get();
        fa.rowEntropy = rowEntropy.get();
        cuda::launchForward(d.element, D, d.view, fa, m_stream);
        reportProgress(job, "statistics", 0.5);

        HeadStatistics stats;
        stats.seqLen = T;
        stats.valueDim = head.valueDim;
        const bool second = request.columnSums || request.blocks;
        DeviceBuffer<float> colSums, blockSum, blockMax;
        if (second) {
            colSums = DeviceBuffer<float>(R, "column sums");
            blockSum = DeviceBuffer<float>(static_cast<size_t>(nb) * nb, "the 64x64 block sums");
            blockMax = DeviceBuffer<float>(static_cast<size_t>(nb) * nb, "the 64x64 block maxima");
            cuda::StatisticsArgs sa;
            sa.rowLse = rowLse.get();
            sa.columnSums = colSums.get();
            sa.blockSum = blockSum.get();
            sa.blockMax = blockMax.get();
            cuda::launchStatistics(d.element, D, d.view, sa, m_stream);
        }
        stats.rowMax = toHost(rowMax, T, m_stream);
        const std::vector<float> lse = toHost(rowLse, T, m_stream);
        const std::vector<float> entropy = toHost(rowEntropy, T, m_stream);
        stats.rowLse.assign(lse.begin(), lse.end());
        stats.rowEntropy.assign(entropy.begin(), entropy.end());
        if (request.output) {
            const std::vector<float> o = toHost(out, static_cast<size_t>(T) * D, m_stream);
            stats.output.resize(static_cast<size_t>(T) * head.valueDim);
            for (int i = 0; i < T; ++i)
                std::copy_n(o.data() + static_cast<size_t>(i) * D, head.valueDim,
                            stats.output.data() + static_cast<size_t>(i) * head.valueDim);
        }
        if (request.columnSums) {
            const std::vector<float> c = toHost(colSums, T, m_stream);
            stats.columnSums.assign(c.begin(), c.end());
        }
        if (request.blocks) {
            const std::vector<float> s = toHost(blockSum, static_cast<size_t>(nb) * nb, m_stream);
            stats.blocks.blockSize = kTile;
            stats.blocks.rows = nb;
            stats.blocks.cols = nb;
            stats.blocks.sum.assign(s.begin(), s.end());
            stats.blocks.max = toHost(blockMax, static_cast<size_t>(nb) * nb, m_stream);
            // Keep the grid on the GPU for tiles of this head.
            m_gridSum = std::move(blockSum);
            m_gridMax = std::move(blockMax);
            m_gridKey = gridKey(stats.blocks);
        }
        reportProgress(job, "statistics", 1.0);
        return stats;
    }

    PooledTile computeTile(const HeadTensors& head, const HeadStatistics& dense, const TileRequest& request,
                           const VariantPlan* plan, const VariantEvaluation* variant, JobControl* job) override {
        validateHeadTensors(head);
        validateTileRequest(request, head.seqLen);
        if (needsCpu(head)) return m_cpu.computeTile(head, dense, request, plan, variant, job);
        const TileQuantity quantity = request.quantity;
        if (static_cast<int>(dense.rowLse.size()) != head.seqLen)
            throw std::invalid_argument("tile: dense statistics without row LSE");
        const bool needsPlan = quantity != TileQuantity::DenseWeight;
        const bool needsNormalizer = quantity == TileQuantity::VariantWeight || quantity == TileQuantity::Difference;
        if (needsPlan && !plan)
            throw std::invalid_argument(std::string("tile quantity '") + tileQuantityName(quantity) +
                                        "' needs a variant plan");
        if (needsNormalizer && (!variant || variant->rowNormalizer.empty()))
            throw std::invalid_argument(std::string("tile quantity '") + tileQuantityName(quantity) +
                                        "' needs the variant's evaluation (row normalizers)");
        const bool linear = needsNormalizer && plan->weights == WeightKind::LinearEluPlusOne;
        std::lock_guard lock(m_mutex);
        throwIfCancelled(job);
        const DeviceHead& d = deviceHead(head, false, linear ? Element::Float32 : chooseElementCached(head));
        const DeviceHead* features = linear ? &deviceHead(head, true) : nullptr;
        const int T = head.seqLen, R = d.rowsPadded, nb = R / kTile;
        const int q0 = request.queryBegin, q1 = request.queryEnd, k0 = request.keyBegin, k1 = request.keyEnd;
        const int H = q1 - q0, W = k1 - k0;

        // Groups: pixels when they pool several cells, cell rows/columns when pixels repeat cells.
        auto groups = [](int begin, int end, int pixels, std::vector<int>& cellGroup, std::vector<int>& pixelGroup) {
            const int n = end - begin;
            cellGroup.assign(n, 0);
            pixelGroup.assign(pixels, 0);
            if (n >= pixels) {
                for (int p = 0; p < pixels; ++p) {
                    const PixelSpan s = pixelSpan(begin, end, pixels, p);
                    for (int i = s.begin; i < s.end; ++i) cellGroup[i - begin] = p;
                    pixelGroup[p] = p;
                }
                return pixels;
            }
            std::iota(cellGroup.begin(), cellGroup.end(), 0);
            for (int p = 0; p < pixels; ++p) pixelGroup[p] = pixelSpan(begin, end, pixels, p).begin - begin;
            return n;
        };
        std::vector<int> rowGroup, colGroup, pixelRowGroup, pixelColGroup;
        const int groupRows = groups(q0, q1, request.height, rowGroup, pixelRowGroup);
        const int groupCols = groups(k0, k1, request.width, colGroup, pixelColGroup);

        cuda::TileArgs a;
        a.q0 = q0;
        a.q1 = q1;
        a.k0 = k0;
        a.k1 = k1;
        a.groupCols = groupCols;
        switch (quantity) {
            case TileQuantity::DenseWeight: a.quantity = cuda::CellQuantity::Dense; break;
            case TileQuantity::VariantWeight: a.quantity = cuda::CellQuantity::Variant; break;
            case TileQuantity::KeptFraction: a.quantity = cuda::CellQuantity::Kept; break;
            case TileQuantity::Difference: a.quantity = cuda::CellQuantity::Difference; break;
            case TileQuantity::DroppedMass: a.quantity = cuda::CellQuantity::Dropped; break;
        }

        // Whole 64x64 blocks inside one group come from the block grid (dense tiles only).
        std::vector<uint8_t> rowAligned(nb, 0), colAligned(nb, 0);
        bool anyAligned = false;
        const BlockGrid& grid = dense.blocks;
        if (quantity == TileQuantity::DenseWeight && grid.rows == nb && grid.cols == nb && grid.blockSize == kTile &&
            H >= kTile * request.height && W >= kTile * request.width) {
            auto aligned = [&](int b, int begin, int end, const std::vector<int>& cellGroup) {
                const int s = b * kTile, e = std::min(T, s + kTile);
                return s >= begin && e <= end && cellGroup[s - begin] == cellGroup[e - 1 - begin];
            };
            bool rowsAny = false, colsAny = false;
            for (int b = 0; b < nb; ++b) {
                rowAligned[b] = aligned(b, q0, q1, rowGroup);
                colAligned[b] = aligned(b, k0, k1, colGroup);
                rowsAny = rowsAny || rowAligned[b];
                colsAny = colsAny || colAligned[b];
            }
            anyAligned = rowsAny && colsAny;
        }
        a.useBlocks = anyAligned;

        DeviceBuffer<int> dRowGroup = toDevice(rowGroup, "tile row groups", m_stream);
        DeviceBuffer<int> dColGroup = toDevice(colGroup, "tile column groups", m_stream);
        DeviceBuffer<int> dPixelRow = toDevice(pixelRowGroup, "tile pixel rows", m_stream);
        DeviceBuffer<int> dPixelCol = toDevice(pixelColGroup, "tile pixel columns", m_stream);
        DeviceBuffer<uint8_t> dRowAligned = toDevice(rowAligned, "tile block rows", m_stream);
        DeviceBuffer<uint8_t> dColAligned = toDevice(colAligned, "tile block columns", m_stream);
        DeviceBuffer<float> dLse = toDevice(toFloat(dense.rowLse, R), "row LSE", m_stream);
        DeviceBuffer<float> dNorm;
        if (needsNormalizer) {
            std::vector<float> norm(R, 0.0f);
            for (int i = 0; i < T; ++i) norm[i] = static_cast<float>(variant->rowNormalizer.at(i));
            dNorm = toDevice(norm, "variant normalizers", m_stream);
        }
        std::unique_ptr<DeviceMaskStorage> mask;
        if (plan && needsPlan) mask = std::make_unique<DeviceMaskStorage>(plan->mask, T, m_stream);
        DeviceBuffer<double> groupSum(static_cast<size_t>(groupRows) * groupCols, "tile accumulators");
        DeviceBuffer<unsigned> groupMax(static_cast<size_t>(groupRows) * groupCols, "tile accumulators");
        groupSum.zero(m_stream);
        groupMax.zero(m_stream);
        DeviceBuffer<float> values(static_cast<size_t>(request.width) * request.height, "the tile image");

        a.rowGroup = dRowGroup.get();
        a.colGroup = dColGroup.get();
        a.rowBlockAligned = dRowAligned.get();
        a.colBlockAligned = dColAligned.get();
        a.rowLse = dLse.get();
        a.variantNorm = dNorm.get();
        if (mask) a.mask = mask->mask;
        a.groupSum = groupSum.get();
        a.groupMax = groupMax.get();
        a.linear = linear;
        if (linear) {
            a.phiQ = static_cast<const float*>(features->view.q);
            a.phiK = static_cast<const float*>(features->view.k);
        }
        cuda::launchTileCells(d.element, d.paddedDim, d.view, a, m_stream);
        if (anyAligned) {
            uploadGrid(grid);
            cuda::launchTileBlocks(d.view, a, m_gridSum.get(), m_gridMax.get(), m_stream);
        }
        cuda::launchTileFinish(d.view, a, request.width, request.height, dPixelRow.get(), dPixelCol.get(),
                               request.pooling == Pooling::Mean, values.get(), m_stream);
        PooledTile tile;
        tile.width = request.width;
        tile.height = request.height;
        tile.values = toHost(values, values.size(), m_stream);
        reportProgress(job, "tile", 1.0);
        return tile;
    }

    RowTopK computeRowTopK(const HeadTensors& head, const HeadStatistics& dense, int k, JobControl* job) override {
        validateHeadTensors(head);
        if (k < 1) throw std::invalid_argument("top-k: k must be >= 1, got " + std::to_string(k));
        if (static_cast<int>(dense.rowLse.size()) != head.seqLen)
            throw std::invalid_argument("top-k: dense statistics must hold the row LSE of this head");
        if (needsCpu(head)) return m_cpu.computeRowTopK(head, dense, k, job);
        std::lock_guard lock(m_mutex);
        throwIfCancelled(job);
        const int T = head.seqLen;
        const DeviceHead& d = deviceHead(head, false);
        std::vector<int32_t> keep(T);
        for (int i = 0; i < T; ++i) keep[i] = std::min(k, visibleKeys(head.config, T, i).size());
        DeviceBuffer<DeviceThreshold> thresholds = thresholdsOnDevice(d, head, keep);
        DeviceBuffer<int> keys(static_cast<size_t>(T) * k, "top-k keys");
        DeviceBuffer<float> logits(static_cast<size_t>(T) * k, "top-k logits");
        cuda::checkCuda(cudaMemsetAsync(keys.get(), 0xff, keys.size() * sizeof(int), m_stream), "clearing top-k keys");
        logits.zero(m_stream);
        cuda::launchTopKCollect(d.element, d.paddedDim, d.view, thresholds.get(), k, keys.get(), logits.get(), m_stream);
        const std::vector<int> hostKeys = toHost(keys, keys.size(), m_stream);
        const std::vector<float> hostLogits = toHost(logits, logits.size(), m_stream);
        RowTopK result;
        result.k = k;
        result.indices.assign(static_cast<size_t>(T) * k, -1);
        result.weights.assign(static_cast<size_t>(T) * k, 0.0f);
        std::vector<std::pair<float, int>> row;
        for (int i = 0; i < T; ++i) {
            row.clear();
            for (int s = 0; s < k; ++s) {
                const size_t idx = static_cast<size_t>(i) * k + s;
                if (hostKeys[idx] >= 0) row.emplace_back(hostLogits[idx], hostKeys[idx]);
            }
            std::sort(row.begin(), row.end(), [](const auto& a, const auto& b) {
                return a.first > b.first || (a.first == b.first && a.second < b.second);
            });
            for (size_t r = 0; r < row.size(); ++r) {
                result.indices[static_cast<size_t>(i) * k + r] = row[r].second;
                result.weights[static_cast<size_t>(i) * k + r] =
                    static_cast<float>(std::exp(static_cast<double>(row[r].first) - dense.rowLse[i]));
            }
        }
        return result;
    }

    std::vector<RowThreshold> computeRowThresholds(const HeadTensors& head, const std::vector<int32_t>& keep,
                                                   JobControl* job) override {
        validateHeadTensors(head);
        const int T = head.seqLen;
        if (static_cast<int>(keep.size()) != T)
            throw std::invalid_argument("row thresholds: keep must hold one budget per row (" + std::to_string(T) +
                                        "), got " + std::to_string(keep.size()));
        if (needsCpu(head)) return m_cpu.computeRowThresholds(head, keep, job);
        std::lock_guard lock(m_mutex);
        throwIfCancelled(job);
        const DeviceHead& d = deviceHead(head, false);
        const DeviceBuffer<DeviceThreshold> t = thresholdsOnDevice(d, head, keep);
        const std::vector<DeviceThreshold> host = toHost(t, T, m_stream);
        std::vector<RowThreshold> out(T);
        for (int i = 0; i < T; ++i) out[i] = {host[i].logit, host[i].key};
        return out;
    }

    VariantEvaluation evaluateVariant(const HeadTensors& head, const HeadStatistics& dense, const VariantPlan& plan,
                                      JobControl* job) override {
        validateHeadTensors(head);
        const int T = head.seqLen;
        const size_t dv = head.valueDim;
        if (dense.rowLse.size() != static_cast<size_t>(T) || dense.output.size() != static_cast<size_t>(T) * dv)
            throw std::invalid_argument("variant evaluation: dense statistics must hold row LSE and output of this head");
        const SparseMask& m = plan.mask;
        if (!m.rowTopK.empty() && m.rowTopK.size() != static_cast<size_t>(T))
            throw std::invalid_argument("variant plan: rowTopK must have one threshold per row");
        if (m.blockSize > 0) {
            const int n = (T + m.blockSize - 1) / m.blockSize;
            if (m.blockRows != n || m.blockCols != n || m.blocks.size() != static_cast<size_t>(n) * n)
                throw std::invalid_argument("variant plan: block map must be ceil(T/blockSize) squared");
        }
        const bool linear = plan.weights == WeightKind::LinearEluPlusOne;
        if (linear && !m.keepAll)
            throw std::invalid_argument("variant plan: linear weights are defined on the full mask only");
        if (needsCpu(head)) return m_cpu.evaluateVariant(head, dense, plan, job);
        std::lock_guard lock(m_mutex);
        throwIfCancelled(job);

        const DeviceHead& d = deviceHead(head, false);
        const int D = d.paddedDim, R = d.rowsPadded, nb = R / kTile;
        VariantEvaluation eval;
        std::vector<float> out, normalizer, recall;
        std::vector<int> kept;
        std::vector<int> visible(T);
        for (int i = 0; i < T; ++i) visible[i] = visibleKeys(head.config, T, i).size();
        if (linear) {
            const DeviceHead& f = deviceHead(head, true);
            DeviceBuffer<float> dOut(static_cast<size_t>(R) * D, "the variant output"), dZ(R, "normalizers");
            cuda::LinearArgs la;
            la.out = dOut.get();
            la.z = dZ.get();
            cuda::launchLinearVariant(f.paddedDim, f.view, la, m_stream);
            out = toHost(dOut, static_cast<size_t>(T) * D, m_stream);
            normalizer = toHost(dZ, T, m_stream);
            kept = visible;
            recall.assign(T, 1.0f);  // the full mask keeps all dense mass of every row
        } else {
            DeviceMaskStorage mask(m, T, m_stream);
            // Block-sparse work list: per query block, the visible key blocks the mask can touch.
            std::vector<int> columnPrefix;
            if (!m.columns.empty()) {
                columnPrefix.assign(T + 1, 0);
                std::vector<uint8_t> map(T, 0);
                for (int32_t j : m.columns)
                    if (j >= 0 && j < T) map[j] = 1;
                for (int j = 0; j < T; ++j) columnPrefix[j + 1] = columnPrefix[j] + map[j];
            }
            std::vector<int> offsets(nb + 1, 0), list;
            for (int qb = 0; qb < nb; ++qb) {
                const KeyRange first = visibleKeys(head.config, T, qb * kTile);
                const KeyRange last = visibleKeys(head.config, T, std::min(T, qb * kTile + kTile) - 1);
                for (int kb = first.begin / kTile; kb <= (std::max(first.end, last.end) - 1) / kTile; ++kb)
                    if (maskMayKeep(m, qb, kb, T, columnPrefix)) list.push_back(kb);
                offsets[qb + 1] = static_cast<int>(list.size());
            }
            if (list.empty()) list.push_back(0);
            DeviceBuffer<int> dOffsets = toDevice(offsets, "the block list", m_stream);
            DeviceBuffer<int> dList = toDevice(list, "the block list", m_stream);
            DeviceBuffer<float> dLse = toDevice(toFloat(dense.rowLse, R), "row LSE", m_stream);
            DeviceBuffer<float> dOut(static_cast<size_t>(R) * D, "the variant output"), dNorm(R, "normalizers"),
                dRecall(R, "recall");
            DeviceBuffer<int> dKept(R, "kept counts");
            cuda::VariantArgs va;
            va.mask = mask.mask;
            va.denseLse = dLse.get();
            va.blockOffsets = dOffsets.get();
            va.blockList = dList.get();
            va.out = dOut.get();
            va.normalizer = dNorm.get();
            va.kept = dKept.get();
            va.recall = dRecall.get();
            cuda::launchVariant(d.element, D, d.view, va, m_stream);
            out = toHost(dOut, static_cast<size_t>(T) * D, m_stream);
            normalizer = toHost(dNorm, T, m_stream);
            kept = toHost(dKept, T, m_stream);
            recall = toHost(dRecall, T, m_stream);
            reportProgress(job, "variant", 0.5);
            throwIfCancelled(job);

            // Oracle top-|M_i| sets through the threshold kernels, then one comparison pass.
            std::vector<int32_t> budget(kept.begin(), kept.end());
            DeviceBuffer<DeviceThreshold> oracle = thresholdsOnDevice(d, head, budget);
            DeviceBuffer<int> dBoth(R, "oracle intersections");
            DeviceBuffer<float> dOracleRecall(R, "oracle recall");
            cuda::OracleArgs oa;
            oa.mask = mask.mask;
            oa.oracle = oracle.get();
            oa.denseLse = dLse.get();
            oa.intersection = dBoth.get();
            oa.oracleRecall = dOracleRecall.get();
            cuda::launchOracle(d.element, D, d.view, oa, m_stream);
            m_lastIntersection = toHost(dBoth, T, m_stream);
            m_lastOracleRecall = toHost(dOracleRecall, T, m_stream);
        }

        eval.rowNormalizer.resize(T);
        eval.keptPerRow.assign(kept.begin(), kept.end());
        eval.output.resize(static_cast<size_t>(T) * dv);
        VariantMetrics& mt = eval.metrics;
        double errorSq = 0.0, referenceSq = 0.0, recallSum = 0.0, oracleRecallSum = 0.0;
        long long intersection = 0, unionSize = 0;
        for (int i = 0; i < T; ++i) {
            const float nrm = normalizer[i];
            eval.rowNormalizer[i] = std::isinf(nrm) ? -std::numeric_limits<double>::infinity() : nrm;
            const float* o = dense.output.data() + static_cast<size_t>(i) * dv;
            for (size_t c = 0; c < dv; ++c) {
                const float x = out[static_cast<size_t>(i) * D + c];
                eval.output[static_cast<size_t>(i) * dv + c] = x;
                const double diff = static_cast<double>(x) - o[c];
                errorSq += diff * diff;
                referenceSq += static_cast<double>(o[c]) * o[c];
            }
            const int n = visible[i];
            const int k = kept[i];
            long long both = 0;
            double oracleRecall = 0.0;
            if (k == n) {
                both = n;
                oracleRecall = recall[i];
            } else if (k > 0) {
                both = m_lastIntersection[i];
                oracleRecall = m_lastOracleRecall[i];
            }
            mt.keptCells += k;
            mt.visibleCells += n;
            recallSum += recall[i];
            oracleRecallSum += oracleRecall;
            intersection += both;
            unionSize += 2LL * k - both;
        }
        mt.density = static_cast<double>(mt.keptCells) / static_cast<double>(mt.visibleCells);
        mt.recall = recallSum / T;
        mt.oracleRecall = oracleRecallSum / T;
        mt.outputError = referenceSq > 0.0 ? std::sqrt(errorSq / referenceSq) : (errorSq > 0.0 ? INFINITY : 0.0);
        mt.oracleJaccard = unionSize > 0 ? static_cast<double>(intersection) / static_cast<double>(unionSize) : 1.0;
        reportProgress(job, "variant", 1.0);
        return eval;
    }

    // A whole layer in one upload and five launches (overview-driver.h) instead of per-head calls.
    std::vector<HeadOverview> computeLayerOverview(const LayerTensors& layer, const std::vector<OverviewMask>& masks,
                                                   JobControl* job) override {
        validateLayerTensors(layer);
        if (std::max(layer.headDim, layer.valueDim) > cuda::kMaxHeadDim ||
            masks.size() > static_cast<size_t>(cuda::kMaxOverviewMasks))
            return Backend::computeLayerOverview(layer, masks, job);  // per head (CPU fallback for wide heads)
        std::lock_guard lock(m_mutex);
        throwIfCancelled(job);
        const cuda::DeviceHead d = cuda::uploadLayer(layer, cuda::chooseLayerElement(layer), m_stream);
        std::vector<HeadOverview> out =
            cuda::runLayerOverview(d.element, d.paddedDim, layer.headDim, d.view, masks, m_stream);
        reportProgress(job, "overview", 1.0);
        return out;
    }

private:
    bool needsCpu(const HeadTensors& head) {
        if (std::max(head.headDim, head.valueDim) <= cuda::kMaxHeadDim) return false;
        static std::once_flag said;
        std::call_once(said, [&] {
            std::fprintf(stderr,
                         "AttnScope: head dim %d is above the CUDA kernels' 128; this head runs on the CPU reference "
                         "backend (exact, slower)\n",
                         std::max(head.headDim, head.valueDim));
        });
        return true;
    }

    Element chooseElementCached(const HeadTensors& head) {
        for (const auto& h : m_heads)
            if (!h->linearFeatures && h->fingerprint == cuda::headFingerprint(head, h->element, false)) return h->element;
        return cuda::chooseElement(head);
    }

    // The head on the GPU (cached: the last few heads stay resident).
    const DeviceHead& deviceHead(const HeadTensors& head, bool linearFeatures, Element element) {
        const uint64_t key = cuda::headFingerprint(head, element, linearFeatures);
        for (auto it = m_heads.begin(); it != m_heads.end(); ++it)
            if ((*it)->fingerprint == key && (*it)->linearFeatures == linearFeatures) {
                std::rotate(m_heads.begin(), it, it + 1);
                return *m_heads.front();
            }
        if (m_heads.size() >= 3) m_heads.pop_back();  // free before allocating the new one
        auto d = std::make_unique<DeviceHead>(cuda::uploadHead(head, element, linearFeatures, m_stream));
        m_heads.insert(m_heads.begin(), std::move(d));
        return *m_heads.front();
    }
    const DeviceHead& deviceHead(const HeadTensors& head, bool linearFeatures) {
        return deviceHead(head, linearFeatures, linearFeatures ? Element::Float32 : chooseElementCached(head));
    }

    static uint64_t gridKey(const BlockGrid& g) {
        uint64_t h = 1469598103934665603ull;
        auto mix = [&](uint64_t x) {
            h ^= x;
            h *= 1099511628211ull;
        };
        mix(reinterpret_cast<uintptr_t>(g.sum.data()));
        mix(g.sum.size());
        for (size_t s = 0; s < 257 && !g.sum.empty(); ++s) {
            const double x = g.sum[(s * 2654435761ull) % g.sum.size()];
            uint64_t bits;
            std::memcpy(&bits, &x, 8);
            mix(bits);
        }
        return h;
    }

    void uploadGrid(const BlockGrid& grid) {
        const uint64_t key = gridKey(grid);
        if (key == m_gridKey && m_gridSum.size() == grid.sum.size()) return;
        m_gridSum = DeviceBuffer<float>();
        m_gridMax = DeviceBuffer<float>();
        m_gridSum = toDevice(toFloat(grid.sum, grid.sum.size()), "the block grid", m_stream);
        m_gridMax = toDevice(grid.max, "the block grid", m_stream);
        m_gridKey = key;
    }

    // Thresholds for budgets keep[i]: the special cases (nothing, everything) on the host, the
    // rest by radix selection on the GPU.
    DeviceBuffer<DeviceThreshold> thresholdsOnDevice(const DeviceHead& d, const HeadTensors& head,
                                                     const std::vector<int32_t>& keep) {
        const int T = head.seqLen;
        std::vector<DeviceThreshold> init(T);
        std::vector<int> need(d.rowsPadded, 0);
        bool any = false;
        for (int i = 0; i < T; ++i) {
            const int visible = visibleKeys(head.config, T, i).size();
            if (keep[i] <= 0) {
                init[i] = {std::numeric_limits<float>::infinity(), -1};
            } else if (keep[i] >= visible) {
                init[i] = {-std::numeric_limits<float>::infinity(), std::numeric_limits<int32_t>::max()};
            } else {
                init[i] = {0.0f, 0};
                need[i] = keep[i];
                any = true;
            }
        }
        DeviceBuffer<DeviceThreshold> out = toDevice(init, "row thresholds", m_stream);
        if (any) {
            DeviceBuffer<int> dNeed = toDevice(need, "row budgets", m_stream);
            cuda::launchRowThresholds(d.element, d.paddedDim, d.view, dNeed.get(), nullptr, out.get(), m_stream);
            cuda::checkCuda(cudaStreamSynchronize(m_stream), "computing row thresholds");
        }
        return out;
    }

    std::string m_name;
    cudaStream_t m_stream = nullptr;
    std::mutex m_mutex;
    std::vector<std::unique_ptr<DeviceHead>> m_heads;
    DeviceBuffer<float> m_gridSum, m_gridMax;
    uint64_t m_gridKey = 0;
    std::vector<int> m_lastIntersection;
    std::vector<float> m_lastOracleRecall;
    CpuBackend m_cpu;
};

}  // namespace

std::string probeCudaDevice() {
    int count = 0;
    const cudaError_t error = cudaGetDeviceCount(&count);
    cudaGetLastError();
    if (error == cudaErrorInsufficientDriver)
        return "no usable NVIDIA driver: it is missing or older than this build's CUDA 13 runtime needs "
               "(cudaErrorInsufficientDriver); install or update the NVIDIA driver";
    if (error == cudaErrorStubLibrary)
        return "the CUDA driver library found is the toolkit's stub, not a real driver (cudaErrorStubLibrary); "
               "remove the toolkit's lib/stubs folder from LD_LIBRARY_PATH";
    if (error == cudaErrorNoDevice || (error == cudaSuccess && count == 0)) return "no NVIDIA GPU was found";
    if (error != cudaSuccess)
        return std::string("CUDA could not start: ") + cudaGetErrorString(error) + " (" + cudaGetErrorName(error) + ")";
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
        cudaGetLastError();
        return "the GPU's properties could not be read";
    }
    if (prop.major < 9)
        return std::string("the GPU '") + prop.name + "' has compute capability " + std::to_string(prop.major) + "." +
               std::to_string(prop.minor) + "; these kernels need 9.0 (Hopper) or newer";
    size_t freeBytes = 0, totalBytes = 0;
    const cudaError_t memError = cudaMemGetInfo(&freeBytes, &totalBytes);
    if (memError != cudaSuccess) {
        cudaGetLastError();
        return std::string("the GPU '") + prop.name + "' could not be used: " + cudaGetErrorString(memError);
    }
    if (freeBytes < (256ull << 20))
        return std::string("the GPU '") + prop.name + "' has only " + std::to_string(freeBytes >> 20) +
               " MiB of free memory (other programs hold the rest)";
    return {};
}

std::unique_ptr<Backend> createCudaBackend() {
    const std::string reason = probeCudaDevice();
    if (!reason.empty()) throw BackendError("the CUDA backend cannot be used: " + reason);
    return std::make_unique<CudaBackend>();
}

void registerCudaBackend() {
    registerBackendFactory(BackendFactory{"cuda", probeCudaDevice, createCudaBackend});
}

}  // namespace attnscope
