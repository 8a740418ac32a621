// See analysis-output.h. Numbers are written with 8 significant digits, enough to compare runs.
#include "analysis-output.h"

#include <algorithm>
#include <cmath>
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
    // mean_received / ratio_to_uniform: all queries (not locality-corrected); far_*: the queries at distance
    // >= local window, far_ratio_to_uniform is the ratio that judges non-initial sinks.
    out << "layer,token,text,mean_received,ratio_to_uniform,value_norm_ratio,far_queries,far_mean_received,"
           "far_ratio_to_uniform\n";
    for (int l = 0; l < report.shape.numLayers; ++l)
        for (int j = 0; j < T; ++j) {
            const size_t at = static_cast<size_t>(l) * T + j;
            out << l << "," << j << "," << csvField(tokenText(info, j)) << "," << report.layerTokenReceived[at] << ","
                << report.layerTokenReceivedRatio[at] << "," << report.layerTokenValueNorm[at] << ","
                << report.layerTokenFarQueries[at] << "," << report.layerTokenFarReceived[at] << ","
                << report.layerTokenFarRatio[at] << "\n";
        }
    return out.str();
}

std::string nonInitialSinksCsv(const analysis::ModelSinkReport& report, const CaptureInfo& info) {
    std::ostringstream out = csvStream();
    out << "token,text,first_layer,last_layer,layer_count,peak_ratio,peak_layer,far_queries\n";
    for (const auto& s : report.nonInitialSinks)
        out << s.token << "," << csvField(tokenText(info, s.token)) << "," << s.firstLayer << "," << s.lastLayer << ","
            << s.layerCount << "," << s.peakRatio << "," << s.peakLayer << "," << s.farQueries << "\n";
    return out.str();
}

namespace {

// The fields every whole-model JSON document starts with.
nlohmann::json modelJson(const CaptureInfo& info, int seqLen, const analysis::ModelShape& shape) {
    return {{"file", info.path},
            {"model", info.model},
            {"seq_len", seqLen},
            {"layers", shape.numLayers},
            {"heads", shape.numHeads}};
}

}  // namespace

nlohmann::json sinkJson(const analysis::ModelSinkReport& report, const CaptureInfo& info) {
    nlohmann::json j = modelJson(info, report.seqLen, report.shape);
    j["epsilon"] = report.options.epsilon;
    j["kappa"] = report.options.kappa;
    j["local_window"] = report.options.localWindow;
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
                         {"peak_layer", s.peakLayer},
                         {"far_queries", s.farQueries}});
    j["non_initial_sinks"] = sinks;
    // [L][T] arrays. layer_token_ratio keeps its meaning (all queries, received / uniform level);
    // layer_token_far_ratio (far queries only) is the ratio that judges the non-initial sinks.
    auto layerRows = [&](const std::vector<double>& values) {
        nlohmann::json rows = nlohmann::json::array();
        for (int l = 0; l < report.shape.numLayers; ++l)
            rows.push_back(std::vector<double>(values.begin() + static_cast<long>(l) * report.seqLen,
                                               values.begin() + static_cast<long>(l + 1) * report.seqLen));
        return rows;
    };
    j["layer_token_ratio"] = layerRows(report.layerTokenReceivedRatio);
    j["layer_token_far_ratio"] = layerRows(report.layerTokenFarRatio);
    return j;
}

}  // namespace attnscope::cli

