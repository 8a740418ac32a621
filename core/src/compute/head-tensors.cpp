// Validation of HeadTensors and the storage-type names.
#include "attnscope/head-tensors.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace attnscope {

const char* storageTypeName(StorageType type) {
    switch (type) {
        case StorageType::Float32: return "float32";
        case StorageType::Float16: return "float16";
        case StorageType::BFloat16: return "bfloat16";
    }
    return "unknown";
}

void validateHeadTensors(const HeadTensors& head) {
    auto fail = [](const std::string& what) { throw std::invalid_argument("invalid head tensors: " + what); };
    if (head.seqLen <= 0) fail("seqLen must be positive, got " + std::to_string(head.seqLen));
    if (head.headDim <= 0) fail("headDim must be positive, got " + std::to_string(head.headDim));
    if (head.valueDim <= 0) fail("valueDim must be positive, got " + std::to_string(head.valueDim));
    const size_t t = static_cast<size_t>(head.seqLen);
    if (head.q.size() != t * head.headDim) fail("q has " + std::to_string(head.q.size()) + " values, expected T*d");
    if (head.k.size() != t * head.headDim) fail("k has " + std::to_string(head.k.size()) + " values, expected T*d");
    if (head.v.size() != t * head.valueDim) fail("v has " + std::to_string(head.v.size()) + " values, expected T*dv");
    if (!(head.config.softmaxScale > 0.0f) || !std::isfinite(head.config.softmaxScale))
        fail("softmaxScale must be positive and finite");
    if (head.config.slidingWindow < 0) fail("slidingWindow must be >= 0");
    if (head.config.softcap < 0.0f || !std::isfinite(head.config.softcap)) fail("softcap must be >= 0 and finite");
}

}  // namespace attnscope
