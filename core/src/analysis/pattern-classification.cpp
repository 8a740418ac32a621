// Per-head pattern class by best recall at equal budget (see the header). The candidate shapes are
// MInference's three head patterns (Jiang et al., arXiv:2407.02490: A-shape, vertical-slash,
// block-sparse) plus a plain local window; their indices come from the dense attention (oracle
// columns and blocks), so the class says which shape *can* hold the head's mass, not what an online
// estimator would find.
#include "attnscope/analysis/pattern-classification.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "attnscope/variant.h"

namespace attnscope::analysis {

const char* patternClassName(PatternClass pattern) {
    switch (pattern) {
    case PatternClass::AShape: return "a-shape";
    case PatternClass::VerticalSlash: return "vertical-slash";
    case PatternClass::BlockSparse: return "block-sparse";
    case PatternClass::Local: return "local";
    case PatternClass::Diffuse: return "diffuse";
    }
    return "?";
}

int searchDensity(const std::function<SparseMask(int)>& maskFor, int lo, int hi, const AttentionConfig& config,
                  int seqLen, double target) {
    const double visible = static_cast<double>(visibleCellCount(config, seqLen, 0, seqLen, 0, seqLen));
    auto densityAt = [&](int b) { return static_cast<double>(countKeptCells(maskFor(b), config, seqLen)) / visible; };
    const int first = lo;
    if (densityAt(hi) < target) return hi;
    while (lo < hi) {
        const int mid = lo + (hi - lo) / 2;
        if (densityAt(mid) >= target) hi = mid;
        else lo = mid + 1;
    }
    if (lo > first && target - densityAt(lo - 1) < densityAt(lo) - target) return lo - 1;
    return lo;
}

std::vector<double> denseBlockSums(const HeadTensors& head, const HeadStatistics& dense, Backend& backend, int blockSize,
                                   JobControl* job) {
    const int T = head.seqLen;
    const int full = T / blockSize;  // whole blocks; a shorter last block is tiled separately
    const int nb = (T + blockSize - 1) / blockSize;
    std::vector<double> sums(static_cast<size_t>(nb) * nb, 0.0);
    // Spans: [0, full * blockSize) split into `full` pixels aligns pixel p with block p exactly.
    struct Span {
        int begin, end, pixels, firstBlock;
    };
    std::vector<Span> spans;
    if (full > 0) spans.push_back({0, full * blockSize, full, 0});
    if (full * blockSize < T) spans.push_back({full * blockSize, T, 1, full});
    for (const Span& rows : spans)
        for (const Span& cols : spans) {
            TileRequest request;
            request.queryBegin = rows.begin;
            request.queryEnd = rows.end;
            request.keyBegin = cols.begin;
            request.keyEnd = cols.end;
            request.width = cols.pixels;
            request.height = rows.pixels;
            request.pooling = Pooling::Mean;
            request.quantity = TileQuantity::DenseWeight;
            const PooledTile tile = backend.computeTile(head, dense, request, nullptr, nullptr, job);
            for (int y = 0; y < rows.pixels; ++y)
                for (int x = 0; x < cols.pixels; ++x) {
                    const float mean = tile.at(x, y);
                    if (std::isnan(mean)) continue;
                    const PixelSpan r = pixelSpan(rows.begin, rows.end, rows.pixels, y);
                    const PixelSpan c = pixelSpan(cols.begin, cols.end, cols.pixels, x);
                    const long long cells = visibleCellCount(head.config, T, r.begin, r.end, c.begin, c.end);
                    sums[static_cast<size_t>(rows.firstBlock + y) * nb + cols.firstBlock + x] = mean * static_cast<double>(cells);
                }
        }
    return sums;
}

std::vector<PatternCandidateMask> patternCandidateMasks(const HeadTensors& head, const HeadStatistics& dense,
                                                        Backend& backend, const PatternOptions& options, JobControl* job) {
    const int T = head.seqLen;
    const AttentionConfig& config = head.config;
    if (dense.columnSums.size() != static_cast<size_t>(T) || dense.output.empty())
        throw std::invalid_argument("pattern classification needs dense column sums and output");
    const double target = options.density;
    std::vector<PatternCandidateMask> masks;

    // Local window.
    auto band = [](int w) {
        SparseMask m;
        m.windowSize = w;
        return m;
    };
    const int w = searchDensity(band, 1, T, config, T, target);
    masks.push_back({PatternClass::Local, band(w), "window=" + std::to_string(w)});

    // A-shape: sinks + window. Sink counts 1, 2, 4, ... up to options.sinkTokens (the best recall is kept, so
    // a one-token sink is not charged for four columns).
    for (int sinks = 1; sinks <= std::min(std::max(1, options.sinkTokens), T); sinks *= 2) {
        auto ashape = [&](int window) {
            SparseMask m;
            m.sinkTokens = sinks;
            m.windowSize = window;
            return m;
        };
        const int wa = searchDensity(ashape, 0, T, config, T, target);
        masks.push_back({PatternClass::AShape, ashape(wa), "sinks=" + std::to_string(sinks) + " window=" + std::to_string(wa)});
    }

    // Vertical-slash: top columns by attention received plus a band; three splits of the budget.
    std::vector<int32_t> order(T);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return dense.columnSums[a] > dense.columnSums[b]; });
    for (const auto& [colWeight, bandWeight] : {std::pair{1, 1}, std::pair{3, 1}, std::pair{1, 3}}) {
        auto vs = [&, cw = colWeight, bw = bandWeight](int b) {
            SparseMask m;
            m.windowSize = std::max(1, b * bw);
            const int c = std::min(T, b * cw);
            m.columns.assign(order.begin(), order.begin() + c);
            std::sort(m.columns.begin(), m.columns.end());
            return m;
        };
        const int b = searchDensity(vs, 0, T, config, T, target);
        SparseMask mask = vs(b);
        std::string detail = "columns=" + std::to_string(mask.columns.size()) + " window=" + std::to_string(mask.windowSize);
        masks.push_back({PatternClass::VerticalSlash, std::move(mask), std::move(detail)});
    }

    // Block-sparse: per query block the top-k key blocks by exact dense block mass.
    int bs = options.blockSize;
    if (bs <= 0) {
        bs = 4;
        while (bs * 2 <= std::max(4, T / 16) && bs < 64) bs *= 2;
    }
    const int nb = (T + bs - 1) / bs;
    const std::vector<double> sums = denseBlockSums(head, dense, backend, bs, job);
    std::vector<std::vector<int>> ranked(nb);
    for (int r = 0; r < nb; ++r) {
        for (int c = 0; c < nb; ++c)
            if (visibleCellCount(config, T, r * bs, std::min(T, (r + 1) * bs), c * bs, std::min(T, (c + 1) * bs)) > 0)
                ranked[r].push_back(c);
        std::stable_sort(ranked[r].begin(), ranked[r].end(),
                         [&](int a, int b) { return sums[static_cast<size_t>(r) * nb + a] > sums[static_cast<size_t>(r) * nb + b]; });
    }
    auto blocks = [&](int k) {
        SparseMask m;
        m.blockSize = bs;
        m.blockRows = m.blockCols = nb;
        m.blocks.assign(static_cast<size_t>(nb) * nb, 0);
        for (int r = 0; r < nb; ++r)
            for (int i = 0; i < std::min<int>(k, static_cast<int>(ranked[r].size())); ++i)
                m.blocks[static_cast<size_t>(r) * nb + ranked[r][i]] = 1;
        return m;
    };
    const int k = searchDensity(blocks, 1, nb, config, T, target);
    masks.push_back({PatternClass::BlockSparse, blocks(k), "block=" + std::to_string(bs) + " topk=" + std::to_string(k)});
    return masks;
}

