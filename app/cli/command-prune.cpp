// `attnscope-cli prune FILE --policy P --budget B`: KV eviction / token pruning replayed on the capture —
// kept sets per layer and head, the attention mass they retain for the observed queries, the output
// error of attention restricted to them, and survival (token x layer). Policies and sources:
// core/src/analysis/kv-eviction.cpp and docs/analyses.md.
#include <cmath>
#include <iomanip>
#include <iostream>

#include "analysis-output.h"
#include "commands.h"

namespace attnscope::cli {

namespace {

struct PruneOptions {
    std::string file;
    std::vector<std::string> policies;
    std::vector<double> budgets;
    analysis::EvictionOptions e;
    std::string table = "summary";
    bool kept = false;
    bool csv = false;
    bool json = false;
};

}  // namespace

// "0.25" -> a quarter of the tokens, "64" -> 64 tokens.
std::vector<int> budgetTokens(const std::vector<double>& budgets, int seqLen) {
    std::vector<int> out;
    for (double b : budgets) {
        if (!(b > 0.0)) throw UsageError("--budget must be positive (a fraction in (0, 1) or a token count)");
        out.push_back(b < 1.0 ? std::max(1, static_cast<int>(std::lround(b * seqLen))) : static_cast<int>(std::lround(b)));
    }
    return out;
}

std::vector<analysis::EvictionPolicy> parsePolicies(const std::vector<std::string>& ids, bool causal) {
    std::vector<analysis::EvictionPolicy> out;
    for (const std::string& id : ids) {
        if (id == "all") {
            for (auto p : analysis::allEvictionPolicies())
                if (!(causal && p == analysis::EvictionPolicy::ClsAttention)) out.push_back(p);
            continue;
        }
        try {
            out.push_back(analysis::parseEvictionPolicy(id));
        } catch (const std::invalid_argument& e) {
            throw UsageError(e.what());
        }
    }
    return out;
}

Command addPruneCommand(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<PruneOptions>();
    CLI::App* cmd = app.add_subcommand("prune", "KV eviction / token pruning policies replayed on the capture");
    cmd->add_option("file", o->file, "capture file (.h5)")->required();
    cmd->add_option("--policy", o->policies,
                    "policies, comma-separated, or all: streaming-llm, h2o, snapkv, tova, knorm, keydiff, pyramidkv, adakv, fastv, cls")
        ->required()->delimiter(',');
    cmd->add_option("--budget", o->budgets, "keys kept per head: a fraction of T in (0, 1) or a token count; comma-separated")
        ->required()->delimiter(',');
    cmd->add_option("--sinks", o->e.sinkTokens, "StreamingLLM sink tokens")->capture_default_str();
    cmd->add_option("--window", o->e.observationWindow, "SnapKV observation window (clipped to T/4)")->capture_default_str();
    cmd->add_option("--kernel", o->e.poolingKernel, "SnapKV pooling kernel")->capture_default_str();
    cmd->add_option("--beta", o->e.pyramidBeta, "PyramidKV beta")->capture_default_str();
    cmd->add_option("--alpha", o->e.adaAlpha, "AdaKV safeguard fraction")->capture_default_str();
    cmd->add_option("--fastv-layer", o->e.fastvLayer, "FastV prunes after this layer")->capture_default_str();
    cmd->add_option("--observed", o->e.observedQueries,
                    "observed queries: the last N rows (0: the SnapKV window for causal models, all rows for encoders)")
        ->capture_default_str();
    cmd->add_option("--table", o->table, "CSV table: summary, heads or survival (first run)")
        ->capture_default_str()->check(CLI::IsMember({"summary", "heads", "survival"}));
    cmd->add_flag("--kept", o->kept, "include the kept sets in JSON");
    auto* csv = cmd->add_flag("--csv", o->csv, "CSV output (see --table)");
    cmd->add_flag("--json", o->json, "JSON output")->excludes(csv);
    return {cmd, [o, &global] {
                const CaptureReader reader = CaptureReader::open(o->file);
                const CaptureInfo& info = reader.info();
                const auto policies = parsePolicies(o->policies, info.causal);
                const std::vector<int> budgets = budgetTokens(o->budgets, info.seqLen);
                auto backend = makeBackend(global);
                StderrProgress progress(!global.quiet);
                const auto start = std::chrono::steady_clock::now();
                const auto report = analysis::analyzeEviction(captureShape(info), captureHeadSource(reader), *backend,
                                                              policies, budgets, o->e, &progress);
                const double seconds = secondsSince(start);
                if (o->json) {
                    nlohmann::json j = evictionJson(report, info, o->kept);
                    j["backend"] = backend->name();
                    j["seconds"] = seconds;
                    std::cout << j.dump(2) << "\n";
                    return static_cast<int>(kExitOk);
                }
                if (o->csv) {
                    if (o->table == "summary") std::cout << evictionSummaryCsv(report);
                    else if (o->table == "heads") std::cout << evictionHeadsCsv(report);
                    else std::cout << survivalCsv(report, report.runs.front(), info);
                    return static_cast<int>(kExitOk);
                }
                std::cout << info.model << ", " << info.numLayers << " x " << info.numQueryHeads << " heads, T=" << report.seqLen
                          << ", observed queries " << report.observedBegin << ".." << report.seqLen - 1 << ", backend "
                          << backend->name() << ", " << std::fixed << std::setprecision(2) << seconds << " s\n\n";
                std::cout << std::left << std::setw(15) << "policy" << std::right << std::setw(8) << "budget" << std::setw(9)
                          << "of T" << std::setw(10) << "retained" << std::setw(10) << "out.err" << "  kept per\n";
                for (const auto& run : report.runs)
                    std::cout << std::left << std::setw(15) << analysis::evictionPolicyId(run.policy) << std::right
                              << std::setw(8) << run.budget << std::setw(9) << std::setprecision(3)
                              << static_cast<double>(run.budget) / report.seqLen << std::setw(10) << run.meanRetainedMass
                              << std::setw(10) << run.meanOutputError << "  " << (run.perHead ? "head" : "layer") << "\n";
                std::cout << "\nretained = mean over heads of the dense attention mass on kept keys (observed queries);\n"
                             "out.err = ||O_kept - O||_F / ||O||_F. Sources: docs/analyses.md.\n";
                return static_cast<int>(kExitOk);
            }};
}

}  // namespace attnscope::cli
