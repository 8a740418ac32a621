// The colormap lookup texture for the map shader: 256 RGBA8 texels per ColormapName row, filled
// from core's colormapColor so shader colors equal colorizeValues colors.
#pragma once

#include <cstdint>
#include <vector>

namespace attnscope::views {

constexpr int kColormapLutWidth = 256;
constexpr int kColormapLutRows = 4;  // Viridis, Magma, Cividis, Diverging (ColormapName order)

std::vector<uint8_t> buildColormapLut();  // [rows, 256, 4]

}  // namespace attnscope::views
