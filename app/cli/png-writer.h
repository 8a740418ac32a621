// RGB images to PNG bytes (stb_image_write) and an atomic PNG file writer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnscope::cli {

struct RgbImage {
    int width = 0;
    int height = 0;
    std::vector<uint8_t> pixels;  // [height, width, 3]
};

std::string encodePng(const RgbImage& image);
void writePng(const std::string& path, const RgbImage& image);

}  // namespace attnscope::cli
