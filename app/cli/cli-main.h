// attnscope-cli: headless access to captures, statistics, maps and variant comparisons.
#pragma once

namespace attnscope::cli {

// Parses arguments, runs one subcommand, maps errors to exit codes (0 ok, 2 bad input or
// arguments, 1 internal error) with a one-line message on stderr.
int runCli(int argc, char** argv);

}  // namespace attnscope::cli
