// Head sensitivity to sparsification: for every head, every budgeted variant and a density sweep, the
// attention recall and relative output error against dense (Backend::evaluateVariant's metrics at the budget
// paramsForDensity picks, the whole head measured in one Backend::evaluateMaskBatch), the density each
// variant needs for a target recall (95 %), and the head's pattern class. The per-head output-error view is the gradient-free form of MoA's sensitivity profile
// (Fu et al., "MoA: Mixture of Sparse Attention", arXiv:2406.14909). Definitions: docs/analyses.md.
#pragma once

#include <string>
#include <vector>

#include "attnscope/analysis/analysis-common.h"
#include "attnscope/analysis/dense-statistics-cache.h"
#include "attnscope/analysis/pattern-classification.h"
#include "attnscope/variant.h"

namespace attnscope::analysis {

struct SensitivityOptions {
    std::vector<std::string> variants = {"window", "streaming-llm", "topk", "moba"};  // ids with a budget parameter
    std::vector<double> densities = {0.01, 0.02, 0.05, 0.10, 0.20, 0.50};
    double recallTarget = 0.95;
    bool neededDensity = true;  // search the budget for the recall target (else only the sweep)
    bool classify = true;
    PatternOptions pattern;
};

struct SensitivityPoint {
    int variant = 0;             // index into options.variants
    double targetDensity = 0.0;
    ParamValues params;
    VariantMetrics metrics;
};

struct HeadSensitivity {
    int layer = -1;
    int head = -1;
    std::vector<SensitivityPoint> points;  // [variants x densities], variant-major
    // Per variant: the density of the smallest budget whose recall reaches the target; 1 when only the full
    // budget does; NaN when even the full budget falls short (a variant that cannot cover the head).
    std::vector<double> neededDensity;
    PatternClassification pattern;
};

// Throws ParamError naming an unknown variant or one without a budget parameter.
std::vector<const Variant*> resolveSensitivityVariants(const std::vector<std::string>& ids);

HeadSensitivity analyzeHeadSensitivity(const HeadTensors& head, Backend& backend, const SensitivityOptions& options,
                                       JobControl* job = nullptr);
// The same with the head's dense statistics given (the default StatisticsRequest's products).
HeadSensitivity analyzeHeadSensitivity(const HeadTensors& head, const HeadStatistics& dense, Backend& backend,
                                       const SensitivityOptions& options, JobControl* job = nullptr);

struct ModelSensitivityReport {
    ModelShape shape;
    int seqLen = 0;
    SensitivityOptions options;
    std::vector<HeadSensitivity> heads;  // [L * H], layer-major
    const HeadSensitivity& at(int layer, int head) const { return heads[static_cast<size_t>(layer) * shape.numHeads + head]; }
};

// With `cache`, each head's dense statistics come from it (shared with the other analyses; same results).
ModelSensitivityReport analyzeModelSensitivity(const ModelShape& shape, const HeadSource& source, Backend& backend,
                                               const SensitivityOptions& options = {}, JobControl* job = nullptr,
                                               DenseStatisticsCache* cache = nullptr);

}  // namespace attnscope::analysis
