// Oracle top-k: each query keeps its k highest-scoring visible keys (ties: lower key index first),
// softmax renormalized over them. The yardstick for every sparse method.
// Source: Gupta, Dar, Goodman, Ciprut, Berant, "Memory-efficient Transformers via Top-k Attention",
// 2021 (arXiv:2106.06899); MECHANISMS.md D0.
#include <algorithm>

#include "attnscope/backend.h"
#include "attnscope/variant.h"

namespace attnscope {

namespace {

class OracleTopKVariant final : public Variant {
public:
    std::string id() const override { return "topk"; }
    std::string displayName() const override { return "Oracle top-k per row"; }
    std::string citation() const override {
        return "Gupta et al., Memory-efficient Transformers via Top-k Attention, 2021 (arXiv:2106.06899)";
    }
    std::vector<ParamSpec> parameters() const override {
        return {{"k", ParamType::Integer, 64, 1, 1 << 24, "keys kept per query"}};
    }
    std::string budgetParameter() const override { return "k"; }
    VariantPlan plan(const HeadTensors& head, const ParamValues& params, Backend& backend) const override {
        const int k = static_cast<int>(params.at("k"));
        VariantPlan p;
        p.mask.rowTopK = backend.computeRowThresholds(head, std::vector<int32_t>(head.seqLen, k));
        return p;
    }
    // Each row keeps min(k, visible) keys: no logits needed to count.
    long long keptCellCount(const HeadTensors& head, const ParamValues& params, Backend&) const override {
        const int k = static_cast<int>(params.at("k"));
        long long total = 0;
        for (int i = 0; i < head.seqLen; ++i)
            total += std::min(k, visibleKeys(head.config, head.seqLen, i).size());
        return total;
    }
    // k keeps the first k keys of the row's total order (the order computeRowThresholds uses): the key
    // of rank r (from 0) enters at k = r + 1.
    std::optional<BudgetRanking> budgetRanking(const HeadTensors& head, const ParamValues&, Backend&) const override {
        BudgetRanking r;
        r.minBudget = 1;
        r.maxEntry = head.seqLen;
        r.rowRank = true;
        return r;
    }
};

}  // namespace

std::unique_ptr<Variant> makeOracleTopKVariant() { return std::make_unique<OracleTopKVariant>(); }

}  // namespace attnscope
