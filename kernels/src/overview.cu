// Whole-model overview kernels, every query head of a layer per launch (grid.y = head):
//  - the row LSE and entropy without the P.V product (the overview needs no output),
//  - the budgets of a per-row top-k mask (initial thresholds and radix-select needs),
//  - one pass that, for up to kMaxOverviewMasks masks at once, sums per head the dense mass each
//    mask keeps (recall numerator), its kept cells, the mass on token 0 and the row entropies.
#include <climits>

#include "dispatch.cuh"
#include "row-sweep.cuh"

namespace attnscope::cuda {

namespace {

// LSE and entropy only: OnlineSoftmax with a one-column output the compiler drops (never read).
struct LseOp {
    OnlineSoftmax<8> state;
    __device__ __forceinline__ void tile(float s[8][4], int, const void*, float*) { state.template update<true>(s); }
};

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) row_lse_kernel(HeadView h, float* rowLse, float* rowEntropy) {
    extern __shared__ __align__(16) unsigned char smem[];
    const int qb = gridDim.x - 1 - blockIdx.x;  // long causal rows first
    const int head = blockIdx.y;
    LseOp op;
    op.state.init();
    rowSweep<T, D, false>(h, head, qb, denseBlocks(h, qb), smem, op);
    op.state.finish();
    const int rowBase = qb * kTile + (threadIdx.x >> 5) * 16;
    const size_t headRows = static_cast<size_t>(head) * h.rowsPadded;
    op.state.writeRowStatistics(nullptr, rowLse + headRows, rowEntropy + headRows, rowBase, h.seqLen);
}

// Per row: need = k when the row sees more than k keys (select the k-th), else 0; the initial
// threshold keeps everything (k >= visible), nothing (k <= 0) or is overwritten by the select.
__global__ void topk_budget_kernel(HeadView h, int k, int* need, DeviceThreshold* thresholds) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int head = blockIdx.y;
    if (i >= h.rowsPadded) return;
    const int visible = i < h.seqLen ? deviceVisibleKeys(h, i).end - deviceVisibleKeys(h, i).begin : 0;
    if (head == 0) need[i] = (k > 0 && k < visible) ? k : 0;
    DeviceThreshold t{0.0f, 0};
    if (k <= 0 || i >= h.seqLen) t = DeviceThreshold{INFINITY, -1};
    else if (k >= visible) t = DeviceThreshold{-INFINITY, INT_MAX};
    thresholds[static_cast<size_t>(head) * h.rowsPadded + i] = t;
}

// A mask as the metrics pass reads it, from shared memory (broadcast reads; copies in registers
// spilled). blocks already points at this head's map.
struct SharedMask {
    int keepAll;
    int sinkTokens;
    int windowSize;
    int blockSize;     // 0: no block map
    int blockCols;
    int blockPerTile;  // blockSize is a multiple of 64: one map entry per (row, key tile)
    int hasTopK;
    const uint8_t* blocks;
};

struct MaskMetricsOp {
    const SharedMask* masks;  // [count] in shared memory
    int count;
    int seqLen;
    DeviceThreshold threshold[kMaxOverviewMasks][2];  // the rows' top-k thresholds, loaded once
    int qb;
    bool warpTopK[kMaxOverviewMasks];  // some row of the warp has a top-k threshold to test cell by cell
    float lse2[2];  // LSE * log2(e) of the thread's two rows
    float recall[kMaxOverviewMasks][2];
    int kept[kMaxOverviewMasks][2];
    float sink[2];

