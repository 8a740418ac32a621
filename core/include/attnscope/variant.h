// The variant interface: a mechanism from the literature that turns one head's Q/K/V into a
// VariantPlan (mask + weighting). Each variant declares its parameters so the CLI and the GUI can
// generate arguments and widgets from them, and names the paper it comes from.
//
// Adding a variant: docs/adding-a-variant.md.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/budget-ranking.h"
#include "attnscope/head-tensors.h"
#include "attnscope/sparse-mask.h"

namespace attnscope {

class Backend;

enum class ParamType { Integer, Real };

struct ParamSpec {
    std::string name;
    ParamType type = ParamType::Integer;
    double defaultValue = 0.0;
    double minValue = 0.0;
    double maxValue = 0.0;
    std::string description;
};

using ParamValues = std::map<std::string, double>;

class Variant {
public:
    virtual ~Variant() = default;
    virtual std::string id() const = 0;            // CLI name, e.g. "streaming-llm"
    virtual std::string displayName() const = 0;   // e.g. "StreamingLLM (sink + window)"
    virtual std::string citation() const = 0;      // paper the definition comes from
    virtual std::vector<ParamSpec> parameters() const = 0;
    // The integer parameter that controls how much the variant keeps; empty when the variant has
    // no budget (dense, linear). Density matching searches over it.
    virtual std::string budgetParameter() const { return {}; }
    // Builds the plan. `params` must be complete and valid (see resolveParams).
    virtual VariantPlan plan(const HeadTensors& head, const ParamValues& params, Backend& backend) const = 0;
    // Kept cells of the plan for `params` without the full plan when that is cheap; the default
    // builds the plan and counts. Used by density matching.
    virtual long long keptCellCount(const HeadTensors& head, const ParamValues& params, Backend& backend) const;
    // Kept cells as a function of the budget parameter with the other parameters fixed at `base`:
    // what density matching searches over. The default calls keptCellCount for each value;
    // variants whose planning is costly (MoBA's gating) precompute what the budget does not change.
    using BudgetCounter = std::function<long long(long long budget)>;
    virtual BudgetCounter budgetCounter(const HeadTensors& head, const ParamValues& base, Backend& backend) const;
    // Entry budgets of the masks as the budget parameter grows, the other parameters fixed at `params`
    // (budget-ranking.h), for variants whose masks are nested in the budget; none by default. Lets the
    // head sensitivity sweep measure every budget in one pass (Backend::evaluateMaskBatch).
    virtual std::optional<BudgetRanking> budgetRanking(const HeadTensors& head, const ParamValues& params,
                                                       Backend& backend) const;
};

class ParamError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// Fills defaults, rejects unknown names, out-of-range values and non-integers for Integer params.
ParamValues resolveParams(const Variant& variant, const ParamValues& given);

// Parses "name=value" pairs (CLI syntax) for `variant`; throws ParamError with a readable message.
ParamValues parseParamAssignments(const Variant& variant, const std::vector<std::string>& assignments);

// All registered variants in a stable order, and lookup by id (nullptr when unknown).
const std::vector<std::unique_ptr<Variant>>& variantRegistry();
const Variant* findVariant(std::string_view id);

// Kept cells of a structural mask (no top-k component), exact, O(T * components).
long long countKeptCells(const SparseMask& mask, const AttentionConfig& config, int seqLen);

// Parameters of `variant` whose density is closest to `targetDensity` (searching the budget
// parameter, other parameters from `base`). Throws ParamError when the variant has no budget.
ParamValues paramsForDensity(const Variant& variant, const HeadTensors& head, const ParamValues& base,
                             double targetDensity, Backend& backend);

}  // namespace attnscope
