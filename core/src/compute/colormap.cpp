// Colormap lookup and value scaling; tables in colormap-tables.inc (generated, see tools/).
#include "attnscope/colormap.h"

#include <algorithm>
#include <cmath>

namespace attnscope {

namespace {
#include "compute/colormap-tables.inc"

const unsigned char (*tableOf(ColormapName map))[3] {
    switch (map) {
        case ColormapName::Viridis: return kViridisTable;
        case ColormapName::Magma: return kMagmaTable;
        case ColormapName::Cividis: return kCividisTable;
        case ColormapName::Diverging: return kCoolwarmTable;
    }
    return kViridisTable;
}
}  // namespace

std::optional<ColormapName> parseColormapName(const std::string& name) {
    if (name == "viridis") return ColormapName::Viridis;
    if (name == "magma") return ColormapName::Magma;
    if (name == "cividis") return ColormapName::Cividis;
    if (name == "diverging" || name == "coolwarm") return ColormapName::Diverging;
    return std::nullopt;
}

const char* colormapName(ColormapName name) {
    switch (name) {
        case ColormapName::Viridis: return "viridis";
        case ColormapName::Magma: return "magma";
        case ColormapName::Cividis: return "cividis";
        case ColormapName::Diverging: return "diverging";
    }
    return "viridis";
}

Rgb colormapColor(ColormapName map, double t) {
    if (!(t >= 0.0)) t = 0.0;  // also catches NaN
    t = std::min(t, 1.0);
    const int index = std::min(255, static_cast<int>(std::lround(t * 255.0)));
    const unsigned char* c = tableOf(map)[index];
    return {c[0], c[1], c[2]};
}

double ValueScale::normalize(double value) const {
    if (signedValues) {
        if (maxValue <= 0.0) return 0.5;
        if (logarithmic) {
            const double floor = maxValue * std::pow(10.0, -decades);
            const double mag = std::abs(value) <= floor ? 0.0 : (std::log10(std::abs(value) / floor)) / decades;
            return 0.5 + std::copysign(std::min(mag, 1.0), value) * 0.5;
        }
        return 0.5 + std::clamp(value / maxValue, -1.0, 1.0) * 0.5;
    }
    if (maxValue <= 0.0) return 0.0;
    if (logarithmic) {
        const double floor = maxValue * std::pow(10.0, -decades);
        if (value <= floor) return 0.0;
        return std::min(1.0, std::log10(value / floor) / decades);
    }
    return std::clamp(value / maxValue, 0.0, 1.0);
}

std::vector<uint8_t> colorizeValues(const std::vector<float>& values, const ValueScale& scale, ColormapName map) {
    std::vector<uint8_t> rgb(values.size() * 3);
    for (size_t i = 0; i < values.size(); ++i) {
        const Rgb c = std::isnan(values[i]) ? kEmptyPixelColor : colormapColor(map, scale.normalize(values[i]));
        rgb[i * 3] = c[0];
        rgb[i * 3 + 1] = c[1];
        rgb[i * 3 + 2] = c[2];
    }
    return rgb;
}

ValueScale fitValueScale(const std::vector<float>& values, bool logarithmic, bool signedValues, double decades) {
    ValueScale scale;
    scale.logarithmic = logarithmic;
    scale.signedValues = signedValues;
    scale.decades = decades;
    double maxValue = 0.0;
    for (float v : values)
        if (std::isfinite(v)) maxValue = std::max(maxValue, signedValues ? std::abs(static_cast<double>(v)) : static_cast<double>(v));
    scale.maxValue = maxValue > 0.0 ? maxValue : 1.0;
    return scale;
}

}  // namespace attnscope
