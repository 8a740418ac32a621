// Per-row top-k thresholds by radix selection: four 8-bit passes over the row's logits (as
// order-preserving bits, -0 folded into +0) find the need-th largest logit exactly, and a fifth pass
// walks keys in ascending order to find which of the tied keys is the need-th in the total order
// (logit desc, key asc). O(T) memory; five QK^T sweeps. Also the small-k top-k collection.
#include "dispatch.cuh"
#include "row-sweep.cuh"

namespace attnscope::cuda {

namespace {

__device__ __forceinline__ unsigned logitKey(float s) { return orderedBits(__fadd_rn(s, 0.0f)); }

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

template <typename T, int D, bool kPacked>
__global__ void __launch_bounds__(kThreads) thresholds_kernel(HeadView h, const int* need, DeviceThreshold* out) {
    extern __shared__ __align__(16) unsigned char smem[];
    using Shared = ThresholdShared<kPacked>;
    Shared* sh = reinterpret_cast<Shared*>(smem + rowSweepSmemBytes<T, D, false>());
    const int qb = blockIdx.x;
    const int head = blockIdx.y;  // every head uses the same budgets; each writes its own thresholds
    out += static_cast<size_t>(head) * h.rowsPadded;
    if (threadIdx.x < kTile) {
        const int i = qb * kTile + threadIdx.x;
        sh->need[threadIdx.x] = i < h.seqLen ? need[i] : 0;
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

void launchRowThresholds(Element e, int D, const HeadView& h, const int* need, DeviceThreshold* out,
                         cudaStream_t stream) {
    dispatchElement(e, [&]<typename T>() {
        dispatchHeadDim(D, [&]<int kD>() {
            const dim3 grid(h.rowsPadded / kTile, h.qHeads);
            if (h.seqLen < 65536) {
                const size_t bytes = rowSweepSmemBytes<T, kD, false>() + sizeof(ThresholdShared<true>);
                allowSharedMemory(thresholds_kernel<T, kD, true>, bytes);
                thresholds_kernel<T, kD, true><<<grid, kThreads, bytes, stream>>>(h, need, out);
            } else {
                const size_t bytes = rowSweepSmemBytes<T, kD, false>() + sizeof(ThresholdShared<false>);
                allowSharedMemory(thresholds_kernel<T, kD, false>, bytes);
                thresholds_kernel<T, kD, false><<<grid, kThreads, bytes, stream>>>(h, need, out);
            }
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
