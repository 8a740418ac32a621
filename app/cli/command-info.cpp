// `attnscope-cli info FILE`: what a capture holds (model, shapes, dtype, attention config, tokens).
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"

namespace attnscope::cli {

namespace {

struct InfoOptions {
    std::string file;
    bool json = false;
    int tokens = 32;
};

nlohmann::json infoJson(const CaptureInfo& info, int tokenLimit) {
    nlohmann::json j;
    j["file"] = info.path;
    j["format_version"] = info.version;
    j["model"] = info.model;
    j["model_type"] = info.modelType;
    j["source"] = info.source;
    j["created"] = info.created;
    j["dtype"] = storageTypeName(info.storage);
    j["causal"] = info.causal;
    j["rope_applied"] = info.ropeApplied;
    j["softmax_scale"] = info.softmaxScale;
    j["softcap"] = info.softcap;
    j["num_layers"] = info.numLayers;
    j["num_q_heads"] = info.numQueryHeads;
    j["num_kv_heads"] = info.numKvHeads;
    j["head_dim"] = info.headDim;
    j["value_dim"] = info.valueDim;
    j["seq_len"] = info.seqLen;
    nlohmann::json windows = nlohmann::json::array();
    for (const CaptureLayerInfo& l : info.layers) windows.push_back(l.slidingWindow);
    j["sliding_window"] = windows;
    nlohmann::json tokens = nlohmann::json::array();
    const int n = tokenLimit < 0 ? info.seqLen : std::min(tokenLimit, info.seqLen);
    for (int t = 0; t < n; ++t) {
        tokens.push_back({{"index", t},
                          {"id", info.tokens.ids.empty() ? -1 : info.tokens.ids[t]},
                          {"text", info.tokens.text.empty() ? "" : info.tokens.text[t]},
                          {"special", !info.tokens.special.empty() && info.tokens.special[t] != 0}});
    }
    j["tokens"] = tokens;
    nlohmann::json refs = nlohmann::json::array();
    for (const ReferenceHeadInfo& r : info.references)
        refs.push_back({{"name", r.name}, {"layer", r.layer}, {"head", r.queryHead}, {"source", r.source}});
    j["references"] = refs;
    return j;
}

void printText(const CaptureInfo& info, int tokenLimit) {
    std::cout << "file:          " << info.path << "\n"
              << "model:         " << info.model << " (" << info.modelType << ")\n"
              << "source:        " << info.source << ", created " << info.created << ", format v" << info.version << "\n"
              << "layers:        " << info.numLayers << "\n"
              << "heads:         " << info.numQueryHeads << " query, " << info.numKvHeads << " key/value"
              << (info.numQueryHeads != info.numKvHeads ? " (GQA, " + std::to_string(info.numQueryHeads / info.numKvHeads) + " query heads per KV head)" : "")
              << "\n"
              << "head dim:      " << info.headDim << " (value " << info.valueDim << ")\n"
              << "tokens:        " << info.seqLen << "\n"
              << "dtype:         " << storageTypeName(info.storage) << "\n"
              << "attention:     " << (info.causal ? "causal" : "bidirectional") << ", scale " << info.softmaxScale
              << (info.softcap > 0 ? ", softcap " + std::to_string(info.softcap) : "")
              << (info.ropeApplied ? ", Q/K after RoPE" : "") << "\n";
    int windowed = 0;
    for (const CaptureLayerInfo& l : info.layers) windowed += l.slidingWindow > 0;
    if (windowed > 0) {
        std::cout << "sliding window:";
        for (int l = 0; l < info.numLayers; ++l)
            if (info.layers[l].slidingWindow > 0) std::cout << " L" << l << "=" << info.layers[l].slidingWindow;
        std::cout << "\n";
    }
    if (!info.references.empty()) {
        std::cout << "references:    " << info.references.size() << " heads (";
        for (size_t i = 0; i < info.references.size(); ++i)
            std::cout << (i ? ", " : "") << "L" << info.references[i].layer << " H" << info.references[i].queryHead;
        std::cout << ")\n";
    }
    const int n = tokenLimit < 0 ? info.seqLen : std::min(tokenLimit, info.seqLen);
    std::cout << "first " << n << " tokens (index id text):\n";
    for (int t = 0; t < n; ++t) {
        std::cout << "  " << std::setw(6) << t << " " << std::setw(7) << (info.tokens.ids.empty() ? -1 : info.tokens.ids[t])
                  << " \"" << displayToken(info.tokens.text.empty() ? "" : info.tokens.text[t], 40) << "\""
                  << (!info.tokens.special.empty() && info.tokens.special[t] ? " [special]" : "") << "\n";
    }
}

}  // namespace

Command addInfoCommand(CLI::App& app, const GlobalOptions&) {
    auto options = std::make_shared<InfoOptions>();
    CLI::App* cmd = app.add_subcommand("info", "model, shapes, dtype, attention config and tokens of a capture");
    cmd->add_option("file", options->file, "capture file (.h5)")->required();
    cmd->add_flag("--json", options->json, "machine-readable output");
    cmd->add_option("--tokens", options->tokens, "how many tokens to list (-1: all)")->capture_default_str();
    return {cmd, [options] {
                const CaptureReader reader = CaptureReader::open(options->file);
                if (options->json) std::cout << infoJson(reader.info(), options->tokens).dump(2) << "\n";
                else printText(reader.info(), options->tokens);
                return static_cast<int>(kExitOk);
            }};
}

}  // namespace attnscope::cli
