// Zoom/pan/fit arithmetic and tile selection for the map view.
#include "map-viewport.h"

#include <algorithm>
#include <cmath>

namespace attnscope::views {

TileSpan tileSpan(const TileCoord& tile, int seqLen) {
    const long long cellsPerTile = static_cast<long long>(kTileTexels) << tile.level;
    const long long cellsPerTexel = 1LL << tile.level;
    TileSpan span{};
    span.keyBegin = static_cast<int>(std::min<long long>(seqLen, tile.tx * cellsPerTile));
    span.keyEnd = static_cast<int>(std::min<long long>(seqLen, (tile.tx + 1) * cellsPerTile));
    span.queryBegin = static_cast<int>(std::min<long long>(seqLen, tile.ty * cellsPerTile));
    span.queryEnd = static_cast<int>(std::min<long long>(seqLen, (tile.ty + 1) * cellsPerTile));
    span.width = static_cast<int>((span.keyEnd - span.keyBegin + cellsPerTexel - 1) / cellsPerTexel);
    span.height = static_cast<int>((span.queryEnd - span.queryBegin + cellsPerTexel - 1) / cellsPerTexel);
    return span;
}

TileRequest tileRequest(const TileCoord& tile, int seqLen) {
    const TileSpan span = tileSpan(tile, seqLen);
    TileRequest request;
    request.queryBegin = span.queryBegin;
    request.queryEnd = span.queryEnd;
    request.keyBegin = span.keyBegin;
    request.keyEnd = span.keyEnd;
    request.width = span.width;
    request.height = span.height;
    return request;
}

void MapViewport::setSeqLen(int seqLen) {
    m_seqLen = std::max(1, seqLen);
    fit();
}

void MapViewport::setPaneSize(double width, double height) {
    m_width = std::max(1.0, width);
    m_height = std::max(1.0, height);
    clamp();
}

double MapViewport::maxCellsPerPixel() const { return 4.0 * m_seqLen / std::min(m_width, m_height); }

void MapViewport::fit() {
    m_centerX = m_centerY = m_seqLen * 0.5;
    m_cellsPerPixel = m_seqLen / std::min(m_width, m_height);
    clamp();
}

void MapViewport::setView(double centerX, double centerY, double cellsPerPixel) {
    m_centerX = centerX;
    m_centerY = centerY;
    m_cellsPerPixel = cellsPerPixel;
    clamp();
}

void MapViewport::zoomAt(double px, double py, double factor) {
    if (!(factor > 0.0)) return;
    const double cx = cellX(px), cy = cellY(py);
    m_cellsPerPixel = std::clamp(m_cellsPerPixel / factor, minCellsPerPixel(), maxCellsPerPixel());
    // Put the cell that was under the cursor back under it.
    m_centerX = cx - (px - m_width * 0.5) * m_cellsPerPixel;
    m_centerY = cy - (py - m_height * 0.5) * m_cellsPerPixel;
    clamp();
}

void MapViewport::panBy(double dx, double dy) {
    m_centerX -= dx * m_cellsPerPixel;
    m_centerY -= dy * m_cellsPerPixel;
    clamp();
}

void MapViewport::clamp() {
    m_cellsPerPixel = std::clamp(m_cellsPerPixel, minCellsPerPixel(), maxCellsPerPixel());
    // Along each axis: a map smaller than the pane is centred; a larger one always covers the pane,
    // so the map can never be panned off-screen.
    auto axis = [&](double& center, double panePixels) {
        const double extent = panePixels * m_cellsPerPixel;
        if (extent >= m_seqLen) center = m_seqLen * 0.5;
        else center = std::clamp(center, extent * 0.5, m_seqLen - extent * 0.5);
    };
    axis(m_centerX, m_width);
    axis(m_centerY, m_height);
}

CellRect MapViewport::visibleCells() const {
    CellRect r;
    r.x0 = std::clamp(cellX(0), 0.0, static_cast<double>(m_seqLen));
    r.x1 = std::clamp(cellX(m_width), 0.0, static_cast<double>(m_seqLen));
    r.y0 = std::clamp(cellY(0), 0.0, static_cast<double>(m_seqLen));
    r.y1 = std::clamp(cellY(m_height), 0.0, static_cast<double>(m_seqLen));
    return r;
}

int MapViewport::tileLevel() const {
    if (m_cellsPerPixel <= 1.0) return 0;
    return static_cast<int>(std::floor(std::log2(m_cellsPerPixel) + 1e-9));
}

std::vector<TileCoord> MapViewport::visibleTiles(int level) const {
    const CellRect r = visibleCells();
    std::vector<TileCoord> tiles;
    if (r.width() <= 0 || r.height() <= 0) return tiles;
    const double cellsPerTile = static_cast<double>(kTileTexels) * std::ldexp(1.0, level);
    const int tx0 = static_cast<int>(std::floor(r.x0 / cellsPerTile));
    const int tx1 = static_cast<int>(std::ceil(r.x1 / cellsPerTile));
    const int ty0 = static_cast<int>(std::floor(r.y0 / cellsPerTile));
    const int ty1 = static_cast<int>(std::ceil(r.y1 / cellsPerTile));
    for (int ty = ty0; ty < ty1; ++ty)
        for (int tx = tx0; tx < tx1; ++tx) tiles.push_back({level, tx, ty});
    const double mx = m_centerX / cellsPerTile - 0.5, my = m_centerY / cellsPerTile - 0.5;
    std::stable_sort(tiles.begin(), tiles.end(), [&](const TileCoord& a, const TileCoord& b) {
        return std::hypot(a.tx - mx, a.ty - my) < std::hypot(b.tx - mx, b.ty - my);
    });
    return tiles;
}

}  // namespace attnscope::views
