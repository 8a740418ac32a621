// Dear ImGui overlays drawn on top of the Vulkan map in the same render pass: token labels on both
// axes, the colorbar, the hover readout and the frame-time HUD. Drawing only: every value shown
// was computed elsewhere (the compute thread or the view state).
#pragma once

#include <string>
#include <vector>

#include "map-renderer.h"
#include "map-viewport.h"

struct ImDrawList;

namespace attnscope::views {

struct HoverResult;

struct PixelRect {
    float x = 0, y = 0, w = 0, h = 0;
    float right() const { return x + w; }
    float bottom() const { return y + h; }
    bool contains(float px, float py) const { return px >= x && px < x + w && py >= y && py < y + h; }
};

// Query labels left of the pane, key labels (rotated) above it, once cells are large enough.
// Returns the number of labels drawn.
int drawTokenLabels(ImDrawList* list, const MapViewport& viewport, const PixelRect& pane,
                    const std::vector<std::string>& tokens, bool keysOnTop, bool queriesOnLeft);

// Vertical colorbar with ticks; colors from the same LUT as the map.
void drawColorbar(ImDrawList* list, const PixelRect& bar, const MapColorParams& color, const char* title);

// Readout beside the cursor.
void drawHoverReadout(const HoverResult& hover, const std::vector<std::string>& tokens, const std::string& variantName);

struct HudStats {
    double frameMs = 0.0;      // mean interval between the last frames
    double frameMsMax = 0.0;
    double recordMs = 0.0;     // CPU time to build and record one frame
    int level = 0;
    double cellsPerPixel = 1.0;
    size_t tilesCached = 0;
    size_t tilesWanted = 0;
    size_t tilesMissing = 0;
    size_t textures = 0;
    std::string backend;
    std::string device;
};
void drawHud(const HudStats& stats, bool* open);

}  // namespace attnscope::views
