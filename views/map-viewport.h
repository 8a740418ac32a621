// View-state math of the attention map: where the T x T cell plane sits in a pane of pixels, zoom
// around a point, pan, fit, and which fixed tiles (level, tx, ty) cover what is visible. Pure math,
// no Qt or Vulkan, so it is tested alone (tests/views/test-map-viewport.cpp).
#pragma once

#include <vector>

#include "attnscope/pooled-tile.h"

namespace attnscope::views {

// Tiles form a quadtree over the cell plane: a tile at level L is kTileTexels x kTileTexels texels
// and each texel pools 2^L x 2^L cells. Fixed tiles (rather than one tile per viewport) make panning
// reuse cached tiles and only compute the new edges.
constexpr int kTileTexels = 256;
// From this level on a texel covers whole 64x64 statistics blocks, so the block pyramid is exact
// and no tile needs computing.
constexpr int kPyramidLevel = 6;

struct CellRect {
    double x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // x: keys, y: queries; half-open in cells
    double width() const { return x1 - x0; }
    double height() const { return y1 - y0; }
};

struct TileCoord {
    int level = 0;
    int tx = 0;  // key direction
    int ty = 0;  // query direction
    bool operator==(const TileCoord&) const = default;
};

// The cells and texels of one tile over a map of seqLen tokens.
struct TileSpan {
    int keyBegin, keyEnd, queryBegin, queryEnd;
    int width, height;  // texels
};
TileSpan tileSpan(const TileCoord& tile, int seqLen);
// The backend request for a tile's span (the pooling and quantity are the caller's to set).
TileRequest tileRequest(const TileCoord& tile, int seqLen);

class MapViewport {
public:
    void setSeqLen(int seqLen);
    void setPaneSize(double width, double height);
    int seqLen() const { return m_seqLen; }
    double paneWidth() const { return m_width; }
    double paneHeight() const { return m_height; }

    // Whole map visible and centred.
    void fit();
    // Scales by `factor` (> 1 zooms in) keeping the cell under pane pixel (px, py) fixed.
    void zoomAt(double px, double py, double factor);
    // Moves the content by (dx, dy) pixels, as a drag does.
    void panBy(double dx, double dy);

    double cellsPerPixel() const { return m_cellsPerPixel; }
    double pixelsPerCell() const { return 1.0 / m_cellsPerPixel; }
    double centerX() const { return m_centerX; }
    double centerY() const { return m_centerY; }
    void setView(double centerX, double centerY, double cellsPerPixel);

    // Cell coordinates under pane pixel (px, py) and back.
    double cellX(double px) const { return m_centerX + (px - m_width * 0.5) * m_cellsPerPixel; }
    double cellY(double py) const { return m_centerY + (py - m_height * 0.5) * m_cellsPerPixel; }
    double pixelX(double cellX) const { return (cellX - m_centerX) / m_cellsPerPixel + m_width * 0.5; }
    double pixelY(double cellY) const { return (cellY - m_centerY) / m_cellsPerPixel + m_height * 0.5; }

    // Visible part of the cell plane, clipped to [0, T).
    CellRect visibleCells() const;
    // Finest tile level whose texels are no smaller than a screen pixel: floor(log2(cells per pixel)),
    // clamped to >= 0.
    int tileLevel() const;
    // Tiles of `level` covering the visible cells, nearest to the centre first (they are computed
    // in that order).
    std::vector<TileCoord> visibleTiles(int level) const;

    double minCellsPerPixel() const { return 1.0 / 96.0; }  // a cell at most 96 pixels wide
    double maxCellsPerPixel() const;                         // whole map fits in a quarter of the pane

private:
    void clamp();

    int m_seqLen = 1;
    double m_width = 1, m_height = 1;
    double m_centerX = 0.5, m_centerY = 0.5;
    double m_cellsPerPixel = 1.0;
};

}  // namespace attnscope::views
