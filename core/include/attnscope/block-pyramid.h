// Multi-resolution view of one head's attention map built from its 64x64 BlockGrid. Level 0 is the
// block grid itself; level l merges 2^l x 2^l blocks. Coarser levels are exact reductions (sums
// and maxima of children), so any zoom level of the whole map is exact without recomputation.
#pragma once

#include <optional>
#include <vector>

#include "attnscope/attention-mask.h"
#include "attnscope/head-statistics.h"

namespace attnscope {

struct PyramidLevel {
    int cellsPerBlock = 0;  // side of one block in cells at this level
    int rows = 0;
    int cols = 0;
    std::vector<double> sum;
    std::vector<float> max;
    std::vector<long long> visibleCells;  // number of visible (unmasked) cells per block
};

// Aggregate of the attention over a cell rectangle.
struct CellAggregate {
    double sum = 0.0;
    float max = 0.0f;
    long long visibleCells = 0;
};

class BlockPyramid {
public:
    BlockPyramid() = default;
    BlockPyramid(const BlockGrid& grid, const AttentionConfig& config, int seqLen);

    int levelCount() const { return static_cast<int>(m_levels.size()); }
    const PyramidLevel& level(int l) const { return m_levels.at(l); }
    int seqLen() const { return m_seqLen; }

    // Exact aggregate of rows [q0,q1) x keys [k0,k1) when every edge lies on a block boundary of
    // level 0 (or at T); std::nullopt otherwise (the caller must compute those cells).
    std::optional<CellAggregate> aggregate(int q0, int q1, int k0, int k1) const;

private:
    std::vector<PyramidLevel> m_levels;
    int m_seqLen = 0;
};

}  // namespace attnscope
