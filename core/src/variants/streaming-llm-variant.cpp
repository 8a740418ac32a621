// StreamingLLM: the first `sinks` tokens (attention sinks) plus a sliding window.
// Source: Xiao, Tian, Chen, Han, Lewis, "Efficient Streaming Language Models with Attention Sinks",
// ICLR 2024 (arXiv:2309.17453); 4 sink tokens is the paper's default. MECHANISMS.md C2.
#include "attnscope/variant.h"

namespace attnscope {

namespace {

class StreamingLlmVariant final : public Variant {
public:
    std::string id() const override { return "streaming-llm"; }
    std::string displayName() const override { return "StreamingLLM (sinks + window)"; }
    std::string citation() const override {
        return "Xiao et al., Efficient Streaming Language Models with Attention Sinks, ICLR 2024 (arXiv:2309.17453)";
    }
    std::vector<ParamSpec> parameters() const override {
        return {{"sinks", ParamType::Integer, 4, 0, 1 << 20, "initial tokens every query keeps"},
                {"window", ParamType::Integer, 256, 1, 1 << 24, "recent keys kept, the query itself included"}};
    }
    std::string budgetParameter() const override { return "window"; }
    VariantPlan plan(const HeadTensors&, const ParamValues& params, Backend&) const override {
        VariantPlan p;
        p.mask.sinkTokens = static_cast<int>(params.at("sinks"));
        p.mask.windowSize = static_cast<int>(params.at("window"));
        return p;
    }
    // The budget is the window: sink columns are kept at every window, other cells enter at |i - j| + 1.
    std::optional<BudgetRanking> budgetRanking(const HeadTensors& head, const ParamValues& params, Backend&) const override {
        BudgetRanking r;
        r.minBudget = 1;
        r.maxEntry = head.seqLen;
        r.sinkTokens = static_cast<int>(params.at("sinks"));
        r.band = true;
        return r;
    }
};

}  // namespace

std::unique_ptr<Variant> makeStreamingLlmVariant() { return std::make_unique<StreamingLlmVariant>(); }

}  // namespace attnscope
