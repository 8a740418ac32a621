// See figures.h. The font is a 3x5 pixel glyph set written for AttnScope (upper-case letters, digits and
// a few signs; lower case is drawn as upper case), scaled 2x.
#include "figures.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace attnscope::cli::figures {

namespace {

// Rows top to bottom, 3 bits each (bit 2 = left column).
struct Glyph {
    char c;
    uint8_t rows[5];
};

constexpr Glyph kGlyphs[] = {
    {'0', {7, 5, 5, 5, 7}}, {'1', {2, 6, 2, 2, 7}}, {'2', {7, 1, 7, 4, 7}}, {'3', {7, 1, 7, 1, 7}},
    {'4', {5, 5, 7, 1, 1}}, {'5', {7, 4, 7, 1, 7}}, {'6', {7, 4, 7, 5, 7}}, {'7', {7, 1, 1, 2, 2}},
    {'8', {7, 5, 7, 5, 7}}, {'9', {7, 5, 7, 1, 7}}, {'A', {2, 5, 7, 5, 5}}, {'B', {6, 5, 6, 5, 6}},
    {'C', {3, 4, 4, 4, 3}}, {'D', {6, 5, 5, 5, 6}}, {'E', {7, 4, 6, 4, 7}}, {'F', {7, 4, 6, 4, 4}},
    {'G', {3, 4, 5, 5, 3}}, {'H', {5, 5, 7, 5, 5}}, {'I', {7, 2, 2, 2, 7}}, {'J', {1, 1, 1, 5, 2}},
    {'K', {5, 5, 6, 5, 5}}, {'L', {4, 4, 4, 4, 7}}, {'M', {5, 7, 7, 5, 5}}, {'N', {6, 5, 5, 5, 5}},
    {'O', {2, 5, 5, 5, 2}}, {'P', {6, 5, 6, 4, 4}}, {'Q', {2, 5, 5, 6, 3}}, {'R', {6, 5, 6, 5, 5}},
    {'S', {3, 4, 2, 1, 6}}, {'T', {7, 2, 2, 2, 2}}, {'U', {5, 5, 5, 5, 7}}, {'V', {5, 5, 5, 5, 2}},
    {'W', {5, 5, 7, 7, 5}}, {'X', {5, 5, 2, 5, 5}}, {'Y', {5, 5, 2, 2, 2}}, {'Z', {7, 1, 2, 4, 7}},
    {'.', {0, 0, 0, 0, 2}}, {',', {0, 0, 0, 2, 4}}, {'-', {0, 0, 7, 0, 0}}, {'_', {0, 0, 0, 0, 7}},
    {':', {0, 2, 0, 2, 0}}, {'(', {1, 2, 2, 2, 1}}, {')', {4, 2, 2, 2, 4}}, {'/', {1, 1, 2, 4, 4}},
    {'%', {5, 1, 2, 4, 5}}, {'=', {0, 7, 0, 7, 0}}, {'+', {0, 2, 7, 2, 0}},
    {'|', {2, 2, 2, 2, 2}}, {'<', {1, 2, 4, 2, 1}}, {'>', {4, 2, 1, 2, 4}}, {'[', {3, 2, 2, 2, 3}},
    {']', {6, 2, 2, 2, 6}}, {'\'', {2, 2, 0, 0, 0}}, {'*', {0, 5, 2, 5, 0}}, {'#', {5, 7, 5, 7, 5}},
};

constexpr int kScale = 2;
constexpr int kCharW = 4 * kScale;  // 3 columns + 1 space
constexpr int kCharH = 6 * kScale;

const Glyph* findGlyph(char c) {
    const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const Glyph& g : kGlyphs)
        if (g.c == u) return &g;
    return nullptr;
}

