// Helpers of the GPU tests; see kernel-test-support.h.
#include "kernel-test-support.h"

#include <cmath>
#include <random>
#include <sstream>

#include "attnscope/cuda-backend.h"

namespace attnscope::test {

std::string HeadCase::label() const {
    std::ostringstream s;
    s << "T=" << seqLen << " d=" << headDim << " " << storageTypeName(storage) << (config.causal ? " causal" : " bidir")
      << " window=" << config.slidingWindow << " softcap=" << config.softcap << " seed=" << seed;
    return s.str();
}

namespace {

void fill(std::vector<float>& v, StorageType storage, std::mt19937& rng) {
    std::uniform_int_distribution<int> integer(-127, 127);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& x : v) x = storage == StorageType::Float32 ? normal(rng) : static_cast<float>(integer(rng)) / 64.0f;
}

}  // namespace

HeadCase makeCase(int T, int d, StorageType s, bool causal, int window, float softcap, unsigned seed) {
    HeadCase c;
    c.seqLen = T;
    c.headDim = d;
    c.storage = s;
    c.config.causal = causal;
    c.config.slidingWindow = window;
    c.config.softcap = softcap;
    c.seed = seed;
    return c;
}

HeadTensors makeHead(const HeadCase& c) {
    HeadTensors h;
    h.seqLen = c.seqLen;
    h.headDim = c.headDim;
    h.valueDim = c.headDim;
    h.storage = c.storage;
    h.config = c.config;
    if (h.config.softmaxScale == 1.0f) h.config.softmaxScale = 1.0f / std::sqrt(static_cast<float>(c.headDim));
    std::mt19937 rng(c.seed);
    const size_t n = static_cast<size_t>(c.seqLen) * c.headDim;
    h.q.resize(n);
    h.k.resize(n);
    h.v.resize(n);
    fill(h.q, c.storage, rng);
    fill(h.k, c.storage, rng);
    fill(h.v, c.storage, rng);
    return h;
}

HeadTensors withNewQueries(const HeadTensors& base, unsigned seed) {
    HeadTensors h = base;
    std::mt19937 rng(seed);
    fill(h.q, base.storage, rng);
    return h;
}

double tolerance(StorageType storage) { return storage == StorageType::Float32 ? 1e-5 : 1e-4; }

Backend* gpuBackend(std::string* reason) {
    static std::string why = probeCudaDevice();
    static std::unique_ptr<Backend> backend = why.empty() ? createCudaBackend() : nullptr;
    if (!backend && reason) *reason = why;
    return backend.get();
}

CpuBackend& cpuBackend() {
    static CpuBackend cpu(2);
    return cpu;
}

template <typename A, typename B>
::testing::AssertionResult allClose(const std::vector<A>& gpu, const std::vector<B>& cpu, double tol, double floor,
                                    const std::string& what) {
    if (gpu.size() != cpu.size())
        return ::testing::AssertionFailure() << what << ": size " << gpu.size() << " vs " << cpu.size();
    int failures = 0;
    std::ostringstream msg;
    double worst = 0.0;
    for (size_t i = 0; i < gpu.size(); ++i) {
        const double a = static_cast<double>(gpu[i]);
        const double b = static_cast<double>(cpu[i]);
        if (std::isnan(a) || std::isnan(b)) {
            if (std::isnan(a) != std::isnan(b) && failures++ < 5) msg << "\n  [" << i << "] gpu " << a << " cpu " << b;
            continue;
        }
        if (std::isinf(a) || std::isinf(b)) {
            if (a != b && failures++ < 5) msg << "\n  [" << i << "] gpu " << a << " cpu " << b;
            continue;
        }
        const double err = std::abs(a - b) / std::max(std::abs(b), floor);
        worst = std::max(worst, err);
        if (err > tol && failures++ < 5) msg << "\n  [" << i << "] gpu " << a << " cpu " << b << " rel " << err;
    }
    if (failures == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << what << ": " << failures << " of " << gpu.size()
                                         << " elements off (tol " << tol << ", worst " << worst << ")" << msg.str();
}

template ::testing::AssertionResult allClose(const std::vector<float>&, const std::vector<float>&, double, double,
                                             const std::string&);
template ::testing::AssertionResult allClose(const std::vector<double>&, const std::vector<double>&, double, double,
                                             const std::string&);

::testing::AssertionResult normClose(const std::vector<float>& gpu, const std::vector<float>& cpu, double tol,
                                     const std::string& what) {
    if (gpu.size() != cpu.size())
        return ::testing::AssertionFailure() << what << ": size " << gpu.size() << " vs " << cpu.size();
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < gpu.size(); ++i) {
        const double d = static_cast<double>(gpu[i]) - cpu[i];
        num += d * d;
        den += static_cast<double>(cpu[i]) * cpu[i];
    }
    const double rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
    if (rel <= tol) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << what << ": relative Frobenius error " << rel << " > " << tol;
}

}  // namespace attnscope::test
