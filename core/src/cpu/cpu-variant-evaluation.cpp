// A variant on one head, exactly: per row the kept set, the variant's normalizer and output, the
// dense mass it keeps (recall) and the oracle top-|M_i| set it is compared with (Jaccard, oracle
// recall). Per-row terms are stored and summed in row order, so results are deterministic.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "attnscope/cpu-backend.h"
#include "cpu/cell-weights.h"
#include "cpu/masked-row.h"
#include "cpu/parallel-for.h"
#include "cpu/row-logits.h"

namespace attnscope {

namespace {

constexpr int kRowsPerTask = 64;

struct RowTerms {
    double recall = 0.0;
    double oracleRecall = 0.0;
    double errorSq = 0.0;
    double referenceSq = 0.0;
    long long intersection = 0;
    long long unionSize = 0;
    long long visible = 0;
};

struct RowScratch {
    std::vector<float> logits;
    std::vector<uint8_t> kept;
    std::vector<double> dense;
    std::vector<double> out;
    std::vector<std::pair<float, int>> order;
};

// Oracle top-n of the row (total order logit desc, key asc): fills `intersection` with how many of
// them the mask keeps and returns their dense mass.
double oracleRow(int n, KeyRange range, RowScratch& s, long long& intersection) {
    const int visible = range.size();
    s.order.resize(visible);
    for (int t = 0; t < visible; ++t) s.order[t] = {s.logits[t], range.begin + t};
    auto before = [](const std::pair<float, int>& a, const std::pair<float, int>& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    if (n < visible) std::nth_element(s.order.begin(), s.order.begin() + (n - 1), s.order.end(), before);
    double mass = 0.0;
    intersection = 0;
    for (int r = 0; r < n; ++r) {
        const int t = s.order[r].second - range.begin;
        mass += s.dense[t];
        intersection += s.kept[t];
    }
    return mass;
}

}  // namespace

VariantEvaluation CpuBackend::evaluateVariant(const HeadTensors& head, const HeadStatistics& dense,
                                              const VariantPlan& plan, JobControl* job) {
    cpu::validateEvaluationInputs(head, dense, plan);
    const int T = head.seqLen;
    const int d = head.headDim;
    const int dv = head.valueDim;
    const bool linear = plan.weights == WeightKind::LinearEluPlusOne;
    std::vector<float> phiKeys;
    if (linear) phiKeys = cpu::eluPlusOneFeatures(head.k.data(), T, d);

    VariantEvaluation eval;
    eval.rowNormalizer.assign(T, 0.0);
    eval.keptPerRow.assign(T, 0);
    eval.output.assign(static_cast<size_t>(T) * dv, 0.0f);
    std::vector<RowTerms> terms(T);

    const int tasks = (T + kRowsPerTask - 1) / kRowsPerTask;
    const int workers = std::max(1, std::min(m_threads, tasks));
    std::vector<RowScratch> scratch(workers);
    for (RowScratch& s : scratch) {
        s.logits.resize(T);
        s.kept.resize(T);
        s.dense.resize(T);
        s.out.resize(dv);
    }
    std::atomic<int> doneTasks{0};

    cpu::parallelFor(workers, tasks, [&](int worker, int task) {
        throwIfCancelled(job);
        RowScratch& s = scratch[worker];
        std::vector<float> phiQ(linear ? d : 0);
        for (int i = task * kRowsPerTask; i < std::min(T, (task + 1) * kRowsPerTask); ++i) {
            const KeyRange range = visibleKeys(head.config, T, i);
            const int n = range.size();
            cpu::computeRowLogits(head, i, range, s.logits.data());
            RowTerms& row = terms[i];
            row.visible = n;
            int kept = 0;
            float keptMax = -std::numeric_limits<float>::infinity();
            for (int t = 0; t < n; ++t) {
                s.kept[t] = plan.mask.keeps(i, range.begin + t, s.logits[t]) ? 1 : 0;
                s.dense[t] = std::exp(static_cast<double>(s.logits[t]) - dense.rowLse[i]);
                if (s.kept[t]) {
                    ++kept;
                    row.recall += s.dense[t];
                    keptMax = std::max(keptMax, s.logits[t]);
                }
            }
            eval.keptPerRow[i] = kept;

            // The variant's own output for this row.
            std::fill(s.out.begin(), s.out.end(), 0.0);
            if (linear) {
                for (int c = 0; c < d; ++c) phiQ[c] = cpu::eluPlusOne(head.queryRow(i)[c]);
                double z = 0.0;
                for (int t = 0; t < n; ++t) {
                    const double w = cpu::dotProduct(phiQ.data(), phiKeys.data() + static_cast<size_t>(range.begin + t) * d, d);
                    z += w;
                    const float* v = head.valueRow(range.begin + t);
                    for (int c = 0; c < dv; ++c) s.out[c] += w * v[c];
                }
                eval.rowNormalizer[i] = z;
                if (z > 0.0)
                    for (int c = 0; c < dv; ++c) s.out[c] /= z;
            } else if (kept > 0) {
                // exp(s - keptMax) = A_ij * exp(LSE_i - keptMax): one multiplication instead of a
                // second exp per kept cell (the dense weights are already in s.dense).
                const double rescale = std::exp(dense.rowLse[i] - keptMax);
                double sumExp = 0.0;
                for (int t = 0; t < n; ++t) {
                    if (!s.kept[t]) continue;
                    const double e = s.dense[t] * rescale;
                    sumExp += e;
                    const float* v = head.valueRow(range.begin + t);
                    for (int c = 0; c < dv; ++c) s.out[c] += e * v[c];
                }
                eval.rowNormalizer[i] = keptMax + std::log(sumExp);
                for (int c = 0; c < dv; ++c) s.out[c] /= sumExp;
            } else {
                eval.rowNormalizer[i] = -std::numeric_limits<double>::infinity();
            }
            const float* o = dense.output.data() + static_cast<size_t>(i) * dv;
            float* out = eval.output.data() + static_cast<size_t>(i) * dv;
            for (int c = 0; c < dv; ++c) {
                out[c] = static_cast<float>(s.out[c]);
                const double diff = s.out[c] - o[c];
                row.errorSq += diff * diff;
                row.referenceSq += static_cast<double>(o[c]) * o[c];
            }

            if (kept == n) {
                row.intersection = n;
                row.oracleRecall = row.recall;
            } else if (kept > 0) {
                row.oracleRecall = oracleRow(kept, range, s, row.intersection);
            }
            row.unionSize = 2LL * kept - row.intersection;
        }
        reportProgress(job, "variant", static_cast<double>(++doneTasks) / tasks);
    });

    VariantMetrics& m = eval.metrics;
    double errorSq = 0.0, referenceSq = 0.0, recall = 0.0, oracleRecall = 0.0;
    long long intersection = 0, unionSize = 0;
    for (int i = 0; i < T; ++i) {
        const RowTerms& row = terms[i];
        m.keptCells += eval.keptPerRow[i];
        m.visibleCells += row.visible;
        recall += row.recall;
        oracleRecall += row.oracleRecall;
        errorSq += row.errorSq;
        referenceSq += row.referenceSq;
        intersection += row.intersection;
        unionSize += row.unionSize;
    }
    m.density = static_cast<double>(m.keptCells) / static_cast<double>(m.visibleCells);
    m.recall = recall / T;
    m.oracleRecall = oracleRecall / T;
    m.outputError = referenceSq > 0.0 ? std::sqrt(errorSq / referenceSq) : (errorSq > 0.0 ? INFINITY : 0.0);
    m.oracleJaccard = unionSize > 0 ? static_cast<double>(intersection) / static_cast<double>(unionSize) : 1.0;
    return eval;
}

}  // namespace attnscope
