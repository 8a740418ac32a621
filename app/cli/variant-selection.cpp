// See variant-selection.h.
#include "variant-selection.h"

#include <sstream>

#include "cli-common.h"

namespace attnscope::cli {

const Variant& requireVariant(const std::string& id) {
    const Variant* v = findVariant(id);
    if (v) return *v;
    std::string known;
    for (const auto& candidate : variantRegistry()) known += (known.empty() ? "" : ", ") + candidate->id();
    throw UsageError("unknown variant '" + id + "' (known: " + known + "; `attnscope-cli variants` lists them)");
}

ParamValues selectParams(const Variant& variant, const std::vector<std::string>& assignments, double density,
                         const HeadTensors& head, Backend& backend) {
    ParamValues params = parseParamAssignments(variant, assignments);
    if (density > 0.0 && !variant.budgetParameter().empty())
        params = paramsForDensity(variant, head, params, density, backend);
    return params;
}

std::string formatParams(const ParamValues& params) {
    std::ostringstream out;
    bool first = true;
    for (const auto& [name, value] : params) {
        out << (first ? "" : " ") << name << "=" << value;
        first = false;
    }
    return out.str();
}

}  // namespace attnscope::cli
