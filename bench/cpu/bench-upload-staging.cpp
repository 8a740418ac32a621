// attnscope-bench-upload-staging: the host part of the CUDA backend's uploadLayer on the CPU, without
// a GPU: choosing the element type (every value exactly representable?) and converting the layer's
// fp32 Q/K/V into the kernels' padded 16-bit layout. Compares the element-by-element single-threaded
// code device-head.cu had (replicated here with io/half-float.h standing in for cuda_bf16.h /
// cuda_fp16.h, whose host conversions are no faster) with host-staging.h (parallel, bit tricks, a
// reused buffer). Synthetic seeded random values that are exact in the storage type.
// Usage: attnscope-bench-upload-staging [T=8192] [q_heads=32] [kv_heads=8] [d=128] [bfloat16|float16] [reps=5]
#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "host-staging.h"
#include "io/half-float.h"

namespace {

using namespace attnscope;
using namespace attnscope::cuda::staging;

struct Bf16Ref {
    uint16_t operator()(float x) const { return half::floatToBfloat16(x); }
};
struct HalfRef {
    uint16_t operator()(float x) const { return half::floatToFloat16(x); }
};

// --- the code device-head.cu had, element by element on one thread ---
uint16_t oldConvert(float x, bool bf16) {
    if (bf16) {
        if (!std::isnan(x)) {
            uint32_t bits = std::bit_cast<uint32_t>(x);
            if ((bits & 0xFFFFu) == 0u) return static_cast<uint16_t>(bits >> 16);
        }
        return half::floatToBfloat16(x);
    }
    return half::floatToFloat16(x);
}
bool oldRepresentable(const std::vector<float>& values, bool bf16) {
    for (float x : values) {
        if (bf16) {
            const uint32_t bits = std::bit_cast<uint32_t>(x);
            if (!((bits & 0xFFFFu) == 0u || std::isnan(x))) return false;
        } else {
            const float back = half::float16ToFloat(oldConvert(x, false));
            if (back != x && !(std::isnan(back) && std::isnan(x))) return false;
        }
    }
    return true;
}
std::vector<unsigned char> oldPadded(const std::vector<float>& src, int rows, int cols, int rowsPadded, int paddedDim,
                                     int heads, bool bf16) {
    std::vector<unsigned char> bytes(static_cast<size_t>(heads) * rowsPadded * paddedDim * 2, 0);
    auto* out = reinterpret_cast<uint16_t*>(bytes.data());
    for (int h = 0; h < heads; ++h)
        for (int r = 0; r < rows; ++r) {
            const float* in = src.data() + (static_cast<size_t>(h) * rows + r) * cols;
            uint16_t* row = out + (static_cast<size_t>(h) * rowsPadded + r) * paddedDim;
            for (int c = 0; c < cols; ++c) row[c] = oldConvert(in[c], bf16);
        }
    return bytes;
}

double seconds(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
    const int T = argc > 1 ? std::atoi(argv[1]) : 8192;
    const int hq = argc > 2 ? std::atoi(argv[2]) : 32;
    const int hkv = argc > 3 ? std::atoi(argv[3]) : 8;
    const int d = argc > 4 ? std::atoi(argv[4]) : 128;
    const bool bf16 = !(argc > 5 && std::string(argv[5]) == "float16");
    const int reps = argc > 6 ? std::max(1, std::atoi(argv[6])) : 5;
    if (T <= 0 || hq <= 0 || hkv <= 0 || d <= 0 || d > 128) {
        std::cerr << "usage: attnscope-bench-upload-staging [T=8192] [q_heads=32] [kv_heads=8] [d<=128] "
                     "[bfloat16|float16] [reps=5]\n";
        return 2;
    }
    const int rowsPadded = (T + 63) / 64 * 64;
    const int paddedDim = std::max(32, (d + 15) / 16 * 16);
    std::mt19937 rng(12345);
    std::normal_distribution<float> normal(0.0f, 1.5f);
    auto make = [&](int heads) {
        std::vector<float> v(static_cast<size_t>(heads) * T * d);
        for (float& x : v) {
            const float y = normal(rng);
            x = bf16 ? half::bfloat16ToFloat(half::floatToBfloat16(y)) : half::float16ToFloat(half::floatToFloat16(y));
        }
        return v;
    };
    const std::vector<float> q = make(hq), k = make(hkv), v = make(hkv);
    const size_t elements = q.size() + k.size() + v.size();
    std::cout << "layer " << hq << "/" << hkv << " heads, T=" << T << ", d=" << d << ", " << (bf16 ? "bf16" : "fp16")
              << ", " << elements << " elements (synthetic), " << hardwareThreads() << " hardware threads\n";

    double oldBest = 1e30, newBest = 1e30, oldCheckBest = 1e30, newCheckBest = 1e30;
    uint64_t sink = 0;
    for (int rep = 0; rep < reps; ++rep) {
        auto t0 = std::chrono::steady_clock::now();
        const bool okOld = oldRepresentable(q, bf16) && oldRepresentable(k, bf16) && oldRepresentable(v, bf16);
        oldCheckBest = std::min(oldCheckBest, seconds(t0));
        for (const auto* t : {&q, &k, &v}) {
            const auto bytes = oldPadded(*t, T, d, rowsPadded, paddedDim, t == &q ? hq : hkv, bf16);
            sink += bytes[bytes.size() / 2];
        }
        oldBest = std::min(oldBest, seconds(t0));
        if (!okOld) std::cerr << "old: not representable?\n";
    }
    const size_t qCount = static_cast<size_t>(hq) * rowsPadded * paddedDim;
    const size_t kvCount = static_cast<size_t>(hkv) * rowsPadded * paddedDim;
    std::vector<uint16_t> staging(qCount + 2 * kvCount);  // reused, as the pinned buffer is
    const Layout layout{rowsPadded, paddedDim};
    const std::vector<Tensor> tensors = {{q.data(), hq, T, d, 0}, {k.data(), hkv, T, d, qCount},
                                         {v.data(), hkv, T, d, qCount + kvCount}};
    for (int rep = 0; rep < reps + 1; ++rep) {  // one extra: the first touches the staging memory
        auto t0 = std::chrono::steady_clock::now();
        const Target target = bf16 ? Target::BFloat16 : Target::Float16;
        const bool okNew = allRepresentable(q, target) && allRepresentable(k, target) && allRepresentable(v, target);
        const double check = seconds(t0);
        std::atomic<size_t> chunks{0};
        auto done = [&](const Chunk&) { chunks.fetch_add(1, std::memory_order_relaxed); };
        if (bf16) stagePadded(tensors, layout, staging.data(), ToBFloat16<Bf16Ref>{}, done);
        else stagePadded(tensors, layout, staging.data(), ToFloat16<HalfRef>{}, done);
        if (rep > 0) {
            newCheckBest = std::min(newCheckBest, check);
            newBest = std::min(newBest, seconds(t0));
        }
        sink += staging[staging.size() / 3] + chunks.load();
        if (!okNew) std::cerr << "new: not representable?\n";
    }
    std::cout << std::fixed << std::setprecision(1) << "old (1 thread, element by element): " << oldBest * 1e3
              << " ms per layer (representability check " << oldCheckBest * 1e3 << " ms)\n"
              << "new (" << stagingThreads(tensors, layout) << " threads, host-staging.h): " << newBest * 1e3
              << " ms per layer (check " << newCheckBest * 1e3 << " ms)\n"
              << "speedup " << std::setprecision(1) << oldBest / newBest << " x   (" << sink % 10 << ")\n";
    return 0;
}
