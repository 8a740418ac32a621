// Shared pieces of attnscope-cli commands: global options, exit codes, backend creation, progress
// on stderr, loading a head with range checks, atomic file output.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "attnscope/backend.h"
#include "attnscope/io/capture-reader.h"

namespace attnscope::cli {

enum ExitCode : int { kExitOk = 0, kExitInternalError = 1, kExitBadInput = 2 };

// Wrong or contradictory arguments detected after parsing (exit code 2).
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct GlobalOptions {
    std::string backend = "auto";
    int threads = 0;
    bool quiet = false;
};

// One subcommand: its CLI11 node and what to run when it was the one parsed.
struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;
};

// File + layer + head, the arguments every per-head command takes.
struct HeadSelection {
    std::string file;
    int layer = 0;
    int head = 0;
};
void addHeadSelection(CLI::App& command, HeadSelection& selection);

std::unique_ptr<Backend> makeBackend(const GlobalOptions& global);

// Throws CaptureError(InvalidArgument) with the valid ranges when layer/head are out of range.
HeadTensors loadSelectedHead(const CaptureReader& reader, const HeadSelection& selection);

// Progress on stderr for work that lasts: silent for the first half second, then a line updated
// at most four times a second. Thread-safe (backends report from worker threads).
class StderrProgress : public JobControl {
public:
    explicit StderrProgress(bool enabled) : m_enabled(enabled), m_start(std::chrono::steady_clock::now()) {}
    ~StderrProgress() override;
    void report(std::string_view stage, double fraction) override;

private:
    bool m_enabled;
    bool m_printed = false;
    std::chrono::steady_clock::time_point m_start;
    std::chrono::steady_clock::time_point m_last;
    std::mutex m_mutex;
};

// Writes `bytes` to a temporary file next to `path` and renames it into place.
void writeFileAtomically(const std::string& path, const std::string& bytes);

// Seconds since `start`, for timing lines.
double secondsSince(std::chrono::steady_clock::time_point start);

// Printable token text: control characters escaped, long pieces shortened.
std::string displayToken(const std::string& text, size_t maxChars = 24);

}  // namespace attnscope::cli
