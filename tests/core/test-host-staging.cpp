// The CUDA backend's host-side staging (kernels/src/host-staging.h), which has no CUDA in it, checked on
// the CPU against the element-by-element code it replaced (device-head.cu before: representable<T>,
// padded<T>, convertElement<T>). The CUDA conversions the old code called are stood in for by the
// exact round-to-nearest-even ones of io/half-float.h (the same results for everything but NaN
// payloads); host-staging.h calls its fallback for NaN, so both sides use the same one there. That the
// fast paths agree with CUDA's own __float2bfloat16_rn / __float2half_rn on all 2^32 inputs was
// checked once with the CUDA headers (docs/performance.md, "Layer-level overview").

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <random>
#include <vector>

#include "host-staging.h"
#include "io/half-float.h"

namespace attnscope::cuda::staging {
namespace {

struct RefBf16 {
    uint16_t operator()(float x) const { return half::floatToBfloat16(x); }
};
struct RefHalf {
    uint16_t operator()(float x) const { return half::floatToFloat16(x); }
};

// The old code, element by element.
uint16_t oldBf16(float x) {
    const uint32_t bits = std::bit_cast<uint32_t>(x);
    if (!std::isnan(x) && (bits & 0xFFFFu) == 0u) return static_cast<uint16_t>(bits >> 16);
    return RefBf16{}(x);
}
uint16_t oldHalf(float x) { return RefHalf{}(x); }
bool oldBf16Representable(float x) { return (std::bit_cast<uint32_t>(x) & 0xFFFFu) == 0u || std::isnan(x); }
bool oldHalfRepresentable(float x) {
    const float back = half::float16ToFloat(half::floatToFloat16(x));
    return !(back != x && !(std::isnan(back) && std::isnan(x)));
}

// Values of every kind: exact in the target, exact in neither, fp16 subnormals, zeros, the extremes,
// and (when `specials`) Inf and NaN.
std::vector<float> mixedValues(size_t n, unsigned seed, bool specials) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 2.0f);
    std::uniform_int_distribution<uint32_t> bits16(0, 0xFFFF);
    const float edge[] = {0.0f, -0.0f, 65504.0f, -65504.0f, 65520.0f, 6.103515625e-05f, 5.9604644775390625e-08f,
                          2.98023223876953125e-08f, 1e-30f, 3.0e38f, -1.5f, 0.333333343f};
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) {
        switch (i % 6) {
            case 0: v[i] = half::bfloat16ToFloat(static_cast<uint16_t>(bits16(rng))); break;
            case 1: v[i] = half::float16ToFloat(static_cast<uint16_t>(bits16(rng))); break;
            case 2: v[i] = half::float16ToFloat(static_cast<uint16_t>(bits16(rng) & 0x83FFu)); break;  // subnormal
            case 3: v[i] = normal(rng); break;
            case 4: v[i] = edge[i / 6 % std::size(edge)]; break;
            default: v[i] = half::bfloat16ToFloat(half::floatToBfloat16(normal(rng))); break;
        }
        if (!specials && !std::isfinite(v[i])) v[i] = 1.0f;
    }
    if (specials && n > 40) {
        v[7] = std::numeric_limits<float>::infinity();
        v[13] = -std::numeric_limits<float>::infinity();
        v[19] = std::numeric_limits<float>::quiet_NaN();
        v[31] = std::bit_cast<float>(0x7F800001u);  // signalling NaN, low bits set
        v[37] = std::bit_cast<float>(0xFFC00000u);  // negative quiet NaN, low bits zero
    }
    return v;
}

TEST(HostStaging, RepresentabilityMatchesTheRoundTrip) {
    // Every exponent and sign with mantissas around the fp16 and bf16 cut-offs.
    for (uint32_t top = 0; top < (1u << 19); ++top)
        for (uint32_t low : {0u, 1u, 0x1000u, 0x1FFFu}) {
            const uint32_t bits = (top << 13) | low;
            const float x = std::bit_cast<float>(bits);
            ASSERT_EQ(halfRepresentable(bits), oldHalfRepresentable(x)) << std::hex << bits;
            ASSERT_EQ(bf16Representable(bits), oldBf16Representable(x)) << std::hex << bits;
        }
    // fp16 subnormal range in detail: every k * 2^-24 and its neighbours.
    for (uint32_t k = 0; k < 2048; ++k) {
        const float x = static_cast<float>(k) * 5.9604644775390625e-08f;
        const uint32_t b = std::bit_cast<uint32_t>(x);
        for (uint32_t bits : {b, b + 1, b - 1, std::bit_cast<uint32_t>(-x)}) {
            const float y = std::bit_cast<float>(bits);
            ASSERT_EQ(halfRepresentable(bits), oldHalfRepresentable(y)) << std::hex << bits;
        }
    }
    const std::vector<float> mixed = mixedValues(1 << 20, 7, true);
    for (float x : mixed) {
        const uint32_t bits = std::bit_cast<uint32_t>(x);
        ASSERT_EQ(halfRepresentable(bits), oldHalfRepresentable(x)) << x;
        ASSERT_EQ(bf16Representable(bits), oldBf16Representable(x)) << x;
    }
}

