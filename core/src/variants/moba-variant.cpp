// MoBA-style block top-k: keys are split into blocks of `block` tokens, each block represented by
// its mean key. A query block (same size) scores every candidate key block by
// mean(q over the query block) . mean(k over the key block) — the average of MoBA's per-token gate
// q_i . mean(K_b) over the block's queries — and keeps its `topk` best candidates (ties: lower
// block first) plus its own block. Candidates are blocks strictly before the query block when
// causal (all other blocks when bidirectional) that hold at least one visible cell. Inside kept
// blocks the model's own mask still applies.
// Source: Lu et al., "MoBA: Mixture of Block Attention for Long-Context LLMs", 2025
// (arXiv:2502.13189); MECHANISMS.md D2.
#include <algorithm>
#include <numeric>

#include "attnscope/variant.h"
#include "cpu/row-logits.h"

namespace attnscope {

namespace {

// Mean of each block of `block` rows of a [T, d] matrix (the last block may be shorter).
std::vector<float> blockMeans(const std::vector<float>& x, int T, int d, int block) {
    const int n = (T + block - 1) / block;
    std::vector<double> sums(static_cast<size_t>(n) * d, 0.0);
    for (int t = 0; t < T; ++t)
        for (int c = 0; c < d; ++c) sums[static_cast<size_t>(t / block) * d + c] += x[static_cast<size_t>(t) * d + c];
    std::vector<float> means(sums.size());
    for (int b = 0; b < n; ++b) {
        const int rows = std::min(T, (b + 1) * block) - b * block;
        for (int c = 0; c < d; ++c) means[static_cast<size_t>(b) * d + c] = static_cast<float>(sums[static_cast<size_t>(b) * d + c] / rows);
    }
    return means;
}

// Per query block, its candidate key blocks best first (gate descending, lower block first on
// ties) with the visible cells each would add; shared by plan() and the budget counter so both
// see the same ranking.
struct BlockRanking {
    int blockCount = 0;
    std::vector<long long> ownCells;                                   // [qb] visible cells of the own block
    std::vector<std::vector<std::pair<int, long long>>> candidates;  // [qb] -> (key block, visible cells)
};

BlockRanking rankBlocks(const HeadTensors& head, int block) {
    const int T = head.seqLen;
    const int d = head.headDim;
    const int n = (T + block - 1) / block;
    const std::vector<float> meanQ = blockMeans(head.q, T, d, block);
    const std::vector<float> meanK = blockMeans(head.k, T, d, block);
    BlockRanking ranking;
    ranking.blockCount = n;
    ranking.ownCells.resize(n);
    ranking.candidates.resize(n);
    std::vector<std::pair<float, int>> scored;
    for (int qb = 0; qb < n; ++qb) {
        const int q0 = qb * block, q1 = std::min(T, q0 + block);
        ranking.ownCells[qb] = visibleCellCount(head.config, T, q0, q1, q0, q1);
        scored.clear();
        std::vector<long long> cells(n, 0);
        for (int kb = 0; kb < n; ++kb) {
            if (kb == qb || (head.config.causal && kb > qb)) continue;
            const int k0 = kb * block, k1 = std::min(T, k0 + block);
            cells[kb] = visibleCellCount(head.config, T, q0, q1, k0, k1);
            if (cells[kb] == 0) continue;
            scored.push_back({cpu::dotProduct(meanQ.data() + static_cast<size_t>(qb) * d,
                                              meanK.data() + static_cast<size_t>(kb) * d, d),
                              kb});
        }
        std::sort(scored.begin(), scored.end(),
                  [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
        for (const auto& [score, kb] : scored) ranking.candidates[qb].push_back({kb, cells[kb]});
    }
    return ranking;
}

class MobaVariant final : public Variant {
public:
    std::string id() const override { return "moba"; }
    std::string displayName() const override { return "MoBA block top-k"; }
    std::string citation() const override {
        return "Lu et al., MoBA: Mixture of Block Attention for Long-Context LLMs, 2025 (arXiv:2502.13189)";
    }
    std::vector<ParamSpec> parameters() const override {
        return {{"block", ParamType::Integer, 64, 1, 1 << 20, "tokens per query and key block"},
                {"topk", ParamType::Integer, 3, 0, 1 << 20, "key blocks selected per query block, besides its own"}};
    }
    std::string budgetParameter() const override { return "topk"; }

    VariantPlan plan(const HeadTensors& head, const ParamValues& params, Backend&) const override {
        const int block = static_cast<int>(params.at("block"));
        const size_t topk = static_cast<size_t>(params.at("topk"));
        const BlockRanking ranking = rankBlocks(head, block);
        const int n = ranking.blockCount;
        VariantPlan p;
        SparseMask& mask = p.mask;
        mask.blockSize = block;
        mask.blockRows = n;
        mask.blockCols = n;
        mask.blocks.assign(static_cast<size_t>(n) * n, 0);
        for (int qb = 0; qb < n; ++qb) {
            uint8_t* row = mask.blocks.data() + static_cast<size_t>(qb) * n;
            row[qb] = 1;
            const auto& candidates = ranking.candidates[qb];
            for (size_t r = 0; r < std::min(topk, candidates.size()); ++r) row[candidates[r].first] = 1;
        }
        return p;
    }

    // The gating does not depend on topk: rank once, then each budget is a sum over the ranking
    // (kept blocks are disjoint, so kept cells are the sum of their visible cells).
    BudgetCounter budgetCounter(const HeadTensors& head, const ParamValues& base, Backend&) const override {
        auto ranking = std::make_shared<BlockRanking>(rankBlocks(head, static_cast<int>(base.at("block"))));
        return [ranking](long long topk) {
            long long total = 0;
            for (int qb = 0; qb < ranking->blockCount; ++qb) {
                total += ranking->ownCells[qb];
                const auto& candidates = ranking->candidates[qb];
                const size_t keep = static_cast<size_t>(std::max(0LL, std::min<long long>(topk, candidates.size())));
                for (size_t r = 0; r < keep; ++r) total += candidates[r].second;
            }
            return total;
        };
    }

    // The own block is kept at every topk (entry 0); the candidate at gating rank r (from 0) enters at
    // topk = r + 1; blocks that are no candidate are never kept.
    std::optional<BudgetRanking> budgetRanking(const HeadTensors& head, const ParamValues& params, Backend&) const override {
        const int block = static_cast<int>(params.at("block"));
        const BlockRanking ranking = rankBlocks(head, block);
        const int n = ranking.blockCount;
        BudgetRanking r;
        r.minBudget = 0;
        r.maxEntry = n;
        r.blockSize = block;
        r.blockCount = n;
        r.blockEntry.assign(static_cast<size_t>(n) * n, kNeverKept);
        for (int qb = 0; qb < n; ++qb) {
            int32_t* row = r.blockEntry.data() + static_cast<size_t>(qb) * n;
            row[qb] = 0;
            const auto& candidates = ranking.candidates[qb];
            for (size_t c = 0; c < candidates.size(); ++c) row[candidates[c].first] = static_cast<int32_t>(c + 1);
        }
        return r;
    }
};

}  // namespace

std::unique_ptr<Variant> makeMobaVariant() { return std::make_unique<MobaVariant>(); }

}  // namespace attnscope
