// Cell values for tiles; see cell-weights.h.
#include "cpu/cell-weights.h"

#include "cpu/row-logits.h"

namespace attnscope::cpu {

std::vector<float> eluPlusOneFeatures(const float* x, int rows, int d) {
    std::vector<float> out(static_cast<size_t>(rows) * d);
    for (size_t i = 0; i < out.size(); ++i) out[i] = eluPlusOne(x[i]);
    return out;
}

CellValue::CellValue(TileQuantity quantity, const HeadStatistics& dense, const VariantPlan* plan,
                     const VariantEvaluation* variant)
    : m_quantity(quantity), m_dense(dense), m_plan(plan), m_variant(variant) {
    if (dense.rowLse.empty()) throw std::invalid_argument("tile: dense statistics without row LSE");
    const bool needsPlan = quantity != TileQuantity::DenseWeight;
    const bool needsNormalizer = quantity == TileQuantity::VariantWeight || quantity == TileQuantity::Difference;
    if (needsPlan && !plan)
        throw std::invalid_argument(std::string("tile quantity '") + tileQuantityName(quantity) + "' needs a variant plan");
    if (needsNormalizer && (!variant || variant->rowNormalizer.empty()))
        throw std::invalid_argument(std::string("tile quantity '") + tileQuantityName(quantity) +
                                    "' needs the variant's evaluation (row normalizers)");
}

bool CellValue::needsLinearFeatures() const {
    return m_plan && m_plan->weights == WeightKind::LinearEluPlusOne &&
           (m_quantity == TileQuantity::VariantWeight || m_quantity == TileQuantity::Difference);
}

void CellValue::beginRow(int i, const float* phiQuery) {
    m_denseLse = m_dense.rowLse[i];
    if (m_variant && !m_variant->rowNormalizer.empty()) m_variantNormalizer = m_variant->rowNormalizer[i];
    m_phiQuery = phiQuery;
}

double CellValue::variantWeight(int i, int j, float logit, const float* phiKey, int headDim) const {
    if (m_plan->weights == WeightKind::LinearEluPlusOne) {
        if (!(m_variantNormalizer > 0.0)) return 0.0;
        return dotProduct(m_phiQuery, phiKey, headDim) / m_variantNormalizer;
    }
    if (!m_plan->mask.keeps(i, j, logit) || std::isinf(m_variantNormalizer)) return 0.0;
    return std::exp(static_cast<double>(logit) - m_variantNormalizer);
}

double CellValue::value(int i, int j, float logit, const float* phiKey, int headDim) const {
    switch (m_quantity) {
        case TileQuantity::DenseWeight: return std::exp(static_cast<double>(logit) - m_denseLse);
        case TileQuantity::VariantWeight: return variantWeight(i, j, logit, phiKey, headDim);
        case TileQuantity::KeptFraction: return m_plan->mask.keeps(i, j, logit) ? 1.0 : 0.0;
        case TileQuantity::Difference:
            return variantWeight(i, j, logit, phiKey, headDim) - std::exp(static_cast<double>(logit) - m_denseLse);
        case TileQuantity::DroppedMass:
            return m_plan->mask.keeps(i, j, logit) ? 0.0 : std::exp(static_cast<double>(logit) - m_denseLse);
    }
    return 0.0;
}

}  // namespace attnscope::cpu
