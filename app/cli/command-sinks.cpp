// `attnscope-cli sinks FILE`: whole-model attention-sink tables — mean attention to token 0 per head,
// Sink_eps (Gu et al., arXiv:2410.10781), non-initial sinks with their layer span, value drain and the
// key-bias gap. Definitions: docs/analyses.md.
#include <iomanip>
#include <iostream>

#include "analysis-output.h"
#include "commands.h"

namespace attnscope::cli {

namespace {

struct SinksOptions {
    std::string file;
    analysis::SinkOptions sink;
    std::string table = "heads";
    bool csv = false;
    bool json = false;
    int top = 10;
};

}  // namespace

void addSinkJudgingOptions(CLI::App& cmd, analysis::SinkOptions& options) {
    cmd.add_option("--kappa", options.kappa,
                   "non-initial sink: attention received from far queries above kappa x their uniform level")
        ->capture_default_str()->check(CLI::PositiveNumber);
    cmd.add_option("--local-window", options.localWindow,
                   "locality correction: only queries at distance >= this many tokens judge a key (0: all queries)")
        ->capture_default_str()->check(CLI::Range(0, 1 << 30));
    cmd.add_option("--min-queries", options.minQueries, "judge only tokens seen by at least this many far queries")
        ->capture_default_str()->check(CLI::Range(1, 1 << 30));
}

Command addSinksCommand(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<SinksOptions>();
    CLI::App* cmd = app.add_subcommand("sinks", "attention sinks of the whole model (Sink_eps, non-initial sinks, value drain, key bias)");
    cmd->add_option("file", o->file, "capture file (.h5)")->required();
    cmd->add_option("--epsilon", o->sink.epsilon, "Sink_eps threshold on a head's mean attention to token 0")
        ->capture_default_str()->check(CLI::Range(0.0, 1.0));
    addSinkJudgingOptions(*cmd, o->sink);
    cmd->add_option("--table", o->table, "CSV table: heads, tokens (layer x token) or non-initial")
        ->capture_default_str()->check(CLI::IsMember({"heads", "tokens", "non-initial"}));
    cmd->add_option("--top", o->top, "non-initial sinks listed in the text output")->capture_default_str();
    auto* csv = cmd->add_flag("--csv", o->csv, "CSV output (see --table)");
    cmd->add_flag("--json", o->json, "JSON output")->excludes(csv);
    return {cmd, [o, &global] {
                const CaptureReader reader = CaptureReader::open(o->file);
                const CaptureInfo& info = reader.info();
                auto backend = makeBackend(global);
                StderrProgress progress(!global.quiet);
                const auto start = std::chrono::steady_clock::now();
                const auto report = analysis::analyzeModelSinks(captureShape(info), captureHeadSource(reader), *backend,
                                                                o->sink, &progress);
                const double seconds = secondsSince(start);
                if (o->json) {
                    nlohmann::json j = sinkJson(report, info);
                    j["backend"] = backend->name();
                    j["seconds"] = seconds;
                    std::cout << j.dump(2) << "\n";
                    return static_cast<int>(kExitOk);
                }
                if (o->csv) {
                    if (o->table == "heads") std::cout << sinkHeadsCsv(report);
                    else if (o->table == "tokens") std::cout << sinkTokensCsv(report, info);
                    else std::cout << nonInitialSinksCsv(report, info);
                    return static_cast<int>(kExitOk);
                }
                const int L = info.numLayers, H = info.numQueryHeads;
                std::cout << info.model << ", " << L << " layers x " << H << " heads, T=" << report.seqLen
                          << (info.causal ? ", causal" : ", bidirectional") << ", backend " << backend->name() << ", "
                          << std::fixed << std::setprecision(2) << seconds << " s\n";
                std::cout << std::setprecision(4) << "Sink_eps (eps=" << o->sink.epsilon << ") = " << report.sinkEpsilon
                          << "  (" << static_cast<int>(std::lround(report.sinkEpsilon * L * H)) << " of " << L * H
                          << " heads put more than eps of their attention on token 0)\n\n";
                std::cout << "mean attention to token 0, layer x head:\n      ";
                for (int h = 0; h < H; ++h) std::cout << std::setw(6) << ("h" + std::to_string(h));
                std::cout << "\n" << std::setprecision(2);
                for (int l = 0; l < L; ++l) {
                    std::cout << std::setw(6) << ("L" + std::to_string(l));
                    for (int h = 0; h < H; ++h) std::cout << std::setw(6) << report.at(l, h).token0Mean;
                    std::cout << "\n";
                }
                double drain = 0.0, gap = 0.0, gapStd = 0.0;
                for (const auto& h : report.heads) {
                    drain += h.valueNormRatio[0];
                    gap += h.keyBiasGapMean;
                    gapStd += h.keyBiasGapStd;
                }
                const double n = static_cast<double>(report.heads.size());
                std::cout << std::setprecision(3) << "\nvalue drain: ||v_0|| / median ||v_j||, mean over heads = " << drain / n
                          << "\nkey bias: s_i0 - max_{j>0} s_ij over queries, mean over heads: mean " << gap / n
                          << ", std " << gapStd / n << "\n";
                std::cout << "\nnon-initial sinks (kappa=" << o->sink.kappa << ", queries at distance >= "
                          << o->sink.localWindow << "): " << report.nonInitialSinks.size() << " tokens\n";
                const int shown = std::min<int>(o->top, static_cast<int>(report.nonInitialSinks.size()));
                if (shown > 0)
                    std::cout << std::setw(7) << "token" << "  " << std::left << std::setw(18) << "text" << std::right
                              << std::setw(8) << "layers" << std::setw(7) << "count" << std::setw(11) << "peak ratio"
                              << std::setw(13) << "far queries" << "\n";
                for (int r = 0; r < shown; ++r) {
                    const auto& s = report.nonInitialSinks[r];
                    const std::string text = s.token < static_cast<int>(info.tokens.text.size()) ? displayToken(info.tokens.text[s.token], 16) : "";
                    std::cout << std::setw(7) << s.token << "  " << std::left << std::setw(18) << text << std::right
                              << std::setw(8) << (std::to_string(s.firstLayer) + "-" + std::to_string(s.lastLayer))
                              << std::setw(7) << s.layerCount << std::setw(11) << std::setprecision(1) << s.peakRatio
                              << std::setw(13) << s.farQueries << "\n";
                }
                return static_cast<int>(kExitOk);
            }};
}

}  // namespace attnscope::cli
