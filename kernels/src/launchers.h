// Host-side entry points of the kernel files (one concept per .cu file), used by the backend and
// the layer-level API. All pointers are device pointers; layouts are documented per function.
// Every launcher checks the launch and throws BackendError on failure (cuda-check.h).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "attention-common.cuh"

namespace attnscope::cuda {

enum class Element { BFloat16, Float16, Float32 };

// Head dims the kernels are compiled for; others are zero-padded up to the next one.
inline int paddedHeadDim(int d) {
    const int p = ((d + 15) / 16) * 16;
    return p < 32 ? 32 : p;
}
constexpr int kMaxHeadDim = 128;

// Per query head h, rows padded: out [qHeads, rowsPadded, D]; rowMax/rowLse/rowEntropy
// [qHeads, rowsPadded]. Block-sparse when blockOffsets is set: query block qb visits key blocks
// blockList[blockOffsets[qb] .. blockOffsets[qb + 1]) (ascending; same list for every head).
struct ForwardArgs {
    float* out = nullptr;
    float* rowMax = nullptr;
    float* rowLse = nullptr;
    float* rowEntropy = nullptr;
    const int* blockOffsets = nullptr;
    const int* blockList = nullptr;
    bool splitP = true;  // hi/lo P for ~1e-5 output accuracy (false: one 16-bit P, as flash kernels do)
};
void launchForward(Element e, int D, const HeadView& h, const ForwardArgs& a, cudaStream_t stream);
// The same forward with wgmma (forward-wgmma.cu, sm_90a); returns false without launching when the
// element type (fp32), the head dim (not a multiple of 64) or the device (not compute capability
// 9.0) does not allow it.
bool launchForwardWgmma(Element e, int D, const HeadView& h, const ForwardArgs& a, cudaStream_t stream);
// The warp-specialized version (forward-wgmma-specialized.cu, sm_90a: a producer thread feeds the
// computing warpgroups through the copy engine); returns false without launching where
// launchForwardWgmma would, or when the driver cannot encode the tensor maps of Q, K, V.
bool launchForwardWgmmaSpecialized(Element e, int D, const HeadView& h, const ForwardArgs& a, cudaStream_t stream);

// KV-major statistics with the LSE of the forward: columnSums [qHeads, rowsPadded];
// blockSum/blockMax [qHeads, nb, nb] with nb = rowsPadded / 64.
struct StatisticsArgs {
    const float* rowLse = nullptr;
    float* columnSums = nullptr;
    float* blockSum = nullptr;
    float* blockMax = nullptr;
};
void launchStatistics(Element e, int D, const HeadView& h, const StatisticsArgs& a, cudaStream_t stream);
// The same pass with wgmma (statistics-wgmma.cu, sm_90a); returns false without launching when the
// element type (fp32) or the device (not compute capability 9.0) does not allow it. The caller
// clears the block buffers first.
bool launchStatisticsWgmma(Element e, int D, const HeadView& h, const StatisticsArgs& a, cudaStream_t stream);

// Pooled tile, cell part (single head). Cells of [q0,q1) x [k0,k1) accumulate into groups
// (rowGroup[i - q0], colGroup[j - k0]) of a groupRows x groupCols grid: sum (double) and max
// (ordered bits). Key blocks where skipBlock(qb, kb) holds (dense tiles served by the block grid)
// are left to launchTileBlocks.
enum class CellQuantity { Dense, Variant, Kept, Difference, Dropped };
struct TileArgs {
    int q0 = 0, q1 = 0, k0 = 0, k1 = 0;
    CellQuantity quantity = CellQuantity::Dense;
    bool linear = false;            // LinearEluPlusOne variant weights (float path, phi features)
    const float* phiQ = nullptr;    // [rowsPadded, D] when linear
    const float* phiK = nullptr;
    const float* rowLse = nullptr;         // dense [rowsPadded]
    const float* variantNorm = nullptr;    // variant normalizer [rowsPadded] (float; -inf = empty)
    DeviceMask mask;
    const int* rowGroup = nullptr;
    const int* colGroup = nullptr;
    int groupCols = 0;
    const uint8_t* rowBlockAligned = nullptr;  // [nb]: block row lies in one group and inside [q0,q1)
    const uint8_t* colBlockAligned = nullptr;
    bool useBlocks = false;
    double* groupSum = nullptr;
    unsigned* groupMax = nullptr;
};
void launchTileCells(Element e, int D, const HeadView& h, const TileArgs& a, cudaStream_t stream);
// Adds grid blocks (sum [nb, nb], max) wholly inside one group to the group accumulators.
void launchTileBlocks(const HeadView& h, const TileArgs& a, const float* blockSum, const float* blockMax,
                      cudaStream_t stream);
// Final pixels: value[y, x] = pooled group (groupOfPixelRow[y], groupOfPixelCol[x]) over the
// pixel's visible cells (counted here), NaN when it has none.
void launchTileFinish(const HeadView& h, const TileArgs& a, int width, int height, const int* pixelRowGroup,
                      const int* pixelColGroup, bool meanPooling, float* values, cudaStream_t stream);

// Row thresholds of every query head of h: need[i] in [1, visible_i - 1] (the same budgets for all
// heads) selects the need-th key in (logit desc, key asc); out [qHeads, rowsPadded]; rows with
// need <= 0 are skipped (their entries untouched). rowLse [qHeads, rowsPadded]: the rows' LSE (as
// launchRowLse writes it), which the fast two-sweep selection bins from; nullptr computes it here.
// keptMass / keptCells [qHeads, rowsPadded] (optional, both or neither): for the rows the fast
// selection finishes, the dense mass (exp(logit - rowLse)) of the row's kept keys and their count;
// other rows' entries are left untouched (initialize them, e.g. keptCells to -1).
void launchRowThresholds(Element e, int D, const HeadView& h, const int* need, const float* rowLse,
                         DeviceThreshold* out, cudaStream_t stream, float* keptMass = nullptr,
                         int* keptCells = nullptr);
// Keys passing row i's threshold, at most k per row: keys [T, k] (-1 padded), logits [T, k].
void launchTopKCollect(Element e, int D, const HeadView& h, const DeviceThreshold* thresholds, int k, int* keys,
                       float* logits, cudaStream_t stream);

// SoftmaxInMask variant, block-sparse over the listed blocks: output [rowsPadded, D],
// normalizer (lse over kept, -inf when none), kept count, recall (dense mass kept) per row.
struct VariantArgs {
    DeviceMask mask;
    const float* denseLse = nullptr;
    const int* blockOffsets = nullptr;
    const int* blockList = nullptr;
    float* out = nullptr;
    float* normalizer = nullptr;
    int* kept = nullptr;
    float* recall = nullptr;
};
void launchVariant(Element e, int D, const HeadView& h, const VariantArgs& a, cudaStream_t stream);

// Oracle comparison: per row |M_i & T_i| and the dense mass of T_i (T_i given by thresholds).
struct OracleArgs {
    DeviceMask mask;
    const DeviceThreshold* oracle = nullptr;
    const float* denseLse = nullptr;
    int* intersection = nullptr;
    float* oracleRecall = nullptr;
};
void launchOracle(Element e, int D, const HeadView& h, const OracleArgs& a, cudaStream_t stream);

// LinearEluPlusOne over all visible cells, float path: h.q / h.k are the elu+1 features of q / k
// (scale 1, no softcap: the sweep's logits are the weights), h.v the float values.
// out [rowsPadded, D], z [rowsPadded].
struct LinearArgs {
    float* out = nullptr;
    float* z = nullptr;
};
void launchLinearVariant(int D, const HeadView& h, const LinearArgs& a, cudaStream_t stream);

// Whole-model overview (overview.cu, block-gate.cu); every launch covers all query heads of h.
// Row LSE and entropy without the output: rowLse, rowEntropy [qHeads, rowsPadded].
void launchRowLse(Element e, int D, const HeadView& h, float* rowLse, float* rowEntropy, cudaStream_t stream);
// Budgets of per-row top-k with k keys for launchRowThresholds: need [rowsPadded] and the initial
// thresholds [qHeads, rowsPadded] (keep all where k covers the row, none where k <= 0).
void launchTopKBudgets(const HeadView& h, int k, int* need, DeviceThreshold* thresholds, cudaStream_t stream);
// MoBA block gate (see block-gate.cu): meanQ [qHeads, nBlocks, dim], meanK [kvHeads, nBlocks, dim]
// scratch; blocks [qHeads, nBlocks, nBlocks] with nBlocks = ceil(seqLen / block). stride: the row
// stride of h.q / h.k (padded head dim), dim: the real head dim.
void launchBlockGate(Element e, const HeadView& h, int stride, int dim, int block, int topk, float* meanQ,
                     float* meanK, uint8_t* blocks, cudaStream_t stream);
// Per head sums over rows for up to kMaxOverviewMasks masks in one pass: recallSum [qHeads,
// kMaxOverviewMasks] (dense mass inside each mask), keptSum (kept cells), sinkSum [qHeads] (mass on
// key 0) and entropySum [qHeads] (of rowEntropy). All sums must start at zero. A mask's rowTopK
// points at [qHeads, rowsPadded] thresholds and its blocks at [qHeads, blocksHeadStride] maps.
constexpr int kMaxOverviewMasks = 8;
struct MaskMetricsArgs {
    int count = 0;
    DeviceMask masks[kMaxOverviewMasks];
    size_t blocksHeadStride[kMaxOverviewMasks] = {};
    // Optional, for a mask that is a pure top-k: per-row results launchRowThresholds already summed
    // ([qHeads, rowsPadded]; rows with keptCells < 0 are measured here, cell by cell).
    const float* rowKeptMass[kMaxOverviewMasks] = {};
    const int* rowKeptCells[kMaxOverviewMasks] = {};
    const float* rowLse = nullptr;
    const float* rowEntropy = nullptr;
    double* recallSum = nullptr;
    unsigned long long* keptSum = nullptr;
    double* sinkSum = nullptr;
    double* entropySum = nullptr;
};
void launchMaskMetrics(Element e, int D, const HeadView& h, const MaskMetricsArgs& a, cudaStream_t stream);

// phi(x) = elu(x) + 1 elementwise.
void launchEluPlusOne(const float* in, float* out, size_t count, cudaStream_t stream);

}  // namespace attnscope::cuda
