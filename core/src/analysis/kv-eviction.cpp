// KV eviction replay (see kv-eviction.h). Scores are computed from Backend products only (column sums,
// exact attention rows from tiles) or from K directly (norms, cosines: O(T d)); the restricted attention
// on the observed rows is measured by Backend::evaluateMaskBatch (kept key sets), every policy and budget
// of one head in one call, with the metrics of evaluateKeptSet. Policy definitions and their sources:
//   StreamingLLM  Xiao et al., ICLR 2024, arXiv:2309.17453 — first n_sink tokens + the most recent ones.
//   H2O           Zhang et al., NeurIPS 2023, arXiv:2306.14048 — heavy hitters by accumulated attention
//                 sum_i A_ij over the prefill queries + a recent window (half the budget each).
//   SnapKV        Li et al., NeurIPS 2024, arXiv:2404.14469 — mean attention from the last w queries,
//                 1D average pooling, the window itself always kept (KVPress SnapKVPress).
//   TOVA          Oren et al., arXiv:2401.06104 — attention of the last query averaged over heads
//                 (KVPress TOVAPress, the prefill equivalent of TOVA's per-step eviction).
//   KNorm         Devoto et al., EMNLP 2024, arXiv:2406.11430 — keep the keys with the lowest L2 norm.
//   KeyDiff       Park et al., arXiv:2504.15364 — keep the keys least cosine-similar to the mean key.
//   PyramidKV     Cai et al., arXiv:2406.02069 — SnapKV scores with budgets shrinking with depth.
//   AdaKV         Feng et al., arXiv:2407.11550 — SnapKV scores, one budget per layer shared across heads
//                 by score, each head keeping at least alpha * B (KVPress AdaKVPress).
//   FastV         Chen et al., ECCV 2024, arXiv:2403.06764 — after layer K, keep the tokens with the most
//                 average attention received in layer K.
//   [CLS]         FasterVLM (Zhang et al., arXiv:2412.01818) — rank tokens by the last layer's [CLS]-row
//                 attention averaged over heads (encoders).
#include "attnscope/analysis/kv-eviction.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
#include <stdexcept>

