// Subcommand registration and error-to-exit-code mapping for attnscope-cli.
#include "cli-main.h"

#include <iostream>

#include "attnscope/variant.h"
#include "cli-common.h"
#include "commands.h"
#ifdef ATTNSCOPE_WITH_CUDA
#include "attnscope/cuda-backend.h"
#endif

namespace attnscope::cli {

namespace {

int runGuarded(const std::function<int()>& run) {
    try {
        return run();
    } catch (const CaptureError& e) {
        std::cerr << "error: " << e.what() << "\n";
        return kExitBadInput;
    } catch (const ParamError& e) {
        std::cerr << "error: " << e.what() << "\n";
        return kExitBadInput;
    } catch (const UsageError& e) {
        std::cerr << "error: " << e.what() << "\n";
        return kExitBadInput;
    } catch (const BackendError& e) {
        std::cerr << "error: " << e.what() << "\n";
        return kExitBadInput;
    } catch (const std::invalid_argument& e) {
        std::cerr << "error: " << e.what() << "\n";
        return kExitBadInput;
    } catch (const std::bad_alloc&) {
        std::cerr << "error: out of memory\n";
        return kExitInternalError;
    } catch (const std::exception& e) {
        std::cerr << "internal error: " << e.what() << "\n";
        return kExitInternalError;
    }
}

}  // namespace

int runCli(int argc, char** argv) {
#ifdef ATTNSCOPE_WITH_CUDA
    registerCudaBackend();
#endif
    CLI::App app{"attnscope-cli: inspect attention captures (HDF5) with the AttnScope engine.\n"
                 "Exit codes: 0 ok, 2 bad input or arguments, 1 internal error."};
    app.require_subcommand(1);
    app.fallthrough();
    GlobalOptions global;
    app.add_option("--backend", global.backend, "compute backend: auto (GPU when usable), cpu or cuda")
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
        ->capture_default_str();
    app.add_option("--threads", global.threads, "CPU worker threads (default: all cores)");
    app.add_flag("-q,--quiet", global.quiet, "no progress on stderr");

    std::vector<Command> commands = {addInfoCommand(app, global), addStatsCommand(app, global),
                                     addRenderCommand(app, global), addCompareCommand(app, global),
                                     addVariantsCommand(app, global),
                                     addSinksCommand(app, global), addSensitivityCommand(app, global),
                                     addPruneCommand(app, global), addReportCommand(app, global),
                                     addOverviewCommand(app, global)};
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? kExitOk : kExitBadInput;
    }
    for (const Command& command : commands)
        if (command.app->parsed()) return runGuarded(command.run);
    return kExitBadInput;
}

}  // namespace attnscope::cli
