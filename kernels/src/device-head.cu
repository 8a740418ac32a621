// Conversion and upload of a head or a layer into the kernels' padded layout; see device-head.h.
// The host side (exact conversion, padding, representability) is host-staging.h, run on several
// threads into reused pinned memory, with each chunk's copy started as soon as it is written.
#include "device-head.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <vector>

#include "host-staging.h"

namespace attnscope::cuda {

namespace {

// CUDA's own conversions, for the values the bit-exact fast paths of host-staging.h leave out (NaN,
// +-Inf for fp16, values that do not fit): the same calls every element went through before, so the
// uploaded bits are unchanged.
struct Bf16Fallback {
    uint16_t operator()(float x) const { return static_cast<__nv_bfloat16_raw>(__float2bfloat16_rn(x)).x; }
};
struct HalfFallback {
    uint16_t operator()(float x) const { return static_cast<__half_raw>(__float2half_rn(x)).x; }
};

float eluPlusOne(float x) { return x > 0.0f ? x + 1.0f : std::exp(x); }

struct EluPlusOneFeatures {
    void operator()(const float* in, float* out, int n) const {
        for (int c = 0; c < n; ++c) out[c] = eluPlusOne(in[c]);
    }
};

// Page-locked staging memory for uploads, kept and reused (grown when an upload needs more), so the
// copies run asynchronously at full PCIe speed. Held (locked) for a whole upload. When pinned memory
// cannot be had, ordinary memory does the same job, only slower.
class Staging {
public:
    std::mutex& mutex() { return m_mutex; }
    unsigned char* get(size_t bytes) {
        if (bytes <= m_capacity) return m_pinned != nullptr ? m_pinned : m_pageable.data();
        if (m_pinned != nullptr) {
            checkCuda(cudaFreeHost(m_pinned), "freeing the upload staging memory");
            m_pinned = nullptr;
        }
        m_capacity = 0;
        void* pinned = nullptr;
        if (cudaHostAlloc(&pinned, bytes, cudaHostAllocDefault) == cudaSuccess) {
            std::vector<unsigned char>().swap(m_pageable);
            m_pinned = static_cast<unsigned char*>(pinned);
        } else {
            (void)cudaGetLastError();
            m_pageable.resize(bytes);
        }
        m_capacity = bytes;
        return m_pinned != nullptr ? m_pinned : m_pageable.data();
    }

private:
    std::mutex m_mutex;
    unsigned char* m_pinned = nullptr;
    std::vector<unsigned char> m_pageable;
    size_t m_capacity = 0;
};

// Never destroyed: freeing pinned memory from a static destructor could run after the CUDA runtime
// has shut down; the process's exit returns it.
Staging& uploadStaging() {
    static Staging* const staging = new Staging;
    return *staging;
}

// What an upload needs of a head (one slab each) or a layer (qHeads / kvHeads slabs).
struct Slabs {
    const std::vector<float>& q;
    const std::vector<float>& k;
    const std::vector<float>& v;
    int seqLen, headDim, valueDim, qHeads, kvHeads;
    const AttentionConfig& config;
};

// Converts q, k and v into the padded layout in staging memory on several threads; each finished chunk
// is copied to its device buffer right away (cudaMemcpyAsync on `stream`, from the thread that wrote
// it), so copying overlaps converting. Returns when every copy is done.
template <typename Out, class QkConvert, class VConvert>
void uploadAs(DeviceHead& d, const Slabs& s, const QkConvert& qk, const VConvert& v, cudaStream_t stream) {
    const size_t D = static_cast<size_t>(d.paddedDim);
    const size_t R = static_cast<size_t>(d.rowsPadded);
    const size_t qCount = static_cast<size_t>(s.qHeads) * R * D;
    const size_t kvCount = static_cast<size_t>(s.kvHeads) * R * D;
    d.q = DeviceBuffer<unsigned char>(qCount * sizeof(Out), "queries");
    d.k = DeviceBuffer<unsigned char>(kvCount * sizeof(Out), "keys");
    d.v = DeviceBuffer<unsigned char>(kvCount * sizeof(Out), "values");
    unsigned char* const device[3] = {d.q.get(), d.k.get(), d.v.get()};
    const size_t base[3] = {0, qCount, qCount + kvCount};

    const staging::Layout layout{d.rowsPadded, d.paddedDim};
    const std::vector<staging::Tensor> qkTensors = {{s.q.data(), s.qHeads, s.seqLen, s.headDim, base[0]},
                                                    {s.k.data(), s.kvHeads, s.seqLen, s.headDim, base[1]}};
    const std::vector<staging::Tensor> vTensors = {{s.v.data(), s.kvHeads, s.seqLen, s.valueDim, base[2]}};
    const int threads = staging::stagingThreads({qkTensors[0], qkTensors[1], vTensors[0]}, layout);

    Staging& st = uploadStaging();
    std::lock_guard lock(st.mutex());
    Out* host = reinterpret_cast<Out*>(st.get((qCount + 2 * kvCount) * sizeof(Out)));
    // Worker threads copy too: they must talk to the caller's device. Each stagePadded call starts its
    // own threads, so each call gets fresh flags.
    int deviceId = 0;
    checkCuda(cudaGetDevice(&deviceId), "finding the current GPU");
    std::vector<char> onDevice;
    auto copy = [&](int firstTensor) {
        onDevice.assign(static_cast<size_t>(threads), 0);
        return [&, firstTensor](const staging::Chunk& c) {
            if (c.worker != 0 && !onDevice[static_cast<size_t>(c.worker)]) {
                checkCuda(cudaSetDevice(deviceId), "selecting the GPU for an upload thread");
                onDevice[static_cast<size_t>(c.worker)] = 1;
            }
            const int tensor = firstTensor + c.tensor;
            checkCuda(cudaMemcpyAsync(device[tensor] + (c.offset - base[tensor]) * sizeof(Out), host + c.offset,
                                      c.count * sizeof(Out), cudaMemcpyHostToDevice, stream),
                      "copying Q/K/V to the GPU");
        };
    };
    try {
        staging::stagePadded(qkTensors, layout, host, qk, copy(0), threads);  // q and k
        staging::stagePadded(vTensors, layout, host, v, copy(2), threads);    // v (never elu+1 features)
    } catch (...) {
        (void)cudaStreamSynchronize(stream);  // no copy may still read the staging memory
        throw;
    }
    checkCuda(cudaStreamSynchronize(stream), "copying Q/K/V to the GPU");
}

// Converts and uploads `s` as `element` (fp32 for elu+1 features) and points d.view at it.
DeviceHead upload(const Slabs& s, Element element, bool linearFeatures, cudaStream_t stream) {
    DeviceHead d;
    d.element = linearFeatures ? Element::Float32 : element;
    d.paddedDim = paddedHeadDim(std::max(s.headDim, s.valueDim));
    d.rowsPadded = (s.seqLen + kTile - 1) / kTile * kTile;
    d.linearFeatures = linearFeatures;
    switch (d.element) {
        case Element::BFloat16: {
            const staging::ToBFloat16<Bf16Fallback> convert{};
            uploadAs<uint16_t>(d, s, convert, convert, stream);
            break;
        }
        case Element::Float16: {
            const staging::ToFloat16<HalfFallback> convert{};
            uploadAs<uint16_t>(d, s, convert, convert, stream);
            break;
        }
        case Element::Float32:
            if (linearFeatures) uploadAs<float>(d, s, EluPlusOneFeatures{}, staging::CopyFloat{}, stream);
            else uploadAs<float>(d, s, staging::CopyFloat{}, staging::CopyFloat{}, stream);
            break;
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
    auto all = [&](staging::Target target) {
        for (const std::vector<float>* v : values)
            if (!staging::allRepresentable(*v, target)) return false;
        return true;
    };
    if (storage == StorageType::BFloat16 && all(staging::Target::BFloat16)) return Element::BFloat16;
    if (storage == StorageType::Float16 && all(staging::Target::Float16)) return Element::Float16;
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
