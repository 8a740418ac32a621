// Per-row top-k thresholds: the need-th key of a row in the total order (logit desc, key asc).
//
// Fast path, two QK^T sweeps (thresholds_binned_kernel): the first builds, per row, a histogram of
// -log p = anchor - logit (anchor = the row's LSE) in 448 bins of 1/16 nat, which locates the bin
// holding the need-th key and the rank inside it; the second collects that bin's few cells (logit,
// key) into shared memory, where the exact need-th is picked by rank. A row whose target lies beyond
// 28 nats below its LSE, or whose bin holds more cells than the candidate buffer, is marked
// unresolved and finished by the exact radix select (thresholds_radix_kernel: four 8-bit passes over
// the logits' order-preserving bits, -0 folded into +0, then a pass over keys in ascending order to
// break ties), five sweeps. Both produce the same threshold; O(T) memory. Also the small-k top-k
// collection.
#include <climits>

#include "cuda-check.h"
#include "dispatch.cuh"
#include "row-sweep.cuh"

namespace attnscope::cuda {

namespace {

__device__ __forceinline__ unsigned logitKey(float s) { return orderedBits(__fadd_rn(s, 0.0f)); }

// Marks a row the binned kernel could not finish (DeviceThreshold::key).
constexpr int kUnresolved = INT_MIN;

// kPacked (T < 65536): two 16-bit bin counts per word (a row's bin never exceeds T), half the
// shared memory, so two CTAs fit per SM instead of one.
template <bool kPacked>
struct ThresholdShared {
    static constexpr int kWords = kPacked ? 128 : 256;
    unsigned hist[kTile][kWords];
    __device__ __forceinline__ void add(int r, unsigned bin, unsigned count) {
        if constexpr (kPacked) atomicAdd(&hist[r][bin >> 1], count << (16u * (bin & 1u)));
        else atomicAdd(&hist[r][bin], count);
    }
    __device__ __forceinline__ unsigned count(int r, unsigned bin) const {
        if constexpr (kPacked) return (hist[r][bin >> 1] >> (16u * (bin & 1u))) & 0xFFFFu;
        else return hist[r][bin];
    }
    unsigned prefix[kTile];
    int need[kTile];
    int running[kTile];
    int found[kTile];
    unsigned long long eq[kTile];
};

template <bool kPacked>
struct RadixOp {
    ThresholdShared<kPacked>* sh;
    int shift;
    // Runs of equal bins in a thread's 16 cells of a row are counted locally and added with one
    // atomic: in the first passes most of a row's logits share a few bins (same sign and exponent),
    // and per-cell atomics on one shared address serialize.
    __device__ __forceinline__ void tile(float s[8][4], int, const void*, float*) {
        const int lane = threadIdx.x & 31;
        const int warp = threadIdx.x >> 5;
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            const int r = warp * 16 + (lane >> 2) + 8 * half;
            if (sh->need[r] <= 0) continue;
            const unsigned prefix = sh->prefix[r];
            unsigned runBin = 0u, runCount = 0u;
#pragma unroll
            for (int n = 0; n < 8; ++n)
#pragma unroll
                for (int c = 2 * half; c < 2 * half + 2; ++c) {
                    if (s[n][c] == -INFINITY) continue;
                    const unsigned key = logitKey(s[n][c]);
                    if (shift < 24 && (key >> (shift + 8)) != (prefix >> (shift + 8))) continue;
                    const unsigned bin = (key >> shift) & 255u;
                    if (runCount > 0 && bin != runBin) {
                        sh->add(r, runBin, runCount);
                        runCount = 0u;
                    }
                    runBin = bin;
                    ++runCount;
                }
            if (runCount > 0) sh->add(r, runBin, runCount);
        }
    }
};

template <bool kPacked>
struct TieOp {
    ThresholdShared<kPacked>* sh;
    __device__ __forceinline__ void tile(float s[8][4], int kb, const void*, float*) {
        const int lane = threadIdx.x & 31;
        const int warp = threadIdx.x >> 5;
        if (threadIdx.x < kTile) sh->eq[threadIdx.x] = 0ull;
        __syncthreads();
#pragma unroll
        for (int n = 0; n < 8; ++n)
#pragma unroll
            for (int c = 0; c < 4; ++c) {
                const int r = warp * 16 + fragRow(lane, c);
                if (s[n][c] == -INFINITY || sh->need[r] <= 0 || sh->found[r] >= 0) continue;
                if (logitKey(s[n][c]) == sh->prefix[r]) atomicOr(&sh->eq[r], 1ull << fragCol(lane, n, c));
            }
        __syncthreads();
        if (threadIdx.x < kTile) {
            const int r = threadIdx.x;
            if (sh->need[r] > 0 && sh->found[r] < 0) {
                unsigned long long mask = sh->eq[r];
                const int cnt = __popcll(mask);
                if (sh->running[r] + cnt >= sh->need[r]) {
                    for (int skip = sh->need[r] - sh->running[r] - 1; skip > 0; --skip) mask &= mask - 1;
                    sh->found[r] = kb * kTile + __ffsll(static_cast<long long>(mask)) - 1;
                } else {
                    sh->running[r] += cnt;
                }
            }
        }
    }
};

// Rows whose out entry the binned kernel marked unresolved (every row with need > 0 when
// onlyUnresolved is false).
template <typename T, int D, bool kPacked>
__global__ void __launch_bounds__(kThreads) thresholds_radix_kernel(HeadView h, const int* need, bool onlyUnresolved,
                                                                    DeviceThreshold* out) {
    extern __shared__ __align__(16) unsigned char smem[];
    using Shared = ThresholdShared<kPacked>;
    Shared* sh = reinterpret_cast<Shared*>(smem + rowSweepSmemBytes<T, D, false>());
    const int qb = blockIdx.x;
    const int head = blockIdx.y;  // every head uses the same budgets; each writes its own thresholds
    out += static_cast<size_t>(head) * h.rowsPadded;
    if (threadIdx.x < kTile) {
        const int i = qb * kTile + threadIdx.x;
        const bool open = i < h.seqLen && (!onlyUnresolved || out[i].key == kUnresolved);
        sh->need[threadIdx.x] = open ? need[i] : 0;
        sh->prefix[threadIdx.x] = 0;
        sh->running[threadIdx.x] = 0;
        sh->found[threadIdx.x] = -1;
    }
    const bool any = __syncthreads_or(threadIdx.x < kTile && sh->need[threadIdx.x] > 0);
    if (!any) return;
    const BlockSource src = denseBlocks(h, qb);
    for (int pass = 0; pass < 4; ++pass) {
        const int shift = 24 - 8 * pass;
        for (int idx = threadIdx.x; idx < kTile * Shared::kWords; idx += kThreads) (&sh->hist[0][0])[idx] = 0u;
        __syncthreads();
        RadixOp<kPacked> op{sh, shift};
        rowSweep<T, D, false>(h, head, qb, src, smem, op);
        __syncthreads();
        if (threadIdx.x < kTile) {
            const int r = threadIdx.x;
            if (sh->need[r] > 0) {
                unsigned cum = 0;
                for (int bin = 255; bin >= 0; --bin) {
                    const unsigned c = sh->count(r, static_cast<unsigned>(bin));
                    if (cum + c >= static_cast<unsigned>(sh->need[r])) {
                        sh->prefix[r] |= static_cast<unsigned>(bin) << shift;
                        sh->need[r] -= static_cast<int>(cum);
                        break;
                    }
                    cum += c;
                }
            }
        }
        __syncthreads();
    }
    TieOp<kPacked> tie{sh};
    rowSweep<T, D, false>(h, head, qb, src, smem, tie);
    __syncthreads();
    if (threadIdx.x < kTile) {
        const int r = threadIdx.x;
        const int i = qb * kTile + r;
        if (i < h.seqLen && sh->need[r] > 0) out[i] = DeviceThreshold{fromOrderedBits(sh->prefix[r]), sh->found[r]};
    }
}


// ---- fast path: histogram of -log p, then the target bin's candidates ---------------------------

// Bins of 1/16 nat: -log p in [0, 28); the last one is "beyond". 448 bins (not 512) keep the
// histogram small enough for two CTAs per SM with bf16/fp16 d = 128.
constexpr int kBins = 448;
constexpr float kBinsPerNat = 16.0f;

// The bin of a logit below its row's anchor: non-decreasing as the logit falls (a float subtraction
// is monotone), so a bin holds a contiguous stretch of the row's order. Logits above the anchor (the
// LSE is >= every logit up to rounding) go to bin 0.
// Rounds with the 2^23 trick (a full-rate add) instead of a quarter-rate float-to-int conversion:
// bins are then centred on whole multiples of 1/16 nat, which changes nothing that matters here.
__device__ __forceinline__ int logitBin(float anchor, float logit) {
    const float x = fminf(fmaxf((anchor - logit) * kBinsPerNat, 0.0f), static_cast<float>(kBins - 1));
    return __float_as_int(x + 8388608.0f) - 0x4B000000;
}

struct Candidate {
    float logit;
    int key;
};

// kPacked (T < 65536): two 16-bit counts per word, 56 KiB for 64 rows. The histogram's memory
// holds the candidates in the second sweep.
template <bool kPacked>
struct BinnedShared {
    static constexpr int kRowWords = (kPacked ? kBins / 2 : kBins) + 1;  // +1: rows start in different banks
    static constexpr int kCapacity = kRowWords * 4 / static_cast<int>(sizeof(Candidate));  // candidates per row
    union {
        unsigned hist[kTile][kRowWords];
        Candidate candidates[kTile][kCapacity];
    };
    float anchor[kTile];
    int need[kTile];    // rank still to find inside the target bin (1-based); <= 0: no work
    int target[kTile];  // target bin, -1 when the row has no work or is unresolved
    int count[kTile];   // candidates collected
    float keptMass[kTile];  // optional: dense mass of the row's kept keys
    int keptCells[kTile];
    __device__ __forceinline__ void add(int r, unsigned bin) {
        if constexpr (kPacked) atomicAdd(&hist[r][bin >> 1], 1u << (16u * (bin & 1u)));
        else atomicAdd(&hist[r][bin], 1u);
    }
    __device__ __forceinline__ unsigned binCount(int r, int bin) const {
        if constexpr (kPacked) return (hist[r][bin >> 1] >> (16u * (bin & 1u))) & 0xFFFFu;
        else return hist[r][bin];
    }
};

template <bool kPacked>
struct HistogramOp {
    BinnedShared<kPacked>* sh;
    float anchor[2];
    bool active[2];
    __device__ __forceinline__ void tile(float s[8][4], int, const void*, float*) {
        const int lane = threadIdx.x & 31;
        const int warp = threadIdx.x >> 5;
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            if (!active[half]) continue;
            const int r = warp * 16 + (lane >> 2) + 8 * half;
#pragma unroll
            for (int n = 0; n < 8; ++n)
#pragma unroll
                for (int c = 2 * half; c < 2 * half + 2; ++c) {
                    // An invisible cell (-inf) falls in the last bin, which is not counted.
                    const int bin = logitBin(anchor[half], s[n][c]);
                    if (bin < kBins - 1) sh->add(r, static_cast<unsigned>(bin));  // the last bin is implied
                }
        }
    }
};

