// Warp-specialized flash forward on Hopper (sm_90a): the forward of forward-wgmma.cu with the
// loading taken off the computing warpgroups. A CTA has three warpgroups:
// * one thread of the first (the producer) runs the CTA's item and key block stream
//   (ItemBlockStream: list reads, item changes) and has the copy engine (TMA) load each item's
//   query tiles and each key block's K/V tiles into a 3-stage ring, up to 3 blocks ahead, with a
//   ticket per stage saying which key block it is, which warpgroups use it and whether it starts
//   an item;
// * the other two (the consumers) each own one 64-row query tile of the item, as in
//   forward-wgmma.cu (two query heads of one K/V head, or two query blocks of one head), and only
//   compute: wait for a stage (full mbarrier), S = Q K^T and the previous block's O += P V on
//   wgmma, softmax, release the stage (empty mbarrier) once its V has been read.
// No CTA-wide barrier per block: the consumers wait for data, not for each other, and take turns
// issuing their products (two named barriers), so one's softmax and item ends (row writes) run
// while the other's products use the tensor cores. An item's rows are written one block late,
// right after the next item's first scores are issued, so the writes overlap that product.
// The score path (raw dot products with the scale folded into the exponent, or logits with
// softcap) is a template parameter: a run-time branch there made the whole loop slower.
// Those deferred writes (a persistent CTA's item ends, not its last item) send O through the
// copy engine: the consumer stages it in a buffer of its own (fp32, 128-byte swizzled, 32 KB at
// d = 128; the K/V ring has 3 stages to make room): 2 wavefronts per 256 bytes, where an 8-byte
// global store of a warp costs 8 L1 tag lookups. One of its threads issues the bulk stores. The
// buffer is free again once that thread's bulk stores have read it, which it waits for before
// the next write's turn (a whole item later). The rows' statistics (LSE and entropy from m, l and
// u, and their stores) are not on the consumer's chain either: it leaves m, l and u in a slot of
// shared memory for a writer warp of its own (warps 1 and 2 of the producer's warpgroup, idle
// otherwise), which finishes and stores them while the consumer computes the next item.
// Head dims that are multiples of 64, 16-bit inputs; launchForwardWgmmaSpecialized says when it
// declines (then forward-wgmma.cu runs).
#include <algorithm>
#include <cstdlib>

#include "dispatch.cuh"
#include "forward-items.cuh"
#include "tma.cuh"