    // What mask mk does with key tile [k0, k0 + 64) for all 16 rows of the warp (rowBase ..
    // rowBase + 15) at once: 2 every row keeps every visible cell, 0 no row keeps any, -1 it depends
    // on the row (then tileStatus decides per row). Warp-uniform, so nearly every tile costs a few
    // comparisons per mask instead of a divergent per-row decision (the pass was bound by those).
    // Kept apart from tileStatus: one function for both (rows r0 .. r1) spilled 44 bytes instead of
    // 16 and measured 6 % slower on the H100 (2.95 against 2.77 ms per 8K layer).
    __device__ __forceinline__ static int warpTileStatus(const SharedMask& mk, int rowBase, int k0, bool topKRows) {
        if (mk.keepAll) return 2;
        // blockSize is a multiple of 64 here, so the warp's rows share one block row.
        if (mk.blockPerTile && mk.blocks[static_cast<size_t>(rowBase / mk.blockSize) * mk.blockCols + k0 / mk.blockSize])
            return 2;
        const int k1 = k0 + kTile - 1;
        bool some = false;
        if (mk.sinkTokens > 0) {
            if (k1 < mk.sinkTokens) return 2;
            if (k0 < mk.sinkTokens) some = true;
        }
        if (mk.windowSize > 0) {
            const int r0 = rowBase, r1 = rowBase + 15;
            if (k0 >= r1 - mk.windowSize + 1 && k1 <= r0 + mk.windowSize - 1) return 2;  // in every row's band
            if (k1 >= r0 - mk.windowSize + 1 && k0 <= r1 + mk.windowSize - 1) some = true;
        }
        if ((mk.hasTopK && topKRows) || (mk.blockSize > 0 && !mk.blockPerTile)) some = true;
        return some ? -1 : 0;
    }

    // How much of key tile [k0, k0 + 64) row i's mask keeps: 2 every visible cell, 0 none, 1 some
    // (decided per cell). Most tiles are wholly in or out of a band, a sink range or a block; a
    // top-k threshold of -inf keeps the whole row, +inf nothing (also: the row was summed already).
    __device__ __forceinline__ static int tileStatus(const SharedMask& mk, int i, int k0, bool blockOn,
                                                     const DeviceThreshold& topK) {
        if (mk.keepAll || blockOn) return 2;
        if (mk.hasTopK && topK.logit == -INFINITY) return 2;
        const int k1 = k0 + kTile - 1;
        int status = 0;
        if (mk.sinkTokens > 0) {
            if (k1 < mk.sinkTokens) return 2;
            if (k0 < mk.sinkTokens) status = 1;
        }
        if (mk.windowSize > 0) {
            const int lo = i - mk.windowSize + 1, hi = i + mk.windowSize - 1;
            if (k0 >= lo && k1 <= hi) return 2;
            if (k1 >= lo && k0 <= hi) status = 1;
        }
        if ((mk.hasTopK && topK.logit != INFINITY) || (mk.blockSize > 0 && !mk.blockPerTile)) status = 1;
        return status;
    }

    __device__ __forceinline__ void tile(float s[8][4], int kb, const void*, float*) {
        const int lane = threadIdx.x & 31;
        const int rowBase = qb * kTile + (threadIdx.x >> 5) * 16;
        // The thread's share of each row's mass and visible cells in this tile (whole-tile masks add these).
        float tileMass[2] = {0.0f, 0.0f};
        int tileCells[2] = {0, 0};
#pragma unroll
        for (int n = 0; n < 8; ++n)
#pragma unroll
            for (int c = 0; c < 4; ++c) {  // branch-free: an invisible cell (-inf) has p = 0
                const float x = s[n][c];
                const int r = c >> 1;
                const float p = fastExp2(fmaf(x, kLog2e, -lse2[r]));
                tileMass[r] += p;
                tileCells[r] += x != -INFINITY ? 1 : 0;
            }
        if (kb == 0 && (lane & 3) == 0) {  // key 0 is column 0 of group 0: c = 0 and 2 of lanes 0, 4, ...
            sink[0] += fastExp2(fmaf(s[0][0], kLog2e, -lse2[0]));
            sink[1] += fastExp2(fmaf(s[0][2], kLog2e, -lse2[1]));
        }
        // Unrolled over the mask slots: the accumulators stay in registers (a runtime index would not).
#pragma unroll
        for (int m = 0; m < kMaxOverviewMasks; ++m) {
            if (m >= count) break;
            const SharedMask& mk = masks[m];
            const int warpStatus = warpTileStatus(mk, rowBase, kb * kTile, warpTopK[m]);
            if (warpStatus == 0) continue;
            if (warpStatus == 2) {
#pragma unroll
                for (int r = 0; r < 2; ++r) {
                    recall[m][r] += tileMass[r];
                    kept[m][r] += tileCells[r];
                }
                continue;
            }
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                const int i = rowBase + (lane >> 2) + 8 * r;
                const bool blockOn = mk.blockPerTile && i < seqLen &&
                                     mk.blocks[static_cast<size_t>(i / mk.blockSize) * mk.blockCols + kb * kTile / mk.blockSize];
                const int status = tileStatus(mk, i, kb * kTile, blockOn, threshold[m][r]);
                if (status == 2) {
                    recall[m][r] += tileMass[r];
                    kept[m][r] += tileCells[r];
                } else if (status == 1) {
                    const DeviceThreshold t = threshold[m][r];
#pragma unroll
                    for (int n = 0; n < 8; ++n)
#pragma unroll
                        for (int cc = 0; cc < 2; ++cc) {
                            const float x = s[n][2 * r + cc];
                            if (x == -INFINITY) continue;
                            const int j = kb * kTile + fragCol(lane, n, 2 * r + cc);
                            bool keep = j < mk.sinkTokens || (mk.windowSize > 0 && abs(i - j) < mk.windowSize) ||
                                        (mk.hasTopK && passesThreshold(t, j, x));
                            if (!keep && mk.blockSize > 0 && !mk.blockPerTile)
                                keep = mk.blocks[static_cast<size_t>(i / mk.blockSize) * mk.blockCols + j / mk.blockSize];
                            if (keep) {
                                recall[m][r] += fastExp2(fmaf(x, kLog2e, -lse2[r]));
                                kept[m][r] += 1;
                            }
                        }
                }
            }
        }
    }
};

