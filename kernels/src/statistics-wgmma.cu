// Statistics pass on Hopper (sm_90a): the KV-major pass of statistics.cu with the QK^T product on
// wgmma. A CTA of two warpgroups owns 128 keys (64 per warpgroup); each warpgroup keeps its K
// tile in swizzled shared memory for the whole pass and multiplies it by every visible 64-query
// tile (a 4-stage cp.async ring), both operands read by the tensor cores straight from shared
// memory. The product of the next query tile is issued before the cells of the current one are
// handled, so tensor cores and the exp units work at the same time within each warpgroup. The cells are handled exactly as in the mma.sync kernels
// (statistics-tile.cuh), so results agree with them bit for bit up to the order of sums.
#include "dispatch.cuh"
#include "statistics-tile.cuh"
#include "wgmma.cuh"

namespace attnscope::cuda {

namespace {

constexpr int kGroups = 2;                       // warpgroups per CTA, one 64-key block each
constexpr int kCtaThreads = kGroups * kWarpgroupThreads;
constexpr int kStages = 4;                       // Q tiles in flight: one computing, one ahead, two loading

template <int D>
constexpr size_t wgmmaStatisticsSmemBytes() {
    return kSwizzleAlign + static_cast<size_t>(kGroups + kStages) * kSwizzledTileBytes<D> +
           kStages * kTile * sizeof(float);
}

template <typename T, int D>
__global__ void __launch_bounds__(kCtaThreads, 2) statistics_wgmma_kernel(HeadView h, StatisticsArgs a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ __align__(16) unsigned char smemRaw[];
    constexpr int kTileBytes = kSwizzledTileBytes<D>;
    // Aligned here, on the shared array itself: through a helper taking a generic pointer the
    // statistics kernel spilled at D = 128.
    const uint32_t rawAddress = static_cast<uint32_t>(__cvta_generic_to_shared(smemRaw));
    unsigned char* sK = smemRaw + ((kSwizzleAlign - (rawAddress & (kSwizzleAlign - 1))) & (kSwizzleAlign - 1));
    unsigned char* sQ = sK + kGroups * kTileBytes;                           // [kStages] tiles
    float* sLse = reinterpret_cast<float*>(sQ + kStages * kTileBytes);      // [kStages][64], LSE * log2(e)

    const int tid = threadIdx.x;
    const int wg = tid / kWarpgroupThreads;
    const int warpInGroup = (tid >> 5) & 3;
    const int lane = tid & 31;
    const int nb = h.rowsPadded / kTile;
    const int kbFirst = kGroups * blockIdx.x;
    const bool hasSecond = kbFirst + 1 < nb;
    const int kb = kbFirst + wg;
    const bool active = wg == 0 || hasSecond;
    const int head = blockIdx.y;
    const HeadPointers<T, D> ptr = headPointers<T, D>(h, head);
    const size_t headRows = ptr.rows;
    const T* kSrc = ptr.k + static_cast<size_t>(kbFirst) * kTile * D;
    const T* qBase = ptr.q;
    const float* lse = a.rowLse + headRows;

    int first, last;
    pairQueryBlockRange(h, kbFirst, hasSecond, first, last);
    int wFirst, wLast;
    queryBlockRange(h, kb, wFirst, wLast);
    if (!active) wLast = wFirst - 1;  // no cells (its K rows are not loaded)
    const int count = last - first + 1;
    if (count <= 0) return;

    // Query block first + idx into stage idx % kStages (tile by cp.async, LSE by plain stores);
    // one commit group per query block, empty ones included, so group counts stay uniform.
    auto loadQueries = [&](int idx) {
        if (idx < count) {
            const int stage = idx % kStages;
            loadTileSwizzledAsync<T, D>(sQ + stage * kTileBytes, qBase + static_cast<size_t>(first + idx) * kTile * D,
                                        tid, kCtaThreads);
            if (tid < kTile) {
                const int i = (first + idx) * kTile + tid;
                sLse[stage * kTile + tid] = i < h.seqLen ? lse[i] * kLog2e : INFINITY;
            }
        }
        cpAsyncCommit();
    };
    loadTileSwizzledAsync<T, D>(sK, kSrc, tid, kCtaThreads);
    if (hasSecond) loadTileSwizzledAsync<T, D>(sK + kTileBytes, kSrc + static_cast<size_t>(kTile) * D, tid, kCtaThreads);
    loadQueries(0);  // the first group holds K too
    loadQueries(1);
    loadQueries(2);

    const unsigned char* myK = sK + wg * kTileBytes;
    // Every warpgroup multiplies every query block of the CTA's range (at most one block more than
    // its own range) so that the wgmma pipeline is the same on every path; cells are handled only
    // for its own blocks. ptxas serializes wgmma when it cannot prove which accumulators are in
    // flight.
    auto issueScores = [&](float (&sc)[8][4], int idx) {
        wgmmaFence();
        wgmmaScores<T, D>(sc, myK, sQ + (idx % kStages) * kTileBytes);
        wgmmaCommit();
    };
    // Before block idx + 1 is issued: it has landed for everyone, every warpgroup is done with block
    // idx - 1, whose stage receives block idx + 3.
    auto nextStage = [&](int idx) {
        cpAsyncWait<1>();
        fenceSharedForAsyncProxy();
        __syncthreads();
        loadQueries(idx + 3);
    };
    float colSum[2] = {0.0f, 0.0f};
    auto cells = [&](const float (&sc)[8][4], int idx) {
        const int qb = first + idx;
        if (qb < wFirst || qb > wLast) return;  // uniform per warpgroup
        float s[1][8][4];
#pragma unroll
        for (int n = 0; n < 8; ++n)
#pragma unroll
            for (int c = 0; c < 4; ++c) s[0][n][c] = sc[n][c];
        float part[1][2] = {{0.0f, 0.0f}};
        float blockMax = 0.0f;
        statisticsCells<1>(h, s, sLse + (idx % kStages) * kTile, qb, kb * kTile + warpInGroup * 16,
                           blockFullyVisible(h, qb, kb), part, blockMax);
        colSum[0] += part[0][0];
        colSum[1] += part[0][1];
        addWarpBlockStatistics(part[0][0] + part[0][1], blockMax, a.blockSum, a.blockMax,
                               static_cast<size_t>(head) * nb * nb + static_cast<size_t>(qb) * nb + kb);
    };

    float sA[8][4], sB[8][4];
#pragma unroll
    for (int n = 0; n < 8; ++n)
#pragma unroll
        for (int c = 0; c < 4; ++c) sA[n][c] = sB[n][c] = 0.0f;
    cpAsyncWait<2>();  // K and query block 0
    fenceSharedForAsyncProxy();
    __syncthreads();
    issueScores(sA, 0);
    int idx = 0;
    for (; idx + 2 < count; idx += 2) {  // blocks idx (in flight in sA), idx + 1, idx + 2
        nextStage(idx);
        issueScores(sB, idx + 1);
        wgmmaWait<1>();
        fenceAccumulators(sA);
        cells(sA, idx);
        nextStage(idx + 1);
        issueScores(sA, idx + 2);
        wgmmaWait<1>();
        fenceAccumulators(sB);
        cells(sB, idx + 1);
    }
    if (idx + 1 < count) {  // two blocks left
        nextStage(idx);
        issueScores(sB, idx + 1);
        wgmmaWait<1>();
        fenceAccumulators(sA);
        cells(sA, idx);
        wgmmaWait<0>();
        fenceAccumulators(sB);
        cells(sB, idx + 1);
    } else {  // one block left
        wgmmaWait<0>();
        fenceAccumulators(sA);
        cells(sA, idx);
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