namespace attnscope::analysis {

const std::vector<EvictionPolicy>& allEvictionPolicies() {
    static const std::vector<EvictionPolicy> all = {
        EvictionPolicy::StreamingLlm, EvictionPolicy::H2O,       EvictionPolicy::SnapKV, EvictionPolicy::Tova,
        EvictionPolicy::KNorm,        EvictionPolicy::KeyDiff,   EvictionPolicy::PyramidKV, EvictionPolicy::AdaKV,
        EvictionPolicy::FastV,        EvictionPolicy::ClsAttention};
    return all;
}

const char* evictionPolicyId(EvictionPolicy policy) {
    switch (policy) {
    case EvictionPolicy::StreamingLlm: return "streaming-llm";
    case EvictionPolicy::H2O: return "h2o";
    case EvictionPolicy::SnapKV: return "snapkv";
    case EvictionPolicy::Tova: return "tova";
    case EvictionPolicy::KNorm: return "knorm";
    case EvictionPolicy::KeyDiff: return "keydiff";
    case EvictionPolicy::PyramidKV: return "pyramidkv";
    case EvictionPolicy::AdaKV: return "adakv";
    case EvictionPolicy::FastV: return "fastv";
    case EvictionPolicy::ClsAttention: return "cls";
    }
    return "?";
}

const char* evictionPolicyCitation(EvictionPolicy policy) {
    switch (policy) {
    case EvictionPolicy::StreamingLlm: return "Xiao et al., Efficient Streaming Language Models with Attention Sinks, ICLR 2024 (arXiv:2309.17453)";
    case EvictionPolicy::H2O: return "Zhang et al., H2O: Heavy-Hitter Oracle, NeurIPS 2023 (arXiv:2306.14048)";
    case EvictionPolicy::SnapKV: return "Li et al., SnapKV: LLM Knows What You are Looking for Before Generation, NeurIPS 2024 (arXiv:2404.14469)";
    case EvictionPolicy::Tova: return "Oren et al., Transformers are Multi-State RNNs (TOVA), 2024 (arXiv:2401.06104)";
    case EvictionPolicy::KNorm: return "Devoto et al., A Simple and Effective L2 Norm-Based Strategy for KV Cache Compression, EMNLP 2024 (arXiv:2406.11430)";
    case EvictionPolicy::KeyDiff: return "Park et al., KeyDiff: Key Similarity-Based KV Cache Eviction, 2025 (arXiv:2504.15364)";
    case EvictionPolicy::PyramidKV: return "Cai et al., PyramidKV: Dynamic KV Cache Compression based on Pyramidal Information Funneling, 2024 (arXiv:2406.02069)";
    case EvictionPolicy::AdaKV: return "Feng et al., Ada-KV: Adaptive Budget Allocation for Efficient LLM Inference, 2024 (arXiv:2407.11550)";
    case EvictionPolicy::FastV: return "Chen et al., An Image is Worth 1/2 Tokens After Layer 2 (FastV), ECCV 2024 (arXiv:2403.06764)";
    case EvictionPolicy::ClsAttention: return "Zhang et al., [CLS] Attention is All You Need for Training-Free Visual Token Pruning (FasterVLM), 2024 (arXiv:2412.01818)";
    }
    return "";
}

EvictionPolicy parseEvictionPolicy(const std::string& id) {
    std::string known;
    for (EvictionPolicy p : allEvictionPolicies()) {
        if (id == evictionPolicyId(p)) return p;
        known += (known.empty() ? "" : ", ") + std::string(evictionPolicyId(p));
    }
    throw std::invalid_argument("unknown eviction policy '" + id + "' (known: " + known + ")");
}

std::vector<int> pyramidBudgets(int budget, int window, int layers, int beta) {
    if (budget <= window || layers <= 1) return std::vector<int>(std::max(1, layers), budget);
    const int minNum = (budget - window) / beta;
    const int maxNum = 2 * (budget - window) - minNum;
    const int steps = (maxNum - minNum) / (layers - 1);
    std::vector<int> out(layers);
    for (int l = 0; l < layers; ++l) out[l] = window + maxNum - l * steps;
    return out;
}

namespace {

// Indices of the `count` highest scores, ties to the lower index, returned sorted by index.
std::vector<int32_t> topIndices(const std::vector<double>& scores, int count) {
    const int T = static_cast<int>(scores.size());
    count = std::clamp(count, 0, T);
    std::vector<int32_t> order(T);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + count, order.end(),
                      [&](int a, int b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); });
    order.resize(count);
    std::sort(order.begin(), order.end());
    return order;
}

double dot(const float* a, const float* b, int n) {
    double s = 0.0;
    for (int c = 0; c < n; ++c) s += static_cast<double>(a[c]) * b[c];
    return s;
}

// One layer's heads with their dense statistics and lazily computed policy scores.
struct LayerState {
    std::vector<HeadTensors> heads;
    std::vector<std::shared_ptr<const HeadStatistics>> dense;
    std::vector<std::vector<double>> snapScores;  // per head, window keys scored 2 (above any attention)
    std::vector<double> lastRowMean;              // TOVA
    std::vector<double> meanReceivedAvg;          // FastV: head mean of column sum / observers
};

std::vector<double> snapKvScores(Backend& backend, const HeadTensors& head, const HeadStatistics& dense, int window,
                                 int kernel, JobControl* job) {
    const int T = head.seqLen;
    const std::vector<float> rows = denseAttentionRows(backend, head, dense, T - window, T, job);
    std::vector<double> mean(T, 0.0);
    for (int r = 0; r < window; ++r)
        for (int j = 0; j < T; ++j) mean[j] += rows[static_cast<size_t>(r) * T + j] / window;
    const int prefix = T - window;
    std::vector<double> scores(T, 2.0);
    const int half = std::max(0, kernel / 2);
    // Average pooling over the in-range neighbours of the prefix (the window is kept regardless).
    for (int j = 0; j < prefix; ++j) {
        double s = 0.0;
        int n = 0;
        for (int t = std::max(0, j - half); t <= std::min(prefix - 1, j + half); ++t, ++n) s += mean[t];
        scores[j] = s / std::max(1, n);
    }
    return scores;
}

}  // namespace

