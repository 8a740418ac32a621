// PNG encoding through stb_image_write (libstb-dev); files are written atomically.
#include "png-writer.h"

#include <stdexcept>

#include "cli-common.h"
#include "stb_image_write.h"

namespace attnscope::cli {

std::string encodePng(const RgbImage& image) {
    std::string bytes;
    auto append = [](void* context, void* data, int size) {
        static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
    };
    if (!stbi_write_png_to_func(append, &bytes, image.width, image.height, 3, image.pixels.data(), image.width * 3))
        throw std::runtime_error("PNG encoding failed");
    return bytes;
}

void writePng(const std::string& path, const RgbImage& image) { writeFileAtomically(path, encodePng(image)); }

}  // namespace attnscope::cli
