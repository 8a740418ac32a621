// attnscope-cli analyses end to end (sinks, sensitivity, prune, report) on a planted capture written by
// the test (synthetic values with a token-0 sink in every head and a stripe at token 40 in layer 1; not
// a trained model), checked against the core analyses called directly on the same file.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "attnscope/analysis/kv-eviction.h"
#include "attnscope/analysis/model-overview.h"
#include "attnscope/analysis/sensitivity.h"
#include "attnscope/analysis/sinks.h"
#include "attnscope/cpu-backend.h"
#include "attnscope/io/capture-reader.h"
#include "attnscope/io/capture-writer.h"
#include "cli-test-runner.h"

namespace attnscope {
namespace {

using testing::CliResult;
using testing::runCli;

constexpr int kT = 96;
constexpr int kLayers = 3;
constexpr int kStripe = 40;

// 3 layers, 2 query heads sharing 1 KV head, d = 4, causal. Queries (1, n, n, n) with small noise n;
// key 0 = (4, 0, 0, 0) (a strong sink); in layer 1 key 40 = (4, 0, 0, 0) too; other keys (0, n, n, n).
std::string plantedCapture() {
    static const std::string path = std::string(ATTNSCOPE_TEST_DATA_DIR) + "/cli-analyses-planted.h5";
    static bool written = false;
    if (written) return path;
    std::filesystem::create_directories(ATTNSCOPE_TEST_DATA_DIR);
    CaptureInfo info;
    info.model = "planted-sink (synthetic test data, not a trained model)";
    info.modelType = "synthetic";
    info.causal = true;
    info.softmaxScale = 1.0;
    info.numLayers = kLayers;
    info.numQueryHeads = 2;
    info.numKvHeads = 1;
    info.headDim = 4;
    info.valueDim = 4;
    info.seqLen = kT;
    info.storage = StorageType::Float32;
    for (int t = 0; t < kT; ++t) {
        info.tokens.ids.push_back(t);
        info.tokens.text.push_back(t == 0 ? "<s>" : "w" + std::to_string(t));
        info.tokens.special.push_back(t == 0);
    }
    std::mt19937 rng(3);
    std::normal_distribution<float> noise(0.0f, 0.3f);
    std::vector<LayerTensors> layers(kLayers);
    for (int l = 0; l < kLayers; ++l) {
        LayerTensors& t = layers[l];
        t.q.resize(2 * kT * 4);
        t.k.resize(kT * 4);
        t.v.resize(kT * 4);
        for (int h = 0; h < 2; ++h)
            for (int i = 0; i < kT; ++i) {
                float* q = &t.q[(static_cast<size_t>(h) * kT + i) * 4];
                q[0] = 1.0f;
                for (int c = 1; c < 4; ++c) q[c] = noise(rng);
            }
        for (int j = 0; j < kT; ++j) {
            float* k = &t.k[static_cast<size_t>(j) * 4];
            const bool sink = j == 0 || (l == 1 && j == kStripe);
            k[0] = sink ? 4.0f : 0.0f;
            for (int c = 1; c < 4; ++c) k[c] = sink ? 0.0f : noise(rng);
            for (int c = 0; c < 4; ++c) t.v[static_cast<size_t>(j) * 4 + c] = std::cos(0.3f * j + c);
        }
    }
    writeCapture(path, info, layers);
    written = true;
    return path;
}

TEST(CliAnalyses, SinksJsonMatchesCoreAndFindsPlantedSinks) {
    const CliResult r = runCli({"sinks", plantedCapture(), "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    const CaptureReader reader = CaptureReader::open(plantedCapture());
    CpuBackend backend(2);
    const auto core = analysis::analyzeModelSinks({kLayers, 2}, [&](int l, int h) { return reader.loadHead(l, h); }, backend);
    EXPECT_DOUBLE_EQ(doc["sink_epsilon"].get<double>(), core.sinkEpsilon);
    EXPECT_DOUBLE_EQ(doc["sink_epsilon"].get<double>(), 1.0);  // every head: token 0 takes most of the mass
    ASSERT_EQ(doc["per_head"].size(), static_cast<size_t>(kLayers * 2));
    for (size_t i = 0; i < core.heads.size(); ++i)
        EXPECT_NEAR(doc["per_head"][i]["token0_mean"].get<double>(), core.heads[i].token0Mean, 1e-12);
    ASSERT_GE(doc["non_initial_sinks"].size(), 1u);
    EXPECT_EQ(doc["non_initial_sinks"][0]["token"], kStripe);
    EXPECT_EQ(doc["non_initial_sinks"][0]["first_layer"], 1);
    EXPECT_EQ(doc["non_initial_sinks"][0]["last_layer"], 1);
    // Judged on the far queries (i - 40 >= 32): the CLI document carries the window and both ratios.
    EXPECT_EQ(doc["local_window"], 32);
    EXPECT_EQ(doc["non_initial_sinks"][0]["far_queries"], kT - kStripe - 32);
    ASSERT_EQ(doc["layer_token_far_ratio"].size(), static_cast<size_t>(kLayers));
    ASSERT_EQ(doc["layer_token_ratio"].size(), static_cast<size_t>(kLayers));
    EXPECT_DOUBLE_EQ(doc["layer_token_far_ratio"][1][kStripe].get<double>(), core.layerTokenFarRatio[1 * kT + kStripe]);
    EXPECT_DOUBLE_EQ(doc["layer_token_ratio"][1][kStripe].get<double>(), core.layerTokenReceivedRatio[1 * kT + kStripe]);
    EXPECT_DOUBLE_EQ(doc["non_initial_sinks"][0]["peak_ratio"].get<double>(), core.nonInitialSinks[0].peakRatio);
    // --local-window reaches the analysis; a negative window is a usage error.
    const CliResult narrow = runCli({"sinks", plantedCapture(), "--json", "--local-window", "8"});
    ASSERT_EQ(narrow.code, 0) << narrow.err;
    const auto narrowDoc = nlohmann::json::parse(narrow.out);
    EXPECT_EQ(narrowDoc["local_window"], 8);
    EXPECT_EQ(narrowDoc["non_initial_sinks"][0]["far_queries"], kT - kStripe - 8);
    EXPECT_EQ(runCli({"sinks", plantedCapture(), "--local-window", "-1"}).code, 2);

    const CliResult csv = runCli({"sinks", plantedCapture(), "--csv"});
    ASSERT_EQ(csv.code, 0) << csv.err;
    EXPECT_EQ(csv.out.rfind("layer,head,token0_mean,", 0), 0u);
    EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 1 + kLayers * 2);
    const CliResult tokens = runCli({"sinks", plantedCapture(), "--csv", "--table", "tokens"});
    ASSERT_EQ(tokens.code, 0);
    EXPECT_EQ(std::count(tokens.out.begin(), tokens.out.end(), '\n'), 1 + kLayers * kT);
    EXPECT_EQ(tokens.out.rfind("layer,token,text,mean_received,ratio_to_uniform,value_norm_ratio,far_queries,"
                               "far_mean_received,far_ratio_to_uniform\n", 0),
              0u);
    const CliResult nonInitial = runCli({"sinks", plantedCapture(), "--csv", "--table", "non-initial"});
    ASSERT_EQ(nonInitial.code, 0);
    EXPECT_EQ(nonInitial.out.rfind("token,text,first_layer,last_layer,layer_count,peak_ratio,peak_layer,far_queries\n", 0), 0u);
    const CliResult text = runCli({"sinks", plantedCapture()});
    ASSERT_EQ(text.code, 0);
    EXPECT_NE(text.out.find("Sink_eps (eps=0.3000) = 1.0000"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("w40"), std::string::npos);
}

TEST(CliAnalyses, SensitivityMatchesCoreAndClassifiesPlantedSinkHeads) {
    const CliResult r = runCli({"sensitivity", plantedCapture(), "--json", "--variants", "window,topk", "--densities", "0.05,0.2"});
    ASSERT_EQ(r.code, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    const CaptureReader reader = CaptureReader::open(plantedCapture());
    CpuBackend backend(2);
    analysis::SensitivityOptions options;
    options.variants = {"window", "topk"};
    options.densities = {0.05, 0.2};
    const auto core = analysis::analyzeModelSensitivity({kLayers, 2}, [&](int l, int h) { return reader.loadHead(l, h); },
                                                        backend, options);
    ASSERT_EQ(doc["per_head"].size(), core.heads.size());
    for (size_t i = 0; i < core.heads.size(); ++i) {
        const auto& hj = doc["per_head"][i];
        EXPECT_EQ(hj["pattern"], analysis::patternClassName(core.heads[i].pattern.pattern));
        ASSERT_EQ(hj["points"].size(), 4u);
        for (size_t p = 0; p < 4; ++p) {
            EXPECT_DOUBLE_EQ(hj["points"][p]["recall"].get<double>(), core.heads[i].points[p].metrics.recall);
            EXPECT_DOUBLE_EQ(hj["points"][p]["output_error"].get<double>(), core.heads[i].points[p].metrics.outputError);
        }
        EXPECT_DOUBLE_EQ(hj["needed_density"]["topk"].get<double>(), core.heads[i].neededDensity[1]);
    }
    // Token 0 takes e^4 / (e^4 + i) of row i; the rest is spread evenly over noise keys, so no candidate
    // reaches 0.8 recall at 10 % density: diffuse, with the A-shape candidate the best of them.
    EXPECT_EQ(doc["per_head"][0]["pattern"], "diffuse");
    EXPECT_EQ(doc["per_head"][0]["candidates"][1]["pattern"], "a-shape");
    EXPECT_DOUBLE_EQ(doc["per_head"][0]["best_recall"].get<double>(), doc["per_head"][0]["candidates"][1]["recall"].get<double>());
    const CliResult heads = runCli({"sensitivity", plantedCapture(), "--csv", "--table", "heads", "--variants", "topk", "--densities", "0.1"});
    ASSERT_EQ(heads.code, 0) << heads.err;
    EXPECT_EQ(heads.out.rfind("layer,head,pattern,best_recall,needed_density_topk,", 0), 0u);
    const CliResult bad = runCli({"sensitivity", plantedCapture(), "--variants", "dense"});
    EXPECT_EQ(bad.code, 2);
    EXPECT_NE(bad.err.find("no budget"), std::string::npos);
}

// The overview command: JSON equals the core overview on the CPU, the planted token-0 sink shows as
// sink mass (token 0 takes e^4 / (e^4 + i) of row i, so more than half of the mean), dense recall is 1,
// CSV and heatmaps are written.
TEST(CliAnalyses, OverviewMatchesCoreAndShowsPlantedSink) {
    const CliResult r = runCli({"overview", plantedCapture(), "--json", "--variants", "dense,window,topk", "--density", "0.2"});
    ASSERT_EQ(r.code, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    const CaptureReader reader = CaptureReader::open(plantedCapture());
    CpuBackend backend(2);
    analysis::OverviewOptions options;
    options.variants = {"dense", "window", "topk"};
    options.density = 0.2;
    const auto core = analysis::analyzeModelOverview({kLayers, 2}, [&](int l) { return reader.loadLayer(l); }, backend, options);
    ASSERT_EQ(doc["per_head"].size(), core.heads.size());
    for (size_t i = 0; i < core.heads.size(); ++i) {
        const auto& hj = doc["per_head"][i];
        EXPECT_DOUBLE_EQ(hj["sink_mass"].get<double>(), core.heads[i].sinkMass);
        EXPECT_DOUBLE_EQ(hj["recall"]["topk"].get<double>(), core.heads[i].recall[2]);
        EXPECT_DOUBLE_EQ(hj["recall"]["dense"].get<double>(), core.heads[i].recall[0]);
        EXPECT_NEAR(core.heads[i].recall[0], 1.0, 1e-9);
        EXPECT_NEAR(hj["density"]["window"].get<double>(), 0.2, 0.02);
    }
    EXPECT_GT(doc["per_head"][0]["sink_mass"].get<double>(), 0.5);
    const CliResult csv = runCli({"overview", plantedCapture(), "--csv", "--variants", "window"});
    ASSERT_EQ(csv.code, 0) << csv.err;
    EXPECT_EQ(csv.out.rfind("layer,head,sink_mass,mean_entropy,recall_window,density_window\n", 0), 0u);
    EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 1 + kLayers * 2);
    const std::string dir = std::string(ATTNSCOPE_TEST_DATA_DIR) + "/overview-figures";
    std::filesystem::remove_all(dir);
    const CliResult figures = runCli({"overview", plantedCapture(), "--variants", "moba", "--figures", dir});
    ASSERT_EQ(figures.code, 0) << figures.err;
    for (const char* name : {"sink-mass.png", "entropy.png", "recall-moba.png"})
        EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(dir) / name)) << name;
    const CliResult bad = runCli({"overview", plantedCapture(), "--variants", "nope"});
    EXPECT_EQ(bad.code, 2);
    EXPECT_NE(bad.err.find("unknown variant"), std::string::npos) << bad.err;
}

TEST(CliAnalyses, PruneMatchesCoreAndKeepsPlantedSinks) {
    const CliResult r = runCli({"prune", plantedCapture(), "--policy", "h2o,streaming-llm,tova", "--budget", "0.25,8", "--json", "--kept"});
    ASSERT_EQ(r.code, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    const CaptureReader reader = CaptureReader::open(plantedCapture());
    CpuBackend backend(2);
    const auto core = analysis::analyzeEviction({kLayers, 2}, [&](int l, int h) { return reader.loadHead(l, h); }, backend,
                                                {analysis::EvictionPolicy::H2O, analysis::EvictionPolicy::StreamingLlm,
                                                 analysis::EvictionPolicy::Tova},
                                                {24, 8});
    ASSERT_EQ(doc["runs"].size(), 6u);
    for (size_t i = 0; i < 6; ++i) {
        EXPECT_EQ(doc["runs"][i]["budget"], core.runs[i].budget);
        EXPECT_DOUBLE_EQ(doc["runs"][i]["mean_retained_mass"].get<double>(), core.runs[i].meanRetainedMass);
        EXPECT_EQ(doc["runs"][i]["layers"][1][0]["kept"].get<std::vector<int>>(),
                  std::vector<int>(core.runs[i].heads[1][0].kept.begin(), core.runs[i].heads[1][0].kept.end()));
    }
    // TOVA at 8 keys: the last query's strongest keys are the planted ones (token 0; token 40 in layer 1).
    const auto tova = doc["runs"][5]["layers"][1][0]["kept"].get<std::vector<int>>();
    EXPECT_TRUE(std::find(tova.begin(), tova.end(), 0) != tova.end());
    EXPECT_TRUE(std::find(tova.begin(), tova.end(), kStripe) != tova.end());
    EXPECT_EQ(doc["observed_begin"], kT - 24);  // causal: the last min(64, T/4) queries
    const CliResult surv = runCli({"prune", plantedCapture(), "--policy", "streaming-llm", "--budget", "8", "--csv", "--table", "survival"});
    ASSERT_EQ(surv.code, 0) << surv.err;
    EXPECT_EQ(std::count(surv.out.begin(), surv.out.end(), '\n'), 1 + kT);
    EXPECT_NE(surv.out.find("\n0,<s>,1,1,1\n"), std::string::npos);
    const CliResult cls = runCli({"prune", plantedCapture(), "--policy", "cls", "--budget", "8"});
    EXPECT_EQ(cls.code, 2);
    EXPECT_NE(cls.err.find("bidirectional"), std::string::npos);
    const CliResult bad = runCli({"prune", plantedCapture(), "--policy", "nope", "--budget", "8"});
    EXPECT_EQ(bad.code, 2);
}

TEST(CliAnalyses, ReportWritesTablesAndFigures) {
    const std::string dir = std::string(ATTNSCOPE_TEST_DATA_DIR) + "/cli-analyses-report";
    std::filesystem::remove_all(dir);
    const CliResult r = runCli({"report", plantedCapture(), "-o", dir, "--variants", "topk", "--densities", "0.1,0.5",
                                "--policies", "streaming-llm,h2o", "--budgets", "8"});
    ASSERT_EQ(r.code, 0) << r.err;
    for (const char* name : {"sinks-heads.csv", "sinks-tokens.csv", "sinks-non-initial.csv", "sinks-token0-heatmap.png",
                             "sinks-strip.png", "sensitivity-points.csv", "sensitivity-heads.csv", "sensitivity-curves.csv",
                             "sensitivity-curves.png", "sensitivity-needed-topk.png", "sensitivity-pattern-classes.png",
                             "prune-summary.csv", "prune-heads.csv", "survival-streaming-llm-8.csv",
                             "survival-streaming-llm-8.png", "survival-h2o-8.png", "prune-retained.png"}) {
        const std::string path = dir + "/" + name;
        ASSERT_TRUE(std::filesystem::exists(path)) << name;
        EXPECT_GT(std::filesystem::file_size(path), 20u) << name;
    }
    // The tables are the same text the individual commands print.
    std::ifstream in(dir + "/sinks-heads.csv");
    const std::string heads((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(heads, runCli({"sinks", plantedCapture(), "--csv"}).out);
    // The report takes the sink options of the sinks command.
    const std::string dir8 = dir + "-window8";
    std::filesystem::remove_all(dir8);
    ASSERT_EQ(runCli({"report", plantedCapture(), "-o", dir8, "--local-window", "8", "--variants", "topk", "--densities",
                      "0.1", "--policies", "streaming-llm", "--budgets", "8"})
                  .code,
              0);
    std::ifstream nonInitial(dir8 + "/sinks-non-initial.csv");
    const std::string table((std::istreambuf_iterator<char>(nonInitial)), std::istreambuf_iterator<char>());
    EXPECT_EQ(table, runCli({"sinks", plantedCapture(), "--csv", "--table", "non-initial", "--local-window", "8"}).out);
    std::ifstream png(dir + "/sinks-strip.png", std::ios::binary);
    char magic[4] = {};
    png.read(magic, 4);
    EXPECT_EQ(std::string(magic + 1, 3), "PNG");
}

TEST(CliAnalyses, SinksRejectsMissingFile) {
    const CliResult r = runCli({"sinks", "/nonexistent/file.h5"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("error"), std::string::npos);
}

}  // namespace
}  // namespace attnscope
