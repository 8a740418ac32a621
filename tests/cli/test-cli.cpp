// attnscope-cli end to end: every subcommand on a capture written by the writer (synthetic
// random activations, for testing only), checked against the engine's own results; exit codes
// and messages for bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "attnscope/colormap.h"
#include "attnscope/cpu-backend.h"
#include "attnscope/io/capture-reader.h"
#include "attnscope/io/capture-writer.h"
#include "attnscope/variant.h"
#include "cli-test-runner.h"
#include "stb_image.h"

namespace attnscope {
namespace {

using testing::CliResult;
using testing::runCli;

// A 2-layer GQA capture (4 query heads, 2 KV heads, T = 150, d = 32) of seeded random values,
// labelled synthetic in its model attribute.
std::string syntheticCapture() {
    static const std::string path = std::string(ATTNSCOPE_TEST_DATA_DIR) + "/cli-synthetic.h5";
    static bool written = false;
    if (written) return path;
    std::filesystem::create_directories(ATTNSCOPE_TEST_DATA_DIR);
    CaptureInfo info;
    info.model = "synthetic-random (test data, not a trained model)";
    info.modelType = "synthetic";
    info.causal = true;
    info.softmaxScale = 1.0 / std::sqrt(32.0);
    info.numLayers = 2;
    info.numQueryHeads = 4;
    info.numKvHeads = 2;
    info.headDim = 32;
    info.valueDim = 32;
    info.seqLen = 150;
    info.storage = StorageType::Float32;
    for (int t = 0; t < 150; ++t) {
        info.tokens.ids.push_back(1000 + t);
        info.tokens.text.push_back(t == 0 ? "<s>" : "tok" + std::to_string(t));
        info.tokens.special.push_back(t == 0);
    }
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.5f);
    std::vector<LayerTensors> layers(2);
    for (LayerTensors& l : layers) {
        l.q.resize(4 * 150 * 32);
        l.k.resize(2 * 150 * 32);
        l.v.resize(2 * 150 * 32);
        for (float& x : l.q) x = normal(rng);
        for (float& x : l.k) x = normal(rng);
        for (float& x : l.v) x = normal(rng);
    }
    writeCapture(path, info, layers);
    written = true;
    return path;
}

HeadStatistics engineStats(const HeadTensors& head) { return CpuBackend(2).computeStatistics(head, {}); }

TEST(Cli, InfoShowsModelShapesAndTokens) {
    const CliResult r = runCli({"info", syntheticCapture()});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("synthetic-random"), std::string::npos);
    EXPECT_NE(r.out.find("layers:        2"), std::string::npos);
    EXPECT_NE(r.out.find("4 query, 2 key/value (GQA"), std::string::npos);
    EXPECT_NE(r.out.find("tokens:        150"), std::string::npos);
    EXPECT_NE(r.out.find("\"<s>\" [special]"), std::string::npos);
    const CliResult j = runCli({"info", syntheticCapture(), "--json", "--tokens", "-1"});
    ASSERT_EQ(j.code, 0);
    const auto doc = nlohmann::json::parse(j.out);
    EXPECT_EQ(doc["num_kv_heads"], 2);
    EXPECT_EQ(doc["tokens"].size(), 150u);
    EXPECT_EQ(doc["tokens"][5]["text"], "tok5");
}

