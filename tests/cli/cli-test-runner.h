// Runs attnscope-cli in-process for the CLI tests: arguments in, exit code and captured
// stdout/stderr out. Always on the CPU backend, without progress output.
#pragma once

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli-main.h"

namespace attnscope::testing {

struct CliResult {
    int code;
    std::string out;
    std::string err;
};

inline CliResult runCli(std::vector<std::string> args) {
    args.insert(args.begin(), "attnscope-cli");
    for (const char* extra : {"--backend", "cpu", "--quiet"}) args.push_back(extra);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    std::ostringstream out, err;
    auto* oldOut = std::cout.rdbuf(out.rdbuf());
    auto* oldErr = std::cerr.rdbuf(err.rdbuf());
    const int code = cli::runCli(static_cast<int>(argv.size()), argv.data());
    std::cout.rdbuf(oldOut);
    std::cerr.rdbuf(oldErr);
    return {code, out.str(), err.str()};
}

}  // namespace attnscope::testing
