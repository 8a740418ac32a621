// Counting the cells a structural mask keeps (interval arithmetic per row, no T x T work) and
// finding the budget that brings a variant closest to a target density.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "attnscope/backend.h"
#include "attnscope/variant.h"

namespace attnscope {

namespace {

// Appends [b, e) clipped to `visible` when non-empty.
void addInterval(std::vector<KeyRange>& intervals, int b, int e, const KeyRange& visible) {
    b = std::max(b, visible.begin);
    e = std::min(e, visible.end);
    if (e > b) intervals.push_back({b, e});
}

long long rowKeptCount(const SparseMask& mask, const KeyRange& visible, int i, std::vector<KeyRange>& intervals) {
    if (mask.keepAll) return visible.size();
    intervals.clear();
    addInterval(intervals, 0, mask.sinkTokens, visible);
    if (mask.windowSize > 0) addInterval(intervals, i - mask.windowSize + 1, i + mask.windowSize, visible);
    if (mask.blockSize > 0) {
        const uint8_t* row = mask.blocks.data() + static_cast<size_t>(i / mask.blockSize) * mask.blockCols;
        for (int c = 0; c < mask.blockCols; ++c)
            if (row[c]) addInterval(intervals, c * mask.blockSize, (c + 1) * mask.blockSize, visible);
    }
    std::sort(intervals.begin(), intervals.end(), [](const KeyRange& a, const KeyRange& b) { return a.begin < b.begin; });
    long long count = 0;
    int coveredEnd = visible.begin;
    for (const KeyRange& r : intervals) {
        const int b = std::max(r.begin, coveredEnd);
        if (r.end > b) count += r.end - b;
        coveredEnd = std::max(coveredEnd, r.end);
    }
    for (int j : mask.columns) {
        if (!visible.contains(j)) continue;
        const bool covered = std::any_of(intervals.begin(), intervals.end(), [j](const KeyRange& r) { return r.contains(j); });
        if (!covered) ++count;
    }
    return count;
}

}  // namespace

long long countKeptCells(const SparseMask& mask, const AttentionConfig& config, int seqLen) {
    if (!mask.isStructural())
        throw std::invalid_argument("countKeptCells: masks with a per-row top-k component need logits to count");
    std::vector<KeyRange> intervals;
    long long total = 0;
    for (int i = 0; i < seqLen; ++i) total += rowKeptCount(mask, visibleKeys(config, seqLen, i), i, intervals);
    return total;
}

long long Variant::keptCellCount(const HeadTensors& head, const ParamValues& params, Backend& backend) const {
    return countKeptCells(plan(head, params, backend).mask, head.config, head.seqLen);
}

Variant::BudgetCounter Variant::budgetCounter(const HeadTensors& head, const ParamValues& base, Backend& backend) const {
    const std::string budget = budgetParameter();
    return [this, &head, base, &backend, budget](long long value) {
        ParamValues params = base;
        params[budget] = static_cast<double>(value);
        return keptCellCount(head, params, backend);
    };
}

ParamValues paramsForDensity(const Variant& variant, const HeadTensors& head, const ParamValues& base,
                             double targetDensity, Backend& backend) {
    const std::string budget = variant.budgetParameter();
    if (budget.empty())
        throw ParamError("variant '" + variant.id() + "' has no budget parameter, so its density cannot be chosen");
    if (!(targetDensity > 0.0 && targetDensity <= 1.0))
        throw ParamError("density must be in (0, 1], got " + std::to_string(targetDensity));
    const ParamSpec* spec = nullptr;
    const std::vector<ParamSpec> specs = variant.parameters();
    for (const ParamSpec& s : specs)
        if (s.name == budget) spec = &s;
    if (!spec) throw std::logic_error("variant '" + variant.id() + "' names an undeclared budget parameter");

    const double visible = static_cast<double>(visibleCellCount(head.config, head.seqLen, 0, head.seqLen, 0, head.seqLen));
    ParamValues params = resolveParams(variant, base);
    const Variant::BudgetCounter keptCells = variant.budgetCounter(head, params, backend);
    auto densityAt = [&](long long value) { return static_cast<double>(keptCells(value)) / visible; };
    // Density is non-decreasing in the budget parameter: find the smallest value reaching the
    // target, then keep whichever of it and its predecessor lands closer.
    long long lo = static_cast<long long>(spec->minValue);
    long long hi = static_cast<long long>(std::min(spec->maxValue, static_cast<double>(head.seqLen) * 2 + 1));
    hi = std::max(hi, lo);
    if (densityAt(hi) < targetDensity) {
        params[budget] = static_cast<double>(hi);
        return params;
    }
    while (lo < hi) {
        const long long mid = lo + (hi - lo) / 2;
        if (densityAt(mid) >= targetDensity) hi = mid;
        else lo = mid + 1;
    }
    long long best = lo;
    if (lo > static_cast<long long>(spec->minValue)) {
        const double above = densityAt(lo) - targetDensity;
        const double below = targetDensity - densityAt(lo - 1);
        if (below < above) best = lo - 1;
    }
    params[budget] = static_cast<double>(best);
    return params;
}

}  // namespace attnscope