// Warp sum of a value, then one double atomic per warp.
__device__ __forceinline__ void warpAtomicAdd(double* target, double value) {
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) value += __shfl_xor_sync(0xffffffffu, value, off);
    if ((threadIdx.x & 31) == 0) atomicAdd(target, value);
}
__device__ __forceinline__ void warpAtomicAdd(unsigned long long* target, unsigned long long value) {
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) value += __shfl_xor_sync(0xffffffffu, value, off);
    if ((threadIdx.x & 31) == 0) atomicAdd(target, value);
}

// Three CTAs per SM: uncapped, the branch-free tile sums took 223 registers (two CTAs); capped at
// 168 it spills 16 bytes and measured 4 % faster on the H100 (2.81 against 2.92 ms per 8K layer).
template <typename T, int D>
__global__ void __launch_bounds__(kThreads, 3) mask_metrics_kernel(HeadView h, MaskMetricsArgs a) {
    extern __shared__ __align__(16) unsigned char smem[];
    const int qb = gridDim.x - 1 - blockIdx.x;
    const int head = blockIdx.y;
    const int lane = threadIdx.x & 31;
    const int rowBase = qb * kTile + (threadIdx.x >> 5) * 16;
    const size_t headRows = static_cast<size_t>(head) * h.rowsPadded;
    SharedMask* masks = reinterpret_cast<SharedMask*>(smem + rowSweepSmemBytes<T, D, false>());
    if (threadIdx.x < a.count) {
        const DeviceMask& dm = a.masks[threadIdx.x];
        SharedMask& mk = masks[threadIdx.x];
        mk.keepAll = dm.keepAll ? 1 : 0;
        mk.sinkTokens = dm.sinkTokens;
        mk.windowSize = dm.windowSize;
        mk.blockSize = dm.blockSize;
        mk.blockCols = dm.blockCols;
        mk.blockPerTile = dm.blockSize > 0 && dm.blockSize % kTile == 0 ? 1 : 0;
        mk.hasTopK = dm.rowTopK ? 1 : 0;
        mk.blocks = dm.blocks ? dm.blocks + static_cast<size_t>(head) * a.blocksHeadStride[threadIdx.x] : nullptr;
    }
    __syncthreads();
    MaskMetricsOp op;
    op.masks = masks;
    op.count = a.count;
    op.seqLen = h.seqLen;
    op.qb = qb;
    float entropy = 0.0f;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int i = rowBase + (lane >> 2) + 8 * r;
        const bool row = i < h.seqLen;
        op.lse2[r] = row ? a.rowLse[headRows + i] * kLog2e : 0.0f;
        if (row && (lane & 3) == 0) entropy += a.rowEntropy[headRows + i];
        op.sink[r] = 0.0f;
#pragma unroll
        for (int m = 0; m < kMaxOverviewMasks; ++m) {
            op.recall[m][r] = 0.0f;
            op.kept[m][r] = 0;
            op.threshold[m][r] = (m < a.count && a.masks[m].rowTopK && row) ? a.masks[m].rowTopK[headRows + i]
                                                                             : DeviceThreshold{INFINITY, -1};
            // A row the top-k selection already summed: add its sums once (lane 0 of the row's
            // quad) and keep nothing cell by cell.
            if (m < a.count && a.rowKeptCells[m] && row && a.rowKeptCells[m][headRows + i] >= 0) {
                if ((lane & 3) == 0) {
                    op.recall[m][r] = a.rowKeptMass[m][headRows + i];
                    op.kept[m][r] = a.rowKeptCells[m][headRows + i];
                }
                op.threshold[m][r] = DeviceThreshold{INFINITY, -1};
            }
        }
    }
