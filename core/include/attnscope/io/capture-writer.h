// Writes capture format v1 from fp32 host arrays, converting to the chosen storage type. Used by
// the tests and C++ tools; the Python exporter (tools/attnscope_capture) writes the same format.
// Writes to a temporary file and renames it into place, so a failed write leaves nothing behind.
#pragma once

#include <string>
#include <vector>

#include "attnscope/io/capture-info.h"

namespace attnscope {

struct LayerTensors {
    std::vector<float> q;  // [numQueryHeads, T, headDim]
    std::vector<float> k;  // [numKvHeads, T, headDim]
    std::vector<float> v;  // [numKvHeads, T, valueDim]
    int slidingWindow = 0;
};

struct CaptureWriteOptions {
    bool deflate = true;
    int deflateLevel = 4;
};

// `info` supplies the root attributes, tokens and storage type; info.layers is ignored in favour
// of layers[l].slidingWindow. `references` are written under /reference when non-empty.
void writeCapture(const std::string& path, const CaptureInfo& info, const std::vector<LayerTensors>& layers,
                  const std::vector<ReferenceValues>& references = {}, const CaptureWriteOptions& options = {});

}  // namespace attnscope
