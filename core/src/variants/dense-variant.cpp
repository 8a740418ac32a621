// Dense softmax attention: the reference every other variant is measured against.
// Source: Vaswani et al., "Attention Is All You Need", NeurIPS 2017, arXiv:1706.03762.
#include "attnscope/variant.h"

namespace attnscope {

namespace {

class DenseVariant final : public Variant {
public:
    std::string id() const override { return "dense"; }
    std::string displayName() const override { return "Dense softmax"; }
    std::string citation() const override {
        return "Vaswani et al., Attention Is All You Need, NeurIPS 2017 (arXiv:1706.03762)";
    }
    std::vector<ParamSpec> parameters() const override { return {}; }
    VariantPlan plan(const HeadTensors&, const ParamValues&, Backend&) const override {
        VariantPlan p;
        p.mask.keepAll = true;
        return p;
    }
};

}  // namespace

std::unique_ptr<Variant> makeDenseVariant() { return std::make_unique<DenseVariant>(); }

}  // namespace attnscope
