// CaptureInfo::attentionConfig: the per-layer attention configuration a capture implies (the file-wide
// causal flag, scale and softcap plus that layer's native sliding window).

#include "attnscope/io/capture-info.h"

#include <string>

#include "attnscope/io/capture-error.h"

namespace attnscope {

AttentionConfig CaptureInfo::attentionConfig(int layer) const {
    if (layer < 0 || layer >= numLayers || static_cast<size_t>(layer) >= layers.size()) {
        throw CaptureError(CaptureErrorKind::InvalidArgument, path, "/layers/" + std::to_string(layer),
                           "a layer index in [0, " + std::to_string(numLayers) + ")", std::to_string(layer));
    }
    AttentionConfig config;
    config.causal = causal;
    config.softmaxScale = static_cast<float>(softmaxScale);
    config.softcap = static_cast<float>(softcap);
    config.slidingWindow = layers[static_cast<size_t>(layer)].slidingWindow;
    return config;
}

}  // namespace attnscope
