// `attnscope-cli sensitivity FILE --variants ... --densities ...`: for every head, recall and output error
// of each variant over a density sweep, the density each needs for 95 % recall, and the head's pattern
// class (MInference-style, arXiv:2407.02490). Definitions: docs/analyses.md.
#include <iomanip>
#include <iostream>
#include <map>

#include "analysis-output.h"
#include "commands.h"

namespace attnscope::cli {

namespace {

struct SensitivityCommandOptions {
    std::string file;
    analysis::SensitivityOptions s;
    std::string table = "points";
    bool noNeeded = false;
    bool csv = false;
    bool json = false;
};

}  // namespace

Command addSensitivityCommand(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<SensitivityCommandOptions>();
    CLI::App* cmd = app.add_subcommand("sensitivity", "per-head recall and output error of variants over a density sweep, and pattern classes");
    cmd->add_option("file", o->file, "capture file (.h5)")->required();
    cmd->add_option("--variants", o->s.variants, "variant ids with a budget, comma-separated")->delimiter(',')->capture_default_str();
    cmd->add_option("--densities", o->s.densities, "target densities in (0, 1], comma-separated")
        ->delimiter(',')->check(CLI::Range(1e-9, 1.0))->capture_default_str();
    cmd->add_option("--recall-target", o->s.recallTarget, "recall the needed-density search aims at")
        ->check(CLI::Range(0.0, 1.0))->capture_default_str();
    cmd->add_flag("--no-needed", o->noNeeded, "skip the needed-density search (sweep only)");
    cmd->add_option("--pattern-density", o->s.pattern.density, "equal budget of the pattern candidates")
        ->check(CLI::Range(1e-9, 1.0))->capture_default_str();
    cmd->add_option("--diffuse-recall", o->s.pattern.diffuseRecall, "best candidate recall below which a head is diffuse")
        ->check(CLI::Range(0.0, 1.0))->capture_default_str();
    cmd->add_option("--table", o->table, "CSV table: points, heads or curves")
        ->capture_default_str()->check(CLI::IsMember({"points", "heads", "curves"}));
    auto* csv = cmd->add_flag("--csv", o->csv, "CSV output (see --table)");
    cmd->add_flag("--json", o->json, "JSON output")->excludes(csv);
    return {cmd, [o, &global] {
                o->s.neededDensity = !o->noNeeded;
                analysis::resolveSensitivityVariants(o->s.variants);
                const CaptureReader reader = CaptureReader::open(o->file);
                const CaptureInfo& info = reader.info();
                auto backend = makeBackend(global);
                StderrProgress progress(!global.quiet);
                const auto start = std::chrono::steady_clock::now();
                const auto report = analysis::analyzeModelSensitivity(captureShape(info), captureHeadSource(reader),
                                                                      *backend, o->s, &progress);
                const double seconds = secondsSince(start);
                if (o->json) {
                    nlohmann::json j = sensitivityJson(report, info);
                    j["backend"] = backend->name();
                    j["seconds"] = seconds;
                    std::cout << j.dump(2) << "\n";
                    return static_cast<int>(kExitOk);
                }
                if (o->csv) {
                    if (o->table == "points") std::cout << sensitivityPointsCsv(report);
                    else if (o->table == "heads") std::cout << sensitivityHeadsCsv(report);
                    else std::cout << sensitivityCurvesCsv(report);
                    return static_cast<int>(kExitOk);
                }
                const int L = info.numLayers, H = info.numQueryHeads;
                std::cout << info.model << ", " << L << " x " << H << " heads, T=" << report.seqLen << ", backend "
                          << backend->name() << ", " << std::fixed << std::setprecision(2) << seconds << " s\n\n";
                std::cout << "mean recall over heads (mean output error):\n" << std::setw(15) << "density";
                for (double d : o->s.densities) std::cout << std::setw(17) << d;
                std::cout << "\n" << std::setprecision(3);
                const size_t nd = o->s.densities.size();
                for (size_t v = 0; v < o->s.variants.size(); ++v) {
                    std::cout << std::setw(15) << o->s.variants[v];
                    for (size_t d = 0; d < nd; ++d) {
                        double rec = 0, err = 0;
                        for (const auto& h : report.heads) {
                            rec += h.points[v * nd + d].metrics.recall;
                            err += h.points[v * nd + d].metrics.outputError;
                        }
                        const double n = static_cast<double>(report.heads.size());
                        std::ostringstream cell;
                        cell << std::fixed << std::setprecision(3) << rec / n << " (" << err / n << ")";
                        std::cout << std::setw(17) << cell.str();
                    }
                    std::cout << "\n";
                }
                if (o->s.neededDensity) {
                    std::cout << "\ndensity needed for recall " << o->s.recallTarget << " (median over heads; max):\n";
                    for (size_t v = 0; v < o->s.variants.size(); ++v) {
                        std::vector<double> needed;
                        int never = 0;
                        for (const auto& h : report.heads) {
                            if (std::isnan(h.neededDensity[v])) ++never;
                            else needed.push_back(h.neededDensity[v]);
                        }
                        std::cout << std::setw(15) << o->s.variants[v] << "  median " << analysis::median(needed) << "  max "
                                  << (needed.empty() ? 0.0 : *std::max_element(needed.begin(), needed.end()));
                        if (never) std::cout << "  (" << never << " heads never reach it)";
                        std::cout << "\n";
                    }
                }
                std::map<std::string, int> counts;
                for (const auto& h : report.heads) ++counts[analysis::patternClassName(h.pattern.pattern)];
                std::cout << "\npattern classes at density " << o->s.pattern.density << ":";
                for (const auto& [name, n] : counts) std::cout << "  " << name << " " << n;
                std::cout << "\n(A a-shape, V vertical-slash, B block-sparse, L local, D diffuse), layer x head:\n";
                for (int l = 0; l < L; ++l) {
                    std::cout << std::setw(6) << ("L" + std::to_string(l)) << "  ";
                    for (int h = 0; h < H; ++h) {
                        const std::string name = analysis::patternClassName(report.at(l, h).pattern.pattern);
                        const char letter = name == "a-shape" ? 'A' : name == "vertical-slash" ? 'V' : name == "block-sparse" ? 'B' : name == "local" ? 'L' : 'D';
                        std::cout << letter;
                    }
                    std::cout << "\n";
                }
                return static_cast<int>(kExitOk);
            }};
}

}  // namespace attnscope::cli
