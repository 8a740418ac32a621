// End to end: the real app under xvfb-run (Mesa lavapipe) driven by its --self-test script on the
// bundled MiniLM capture. Assertions read the screenshots it saves: map colors, colorbar gradient,
// docks present, token label text rendered, the split view's mask overlay, plus the exports.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stb_image.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "attnscope/colormap.h"
#include "attnscope/io/capture-writer.h"

using namespace attnscope;
namespace fs = std::filesystem;

namespace {

struct Image {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;
    const uint8_t* at(int x, int y) const { return &rgb[(static_cast<size_t>(y) * width + x) * 3]; }
};

Image load(const fs::path& path) {
    Image image;
    int channels = 0;
    unsigned char* data = stbi_load(path.c_str(), &image.width, &image.height, &channels, 3);
    if (data) {
        image.rgb.assign(data, data + static_cast<size_t>(image.width) * image.height * 3);
        stbi_image_free(data);
    }
    return image;
}

struct Rect {
    int x, y, w, h;
};
Rect rectOf(const nlohmann::json& j) {
    return {static_cast<int>(j["x"].get<double>()), static_cast<int>(j["y"].get<double>()),
            static_cast<int>(j["w"].get<double>()), static_cast<int>(j["h"].get<double>())};
}

// Distance from a pixel to the nearest entry of a colormap.
int colormapDistance(const uint8_t* p, ColormapName map) {
    int best = 1 << 30;
    for (int i = 0; i < 256; ++i) {
        const Rgb c = colormapColor(map, i / 255.0);
        const int d = std::abs(p[0] - c[0]) + std::abs(p[1] - c[1]) + std::abs(p[2] - c[2]);
        best = std::min(best, d);
    }
    return best;
}

double fractionOnColormap(const Image& image, const Rect& r, ColormapName map) {
    long on = 0, total = 0;
    for (int y = r.y + 2; y < r.y + r.h - 2; y += 2)
        for (int x = r.x + 2; x < r.x + r.w - 2; x += 2) {
            ++total;
            if (colormapDistance(image.at(x, y), map) <= 6) ++on;
        }
    return total ? static_cast<double>(on) / total : 0.0;
}

double meanLuminance(const Image& image, const Rect& r) {
    double sum = 0;
    long n = 0;
    for (int y = r.y; y < r.y + r.h; ++y)
        for (int x = r.x; x < r.x + r.w; ++x) {
            const uint8_t* p = image.at(x, y);
            sum += 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
            ++n;
        }
    return n ? sum / n : 0.0;
}

// Pixels that differ clearly from the region's most common color: text, widgets, drawings.
long detailPixels(const Image& image, const Rect& r) {
    std::map<uint32_t, long> counts;
    for (int y = r.y; y < r.y + r.h; ++y)
        for (int x = r.x; x < r.x + r.w; ++x) {
            const uint8_t* p = image.at(x, y);
            ++counts[(p[0] << 16) | (p[1] << 8) | p[2]];
        }
    uint32_t background = 0;
    long most = 0;
    for (const auto& [color, n] : counts)
        if (n > most) {
            most = n;
            background = color;
        }
    long detail = 0;
    for (int y = r.y; y < r.y + r.h; ++y)
        for (int x = r.x; x < r.x + r.w; ++x) {
            const uint8_t* p = image.at(x, y);
            const int d = std::abs(p[0] - static_cast<int>(background >> 16)) +
                          std::abs(p[1] - static_cast<int>((background >> 8) & 255)) + std::abs(p[2] - static_cast<int>(background & 255));
            if (d > 120) ++detail;
        }
    return detail;
}

// Runs the app's self-test on `capture`, screenshots and report.json into artifacts/<name>/.
int runSelfTest(const std::string& name, const std::string& capture, fs::path& dir, nlohmann::json& report) {
    dir = fs::path(ATTNSCOPE_ARTIFACTS_DIR) / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ostringstream cmd;
    cmd << "xvfb-run -a -s '-screen 0 1600x1000x24' '" << ATTNSCOPE_APP << "' --self-test '" << dir.string() << "' '"
        << capture << "' > '" << (dir / "app.log").string() << "' 2>&1";
    const int status = std::system(cmd.str().c_str());
    std::ifstream in(dir / "report.json");
    if (in) report = nlohmann::json::parse(in, nullptr, false);
    return status;
}

// A 4096-token bidirectional capture (2 layers x 2 heads) with local and sink structure: large enough
// that the whole-map view uses many exact tiles at a coarse level and zooming walks the quadtree.
std::string writeLongCapture(const fs::path& path) {
    const int T = 4096, d = 32, layers = 2, heads = 2;
    CaptureInfo info;
    info.model = "test/long-synthetic";
    info.modelType = "llama";
    info.source = "attnscope app tests";
    info.created = "2025-01-01T00:00:00Z";
    info.causal = false;
    info.softmaxScale = 1.0 / std::sqrt(static_cast<double>(d));
    info.numLayers = layers;
    info.numQueryHeads = heads;
    info.numKvHeads = heads;
    info.headDim = d;
    info.valueDim = d;
    info.seqLen = T;
    info.storage = StorageType::Float16;
    const char* words[] = {"the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog", "."};
    for (int t = 0; t < T; ++t) {
        info.tokens.ids.push_back(t);
        info.tokens.text.emplace_back(words[t % 10]);
        info.tokens.special.push_back(0);
    }
    std::vector<LayerTensors> tensors;
    for (int l = 0; l < layers; ++l) {
        LayerTensors layer;
        layer.q.resize(static_cast<size_t>(heads) * T * d);
        layer.k.resize(layer.q.size());
        layer.v.resize(layer.q.size());
        for (int h = 0; h < heads; ++h)
            for (int t = 0; t < T; ++t)
                for (int i = 0; i < d; ++i) {
                    const size_t at = (static_cast<size_t>(h) * T + t) * d + i;
                    // Rotary-like position features make nearby tokens attend to each other; dimension 0
                    // makes token 0 a sink.
                    const double freq = std::pow(0.8, i / 2) * (1 + l + h);
                    const double phase = t * freq * 0.05;
                    layer.q[at] = static_cast<float>(3.0 * (i % 2 ? std::sin(phase) : std::cos(phase)));
                    layer.k[at] = static_cast<float>(3.0 * (i % 2 ? std::sin(phase) : std::cos(phase)));
                    if (i == 0) {
                        layer.q[at] = 2.0f;
                        layer.k[at] = t == 0 ? 12.0f : 0.0f;
                    }
                    layer.v[at] = static_cast<float>(std::sin(0.37 * t + i));
                }
        tensors.push_back(std::move(layer));
        info.layers.push_back({});
    }
    writeCapture(path.string(), info, tensors);
    return path.string();
}

class AppEndToEnd : public ::testing::Test {
protected:
    static void SetUpTestSuite() { s_status = runSelfTest("e2e", ATTNSCOPE_SAMPLE, s_dir, s_report); }
    void SetUp() override {
        if (std::system("command -v xvfb-run > /dev/null 2>&1") != 0) GTEST_SKIP() << "xvfb-run is not installed";
        ASSERT_EQ(s_status, 0) << "the app's self-test failed; see " << (s_dir / "app.log") << " and report.json";
        ASSERT_TRUE(s_report.is_object());
    }
    static const nlohmann::json& shot(const std::string& name) { return s_report["screenshots"][name]; }