// Collects the target bin's cells; with kMass also sums p = exp(logit - LSE) and counts the cells
// of the bins above the target (all kept).
template <bool kPacked, bool kMass>
struct CandidateOp {
    BinnedShared<kPacked>* sh;
    float anchor[2];
    int target[2];
    float mass[2] = {0.0f, 0.0f};
    int cells[2] = {0, 0};
    __device__ __forceinline__ void tile(float s[8][4], int kb, const void*, float*) {
        const int lane = threadIdx.x & 31;
        const int warp = threadIdx.x >> 5;
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            if (target[half] < 0) continue;
            const int r = warp * 16 + (lane >> 2) + 8 * half;
            const float lse2 = anchor[half] * kLog2e;
            // Branch-free but for the rare candidate: an invisible cell (-inf) falls in the last
            // bin, past any target, and has p = 0.
#pragma unroll
            for (int n = 0; n < 8; ++n)
#pragma unroll
                for (int c = 2 * half; c < 2 * half + 2; ++c) {
                    const int bin = logitBin(anchor[half], s[n][c]);
                    if constexpr (kMass) {
                        const bool above = bin < target[half];
                        const float p = fastExp2(fmaf(s[n][c], kLog2e, -lse2));
                        mass[half] += above ? p : 0.0f;
                        cells[half] += above ? 1 : 0;
                    }
                    if (bin != target[half]) continue;
                    const int slot = atomicAdd(&sh->count[r], 1);
                    if (slot < BinnedShared<kPacked>::kCapacity)
                        sh->candidates[r][slot] = Candidate{s[n][c], kb * kTile + fragCol(lane, n, c)};
                }
        }
    }
};

