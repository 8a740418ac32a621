// The one compute interface. The CPU backend (core/src/cpu) is the exact reference; the CUDA
// backend (kernels/) implements the same calls and is tested against it. Callers never name a
// concrete backend: they get one from createBackend().
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "attnscope/head-statistics.h"
#include "attnscope/head-tensors.h"
#include "attnscope/job-control.h"
#include "attnscope/layer-overview.h"
#include "attnscope/mask-batch.h"
#include "attnscope/pooled-tile.h"
#include "attnscope/sparse-mask.h"
#include "attnscope/variant-evaluation.h"

namespace attnscope {

// A backend could not do what was asked (no device, out of device memory, ...). The message says
// what is missing in words a user understands.
class BackendError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;  // "CPU (2 threads)", "CUDA: NVIDIA H100 80GB HBM3"

    // Dense attention products of one head in one pass over the rows.
    virtual HeadStatistics computeStatistics(const HeadTensors& head, const StatisticsRequest& request,
                                             JobControl* job = nullptr) = 0;

    // Pooled tile. `dense` must hold rowLse (and blocks when the backend may use the pyramid).
    // For TileQuantity other than DenseWeight, `plan` and `variant` (its rowNormalizer) are required.
    virtual PooledTile computeTile(const HeadTensors& head, const HeadStatistics& dense, const TileRequest& request,
                                   const VariantPlan* plan = nullptr, const VariantEvaluation* variant = nullptr,
                                   JobControl* job = nullptr) = 0;

    // Per-row top-k keys by weight (small k: a statistic for display and tables).
    virtual RowTopK computeRowTopK(const HeadTensors& head, const HeadStatistics& dense, int k,
                                   JobControl* job = nullptr) = 0;

    // Threshold form of per-row top-k with a per-row budget keep[i] (clamped to the visible count):
    // the mask representation of oracle top-k, O(T) memory at any k.
    virtual std::vector<RowThreshold> computeRowThresholds(const HeadTensors& head, const std::vector<int32_t>& keep,
                                                           JobControl* job = nullptr) = 0;

    // The variant's normalizers, output and metrics against `dense` (which must hold rowLse and output).
    virtual VariantEvaluation evaluateVariant(const HeadTensors& head, const HeadStatistics& dense,
                                              const VariantPlan& plan, JobControl* job = nullptr) = 0;

    // Metrics of many masks of one head (mask-batch.h), each as evaluateVariant would give them. The
    // default evaluates every plan and every swept budget with evaluateVariant and finds a sweep's needed
    // budget by bisection: exact, the reference for overrides (the CPU backend does it in one pass).
    virtual MaskBatchResult evaluateMaskBatch(const HeadTensors& head, const HeadStatistics& dense,
                                              const MaskBatch& batch, JobControl* job = nullptr);

    // The whole-model overview of one layer, every query head (layer-overview.h). The default builds
    // each head's masks and evaluates them with the calls above: exact, the reference for overrides
    // (the CUDA backend runs the whole layer in a few launches).
    virtual std::vector<HeadOverview> computeLayerOverview(const LayerTensors& layer,
                                                           const std::vector<OverviewMask>& masks,
                                                           JobControl* job = nullptr);
};

// Backends by name: "cpu", "cuda", or "auto" (CUDA when a usable GPU is present, else CPU).
// Throws BackendError for an unknown name or an unavailable backend, saying why.
std::unique_ptr<Backend> createBackend(const std::string& name);

// Names of backends compiled into this build (cpu always; cuda when built with CUDA).
std::vector<std::string> compiledBackends();

// The CUDA backend registers itself here (kernels/ is linked only into CUDA builds).
// `probe` returns an empty string when a device is usable, else the reason it is not.
struct BackendFactory {
    std::string name;
    std::function<std::string()> probe;
    std::function<std::unique_ptr<Backend>()> create;
};
void registerBackendFactory(BackendFactory factory);

}  // namespace attnscope
