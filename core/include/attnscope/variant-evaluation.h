// A variant applied to one head: its row normalizers, its output and its metrics against dense.
#pragma once

#include <cstdint>
#include <vector>

namespace attnscope {

// Metric definitions (docs/metrics.md has the sources):
//   density       kept visible cells / visible cells
//   recall        mean over rows of the dense attention mass inside the mask
//   outputError   ||O_variant - O_dense||_F / ||O_dense||_F
//   oracleJaccard sum_i |M_i & T_i| / sum_i |M_i | T_i| where T_i is the oracle top-|M_i| set of row i
//                 (the best possible mask with the same per-row budget)
//   oracleRecall  the recall T achieves: the upper bound on recall at this budget
struct VariantMetrics {
    double density = 0.0;
    double recall = 0.0;
    double outputError = 0.0;
    double oracleJaccard = 0.0;
    double oracleRecall = 0.0;
    long long keptCells = 0;
    long long visibleCells = 0;
};

struct VariantEvaluation {
    // SoftmaxInMask: natural-log sum of exp of the kept logits (-inf for an empty row).
    // LinearEluPlusOne: the row normalizer z_i = sum_j phi(q_i).phi(k_j).
    std::vector<double> rowNormalizer;   // [T]
    std::vector<int32_t> keptPerRow;     // [T]
    std::vector<float> output;           // [T, valueDim]; zero rows where the mask keeps nothing
    VariantMetrics metrics;
};

}  // namespace attnscope
