// Samples core's colormap tables at their 256 entries (index i is t = i / 255).
#include "colormap-lut.h"

#include "attnscope/colormap.h"

namespace attnscope::views {

std::vector<uint8_t> buildColormapLut() {
    std::vector<uint8_t> lut(static_cast<size_t>(kColormapLutRows) * kColormapLutWidth * 4);
    for (int row = 0; row < kColormapLutRows; ++row) {
        for (int i = 0; i < kColormapLutWidth; ++i) {
            const Rgb c = colormapColor(static_cast<ColormapName>(row), i / 255.0);
            uint8_t* p = &lut[(static_cast<size_t>(row) * kColormapLutWidth + i) * 4];
            p[0] = c[0];
            p[1] = c[1];
            p[2] = c[2];
            p[3] = 255;
        }
    }
    return lut;
}

}  // namespace attnscope::views
