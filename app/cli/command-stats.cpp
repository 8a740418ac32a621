// `attnscope-cli stats FILE -l L -H H`: dense statistics of one head — entropy, LSE, the keys that
// receive the most attention (sinks), and the attention to token 0.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <nlohmann/json.hpp>

#include "attnscope/attention-mask.h"
#include "commands.h"

namespace attnscope::cli {

namespace {

struct StatsOptions {
    HeadSelection head;
    bool json = false;
    bool arrays = false;
    int top = 10;
};

struct Summary {
    double mean = 0, min = 0, max = 0;
};

template <class T>
Summary summarize(const std::vector<T>& values) {
    Summary s;
    if (values.empty()) return s;
    s.min = *std::min_element(values.begin(), values.end());
    s.max = *std::max_element(values.begin(), values.end());
    s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
    return s;
}

nlohmann::json summaryJson(const Summary& s) { return {{"mean", s.mean}, {"min", s.min}, {"max", s.max}}; }

}  // namespace

Command addStatsCommand(CLI::App& app, const GlobalOptions& global) {
    auto options = std::make_shared<StatsOptions>();
    CLI::App* cmd = app.add_subcommand("stats", "dense attention statistics of one head (entropy, LSE, attention received)");
    addHeadSelection(*cmd, options->head);
    cmd->add_flag("--json", options->json, "machine-readable output");
    cmd->add_flag("--arrays", options->arrays, "include per-token arrays (row LSE, entropy, column sums) in JSON");
    cmd->add_option("--top", options->top, "how many top-receiving keys to list")->capture_default_str()->check(CLI::Range(1, 100000));
    return {cmd, [options, &global] {
                const CaptureReader reader = CaptureReader::open(options->head.file);
                const CaptureInfo& info = reader.info();
                const HeadTensors head = loadSelectedHead(reader, options->head);
                auto backend = makeBackend(global);
                StderrProgress progress(!global.quiet);
                const auto start = std::chrono::steady_clock::now();
                const HeadStatistics stats = backend->computeStatistics(head, {}, &progress);
                const double seconds = secondsSince(start);
                const int T = head.seqLen;

                // Mean attention a key receives from the queries that can see it.
                std::vector<double> meanReceived(T);
                std::vector<long long> viewers(T, 0);
                for (int i = 0; i < T; ++i) {
                    const KeyRange r = visibleKeys(head.config, T, i);
                    for (int j = r.begin; j < r.end; ++j) ++viewers[j];
                }
                for (int j = 0; j < T; ++j) meanReceived[j] = stats.columnSums[j] / static_cast<double>(viewers[j]);
                std::vector<int> order(T);
                std::iota(order.begin(), order.end(), 0);
                const int top = std::min(options->top, T);
                std::partial_sort(order.begin(), order.begin() + top, order.end(),
                                  [&](int a, int b) { return stats.columnSums[a] > stats.columnSums[b]; });
                const Summary entropy = summarize(stats.rowEntropy);
                const Summary lse = summarize(stats.rowLse);
                const Summary rowMax = summarize(stats.rowMax);
                auto tokenText = [&](int j) { return info.tokens.text.empty() ? std::string() : info.tokens.text[j]; };

                if (options->json) {
                    nlohmann::json j;
                    j["file"] = info.path;
                    j["model"] = info.model;
                    j["layer"] = head.layer;
                    j["head"] = head.queryHead;
                    j["kv_head"] = head.kvHead;
                    j["seq_len"] = T;
                    j["backend"] = backend->name();
                    j["seconds"] = seconds;
                    j["row_entropy"] = summaryJson(entropy);
                    j["row_lse"] = summaryJson(lse);
                    j["row_max_logit"] = summaryJson(rowMax);
                    j["attention_to_token0"] = meanReceived[0];
                    nlohmann::json receivers = nlohmann::json::array();
                    for (int r = 0; r < top; ++r)
                        receivers.push_back({{"token", order[r]},
                                             {"text", tokenText(order[r])},
                                             {"column_sum", stats.columnSums[order[r]]},
                                             {"mean_received", meanReceived[order[r]]}});
                    j["top_receivers"] = receivers;
                    if (options->arrays) {
                        j["row_lse_values"] = stats.rowLse;
                        j["row_entropy_values"] = stats.rowEntropy;
                        j["column_sums"] = stats.columnSums;
                    }
                    std::cout << j.dump(2) << "\n";
                    return static_cast<int>(kExitOk);
                }
                std::cout << std::fixed << std::setprecision(4);
                std::cout << "file:      " << info.path << "\n"
                          << "model:     " << info.model << ", layer " << head.layer << ", query head " << head.queryHead
                          << " (kv head " << head.kvHead << "), T=" << T << ", d=" << head.headDim << ", "
                          << (head.config.causal ? "causal" : "bidirectional") << "\n"
                          << "backend:   " << backend->name() << ", " << std::setprecision(3) << seconds << " s\n"
                          << std::setprecision(4)
                          << "entropy:   mean " << entropy.mean << "  min " << entropy.min << "  max " << entropy.max
                          << " nats\n"
                          << "row LSE:   mean " << lse.mean << "  min " << lse.min << "  max " << lse.max << "\n"
                          << "max logit: mean " << rowMax.mean << "  min " << rowMax.min << "  max " << rowMax.max << "\n"
                          << "token 0 (\"" << displayToken(tokenText(0)) << "\"): mean attention received "
                          << meanReceived[0] << "\n"
                          << "top " << top << " keys by attention received (sum over queries, mean per viewing query):\n";
                for (int r = 0; r < top; ++r) {
                    const int j = order[r];
                    std::cout << "  " << std::setw(3) << r + 1 << ". token " << std::setw(6) << j << "  \""
                              << displayToken(tokenText(j)) << "\"  sum " << stats.columnSums[j] << "  mean "
                              << meanReceived[j] << "\n";
                }
                return static_cast<int>(kExitOk);
            }};
}

}  // namespace attnscope::cli
