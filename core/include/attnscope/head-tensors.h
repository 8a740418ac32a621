// One attention head's inputs as the engine sees them: Q, K, V in fp32 plus the model's attention
// configuration. Everything downstream (backends, variants, views) works on this type.
// Must not depend on HDF5, Qt or CUDA.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnscope {

// The dtype the capture stored. fp16 and bf16 values convert to fp32 exactly, so a backend may
// convert back without loss (the CUDA backend feeds tensor cores with them).
enum class StorageType { Float32, Float16, BFloat16 };

const char* storageTypeName(StorageType type);

struct AttentionConfig {
    bool causal = true;
    float softmaxScale = 1.0f;  // logits are (q . k) * softmaxScale
    // Native model window (Mistral, Gemma local layers). 0 means none. Query i sees key j iff
    // i - j < slidingWindow (and, when bidirectional, j - i < slidingWindow).
    int slidingWindow = 0;
    // Logit soft-capping (Gemma 2). 0 means none; otherwise logit = softcap * tanh(logit / softcap).
    float softcap = 0.0f;
};

// Row-major, contiguous:
//   q [seqLen, headDim], k [seqLen, headDim], v [seqLen, valueDim]
// Self-attention: queries and keys index the same tokens.
struct HeadTensors {
    int seqLen = 0;
    int headDim = 0;
    int valueDim = 0;
    std::vector<float> q;
    std::vector<float> k;
    std::vector<float> v;
    AttentionConfig config;
    StorageType storage = StorageType::Float32;
    // Provenance, -1 when the head was not loaded from a capture.
    int layer = -1;
    int queryHead = -1;
    int kvHead = -1;

    const float* queryRow(int i) const { return q.data() + static_cast<size_t>(i) * headDim; }
    const float* keyRow(int j) const { return k.data() + static_cast<size_t>(j) * headDim; }
    const float* valueRow(int j) const { return v.data() + static_cast<size_t>(j) * valueDim; }
};

// Throws std::invalid_argument naming the first inconsistency (sizes, non-positive dims, bad scale).
void validateHeadTensors(const HeadTensors& head);

}  // namespace attnscope
