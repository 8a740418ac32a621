// Host side of the uploads in device-head.cu, kept free of CUDA so CPU-only tests and benchmarks run
// it: the exact fp32 -> bf16 / fp16 conversions, the representability checks that choose the element
// type, and writing tensors into the kernels' padded layout ([heads, rowsPadded, paddedDim], zeros
// elsewhere) in parallel chunks. Each chunk is handed to a callback as soon as it is written, so the
// caller can copy it to the GPU while the other chunks convert.
//
// Values the bit-exact fast paths do not cover (NaN for both types, +-Inf for fp16, values that are not
// exactly representable) go through a caller-supplied fallback: device-head.cu passes CUDA's own
// __float2bfloat16_rn / __float2half_rn, which is what it used for every element before, so uploads
// are bit-identical to the element-by-element conversion.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "attnscope/parallel-for.h"

namespace attnscope::cuda::staging {

// --- bf16 ---------------------------------------------------------------------------------------------
// bf16 is the upper half of an fp32: a value is exactly representable iff its lower 16 bits are zero,
// and then the conversion is a shift. NaNs count as representable (as before) but are converted by
// the fallback, whatever their bits.

inline bool bf16Representable(uint32_t bits) { return (bits & 0xFFFFu) == 0u || (bits & 0x7FFFFFFFu) > 0x7F800000u; }

// The shift is exact for this value (representable and not NaN).
inline bool bf16Fast(uint32_t bits) { return (bits & 0xFFFFu) == 0u && (bits & 0x7FFFFFFFu) <= 0x7F800000u; }

// --- fp16 ---------------------------------------------------------------------------------------------
// A finite fp32 is exactly representable as IEEE half iff it is 0, k * 2^-24 with k < 1024
// (subnormal halves), or 2^-14 <= |x| <= 65504 with its lower 13 mantissa bits zero. +-Inf and NaN
// survive the round trip through half too, so they count as representable; they take the fallback.

// The half bits of x when x is finite and exactly representable; `slow` gets a nonzero bit otherwise.
// Branch-free (the row loops below vectorize).
inline uint16_t halfExact(uint32_t bits, uint32_t& slow) {
    const uint32_t sign = (bits >> 16) & 0x8000u;
    const uint32_t magnitude = bits & 0x7FFFFFFFu;
    const uint32_t isSubnormal = 0u - static_cast<uint32_t>(magnitude < 0x38800000u);  // below 2^-14
    // Normal half: rebias the exponent 127 -> 15 and drop 13 mantissa bits.
    const uint32_t normal = (magnitude - (112u << 23)) >> 13;
    const uint32_t normalSlow =
        static_cast<uint32_t>(magnitude > 0x477FE000u) | static_cast<uint32_t>((magnitude & 0x1FFFu) != 0u);
    // Subnormal half (or zero): |x| * 2^24 is an integer below 1024 (the scaling is exact; the clamp
    // keeps large values away from the float -> int conversion).
    const float scaled = std::bit_cast<float>(std::min(magnitude, 0x38800000u)) * 16777216.0f;
    const int32_t k = static_cast<int32_t>(scaled);
    const uint32_t subnormalSlow = static_cast<uint32_t>(static_cast<float>(k) != scaled);
    slow |= (subnormalSlow & isSubnormal) | (normalSlow & ~isSubnormal);
    return static_cast<uint16_t>(sign | ((static_cast<uint32_t>(k) & isSubnormal) | (normal & ~isSubnormal)));
}

inline bool halfRepresentable(uint32_t bits) {
    uint32_t slow = 0;
    (void)halfExact(bits, slow);
    return slow == 0u || (bits & 0x7FFFFFFFu) >= 0x7F800000u;
}

// --- representability of whole tensors ---------------------------------------------------------------

enum class Target { BFloat16, Float16 };

// Whether every value of `values` converts to `target` exactly; parallel over chunks, stops early.
inline bool allRepresentable(const std::vector<float>& values, Target target) {
    constexpr size_t kChunk = size_t{1} << 16;
    const size_t n = values.size();
    const int tasks = static_cast<int>((n + kChunk - 1) / kChunk);
    std::atomic<bool> ok{true};
    parallelFor(threadsFor(n, size_t{1} << 20), tasks, [&](int, int task) {
        if (!ok.load(std::memory_order_relaxed)) return;
        const float* p = values.data() + static_cast<size_t>(task) * kChunk;
        const size_t count = std::min(kChunk, n - static_cast<size_t>(task) * kChunk);
        uint32_t bad = 0;
        if (target == Target::BFloat16) {
            for (size_t i = 0; i < count; ++i)
                bad |= static_cast<uint32_t>(!bf16Representable(std::bit_cast<uint32_t>(p[i])));
        } else {
            for (size_t i = 0; i < count; ++i)
                bad |= static_cast<uint32_t>(!halfRepresentable(std::bit_cast<uint32_t>(p[i])));
        }
        if (bad != 0) ok.store(false, std::memory_order_relaxed);
    });
    return ok.load();
}

// --- rows -------------------------------------------------------------------------------------------
// Row converters: write `n` converted values of `in` to `out`. `Fallback` maps a float to the target's
// bits (uint16_t) for the values the fast path does not cover.

template <class Fallback>
struct ToBFloat16 {
    Fallback fallback;
    void operator()(const float* in, uint16_t* out, int n) const {
        uint32_t slow = 0;
        for (int c = 0; c < n; ++c) {
            const uint32_t bits = std::bit_cast<uint32_t>(in[c]);
            out[c] = static_cast<uint16_t>(bits >> 16);
            slow |= static_cast<uint32_t>(!bf16Fast(bits));
        }
        if (slow != 0)
            for (int c = 0; c < n; ++c)
                if (!bf16Fast(std::bit_cast<uint32_t>(in[c]))) out[c] = fallback(in[c]);
    }
};

template <class Fallback>
struct ToFloat16 {
    Fallback fallback;
    void operator()(const float* in, uint16_t* out, int n) const {
        uint32_t slow = 0;
        for (int c = 0; c < n; ++c) out[c] = halfExact(std::bit_cast<uint32_t>(in[c]), slow);
        if (slow != 0)
            for (int c = 0; c < n; ++c) {
                uint32_t one = 0;
                const uint16_t h = halfExact(std::bit_cast<uint32_t>(in[c]), one);
                out[c] = one == 0u ? h : fallback(in[c]);
            }
    }
};

struct CopyFloat {
    void operator()(const float* in, float* out, int n) const {
        std::memcpy(out, in, static_cast<size_t>(n) * sizeof(float));
    }
};

// --- padded layout ----------------------------------------------------------------------------------

// One tensor [heads, rows, cols] of fp32, written as [heads, rowsPadded, paddedDim] elements of the
// target type starting at element `offset` of the staging buffer.
struct Tensor {
    const float* values;
    int heads, rows, cols;
    size_t offset;
};

struct Layout {
    int rowsPadded;
    int paddedDim;
};

// A finished range of the staging buffer: [offset, offset + count) elements of tensor `tensor`
// (offsets relative to the whole buffer), written by worker `worker` (0: the calling thread).
struct Chunk {
    int tensor;
    size_t offset;
    size_t count;
    int worker;
};

// Rows per chunk: about 256 Ki elements (512 KiB of 16-bit values), at least one row.
inline int rowsPerChunk(const Layout& layout) { return std::max(1, (1 << 18) / std::max(1, layout.paddedDim)); }

// Number of threads stagePadded uses for these tensors.
inline int stagingThreads(const std::vector<Tensor>& tensors, const Layout& layout) {
    size_t total = 0;
    for (const Tensor& t : tensors) total += static_cast<size_t>(t.heads) * layout.rowsPadded * layout.paddedDim;
    return threadsFor(total, size_t{1} << 18);
}

// Writes every tensor into `staging` (element type Out) with `convert` (a row converter above) and
// calls done(Chunk) for each finished chunk, from the thread that wrote it. Chunks are whole rows of
// one head, padding rows included in the head's last chunk, so a chunk is one contiguous range.
// Exceptions from `done` stop the work and are rethrown here.
template <class Out, class Convert, class Done>
void stagePadded(const std::vector<Tensor>& tensors, const Layout& layout, Out* staging, const Convert& convert,
                 Done&& done, int threads = 0) {
    struct Task {
        int tensor, head, row0, row1;
    };
    const int chunkRows = rowsPerChunk(layout);
    std::vector<Task> tasks;
    for (size_t t = 0; t < tensors.size(); ++t)
        for (int h = 0; h < tensors[t].heads; ++h)
            for (int r = 0; r < layout.rowsPadded; r += chunkRows)
                tasks.push_back({static_cast<int>(t), h, r, std::min(r + chunkRows, layout.rowsPadded)});
    const size_t D = static_cast<size_t>(layout.paddedDim);
    parallelFor(threads > 0 ? threads : stagingThreads(tensors, layout), static_cast<int>(tasks.size()),
                [&](int worker, int index) {
                    const Task& task = tasks[static_cast<size_t>(index)];
                    const Tensor& t = tensors[static_cast<size_t>(task.tensor)];
                    const size_t first =
                        t.offset + (static_cast<size_t>(task.head) * layout.rowsPadded + task.row0) * D;
                    Out* out = staging + first;
                    const int realEnd = std::min(task.row1, t.rows);
                    for (int r = task.row0; r < realEnd; ++r, out += D) {
                        convert(t.values + (static_cast<size_t>(task.head) * t.rows + r) * t.cols, out, t.cols);
                        std::fill(out + t.cols, out + D, Out{});
                    }
                    if (task.row1 > realEnd)
                        std::fill(out, out + static_cast<size_t>(task.row1 - std::max(realEnd, task.row0)) * D, Out{});
                    done(Chunk{task.tensor, first, static_cast<size_t>(task.row1 - task.row0) * D, worker});
                });
}

}  // namespace attnscope::cuda::staging
