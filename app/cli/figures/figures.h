// Paper-style figures drawn by the product into RGB buffers: labelled heatmaps (layer x head grids, sink
// strips, survival rasters) and line charts (sensitivity curves), with a tiny built-in bitmap font so
// the axes carry their labels. Colors come from the core colormaps, so figures match the GUI.
#pragma once

#include <string>
#include <vector>

#include "attnscope/colormap.h"
#include "png-writer.h"

namespace attnscope::cli::figures {

struct HeatmapSpec {
    std::string title;
    std::string xLabel;
    std::string yLabel;
    int rows = 0;
    int cols = 0;
    std::vector<double> values;  // [rows, cols]; NaN draws white
    ValueScale scale;
    ColormapName colormap = ColormapName::Viridis;
    int cellWidth = 0;   // 0: chosen so the map is about 600 px wide
    int cellHeight = 0;  // 0: likewise, about 400 px tall
};

struct LineSeries {
    std::string name;
    std::vector<double> x;
    std::vector<double> y;
};

struct LineChartSpec {
    std::string title;
    std::string xLabel;
    std::string yLabel;
    bool logX = false;
    double yMin = 0.0;
    double yMax = 1.0;
    std::vector<double> xTicks;  // grid lines and labels; empty: the first series' x values
    std::vector<LineSeries> series;
};

RgbImage drawHeatmap(const HeatmapSpec& spec);
RgbImage drawLineChart(const LineChartSpec& spec);

}  // namespace attnscope::cli::figures
