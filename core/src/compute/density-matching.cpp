// Counting the cells a structural mask keeps (interval arithmetic per row, no T x T work) and
// finding the budget that brings a variant closest to a target density.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "attnscope/backend.h"
#include "attnscope/variant.h"

namespace attnscope {

namespace {

// [b, e) clipped to `visible` (possibly empty).
KeyRange clipped(int b, int e, const KeyRange& visible) { return {std::max(b, visible.begin), std::min(e, visible.end)}; }

// Kept cells of one row given the mask's intervals (non-empty, sorted by start, possibly overlapping) and
// its columns (sorted): the union of the intervals plus the visible columns none of them covers, counted
// by binary searches rather than a scan per column.
long long unionCount(const KeyRange* intervals, size_t count, const std::vector<int32_t>& columns, const KeyRange& visible) {
    long long cells = 0;
    int coveredEnd = visible.begin;
    auto columnsIn = [&](int b, int e) {
        return std::lower_bound(columns.begin(), columns.end(), e) - std::lower_bound(columns.begin(), columns.end(), b);
    };
    if (!columns.empty()) cells += columnsIn(visible.begin, visible.end);
    for (size_t k = 0; k < count; ++k) {
        const int b = std::max(intervals[k].begin, coveredEnd);
        if (intervals[k].end <= b) continue;
        cells += intervals[k].end - b;
        if (!columns.empty()) cells -= columnsIn(b, intervals[k].end);
        coveredEnd = intervals[k].end;
    }
    return cells;
}

long long rowKeptCount(const SparseMask& mask, const KeyRange& visible, int i, std::vector<KeyRange>& intervals) {
    if (mask.keepAll) return visible.size();
    const KeyRange sinks = clipped(0, mask.sinkTokens, visible);
    const KeyRange band = mask.windowSize > 0 ? clipped(i - mask.windowSize + 1, i + mask.windowSize, visible) : KeyRange{};
    if (mask.blockSize == 0 && mask.columns.empty()) {  // the common case of density searches
        const int overlap = std::max(0, std::min(sinks.end, band.end) - std::max(sinks.begin, band.begin));
        return sinks.size() + band.size() - overlap;
    }
    if (mask.blockSize == 0) {  // sinks, band and columns: no allocation
        KeyRange two[2];
        size_t count = 0;
        if (sinks.size() > 0) two[count++] = sinks;
        if (band.size() > 0) two[count++] = band;
        if (count == 2 && two[1].begin < two[0].begin) std::swap(two[0], two[1]);
        return unionCount(two, count, mask.columns, visible);
    }
    intervals.clear();
    if (sinks.size() > 0) intervals.push_back(sinks);
    if (band.size() > 0) intervals.push_back(band);
    const uint8_t* row = mask.blocks.data() + static_cast<size_t>(i / mask.blockSize) * mask.blockCols;
    for (int c = 0; c < mask.blockCols; ++c) {
        const KeyRange r = clipped(c * mask.blockSize, (c + 1) * mask.blockSize, visible);
        if (row[c] && r.size() > 0) intervals.push_back(r);
    }
    std::sort(intervals.begin(), intervals.end(), [](const KeyRange& a, const KeyRange& b) { return a.begin < b.begin; });
    return unionCount(intervals.data(), intervals.size(), mask.columns, visible);
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
