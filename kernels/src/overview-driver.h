// The whole-model overview of one layer on the device (layer-overview.h): row LSE and entropy, the
// masks' top-k thresholds and MoBA gates, then one pass for every mask's recall and kept cells.
// Shared by the Backend override and the layer-level API.
#pragma once

#include <vector>

#include "attnscope/layer-overview.h"
#include "launchers.h"

namespace attnscope::cuda {

// h: every query head of the layer on the device (q [qHeads, rowsPadded, D], k [kvHeads, ...]);
// headDim: the unpadded head dim (the MoBA gate's dot product runs over it).
std::vector<HeadOverview> runLayerOverview(Element e, int D, int headDim, const HeadView& h,
                                           const std::vector<OverviewMask>& masks, cudaStream_t stream);

}  // namespace attnscope::cuda
