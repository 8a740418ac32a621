// The Vulkan map renderer on lavapipe with no display: tiles computed by the CPU engine from the
// bundled real capture are drawn texel-for-pixel into an offscreen image and compared with
// colorizeValues (the CLI's colors) pixel by pixel. Every rendered image is kept under
// build/tests/artifacts/. Skips when no Vulkan driver is present.
#include <gtest/gtest.h>

#include <stb_image_write.h>

#include <cmath>
#include <memory>
#include <string>

#include "attnscope/colormap.h"
#include "attnscope/cpu-backend.h"
#include "attnscope/io/capture-reader.h"
#include "attnscope/variant.h"
#include "headless-vulkan-target.h"
#include "map-renderer.h"

using namespace attnscope;
using namespace attnscope::views;

namespace {

struct Rendered {
    std::vector<uint8_t> rgba;
    int width = 0, height = 0;
    uint8_t at(int x, int y, int c) const { return rgba[(static_cast<size_t>(y) * width + x) * 4 + c]; }
};

void saveArtifact(const std::string& name, const Rendered& image) {
    const std::string path = std::string(ATTNSCOPE_ARTIFACTS_DIR) + "/" + name;
    stbi_write_png(path.c_str(), image.width, image.height, 4, image.rgba.data(), image.width * 4);
}

class MapRenderTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const CaptureReader reader = CaptureReader::open(std::string(ATTNSCOPE_SAMPLES_DIR) + "/minilm-l6-gettysburg.h5");
        s_head = std::make_unique<HeadTensors>(reader.loadHead(2, 4));
        s_backend = std::make_unique<CpuBackend>(2);
        s_dense = std::make_unique<HeadStatistics>(s_backend->computeStatistics(*s_head, {}));
    }
    static void TearDownTestSuite() {
        s_dense.reset();
        s_backend.reset();
        s_head.reset();
    }

    void SetUp() override {
        std::string error;
        m_target = std::make_unique<HeadlessVulkanTarget>();
        if (!m_target->create(kSize, kSize, &error)) GTEST_SKIP() << "no Vulkan: " << error;
        ASSERT_TRUE(m_renderer.initialize(m_target->physicalDevice(), m_target->device(), m_target->renderPass(),
                                          VK_SAMPLE_COUNT_1_BIT, &error))
            << error;
    }
    void TearDown() override {
        if (m_target && m_target->device()) {
            vkDeviceWaitIdle(m_target->device());
            m_renderer.shutdown();
        }
    }

    // Draws `items` on a dark background and reads the image back.
    Rendered render(std::vector<MapDrawItem> items) {
        VkCommandBuffer cmd = m_target->begin();
        m_renderer.recordUploads(cmd);
        m_target->beginRenderPass(cmd, 0.1f, 0.1f, 0.1f);
        m_renderer.draw(cmd, kSize, kSize, items);
        return {m_target->finish(cmd), kSize, kSize};
    }

    MapDrawItem itemFor(uint64_t texture, float x0, float y0, float x1, float y1, const MapColorParams& color) {
        MapDrawItem item;
        item.texture = texture;
        item.x0 = x0;
        item.y0 = y0;
        item.x1 = x1;
        item.y1 = y1;
        item.scissor = {{0, 0}, {static_cast<uint32_t>(kSize), static_cast<uint32_t>(kSize)}};
        item.color = color;
        return item;
    }

    // Max channel difference between the rendered tile (at offset) and colorizeValues.
    int compareWithCpu(const Rendered& image, const PooledTile& tile, const ValueScale& scale, ColormapName map,
                       int* mismatches) {
        const std::vector<uint8_t> expected = colorizeValues(tile.values, scale, map);
        int worst = 0;
        *mismatches = 0;
        for (int y = 0; y < tile.height; ++y)
            for (int x = 0; x < tile.width; ++x) {
                int diff = 0;
                for (int c = 0; c < 3; ++c)
                    diff = std::max(diff, std::abs(image.at(x, y, c) - expected[(static_cast<size_t>(y) * tile.width + x) * 3 + c]));
                worst = std::max(worst, diff);
                if (diff > 0) ++*mismatches;
            }
        return worst;
    }

    PooledTile denseTile(int width, Pooling pooling = Pooling::Mean) {
        TileRequest r;
        r.queryEnd = r.keyEnd = s_head->seqLen;
        r.width = r.height = width;
        r.pooling = pooling;
        return s_backend->computeTile(*s_head, *s_dense, r);
    }

    static constexpr int kSize = 256;
    static std::unique_ptr<HeadTensors> s_head;
    static std::unique_ptr<CpuBackend> s_backend;
    static std::unique_ptr<HeadStatistics> s_dense;
    std::unique_ptr<HeadlessVulkanTarget> m_target;
    MapRenderer m_renderer;
};

