// C ABI over the layer-level kernels (attnscope/cuda-layer.h) for ctypes: device pointers in,
// 0 on success, -1 on failure with the message in attnscope_last_error().
#include <exception>
#include <string>

#include "attnscope/cuda-layer.h"

namespace {

thread_local std::string g_lastError;

attnscope::cuda::LayerShape shapeOf(int qHeads, int kvHeads, int seqLen, int headDim, int causal, int window) {
    attnscope::cuda::LayerShape s;
    s.qHeads = qHeads;
    s.kvHeads = kvHeads;
    s.seqLen = seqLen;
    s.headDim = headDim;
    s.causal = causal != 0;
    s.window = window;
    return s;
}

template <class F>
int guarded(F&& f) {
    try {
        f();
        return 0;
    } catch (const std::exception& e) {
        g_lastError = e.what();
        return -1;
    }
}

}  // namespace

extern "C" {

const char* attnscope_last_error() { return g_lastError.c_str(); }

// dtype: 0 = bf16, 1 = fp16.
int attnscope_layer_forward(int qHeads, int kvHeads, int seqLen, int headDim, int causal, int window, int dtype,
                            const void* q, const void* k, const void* v, float* out, float* rowMax, float* rowLse,
                            float* rowEntropy, int splitP, const int* blockOffsets, const int* blockList,
                            void* stream) {
    return guarded([&] {
        attnscope::cuda::layerForward(shapeOf(qHeads, kvHeads, seqLen, headDim, causal, window),
                                      dtype == 0 ? attnscope::cuda::LayerDType::BFloat16
                                                 : attnscope::cuda::LayerDType::Float16,
                                      q, k, v, out, rowMax, rowLse, rowEntropy, splitP != 0, blockOffsets, blockList,
                                      stream);
    });
}

int attnscope_layer_statistics(int qHeads, int kvHeads, int seqLen, int headDim, int causal, int window, int dtype,
                               const void* q, const void* k, const float* rowLse, float* columnSums, float* blockSum,
                               float* blockMax, void* stream) {
    return guarded([&] {
        attnscope::cuda::layerStatistics(shapeOf(qHeads, kvHeads, seqLen, headDim, causal, window),
                                         dtype == 0 ? attnscope::cuda::LayerDType::BFloat16
                                                    : attnscope::cuda::LayerDType::Float16,
                                         q, k, rowLse, columnSums, blockSum, blockMax, stream);
    });
}

}  // extern "C"