PatternClassification classifyPatternCandidates(const std::vector<PatternCandidateMask>& masks,
                                                const std::vector<VariantMetrics>& metrics, const PatternOptions& options) {
    if (masks.empty() || metrics.size() != masks.size())
        throw std::invalid_argument("pattern classification: one metrics entry per candidate mask is needed");
    PatternClassification result;
    // Consecutive masks of one class are variants of one candidate: the first with the best recall stands for it.
    for (size_t c = 0; c < masks.size(); ++c) {
        const VariantMetrics& m = metrics[c];
        const PatternCandidate candidate{masks[c].pattern, m.density, m.recall, m.outputError, masks[c].detail};
        if (c == 0 || masks[c - 1].pattern != masks[c].pattern) result.candidates.push_back(candidate);
        else if (candidate.recall > result.candidates.back().recall) result.candidates.back() = candidate;
    }

    // Best recall; candidates are in order of simplicity, so a later one must beat by more than the tolerance.
    const PatternCandidate* best = &result.candidates.front();
    for (const PatternCandidate& c : result.candidates)
        if (c.recall > best->recall + options.tieTolerance) best = &c;
    result.bestRecall = 0.0;
    for (const PatternCandidate& c : result.candidates) result.bestRecall = std::max(result.bestRecall, c.recall);
    result.pattern = result.bestRecall < options.diffuseRecall ? PatternClass::Diffuse : best->pattern;
    return result;
}

PatternClassification classifyHeadPattern(const HeadTensors& head, const HeadStatistics& dense, Backend& backend,
                                          const PatternOptions& options, JobControl* job) {
    const std::vector<PatternCandidateMask> masks = patternCandidateMasks(head, dense, backend, options, job);
    MaskBatch batch;
    for (const PatternCandidateMask& m : masks) batch.plans.push_back({m.mask, WeightKind::SoftmaxInMask});
    return classifyPatternCandidates(masks, backend.evaluateMaskBatch(head, dense, batch, job).plans, options);
}

}  // namespace attnscope::analysis
