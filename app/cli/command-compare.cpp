// `attnscope-cli compare`: several variants on one head at (as close as possible to) one density,
// with recall, output error and agreement with the oracle top-k at the same per-row budget.
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "variant-selection.h"

namespace attnscope::cli {

namespace {

struct CompareOptions {
    HeadSelection head;
    std::vector<std::string> variants;
    double density = 0.0;
    std::vector<std::string> params;  // variant.name=value
    bool csv = false;
    bool json = false;
};

struct Row {
    std::string id;
    ParamValues params;
    VariantMetrics metrics;
    double seconds = 0.0;
};

// "--param moba.block=32" -> assignments for variant "moba".
std::vector<std::string> assignmentsFor(const std::string& id, const std::vector<std::string>& prefixed) {
    std::vector<std::string> out;
    for (const std::string& p : prefixed) {
        const size_t dot = p.find('.');
        if (dot == std::string::npos || dot == 0)
            throw UsageError("--param for compare must be variant.name=value (e.g. moba.block=32), got '" + p + "'");
        if (p.substr(0, dot) == id) out.push_back(p.substr(dot + 1));
    }
    return out;
}

}  // namespace

Command addCompareCommand(CLI::App& app, const GlobalOptions& global) {
    auto o = std::make_shared<CompareOptions>();
    CLI::App* cmd = app.add_subcommand("compare", "compare variants on one head at equal density");
    addHeadSelection(*cmd, o->head);
    cmd->add_option("--variants", o->variants, "variant ids, comma-separated or repeated")->required()->delimiter(',');
    cmd->add_option("--density", o->density, "target density in (0, 1]; variants without a budget run as they are")
        ->required()->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--param", o->params, "fixed parameter as variant.name=value (repeatable)");
    auto* csv = cmd->add_flag("--csv", o->csv, "CSV output");
    cmd->add_flag("--json", o->json, "JSON output")->excludes(csv);
    return {cmd, [o, &global] {
                if (!(o->density > 0.0)) throw UsageError("--density must be greater than 0");
                std::vector<const Variant*> variants;
                for (const std::string& id : o->variants) variants.push_back(&requireVariant(id));
                for (const std::string& p : o->params) {
                    const std::string id = p.substr(0, p.find('.'));
                    if (std::find(o->variants.begin(), o->variants.end(), id) == o->variants.end())
                        throw UsageError("--param " + p + " names variant '" + id + "', which is not in --variants");
                }
                const CaptureReader reader = CaptureReader::open(o->head.file);
                const HeadTensors head = loadSelectedHead(reader, o->head);
                auto backend = makeBackend(global);
                StderrProgress progress(!global.quiet);
                const HeadStatistics dense = backend->computeStatistics(head, {}, &progress);
                std::vector<Row> rows;
                for (const Variant* v : variants) {
                    const auto start = std::chrono::steady_clock::now();
                    Row row;
                    row.id = v->id();
                    row.params = selectParams(*v, assignmentsFor(v->id(), o->params), o->density, head, *backend);
                    const VariantPlan plan = v->plan(head, row.params, *backend);
                    row.metrics = backend->evaluateVariant(head, dense, plan, &progress).metrics;
                    row.seconds = secondsSince(start);
                    rows.push_back(row);
                }
                if (o->json) {
                    nlohmann::json j;
                    j["file"] = reader.info().path;
                    j["layer"] = head.layer;
                    j["head"] = head.queryHead;
                    j["seq_len"] = head.seqLen;
                    j["target_density"] = o->density;
                    j["backend"] = backend->name();
                    nlohmann::json list = nlohmann::json::array();
                    for (const Row& r : rows)
                        list.push_back({{"variant", r.id},
                                        {"params", r.params},
                                        {"density", r.metrics.density},
                                        {"recall", r.metrics.recall},
                                        {"output_error", r.metrics.outputError},
                                        {"oracle_jaccard", r.metrics.oracleJaccard},
                                        {"oracle_recall", r.metrics.oracleRecall},
                                        {"kept_cells", r.metrics.keptCells},
                                        {"visible_cells", r.metrics.visibleCells},
                                        {"seconds", r.seconds}});
                    j["variants"] = list;
                    std::cout << j.dump(2) << "\n";
                } else if (o->csv) {
                    std::cout << "variant,params,density,recall,output_error,oracle_jaccard,oracle_recall,kept_cells,visible_cells\n";
                    std::cout << std::setprecision(8);
                    for (const Row& r : rows)
                        std::cout << r.id << ",\"" << formatParams(r.params) << "\"," << r.metrics.density << ","
                                  << r.metrics.recall << "," << r.metrics.outputError << "," << r.metrics.oracleJaccard
                                  << "," << r.metrics.oracleRecall << "," << r.metrics.keptCells << ","
                                  << r.metrics.visibleCells << "\n";
                } else {
                    std::cout << "layer " << head.layer << " head " << head.queryHead << ", T=" << head.seqLen
                              << ", target density " << o->density << ", backend " << backend->name() << "\n";
                    std::cout << std::left << std::setw(15) << "variant" << std::setw(24) << "params" << std::right
                              << std::setw(9) << "density" << std::setw(9) << "recall" << std::setw(11) << "out.err"
                              << std::setw(10) << "jaccard" << std::setw(11) << "oracle.rec" << "\n";
                    std::cout << std::fixed << std::setprecision(4);
                    for (const Row& r : rows)
                        std::cout << std::left << std::setw(15) << r.id << std::setw(24) << formatParams(r.params)
                                  << std::right << std::setw(9) << r.metrics.density << std::setw(9) << r.metrics.recall
                                  << std::setw(11) << r.metrics.outputError << std::setw(10) << r.metrics.oracleJaccard
                                  << std::setw(11) << r.metrics.oracleRecall << "\n";
                }
                return static_cast<int>(kExitOk);
            }};
}

}  // namespace attnscope::cli