#pragma unroll
    for (int m = 0; m < kMaxOverviewMasks; ++m)
        op.warpTopK[m] = __any_sync(0xffffffffu, op.threshold[m][0].logit != INFINITY || op.threshold[m][1].logit != INFINITY);
    rowSweep<T, D, false>(h, head, qb, denseBlocks(h, qb), smem, op);

    const size_t slot = static_cast<size_t>(head) * kMaxOverviewMasks;
    warpAtomicAdd(a.sinkSum + head, static_cast<double>(op.sink[0]) + op.sink[1]);
    warpAtomicAdd(a.entropySum + head, static_cast<double>(entropy));
    // Unrolled: a runtime index would move the accumulator arrays to local memory for the whole kernel.
#pragma unroll
    for (int m = 0; m < kMaxOverviewMasks; ++m) {
        if (m >= a.count) break;
        warpAtomicAdd(a.recallSum + slot + m, static_cast<double>(op.recall[m][0]) + op.recall[m][1]);
        warpAtomicAdd(a.keptSum + slot + m, static_cast<unsigned long long>(op.kept[m][0] + op.kept[m][1]));
    }
}

}  // namespace

void launchRowLse(Element e, int D, const HeadView& h, float* rowLse, float* rowEntropy, cudaStream_t stream) {
    dispatchElement(e, [&]<typename T>() {
        dispatchHeadDim(D, [&]<int kD>() {
            const size_t bytes = rowSweepSmemBytes<T, kD, false>();
            allowSharedMemory(row_lse_kernel<T, kD>, bytes);
            row_lse_kernel<T, kD><<<dim3(h.rowsPadded / kTile, h.qHeads), kThreads, bytes, stream>>>(h, rowLse,
                                                                                                     rowEntropy);
        });
    });
    checkLaunch("row LSE");
}

void launchTopKBudgets(const HeadView& h, int k, int* need, DeviceThreshold* thresholds, cudaStream_t stream) {
    topk_budget_kernel<<<dim3((h.rowsPadded + 255) / 256, h.qHeads), 256, 0, stream>>>(h, k, need, thresholds);
    checkLaunch("top-k budgets");
}

void launchMaskMetrics(Element e, int D, const HeadView& h, const MaskMetricsArgs& a, cudaStream_t stream) {
    if (a.count < 0 || a.count > kMaxOverviewMasks)
        throw std::invalid_argument("overview: at most " + std::to_string(kMaxOverviewMasks) + " masks per pass");
    dispatchElement(e, [&]<typename T>() {
        dispatchHeadDim(D, [&]<int kD>() {
            const size_t bytes = rowSweepSmemBytes<T, kD, false>() + kMaxOverviewMasks * sizeof(SharedMask);
            allowSharedMemory(mask_metrics_kernel<T, kD>, bytes);
            mask_metrics_kernel<T, kD><<<dim3(h.rowsPadded / kTile, h.qHeads), kThreads, bytes, stream>>>(h, a);
        });
    });
    checkLaunch("overview mask metrics");
}

}  // namespace attnscope::cuda
