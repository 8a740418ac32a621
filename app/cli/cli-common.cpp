// See cli-common.h.
#include "cli-common.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unistd.h>

#include "attnscope/cpu-backend.h"

namespace attnscope::cli {

void addHeadSelection(CLI::App& command, HeadSelection& selection) {
    command.add_option("file", selection.file, "capture file (.h5)")->required();
    command.add_option("-l,--layer", selection.layer, "layer index")->required();
    command.add_option("-H,--head", selection.head, "query head index")->required();
}

std::unique_ptr<Backend> makeBackend(const GlobalOptions& global) {
    if (global.threads > 0) {
        if (global.backend == "cpu") return std::make_unique<CpuBackend>(global.threads);
        setenv("ATTNSCOPE_THREADS", std::to_string(global.threads).c_str(), 1);
    }
    return createBackend(global.backend);
}

HeadTensors loadSelectedHead(const CaptureReader& reader, const HeadSelection& selection) {
    const CaptureInfo& info = reader.info();
    if (selection.layer < 0 || selection.layer >= info.numLayers)
        throw CaptureError(CaptureErrorKind::InvalidArgument, info.path, "/layers",
                           "a layer in 0.." + std::to_string(info.numLayers - 1), std::to_string(selection.layer));
    if (selection.head < 0 || selection.head >= info.numQueryHeads)
        throw CaptureError(CaptureErrorKind::InvalidArgument, info.path, "/layers/" + std::to_string(selection.layer) + "/q",
                           "a query head in 0.." + std::to_string(info.numQueryHeads - 1), std::to_string(selection.head));
    return reader.loadHead(selection.layer, selection.head);
}

StderrProgress::~StderrProgress() {
    if (m_printed) std::fprintf(stderr, "\n");
}

void StderrProgress::report(std::string_view stage, double fraction) {
    if (!m_enabled) return;
    std::lock_guard lock(m_mutex);
    const auto now = std::chrono::steady_clock::now();
    if (now - m_start < std::chrono::milliseconds(500)) return;
    if (m_printed && now - m_last < std::chrono::milliseconds(250) && fraction < 1.0) return;
    m_last = now;
    const bool tty = isatty(fileno(stderr));
    std::fprintf(stderr, tty ? "\r%-12.*s %5.1f%%" : "%.*s %.1f%%\n", static_cast<int>(stage.size()), stage.data(),
                 100.0 * fraction);
    std::fflush(stderr);
    m_printed = tty;
}

void writeFileAtomically(const std::string& path, const std::string& bytes) {
    const std::filesystem::path target(path);
    const std::filesystem::path temp = target.string() + ".tmp-" + std::to_string(getpid());
    {
        std::ofstream out(temp, std::ios::binary);
        if (!out) throw UsageError("cannot write '" + path + "': the directory does not exist or is not writable");
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out) {
            std::filesystem::remove(temp);
            throw UsageError("writing '" + path + "' failed (disk full?)");
        }
    }
    std::error_code ec;
    std::filesystem::rename(temp, target, ec);
    if (ec) {
        std::filesystem::remove(temp);
        throw UsageError("cannot move the output into place at '" + path + "': " + ec.message());
    }
}

double secondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string displayToken(const std::string& text, size_t maxChars) {
    std::string out;
    for (unsigned char c : text) {
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else if (c < 0x20) out += "?";
        else out += static_cast<char>(c);
    }
    if (out.size() > maxChars) {
        size_t cut = maxChars;
        while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
        out = out.substr(0, cut) + "...";
    }
    return out;
}

}  // namespace attnscope::cli