// a before b in the selection order (logit desc, key asc); -0 and +0 compare equal, as in
// passesThreshold. Bitwise, not short-circuit: ptxas turned || and && into divergent branches in
// the ranking loop, which made it a fifth of the selection's time.
__device__ __forceinline__ bool precedes(const Candidate& a, const Candidate& b) {
    return (a.logit > b.logit) | ((a.logit == b.logit) & (a.key < b.key));
}

// kMass: also writes, per finished row, the dense mass of its kept keys and their count
// (keptMass / keptCells [qHeads, rowsPadded]); rows left to the radix kernel are not written.
template <typename T, int D, bool kPacked, bool kMass>
__global__ void __launch_bounds__(kThreads) thresholds_binned_kernel(HeadView h, const int* need, const float* anchor,
                                                                     DeviceThreshold* out, float* keptMass,
                                                                     int* keptCells) {
    extern __shared__ __align__(16) unsigned char smem[];
    using Shared = BinnedShared<kPacked>;
    Shared* sh = reinterpret_cast<Shared*>(smem + rowSweepSmemBytes<T, D, false>());
    const int qb = blockIdx.x;
    const int head = blockIdx.y;  // every head uses the same budgets; each writes its own thresholds
    out += static_cast<size_t>(head) * h.rowsPadded;
    anchor += static_cast<size_t>(head) * h.rowsPadded;
    if (threadIdx.x < kTile) {
        const int i = qb * kTile + threadIdx.x;
        sh->need[threadIdx.x] = i < h.seqLen ? need[i] : 0;
        sh->anchor[threadIdx.x] = i < h.seqLen ? anchor[i] : 0.0f;
        sh->target[threadIdx.x] = -1;
        sh->count[threadIdx.x] = 0;
        sh->keptMass[threadIdx.x] = 0.0f;
        sh->keptCells[threadIdx.x] = 0;
    }
    for (int idx = threadIdx.x; idx < kTile * Shared::kRowWords; idx += kThreads) (&sh->hist[0][0])[idx] = 0u;
    const bool any = __syncthreads_or(threadIdx.x < kTile && sh->need[threadIdx.x] > 0);
    if (!any) return;
    const BlockSource src = denseBlocks(h, qb);
    const int lane = threadIdx.x & 31;
    const int warpRow = (threadIdx.x >> 5) * 16 + (lane >> 2);

    HistogramOp<kPacked> histogram{sh};
    for (int half = 0; half < 2; ++half) {
        histogram.anchor[half] = sh->anchor[warpRow + 8 * half];
        histogram.active[half] = sh->need[warpRow + 8 * half] > 0;
    }
    rowSweep<T, D, false>(h, head, qb, src, smem, histogram);
    __syncthreads();

    // Walk the bins from the top of the row: the need-th key lies in the first bin where the running
    // count reaches need. Rows that cannot finish here are left to the radix kernel.
    bool collect = false;
    if (threadIdx.x < kTile) {
        const int r = threadIdx.x;
        const int i = qb * kTile + r;
        if (sh->need[r] > 0) {
            const int wanted = sh->need[r];
            int running = 0, bin = 0;
            for (; bin < kBins - 1; ++bin) {
                const int c = static_cast<int>(sh->binCount(r, bin));
                if (running + c >= wanted) {
                    if (c <= Shared::kCapacity) {
                        sh->target[r] = bin;
                        sh->need[r] = wanted - running;
                        collect = true;
                    }
                    break;
                }
                running += c;
            }
            if (sh->target[r] < 0) out[i] = DeviceThreshold{0.0f, kUnresolved};
        }
    }
    if (!__syncthreads_or(collect)) return;  // the histogram's memory becomes the candidate buffer

    CandidateOp<kPacked, kMass> candidates{sh};
    for (int half = 0; half < 2; ++half) {
        candidates.anchor[half] = sh->anchor[warpRow + 8 * half];
        candidates.target[half] = sh->target[warpRow + 8 * half];
    }
    rowSweep<T, D, false>(h, head, qb, src, smem, candidates);
    if constexpr (kMass) {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            const float m = quadSum(candidates.mass[half]);
            const int c = __shfl_xor_sync(0xffffffffu, candidates.cells[half], 1) + candidates.cells[half];
            const int cells = __shfl_xor_sync(0xffffffffu, c, 2) + c;
            if ((lane & 3) == 0) {
                sh->keptMass[warpRow + 8 * half] = m;  // each row belongs to one quad
                sh->keptCells[warpRow + 8 * half] = cells;
            }
        }
    }
    __syncthreads();
    // Both sweeps compute identical logits, so the bin holds what the histogram counted; should it
    // not, the row goes to the radix kernel rather than read a clipped buffer.
    if (threadIdx.x < kTile && sh->target[threadIdx.x] >= 0 && sh->count[threadIdx.x] > Shared::kCapacity) {
        sh->target[threadIdx.x] = -1;
        out[qb * kTile + threadIdx.x] = DeviceThreshold{0.0f, kUnresolved};
    }
    __syncthreads();

    // The candidate with exactly need - 1 others before it is the threshold.
    for (int idx = threadIdx.x; idx < kTile * Shared::kCapacity; idx += kThreads) {
        const int r = idx / Shared::kCapacity, a = idx % Shared::kCapacity;
        if (sh->target[r] < 0 || a >= sh->count[r]) continue;
        const Candidate me = sh->candidates[r][a];
        int before = 0;
        for (int b = 0; b < sh->count[r]; ++b) before += precedes(sh->candidates[r][b], me) ? 1 : 0;
        if (before == sh->need[r] - 1) out[qb * kTile + r] = DeviceThreshold{me.logit, me.key};
        if (kMass && before < sh->need[r]) {
            atomicAdd(&sh->keptMass[r], fastExp2(fmaf(me.logit, kLog2e, -sh->anchor[r] * kLog2e)));
            atomicAdd(&sh->keptCells[r], 1);
        }
    }
    if constexpr (kMass) {
        __syncthreads();
        const int r = threadIdx.x;
        const size_t at = static_cast<size_t>(head) * h.rowsPadded + qb * kTile + r;
        if (r < kTile && sh->target[r] >= 0) {
            keptMass[at] = sh->keptMass[r];
            keptCells[at] = sh->keptCells[r];
        }
    }
}