struct Canvas {
    RgbImage image;
    Canvas(int w, int h) {
        image.width = w;
        image.height = h;
        image.pixels.assign(static_cast<size_t>(w) * h * 3, 255);
    }
    void put(int x, int y, Rgb c) {
        if (x < 0 || y < 0 || x >= image.width || y >= image.height) return;
        uint8_t* p = &image.pixels[(static_cast<size_t>(y) * image.width + x) * 3];
        p[0] = c[0], p[1] = c[1], p[2] = c[2];
    }
    void rect(int x0, int y0, int w, int h, Rgb c) {
        for (int y = y0; y < y0 + h; ++y)
            for (int x = x0; x < x0 + w; ++x) put(x, y, c);
    }
    void line(int x0, int y0, int x1, int y1, Rgb c) {
        const int n = std::max(std::abs(x1 - x0), std::abs(y1 - y0));
        for (int s = 0; s <= n; ++s) {
            const double t = n ? static_cast<double>(s) / n : 0.0;
            const int x = static_cast<int>(std::lround(x0 + t * (x1 - x0)));
            const int y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
            put(x, y, c);
            put(x + 1, y, c);
        }
    }
    // Text at (x, y) top-left; vertical draws bottom to top (rotated 90 degrees counter-clockwise).
    void text(int x, int y, const std::string& s, Rgb c = {0, 0, 0}, bool vertical = false) {
        int pen = 0;
        for (char ch : s) {
            const Glyph* g = findGlyph(ch);
            if (g)
                for (int r = 0; r < 5; ++r)
                    for (int col = 0; col < 3; ++col)
                        if (g->rows[r] & (4 >> col))
                            for (int dy = 0; dy < kScale; ++dy)
                                for (int dx = 0; dx < kScale; ++dx) {
                                    const int gx = pen + col * kScale + dx, gy = r * kScale + dy;
                                    if (vertical) put(x + gy, y - gx, c);
                                    else put(x + gx, y + gy, c);
                                }
            pen += kCharW;
        }
    }
};

int textWidth(const std::string& s) { return static_cast<int>(s.size()) * kCharW; }

std::string format(double v) {
    char buf[32];
    if (v != 0.0 && (std::abs(v) < 0.01 || std::abs(v) >= 10000)) std::snprintf(buf, sizeof buf, "%.0e", v);
    else std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

}  // namespace

RgbImage drawHeatmap(const HeatmapSpec& spec) {
    const int cw = spec.cellWidth > 0 ? spec.cellWidth : std::max(1, 600 / std::max(1, spec.cols));
    const int ch = spec.cellHeight > 0 ? spec.cellHeight : std::max(1, 400 / std::max(1, spec.rows));
    const int mapW = cw * spec.cols, mapH = ch * spec.rows;
    const int left = 70, top = 34, right = 110, bottom = 48;
    Canvas canvas(left + mapW + right, top + mapH + bottom);
    canvas.text(left, 8, spec.title);
    for (int r = 0; r < spec.rows; ++r)
        for (int c = 0; c < spec.cols; ++c) {
            const double v = spec.values[static_cast<size_t>(r) * spec.cols + c];
            const Rgb color = std::isnan(v) ? kEmptyPixelColor : colormapColor(spec.colormap, spec.scale.normalize(v));
            canvas.rect(left + c * cw, top + r * ch, cw, ch, color);
        }
    // Ticks: about eight labelled rows and columns (index of the cell), first and last always.
    auto ticks = [](int n) {
        std::vector<int> t;
        const int step = std::max(1, (n + 7) / 8);
        for (int i = 0; i < n; i += step) t.push_back(i);
        if (t.back() != n - 1) t.push_back(n - 1);
        return t;
    };
    for (int r : ticks(spec.rows)) {
        const std::string s = std::to_string(r);
        canvas.text(left - 6 - textWidth(s), top + r * ch + ch / 2 - kCharH / 2, s);
    }
    for (int c : ticks(spec.cols)) {
        const std::string s = std::to_string(c);
        canvas.text(left + c * cw + cw / 2 - textWidth(s) / 2, top + mapH + 4, s);
    }
    canvas.text(left + mapW / 2 - textWidth(spec.xLabel) / 2, top + mapH + 4 + kCharH + 6, spec.xLabel);
    canvas.text(12, top + mapH / 2 + textWidth(spec.yLabel) / 2, spec.yLabel, {0, 0, 0}, true);
    // Colorbar with its end values.
    const int barX = left + mapW + 16, barW = 16;
    for (int y = 0; y < mapH; ++y) {
        const double t = 1.0 - static_cast<double>(y) / std::max(1, mapH - 1);
        canvas.rect(barX, top + y, barW, 1, colormapColor(spec.colormap, t));
    }
    const double lowValue = spec.scale.logarithmic ? spec.scale.maxValue * std::pow(10.0, -spec.scale.decades)
                            : spec.scale.signedValues ? -spec.scale.maxValue
                                                      : 0.0;
    canvas.text(barX + barW + 4, top, format(spec.scale.maxValue));
    canvas.text(barX + barW + 4, top + mapH - kCharH, format(lowValue));
    if (spec.scale.logarithmic) canvas.text(barX + barW + 4, top + mapH / 2, "LOG");
    return canvas.image;
}

