// See analysis-output.h. Numbers are written with 8 significant digits, enough to compare runs.
#include "analysis-output.h"

#include <sstream>

#include "cli-common.h"

namespace attnscope::cli {

namespace {

std::string tokenText(const CaptureInfo& info, int j) {
    return j < static_cast<int>(info.tokens.text.size()) ? displayToken(info.tokens.text[j]) : std::string();
}

std::ostringstream csvStream() {
    std::ostringstream out;
    out.precision(8);
    return out;
}

}  // namespace

analysis::HeadSource captureHeadSource(const CaptureReader& reader) {
    return [&reader](int layer, int head) { return reader.loadHead(layer, head); };
}

analysis::ModelShape captureShape(const CaptureInfo& info) { return {info.numLayers, info.numQueryHeads}; }

std::string csvField(const std::string& text) {
    if (text.find_first_of(",\"\n") == std::string::npos) return text;
    std::string out = "\"";
    for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string sinkHeadsCsv(const analysis::ModelSinkReport& report) {
    std::ostringstream out = csvStream();
    out << "layer,head,token0_mean,above_epsilon,top_token,top_token_mean,value_norm_ratio_token0,"
           "key_bias_gap_mean,key_bias_gap_std,key_bias_rows\n";
    for (const auto& h : report.heads)
        out << h.layer << "," << h.head << "," << h.token0Mean << "," << (h.token0Mean > report.options.epsilon ? 1 : 0)
            << "," << h.topToken << "," << h.meanReceived[h.topToken] << "," << h.valueNormRatio[0] << ","
            << h.keyBiasGapMean << "," << h.keyBiasGapStd << "," << h.keyBiasRows << "\n";
    return out.str();
}

std::string sinkTokensCsv(const analysis::ModelSinkReport& report, const CaptureInfo& info) {
    std::ostringstream out = csvStream();
    const int T = report.seqLen;
    out << "layer,token,text,mean_received,ratio_to_uniform,value_norm_ratio\n";
    for (int l = 0; l < report.shape.numLayers; ++l)
        for (int j = 0; j < T; ++j) {
            const size_t at = static_cast<size_t>(l) * T + j;
            out << l << "," << j << "," << csvField(tokenText(info, j)) << "," << report.layerTokenReceived[at] << ","
                << report.layerTokenRatio[at] << "," << report.layerTokenValueNorm[at] << "\n";
        }
    return out.str();
}

std::string nonInitialSinksCsv(const analysis::ModelSinkReport& report, const CaptureInfo& info) {
    std::ostringstream out = csvStream();
    out << "token,text,first_layer,last_layer,layer_count,peak_ratio,peak_layer\n";
    for (const auto& s : report.nonInitialSinks)
        out << s.token << "," << csvField(tokenText(info, s.token)) << "," << s.firstLayer << "," << s.lastLayer << ","
            << s.layerCount << "," << s.peakRatio << "," << s.peakLayer << "\n";
    return out.str();
}

nlohmann::json sinkJson(const analysis::ModelSinkReport& report, const CaptureInfo& info) {
    nlohmann::json j;
    j["file"] = info.path;
    j["model"] = info.model;
    j["seq_len"] = report.seqLen;
    j["layers"] = report.shape.numLayers;
    j["heads"] = report.shape.numHeads;
    j["epsilon"] = report.options.epsilon;
    j["kappa"] = report.options.kappa;
    j["min_queries"] = report.options.minQueries;
    j["sink_epsilon"] = report.sinkEpsilon;
    nlohmann::json heads = nlohmann::json::array();
    for (const auto& h : report.heads)
        heads.push_back({{"layer", h.layer},
                         {"head", h.head},
                         {"token0_mean", h.token0Mean},
                         {"top_token", h.topToken},
                         {"top_token_mean", h.meanReceived[h.topToken]},
                         {"value_norm_ratio_token0", h.valueNormRatio[0]},
                         {"key_bias_gap_mean", h.keyBiasGapMean},
                         {"key_bias_gap_std", h.keyBiasGapStd},
                         {"key_bias_rows", h.keyBiasRows}});
    j["per_head"] = heads;
    nlohmann::json sinks = nlohmann::json::array();
    for (const auto& s : report.nonInitialSinks)
        sinks.push_back({{"token", s.token},
                         {"text", tokenText(info, s.token)},
                         {"first_layer", s.firstLayer},
                         {"last_layer", s.lastLayer},
                         {"layer_count", s.layerCount},
                         {"peak_ratio", s.peakRatio},
                         {"peak_layer", s.peakLayer}});
    j["non_initial_sinks"] = sinks;
    nlohmann::json ratio = nlohmann::json::array();
    for (int l = 0; l < report.shape.numLayers; ++l)
        ratio.push_back(std::vector<double>(report.layerTokenRatio.begin() + static_cast<long>(l) * report.seqLen,
                                            report.layerTokenRatio.begin() + static_cast<long>(l + 1) * report.seqLen));
    j["layer_token_ratio"] = ratio;
    return j;
}

}  // namespace attnscope::cli