namespace attnscope::cli {

namespace {

std::string paramsText(const ParamValues& params) {
    std::string out;
    for (const auto& [name, value] : params) {
        std::ostringstream v;
        v << value;
        out += (out.empty() ? "" : " ") + name + "=" + v.str();
    }
    return out;
}

}  // namespace

std::string sensitivityPointsCsv(const analysis::ModelSensitivityReport& report) {
    std::ostringstream out = csvStream();
    out << "layer,head,variant,target_density,density,recall,output_error,oracle_recall,params\n";
    for (const auto& h : report.heads)
        for (const auto& p : h.points)
            out << h.layer << "," << h.head << "," << report.options.variants[p.variant] << "," << p.targetDensity << ","
                << p.metrics.density << "," << p.metrics.recall << "," << p.metrics.outputError << ","
                << p.metrics.oracleRecall << "," << csvField(paramsText(p.params)) << "\n";
    return out.str();
}

std::string sensitivityHeadsCsv(const analysis::ModelSensitivityReport& report) {
    std::ostringstream out = csvStream();
    out << "layer,head,pattern,best_recall";
    for (const std::string& v : report.options.variants) out << ",needed_density_" << v;
    out << ",recall_local,recall_a_shape,recall_vertical_slash,recall_block_sparse\n";
    for (const auto& h : report.heads) {
        out << h.layer << "," << h.head << "," << analysis::patternClassName(h.pattern.pattern) << "," << h.pattern.bestRecall;
        for (double d : h.neededDensity) {
            out << ",";
            if (!std::isnan(d)) out << d;
        }
        for (size_t c = 0; c < 4; ++c) {
            out << ",";
            if (c < h.pattern.candidates.size()) out << h.pattern.candidates[c].recall;
        }
        out << "\n";
    }
    return out.str();
}

std::string sensitivityCurvesCsv(const analysis::ModelSensitivityReport& report) {
    std::ostringstream out = csvStream();
    out << "variant,target_density,mean_density,mean_recall,min_recall,mean_output_error,max_output_error\n";
    const size_t nd = report.options.densities.size();
    for (size_t v = 0; v < report.options.variants.size(); ++v)
        for (size_t d = 0; d < nd; ++d) {
            double dens = 0, rec = 0, minRec = 1e300, err = 0, maxErr = 0;
            for (const auto& h : report.heads) {
                const VariantMetrics& m = h.points[v * nd + d].metrics;
                dens += m.density;
                rec += m.recall;
                minRec = std::min(minRec, m.recall);
                err += m.outputError;
                maxErr = std::max(maxErr, m.outputError);
            }
            const double n = static_cast<double>(report.heads.size());
            out << report.options.variants[v] << "," << report.options.densities[d] << "," << dens / n << "," << rec / n
                << "," << minRec << "," << err / n << "," << maxErr << "\n";
        }
    return out.str();
}

nlohmann::json sensitivityJson(const analysis::ModelSensitivityReport& report, const CaptureInfo& info) {
    nlohmann::json j = modelJson(info, report.seqLen, report.shape);
    j["variants"] = report.options.variants;
    j["densities"] = report.options.densities;
    j["recall_target"] = report.options.recallTarget;
    j["pattern_density"] = report.options.pattern.density;
    j["diffuse_recall"] = report.options.pattern.diffuseRecall;
    nlohmann::json heads = nlohmann::json::array();
    for (const auto& h : report.heads) {
        nlohmann::json hj;
        hj["layer"] = h.layer;
        hj["head"] = h.head;
        hj["pattern"] = analysis::patternClassName(h.pattern.pattern);
        hj["best_recall"] = h.pattern.bestRecall;
        nlohmann::json needed = nlohmann::json::object();
        for (size_t v = 0; v < h.neededDensity.size(); ++v)
            needed[report.options.variants[v]] = std::isnan(h.neededDensity[v]) ? nlohmann::json() : nlohmann::json(h.neededDensity[v]);
        hj["needed_density"] = needed;
        nlohmann::json cands = nlohmann::json::array();
        for (const auto& c : h.pattern.candidates)
            cands.push_back({{"pattern", analysis::patternClassName(c.pattern)},
                             {"density", c.density},
                             {"recall", c.recall},
                             {"output_error", c.outputError},
                             {"detail", c.detail}});
        hj["candidates"] = cands;
        nlohmann::json points = nlohmann::json::array();
        for (const auto& p : h.points)
            points.push_back({{"variant", report.options.variants[p.variant]},
                              {"target_density", p.targetDensity},
                              {"params", p.params},
                              {"density", p.metrics.density},
                              {"recall", p.metrics.recall},
                              {"output_error", p.metrics.outputError},
                              {"oracle_recall", p.metrics.oracleRecall}});
        hj["points"] = points;
        heads.push_back(hj);
    }
    j["per_head"] = heads;
    return j;
}

}  // namespace attnscope::cli