struct CollectOp {
    const HeadView* h;
    const DeviceThreshold* thresholds;
    int qb;
    int k;
    int* count;  // shared [64]
    int* keys;
    float* logits;
    __device__ __forceinline__ void tile(float s[8][4], int kb, const void*, float*) {
        const int lane = threadIdx.x & 31;
        const int warp = threadIdx.x >> 5;
#pragma unroll
        for (int n = 0; n < 8; ++n)
#pragma unroll
            for (int c = 0; c < 4; ++c) {
                const int r = warp * 16 + fragRow(lane, c);
                const int i = qb * kTile + r;
                const int j = kb * kTile + fragCol(lane, n, c);
                if (s[n][c] == -INFINITY || !passesThreshold(thresholds[i], j, s[n][c])) continue;
                const int slot = atomicAdd(count + r, 1);
                if (slot < k) {
                    keys[static_cast<size_t>(i) * k + slot] = j;
                    logits[static_cast<size_t>(i) * k + slot] = s[n][c];
                }
            }
    }
};

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) topk_collect_kernel(HeadView h, const DeviceThreshold* thresholds, int k,
                                                                int* keys, float* logits) {
    extern __shared__ __align__(16) unsigned char smem[];
    int* count = reinterpret_cast<int*>(smem + rowSweepSmemBytes<T, D, false>());
    if (threadIdx.x < kTile) count[threadIdx.x] = 0;
    __syncthreads();
    const int qb = blockIdx.x;
    CollectOp op{&h, thresholds, qb, k, count, keys, logits};
    rowSweep<T, D, false>(h, 0, qb, denseBlocks(h, qb), smem, op);
}

}  // namespace