EvictionReport analyzeEviction(const ModelShape& shape, const HeadSource& source, Backend& backend,
                               const std::vector<EvictionPolicy>& policies, const std::vector<int>& budgets,
                               const EvictionOptions& options, JobControl* job, DenseStatisticsCache* cache) {
    const int L = shape.numLayers, H = shape.numHeads;
    if (L <= 0 || H <= 0) throw std::invalid_argument("eviction analysis needs at least one layer and one head");
    if (policies.empty() || budgets.empty()) throw std::invalid_argument("eviction analysis needs a policy and a budget");
    EvictionReport report;
    report.shape = shape;
    report.options = options;

    // [CLS] pruning ranks by the last layer, so that layer is read first.
    std::vector<double> clsScores;
    const bool wantCls = std::find(policies.begin(), policies.end(), EvictionPolicy::ClsAttention) != policies.end();
    if (wantCls) {
        for (int h = 0; h < H; ++h) {
            const HeadTensors head = source(L - 1, h);
            if (head.config.causal)
                throw std::invalid_argument("[CLS]-attention pruning needs a bidirectional encoder: in a causal model "
                                            "the first query sees only itself");
            StatisticsRequest request;
            request.output = false;
            request.columnSums = false;
            request.blocks = false;
            const auto dense = denseStatistics(cache, L - 1, h, head, backend, request, job);
            const std::vector<float> row = denseAttentionRows(backend, head, *dense, 0, 1, job);
            if (clsScores.empty()) clsScores.assign(row.size(), 0.0);
            for (size_t j = 0; j < row.size(); ++j) clsScores[j] += row[j] / H;
        }
        clsScores[0] = 2.0;  // the [CLS] token itself stays
    }

    for (EvictionPolicy p : policies)
        for (int b : budgets) {
            EvictionRun run;
            run.policy = p;
            run.budget = b;
            run.heads.assign(L, std::vector<HeadEviction>(H));
            run.perHead = p == EvictionPolicy::H2O || p == EvictionPolicy::SnapKV || p == EvictionPolicy::KNorm ||
                          p == EvictionPolicy::KeyDiff || p == EvictionPolicy::PyramidKV || p == EvictionPolicy::AdaKV;
            report.runs.push_back(std::move(run));
        }

    std::vector<double> fastvScores;
    int T = 0;
    for (int l = 0; l < L; ++l) {
        LayerState layer;
        for (int h = 0; h < H; ++h) {
            throwIfCancelled(job);
            layer.heads.push_back(source(l, h));
            if (T == 0) {
                T = layer.heads.back().seqLen;
                report.seqLen = T;
                const bool causal = layer.heads.back().config.causal;
                const int observed = options.observedQueries > 0 ? options.observedQueries
                                     : causal ? std::min(options.observationWindow, std::max(1, T / 4))
                                              : T;
                report.observedBegin = std::max(0, T - observed);
                for (EvictionRun& run : report.runs) {
                    run.survival.assign(static_cast<size_t>(L) * T, 0.0);
                    run.budget = std::clamp(run.budget, 1, T);
                }
            } else if (layer.heads.back().seqLen != T) {
                throw std::invalid_argument("eviction analysis: heads of one model must share the sequence length");
            }
            StatisticsRequest request;  // row LSE, output and column sums; the block grid serves no eviction tile
            request.blocks = false;
            layer.dense.push_back(denseStatistics(cache, l, h, layer.heads.back(), backend, request, job));
        }
        const int window = std::clamp(options.observationWindow, 1, std::max(1, T / 4));
        const std::vector<int> seen = queriesSeeingKey(layer.heads[0].config, T);

        auto snap = [&](int h) -> const std::vector<double>& {
            if (layer.snapScores.empty()) layer.snapScores.resize(H);
            if (layer.snapScores[h].empty())
                layer.snapScores[h] = snapKvScores(backend, layer.heads[h], *layer.dense[h], window, options.poolingKernel, job);
            return layer.snapScores[h];
        };

        for (EvictionRun& run : report.runs) {
            const int B = run.budget;
            if (run.layerBudget.empty()) {
                run.layerBudget = run.policy == EvictionPolicy::PyramidKV ? pyramidBudgets(B, window, L, options.pyramidBeta)
                                                                           : std::vector<int>(L, B);
                for (int& x : run.layerBudget) x = std::clamp(x, 1, T);
            }
            const int budget = run.layerBudget[l];
            std::vector<std::vector<int32_t>> kept(H);
            switch (run.policy) {
            case EvictionPolicy::StreamingLlm: {
                std::vector<int32_t> k;
                const int sinks = std::min(options.sinkTokens, budget);
                for (int j = 0; j < sinks; ++j) k.push_back(j);
                for (int j = std::max(sinks, T - (budget - sinks)); j < T; ++j) k.push_back(j);
                std::fill(kept.begin(), kept.end(), k);
                break;
            }
            case EvictionPolicy::H2O:
                for (int h = 0; h < H; ++h) {
                    const int recent = budget / 2;
                    std::vector<double> scores = layer.dense[h]->columnSums;
                    for (int j = T - recent; j < T; ++j) scores[j] = 1e300;  // the recent half is always kept
                    kept[h] = topIndices(scores, budget);
                }
                break;
            case EvictionPolicy::SnapKV:
            case EvictionPolicy::PyramidKV:
                for (int h = 0; h < H; ++h) kept[h] = topIndices(snap(h), budget);
                break;
            case EvictionPolicy::AdaKV: {
                // Safeguard: each head's top floor(alpha B); the rest of H * B goes to the best remaining scores of
                // any head (scores are attention probabilities, comparable across heads).
                const int guard = static_cast<int>(std::floor(options.adaAlpha * budget));
                std::vector<std::vector<uint8_t>> chosen(H, std::vector<uint8_t>(T, 0));
                struct Cand {
                    double score;
                    int head, key;
                };
                std::vector<Cand> rest;
                int used = 0;
                for (int h = 0; h < H; ++h) {
                    const std::vector<double>& s = snap(h);
                    for (int32_t j : topIndices(s, guard)) chosen[h][j] = 1, ++used;
                    for (int j = 0; j < T; ++j)
                        if (!chosen[h][j]) rest.push_back({s[j], h, j});
                }
                const int extra = std::clamp(H * budget - used, 0, static_cast<int>(rest.size()));
                std::partial_sort(rest.begin(), rest.begin() + extra, rest.end(), [](const Cand& a, const Cand& b) {
                    return a.score > b.score || (a.score == b.score && (a.head < b.head || (a.head == b.head && a.key < b.key)));
                });
                for (int r = 0; r < extra; ++r) chosen[rest[r].head][rest[r].key] = 1;
                for (int h = 0; h < H; ++h)
                    for (int j = 0; j < T; ++j)
                        if (chosen[h][j]) kept[h].push_back(j);
                break;
            }
            case EvictionPolicy::Tova: {
                if (layer.lastRowMean.empty()) {
                    layer.lastRowMean.assign(T, 0.0);
                    for (int h = 0; h < H; ++h) {
                        const std::vector<float> row = denseAttentionRows(backend, layer.heads[h], *layer.dense[h], T - 1, T, job);
                        for (int j = 0; j < T; ++j) layer.lastRowMean[j] += row[j] / H;
                    }
                }
                std::fill(kept.begin(), kept.end(), topIndices(layer.lastRowMean, budget));
                break;
            }
            case EvictionPolicy::KNorm:
                for (int h = 0; h < H; ++h) {
                    const HeadTensors& head = layer.heads[h];
                    std::vector<double> scores(T);
                    for (int j = 0; j < T; ++j) scores[j] = -std::sqrt(dot(head.keyRow(j), head.keyRow(j), head.headDim));
                    kept[h] = topIndices(scores, budget);
                }
                break;
            case EvictionPolicy::KeyDiff:
                for (int h = 0; h < H; ++h) {
                    const HeadTensors& head = layer.heads[h];
                    std::vector<double> mean(head.headDim, 0.0);
                    for (int j = 0; j < T; ++j)
                        for (int c = 0; c < head.headDim; ++c) mean[c] += head.keyRow(j)[c] / T;
                    std::vector<float> meanF(mean.begin(), mean.end());
                    const double meanNorm = std::sqrt(dot(meanF.data(), meanF.data(), head.headDim));
                    std::vector<double> scores(T);
                    for (int j = 0; j < T; ++j) {
                        const double n = std::sqrt(dot(head.keyRow(j), head.keyRow(j), head.headDim));
                        const double cosine = n > 0 && meanNorm > 0 ? dot(head.keyRow(j), meanF.data(), head.headDim) / (n * meanNorm) : 0.0;
                        scores[j] = -cosine;
                    }
                    kept[h] = topIndices(scores, budget);
                }
                break;
            case EvictionPolicy::FastV: {
                if (l <= options.fastvLayer) {
                    std::vector<int32_t> all(T);
                    std::iota(all.begin(), all.end(), 0);
                    std::fill(kept.begin(), kept.end(), all);
                } else {
                    std::fill(kept.begin(), kept.end(), topIndices(fastvScores, budget));
                }
                break;
            }
            case EvictionPolicy::ClsAttention:
                std::fill(kept.begin(), kept.end(), topIndices(clsScores, budget));
                break;
            }
            for (int h = 0; h < H; ++h) {
                HeadEviction& e = run.heads[l][h];
                e.kept = std::move(kept[h]);
                for (int32_t j : e.kept) run.survival[static_cast<size_t>(l) * T + j] += 1.0 / H;
            }
        }
        // Every run's kept set of a head measured in one Backend::evaluateMaskBatch (the CPU backend computes
        // the observed rows' logits once for all of them); equal sets (SnapKV and PyramidKV at the same
        // budget, FastV before its layer, ...) are measured once. Full sets keep all the mass exactly.
        for (int h = 0; h < H; ++h) {
            throwIfCancelled(job);
            MaskBatch batch;
            batch.keptSets.rowBegin = report.observedBegin;
            std::vector<size_t> slot(report.runs.size(), SIZE_MAX);
            for (size_t r = 0; r < report.runs.size(); ++r) {
                const std::vector<int32_t>& k = report.runs[r].heads[l][h].kept;
                if (static_cast<int>(k.size()) == T) continue;
                const auto& sets = batch.keptSets.sets;
                slot[r] = static_cast<size_t>(std::find(sets.begin(), sets.end(), k) - sets.begin());
                if (slot[r] == sets.size()) batch.keptSets.sets.push_back(k);
            }
            const std::vector<KeptKeyMetrics> measured =
                batch.keptSets.sets.empty() ? std::vector<KeptKeyMetrics>{}
                                            : backend.evaluateMaskBatch(layer.heads[h], *layer.dense[h], batch, job).keptSets;
            for (size_t r = 0; r < report.runs.size(); ++r) {
                HeadEviction& e = report.runs[r].heads[l][h];
                if (slot[r] == SIZE_MAX) {
                    e.metrics = {1.0, 0.0, T, T - report.observedBegin};
                } else {
                    e.metrics.retainedMass = measured[slot[r]].retainedMass;
                    e.metrics.outputError = measured[slot[r]].outputError;
                    e.metrics.keptKeys = static_cast<int>(e.kept.size());
                    e.metrics.observedRows = T - report.observedBegin;
                }
            }
        }
        if (l == options.fastvLayer) {
            // FastV's ranking: attention received in layer K, averaged over the queries that see each token and heads.
            fastvScores.assign(T, 0.0);
            for (int h = 0; h < H; ++h)
                for (int j = 0; j < T; ++j)
                    fastvScores[j] += seen[j] > 0 ? layer.dense[h]->columnSums[j] / seen[j] / H : 0.0;
        }
        reportProgress(job, "prune", static_cast<double>(l + 1) / L);
    }
    for (EvictionRun& run : report.runs) {
        double mass = 0.0, err = 0.0;
        for (const auto& layerHeads : run.heads)
            for (const HeadEviction& e : layerHeads) {
                mass += e.metrics.retainedMass;
                err += e.metrics.outputError;
            }
        run.meanRetainedMass = mass / (L * H);
        run.meanOutputError = err / (L * H);
    }
    return report;
}

}  // namespace attnscope::analysis
