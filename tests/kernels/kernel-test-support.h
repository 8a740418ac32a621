// Shared helpers of the GPU tests: seeded random heads (values exactly representable in the stated
// storage type), the CPU reference and the GPU backend side by side, and tolerance checks.
// Tolerances (ISSUE "CUDA backend"): probabilities and sums 1e-4 relative for fp16/bf16 inputs,
// 1e-5 for fp32 inputs (the fp32 path uses fp32 FMA, no tensor cores, no TF32).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "attnscope/backend.h"
#include "attnscope/cpu-backend.h"
#include "attnscope/head-tensors.h"
#include "attnscope/layer-overview.h"
#include "attnscope/pooled-tile.h"
#include "attnscope/variant-evaluation.h"

namespace attnscope::test {

struct HeadCase {
    int seqLen = 200;
    int headDim = 64;
    StorageType storage = StorageType::BFloat16;
    AttentionConfig config;
    unsigned seed = 1;
    std::string label() const;
};

// How GoogleTest (and so ctest's discovered names) prints a case: its label, not its bytes.
inline void PrintTo(const HeadCase& c, std::ostream* os) { *os << c.label(); }

// A test case in one line (the parameterized suites list theirs with it).
HeadCase makeCase(int T, int d, StorageType s, bool causal, int window = 0, float softcap = 0.0f, unsigned seed = 1);

// Seeded (std::mt19937 with `seed`) random head. fp16/bf16: integers in [-127, 127] / 64, exact in
// both formats (and every q.k then sums exactly in fp32); fp32: normal(0, 1) values.
HeadTensors makeHead(const HeadCase& c);

// Sets an environment variable for the scope of a test, also when an assertion leaves it early.
struct ScopedEnv {
    const char* name;
    ScopedEnv(const char* n, const std::string& value) : name(n) { setenv(name, value.c_str(), 1); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;
    ~ScopedEnv() { unsetenv(name); }
};

// Same K and V as `base`, new queries (GQA-style: two query heads of one KV head).
HeadTensors withNewQueries(const HeadTensors& base, unsigned seed);

double tolerance(StorageType storage);

// The GPU backend, or nullptr with the reason (tests GTEST_SKIP with it).
Backend* gpuBackend(std::string* reason);
CpuBackend& cpuBackend();

#define ATTNSCOPE_REQUIRE_GPU(var)                                        \
    std::string gpuSkipReason_;                                           \
    Backend* var = ::attnscope::test::gpuBackend(&gpuSkipReason_);        \
    if (!var) GTEST_SKIP() << "no usable CUDA device: " << gpuSkipReason_

// |a - b| <= tol * max(|b|, floor) for every element; reports the first failures.
template <typename A, typename B>
::testing::AssertionResult allClose(const std::vector<A>& gpu, const std::vector<B>& cpu, double tol, double floor,
                                    const std::string& what);

// ||a - b|| / ||b|| <= tol.
::testing::AssertionResult normClose(const std::vector<float>& gpu, const std::vector<float>& cpu, double tol,
                                     const std::string& what);

// The GPU's dense products of `head` against the CPU's: row max, LSE, entropy, output, column sums
// and the 64x64 block grid, at `tolerance(head.storage)`.
void expectSameStatistics(Backend& gpu, const HeadTensors& head, const std::string& label);

// A tile request over queries [q0, q1) and keys [k0, k1) at w x h pixels.
TileRequest tileRect(int q0, int q1, int k0, int k1, int w, int h, Pooling p = Pooling::Mean,
                     TileQuantity q = TileQuantity::DenseWeight);

// Rectangles of a T-token head, mean and max pooled: zoomed out, uneven pixels, unaligned, zoomed in, one pixel.
std::vector<TileRequest> tileRequestsFor(int T);

// One tile from both backends, per pixel: |gpu - cpu| <= tol * max(|cpu|, scale), where scale is the
// dense tile's value of that pixel (the size of the weights that entered it: a signed difference or
// a dropped mass can be far smaller than its terms) and a tiny fraction of the tile's largest value.
void expectSameTile(Backend& gpu, const HeadTensors& head, const HeadStatistics& dense, const TileRequest& r,
                    const VariantPlan* plan, const VariantEvaluation* eval);

// evaluateVariant of both backends: kept counts, normalizers, output and every metric.
void expectSameEvaluation(const VariantEvaluation& gpu, const VariantEvaluation& cpu, double tol);

// An overview mask recipe in one line: label, keep all, sink tokens, window, top-k, gate block and top-k.
OverviewMask overviewRecipe(std::string label, bool keepAll, int sinks, int window, int topK, int gateBlock,
                            int gateTopK);

// computeLayerOverview of both backends, head by head: sink mass, mean entropy, visible cells, and
// per mask kept cells (equal) and recall.
void expectSameOverview(const std::vector<HeadOverview>& gpu, const std::vector<HeadOverview>& cpu,
                        const std::vector<OverviewMask>& masks, double tol);

}  // namespace attnscope::test