TEST(Cli, StatsMatchTheEngine) {
    const CliResult r = runCli({"stats", syntheticCapture(), "-l", "1", "-H", "3", "--json", "--arrays", "--top", "5"});
    ASSERT_EQ(r.code, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    const HeadTensors head = CaptureReader::open(syntheticCapture()).loadHead(1, 3);
    EXPECT_EQ(head.kvHead, 1);
    const HeadStatistics stats = engineStats(head);
    EXPECT_EQ(doc["kv_head"], 1);
    EXPECT_NEAR(doc["attention_to_token0"].get<double>(), stats.columnSums[0] / 150.0, 1e-12);
    for (int i = 0; i < 150; ++i) EXPECT_NEAR(doc["row_lse_values"][i].get<double>(), stats.rowLse[i], 1e-12);
    const auto& top = doc["top_receivers"];
    ASSERT_EQ(top.size(), 5u);
    for (size_t r2 = 1; r2 < top.size(); ++r2)
        EXPECT_GE(top[r2 - 1]["column_sum"].get<double>(), top[r2]["column_sum"].get<double>());
    const CliResult text = runCli({"stats", syntheticCapture(), "-l", "0", "-H", "0"});
    ASSERT_EQ(text.code, 0);
    EXPECT_NE(text.out.find("entropy:"), std::string::npos);
    EXPECT_NE(text.out.find("token 0 (\"<s>\")"), std::string::npos);
}

TEST(Cli, RenderPixelsAreTheEngineTileThroughTheColormap) {
    const std::string png = std::string(ATTNSCOPE_TEST_DATA_DIR) + "/cli-render.png";
    const std::string csv = std::string(ATTNSCOPE_TEST_DATA_DIR) + "/cli-render.csv";
    for (bool log : {false, true}) {
        std::vector<std::string> args = {"render", syntheticCapture(), "-l", "0", "-H", "2", "--size", "64", "-o", png,
                                         "--values", csv, "--colormap", "magma"};
        if (log) args.push_back("--log");
        const CliResult r = runCli(args);
        ASSERT_EQ(r.code, 0) << r.err;
        const HeadTensors head = CaptureReader::open(syntheticCapture()).loadHead(0, 2);
        CpuBackend backend(2);
        const HeadStatistics stats = engineStats(head);
        const PooledTile tile = backend.computeTile(head, stats, {0, 150, 0, 150, 64, 64, Pooling::Mean});
        const std::vector<uint8_t> expected =
            colorizeValues(tile.values, fitValueScale(tile.values, log, false), ColormapName::Magma);
        int w = 0, h = 0, channels = 0;
        unsigned char* pixels = stbi_load(png.c_str(), &w, &h, &channels, 3);
        ASSERT_NE(pixels, nullptr);
        ASSERT_EQ(w, 64);
        ASSERT_EQ(h, 64);
        EXPECT_EQ(std::vector<uint8_t>(pixels, pixels + 64 * 64 * 3), expected);
        stbi_image_free(pixels);
        // Upper triangle (masked) is the empty color; the diagonal is not.
        EXPECT_EQ(expected[(0 * 64 + 63) * 3], kEmptyPixelColor[0]);
        std::ifstream values(csv);
        std::string firstLine;
        std::getline(values, firstLine);
        EXPECT_NE(firstLine.find("nan"), std::string::npos);
    }
}

TEST(Cli, RenderVariantMaskAndRegion) {
    const std::string png = std::string(ATTNSCOPE_TEST_DATA_DIR) + "/cli-render-mask.png";
    const CliResult r = runCli({"render", syntheticCapture(), "-l", "1", "-H", "0", "--variant", "streaming-llm",
                                "--param", "window=8", "--param", "sinks=2", "--show", "mask", "--region",
                                "100:150,0:150", "--width", "150", "--height", "50", "-o", png});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("variant streaming-llm (sinks=2 window=8)"), std::string::npos);
    int w = 0, h = 0, channels = 0;
    unsigned char* pixels = stbi_load(png.c_str(), &w, &h, &channels, 3);
    ASSERT_NE(pixels, nullptr);
    ASSERT_EQ(w, 150);
    // One cell per pixel: row 120 (y = 20) keeps sinks 0,1 and keys 113..120 -> top color; key 50 is dropped.
    const Rgb kept = colormapColor(ColormapName::Viridis, 1.0), dropped = colormapColor(ColormapName::Viridis, 0.0);
    auto at = [&](int x, int y) { return Rgb{pixels[(y * w + x) * 3], pixels[(y * w + x) * 3 + 1], pixels[(y * w + x) * 3 + 2]}; };
    EXPECT_EQ(at(0, 20), kept);
    EXPECT_EQ(at(1, 20), kept);
    EXPECT_EQ(at(50, 20), dropped);
    EXPECT_EQ(at(113, 20), kept);
    EXPECT_EQ(at(112, 20), dropped);
    EXPECT_EQ(at(121, 20), kEmptyPixelColor);
    stbi_image_free(pixels);
}

