// What a capture file holds, read from its attributes and token datasets (no tensor data).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attnscope/head-tensors.h"

namespace attnscope {

struct CaptureTokens {
    std::vector<int64_t> ids;        // [T]
    std::vector<std::string> text;   // [T] decoded piece of each token, UTF-8
    std::vector<uint8_t> special;    // [T] 1 for special tokens (BOS/EOS/PAD/CLS/SEP...), else 0
};

struct CaptureLayerInfo {
    int slidingWindow = 0;  // 0: none
};

// One golden-value entry under /reference (see docs/capture-format.md).
struct ReferenceHeadInfo {
    std::string name;   // group name under /reference
    int layer = 0;
    int queryHead = 0;
    std::string source;
};

struct ReferenceValues {
    ReferenceHeadInfo info;
    std::vector<int32_t> rows;    // [R] query rows
    std::vector<float> probs;     // [R, T] attention probabilities from the framework
    std::vector<float> lse;       // [R] natural-log normalizer of the scaled logits
};

struct CaptureInfo {
    std::string path;
    int version = 0;
    std::string model;
    std::string modelType;
    std::string source;
    std::string created;
    std::string prompt;            // optional, may be empty
    bool causal = true;
    bool ropeApplied = false;
    double softmaxScale = 1.0;
    double softcap = 0.0;          // 0: none
    int numLayers = 0;
    int numQueryHeads = 0;
    int numKvHeads = 0;
    int headDim = 0;
    int valueDim = 0;
    int seqLen = 0;
    StorageType storage = StorageType::Float32;
    std::vector<CaptureLayerInfo> layers;  // [numLayers]
    CaptureTokens tokens;
    std::vector<ReferenceHeadInfo> references;

    int kvHeadFor(int queryHead) const { return queryHead / (numQueryHeads / numKvHeads); }
    AttentionConfig attentionConfig(int layer) const;
};

}  // namespace attnscope