std::unique_ptr<HeadTensors> MapRenderTest::s_head;
std::unique_ptr<CpuBackend> MapRenderTest::s_backend;
std::unique_ptr<HeadStatistics> MapRenderTest::s_dense;

}  // namespace

// A cell-resolution tile (204 x 204 texels) drawn texel for pixel matches the CPU colors.
TEST_F(MapRenderTest, DenseTileLinearViridisMatchesCpuColors) {
    const PooledTile tile = denseTile(s_head->seqLen);
    const ValueScale scale = fitValueScale(tile.values, false, false);
    const uint64_t tex = m_renderer.createTexture(tile.width, tile.height, tile.values.data());
    ASSERT_NE(tex, 0u);
    MapColorParams color;
    color.maxValue = static_cast<float>(scale.maxValue);
    color.colormap = static_cast<int>(ColormapName::Viridis);
    const Rendered image = render({itemFor(tex, 0, 0, static_cast<float>(tile.width), static_cast<float>(tile.height), color)});
    saveArtifact("render-dense-linear-viridis.png", image);
    int mismatches = 0;
    // fp32 normalization in the shader vs fp64 on the CPU may pick the neighbouring table entry at a
    // rounding boundary; neighbouring viridis entries differ by a few units.
    EXPECT_LE(compareWithCpu(image, tile, scale, ColormapName::Viridis, &mismatches), 4);
    EXPECT_LE(mismatches, tile.width * tile.height / 100);
    // Outside the tile: the clear color (26, 26, 26).
    EXPECT_NEAR(image.at(kSize - 1, kSize - 1, 0), 26, 1);
}

TEST_F(MapRenderTest, DenseTileLogMagmaMaxPoolingMatchesCpuColors) {
    const PooledTile tile = denseTile(128, Pooling::Max);
    const ValueScale scale = fitValueScale(tile.values, true, false, 4.0);
    const uint64_t tex = m_renderer.createTexture(tile.width, tile.height, tile.values.data());
    MapColorParams color;
    color.maxValue = static_cast<float>(scale.maxValue);
    color.logarithmic = true;
    color.decades = 4.0f;
    color.colormap = static_cast<int>(ColormapName::Magma);
    const Rendered image = render({itemFor(tex, 0, 0, 128, 128, color)});
    saveArtifact("render-dense-log-magma-max.png", image);
    int mismatches = 0;
    EXPECT_LE(compareWithCpu(image, tile, scale, ColormapName::Magma, &mismatches), 6);
    EXPECT_LE(mismatches, tile.width * tile.height / 50);
}

// Signed difference map of a variant through the diverging colormap; zero is the middle color.
TEST_F(MapRenderTest, DifferenceTileDivergingMatchesCpuColors) {
    const Variant* variant = findVariant("streaming-llm");
    ASSERT_NE(variant, nullptr);
    const VariantPlan plan = variant->plan(*s_head, resolveParams(*variant, {{"window", 24}}), *s_backend);
    const VariantEvaluation eval = s_backend->evaluateVariant(*s_head, *s_dense, plan);
    TileRequest r;
    r.queryEnd = r.keyEnd = s_head->seqLen;
    r.width = r.height = 204;
    r.quantity = TileQuantity::Difference;
    const PooledTile tile = s_backend->computeTile(*s_head, *s_dense, r, &plan, &eval);
    const ValueScale scale = fitValueScale(tile.values, false, true);
    const uint64_t tex = m_renderer.createTexture(tile.width, tile.height, tile.values.data());
    MapColorParams color;
    color.maxValue = static_cast<float>(scale.maxValue);
    color.signedValues = true;
    color.colormap = static_cast<int>(ColormapName::Diverging);
    const Rendered image = render({itemFor(tex, 0, 0, 204, 204, color)});
    saveArtifact("render-difference-diverging.png", image);
    int mismatches = 0;
    EXPECT_LE(compareWithCpu(image, tile, scale, ColormapName::Diverging, &mismatches), 6);
    EXPECT_LE(mismatches, tile.width * tile.height / 50);
}

