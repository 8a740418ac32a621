// Writes capture format v1 from fp32 host arrays, converting to the chosen storage type. Used by
// the tests and C++ tools; the Python exporter (tools/attnscope_capture) writes the same format.
// Writes to a temporary file and renames it into place, so a failed write leaves nothing behind.
#pragma once

#include <string>
#include <vector>

#include "attnscope/layer-overview.h"

#include "attnscope/io/capture-info.h"

namespace attnscope {

struct CaptureWriteOptions {
    bool deflate = true;
    int deflateLevel = 4;
};

// `info` supplies the root attributes, tokens and storage type; of each LayerTensors (layer-overview.h)
// the writer uses q, k, v and config.slidingWindow (info.layers is ignored in its favour). `references` are written under /reference when non-empty.
void writeCapture(const std::string& path, const CaptureInfo& info, const std::vector<LayerTensors>& layers,
                  const std::vector<ReferenceValues>& references = {}, const CaptureWriteOptions& options = {});

}  // namespace attnscope
