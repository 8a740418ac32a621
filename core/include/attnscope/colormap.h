// Colormaps and value scaling shared by the CLI renderer and the views: the same value always
// becomes the same color, so CLI images, GUI maps and the colorbar agree pixel for pixel.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attnscope {

enum class ColormapName { Viridis, Magma, Cividis, Diverging };

std::optional<ColormapName> parseColormapName(const std::string& name);
const char* colormapName(ColormapName name);

using Rgb = std::array<uint8_t, 3>;

// Color of t in [0, 1] (clamped): nearest of 256 entries.
Rgb colormapColor(ColormapName map, double t);

// Color of pixels with no visible cell (masked region, e.g. the causal upper triangle).
constexpr Rgb kEmptyPixelColor = {255, 255, 255};

// Maps values to [0, 1]. Linear: value / maxValue (signed maps: 0.5 + value / (2 maxAbs)).
// Log: log10(value) over [log10(maxValue) - decades, log10(maxValue)], values <= floor clamp to 0.
struct ValueScale {
    bool logarithmic = false;
    bool signedValues = false;
    double maxValue = 1.0;  // the value mapped to 1 (signed: the largest magnitude)
    double decades = 6.0;
    double normalize(double value) const;
};

// RGB bytes [height, width, 3] of a tile: each value through `scale` and `map`; empty pixels
// (NaN) get kEmptyPixelColor.
std::vector<uint8_t> colorizeValues(const std::vector<float>& values, const ValueScale& scale, ColormapName map);

// A scale whose maxValue is the largest finite |value| in `values` (1 when there is none).
ValueScale fitValueScale(const std::vector<float>& values, bool logarithmic, bool signedValues, double decades = 6.0);

}  // namespace attnscope