RgbImage drawLineChart(const LineChartSpec& spec) {
    const int left = 70, top = 34, plotW = 560, plotH = 360, right = 180, bottom = 48;
    Canvas canvas(left + plotW + right, top + plotH + bottom);
    canvas.text(left, 8, spec.title);
    double xMin = 1e300, xMax = -1e300;
    for (const LineSeries& s : spec.series)
        for (double x : s.x) {
            const double v = spec.logX ? std::log10(x) : x;
            xMin = std::min(xMin, v);
            xMax = std::max(xMax, v);
        }
    for (double x : spec.xTicks) {
        const double v = spec.logX ? std::log10(x) : x;
        xMin = std::min(xMin, v);
        xMax = std::max(xMax, v);
    }
    if (!(xMax > xMin)) xMax = xMin + 1.0;
    auto px = [&](double x) {
        const double v = spec.logX ? std::log10(x) : x;
        return left + static_cast<int>(std::lround((v - xMin) / (xMax - xMin) * plotW));
    };
    auto py = [&](double y) {
        const double t = std::clamp((y - spec.yMin) / (spec.yMax - spec.yMin), 0.0, 1.0);
        return top + plotH - static_cast<int>(std::lround(t * plotH));
    };
    const Rgb axis = {0, 0, 0}, grid = {225, 225, 225};
    for (int k = 0; k <= 4; ++k) {
        const double y = spec.yMin + (spec.yMax - spec.yMin) * k / 4;
        canvas.line(left, py(y), left + plotW, py(y), grid);
        const std::string s = format(y);
        canvas.text(left - 6 - textWidth(s), py(y) - kCharH / 2, s);
    }
    const std::vector<double>& ticks =
        !spec.xTicks.empty() || spec.series.empty() ? spec.xTicks : spec.series.front().x;
    for (double x : ticks) {
        canvas.line(px(x), top, px(x), top + plotH, grid);
        const std::string s = format(x);
        canvas.text(px(x) - textWidth(s) / 2, top + plotH + 4, s);
    }
    canvas.line(left, top + plotH, left + plotW, top + plotH, axis);
    canvas.line(left, top, left, top + plotH, axis);
    canvas.text(left + plotW / 2 - textWidth(spec.xLabel) / 2, top + plotH + 4 + kCharH + 6, spec.xLabel);
    canvas.text(12, top + plotH / 2 + textWidth(spec.yLabel) / 2, spec.yLabel, axis, true);
    for (size_t s = 0; s < spec.series.size(); ++s) {
        const LineSeries& series = spec.series[s];
        const double t = spec.series.size() > 1 ? static_cast<double>(s) / (spec.series.size() - 1) * 0.85 : 0.0;
        const Rgb color = colormapColor(ColormapName::Viridis, t);
        for (size_t i = 0; i + 1 < series.x.size(); ++i)
            canvas.line(px(series.x[i]), py(series.y[i]), px(series.x[i + 1]), py(series.y[i + 1]), color);
        for (size_t i = 0; i < series.x.size(); ++i) canvas.rect(px(series.x[i]) - 3, py(series.y[i]) - 3, 7, 7, color);
        const int ly = top + 10 + static_cast<int>(s) * (kCharH + 8);
        canvas.rect(left + plotW + 16, ly, 14, kCharH, color);
        canvas.text(left + plotW + 36, ly, series.name);
    }
    return canvas.image;
}

}  // namespace attnscope::cli::figures