TEST(HostStaging, AllRepresentableMatchesElementwiseChecks) {
    std::vector<float> exactBf16(1 << 21), exactHalf(1 << 21);
    std::mt19937 rng(3);
    for (size_t i = 0; i < exactBf16.size(); ++i) {
        exactBf16[i] = half::bfloat16ToFloat(static_cast<uint16_t>(rng() & 0x7F7Fu));
        exactHalf[i] = half::float16ToFloat(static_cast<uint16_t>(rng() & 0x7BFFu));
    }
    EXPECT_TRUE(allRepresentable(exactBf16, Target::BFloat16));
    EXPECT_TRUE(allRepresentable(exactHalf, Target::Float16));
    EXPECT_FALSE(allRepresentable(exactHalf, Target::BFloat16));
    exactBf16[exactBf16.size() - 1] = std::bit_cast<float>(0x3F800001u);  // the very last element
    exactHalf[(1 << 20) + 5] = 1.0f + 1.0f / 4096;                        // needs 12 mantissa bits
    EXPECT_FALSE(allRepresentable(exactBf16, Target::BFloat16));
    EXPECT_FALSE(allRepresentable(exactHalf, Target::Float16));
    exactHalf[(1 << 20) + 5] = std::numeric_limits<float>::quiet_NaN();  // NaN and Inf survive the round trip
    exactHalf[3] = -std::numeric_limits<float>::infinity();
    EXPECT_TRUE(allRepresentable(exactHalf, Target::Float16));
    EXPECT_TRUE(allRepresentable({}, Target::Float16));
}

TEST(HostStaging, RowConvertersMatchTheOldConversion) {
    const std::vector<float> v = mixedValues(1 << 20, 11, true);
    std::vector<uint16_t> b(v.size()), h(v.size());
    // Rows of uneven lengths, so fast and fallback rows mix.
    const ToBFloat16<RefBf16> toBf16{};
    const ToFloat16<RefHalf> toHalf{};
    for (size_t at = 0, n = 1; at < v.size(); at += n, n = n % 300 + 17) {
        const int count = static_cast<int>(std::min(n, v.size() - at));
        toBf16(v.data() + at, b.data() + at, count);
        toHalf(v.data() + at, h.data() + at, count);
    }
    for (size_t i = 0; i < v.size(); ++i) {
        ASSERT_EQ(b[i], oldBf16(v[i])) << "bf16 of " << v[i] << " at " << i;
        ASSERT_EQ(h[i], oldHalf(v[i])) << "fp16 of " << v[i] << " at " << i;
    }
    // Every fp16 pattern's value converts back to it through the fast path (NaN payloads aside).
    std::vector<float> all(65536);
    for (uint32_t p = 0; p < 65536; ++p) all[p] = half::float16ToFloat(static_cast<uint16_t>(p));
    std::vector<uint16_t> back(65536);
    toHalf(all.data(), back.data(), 65536);
    for (uint32_t p = 0; p < 65536; ++p) {
        if (!std::isnan(all[p])) {
            ASSERT_EQ(back[p], p) << std::hex << p;
        }
    }
}

// The padded layout as padded<T> built it: [heads, rowsPadded, paddedDim], zeros elsewhere.
template <typename Out, typename Convert>
std::vector<Out> oldPadded(const std::vector<float>& src, int heads, int rows, int cols, const Layout& layout,
                           Convert convert) {
    std::vector<Out> out(static_cast<size_t>(heads) * layout.rowsPadded * layout.paddedDim, Out{});
    for (int h = 0; h < heads; ++h)
        for (int r = 0; r < rows; ++r)
            for (int c = 0; c < cols; ++c)
                out[(static_cast<size_t>(h) * layout.rowsPadded + r) * layout.paddedDim + c] =
                    convert(src[(static_cast<size_t>(h) * rows + r) * cols + c]);
    return out;
}