namespace attnscope::cuda {

namespace {

constexpr int kConsumers = 2;  // computing warpgroups, one 64-row query tile each
constexpr int kConsumerThreads = kConsumers * kWarpgroupThreads;
constexpr int kCtaThreads = kConsumerThreads + kWarpgroupThreads;
constexpr int kStages = 3;   // K/V tiles in the ring (3: room for the output staging)
constexpr int kQSlots = 2;   // query tiles: the current item's and the next one's
// Registers per thread after the hand-over: 128 x 56 + 256 x 224 = 64512 of 65536. The producer
// and the writer warps share the first warpgroup's budget (with 24 or 32, ptxas spilled the
// producer once the writer code was there); the consumers' code uses up to R221.
constexpr int kProducerRegisters = 56;
constexpr int kConsumerRegisters = 224;
// Named barrier of consumer c (its turn to issue products): ids 1 and 2.
constexpr int kTurnBarrier = 1;
// Named barrier of consumer c's 128 threads around its output staging: ids 3 and 4.
constexpr int kStagingBarrier = 3;
// Output staging per consumer: all of O as 64-row x 32-column fp32 boxes (128 bytes a row, the
// swizzle span).
constexpr int kBoxBytes = kTile * 128;
template <int D>
constexpr int kStagedBoxes = D / 32;
template <int D>
constexpr int kStagingBytes = kStagedBoxes<D> * kBoxBytes;

// What a stage holds, written by the producer before the stage's full barrier completes.
struct StageTicket {
    int keyBlock;  // < 0: the stream has ended (no tiles in this stage)
    int flags;     // bit c: consumer c uses the block; bit 2: the first block of a new item
    int queryBlock;  // the item's first query block (ItemBlockStream::firstQueryBlock)
    int headGroup;   // the item's head group (ItemBlockStream::y)
};
constexpr int kFirstOfItem = 4;

// A finished item's row totals, handed from a consumer to its writer warp (one slot each: the
// writer empties it long before the consumer's next item ends).
struct RowStatsSlot {
    float m[kTile];  // row max
    float l[kTile];  // row sum (quad total)
    float u[kTile];  // entropy accumulator (quad total)
    int head;
    int queryBlock;  // < 0: the consumer has finished, the writer stops
};

struct Barriers {
    uint64_t kvFull[kStages];
    uint64_t kvEmpty[kStages];
    uint64_t qFull[kQSlots];
    uint64_t qEmpty[kQSlots];
    uint64_t statsFull[kConsumers];   // the slot holds rows to write
    uint64_t statsEmpty[kConsumers];  // the writer has read the slot
    StageTicket tickets[kStages];
    RowStatsSlot stats[kConsumers];
};

template <int D>
constexpr size_t specializedSmemBytes() {
    return kSwizzleAlign + static_cast<size_t>(kQSlots * kConsumers + 2 * kStages) * kSwizzledTileBytes<D> +
           static_cast<size_t>(kConsumers) * kStagingBytes<D> + sizeof(Barriers);
}

// The producer: one thread walks the stream and keeps the ring full.
template <int D>
__device__ __forceinline__ void produce(const HeadView& h, const ForwardArgs& a, const CUtensorMap* mapQ,
                                        const CUtensorMap* mapK, const CUtensorMap* mapV, unsigned char* sQ,
                                        unsigned char* sK, unsigned char* sV, Barriers& b) {
    constexpr int kTileBytes = kSwizzledTileBytes<D>;
    prefetchTensorMap(mapQ);
    prefetchTensorMap(mapK);
    prefetchTensorMap(mapV);
    const ForwardItems items(h);
    const int nb = h.rowsPadded / kTile;
    ItemBlockStream stream;
    stream.start(h, a, items, static_cast<int>(gridDim.x) < items.count());
    int stage = 0, qSlot = 0;
    // Phases of the empty barriers this thread waits on; a fresh barrier passes a wait on parity 1.
    uint32_t emptyPhase = 1, qEmptyPhase = 1;
    int kb = 0;
    unsigned halves = 0;
    bool first = false;
    while (stream.next(h, a, items, kb, halves, first)) {
        if (first) {
            mbarrierWait(&b.qEmpty[qSlot], qEmptyPhase);
            uint32_t bytes = 0;
            for (int c = 0; c < kConsumers; ++c) bytes += stream.rows(h, c).qb < nb ? kTmaTileBytes<D> : 0u;
            mbarrierArriveExpectTx(&b.qFull[qSlot], bytes);
            for (int c = 0; c < kConsumers; ++c) {
                const WarpgroupRows r = stream.rows(h, c);
                if (r.qb < nb)
                    tmaLoadTile<D>(sQ + (qSlot * kConsumers + c) * kTileBytes, mapQ, r.head * h.rowsPadded + r.qb * kTile,
                                   &b.qFull[qSlot]);
            }
            if (++qSlot == kQSlots) {
                qSlot = 0;
                qEmptyPhase ^= 1u;
            }
        }
        mbarrierWait(&b.kvEmpty[stage], emptyPhase);
        b.tickets[stage] = StageTicket{kb, static_cast<int>(halves) | (first ? kFirstOfItem : 0),
                                       stream.firstQueryBlock(h), stream.y};
        mbarrierArriveExpectTx(&b.kvFull[stage], 2 * kTmaTileBytes<D>);
        const int row = static_cast<int>(stream.kvRows) + kb * kTile;
        tmaLoadTile<D>(sK + stage * kTileBytes, mapK, row, &b.kvFull[stage]);
        tmaLoadTile<D>(sV + stage * kTileBytes, mapV, row, &b.kvFull[stage]);
        if (++stage == kStages) {
            stage = 0;
            emptyPhase ^= 1u;
        }
    }
    mbarrierWait(&b.kvEmpty[stage], emptyPhase);
    b.tickets[stage] = StageTicket{-1, 0, 0, 0};
    mbarrierArrive(&b.kvFull[stage]);
}

// A writer warp: the statistics of consumer c's finished items (two rows a lane), until the
// consumer says it has finished.
__device__ __forceinline__ void writeRowStatistics(const HeadView& h, const ForwardArgs& a, RowStatsSlot& slot,
                                                 uint64_t* full, uint64_t* empty) {
    const int lane = threadIdx.x & 31;
    for (uint32_t phase = 0;; phase ^= 1u) {
        mbarrierWait(full, phase);
        const int qb = slot.queryBlock;
        if (qb < 0) return;
        const size_t headRows = static_cast<size_t>(slot.head) * h.rowsPadded;
#pragma unroll 1
        for (int half = 0; half < 2; ++half) {
            const int row = lane + 32 * half;
            const int i = qb * kTile + row;
            const float m = slot.m[row];
            const RowSummary summary = summarizeRow(m, slot.l[row], slot.u[row]);
            if (i < h.seqLen) {
                if (a.rowMax) a.rowMax[headRows + i] = m;
                a.rowLse[headRows + i] = summary.lse;
                a.rowEntropy[headRows + i] = summary.entropy;
            }
        }
        mbarrierArrive(empty);  // every lane, after its own reads
    }
}

// A consumer: the pipeline of forward-wgmma.cu's loop over the stages the producer fills.
template <typename T, int D, bool kSplit, bool kRawScores>
__device__ __forceinline__ void consume(const HeadView& h, const ForwardArgs& a, int consumer,
                                        const unsigned char* sQ, const unsigned char* sK, const unsigned char* sV,
                                        unsigned char* sO, const CUtensorMap* mapO, Barriers& b) {
    constexpr int kTileBytes = kSwizzledTileBytes<D>;
    const int warpInGroup = (threadIdx.x >> 5) & 3;
    const bool headPairs = forwardPairsHeads(h);
    const int ownTurn = kTurnBarrier + consumer, otherTurn = kTurnBarrier + (consumer ^ 1);

    OnlineSoftmax<D> st;
    st.init();
    uint32_t pHi[4][4] = {}, pLo[4][4] = {};
    float s[8][4];
#pragma unroll
    for (int n = 0; n < 8; ++n)
#pragma unroll
        for (int c = 0; c < 4; ++c) s[n][c] = 0.0f;

    // O += P V of the stage read last, issued with the next block's scores as in forward-wgmma.cu.
    // Before the first block P is zero and the stage is the current one, which has landed: the
    // product is issued all the same, since a conditional issue makes ptxas serialize every wgmma
    // of the kernel.
    int pendingStage = 0;
    bool pendingHeld = false;  // whether pendingStage holds a P V still to issue and a stage to release
    auto issueOutput = [&]() {
        const unsigned char* tileV = sV + pendingStage * kTileBytes;
#pragma unroll
        for (int cb = 0; cb < D / 64; ++cb) {
            float(&o)[8][4] = *reinterpret_cast<float(*)[8][4]>(&st.o[8 * cb][0]);
#pragma unroll
            for (int kk = 0; kk < 4; ++kk) {
                const uint64_t desc = mnMajorDescriptor(tileV, cb, kk);
                wgmmaM64N64K16AccumulateTransposedB<T>(o, pHi[kk], desc);
                if constexpr (kSplit) wgmmaM64N64K16AccumulateTransposedB<T>(o, pLo[kk], desc);
            }
        }
        wgmmaCommit();
    };
    auto writeRows = [&](const WarpgroupRows& r, RowTotals& totals) {
        totals.finish();
        const size_t headRows = static_cast<size_t>(r.head) * h.rowsPadded;
        const int rowBase = r.qb * kTile + warpInGroup * 16;
        st.writeOutputRows(totals.l, a.out + headRows * D, rowBase, h.seqLen);
        totals.write(a.rowMax + headRows, a.rowLse + headRows, a.rowEntropy + headRows, rowBase, h.seqLen);
    };
    // writeRows through the staging buffer and the copy engine (see the top of the file). The
    // buffer is free: its last bulk stores were waited for before this turn.
    const bool leader = (threadIdx.x & (kWarpgroupThreads - 1)) == 0;
    unsigned char* staging = sO + consumer * kStagingBytes<D>;
    RowStatsSlot& statsSlot = b.stats[consumer];
    uint32_t statsEmptyPhase = 1;  // a fresh barrier passes a wait on parity 1
    auto stageRows = [&](const WarpgroupRows& r, RowTotals& totals) {
        totals.finish();
        const int lane = threadIdx.x & 31;
#pragma unroll
        for (int rr = 0; rr < 2; ++rr) {
            const float inv = totals.l[rr] > 0.0f ? approxReciprocal(totals.l[rr]) : 0.0f;
            const int row = warpInGroup * 16 + (lane >> 2) + 8 * rr;
#pragma unroll
            for (int n = 0; n < D / 8; ++n) {
                // Fragment n holds columns 8n + 2 (lane & 3) + {0, 1}: box n / 4, 16-byte chunk
                // 2 (n & 3) + (lane & 3) / 2 of the row, swizzled with the row's low three bits.
                const int chunk = 2 * (n & 3) + ((lane & 3) >> 1);
                *reinterpret_cast<float2*>(staging + (n >> 2) * kBoxBytes + row * 128 + ((chunk ^ (row & 7)) << 4) +
                                           8 * (lane & 1)) =
                    make_float2(st.o[n][2 * rr] * inv, st.o[n][2 * rr + 1] * inv);
            }
        }
        // The row totals for the writer warp (its slot is free: waited for before this turn).
        if ((lane & 3) == 0) {
#pragma unroll
            for (int rr = 0; rr < 2; ++rr) {
                const int row = warpInGroup * 16 + (lane >> 2) + 8 * rr;
                statsSlot.m[row] = totals.m[rr];
                statsSlot.l[row] = totals.l[rr];
                statsSlot.u[row] = totals.u[rr];
            }
        }
        if (leader) {
            statsSlot.head = r.head;
            statsSlot.queryBlock = r.qb;
        }
        mbarrierArrive(&b.statsFull[consumer]);  // every thread, after its own writes
        fenceProxyAsyncShared();
        namedBarrierSync(kStagingBarrier + consumer, kWarpgroupThreads);
        if (leader) {
            // Rows past the sequence lie outside the tensor map: the copy engine skips them.
            if (r.qb * kTile < h.seqLen) {
#pragma unroll
                for (int box = 0; box < kStagedBoxes<D>; ++box)
                    tmaStoreOutputBox(staging + box * kBoxBytes, mapO, 32 * box, r.qb * kTile, r.head);
                bulkCommit();
            }
        }
    };

    WarpgroupRows rows{0, 0}, heldRows{0, 0};
    bool haveRows = false;
    bool rowsToWrite = false;  // heldRows are finished (totals in `finished`), O not yet written
    RowTotals finished{};
    WarpgroupRows nextRows{0, 0};  // the rows O starts on once heldRows are written
    // The two row hand-overs stay lambdas: this form compiles to the SASS measured 4-6 % faster
    // than 8690d4b's (docs/performance.md, session 19); written inline, the consumer's SASS differs.
    // New rows start at their item's first stage, once O holds all of the old rows' products.
    auto startRows = [&](const RowTotals& done) {
        if (haveRows) {
            // Rows of the previous item: written at the next stage, not here.
            finished = done;
            nextRows = rows;
            rowsToWrite = true;
        } else {
            st.clearOutput();
            heldRows = rows;
        }
        haveRows = true;
    };
    // The deferred rows go out (see the top of the file); O then starts the new rows.
    auto writeHeldRows = [&]() {
        stageRows(heldRows, finished);
        st.clearOutput();
        heldRows = nextRows;
        rowsToWrite = false;
    };
    int stage = 0, qSlot = kQSlots - 1;
    uint32_t fullPhase = 0, qFullPhase = 1;  // qFullPhase flips as qSlot wraps to 0 (first item: 0)
    if (consumer == 1) namedBarrierArrive(kTurnBarrier, kConsumerThreads);  // consumer 0 goes first
    for (;;) {
        mbarrierWait(&b.kvFull[stage], fullPhase);
        const StageTicket ticket = b.tickets[stage];
        // Warp-uniform for the compiler (lane 0's values): ptxas serializes wgmma under branches
        // it must treat as divergent.
        const int kb = __shfl_sync(0xffffffffu, ticket.keyBlock, 0);
        if (kb < 0) break;
        const int flags = __shfl_sync(0xffffffffu, ticket.flags, 0);
        const bool first = (flags & kFirstOfItem) != 0;
        const bool uses = (flags >> consumer) & 1;
        const int oldSlot = qSlot;
        if (first) {
            const int qb = __shfl_sync(0xffffffffu, ticket.queryBlock, 0);
            const int group = __shfl_sync(0xffffffffu, ticket.headGroup, 0);
            rows = headPairs ? WarpgroupRows{qb, 2 * group + consumer} : WarpgroupRows{qb + consumer, group};
            if (++qSlot == kQSlots) {
                qSlot = 0;
                qFullPhase ^= 1u;
            }
            mbarrierWait(&b.qFull[qSlot], qFullPhase);
        }

        // The staging buffer's last bulk stores (an item ago) have read it by now; the turn
        // barrier below tells the other threads of this consumer.
        // So has the writer warp read the statistics slot.
        // Every thread waits for the slot itself (not through the leader and the turn barrier):
        // the hand-over is then one mbarrier per thread, which compute-sanitizer's racecheck follows.
        if (rowsToWrite) {
            if (leader) bulkWaitRead();
            mbarrierWait(&b.statsEmpty[consumer], statsEmptyPhase);
            statsEmptyPhase ^= 1u;
        }
        namedBarrierSync(ownTurn, kConsumerThreads);
        wgmmaFence();  // P and O were written by this thread since the last wgmma
        wgmmaScores<T, D>(s, sQ + (qSlot * kConsumers + consumer) * kTileBytes, sK + stage * kTileBytes);
        wgmmaCommit();
        if (rowsToWrite) {
            // Waits for nothing (only these scores are in flight), but without it ptxas guards the
            // branch with its own wait and serializes every wgmma of the kernel (C7518).
            wgmmaWait<1>();
            // The finished item's rows go out while these scores run on the tensor cores.
            writeHeldRows();
        }
        wgmmaFence();  // O was written above
        issueOutput();
        namedBarrierArrive(otherTurn, kConsumerThreads);
        // The previous item's query tile: its last scores were waited for in the last iteration.
        if (first && haveRows) mbarrierArrive(&b.qEmpty[oldSlot]);

        wgmmaWait<1>();  // the scores; the previous block's O += P V may still run
        fenceAccumulators(s);
        if (!uses) {
#pragma unroll
            for (int n = 0; n < 8; ++n)
#pragma unroll
                for (int c = 0; c < 4; ++c) s[n][c] = -INFINITY;
        }
        RowTotals done{};
        if (first) done = st.restartRows();
        float alpha[2];
        if constexpr (!kRawScores) {
            if (uses) finishLogits(h, s, rows.qb * kTile + warpInGroup * 16, kb * kTile, blockFullyVisible(h, rows.qb, kb));
            st.template scaleScores<true>(s, alpha);
        } else {
            if (uses && !blockFullyVisible(h, rows.qb, kb)) maskInvisible(h, s, rows.qb * kTile + warpInGroup * 16, kb * kTile);
            st.template scaleRawScores<true>(s, h.scale, alpha);
        }
        wgmmaWait<0>();
        fenceAccumulators(st.o);
        // The previous stage's V has been read (its K long before): the producer may refill it.
        if (pendingHeld) mbarrierArrive(&b.kvEmpty[pendingStage]);
        if (first) startRows(done);
        else st.rescaleOutput(alpha);

#pragma unroll
        for (int kk = 0; kk < 4; ++kk) {
            float r[8];
            pHi[kk][0] = packPair<T>(s[2 * kk][0], s[2 * kk][1], r[0], r[1]);
            pHi[kk][1] = packPair<T>(s[2 * kk][2], s[2 * kk][3], r[2], r[3]);
            pHi[kk][2] = packPair<T>(s[2 * kk + 1][0], s[2 * kk + 1][1], r[4], r[5]);
            pHi[kk][3] = packPair<T>(s[2 * kk + 1][2], s[2 * kk + 1][3], r[6], r[7]);
            if constexpr (kSplit) {
                float unused[2];
#pragma unroll
                for (int j = 0; j < 4; ++j) pLo[kk][j] = packPair<T>(r[2 * j], r[2 * j + 1], unused[0], unused[1]);
            }
        }
        pendingStage = stage;
        pendingHeld = true;
        if (++stage == kStages) {
            stage = 0;
            fullPhase ^= 1u;
        }
    }
    // Consumer 1's last turn signal has no matching wait in the loop.
    if (consumer == 0) namedBarrierSync(ownTurn, kConsumerThreads);
    if (haveRows) {
        if (rowsToWrite) {
            writeRows(heldRows, finished);
            st.clearOutput();
            heldRows = nextRows;
        }
        wgmmaFence();
        issueOutput();
        wgmmaWait<0>();
        fenceAccumulators(st.o);
        RowTotals last = st.restartRows();
        writeRows(heldRows, last);
    }
    mbarrierWait(&b.statsEmpty[consumer], statsEmptyPhase);
    if (leader) statsSlot.queryBlock = -1;  // the writer warp stops
    mbarrierArrive(&b.statsFull[consumer]);
    if (leader) bulkWaitRead();  // shared memory lives until the copy engine has read the staging
}

template <typename T, int D, bool kSplit, bool kRawScores>
__global__ void __launch_bounds__(kCtaThreads, 1)
    forward_specialized_kernel(const __grid_constant__ CUtensorMap mapQ, const __grid_constant__ CUtensorMap mapK,
                               const __grid_constant__ CUtensorMap mapV, const __grid_constant__ CUtensorMap mapO,
                               HeadView h, ForwardArgs a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    static_assert(D % 64 == 0, "the specialized forward takes head dims that are multiples of 64");
    extern __shared__ __align__(16) unsigned char smemRaw[];
    constexpr int kTileBytes = kSwizzledTileBytes<D>;
    const uint32_t rawAddress = sharedAddress(smemRaw);
    unsigned char* sQ = smemRaw + ((kSwizzleAlign - (rawAddress & (kSwizzleAlign - 1))) & (kSwizzleAlign - 1));
    unsigned char* sK = sQ + kQSlots * kConsumers * kTileBytes;  // [kStages]
    unsigned char* sV = sK + kStages * kTileBytes;               // [kStages]
    unsigned char* sO = sV + kStages * kTileBytes;               // [kConsumers] staging, 1024-aligned
    Barriers& b = *reinterpret_cast<Barriers*>(sO + kConsumers * kStagingBytes<D>);

    const int tid = threadIdx.x;
    if (tid == 0) {
        for (int i = 0; i < kStages; ++i) {
            mbarrierInit(&b.kvFull[i], 1);
            mbarrierInit(&b.kvEmpty[i], kConsumerThreads);
        }
        for (int i = 0; i < kQSlots; ++i) {
            mbarrierInit(&b.qFull[i], 1);
            mbarrierInit(&b.qEmpty[i], kConsumerThreads);
        }
        for (int c = 0; c < kConsumers; ++c) {
            mbarrierInit(&b.statsFull[c], kWarpgroupThreads);  // the consumer's threads
            mbarrierInit(&b.statsEmpty[c], 32);                // the writer warp's lanes
        }
        fenceBarrierInit();
    }
    __syncthreads();

    const int wg = __shfl_sync(0xffffffffu, tid / kWarpgroupThreads, 0);
    if (wg == 0) {
        releaseRegisters<kProducerRegisters>();
        const int warp = tid / 32;
        if (tid == 0) produce<D>(h, a, &mapQ, &mapK, &mapV, sQ, sK, sV, b);
        else if (warp >= 1 && warp <= kConsumers)
            writeRowStatistics(h, a, b.stats[warp - 1], &b.statsFull[warp - 1], &b.statsEmpty[warp - 1]);
    } else {
        claimRegisters<kConsumerRegisters>();
        consume<T, D, kSplit, kRawScores>(h, a, wg - 1, sQ, sK, sV, sO, &mapO, b);
    }
#endif
}

}  // namespace

bool launchForwardWgmmaSpecialized(Element e, int D, const HeadView& h, const ForwardArgs& a, cudaStream_t stream) {
    if (e == Element::Float32 || D % 64 != 0 || !useHopperKernels()) return false;
    const uint64_t qRows = static_cast<uint64_t>(h.qHeads) * h.rowsPadded;
    const uint64_t kvRows = static_cast<uint64_t>(h.kvHeads) * h.rowsPadded;
    const bool bf16 = e == Element::BFloat16;
    // Block-sparse launches are persistent (one CTA per SM), dense ones one CTA per item, as in
    // forward-wgmma.cu; ATTNSCOPE_CUDA_FORWARD_CTAS caps the grid (tests: several items per CTA).
    const int items = ForwardItems(h).count();
    const char* cap = std::getenv("ATTNSCOPE_CUDA_FORWARD_CTAS");
    const int ctas = cap ? std::max(1, std::atoi(cap)) : a.blockOffsets ? multiprocessorCount() : items;
    const int grid = std::min(items, ctas);
    CUtensorMap mapQ, mapK, mapV, mapO{};
    if (!encodeTileTensorMap(mapQ, h.q, qRows, D, bf16) || !encodeTileTensorMap(mapK, h.k, kvRows, D, bf16) ||
        !encodeTileTensorMap(mapV, h.v, kvRows, D, bf16))
        return false;
    // Only a CTA with several items stages rows for the copy engine (one-item CTAs write their rows
    // at the end, from registers): the output map is needed when the grid is smaller.
    if (grid < items && !encodeOutputTensorMap(mapO, a.out, D, h.seqLen, h.rowsPadded, h.qHeads)) return false;
    dispatchElement(e, [&]<typename T>() {
        if constexpr (kIsMma<T>) {
            dispatchHeadDim(D, [&]<int kD>() {
                if constexpr (kD % 64 == 0) {
                    constexpr size_t bytes = specializedSmemBytes<kD>();
                    static_assert(bytes <= 227 * 1024, "shared memory per block on sm_90");
                    auto launch = [&]<bool kSplit, bool kRawScores>() {
                        allowSharedMemory(forward_specialized_kernel<T, kD, kSplit, kRawScores>, bytes);
                        forward_specialized_kernel<T, kD, kSplit, kRawScores>
                            <<<grid, kCtaThreads, bytes, stream>>>(mapQ, mapK, mapV, mapO, h, a);
                    };
                    // Raw dot products (scale folded into the exponent) need a positive scale and no softcap.
                    const bool raw = !(h.softcap > 0.0f) && h.scale > 0.0f;
                    if (a.splitP) {
                        if (raw) launch.template operator()<true, true>();
                        else launch.template operator()<true, false>();
                    } else {
                        if (raw) launch.template operator()<false, true>();
                        else launch.template operator()<false, false>();
                    }
                }
            });
        }
    });
    return true;
}

}  // namespace attnscope::cuda
