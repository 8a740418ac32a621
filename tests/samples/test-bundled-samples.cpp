// The bundled samples are real model activations: each opens cleanly, and for every /reference
// head the engine's dense probabilities and LSE (recomputed from the stored Q/K) match what the
// framework's eager attention produced when the capture was made.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "attnscope/analysis/sinks.h"
#include "attnscope/cpu-backend.h"
#include "attnscope/io/capture-reader.h"

namespace attnscope {
namespace {

std::vector<std::string> sampleFiles() {
    std::vector<std::string> files;
    std::stringstream list(ATTNSCOPE_SAMPLE_LIST);
    std::string path;
    while (std::getline(list, path, '|'))
        if (!path.empty()) files.push_back(path);
    return files;
}

// Tolerances for fp16/bf16 captures: the stored Q/K are rounded from the framework's fp32 values,
// so logits differ by about |s| * 2^-10; probabilities within 2e-3 absolute (the product target).
double probabilityTolerance(StorageType storage) { return storage == StorageType::Float32 ? 1e-5 : 2e-3; }
double lseTolerance(StorageType storage, double lse) {
    return storage == StorageType::Float32 ? 1e-5 * std::max(1.0, std::abs(lse)) : 2e-2 * std::max(1.0, std::abs(lse));
}

class BundledSample : public ::testing::TestWithParam<std::string> {};

TEST_P(BundledSample, OpensWithProvenanceAndReferences) {
    const CaptureReader reader = CaptureReader::open(GetParam());
    const CaptureInfo& info = reader.info();
    EXPECT_FALSE(info.model.empty());
    EXPECT_EQ(info.model.find("synthetic"), std::string::npos) << "bundled samples must be real activations";
    EXPECT_FALSE(info.source.empty());
    EXPECT_EQ(static_cast<int>(info.tokens.text.size()), info.seqLen);
    EXPECT_FALSE(info.references.empty()) << "bundled samples carry /reference golden values";
}

TEST_P(BundledSample, EngineMatchesFrameworkAttention) {
    const CaptureReader reader = CaptureReader::open(GetParam());
    const CaptureInfo& info = reader.info();
    CpuBackend backend;
    for (const ReferenceHeadInfo& refInfo : info.references) {
        SCOPED_TRACE(GetParam() + " reference " + refInfo.name);
        const ReferenceValues ref = reader.loadReference(refInfo.name);
        const HeadTensors head = reader.loadHead(ref.info.layer, ref.info.queryHead);
        StatisticsRequest request;
        request.columnSums = false;
        request.blocks = false;
        const HeadStatistics stats = backend.computeStatistics(head, request);
        const int T = info.seqLen;
        double worstProbability = 0.0, worstLse = 0.0;
        for (size_t r = 0; r < ref.rows.size(); ++r) {
            const int i = ref.rows[r];
            ASSERT_GE(i, 0);
            ASSERT_LT(i, T);
            EXPECT_NEAR(stats.rowLse[i], ref.lse[r], lseTolerance(info.storage, ref.lse[r])) << "row " << i;
            worstLse = std::max(worstLse, std::abs(stats.rowLse[i] - ref.lse[r]));
            // One cell per pixel: the tile of row i is the row's exact probabilities.
            const PooledTile row = backend.computeTile(head, stats, {i, i + 1, 0, T, T, 1, Pooling::Mean});
            for (int j = 0; j < T; ++j) {
                const float expected = ref.probs[r * T + j];
                const float actual = std::isnan(row.values[j]) ? 0.0f : row.values[j];
                ASSERT_NEAR(actual, expected, probabilityTolerance(info.storage)) << "row " << i << " key " << j;
                worstProbability = std::max(worstProbability, static_cast<double>(std::abs(actual - expected)));
            }
        }
        RecordProperty("worst_probability_error_" + refInfo.name, std::to_string(worstProbability));
        std::cout << "  " << std::filesystem::path(GetParam()).filename().string() << " " << refInfo.name
                  << ": worst |dp| " << worstProbability << ", worst |dLSE| " << worstLse << "\n";
    }
}

// Real trained models put much of their attention on the first token (StreamingLLM; Gu et al.):
// every bundled sample must show it in at least one head, measured over all heads by the sink
// analysis. Numbers per model are in docs/demo-lm.md and docs/analyses.md.
TEST_P(BundledSample, ShowsTheTokenZeroSink) {
    const CaptureReader reader = CaptureReader::open(GetParam());
    const CaptureInfo& info = reader.info();
    CpuBackend backend;
    const analysis::ModelSinkReport report = analysis::analyzeModelSinks(
        {info.numLayers, info.numQueryHeads}, [&](int l, int h) { return reader.loadHead(l, h); }, backend);
    double strongest = 0.0;
    for (const analysis::HeadSinkStats& head : report.heads) strongest = std::max(strongest, head.token0Mean);
    std::cout << "  " << std::filesystem::path(GetParam()).filename().string() << ": Sink_eps(0.3) "
              << report.sinkEpsilon << ", strongest head's mean attention to token 0 " << strongest << "\n";
    EXPECT_GT(report.sinkEpsilon, 0.0);
    EXPECT_GT(strongest, 0.3);
}

INSTANTIATE_TEST_SUITE_P(Samples, BundledSample, ::testing::ValuesIn(sampleFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             std::string name = std::filesystem::path(info.param).stem().string();
                             for (char& c : name)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return name;
                         });

TEST(BundledSamples, AtLeastOneSampleIsBundled) { EXPECT_FALSE(sampleFiles().empty()); }

}  // namespace
}  // namespace attnscope
