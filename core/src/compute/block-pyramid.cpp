// Builds the exact multi-resolution pyramid from the 64x64 block grid and answers aligned queries
// from the coarsest level whose blocks tile the query rectangle.
#include "attnscope/block-pyramid.h"

#include <algorithm>
#include <stdexcept>

namespace attnscope {

namespace {

PyramidLevel levelZero(const BlockGrid& grid, const AttentionConfig& config, int seqLen) {
    PyramidLevel level;
    level.cellsPerBlock = grid.blockSize;
    level.rows = grid.rows;
    level.cols = grid.cols;
    level.sum = grid.sum;
    level.max = grid.max;
    level.visibleCells.resize(static_cast<size_t>(grid.rows) * grid.cols);
    for (int r = 0; r < grid.rows; ++r) {
        for (int c = 0; c < grid.cols; ++c) {
            level.visibleCells[grid.index(r, c)] =
                visibleCellCount(config, seqLen, r * grid.blockSize, (r + 1) * grid.blockSize, c * grid.blockSize,
                                 (c + 1) * grid.blockSize);
        }
    }
    return level;
}

PyramidLevel coarsen(const PyramidLevel& fine) {
    PyramidLevel level;
    level.cellsPerBlock = fine.cellsPerBlock * 2;
    level.rows = (fine.rows + 1) / 2;
    level.cols = (fine.cols + 1) / 2;
    const size_t n = static_cast<size_t>(level.rows) * level.cols;
    level.sum.assign(n, 0.0);
    level.max.assign(n, 0.0f);
    level.visibleCells.assign(n, 0);
    for (int r = 0; r < fine.rows; ++r) {
        for (int c = 0; c < fine.cols; ++c) {
            const size_t from = static_cast<size_t>(r) * fine.cols + c;
            const size_t to = static_cast<size_t>(r / 2) * level.cols + c / 2;
            level.sum[to] += fine.sum[from];
            level.max[to] = std::max(level.max[to], fine.max[from]);
            level.visibleCells[to] += fine.visibleCells[from];
        }
    }
    return level;
}

bool onBoundary(int index, int step, int seqLen) { return index % step == 0 || index == seqLen; }

}  // namespace

BlockPyramid::BlockPyramid(const BlockGrid& grid, const AttentionConfig& config, int seqLen) : m_seqLen(seqLen) {
    if (grid.rows <= 0 || grid.cols <= 0) throw std::invalid_argument("BlockPyramid: empty block grid");
    m_levels.push_back(levelZero(grid, config, seqLen));
    while (m_levels.back().rows > 1 || m_levels.back().cols > 1) m_levels.push_back(coarsen(m_levels.back()));
}

std::optional<CellAggregate> BlockPyramid::aggregate(int q0, int q1, int k0, int k1) const {
    if (m_levels.empty()) return std::nullopt;
    q0 = std::max(q0, 0);
    k0 = std::max(k0, 0);
    q1 = std::min(q1, m_seqLen);
    k1 = std::min(k1, m_seqLen);
    if (q1 <= q0 || k1 <= k0) return CellAggregate{};
    int levelIndex = -1;
    for (int l = static_cast<int>(m_levels.size()) - 1; l >= 0; --l) {
        const int step = m_levels[l].cellsPerBlock;
        if (onBoundary(q0, step, m_seqLen) && onBoundary(q1, step, m_seqLen) && onBoundary(k0, step, m_seqLen) &&
            onBoundary(k1, step, m_seqLen)) {
            levelIndex = l;
            break;
        }
    }
    if (levelIndex < 0) return std::nullopt;
    const PyramidLevel& level = m_levels[levelIndex];
    const int step = level.cellsPerBlock;
    CellAggregate result;
    for (int r = q0 / step; r < (q1 + step - 1) / step; ++r) {
        for (int c = k0 / step; c < (k1 + step - 1) / step; ++c) {
            const size_t i = static_cast<size_t>(r) * level.cols + c;
            result.sum += level.sum[i];
            result.max = std::max(result.max, level.max[i]);
            result.visibleCells += level.visibleCells[i];
        }
    }
    return result;
}

}  // namespace attnscope
