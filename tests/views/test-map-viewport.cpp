// View-state math: fit, zoom around the cursor, pan clamping, tile levels and tile coverage.
#include <gtest/gtest.h>

#include <cmath>

#include "map-viewport.h"

using namespace attnscope::views;

TEST(MapViewport, FitShowsWholeMapCentred) {
    MapViewport v;
    v.setPaneSize(800, 600);
    v.setSeqLen(1200);
    EXPECT_DOUBLE_EQ(v.cellsPerPixel(), 2.0);  // 1200 cells over the shorter side
    EXPECT_DOUBLE_EQ(v.centerX(), 600.0);
    const CellRect r = v.visibleCells();
    EXPECT_DOUBLE_EQ(r.x0, 0.0);
    EXPECT_DOUBLE_EQ(r.x1, 1200.0);
    EXPECT_DOUBLE_EQ(r.y0, 0.0);
    EXPECT_DOUBLE_EQ(r.y1, 1200.0);
    EXPECT_NEAR(v.pixelX(0), 100.0, 1e-9);  // centred horizontally
}

TEST(MapViewport, ZoomKeepsCellUnderCursor) {
    MapViewport v;
    v.setPaneSize(500, 500);
    v.setSeqLen(1000);
    const double px = 123, py = 321;
    const double cx = v.cellX(px), cy = v.cellY(py);
    v.zoomAt(px, py, 3.0);
    EXPECT_NEAR(v.cellsPerPixel(), 2.0 / 3.0, 1e-12);
    EXPECT_NEAR(v.cellX(px), cx, 1e-9);
    EXPECT_NEAR(v.cellY(py), cy, 1e-9);
    v.zoomAt(px, py, 1.0 / 3.0);
    EXPECT_NEAR(v.cellsPerPixel(), 2.0, 1e-12);
}

TEST(MapViewport, ZoomIsClampedBothWays) {
    MapViewport v;
    v.setPaneSize(400, 400);
    v.setSeqLen(100);
    v.zoomAt(200, 200, 1e9);
    EXPECT_DOUBLE_EQ(v.cellsPerPixel(), v.minCellsPerPixel());
    v.zoomAt(200, 200, 1e-9);
    EXPECT_DOUBLE_EQ(v.cellsPerPixel(), v.maxCellsPerPixel());
}

TEST(MapViewport, PanMovesContentWithTheDragAndStaysOnTheMap) {
    MapViewport v;
    v.setPaneSize(100, 100);
    v.setSeqLen(1000);
    v.setView(500, 500, 1.0);  // 100 cells visible
    v.panBy(10, -20);          // drag right and up: content follows, the view moves left and down
    EXPECT_DOUBLE_EQ(v.centerX(), 490.0);
    EXPECT_DOUBLE_EQ(v.centerY(), 520.0);
    v.panBy(1e6, 1e6);
    EXPECT_DOUBLE_EQ(v.centerX(), 50.0);  // left edge of the map at the left edge of the pane
    EXPECT_DOUBLE_EQ(v.centerY(), 50.0);
    EXPECT_DOUBLE_EQ(v.visibleCells().x0, 0.0);
}

TEST(MapViewport, TileLevelGivesAtLeastOneTexelPerPixel) {
    MapViewport v;
    v.setPaneSize(100, 100);
    v.setSeqLen(1 << 20);
    v.setView(5000, 5000, 0.5);
    EXPECT_EQ(v.tileLevel(), 0);
    v.setView(5000, 5000, 1.0);
    EXPECT_EQ(v.tileLevel(), 0);
    v.setView(5000, 5000, 3.9);
    EXPECT_EQ(v.tileLevel(), 1);
    v.setView(5000, 5000, 4.0);
    EXPECT_EQ(v.tileLevel(), 2);
    v.setView(50000, 50000, 100.0);
    EXPECT_EQ(v.tileLevel(), 6);
}

TEST(MapViewport, VisibleTilesCoverTheViewNearestFirst) {
    MapViewport v;
    v.setPaneSize(600, 400);
    v.setSeqLen(4096);
    v.setView(1000, 1000, 1.0);  // cells x [700, 1300), y [800, 1200)
    const auto tiles = v.visibleTiles(0);
    // x tiles 2..5 (512..1535), y tiles 3..4 (768..1279): 4 x 2
    ASSERT_EQ(tiles.size(), 8u);
    for (const TileCoord& t : tiles) {
        EXPECT_GE(t.tx, 2);
        EXPECT_LE(t.tx, 5);
        EXPECT_GE(t.ty, 3);
        EXPECT_LE(t.ty, 4);
    }
    // The first tile contains the centre cell (1000, 1000).
    EXPECT_EQ(tiles.front().tx, 1000 / kTileTexels);
    EXPECT_EQ(tiles.front().ty, 1000 / kTileTexels);
}

TEST(MapViewport, TileSpanClipsToSequenceAndPoolsPowerOfTwoCells) {
    const TileSpan inner = tileSpan({2, 1, 0}, 5000);  // 1024 cells per tile, 4 per texel
    EXPECT_EQ(inner.keyBegin, 1024);
    EXPECT_EQ(inner.keyEnd, 2048);
    EXPECT_EQ(inner.width, 256);
    const TileSpan edge = tileSpan({2, 4, 4}, 5000);
    EXPECT_EQ(edge.keyBegin, 4096);
    EXPECT_EQ(edge.keyEnd, 5000);
    EXPECT_EQ(edge.width, 226);  // ceil(904 / 4)
    EXPECT_EQ(edge.height, 226);
    const TileSpan small = tileSpan({0, 0, 0}, 204);
    EXPECT_EQ(small.width, 204);
    EXPECT_EQ(small.queryEnd, 204);
}
