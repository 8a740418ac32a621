// The exact CPU reference backend: fp32 dot products, fp64 accumulation of every sum over keys or
// queries, multithreaded over 64-row query blocks. Memory is O(T * d + blocks): it never holds a
// T x T matrix, so a 32K-token head fits in well under 1 GiB.
#pragma once

#include "attnscope/backend.h"

namespace attnscope {

class CpuBackend final : public Backend {
public:
    // threads <= 0: ATTNSCOPE_THREADS if set, else the hardware concurrency.
    explicit CpuBackend(int threads = 0);

    std::string name() const override;
    int threadCount() const { return m_threads; }

    HeadStatistics computeStatistics(const HeadTensors& head, const StatisticsRequest& request,
                                     JobControl* job = nullptr) override;
    PooledTile computeTile(const HeadTensors& head, const HeadStatistics& dense, const TileRequest& request,
                           const VariantPlan* plan = nullptr, const VariantEvaluation* variant = nullptr,
                           JobControl* job = nullptr) override;
    RowTopK computeRowTopK(const HeadTensors& head, const HeadStatistics& dense, int k,
                           JobControl* job = nullptr) override;
    std::vector<RowThreshold> computeRowThresholds(const HeadTensors& head, const std::vector<int32_t>& keep,
                                                   JobControl* job = nullptr) override;
    VariantEvaluation evaluateVariant(const HeadTensors& head, const HeadStatistics& dense, const VariantPlan& plan,
                                      JobControl* job = nullptr) override;
    MaskBatchResult evaluateMaskBatch(const HeadTensors& head, const HeadStatistics& dense, const MaskBatch& batch,
                                      JobControl* job = nullptr) override;

private:
    int m_threads;
};

}  // namespace attnscope