    static inline fs::path s_dir;
    static inline int s_status = -1;
    static inline nlohmann::json s_report;
};

}  // namespace

TEST_F(AppEndToEnd, ScriptRanToTheEnd) {
    EXPECT_EQ(s_report["exit_code"], 0);
    EXPECT_FALSE(s_report.contains("failed"));
    EXPECT_EQ(s_report["head"]["layer"], 2);
    EXPECT_EQ(s_report["head"]["head"], 4);
    EXPECT_EQ(s_report["head"]["tokens"], 204);
    // A head seen for the first time computes its statistics; the script ends by switching back
    // to the first head, whose statistics come from the session's cache.
    EXPECT_FALSE(s_report["head_switch_reused_statistics"].get<bool>());
    EXPECT_TRUE(s_report["head_switch_back_reused_statistics"].get<bool>());
    EXPECT_GT(s_report["head_switch_back_ms"].get<double>(), 0.0);
}

TEST_F(AppEndToEnd, ZoomedMapShowsViridisColorsAndTokenLabels) {
    const nlohmann::json& s = shot("02-zoomed.png");
    const Image image = load(s["path"].get<std::string>());
    ASSERT_GT(image.width, 0);
    EXPECT_EQ(image.width, s["window"]["w"].get<double>());
    const Rect pane = rectOf(s["panes"][0]);
    // The map fills the pane when zoomed in; the HUD may cover its lower right corner.
    const Rect upperLeft{pane.x, pane.y, pane.w / 2, pane.h / 2};
    EXPECT_GT(fractionOnColormap(image, upperLeft, ColormapName::Viridis), 0.9);
    EXPECT_GE(s["pixels_per_cell"].get<double>(), 11.0);
    EXPECT_GE(s["labels_drawn"].get<int>(), 10);
    // Label text: light pixels on the dark background left of and above the map.
    EXPECT_GT(detailPixels(image, rectOf(s["query_labels"])), 300);
    EXPECT_GT(detailPixels(image, rectOf(s["key_labels"])), 300);
}

