// Statistics pass on Hopper (sm_90a): the KV-major pass of statistics.cu with the QK^T product on
// wgmma. A CTA of four warpgroups owns 256 keys (64 per warpgroup); each warpgroup keeps its K
// tile in swizzled shared memory for the whole pass and multiplies it by the visible queries 128
// at a time (m64n128: two 64-query blocks per step), both operands read by the tensor cores straight
// from shared memory.
//
// Query tiles go through a 4-stage ring handed over with mbarriers instead of __syncthreads, so
// the warpgroups drift apart: while one handles the cells of its step (exp-bound), another's
// product runs on the tensor cores. The warpgroups take turns loading: step t is loaded by
// warpgroup t % 4 three steps ahead, once every warpgroup has released the stage (empty), and
// published one step later (full: its cp.async waited for, proxy-fenced, then an arrive).
// Measured on the H100 at 32K: publishing two steps after the load, or loading two steps ahead,
// was 1-4% slower.
// Four warpgroups per CTA also halve the L2 traffic of query tiles against two.
//
// Steps whose two query blocks every key of the warpgroup sees (nearly all at long T) take
// fullStepCells: no per-block tests, both blocks' sums reduced in one pass. That cut the
// instructions of a step by about a fifth and the pass from 9.2-9.5 to 7.8-8.0 ms at 32K on the
// H100. Other steps (the diagonal, windows, softcap, the sequence end) handle the cells exactly as
// the mma.sync kernels do (statistics-tile.cuh); results agree up to the order of sums.
#include "dispatch.cuh"
#include "mbarrier.cuh"
#include "statistics-tile.cuh"
#include "wgmma.cuh"

