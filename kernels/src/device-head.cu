// Conversion and upload of a head into the kernels' padded layout; see device-head.h.
#include "device-head.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>

namespace attnscope::cuda {

namespace {

template <typename T>
T convertElement(float x) {
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
        if (!std::isnan(x)) {  // exact for bf16-representable values (the only ones uploaded as bf16)
            uint32_t bits;
            std::memcpy(&bits, &x, 4);
            if ((bits & 0xFFFFu) == 0u) {
                __nv_bfloat16_raw raw;
                raw.x = static_cast<unsigned short>(bits >> 16);
                return __nv_bfloat16(raw);
            }
        }
        return __float2bfloat16_rn(x);
    }
    else if constexpr (std::is_same_v<T, __half>) return __float2half_rn(x);
    else return x;
}

template <typename T>
bool representableByRoundTrip(const std::vector<float>& values) {
    for (float x : values) {
        const T y = convertElement<T>(x);
        float back;
        if constexpr (std::is_same_v<T, __nv_bfloat16>) back = __bfloat162float(y);
        else back = __half2float(y);
        if (back != x && !(std::isnan(back) && std::isnan(x))) return false;
    }
    return true;
}

// bf16 is the upper half of an fp32: a value is exactly representable iff its lower 16 bits are
// zero (NaNs aside), and then conversion is a shift. This bit test replaces a per-element host
// round trip through cuda_bf16.h, which dominated the upload of bf16 captures.
bool lowerHalfZero(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    return (bits & 0xFFFFu) == 0u || std::isnan(x);
}

template <typename T>
bool representable(const std::vector<float>& values) {
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
        for (float x : values)
            if (!lowerHalfZero(x)) return false;
        return true;
    } else {
        return representableByRoundTrip<T>(values);
    }
}

float eluPlusOne(float x) { return x > 0.0f ? x + 1.0f : std::exp(x); }

// `heads` slabs of [rows, cols] row-major -> [heads, rowsPadded, paddedDim] of T, zeros elsewhere.
template <typename T>
std::vector<unsigned char> padded(const std::vector<float>& src, int rows, int cols, int rowsPadded, int paddedDim,
                                  bool features, int heads) {
    std::vector<unsigned char> bytes(static_cast<size_t>(heads) * rowsPadded * paddedDim * sizeof(T), 0);
    T* out = reinterpret_cast<T*>(bytes.data());
    for (int h = 0; h < heads; ++h)
        for (int r = 0; r < rows; ++r) {
            const float* in = src.data() + (static_cast<size_t>(h) * rows + r) * cols;
            T* row = out + (static_cast<size_t>(h) * rowsPadded + r) * paddedDim;
            for (int c = 0; c < cols; ++c) row[c] = convertElement<T>(features ? eluPlusOne(in[c]) : in[c]);
        }
    return bytes;
}

// What an upload needs of a head (one slab each) or a layer (qHeads / kvHeads slabs).
struct Slabs {
    const std::vector<float>& q;
    const std::vector<float>& k;
    const std::vector<float>& v;
    int seqLen, headDim, valueDim, qHeads, kvHeads;
    const AttentionConfig& config;
};

template <typename T>
void uploadAs(DeviceHead& d, const Slabs& s, bool linearFeatures, cudaStream_t stream) {
    auto put = [&](DeviceBuffer<unsigned char>& buffer, const std::vector<float>& src, int cols, int heads,
                   bool features, const char* what) {
        const std::vector<unsigned char> host = padded<T>(src, s.seqLen, cols, d.rowsPadded, d.paddedDim, features, heads);
        buffer = DeviceBuffer<unsigned char>(host.size(), what);
        buffer.upload(host.data(), host.size(), stream);
        checkCuda(cudaStreamSynchronize(stream), "copying Q/K/V to the GPU");
    };
    put(d.q, s.q, s.headDim, s.qHeads, linearFeatures, "queries");
    put(d.k, s.k, s.headDim, s.kvHeads, linearFeatures, "keys");
    put(d.v, s.v, s.valueDim, s.kvHeads, false, "values");
}

