// One head's Q/K/V on the GPU in the kernels' layout: rows padded to a multiple of 64, head dims
// padded with zeros to 32..128 in steps of 16, in the element type the capture stored (fp16/bf16
// convert from fp32 exactly; a head whose values are not representable falls back to fp32).
#pragma once

#include <cstdint>
#include <vector>

#include "attnscope/head-tensors.h"
#include "attnscope/layer-overview.h"
#include "cuda-check.h"
#include "launchers.h"

namespace attnscope::cuda {

struct DeviceHead {
    Element element = Element::Float32;
    int paddedDim = 0;
    int rowsPadded = 0;
    DeviceBuffer<unsigned char> q, k, v;
    HeadView view;
    uint64_t fingerprint = 0;
    bool linearFeatures = false;  // q, k hold elu+1 features (scale 1, no softcap)
};

// Picks the element type for `head`: its storage when every value converts exactly, else fp32.
Element chooseElement(const HeadTensors& head);

// Fingerprint of the head's identity and a sample of its values (the device cache key).
uint64_t headFingerprint(const HeadTensors& head, Element element, bool linearFeatures);

// Uploads `head` (or its elu+1 features for q and k when linearFeatures, always fp32 then).
DeviceHead uploadHead(const HeadTensors& head, Element element, bool linearFeatures, cudaStream_t stream);

// A whole layer (every head) in the same layout, one buffer per tensor: q [qHeads, rowsPadded,
// paddedDim], k and v [kvHeads, rowsPadded, paddedDim]; view.qHeads / kvHeads set. Not cached.
Element chooseLayerElement(const LayerTensors& layer);
DeviceHead uploadLayer(const LayerTensors& layer, Element element, cudaStream_t stream);

}  // namespace attnscope::cuda
