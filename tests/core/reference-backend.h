// A backend that forwards every per-head call to the CPU reference but keeps Backend's default
// implementation of the batched call (evaluateMaskBatch: one evaluateVariant per mask and budget, a
// bisection for the needed budget): the code path the one-pass CPU override replaced, kept reachable so
// tests can compare the two.
#pragma once

#include "attnscope/cpu-backend.h"

namespace attnscope::testing {

class ReferenceBackend final : public Backend {
public:
    explicit ReferenceBackend(int threads = 2) : m_cpu(threads) {}
    std::string name() const override { return "reference (" + m_cpu.name() + ", no batching)"; }
    HeadStatistics computeStatistics(const HeadTensors& head, const StatisticsRequest& request, JobControl* job) override {
        return m_cpu.computeStatistics(head, request, job);
    }
    PooledTile computeTile(const HeadTensors& head, const HeadStatistics& dense, const TileRequest& request,
                           const VariantPlan* plan, const VariantEvaluation* variant, JobControl* job) override {
        return m_cpu.computeTile(head, dense, request, plan, variant, job);
    }
    RowTopK computeRowTopK(const HeadTensors& head, const HeadStatistics& dense, int k, JobControl* job) override {
        return m_cpu.computeRowTopK(head, dense, k, job);
    }
    std::vector<RowThreshold> computeRowThresholds(const HeadTensors& head, const std::vector<int32_t>& keep,
                                                   JobControl* job) override {
        return m_cpu.computeRowThresholds(head, keep, job);
    }
    VariantEvaluation evaluateVariant(const HeadTensors& head, const HeadStatistics& dense, const VariantPlan& plan,
                                      JobControl* job) override {
        return m_cpu.evaluateVariant(head, dense, plan, job);
    }

private:
    CpuBackend m_cpu;
};

}  // namespace attnscope::testing
