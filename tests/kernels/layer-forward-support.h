// Helpers of the layer-level forward tests (attnscope/cuda-layer.h): sink + window block lists, the
// double-precision softmax over listed key blocks, one launch over a layer's heads and the check of
// every head against the CPU reference. Used on seeded heads and on the bundled real captures.
#pragma once

#include <vector>

#include "attnscope/cuda-layer.h"
#include "kernel-test-support.h"

namespace attnscope::test {

// Block-sparse lists of 64x64 blocks: query block qb visits blocks[offsets[qb] .. offsets[qb + 1]).
struct BlockLists {
    std::vector<int> offsets{0}, blocks;
};

// Key block 0 (sinks) plus the last windowBlocks blocks up to the diagonal; with emptyLists every
// third query block lists nothing.
BlockLists sinkWindowLists(int nb, int windowBlocks, bool emptyLists);

// Softmax over the visible keys of the listed blocks, in double: what the block-sparse forward
// computes for one head. A row with no key: output 0, max and LSE -inf, entropy 0.
struct RowReference {
    std::vector<double> lse, entropy;
    std::vector<float> rowMax, output;
};
RowReference sparseReference(const HeadTensors& h, const BlockLists& l);

// What cuda::layerForward wrote for every query head: out [qHeads, T, d], the rows [qHeads, T].
struct LayerForwardRows {
    std::vector<float> out, rowMax, rowLse, rowEntropy;
};

// One cuda::layerForward over `heads` (query head h reads K/V head h / (heads / kvHeads), taken from
// the group's first head), uploaded as `dtype` (the values must be exact in it), split P, block-sparse
// when `lists` is given. Rows the launch does not write stay NaN.
LayerForwardRows runLayerForward(const std::vector<HeadTensors>& heads, int kvHeads, cuda::LayerDType dtype,
                                 const BlockLists* lists);

// Every head of the launch against the CPU reference (dense) or sparseReference (block-sparse).
void expectLayerMatchesReference(const LayerForwardRows& g, const std::vector<HeadTensors>& heads, int kvHeads,
                                 const BlockLists* lists, double tol);

}  // namespace attnscope::test