namespace attnscope::cli {

std::string evictionHeadsCsv(const analysis::EvictionReport& report) {
    std::ostringstream out = csvStream();
    out << "policy,budget,layer,head,kept,retained_mass,output_error,observed_rows\n";
    for (const auto& run : report.runs)
        for (size_t l = 0; l < run.heads.size(); ++l)
            for (size_t h = 0; h < run.heads[l].size(); ++h) {
                const auto& e = run.heads[l][h];
                out << analysis::evictionPolicyId(run.policy) << "," << run.budget << "," << l << "," << h << ","
                    << e.kept.size() << "," << e.metrics.retainedMass << "," << e.metrics.outputError << ","
                    << e.metrics.observedRows << "\n";
            }
    return out.str();
}

std::string evictionSummaryCsv(const analysis::EvictionReport& report) {
    std::ostringstream out = csvStream();
    out << "policy,budget,budget_fraction,per_head,mean_retained_mass,mean_output_error,observed_begin\n";
    for (const auto& run : report.runs)
        out << analysis::evictionPolicyId(run.policy) << "," << run.budget << ","
            << static_cast<double>(run.budget) / report.seqLen << "," << (run.perHead ? 1 : 0) << ","
            << run.meanRetainedMass << "," << run.meanOutputError << "," << report.observedBegin << "\n";
    return out.str();
}

std::string survivalCsv(const analysis::EvictionReport& report, const analysis::EvictionRun& run, const CaptureInfo& info) {
    std::ostringstream out = csvStream();
    const int T = report.seqLen, L = report.shape.numLayers;
    out << "token,text";
    for (int l = 0; l < L; ++l) out << ",layer" << l;
    out << "\n";
    for (int j = 0; j < T; ++j) {
        out << j << "," << csvField(tokenText(info, j));
        for (int l = 0; l < L; ++l) out << "," << run.survival[static_cast<size_t>(l) * T + j];
        out << "\n";
    }
    return out.str();
}

nlohmann::json evictionJson(const analysis::EvictionReport& report, const CaptureInfo& info, bool keptSets) {
    nlohmann::json j = modelJson(info, report.seqLen, report.shape);
    j["observed_begin"] = report.observedBegin;
    nlohmann::json runs = nlohmann::json::array();
    for (const auto& run : report.runs) {
        nlohmann::json r;
        r["policy"] = analysis::evictionPolicyId(run.policy);
        r["citation"] = analysis::evictionPolicyCitation(run.policy);
        r["budget"] = run.budget;
        r["layer_budget"] = run.layerBudget;
        r["per_head"] = run.perHead;
        r["mean_retained_mass"] = run.meanRetainedMass;
        r["mean_output_error"] = run.meanOutputError;
        nlohmann::json layers = nlohmann::json::array();
        for (size_t l = 0; l < run.heads.size(); ++l) {
            nlohmann::json heads = nlohmann::json::array();
            for (const auto& e : run.heads[l]) {
                nlohmann::json h = {{"kept_count", e.kept.size()},
                                    {"retained_mass", e.metrics.retainedMass},
                                    {"output_error", e.metrics.outputError}};
                if (keptSets) h["kept"] = e.kept;
                heads.push_back(h);
            }
            layers.push_back(heads);
        }
        r["layers"] = layers;
        nlohmann::json survival = nlohmann::json::array();
        for (int l = 0; l < report.shape.numLayers; ++l)
            survival.push_back(std::vector<double>(run.survival.begin() + static_cast<long>(l) * report.seqLen,
                                                   run.survival.begin() + static_cast<long>(l + 1) * report.seqLen));
        r["survival"] = survival;
        runs.push_back(r);
    }
    j["runs"] = runs;
    return j;
}

}  // namespace attnscope::cli
