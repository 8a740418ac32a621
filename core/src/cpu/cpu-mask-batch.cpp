// CpuBackend::evaluateMaskBatch: every plan and every swept budget of one head in one pass over the rows,
// and the kept key sets in one pass over their observed rows.
// Per row the logits, the dense weights A_ij = exp(s_ij - LSE_i) and the row's total order are computed
// once; each mask then adds its row terms exactly as evaluateVariant does (masked-row.h), so density,
// recall, output error and Jaccard equal evaluateVariant's bit for bit; oracle recall sums the same
// cells in rank order instead of nth_element's order (equal up to rounding).
// A sweep's cells also go into histograms by entry budget (budget-ranking.h): kept cells and dense mass
// per entry, whose prefix sums are the kept cells and recall at every budget, so the budget a recall
// target needs is a lookup instead of a bisection over full evaluations.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>

#include "attnscope/cpu-backend.h"
#include "cpu/masked-row.h"
#include "cpu/ordered-merge.h"
#include "cpu/parallel-for.h"
#include "cpu/row-logits.h"
#include "cpu/row-order.h"

namespace attnscope {

namespace {

constexpr int kRowsPerTask = 64;

// A sweep the pass handles: its ranking and where its budgets' row terms go.
struct RankedSweep {
    size_t request = 0;                // index into batch.sweeps
    BudgetRanking ranking;
    std::vector<int32_t> budgets;      // clamped below kNeverKept
    std::vector<size_t> largestFirst;  // budget indices by decreasing budget
    size_t firstSlot = 0;
    bool search = false;               // a recall target: fill the histogram
};

// Kept cells and dense mass by entry budget (index entry - minBudget); empty without a recall target.
struct EntryHistogram {
    std::vector<long long> kept;
    std::vector<double> mass;
};
using Histograms = std::vector<EntryHistogram>;  // one per ranked sweep

Histograms emptyHistograms(const std::vector<RankedSweep>& sweeps) {
    Histograms h(sweeps.size());
    for (size_t s = 0; s < sweeps.size(); ++s) {
        if (!sweeps[s].search) continue;
        const size_t size = static_cast<size_t>(sweeps[s].ranking.maxEntry - sweeps[s].ranking.minBudget) + 1;
        h[s].kept.assign(size, 0);
        h[s].mass.assign(size, 0.0);
    }
    return h;
}

// One worker's row buffers.
struct RowScratch {
    std::vector<float> logits;
    std::vector<double> dense;
    std::vector<int32_t> order, rank;
    std::vector<double> rankMass;
    std::vector<int32_t> entries, keys;
    std::vector<uint8_t> flags;
    std::vector<KeyRange> intervals;
    std::vector<double> out;  // [valueDim]
    cpu::RowOrder sorter;