// Converts and uploads `s` as `element` (fp32 for elu+1 features) and points d.view at it.
DeviceHead upload(const Slabs& s, Element element, bool linearFeatures, cudaStream_t stream) {
    DeviceHead d;
    d.element = linearFeatures ? Element::Float32 : element;
    d.paddedDim = paddedHeadDim(std::max(s.headDim, s.valueDim));
    d.rowsPadded = (s.seqLen + kTile - 1) / kTile * kTile;
    d.linearFeatures = linearFeatures;
    switch (d.element) {
        case Element::BFloat16: uploadAs<__nv_bfloat16>(d, s, linearFeatures, stream); break;
        case Element::Float16: uploadAs<__half>(d, s, linearFeatures, stream); break;
        case Element::Float32: uploadAs<float>(d, s, linearFeatures, stream); break;
    }
    HeadView& v = d.view;
    v.q = d.q.get();
    v.k = d.k.get();
    v.v = d.v.get();
    v.seqLen = s.seqLen;
    v.rowsPadded = d.rowsPadded;
    v.qHeads = s.qHeads;
    v.kvHeads = s.kvHeads;
    v.causal = s.config.causal;
    v.window = s.config.slidingWindow;
    v.scale = linearFeatures ? 1.0f : s.config.softmaxScale;
    v.softcap = linearFeatures ? 0.0f : s.config.softcap;
    return d;
}

// The element type a set of values of `storage` can use exactly (fp32 when any value does not fit).
Element exactElement(StorageType storage, std::initializer_list<const std::vector<float>*> values) {
    auto all = [&]<typename T>() {
        for (const std::vector<float>* v : values)
            if (!representable<T>(*v)) return false;
        return true;
    };
    if (storage == StorageType::BFloat16 && all.template operator()<__nv_bfloat16>()) return Element::BFloat16;
    if (storage == StorageType::Float16 && all.template operator()<__half>()) return Element::Float16;
    return Element::Float32;
}

}  // namespace

Element chooseLayerElement(const LayerTensors& layer) {
    return exactElement(layer.storage, {&layer.q, &layer.k, &layer.v});
}

DeviceHead uploadLayer(const LayerTensors& layer, Element element, cudaStream_t stream) {
    return upload({layer.q, layer.k, layer.v, layer.seqLen, layer.headDim, layer.valueDim, layer.qHeads,
                   layer.kvHeads, layer.config},
                  element, false, stream);
}

Element chooseElement(const HeadTensors& head) { return exactElement(head.storage, {&head.q, &head.k, &head.v}); }

uint64_t headFingerprint(const HeadTensors& head, Element element, bool linearFeatures) {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&](uint64_t x) {
        h ^= x;
        h *= 1099511628211ull;
    };
    mix(reinterpret_cast<uintptr_t>(head.q.data()));
    mix(reinterpret_cast<uintptr_t>(head.k.data()));
    mix(reinterpret_cast<uintptr_t>(head.v.data()));
    mix(static_cast<uint64_t>(head.seqLen));
    mix(static_cast<uint64_t>(head.headDim));
    mix(static_cast<uint64_t>(head.valueDim));
    mix(static_cast<uint64_t>(element));
    mix(linearFeatures ? 1 : 0);
    mix(head.config.causal ? 1 : 0);
    mix(static_cast<uint64_t>(head.config.slidingWindow));
    uint32_t bits;
    std::memcpy(&bits, &head.config.softmaxScale, 4);
    mix(bits);
    std::memcpy(&bits, &head.config.softcap, 4);
    mix(bits);
    for (const std::vector<float>* v : {&head.q, &head.k, &head.v}) {
        const size_t n = v->size();
        for (size_t s = 0; s < 97 && n > 0; ++s) {
            std::memcpy(&bits, v->data() + (s * 2654435761ull) % n, 4);
            mix(bits);
        }
        if (n > 0) {
            std::memcpy(&bits, v->data() + n - 1, 4);
            mix(bits);
        }
    }
    return h;
}

DeviceHead uploadHead(const HeadTensors& head, Element element, bool linearFeatures, cudaStream_t stream) {
    DeviceHead d = upload({head.q, head.k, head.v, head.seqLen, head.headDim, head.valueDim, 1, 1, head.config},
                          element, linearFeatures, stream);
    d.fingerprint = headFingerprint(head, element, linearFeatures);
    return d;
}

}  // namespace attnscope::cuda
