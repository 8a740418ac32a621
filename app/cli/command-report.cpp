// `attnscope-cli report FILE -o DIR`: the whole-model analyses in one go — sink, sensitivity and
// eviction tables (CSV) plus the figures a paper needs (PNG: layer x head heatmaps, the sink strip,
// sensitivity curves, survival rasters), each PNG with the CSV of the numbers it shows.
#include <cmath>
#include <filesystem>
#include <iostream>

#include "analysis-output.h"
#include "commands.h"
#include "figures/figures.h"

namespace attnscope::cli {

namespace {

struct ReportOptions {
    std::string file;
    std::string outDir;
    analysis::SinkOptions sinks;
    analysis::SensitivityOptions sensitivity;
    std::vector<std::string> policies = {"all"};
    std::vector<double> budgets = {0.1, 0.25, 0.5};
};

ValueScale linearScale(double maxValue) {
    ValueScale s;
    s.maxValue = maxValue > 0 ? maxValue : 1.0;
    return s;
}

}  // namespace

Command addReportCommand(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<ReportOptions>();
    CLI::App* cmd = app.add_subcommand("report", "whole-model sink, sensitivity and eviction tables (CSV) and figures (PNG)");
    cmd->add_option("file", o->file, "capture file (.h5)")->required();
    cmd->add_option("-o,--output", o->outDir, "output directory (created)")->required();
    addSinkJudgingOptions(*cmd, o->sinks);
    cmd->add_option("--variants", o->sensitivity.variants, "sensitivity variants")->delimiter(',')->capture_default_str();
    cmd->add_option("--densities", o->sensitivity.densities, "sensitivity densities")->delimiter(',')->capture_default_str();
    cmd->add_option("--policies", o->policies, "eviction policies or all")->delimiter(',')->capture_default_str();
    cmd->add_option("--budgets", o->budgets, "eviction budgets (fractions of T or token counts)")->delimiter(',')->capture_default_str();
    return {cmd, [o, &global] {
                const CaptureReader reader = CaptureReader::open(o->file);
                const CaptureInfo& info = reader.info();
                analysis::resolveSensitivityVariants(o->sensitivity.variants);
                const auto policies = parsePolicies(o->policies, info.causal);
                const std::vector<int> budgets = budgetTokens(o->budgets, info.seqLen);
                std::error_code ec;
                std::filesystem::create_directories(o->outDir, ec);
                if (ec) throw UsageError("cannot create '" + o->outDir + "': " + ec.message());
                auto backend = makeBackend(global);
                StderrProgress progress(!global.quiet);
                const auto shape = captureShape(info);
                const auto source = captureHeadSource(reader);
                const int L = shape.numLayers, H = shape.numHeads;
                auto path = [&](const std::string& name) { return (std::filesystem::path(o->outDir) / name).string(); };
                std::vector<std::string> written;
                auto writeText = [&](const std::string& name, const std::string& text) {
                    writeFileAtomically(path(name), text);
                    written.push_back(name);
                };
                auto writeFigure = [&](const std::string& name, const RgbImage& image) {
                    writePng(path(name), image);
                    written.push_back(name);
                };
                const auto start = std::chrono::steady_clock::now();
                // The three analyses read the same heads: each head's dense statistics are computed once.
                analysis::DenseStatisticsCache denseCache;

                // Sinks.
                const auto sinks = analysis::analyzeModelSinks(shape, source, *backend, o->sinks, &progress, &denseCache);
                writeText("sinks-heads.csv", sinkHeadsCsv(sinks));
                writeText("sinks-tokens.csv", sinkTokensCsv(sinks, info));
                writeText("sinks-non-initial.csv", nonInitialSinksCsv(sinks, info));
                {
                    figures::HeatmapSpec spec;
                    spec.title = "MEAN ATTENTION TO TOKEN 0   SINK_EPS(0.3) = " + std::to_string(sinks.sinkEpsilon).substr(0, 5);
                    spec.xLabel = "HEAD";
                    spec.yLabel = "LAYER";
                    spec.rows = L;
                    spec.cols = H;
                    for (const auto& h : sinks.heads) spec.values.push_back(h.token0Mean);
                    spec.scale = linearScale(1.0);
                    writeFigure("sinks-token0-heatmap.png", figures::drawHeatmap(spec));
                }
                {
                    figures::HeatmapSpec spec;
                    // The ratio that judges non-initial sinks: attention from queries at distance >= the local
                    // window, over its uniform level (blank where too few far queries see the token).
                    spec.title = "SINK STRIP: ATTENTION FROM QUERIES AT DISTANCE >= " +
                                 std::to_string(o->sinks.localWindow) + " / UNIFORM LEVEL (LOG)";
                    spec.xLabel = "TOKEN";
                    spec.yLabel = "LAYER";
                    spec.rows = L;
                    spec.cols = sinks.seqLen;
                    spec.cellWidth = std::max(1, 900 / std::max(1, sinks.seqLen));
                    double maxRatio = 1.0;
                    for (size_t i = 0; i < sinks.layerTokenFarRatio.size(); ++i) {
                        const double r = sinks.layerTokenFarRatio[i];
                        spec.values.push_back(r > 0 ? r : std::nan(""));
                        maxRatio = std::max(maxRatio, r);
                    }
                    spec.scale.logarithmic = true;
                    spec.scale.maxValue = maxRatio;
                    spec.scale.decades = 3;
                    spec.colormap = ColormapName::Magma;
                    writeFigure("sinks-strip.png", figures::drawHeatmap(spec));
                }

                // Sensitivity.
                const auto sens = analysis::analyzeModelSensitivity(shape, source, *backend, o->sensitivity, &progress, &denseCache);
                writeText("sensitivity-points.csv", sensitivityPointsCsv(sens));
                writeText("sensitivity-heads.csv", sensitivityHeadsCsv(sens));
                writeText("sensitivity-curves.csv", sensitivityCurvesCsv(sens));
                {
                    figures::LineChartSpec chart;
                    chart.title = "MEAN RECALL OVER HEADS VS DENSITY";
                    chart.xLabel = "ACHIEVED DENSITY, MEAN OVER HEADS (LOG)";
                    chart.yLabel = "RECALL";
                    chart.logX = true;
                    chart.xTicks = sens.options.densities;
                    const size_t nd = sens.options.densities.size();
                    for (size_t v = 0; v < sens.options.variants.size(); ++v) {
                        figures::LineSeries s;
                        s.name = sens.options.variants[v];
                        // x is the density the variant actually reached (mean over heads), not the
                        // target: coarse budgets (MoBA blocks, StreamingLLM sinks) cannot reach small targets.
                        for (size_t d = 0; d < nd; ++d) {
                            double rec = 0, achieved = 0;
                            for (const auto& h : sens.heads) {
                                rec += h.points[v * nd + d].metrics.recall;
                                achieved += h.points[v * nd + d].metrics.density;
                            }
                            s.x.push_back(achieved / static_cast<double>(sens.heads.size()));
                            s.y.push_back(rec / static_cast<double>(sens.heads.size()));
                        }
                        chart.series.push_back(s);
                    }
                    writeFigure("sensitivity-curves.png", figures::drawLineChart(chart));
                }
                for (size_t v = 0; v < sens.options.variants.size(); ++v) {
                    figures::HeatmapSpec spec;
                    spec.title = "DENSITY " + sens.options.variants[v] + " NEEDS FOR 95% RECALL (WHITE: NEVER)";
                    spec.xLabel = "HEAD";
                    spec.yLabel = "LAYER";
                    spec.rows = L;
                    spec.cols = H;
                    for (const auto& h : sens.heads) spec.values.push_back(h.neededDensity[v]);
                    spec.scale = linearScale(1.0);
                    spec.colormap = ColormapName::Cividis;
                    writeFigure("sensitivity-needed-" + sens.options.variants[v] + ".png", figures::drawHeatmap(spec));
                }
                {
                    figures::HeatmapSpec spec;
                    spec.title = "PATTERN CLASS: 0 A-SHAPE 1 V-SLASH 2 BLOCK 3 LOCAL 4 DIFFUSE";
                    spec.xLabel = "HEAD";
                    spec.yLabel = "LAYER";
                    spec.rows = L;
                    spec.cols = H;
                    for (const auto& h : sens.heads) spec.values.push_back(static_cast<double>(h.pattern.pattern));
                    spec.scale = linearScale(4.0);
                    writeFigure("sensitivity-pattern-classes.png", figures::drawHeatmap(spec));
                }

                // Eviction.
                const auto ev = analysis::analyzeEviction(shape, source, *backend, policies, budgets, {}, &progress, &denseCache);
                writeText("prune-summary.csv", evictionSummaryCsv(ev));
                writeText("prune-heads.csv", evictionHeadsCsv(ev));
                for (const auto& run : ev.runs) {
                    const std::string stem = std::string("survival-") + analysis::evictionPolicyId(run.policy) + "-" + std::to_string(run.budget);
                    writeText(stem + ".csv", survivalCsv(ev, run, info));
                    figures::HeatmapSpec spec;
                    spec.title = std::string("SURVIVAL ") + analysis::evictionPolicyId(run.policy) + " B=" + std::to_string(run.budget) +
                                 " (FRACTION OF HEADS KEEPING THE TOKEN)";
                    spec.xLabel = "TOKEN";
                    spec.yLabel = "LAYER";
                    spec.rows = L;
                    spec.cols = ev.seqLen;
                    spec.cellWidth = std::max(1, 900 / std::max(1, ev.seqLen));
                    spec.values = run.survival;
                    spec.scale = linearScale(1.0);
                    spec.colormap = ColormapName::Magma;
                    writeFigure(stem + ".png", figures::drawHeatmap(spec));
                }
                {
                    figures::LineChartSpec chart;
                    chart.title = "KV EVICTION: MEAN RETAINED ATTENTION MASS VS BUDGET";
                    chart.xLabel = "BUDGET (FRACTION OF T)";
                    chart.yLabel = "RETAINED MASS";
                    for (auto p : policies) {
                        figures::LineSeries s;
                        s.name = analysis::evictionPolicyId(p);
                        for (const auto& run : ev.runs)
                            if (run.policy == p) {
                                s.x.push_back(static_cast<double>(run.budget) / ev.seqLen);
                                s.y.push_back(run.meanRetainedMass);
                            }
                        chart.series.push_back(s);
                    }
                    writeFigure("prune-retained.png", figures::drawLineChart(chart));
                }
                std::cout << "report of " << info.path << " in " << o->outDir << " (" << written.size() << " files, "
                          << secondsSince(start) << " s, backend " << backend->name() << "):\n";
                for (const std::string& f : written) std::cout << "  " << f << "\n";
                return static_cast<int>(kExitOk);
            }};
}

}  // namespace attnscope::cli
