// Per-cell values a tile can show (dense weight, variant weight, kept flag, difference, dropped
// mass), computed from a row's logits. Shared by the CPU tile code; the GPU mirrors these formulas.
#pragma once

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "attnscope/head-statistics.h"
#include "attnscope/head-tensors.h"
#include "attnscope/pooled-tile.h"
#include "attnscope/sparse-mask.h"
#include "attnscope/variant-evaluation.h"

namespace attnscope::cpu {

// elu(x) + 1: x + 1 for x > 0, exp(x) otherwise (Katharopoulos et al. 2020).
inline float eluPlusOne(float x) { return x > 0.0f ? x + 1.0f : std::exp(x); }

// phi applied to every row of a [rows, d] matrix.
std::vector<float> eluPlusOneFeatures(const float* x, int rows, int d);

// Evaluates one TileQuantity for cells of a row. Construct per row with that row's normalizers.
class CellValue {
public:
    CellValue(TileQuantity quantity, const HeadStatistics& dense, const VariantPlan* plan,
              const VariantEvaluation* variant);
    // Must be called before value() for each new row. phiQuery: phi(q_i) for linear weights.
    void beginRow(int i, const float* phiQuery);
    // phiKey: phi(k_j) for linear weights (may be null otherwise).
    double value(int i, int j, float logit, const float* phiKey, int headDim) const;
    bool needsLinearFeatures() const;

private:
    double variantWeight(int i, int j, float logit, const float* phiKey, int headDim) const;
    TileQuantity m_quantity;
    const HeadStatistics& m_dense;
    const VariantPlan* m_plan;
    const VariantEvaluation* m_variant;
    double m_denseLse = 0.0;
    double m_variantNormalizer = 0.0;
    const float* m_phiQuery = nullptr;
};

}  // namespace attnscope::cpu
