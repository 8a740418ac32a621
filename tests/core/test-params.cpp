// Parameter declarations, defaults, validation and CLI parsing; registry contents and citations.
#include <gtest/gtest.h>

#include "attnscope/backend.h"
#include "attnscope/variant.h"

namespace attnscope {
namespace {

TEST(Params, DefaultsAndOverrides) {
    const Variant& v = *findVariant("streaming-llm");
    const ParamValues p = resolveParams(v, {{"window", 64}});
    EXPECT_EQ(p.at("sinks"), 4);
    EXPECT_EQ(p.at("window"), 64);
    EXPECT_EQ(parseParamAssignments(v, {"sinks=2", "window=10"}).at("sinks"), 2);
}

TEST(Params, ErrorsNameTheProblem) {
    const Variant& v = *findVariant("window");
    auto message = [&](const std::vector<std::string>& args) {
        try {
            parseParamAssignments(v, args);
        } catch (const ParamError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message({"size=3"}).find("has no parameter 'size'"), std::string::npos);
    EXPECT_NE(message({"size=3"}).find("known: window"), std::string::npos);
    EXPECT_NE(message({"window=2.5"}).find("must be an integer"), std::string::npos);
    EXPECT_NE(message({"window=0"}).find("must be in [1,"), std::string::npos);
    EXPECT_NE(message({"window=abc"}).find("is not a number"), std::string::npos);
    EXPECT_NE(message({"window"}).find("expected name=value"), std::string::npos);
}

TEST(Registry, EveryVariantIsDeclaredCompletely) {
    const std::vector<std::string> expected = {"dense", "window", "streaming-llm", "topk", "moba", "linear-elu"};
    ASSERT_EQ(variantRegistry().size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        const Variant& v = *variantRegistry()[i];
        EXPECT_EQ(v.id(), expected[i]);
        EXPECT_FALSE(v.displayName().empty());
        EXPECT_NE(v.citation().find("arXiv:"), std::string::npos) << v.id();
        for (const ParamSpec& p : v.parameters()) {
            EXPECT_LE(p.minValue, p.defaultValue) << v.id() << "." << p.name;
            EXPECT_LE(p.defaultValue, p.maxValue) << v.id() << "." << p.name;
            EXPECT_FALSE(p.description.empty());
        }
        if (!v.budgetParameter().empty()) {
            bool declared = false;
            for (const ParamSpec& p : v.parameters()) declared |= p.name == v.budgetParameter();
            EXPECT_TRUE(declared) << v.id();
        }
    }
    EXPECT_EQ(findVariant("nope"), nullptr);
}

TEST(Backends, CpuAlwaysAvailableAndUnknownNamesRejected) {
    EXPECT_NE(createBackend("cpu")->name().find("CPU"), std::string::npos);
    EXPECT_NE(createBackend("auto"), nullptr);
    try {
        createBackend("tpu");
        FAIL() << "expected BackendError";
    } catch (const BackendError& e) {
        EXPECT_NE(std::string(e.what()).find("unknown backend 'tpu'"), std::string::npos);
    }
}

}  // namespace
}  // namespace attnscope
