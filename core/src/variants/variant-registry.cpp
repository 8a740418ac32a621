// The list of variants, in the order the CLI and the variant panel show them. Adding a variant:
// write its file, declare its factory below and add it to the list (docs/adding-a-variant.md).
#include <memory>
#include <vector>

#include "attnscope/variant.h"

namespace attnscope {

std::unique_ptr<Variant> makeDenseVariant();
std::unique_ptr<Variant> makeSlidingWindowVariant();
std::unique_ptr<Variant> makeStreamingLlmVariant();
std::unique_ptr<Variant> makeOracleTopKVariant();
std::unique_ptr<Variant> makeMobaVariant();
std::unique_ptr<Variant> makeLinearEluVariant();

const std::vector<std::unique_ptr<Variant>>& variantRegistry() {
    static const std::vector<std::unique_ptr<Variant>> registry = [] {
        std::vector<std::unique_ptr<Variant>> list;
        list.push_back(makeDenseVariant());
        list.push_back(makeSlidingWindowVariant());
        list.push_back(makeStreamingLlmVariant());
        list.push_back(makeOracleTopKVariant());
        list.push_back(makeMobaVariant());
        list.push_back(makeLinearEluVariant());
        return list;
    }();
    return registry;
}

const Variant* findVariant(std::string_view id) {
    for (const auto& v : variantRegistry())
        if (v->id() == id) return v.get();
    return nullptr;
}

}  // namespace attnscope
