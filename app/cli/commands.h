// The subcommands of attnscope-cli, one file each.
#pragma once

#include "attnscope/analysis/kv-eviction.h"
#include "attnscope/analysis/sinks.h"
#include "cli-common.h"

namespace attnscope::cli {

Command addInfoCommand(CLI::App& app, const GlobalOptions& global);
Command addStatsCommand(CLI::App& app, const GlobalOptions& global);
Command addRenderCommand(CLI::App& app, const GlobalOptions& global);
Command addCompareCommand(CLI::App& app, const GlobalOptions& global);
Command addVariantsCommand(CLI::App& app, const GlobalOptions& global);
Command addSinksCommand(CLI::App& app, const GlobalOptions& global);
Command addSensitivityCommand(CLI::App& app, const GlobalOptions& global);
Command addPruneCommand(CLI::App& app, const GlobalOptions& global);
Command addReportCommand(CLI::App& app, const GlobalOptions& global);
Command addOverviewCommand(CLI::App& app, const GlobalOptions& global);
// Shared by prune and report: budgets as token counts, policy ids ("all") as policies.
std::vector<int> budgetTokens(const std::vector<double>& budgets, int seqLen);
std::vector<analysis::EvictionPolicy> parsePolicies(const std::vector<std::string>& ids, bool causal);
// Shared by sinks and report: --kappa, --local-window and --min-queries (how non-initial sinks are judged).
void addSinkJudgingOptions(CLI::App& cmd, analysis::SinkOptions& options);

}  // namespace attnscope::cli