    RowScratch(int T, int dv)
        : logits(T), dense(T), order(T), rank(T), rankMass(T + 1), entries(T), keys(T), flags(T), out(dv) {}
};

// Logits, dense weights and the total order of row i: what every mask of the row shares.
cpu::RowContext prepareRow(const HeadTensors& head, const HeadStatistics& dense, int i, RowScratch& s) {
    const KeyRange range = visibleKeys(head.config, head.seqLen, i);
    const int n = range.size();
    cpu::computeRowLogits(head, i, range, s.logits.data());
    for (int t = 0; t < n; ++t) s.dense[t] = std::exp(static_cast<double>(s.logits[t]) - dense.rowLse[i]);
    s.sorter.sort(s.logits.data(), n, range.begin, s.order.data());
    s.rankMass[0] = 0.0;
    for (int r = 0; r < n; ++r) {
        const int t = s.order[r] - range.begin;
        s.rank[t] = r;
        s.rankMass[r + 1] = s.rankMass[r] + s.dense[t];
    }
    cpu::RowContext row;
    row.range = range;
    row.valueDim = head.valueDim;
    row.values = head.valueRow(range.begin);
    row.logits = s.logits.data();
    row.dense = s.dense.data();
    row.lse = dense.rowLse[i];
    row.denseOutput = dense.output.data() + static_cast<size_t>(i) * head.valueDim;
    row.rank = s.rank.data();
    row.rankMass = s.rankMass.data();
    return row;
}

// A sweep on row i: the histogram by entry budget, then the row terms of every swept budget. The kept sets
// shrink with the budget, so the largest budget's keys are filtered in place for the next.
void sweepRow(const RankedSweep& sweep, int i, const cpu::RowContext& row, RowScratch& s, EntryHistogram& histogram,
              cpu::RowTerms* terms) {
    const int n = row.range.size();
    const int32_t* entries = s.entries.data();
    rowEntryBudgets(sweep.ranking, i, row.range, s.order.data(), s.entries.data());
    if (sweep.search)
        for (int t = 0; t < n; ++t) {
            if (entries[t] == kNeverKept) continue;
            const size_t e = static_cast<size_t>(entries[t] - sweep.ranking.minBudget);
            ++histogram.kept[e];
            histogram.mass[e] += row.dense[t];
        }
    if (sweep.budgets.empty()) return;
    int32_t* keys = s.keys.data();
    int32_t current = sweep.budgets[sweep.largestFirst.front()];  // `keys` holds its kept set
    int m = 0;
    for (int t = 0; t < n; ++t) {
        keys[m] = t;
        m += entries[t] <= current;
    }
    const cpu::RowTerms* previous = nullptr;  // the terms of `current`, once computed
    for (size_t k : sweep.largestFirst) {
        if (sweep.budgets[k] < current) {
            current = sweep.budgets[k];
            previous = nullptr;
            int kept = 0;
            for (int r = 0; r < m; ++r) {
                keys[kept] = keys[r];
                kept += entries[keys[r]] <= current;
            }
            m = kept;
        }
        terms[sweep.firstSlot + k] = previous ? *previous : cpu::maskRowTerms(row, keys, m, s.out.data());
        previous = &terms[sweep.firstSlot + k];
    }
}

// Sums the row terms in row order, as evaluateVariant does.
VariantMetrics metricsFromRows(const std::vector<cpu::RowTerms>& terms, size_t slots, size_t slot,
                               const std::vector<double>& referenceSq, const std::vector<int>& visible) {
    const size_t T = visible.size();
    VariantMetrics m;
    double errorSq = 0.0, refSq = 0.0, recall = 0.0, oracleRecall = 0.0;
    long long intersection = 0, unionSize = 0;
    for (size_t i = 0; i < T; ++i) {
        const cpu::RowTerms& row = terms[i * slots + slot];
        m.keptCells += row.kept;
        m.visibleCells += visible[i];
        recall += row.recall;
        oracleRecall += row.oracleRecall;
        errorSq += row.errorSq;
        refSq += referenceSq[i];
        intersection += row.intersection;
        unionSize += 2LL * row.kept - row.intersection;
    }
    m.density = static_cast<double>(m.keptCells) / static_cast<double>(m.visibleCells);
    m.recall = recall / static_cast<double>(T);
    m.oracleRecall = oracleRecall / static_cast<double>(T);
    m.outputError = refSq > 0.0 ? std::sqrt(errorSq / refSq) : (errorSq > 0.0 ? INFINITY : 0.0);
    m.oracleJaccard = unionSize > 0 ? static_cast<double>(intersection) / static_cast<double>(unionSize) : 1.0;
    return m;
}

// The smallest budget in [minBudget, searchLimit] whose recall reaches the target, from the histogram
// (recall computed as evaluateVariant does: dense mass kept over all rows, divided by T).
void findNeededBudget(const BudgetSweep& sweep, const BudgetRanking& ranking, const EntryHistogram& h, int T,
                      long long visibleCells, BudgetSweepResult& result) {
    std::vector<long long> kept(h.kept.size());
    std::vector<double> recall(h.mass.size());
    long long keptSum = 0;
    double massSum = 0.0;
    for (size_t e = 0; e < h.kept.size(); ++e) {
        keptSum += h.kept[e];
        massSum += h.mass[e];
        kept[e] = keptSum;
        recall[e] = massSum / T;
    }
    const long long limit = std::min<long long>(sweep.searchLimit, ranking.maxEntry) - ranking.minBudget;
    if (limit < 0 || recall[limit] < sweep.recallTarget) return;
    long long e = 0;
    while (recall[e] < sweep.recallTarget) ++e;
    result.neededBudget = ranking.minBudget + e;
    result.neededDensity = static_cast<double>(kept[e]) / static_cast<double>(visibleCells);
}

// Kept key sets on the observed rows [rowBegin, T): per row the logits and the dense weights once, then per
// set the kept keys of the row (the set's keys inside the visible range: a subrange of the sorted set) summed
// as evaluateVariant sums them (keptMax, exp(s - keptMax) = A_ij * exp(LSE_i - keptMax), sum and weighted
// values in key order, fp32 output), so the normalizers and outputs are evaluateVariant's bit for bit. Rows
// run in parallel in chunks; after each chunk the metric sums go on in row order, then column order, as in
// analysis::evaluateKeptSet. Cost: (observed rows) x (T d + sum over sets of kept keys x dv), against
// sets x T^2 d for one evaluateVariant per set; memory: one chunk's outputs per set.
constexpr int kKeptRowsPerTask = 8;     // observed windows are short (64 rows): small tasks keep the workers busy
constexpr int kKeptRowsPerChunk = 256;  // rows whose outputs are held at once

std::vector<KeptKeyMetrics> evaluateKeptSets(const HeadTensors& head, const HeadStatistics& dense,
                                             const KeptKeySets& batch, int threads, JobControl* job) {
    const int T = head.seqLen;
    const int dv = head.valueDim;
    const size_t sets = batch.sets.size();
    for (const std::vector<int32_t>& set : batch.sets) validateKeptKeySet(set);
    std::vector<KeptKeyMetrics> result(sets);
    const int rowBegin = std::clamp(batch.rowBegin, 0, T);
    const int rows = T - rowBegin;
    if (sets == 0 || rows == 0) return result;

    // Per (set, row of the chunk): the normalizer and the fp32 output row, as evaluateVariant stores them.
    const int chunkRows = std::min(rows, kKeptRowsPerChunk);
    std::vector<double> normalizer(sets * chunkRows);
    std::vector<float> output(sets * chunkRows * dv);
    std::vector<double> mass(sets, 0.0), diff2(sets, 0.0), ref2(sets, 0.0);
    struct Scratch {
        std::vector<float> logits;  // [T], by key index
        std::vector<double> dense;  // [T], by key index
        std::vector<double> out;    // [dv]
    };
    const int totalTasks = (rows + kKeptRowsPerTask - 1) / kKeptRowsPerTask;
    const int workers = std::max(1, std::min(threads, totalTasks));
    std::vector<Scratch> scratch(workers, Scratch{std::vector<float>(T), std::vector<double>(T), std::vector<double>(dv)});
    std::atomic<int> doneTasks{0};

    for (int chunkBegin = rowBegin; chunkBegin < T; chunkBegin += chunkRows) {
        const int chunkEnd = std::min(T, chunkBegin + chunkRows);
        const int tasks = (chunkEnd - chunkBegin + kKeptRowsPerTask - 1) / kKeptRowsPerTask;
        cpu::parallelFor(workers, tasks, [&](int worker, int task) {
            throwIfCancelled(job);
            Scratch& s = scratch[worker];
            const int taskEnd = std::min(chunkEnd, chunkBegin + (task + 1) * kKeptRowsPerTask);
            for (int i = chunkBegin + task * kKeptRowsPerTask; i < taskEnd; ++i) {
                const KeyRange range = visibleKeys(head.config, T, i);
                const double lse = dense.rowLse[i];
                cpu::computeRowLogits(head, i, range, s.logits.data() + range.begin);
                for (int j = range.begin; j < range.end; ++j) s.dense[j] = std::exp(static_cast<double>(s.logits[j]) - lse);
                for (size_t k = 0; k < sets; ++k) {
                    const std::vector<int32_t>& set = batch.sets[k];
                    const auto first = std::lower_bound(set.begin(), set.end(), range.begin);
                    const auto last = std::lower_bound(first, set.end(), range.end);
                    const int m = static_cast<int>(last - first);
                    const size_t slot = k * chunkRows + (i - chunkBegin);
                    float* o = output.data() + slot * dv;
                    if (m == 0) {
                        normalizer[slot] = -std::numeric_limits<double>::infinity();
                        std::fill(o, o + dv, 0.0f);
                        continue;
                    }
                    const int32_t* keys = &*first;
                    float keptMax = -std::numeric_limits<float>::infinity();
                    for (int r = 0; r < m; ++r) keptMax = std::max(keptMax, s.logits[keys[r]]);
                    std::fill(s.out.begin(), s.out.end(), 0.0);
                    const double sumExp = cpu::accumulateScaledRows(s.out.data(), s.dense.data(), std::exp(lse - keptMax),
                                                                    keys, head.v.data(), m, dv);
                    normalizer[slot] = keptMax + std::log(sumExp);
                    for (int c = 0; c < dv; ++c) o[c] = static_cast<float>(s.out[c] / sumExp);
                }
            }
            reportProgress(job, "kept sets", static_cast<double>(++doneTasks) / totalTasks);
        });
        for (size_t k = 0; k < sets; ++k)
            for (int i = chunkBegin; i < chunkEnd; ++i) {
                const size_t slot = k * chunkRows + (i - chunkBegin);
                const double z = normalizer[slot];
                mass[k] += std::isfinite(z) ? std::min(1.0, std::exp(z - dense.rowLse[i])) : 0.0;
                const float* o = output.data() + slot * dv;
                for (int c = 0; c < dv; ++c) {
                    const double ref = dense.output[static_cast<size_t>(i) * dv + c];
                    const double d = o[c] - ref;
                    diff2[k] += d * d;
                    ref2[k] += ref * ref;
                }
            }
    }
    for (size_t k = 0; k < sets; ++k) {
        result[k].retainedMass = mass[k] / rows;
        result[k].outputError = ref2[k] > 0.0 ? std::sqrt(diff2[k] / ref2[k]) : std::sqrt(diff2[k]);
    }
    return result;
}

}  // namespace

MaskBatchResult CpuBackend::evaluateMaskBatch(const HeadTensors& head, const HeadStatistics& dense,
                                              const MaskBatch& batch, JobControl* job) {
    cpu::validateEvaluationInputs(head, dense, VariantPlan{});
    const int T = head.seqLen;

    // The pass takes softmax plans and sweeps with a ranking; the rest (linear attention, variants without
    // a ranking) goes through the reference implementation.
    MaskBatch rest;
    std::vector<size_t> passPlans, restPlans, restSweeps;
    for (size_t p = 0; p < batch.plans.size(); ++p) {
        cpu::validateEvaluationInputs(head, dense, batch.plans[p]);
        const bool softmax = batch.plans[p].weights == WeightKind::SoftmaxInMask;
        (softmax ? passPlans : restPlans).push_back(p);
        if (!softmax) rest.plans.push_back(batch.plans[p]);
    }
    std::vector<RankedSweep> sweeps;
    size_t slots = passPlans.size();  // row terms per row: the plans, then every sweep's budgets
    for (size_t s = 0; s < batch.sweeps.size(); ++s) {
        const BudgetSweep& sweep = batch.sweeps[s];
        std::optional<BudgetRanking> ranking = sweep.variant->budgetRanking(head, sweep.params, *this);
        if (!ranking) {
            restSweeps.push_back(s);
            rest.sweeps.push_back(sweep);
            continue;
        }
        RankedSweep& r = sweeps.emplace_back();
        r.request = s;
        r.ranking = std::move(*ranking);
        for (long long b : sweep.budgets) r.budgets.push_back(static_cast<int32_t>(std::min<long long>(b, kNeverKept - 1)));
        r.largestFirst.resize(r.budgets.size());
        std::iota(r.largestFirst.begin(), r.largestFirst.end(), size_t{0});
        std::stable_sort(r.largestFirst.begin(), r.largestFirst.end(),
                         [&](size_t a, size_t b) { return r.budgets[a] > r.budgets[b]; });
        r.firstSlot = slots;
        r.search = !std::isnan(sweep.recallTarget);
        slots += r.budgets.size();
    }

    MaskBatchResult result;
    result.keptSets = evaluateKeptSets(head, dense, batch.keptSets, m_threads, job);
    result.plans.resize(batch.plans.size());
    result.sweeps.resize(batch.sweeps.size());
    if (slots == 0 && sweeps.empty() && rest.plans.empty() && rest.sweeps.empty()) return result;  // kept sets only

    std::vector<cpu::RowTerms> terms(static_cast<size_t>(T) * slots);
    std::vector<double> referenceSq(T, 0.0);
    std::vector<int> visible(T, 0);
    Histograms histograms = emptyHistograms(sweeps);
    cpu::OrderedMerge<Histograms> merge([&](const Histograms& part) {
        for (size_t s = 0; s < part.size(); ++s)
            for (size_t e = 0; e < part[s].kept.size(); ++e) {
                histograms[s].kept[e] += part[s].kept[e];
                histograms[s].mass[e] += part[s].mass[e];
            }
    });

    const int tasks = (T + kRowsPerTask - 1) / kRowsPerTask;
    const int workers = std::max(1, std::min(m_threads, tasks));
    std::vector<RowScratch> scratch(workers, RowScratch(T, head.valueDim));
    std::atomic<int> doneTasks{0};
    cpu::parallelFor(workers, tasks, [&](int worker, int task) {
        throwIfCancelled(job);
        RowScratch& s = scratch[worker];
        Histograms local = emptyHistograms(sweeps);
        // Last row block first: causal rows grow with i, so the longest tasks start early and the workers
        // finish together. (The histograms are merged in task order, so the sums stay deterministic.)
        const int block = tasks - 1 - task;
        for (int i = block * kRowsPerTask; i < std::min(T, (block + 1) * kRowsPerTask); ++i) {
            const cpu::RowContext row = prepareRow(head, dense, i, s);
            visible[i] = row.range.size();
            for (int c = 0; c < row.valueDim; ++c) referenceSq[i] += static_cast<double>(row.denseOutput[c]) * row.denseOutput[c];
            cpu::RowTerms* rowTerms = terms.data() + static_cast<size_t>(i) * slots;
            for (size_t p = 0; p < passPlans.size(); ++p) {
                const int m = cpu::maskRowKeys(batch.plans[passPlans[p]].mask, i, row.range, row.logits, s.flags,
                                               s.intervals, s.keys.data());
                rowTerms[p] = cpu::maskRowTerms(row, s.keys.data(), m, s.out.data());
            }
            for (size_t w = 0; w < sweeps.size(); ++w) sweepRow(sweeps[w], i, row, s, local[w], rowTerms);
        }
        merge.submit(task, std::move(local));
        reportProgress(job, "masks", static_cast<double>(++doneTasks) / tasks);
    });

    for (size_t p = 0; p < passPlans.size(); ++p)
        result.plans[passPlans[p]] = metricsFromRows(terms, slots, p, referenceSq, visible);
    long long visibleCells = 0;
    for (int n : visible) visibleCells += n;
    for (size_t w = 0; w < sweeps.size(); ++w) {
        const RankedSweep& sweep = sweeps[w];
        BudgetSweepResult& r = result.sweeps[sweep.request];
        for (size_t k = 0; k < sweep.budgets.size(); ++k)
            r.metrics.push_back(metricsFromRows(terms, slots, sweep.firstSlot + k, referenceSq, visible));
        if (sweep.search) findNeededBudget(batch.sweeps[sweep.request], sweep.ranking, histograms[w], T, visibleCells, r);
    }
    if (!rest.plans.empty() || !rest.sweeps.empty()) {
        MaskBatchResult other = Backend::evaluateMaskBatch(head, dense, rest, job);
        for (size_t p = 0; p < restPlans.size(); ++p) result.plans[restPlans[p]] = other.plans[p];
        for (size_t s = 0; s < restSweeps.size(); ++s) result.sweeps[restSweeps[s]] = std::move(other.sweeps[s]);
    }
    return result;
}

}  // namespace attnscope
