// One mask on one row, the pieces of a variant evaluation that evaluateMaskBatch repeats for many masks
// of the same row: the kept set of a SparseMask (interval by interval; SparseMask::keeps is the pointwise
// definition, tests check the two agree) and the row's metric terms with the softmax renormalized inside
// the mask. The terms are added in the order CpuBackend::evaluateVariant adds them, so recall and output
// error are bit-identical to it; the oracle recall is equal up to rounding.
#pragma once

#include <cstdint>
#include <vector>

#include "attnscope/attention-mask.h"
#include "attnscope/head-statistics.h"
#include "attnscope/head-tensors.h"
#include "attnscope/sparse-mask.h"

namespace attnscope::cpu {

// The checks evaluateVariant makes on its inputs (throws std::invalid_argument).
void validateEvaluationInputs(const HeadTensors& head, const HeadStatistics& dense, const VariantPlan& plan);

// kept[t] = 1 when `mask` keeps key range.begin + t of row i (logits: the row's logits over `range`).
void maskRowFlags(const SparseMask& mask, int i, KeyRange range, const float* logits, uint8_t* kept);

// The same kept set as ascending offsets t (key range.begin + t) in `keys`; returns how many. Built from
// the mask's intervals and columns, so the cost is the kept count, not the row length (a per-row top-k
// component falls back to the flags). `flags` is scratch of the row's length.
int maskRowKeys(const SparseMask& mask, int i, KeyRange range, const float* logits, std::vector<uint8_t>& flags,
                std::vector<KeyRange>& intervals, int32_t* keys);

// What every mask of row i shares.
struct RowContext {
    KeyRange range;
    int valueDim = 0;
    const float* values = nullptr;       // v of key range.begin, rows of valueDim
    const float* logits = nullptr;       // [n] scaled logits of the visible keys
    const double* dense = nullptr;       // [n] dense weights A_ij = exp(s_ij - LSE_i)
    double lse = 0.0;
    const float* denseOutput = nullptr;  // [valueDim] O_i
    const int32_t* rank = nullptr;       // [n] rank of key range.begin + t in the total order (logit desc, key asc)
    const double* rankMass = nullptr;    // [n + 1] rankMass[r] = dense mass of the r first keys in that order
};

// A mask's terms of one row (docs/metrics.md): summed over rows they give the metrics.
struct RowTerms {
    long long kept = 0;
    long long intersection = 0;  // |M_i and T_i|, T_i the oracle top-|M_i| set
    double recall = 0.0;         // dense mass inside the mask
    double oracleRecall = 0.0;   // dense mass of T_i, summed in rank order (evaluateVariant: nth_element's order)
    double errorSq = 0.0;        // ||o_i - O_i||^2, o_i the output renormalized inside the mask
};

// Terms of the mask that keeps keys range.begin + keys[0 .. m), keys ascending: every sum runs over the
// kept keys in key order, as in evaluateVariant. `out` is scratch of valueDim.
RowTerms maskRowTerms(const RowContext& row, const int32_t* keys, int m, double* out);

}  // namespace attnscope::cpu