void launchRowThresholds(Element e, int D, const HeadView& h, const int* need, const float* rowLse,
                         DeviceThreshold* out, cudaStream_t stream, float* keptMass, int* keptCells) {
    DeviceBuffer<float> ownLse, ownEntropy;
    if (!rowLse) {
        ownLse = DeviceBuffer<float>(static_cast<size_t>(h.qHeads) * h.rowsPadded, "row LSE");
        ownEntropy = DeviceBuffer<float>(static_cast<size_t>(h.qHeads) * h.rowsPadded, "row entropy");
        launchRowLse(e, D, h, ownLse.get(), ownEntropy.get(), stream);
        rowLse = ownLse.get();
    }
    dispatchElement(e, [&]<typename T>() {
        dispatchHeadDim(D, [&]<int kD>() {
            const dim3 grid(h.rowsPadded / kTile, h.qHeads);
            auto run = [&]<bool kPacked, bool kMass>() {
                const size_t binned = rowSweepSmemBytes<T, kD, false>() + sizeof(BinnedShared<kPacked>);
                allowSharedMemory(thresholds_binned_kernel<T, kD, kPacked, kMass>, binned);
                thresholds_binned_kernel<T, kD, kPacked, kMass>
                    <<<grid, kThreads, binned, stream>>>(h, need, rowLse, out, keptMass, keptCells);
                // Finishes the rows the binned pass left unresolved; CTAs without any return at once.
                const size_t radix = rowSweepSmemBytes<T, kD, false>() + sizeof(ThresholdShared<kPacked>);
                allowSharedMemory(thresholds_radix_kernel<T, kD, kPacked>, radix);
                thresholds_radix_kernel<T, kD, kPacked><<<grid, kThreads, radix, stream>>>(h, need, true, out);
            };
            const bool packed = h.seqLen < 65536, mass = keptMass != nullptr;
            if (packed && mass) run.template operator()<true, true>();
            else if (packed) run.template operator()<true, false>();
            else if (mass) run.template operator()<false, true>();
            else run.template operator()<false, false>();
        });
    });
    checkLaunch("row thresholds");
}

void launchTopKCollect(Element e, int D, const HeadView& h, const DeviceThreshold* thresholds, int k, int* keys,
                       float* logits, cudaStream_t stream) {
    dispatchElement(e, [&]<typename T>() {
        dispatchHeadDim(D, [&]<int kD>() {
            const size_t bytes = rowSweepSmemBytes<T, kD, false>() + kTile * sizeof(int);
            allowSharedMemory(topk_collect_kernel<T, kD>, bytes);
            topk_collect_kernel<T, kD><<<h.rowsPadded / kTile, kThreads, bytes, stream>>>(h, thresholds, k, keys,
                                                                                         logits);
        });
    });
    checkLaunch("top-k collection");
}

}  // namespace attnscope::cuda