namespace attnscope::cuda {

namespace {

constexpr int kGroups = 4;  // warpgroups per CTA, one 64-key block each
constexpr int kCtaThreads = kGroups * kWarpgroupThreads;
constexpr int kStepBlocks = 2;  // 64-query blocks per step
constexpr int kStepRows = kStepBlocks * kTile;
constexpr int kStages = 4;     // query tiles in the ring
constexpr int kLoadAhead = 3;     // a step is loaded this many steps before it is used
constexpr int kPublishAhead = 2;  // and published this many steps before
// The LSE of a step is read by the cells, after the warp has released the step's query tile, so
// it lives in a ring twice as deep: step t + 2 kStages, which overwrites it, is loaded only after
// every warp has released step t + kStages, that is, finished the cells of step t.
constexpr int kLseStages = 2 * kStages;

template <int D>
constexpr int kQueryTileBytes = kSwizzledTileBytes<D, kStepRows>;

template <int D>
constexpr size_t wgmmaStatisticsSmemBytes() {
    return kSwizzleAlign + static_cast<size_t>(kGroups) * kSwizzledTileBytes<D> +
           static_cast<size_t>(kStages) * kQueryTileBytes<D> + kLseStages * kStepRows * sizeof(float) +
           2 * kStages * sizeof(uint64_t);
}

// The cells of a step whose two query blocks see every key of the warp's rows, without softcap:
// at long T nearly every step, so it goes without statisticsCells' per-block tests. sc[n][c] is the
// m64n128 accumulator (columns 0-63: the first block, 64-127: the second); lse2 the step's 128
// LSE * log2(e). Sums and maxima start from the first cell of a block rather than from zero
// (p >= 0): one add and one max fewer per chain.
__device__ __forceinline__ void fullStepCells(const float (&sc)[2 * 8][4], const float* lse2, float scale2,
                                              float (&colSum)[2], float (&blockSum)[2], float (&blockMax)[2]) {
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int half = 0; half < kStepBlocks; ++half) {
        float sums[4], maxima[4];
#pragma unroll
        for (int n = 0; n < 8; ++n) {
            const int nn = 8 * half + n;
            const float2 lsePair = *reinterpret_cast<const float2*>(lse2 + fragCol(lane, nn, 0));
#pragma unroll
            for (int c = 0; c < 4; ++c) {
                const float p = fastExp2(fmaf(sc[nn][c], scale2, (c & 1) ? -lsePair.y : -lsePair.x));
                sums[c] = n == 0 ? p : sums[c] + p;
                maxima[c] = n == 0 ? p : fmaxf(maxima[c], p);
            }
        }
        colSum[0] += sums[0] + sums[1];  // key row fragRow(lane, 0)
        colSum[1] += sums[2] + sums[3];  // key row fragRow(lane, 2)
        blockSum[half] = (sums[0] + sums[1]) + (sums[2] + sums[3]);
        blockMax[half] = fmaxf(fmaxf(maxima[0], maxima[1]), fmaxf(maxima[2], maxima[3]));
    }
}

template <typename T, int D>
__global__ void __launch_bounds__(kCtaThreads, 1) statistics_wgmma_kernel(HeadView h, StatisticsArgs a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ __align__(16) unsigned char smemRaw[];
    constexpr int kKeyTileBytes = kSwizzledTileBytes<D>;
    // Aligned here, on the shared array itself: through a helper taking a generic pointer the
    // statistics kernel spilled at D = 128.
    const uint32_t rawAddress = sharedAddress(smemRaw);
    unsigned char* sK = smemRaw + ((kSwizzleAlign - (rawAddress & (kSwizzleAlign - 1))) & (kSwizzleAlign - 1));
    unsigned char* sQ = sK + kGroups * kKeyTileBytes;                           // [kStages] tiles of 128 rows
    float* sLse = reinterpret_cast<float*>(sQ + kStages * kQueryTileBytes<D>);  // [kLseStages][128], LSE * log2(e)
    uint64_t* full = reinterpret_cast<uint64_t*>(sLse + kLseStages * kStepRows);  // [kStages]
    uint64_t* empty = full + kStages;                                           // [kStages]

    const int tid = threadIdx.x;
    // Warp-uniform as far as the compiler can tell (a value read from lane 0): ptxas serializes
    // wgmma under branches it must treat as divergent.
    const int wg = __shfl_sync(0xffffffffu, tid / kWarpgroupThreads, 0);
    const int groupTid = tid % kWarpgroupThreads;
    const int warpInGroup = (tid >> 5) & 3;
    const int lane = tid & 31;
    const int nb = h.rowsPadded / kTile;
    const int kbFirst = kGroups * blockIdx.x;
    const int blocksHere = min(kGroups, nb - kbFirst);
    const int kb = kbFirst + wg;
    const bool active = wg < blocksHere;
    const int head = blockIdx.y;
    const HeadPointers<T, D> ptr = headPointers<T, D>(h, head);
    const size_t headRows = ptr.rows;
    const T* kSrc = ptr.k + static_cast<size_t>(kbFirst) * kTile * D;
    const T* qBase = ptr.q;
    const float* lse = a.rowLse + headRows;

    int first, last;
    ctaQueryBlockRange(h, kbFirst, blocksHere, first, last);
    int wFirst, wLast;
    queryBlockRange(h, kb, wFirst, wLast);
    if (!active) wLast = wFirst - 1;  // no cells (its K rows are not loaded)
    if (last < first) return;
    // Steps with both query blocks in [fullFirst, fullLast] take fullStepCells.
    int fullFirst, fullLast;
    fullQueryBlockRange(h, kb, wFirst, wLast, fullFirst, fullLast);
    if (h.softcap > 0.0f) fullLast = fullFirst - 1;
    const float scale2 = h.scale * kLog2e;
    const size_t headBlocks = static_cast<size_t>(head) * nb * nb;
    const int steps = (last - first + kStepBlocks) / kStepBlocks;

    if (tid == 0) {
        for (int st = 0; st < kStages; ++st) {
            mbarrierInit(&full[st], kWarpgroupThreads);  // the loading warpgroup's threads
            mbarrierInit(&empty[st], kGroups * 4);       // one arrive per warp
        }
    }
    for (int g = 0; g < blocksHere; ++g)
        loadTileSwizzledAsync<T, D, kCtaThreads>(sK + g * kKeyTileBytes, kSrc + static_cast<size_t>(g) * kTile * D, tid);
    cpAsyncCommit();
    cpAsyncWait<0>();
    fenceSharedForAsyncProxy();
    __syncthreads();  // K tiles and barrier initialization

    // Step t (query blocks first + 2 t and, when in range, the next one) into stage t % kStages, by
    // warpgroup t % kGroups, after every warp released the stage's previous step. A second block
    // past `last` is not loaded: no warpgroup uses its cells.
    auto fill = [&](int t) {
        if (t >= steps || wg != t % kGroups) return;
        const int stage = t % kStages;
        if (t >= kStages) mbarrierWait(&empty[stage], ((t / kStages) - 1) & 1);
        const int qb = first + kStepBlocks * t;
        unsigned char* tile = sQ + stage * kQueryTileBytes<D>;
        const T* src = qBase + static_cast<size_t>(qb) * kTile * D;
        loadRowsSwizzledAsync<T, D, kWarpgroupThreads, kStepRows>(tile, 0, src, groupTid);
        if (qb + 1 <= last)
            loadRowsSwizzledAsync<T, D, kWarpgroupThreads, kStepRows>(tile, kTile, src + static_cast<size_t>(kTile) * D,
                                                                      groupTid);
        cpAsyncCommit();
        const int i = qb * kTile + groupTid;
        sLse[(t % kLseStages) * kStepRows + groupTid] = i < h.seqLen ? lse[i] * kLog2e : INFINITY;
    };
    // Publishes step t once its copies have landed (the loading warpgroup has no other copies in
    // flight): the proxy fence orders them before the tensor cores' reads, the arrive releases them
    // and the LSE stores.
    auto publish = [&](int t) {
        if (t >= steps || wg != t % kGroups) return;
        cpAsyncWait<0>();
        fenceSharedForAsyncProxy();
        mbarrierArrive(&full[t % kStages]);
    };
    float colSum[2] = {0.0f, 0.0f};
    auto cells = [&](const float (&sc)[2 * 8][4], int t) {
#pragma unroll
        for (int half = 0; half < kStepBlocks; ++half) {
            const int qb = first + kStepBlocks * t + half;
            if (qb < wFirst || qb > wLast) continue;  // uniform per warpgroup
            float s[1][8][4];
#pragma unroll
            for (int n = 0; n < 8; ++n)
#pragma unroll
                for (int c = 0; c < 4; ++c) s[0][n][c] = sc[8 * half + n][c];
            float part[1][2] = {{0.0f, 0.0f}};
            float blockMax = 0.0f;
            statisticsCells<1>(h, s, sLse + (t % kLseStages) * kStepRows + half * kTile, qb,
                               kb * kTile + warpInGroup * 16, blockFullyVisible(h, qb, kb), part, blockMax);
            colSum[0] += part[0][0];
            colSum[1] += part[0][1];
            addWarpBlockStatistics(part[0][0] + part[0][1], blockMax, a.blockSum, a.blockMax,
                                   static_cast<size_t>(head) * nb * nb + static_cast<size_t>(qb) * nb + kb);
        }
    };

    for (int t = 0; t < kLoadAhead; ++t) {
        fill(t);
        if (t < kPublishAhead) publish(t);
    }
    const unsigned char* myK = sK + wg * kKeyTileBytes;
    float sc[2 * 8][4];
    // Every warpgroup multiplies every step of the CTA's range (at most three blocks more than its
    // own range) so that the wgmma sequence is the same on every path; cells are handled only for
    // its own blocks. ptxas serializes wgmma when it cannot prove which accumulators are in flight.
    for (int t = 0; t < steps; ++t) {
        publish(t + kPublishAhead);
        fill(t + kLoadAhead);
        const int stage = t % kStages;
        mbarrierWait(&full[stage], (t / kStages) & 1);
        wgmmaFence();
        wgmmaScores<T, D, kStepRows>(sc, myK, sQ + stage * kQueryTileBytes<D>);
        wgmmaCommit();
        wgmmaWait<0>();
        fenceAccumulators(sc);
        __syncwarp();
        if (lane == 0) mbarrierArrive(&empty[stage]);
        const int qb = first + kStepBlocks * t;
        if (qb >= fullFirst && qb + 1 <= fullLast) {
            float blockSum[2], blockMax[2];
            fullStepCells(sc, sLse + (t % kLseStages) * kStepRows, scale2, colSum, blockSum, blockMax);
            addWarpBlockStatisticsPair(blockSum, blockMax, a.blockSum, a.blockMax,
                                       headBlocks + static_cast<size_t>(qb) * nb + kb, nb);
        } else {
            cells(sc, t);
        }
    }
    if (!active) return;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const float total = quadSum(colSum[r]);
        const int j = kb * kTile + warpInGroup * 16 + (lane >> 2) + 8 * r;
        if ((lane & 3) == 0 && j < h.seqLen) a.columnSums[headRows + j] = total;
    }
#endif
}

}  // namespace

bool launchStatisticsWgmma(Element e, int D, const HeadView& h, const StatisticsArgs& a, cudaStream_t stream) {
    if (e == Element::Float32 || !useHopperKernels()) return false;
    const int nb = h.rowsPadded / kTile;
    dispatchElement(e, [&]<typename T>() {
        if constexpr (kIsMma<T>) {
            dispatchHeadDim(D, [&]<int kD>() {
                const size_t bytes = wgmmaStatisticsSmemBytes<kD>();
                allowSharedMemory(statistics_wgmma_kernel<T, kD>, bytes);
                statistics_wgmma_kernel<T, kD><<<dim3((nb + kGroups - 1) / kGroups, h.qHeads), kCtaThreads, bytes, stream>>>(h, a);
            });
        }
    });
    return true;
}

}  // namespace attnscope::cuda
