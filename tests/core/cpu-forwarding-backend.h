// A backend that forwards every call to a CpuBackend: the base of test backends that watch or hook
// one call (count computeStatistics, run something before a layer) and leave the rest exact.
#pragma once

#include "attnscope/cpu-backend.h"

namespace attnscope::testing {

class CpuForwardingBackend : public Backend {
public:
    explicit CpuForwardingBackend(int threads) : m_cpu(threads) {}
    std::string name() const override { return m_cpu.name(); }
    HeadStatistics computeStatistics(const HeadTensors& h, const StatisticsRequest& r, JobControl* j = nullptr) override {
        return m_cpu.computeStatistics(h, r, j);
    }
    PooledTile computeTile(const HeadTensors& h, const HeadStatistics& d, const TileRequest& r, const VariantPlan* p,
                           const VariantEvaluation* v, JobControl* j = nullptr) override {
        return m_cpu.computeTile(h, d, r, p, v, j);
    }
    RowTopK computeRowTopK(const HeadTensors& h, const HeadStatistics& d, int k, JobControl* j = nullptr) override {
        return m_cpu.computeRowTopK(h, d, k, j);
    }
    std::vector<RowThreshold> computeRowThresholds(const HeadTensors& h, const std::vector<int32_t>& keep,
                                                   JobControl* j = nullptr) override {
        return m_cpu.computeRowThresholds(h, keep, j);
    }
    VariantEvaluation evaluateVariant(const HeadTensors& h, const HeadStatistics& d, const VariantPlan& p,
                                      JobControl* j = nullptr) override {
        return m_cpu.evaluateVariant(h, d, p, j);
    }
    MaskBatchResult evaluateMaskBatch(const HeadTensors& h, const HeadStatistics& d, const MaskBatch& b,
                                      JobControl* j = nullptr) override {
        return m_cpu.evaluateMaskBatch(h, d, b, j);
    }
    std::vector<HeadOverview> computeLayerOverview(const LayerTensors& layer, const std::vector<OverviewMask>& masks,
                                                   JobControl* j = nullptr) override {
        return m_cpu.computeLayerOverview(layer, masks, j);
    }

private:
    CpuBackend m_cpu;
};

}  // namespace attnscope::testing
