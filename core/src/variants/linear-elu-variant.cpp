// Kernel linear attention with phi(x) = elu(x) + 1, shown through its implied row-normalized map
// w_ij = phi(q_i).phi(k_j) / sum_j' phi(q_i).phi(k_j') over the model's visible keys. phi acts on
// the raw q and k (no softmax scale), as in the paper; no learned parts, so it is training-free.
// Source: Katharopoulos, Vyas, Pappas, Fleuret, "Transformers are RNNs: Fast Autoregressive
// Transformers with Linear Attention", ICML 2020 (arXiv:2006.16236); MECHANISMS.md B1.
#include "attnscope/variant.h"

namespace attnscope {

namespace {

class LinearEluVariant final : public Variant {
public:
    std::string id() const override { return "linear-elu"; }
    std::string displayName() const override { return "Linear attention (elu+1)"; }
    std::string citation() const override {
        return "Katharopoulos et al., Transformers are RNNs: Fast Autoregressive Transformers with Linear Attention, "
               "ICML 2020 (arXiv:2006.16236)";
    }
    std::vector<ParamSpec> parameters() const override { return {}; }
    VariantPlan plan(const HeadTensors&, const ParamValues&, Backend&) const override {
        VariantPlan p;
        p.mask.keepAll = true;
        p.weights = WeightKind::LinearEluPlusOne;
        return p;
    }
};

}  // namespace

std::unique_ptr<Variant> makeLinearEluVariant() { return std::make_unique<LinearEluVariant>(); }

}  // namespace attnscope