TEST(Cli, CompareReachesTheDensityAndMatchesTheEngine) {
    const CliResult r = runCli({"compare", syntheticCapture(), "-l", "0", "-H", "1", "--variants",
                                "window,streaming-llm,topk,moba,linear-elu", "--density", "0.2", "--param", "moba.block=4",
                                "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    ASSERT_EQ(doc["variants"].size(), 5u);
    const HeadTensors head = CaptureReader::open(syntheticCapture()).loadHead(0, 1);
    CpuBackend backend(2);
    const HeadStatistics stats = engineStats(head);
    for (const auto& row : doc["variants"]) {
        const Variant& v = *findVariant(row["variant"].get<std::string>());
        ParamValues params = row["params"].get<ParamValues>();
        const VariantEvaluation eval = backend.evaluateVariant(head, stats, v.plan(head, params, backend));
        EXPECT_NEAR(row["recall"].get<double>(), eval.metrics.recall, 1e-12) << v.id();
        EXPECT_NEAR(row["output_error"].get<double>(), eval.metrics.outputError, 1e-12) << v.id();
        if (v.id() != "linear-elu") {
            EXPECT_NEAR(row["density"].get<double>(), 0.2, 0.05) << v.id();
        }
    }
    EXPECT_EQ(doc["variants"][4]["params"].size(), 0u);
    const CliResult csv = runCli({"compare", syntheticCapture(), "-l", "0", "-H", "1", "--variants", "topk", "--density",
                                  "0.1", "--csv"});
    ASSERT_EQ(csv.code, 0);
    EXPECT_EQ(csv.out.rfind("variant,params,density,recall", 0), 0u);
}

TEST(Cli, VariantsListsEveryVariantWithItsSource) {
    const CliResult r = runCli({"variants"});
    ASSERT_EQ(r.code, 0);
    for (const auto& v : variantRegistry()) EXPECT_NE(r.out.find(v->citation()), std::string::npos) << v->id();
}

TEST(Cli, BadInputExitsTwoWithAMessage) {
    const std::string missing = std::string(ATTNSCOPE_TEST_DATA_DIR) + "/does-not-exist.h5";
    CliResult r = runCli({"info", missing});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("does-not-exist.h5"), std::string::npos);

    r = runCli({"stats", syntheticCapture(), "-l", "5", "-H", "0"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("a layer in 0..1"), std::string::npos);
    r = runCli({"stats", syntheticCapture(), "-l", "0", "-H", "9"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("a query head in 0..3"), std::string::npos);

    const std::string png = std::string(ATTNSCOPE_TEST_DATA_DIR) + "/never.png";
    r = runCli({"render", syntheticCapture(), "-l", "0", "-H", "0", "--variant", "nope", "-o", png});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("unknown variant 'nope'"), std::string::npos);
    r = runCli({"render", syntheticCapture(), "-l", "0", "-H", "0", "--variant", "window", "--param", "window=-3", "-o", png});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("must be in [1,"), std::string::npos);
    r = runCli({"render", syntheticCapture(), "-l", "0", "-H", "0", "--region", "5:2,0:9", "-o", png});
    EXPECT_EQ(r.code, 2);
    EXPECT_FALSE(std::filesystem::exists(png));

    r = runCli({"stats", syntheticCapture()});  // missing -l/-H
    EXPECT_EQ(r.code, 2);
    r = runCli({});
    EXPECT_EQ(r.code, 2);
    r = runCli({"render", "--help"});
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("--variant"), std::string::npos);

    // Not an HDF5 file at all.
    const std::string text = std::string(ATTNSCOPE_TEST_DATA_DIR) + "/not-a-capture.h5";
    std::ofstream(text) << "hello";
    r = runCli({"info", text});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("not-a-capture.h5"), std::string::npos);
}

}  // namespace
}  // namespace attnscope
