// Sliding-window (local) attention: query i keeps keys with |i - j| < window (causal: the last
// `window` keys up to and including i), softmax renormalized over them.
// Source: Beltagy, Peters, Cohan, "Longformer: The Long-Document Transformer", 2020
// (arXiv:2004.05150), sliding-window attention; MECHANISMS.md C1.
#include "attnscope/variant.h"

namespace attnscope {

namespace {

class SlidingWindowVariant final : public Variant {
public:
    std::string id() const override { return "window"; }
    std::string displayName() const override { return "Sliding window"; }
    std::string citation() const override {
        return "Beltagy et al., Longformer: The Long-Document Transformer, 2020 (arXiv:2004.05150)";
    }
    std::vector<ParamSpec> parameters() const override {
        return {{"window", ParamType::Integer, 256, 1, 1 << 24, "keys kept on each side of the diagonal, itself included"}};
    }
    std::string budgetParameter() const override { return "window"; }
    VariantPlan plan(const HeadTensors&, const ParamValues& params, Backend&) const override {
        VariantPlan p;
        p.mask.windowSize = static_cast<int>(params.at("window"));
        return p;
    }
    // Window w keeps |i - j| < w: a cell enters at w = |i - j| + 1.
    std::optional<BudgetRanking> budgetRanking(const HeadTensors& head, const ParamValues&, Backend&) const override {
        BudgetRanking r;
        r.minBudget = 1;
        r.maxEntry = head.seqLen;
        r.band = true;
        return r;
    }
};

}  // namespace

std::unique_ptr<Variant> makeSlidingWindowVariant() { return std::make_unique<SlidingWindowVariant>(); }

}  // namespace attnscope
