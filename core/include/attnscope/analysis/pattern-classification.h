// Pattern class of a head — sink+local "A-shape", vertical-slash, block-sparse, local/diagonal or
// diffuse — chosen by the best attention recall at an equal density among candidate masks, in the
// spirit of MInference's offline per-head pattern search (Jiang et al., "MInference 1.0", NeurIPS 2024,
// arXiv:2407.02490). The candidates are oracles built from the head's own dense attention. Rule:
// docs/analyses.md "Pattern class".
#pragma once

#include <string>
#include <vector>

#include "attnscope/backend.h"

namespace attnscope::analysis {

enum class PatternClass { AShape, VerticalSlash, BlockSparse, Local, Diffuse };

const char* patternClassName(PatternClass pattern);  // "a-shape", "vertical-slash", "block-sparse", "local", "diffuse"

struct PatternOptions {
    double density = 0.1;         // the equal budget every candidate gets (fraction of visible cells)
    double diffuseRecall = 0.8;   // below this best recall the head is "diffuse"
    double tieTolerance = 0.01;   // recalls this close count as equal; the simpler candidate wins
    int sinkTokens = 4;           // A-shape tries 1, 2, ... up to this many sinks (StreamingLLM's default 4)
    int blockSize = 0;            // block-sparse block size; 0: largest power of two <= T/16 in [4, 64]
};

struct PatternCandidate {
    PatternClass pattern = PatternClass::Local;
    double density = 0.0;
    double recall = 0.0;
    double outputError = 0.0;
    std::string detail;  // e.g. "window=12", "columns=8 window=6", "block=8 topk=3"
};

struct PatternClassification {
    PatternClass pattern = PatternClass::Diffuse;
    double bestRecall = 0.0;
    std::vector<PatternCandidate> candidates;  // local, a-shape, vertical-slash, block-sparse
};

// One candidate mask: its class and how it was built ("window=12").
struct PatternCandidateMask {
    PatternClass pattern = PatternClass::Local;
    SparseMask mask;
    std::string detail;
};

// Candidate masks at `options.density` (each searched over one integer to land as close as possible):
//   local          band |i - j| < w
//   a-shape        j < s, or band w; s = 1, 2, 4 (<= sinkTokens), best of them
//   vertical-slash the top-c keys by dense column sum, or band w; c = w, c = 3w or w = 3c, best of the three
//   block-sparse   per query block, the top-k key blocks by dense block mass (exact block sums via tiles)
// `dense` must hold rowLse, output and column sums (Backend::computeStatistics with the default request).
// The masks are measured together by Backend::evaluateMaskBatch.
PatternClassification classifyHeadPattern(const HeadTensors& head, const HeadStatistics& dense, Backend& backend,
                                          const PatternOptions& options = {}, JobControl* job = nullptr);

// The two halves of classifyHeadPattern, for callers that batch the candidates with other masks of the
// head (the sensitivity sweep). The masks in rule order: local, one a-shape per sink count, the three
// vertical-slash splits, block-sparse.
std::vector<PatternCandidateMask> patternCandidateMasks(const HeadTensors& head, const HeadStatistics& dense,
                                                        Backend& backend, const PatternOptions& options = {},
                                                        JobControl* job = nullptr);
// The class from each mask's metrics (same order): per class the first mask with the best recall, then the rule.
PatternClassification classifyPatternCandidates(const std::vector<PatternCandidateMask>& masks,
                                                const std::vector<VariantMetrics>& metrics,
                                                const PatternOptions& options = {});

// Exact sums of dense attention over blockSize x blockSize cell blocks ([nb, nb], nb = ceil(T / blockSize)),
// from mean-pooled tiles times visible-cell counts.
std::vector<double> denseBlockSums(const HeadTensors& head, const HeadStatistics& dense, Backend& backend, int blockSize,
                                   JobControl* job = nullptr);

// Smallest integer b in [lo, hi] whose mask reaches `target` density, or its predecessor when that lands
// closer (density must not decrease in b). The mask must be structural.
int searchDensity(const std::function<SparseMask(int)>& maskFor, int lo, int hi, const AttentionConfig& config,
                  int seqLen, double target);

}  // namespace attnscope::analysis