TEST_F(AppEndToEnd, ColorbarIsAViridisGradientTopToBottom) {
    const nlohmann::json& s = shot("app-screenshot.png");
    const Image image = load(s["path"].get<std::string>());
    const Rect bar = rectOf(s["colorbar"]);
    const int x = bar.x + bar.w / 2;
    const uint8_t* top = image.at(x, bar.y + 1);
    const uint8_t* bottom = image.at(x, bar.y + bar.h - 2);
    EXPECT_LE(colormapDistance(top, ColormapName::Viridis), 6);
    EXPECT_LE(colormapDistance(bottom, ColormapName::Viridis), 6);
    const Rgb yellow = colormapColor(ColormapName::Viridis, 1.0), purple = colormapColor(ColormapName::Viridis, 0.0);
    EXPECT_LE(std::abs(top[0] - yellow[0]) + std::abs(top[1] - yellow[1]) + std::abs(top[2] - yellow[2]), 30);
    EXPECT_LE(std::abs(bottom[0] - purple[0]) + std::abs(bottom[1] - purple[1]) + std::abs(bottom[2] - purple[2]), 30);
    std::set<uint32_t> distinct;
    for (int y = bar.y; y < bar.y + bar.h; ++y) {
        const uint8_t* p = image.at(x, y);
        distinct.insert((p[0] << 16) | (p[1] << 8) | p[2]);
    }
    EXPECT_GT(distinct.size(), 100u);
    EXPECT_GT(detailPixels(image, {bar.x + bar.w + 2, bar.y, 60, bar.h}), 100);  // tick labels
}

TEST_F(AppEndToEnd, DocksArePresentWithContent) {
    const nlohmann::json& s = shot("app-screenshot.png");
    const Image image = load(s["path"].get<std::string>());
    for (const char* name : {"modelDock", "variantDock", "inspectorDock"}) {
        const nlohmann::json& d = s["docks"][name];
        ASSERT_TRUE(d.is_object()) << name;
        EXPECT_TRUE(d["visible"].get<bool>()) << name;
        const Rect r = rectOf(d);
        EXPECT_GT(r.w, 100) << name;
        EXPECT_GT(r.h, 100) << name;
        EXPECT_GT(detailPixels(image, r), 500) << name << " looks empty";
    }
    // The overview grid is colored by the computed metric: viridis cells in the model dock.
    const Rect model = rectOf(s["docks"]["modelDock"]);
    EXPECT_GT(fractionOnColormap(image, {model.x + 40, model.y + 80, model.w - 60, model.h - 120}, ColormapName::Viridis), 0.5);
}

TEST_F(AppEndToEnd, SplitViewDimsWhatTheVariantDrops) {
    const nlohmann::json& s = shot("03-variant-split.png");
    ASSERT_EQ(s["panes"].size(), 2u);
    const Image image = load(s["path"].get<std::string>());
    const Rect left = rectOf(s["panes"][0]), right = rectOf(s["panes"][1]);
    // Zoomed near the start of the prompt with a 24-token window: the top rows lie inside the
    // window (kept, same colors in both panes), the lower-left cells lie outside it (dimmed on the
    // right). The regions avoid the hover readout and the HUD.
    auto band = [](const Rect& p, double y0, double y1) {
        return Rect{p.x, p.y + static_cast<int>(p.h * y0), p.w / 5, static_cast<int>(p.h * (y1 - y0))};
    };
    EXPECT_GT(fractionOnColormap(image, band(left, 0.0, 0.3), ColormapName::Viridis), 0.9);
    EXPECT_GT(fractionOnColormap(image, band(right, 0.0, 0.3), ColormapName::Viridis), 0.9);
    EXPECT_NEAR(meanLuminance(image, band(right, 0.0, 0.3)), meanLuminance(image, band(left, 0.0, 0.3)), 3.0);
    EXPECT_GT(fractionOnColormap(image, band(left, 0.6, 0.95), ColormapName::Viridis), 0.9);
    EXPECT_LT(fractionOnColormap(image, band(right, 0.6, 0.95), ColormapName::Viridis), 0.5);
    EXPECT_LT(meanLuminance(image, band(right, 0.6, 0.95)), meanLuminance(image, band(left, 0.6, 0.95)) * 0.6);
}

