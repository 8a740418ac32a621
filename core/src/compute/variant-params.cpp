// Parameter handling shared by all variants: defaults, validation and CLI "name=value" parsing.
#include <cmath>
#include <sstream>

#include "attnscope/variant.h"

namespace attnscope {

namespace {

std::string formatValue(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

const ParamSpec* findSpec(const std::vector<ParamSpec>& specs, const std::string& name) {
    for (const ParamSpec& spec : specs)
        if (spec.name == name) return &spec;
    return nullptr;
}

std::string knownNames(const std::vector<ParamSpec>& specs) {
    if (specs.empty()) return "it has no parameters";
    std::string names = "known: ";
    for (size_t i = 0; i < specs.size(); ++i) names += (i ? ", " : "") + specs[i].name;
    return names;
}

}  // namespace

ParamValues resolveParams(const Variant& variant, const ParamValues& given) {
    const std::vector<ParamSpec> specs = variant.parameters();
    ParamValues resolved;
    for (const ParamSpec& spec : specs) resolved[spec.name] = spec.defaultValue;
    for (const auto& [name, value] : given) {
        const ParamSpec* spec = findSpec(specs, name);
        if (!spec)
            throw ParamError("variant '" + variant.id() + "' has no parameter '" + name + "' (" + knownNames(specs) + ")");
        if (!std::isfinite(value))
            throw ParamError("parameter '" + name + "' of variant '" + variant.id() + "' must be a finite number");
        if (spec->type == ParamType::Integer && value != std::floor(value))
            throw ParamError("parameter '" + name + "' of variant '" + variant.id() + "' must be an integer, got " +
                             formatValue(value));
        if (value < spec->minValue || value > spec->maxValue)
            throw ParamError("parameter '" + name + "' of variant '" + variant.id() + "' must be in [" +
                             formatValue(spec->minValue) + ", " + formatValue(spec->maxValue) + "], got " +
                             formatValue(value));
        resolved[name] = value;
    }
    return resolved;
}

ParamValues parseParamAssignments(const Variant& variant, const std::vector<std::string>& assignments) {
    ParamValues given;
    for (const std::string& text : assignments) {
        const size_t eq = text.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
            throw ParamError("expected name=value for a parameter of variant '" + variant.id() + "', got '" + text + "'");
        const std::string name = text.substr(0, eq);
        const std::string valueText = text.substr(eq + 1);
        size_t used = 0;
        double value = 0.0;
        try {
            value = std::stod(valueText, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != valueText.size())
            throw ParamError("parameter '" + name + "' of variant '" + variant.id() + "': '" + valueText +
                             "' is not a number");
        given[name] = value;
    }
    return resolveParams(variant, given);
}

}  // namespace attnscope
