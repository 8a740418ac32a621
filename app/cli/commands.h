// The subcommands of attnscope-cli, one file each.
#pragma once

#include "cli-common.h"

namespace attnscope::cli {

Command addInfoCommand(CLI::App& app, const GlobalOptions& global);
Command addStatsCommand(CLI::App& app, const GlobalOptions& global);
Command addRenderCommand(CLI::App& app, const GlobalOptions& global);
Command addCompareCommand(CLI::App& app, const GlobalOptions& global);
Command addVariantsCommand(CLI::App& app, const GlobalOptions& global);
Command addSinksCommand(CLI::App& app, const GlobalOptions& global);
Command addSensitivityCommand(CLI::App& app, const GlobalOptions& global);

}  // namespace attnscope::cli
