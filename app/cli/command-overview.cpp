// `attnscope-cli overview FILE`: the whole-model overview (TARGETS.md) — per (layer, head) the sink
// mass on token 0, the mean entropy and the recall of each variant at one density — as a text
// summary, a per-head CSV, JSON, or layer x head heatmaps (--figures DIR). Read layer by layer;
// on the CUDA backend each layer is one upload and a few launches. Definitions: docs/analyses.md.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "analysis-output.h"
#include "attnscope/analysis/model-overview.h"
#include "commands.h"
#include "figures/figures.h"

namespace attnscope::cli {

namespace {

struct OverviewCommandOptions {
    std::string file;
    analysis::OverviewOptions overview;
    std::string figures;
    bool csv = false;
    bool json = false;
};

double achievedDensity(const HeadOverview& h, size_t v) {
    return static_cast<double>(h.keptCells[v]) / static_cast<double>(h.visibleCells);
}

std::string overviewCsv(const analysis::ModelOverviewReport& r) {
    std::ostringstream out;
    out << std::setprecision(8) << "layer,head,sink_mass,mean_entropy";
    for (const std::string& v : r.variants) out << ",recall_" << v << ",density_" << v;
    out << "\n";
    for (int l = 0; l < r.shape.numLayers; ++l)
        for (int h = 0; h < r.shape.numHeads; ++h) {
            const HeadOverview& o = r.at(l, h);
            out << l << "," << h << "," << o.sinkMass << "," << o.meanEntropy;
            for (size_t v = 0; v < r.variants.size(); ++v) out << "," << o.recall[v] << "," << achievedDensity(o, v);
            out << "\n";
        }
    return out.str();
}

nlohmann::json overviewJson(const analysis::ModelOverviewReport& r, const CaptureInfo& info) {
    nlohmann::json j = {{"file", info.path}, {"model", info.model}, {"seq_len", r.seqLen},
                        {"layers", r.shape.numLayers}, {"heads", r.shape.numHeads}, {"density", r.options.density}};
    nlohmann::json variants = nlohmann::json::array();
    for (size_t v = 0; v < r.variants.size(); ++v) variants.push_back({{"id", r.variants[v]}, {"params", r.params[v]}});
    j["variants"] = variants;
    nlohmann::json heads = nlohmann::json::array();
    for (int l = 0; l < r.shape.numLayers; ++l)
        for (int h = 0; h < r.shape.numHeads; ++h) {
            const HeadOverview& o = r.at(l, h);
            nlohmann::json recall = nlohmann::json::object(), density = nlohmann::json::object();
            for (size_t v = 0; v < r.variants.size(); ++v) {
                recall[r.variants[v]] = o.recall[v];
                density[r.variants[v]] = achievedDensity(o, v);
            }
            heads.push_back({{"layer", l}, {"head", h}, {"sink_mass", o.sinkMass}, {"mean_entropy", o.meanEntropy},
                             {"recall", recall}, {"density", density}});
        }
    j["per_head"] = heads;
    return j;
}

// One layer x head heatmap per quantity: sink mass, entropy, each variant's recall.
std::vector<std::string> writeFigures(const analysis::ModelOverviewReport& r, const std::string& dir) {
    std::filesystem::create_directories(dir);
    const int L = r.shape.numLayers, H = r.shape.numHeads;
    std::vector<std::string> written;
    auto heatmap = [&](const std::string& name, const std::string& title, auto value, double hi,
                       ColormapName colormap) {
        figures::HeatmapSpec spec;
        spec.title = title;
        spec.xLabel = "head";
        spec.yLabel = "layer";
        spec.rows = L;
        spec.cols = H;
        for (int l = 0; l < L; ++l)
            for (int h = 0; h < H; ++h) spec.values.push_back(value(r.at(l, h)));
        spec.scale.maxValue = hi;
        spec.colormap = colormap;
        const std::string path = (std::filesystem::path(dir) / (name + ".png")).string();
        writePng(path, figures::drawHeatmap(spec));
        written.push_back(path);
    };
    double maxEntropy = 0.0;
    for (const HeadOverview& o : r.heads) maxEntropy = std::max(maxEntropy, o.meanEntropy);
    heatmap("sink-mass", "mean attention to token 0", [](const HeadOverview& o) { return o.sinkMass; }, 1.0,
            ColormapName::Magma);
    heatmap("entropy", "mean row entropy (nats)", [](const HeadOverview& o) { return o.meanEntropy; },
            std::max(maxEntropy, 1e-6), ColormapName::Viridis);
    for (size_t v = 0; v < r.variants.size(); ++v) {
        std::ostringstream title;
        title << r.variants[v] << " recall at " << std::setprecision(3) << r.options.density * 100 << "% density";
        heatmap("recall-" + r.variants[v], title.str(), [v](const HeadOverview& o) { return o.recall[v]; }, 1.0,
                ColormapName::Cividis);
    }
    return written;
}

}  // namespace

Command addOverviewCommand(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<OverviewCommandOptions>();
    CLI::App* cmd = app.add_subcommand(
        "overview", "whole-model overview: sink mass, entropy and every variant's recall at one density, per head");
    cmd->add_option("file", o->file, "capture file (.h5)")->required();
    cmd->add_option("--variants", o->overview.variants, "variant ids, comma-separated (default: all)")->delimiter(',');
    cmd->add_option("--density", o->overview.density, "density the budgeted variants are matched to")
        ->check(CLI::Range(1e-9, 1.0))->capture_default_str();
    cmd->add_option("--figures", o->figures, "write layer x head heatmaps (PNG) into this directory");
    auto* csv = cmd->add_flag("--csv", o->csv, "CSV output, one row per head");
    cmd->add_flag("--json", o->json, "JSON output")->excludes(csv);
    return {cmd, [o, &global] {
                const CaptureReader reader = CaptureReader::open(o->file);
                const CaptureInfo& info = reader.info();
                auto backend = makeBackend(global);
                StderrProgress progress(!global.quiet);
                const auto start = std::chrono::steady_clock::now();
                // Layer l + 1 is read on a background thread while layer l computes, into two reused tensors.
                const auto report = analysis::analyzeModelOverview(
                    captureShape(info), [&reader](int layer, LayerTensors& into) { reader.loadLayer(layer, into); },
                    *backend, o->overview, &progress);
                const double seconds = secondsSince(start);
                std::vector<std::string> figures;
                if (!o->figures.empty()) figures = writeFigures(report, o->figures);
                if (o->json) {
                    nlohmann::json j = overviewJson(report, info);
                    j["backend"] = backend->name();
                    j["seconds"] = seconds;
                    j["figures"] = figures;
                    std::cout << j.dump(2) << "\n";
                    return static_cast<int>(kExitOk);
                }
                if (o->csv) {
                    std::cout << overviewCsv(report);
                    return static_cast<int>(kExitOk);
                }
                const int L = info.numLayers, H = info.numQueryHeads;
                std::cout << info.model << ", " << L << " layers x " << H << " heads, T=" << report.seqLen
                          << ", backend " << backend->name() << ", " << std::fixed << std::setprecision(2) << seconds
                          << " s (reading included)\n\nper layer, mean over heads:\n"
                          << std::setw(6) << "layer" << std::setw(10) << "sink" << std::setw(10) << "entropy";
                for (const std::string& v : report.variants) std::cout << std::setw(15) << v;
                std::cout << "\n" << std::setprecision(3);
                for (int l = 0; l < L; ++l) {
                    double sink = 0, entropy = 0;
                    std::vector<double> recall(report.variants.size(), 0.0);
                    for (int h = 0; h < H; ++h) {
                        const HeadOverview& x = report.at(l, h);
                        sink += x.sinkMass / H;
                        entropy += x.meanEntropy / H;
                        for (size_t v = 0; v < recall.size(); ++v) recall[v] += x.recall[v] / H;
                    }
                    std::cout << std::setw(6) << l << std::setw(10) << sink << std::setw(10) << entropy;
                    for (double x : recall) std::cout << std::setw(15) << x;
                    std::cout << "\n";
                }
                std::cout << "\nrecall = dense attention mass kept; density (achieved, mean over heads):";
                for (size_t v = 0; v < report.variants.size(); ++v) {
                    double d = 0;
                    for (const HeadOverview& x : report.heads) d += achievedDensity(x, v);
                    std::cout << " " << report.variants[v] << "=" << d / report.heads.size();
                }
                std::cout << "\n";
                for (const std::string& f : figures) std::cout << "wrote " << f << "\n";
                return static_cast<int>(kExitOk);
            }};
}

}  // namespace attnscope::cli
