// `attnscope-cli variants`: the registered variants with their parameters and sources.
#include <iostream>
#include <nlohmann/json.hpp>

#include "attnscope/variant.h"
#include "commands.h"

namespace attnscope::cli {

Command addVariantsCommand(CLI::App& app, const GlobalOptions&) {
    auto json = std::make_shared<bool>(false);
    CLI::App* cmd = app.add_subcommand("variants", "list attention variants, their parameters and sources");
    cmd->add_flag("--json", *json, "machine-readable output");
    return {cmd, [json] {
                nlohmann::json list = nlohmann::json::array();
                for (const auto& v : variantRegistry()) {
                    nlohmann::json params = nlohmann::json::array();
                    for (const ParamSpec& p : v->parameters())
                        params.push_back({{"name", p.name},
                                          {"type", p.type == ParamType::Integer ? "integer" : "real"},
                                          {"default", p.defaultValue},
                                          {"min", p.minValue},
                                          {"max", p.maxValue},
                                          {"description", p.description}});
                    list.push_back({{"id", v->id()},
                                    {"name", v->displayName()},
                                    {"source", v->citation()},
                                    {"budget_parameter", v->budgetParameter()},
                                    {"parameters", params}});
                    if (*json) continue;
                    std::cout << v->id() << " - " << v->displayName() << "\n    source: " << v->citation() << "\n";
                    for (const ParamSpec& p : v->parameters())
                        std::cout << "    " << p.name << " (" << (p.type == ParamType::Integer ? "integer" : "real")
                                  << ", default " << p.defaultValue << ", " << p.minValue << ".." << p.maxValue
                                  << (p.name == v->budgetParameter() ? ", budget" : "") << "): " << p.description << "\n";
                }
                if (*json) std::cout << list.dump(2) << "\n";
                return static_cast<int>(kExitOk);
            }};
}

}  // namespace attnscope::cli