// A texture stretched 2x: nearest sampling repeats each texel on a 2x2 pixel block (zoomed-in cells).
TEST_F(MapRenderTest, StretchedTileRepeatsTexels) {
    const float values[4] = {0.0f, 1.0f, 0.5f, std::nanf("")};
    const uint64_t tex = m_renderer.createTexture(2, 2, values);
    MapColorParams color;
    const Rendered image = render({itemFor(tex, 10, 10, 110, 110, color)});
    saveArtifact("render-stretched-2x2.png", image);
    const Rgb low = colormapColor(ColormapName::Viridis, 0.0), high = colormapColor(ColormapName::Viridis, 1.0);
    const Rgb mid = colormapColor(ColormapName::Viridis, 0.5);
    for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(image.at(30, 30, c), low[c]);
        EXPECT_EQ(image.at(90, 30, c), high[c]);
        EXPECT_EQ(image.at(30, 90, c), mid[c]);
        EXPECT_EQ(image.at(90, 90, c), kEmptyPixelColor[c]);  // NaN: no visible cell
    }
    EXPECT_NEAR(image.at(5, 5, 0), 26, 1);  // outside the quad
}

// The mask overlay dims dropped cells (kept fraction 0) and leaves kept cells as they were.
TEST_F(MapRenderTest, MaskOverlayDimsDroppedCells) {
    const float dense[2] = {1.0f, 1.0f};
    const float kept[2] = {1.0f, 0.0f};
    const uint64_t denseTex = m_renderer.createTexture(2, 1, dense);
    const uint64_t keptTex = m_renderer.createTexture(2, 1, kept);
    MapColorParams color;
    MapDrawItem base = itemFor(denseTex, 0, 0, 200, 100, color);
    MapDrawItem overlay = itemFor(keptTex, 0, 0, 200, 100, color);
    overlay.maskOverlay = true;
    const Rendered image = render({base, overlay});
    saveArtifact("render-mask-overlay.png", image);
    const Rgb top = colormapColor(ColormapName::Viridis, 1.0);
    for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(image.at(50, 50, c), top[c]);                                 // kept: unchanged
        EXPECT_NEAR(image.at(150, 50, c), std::lround(top[c] * 0.3), 2);         // dropped: 70 % darker
    }
}

// Scissor keeps a quad inside its pane (split view panes share one framebuffer).
TEST_F(MapRenderTest, ScissorClipsToPane) {
    const float one = 1.0f;
    const uint64_t tex = m_renderer.createTexture(1, 1, &one);
    MapColorParams color;
    MapDrawItem item = itemFor(tex, -1000, -1000, 1000, 1000, color);
    item.scissor = {{64, 64}, {64, 32}};
    const Rendered image = render({item});
    saveArtifact("render-scissor.png", image);
    EXPECT_EQ(image.at(64, 64, 1), colormapColor(ColormapName::Viridis, 1.0)[1]);
    EXPECT_EQ(image.at(127, 95, 1), colormapColor(ColormapName::Viridis, 1.0)[1]);
    EXPECT_NEAR(image.at(63, 64, 1), 26, 1);
    EXPECT_NEAR(image.at(64, 96, 1), 26, 1);
}

TEST_F(MapRenderTest, ReleasedTexturesAreNotDrawnAndAreFreedAfterFramesInFlight) {
    const float one = 1.0f;
    const uint64_t tex = m_renderer.createTexture(1, 1, &one);
    m_renderer.setFramesInFlight(1);
    render({});
    m_renderer.releaseTexture(tex);
    EXPECT_EQ(m_renderer.textureCount(), 0u);
    MapColorParams color;
    const Rendered image = render({itemFor(tex, 0, 0, 256, 256, color)});
    EXPECT_NEAR(image.at(128, 128, 0), 26, 1);
}