uint16_t bitsOf(uint16_t x) { return x; }
uint32_t bitsOf(float x) { return std::bit_cast<uint32_t>(x); }

struct Case {
    int qHeads, kvHeads, rows, headDim, valueDim, rowsPadded, paddedDim;
};

template <typename Out, typename Convert, typename Old>
void checkStaging(const Case& c, const Convert& convert, Old old, bool specials) {
    const Layout layout{c.rowsPadded, c.paddedDim};
    const std::vector<float> q = mixedValues(static_cast<size_t>(c.qHeads) * c.rows * c.headDim, 1, specials);
    const std::vector<float> k = mixedValues(static_cast<size_t>(c.kvHeads) * c.rows * c.headDim, 2, specials);
    const std::vector<float> v = mixedValues(static_cast<size_t>(c.kvHeads) * c.rows * c.valueDim, 3, specials);
    const size_t qCount = static_cast<size_t>(c.qHeads) * c.rowsPadded * c.paddedDim;
    const size_t kvCount = static_cast<size_t>(c.kvHeads) * c.rowsPadded * c.paddedDim;
    std::vector<Out> expected = oldPadded<Out>(q, c.qHeads, c.rows, c.headDim, layout, old);
    for (const auto& part : {oldPadded<Out>(k, c.kvHeads, c.rows, c.headDim, layout, old),
                             oldPadded<Out>(v, c.kvHeads, c.rows, c.valueDim, layout, old)})
        expected.insert(expected.end(), part.begin(), part.end());
    const std::vector<Tensor> tensors = {{q.data(), c.qHeads, c.rows, c.headDim, 0},
                                         {k.data(), c.kvHeads, c.rows, c.headDim, qCount},
                                         {v.data(), c.kvHeads, c.rows, c.valueDim, qCount + kvCount}};
    for (int threads : {1, 2, 5}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        std::vector<Out> staging(expected.size(), static_cast<Out>(0x5A5A));  // garbage from a previous upload
        std::vector<Out> copied(expected.size(), static_cast<Out>(0x7777));    // what a copy at done() time sees
        std::vector<int> times(expected.size(), 0);
        std::mutex mutex;
        stagePadded(tensors, layout, staging.data(), convert,
                    [&](const Chunk& chunk) {
                        ASSERT_GE(chunk.worker, 0);
                        ASSERT_LT(chunk.worker, threads);
                        ASSERT_LE(chunk.offset + chunk.count, staging.size());
                        const size_t begin = tensors[chunk.tensor].offset;
                        const size_t end = chunk.tensor + 1 < 3 ? tensors[chunk.tensor + 1].offset : staging.size();
                        ASSERT_GE(chunk.offset, begin);
                        ASSERT_LE(chunk.offset + chunk.count, end);
                        std::lock_guard lock(mutex);
                        for (size_t i = chunk.offset; i < chunk.offset + chunk.count; ++i) {
                            copied[i] = staging[i];
                            ++times[i];
                        }
                    },
                    threads);
        for (size_t i = 0; i < expected.size(); ++i) {
            ASSERT_EQ(times[i], 1) << "element " << i << " handed over " << times[i] << " times";
            ASSERT_EQ(bitsOf(copied[i]), bitsOf(expected[i])) << "element " << i;
        }
    }
}

TEST(HostStaging, PaddedLayoutMatchesTheOldOneAndEveryChunkIsCompleteWhenHandedOver) {
    // Small heads (one chunk each) and long ones (several chunks, padding rows in the last).
    for (const Case& c : {Case{4, 2, 70, 24, 24, 128, 32}, Case{2, 1, 9000, 20, 12, 9024, 32},
                          Case{3, 3, 64, 128, 128, 64, 128}}) {
        SCOPED_TRACE("rows " + std::to_string(c.rows) + ", dims " + std::to_string(c.headDim) + "/" +
                     std::to_string(c.valueDim));
        checkStaging<uint16_t>(c, ToBFloat16<RefBf16>{}, oldBf16, true);
        checkStaging<uint16_t>(c, ToFloat16<RefHalf>{}, oldHalf, true);
        checkStaging<float>(c, CopyFloat{}, [](float x) { return x; }, false);
    }
}

}  // namespace
}  // namespace attnscope::cuda::staging