TEST_F(AppEndToEnd, FrameTimesWereMeasuredWhilePanningAndZooming) {
    const nlohmann::json& frames = s_report["pan_zoom_frames"];
    ASSERT_TRUE(frames.is_object());
    EXPECT_GT(frames["count"].get<int>(), 20);
    EXPECT_GT(frames["median_ms"].get<double>(), 0.0);
    // The UI thread never computes: its event loop kept turning during the whole pan/zoom run.
    EXPECT_LT(s_report["ui_event_loop_gaps"]["max_ms"].get<double>(), 250.0);
}

TEST_F(AppEndToEnd, ExportsArePngAndCsv) {
    const Image exported = load(s_report["export_png"].get<std::string>());
    ASSERT_GT(exported.width, 0);
    EXPECT_TRUE(exported.width == 512 || exported.height == 512);
    EXPECT_GT(fractionOnColormap(exported, {0, 0, exported.width, exported.height}, ColormapName::Viridis), 0.95);
    std::ifstream csv(s_report["overview_csv"].get<std::string>());
    std::string line;
    int lines = 0, nan = 0;
    while (std::getline(csv, line)) {
        ++lines;
        if (line.find("nan") != std::string::npos) ++nan;
    }
    EXPECT_EQ(lines, 1 + 6 * 12);
    EXPECT_EQ(nan, 0);
}

// The same script on a 4096-token capture: the whole map is drawn from exact tiles at a coarse
// quadtree level, zooming walks down to cells, and the UI keeps turning.
class AppEndToEndLong : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        fs::create_directories(ATTNSCOPE_ARTIFACTS_DIR);
        const std::string capture = writeLongCapture(fs::path(ATTNSCOPE_ARTIFACTS_DIR) / "long-4096.h5");
        s_status = runSelfTest("e2e-long", capture, s_dir, s_report);
    }
    void SetUp() override {
        if (std::system("command -v xvfb-run > /dev/null 2>&1") != 0) GTEST_SKIP() << "xvfb-run is not installed";
        ASSERT_EQ(s_status, 0) << "the app's self-test failed; see " << (s_dir / "app.log");
        ASSERT_TRUE(s_report.is_object());
    }
    static inline fs::path s_dir;
    static inline int s_status = -1;
    static inline nlohmann::json s_report;
};

TEST_F(AppEndToEndLong, WholeMapAndZoomedCellsAreDrawn) {
    EXPECT_EQ(s_report["head"]["tokens"], 4096);
    EXPECT_EQ(s_report["head"]["layer"], 1);
    EXPECT_EQ(s_report["head"]["head"], 1);
    const nlohmann::json& opened = s_report["screenshots"]["01-opened.png"];
    const Image whole = load(opened["path"].get<std::string>());
    const Rect pane = rectOf(opened["panes"][0]);
    // Fit: the map is centred in the pane and square; sample its middle.
    const int side = std::min(pane.w, pane.h);
    const Rect middle{pane.x + pane.w / 2 - side / 4, pane.y + pane.h / 2 - side / 4, side / 2, side / 4};
    EXPECT_GT(fractionOnColormap(whole, middle, ColormapName::Viridis), 0.9);
    const nlohmann::json& zoomed = s_report["screenshots"]["02-zoomed.png"];
    const Image image = load(zoomed["path"].get<std::string>());
    const Rect z = rectOf(zoomed["panes"][0]);
    EXPECT_GT(fractionOnColormap(image, {z.x, z.y, z.w / 2, z.h / 2}, ColormapName::Viridis), 0.9);
    EXPECT_GE(zoomed["labels_drawn"].get<int>(), 10);
    EXPECT_GT(detailPixels(image, rectOf(zoomed["query_labels"])), 300);
    EXPECT_LT(s_report["ui_event_loop_gaps"]["max_ms"].get<double>(), 250.0);
    EXPECT_FALSE(s_report["head_switch_reused_statistics"].get<bool>());
    EXPECT_TRUE(s_report["head_switch_back_reused_statistics"].get<bool>());
}
