// Turning --variant/--param/--density arguments into a variant and its resolved parameters.
#pragma once

#include <string>
#include <vector>

#include "attnscope/backend.h"
#include "attnscope/variant.h"

namespace attnscope::cli {

const Variant& requireVariant(const std::string& id);

// Parameters from "name=value" assignments; with density > 0 the budget parameter is searched so
// the variant's density on this head is as close as possible to it.
ParamValues selectParams(const Variant& variant, const std::vector<std::string>& assignments, double density,
                         const HeadTensors& head, Backend& backend);

std::string formatParams(const ParamValues& params);

}  // namespace attnscope::cli
