// Backend selection by name. The CPU backend is always present; the CUDA backend registers a
// factory at startup (kernels/ is only linked into CUDA builds), so core never names CUDA.
#include <mutex>

#include "attnscope/backend.h"
#include "attnscope/cpu-backend.h"

namespace attnscope {

namespace {

std::mutex& registryMutex() {
    static std::mutex mutex;
    return mutex;
}

std::vector<BackendFactory>& factories() {
    static std::vector<BackendFactory> list;
    return list;
}

const BackendFactory* findFactory(const std::string& name) {
    for (const BackendFactory& f : factories())
        if (f.name == name) return &f;
    return nullptr;
}

}  // namespace

void registerBackendFactory(BackendFactory factory) {
    std::lock_guard lock(registryMutex());
    for (BackendFactory& f : factories()) {
        if (f.name == factory.name) {
            f = std::move(factory);
            return;
        }
    }
    factories().push_back(std::move(factory));
}

std::vector<std::string> compiledBackends() {
    std::lock_guard lock(registryMutex());
    std::vector<std::string> names{"cpu"};
    for (const BackendFactory& f : factories()) names.push_back(f.name);
    return names;
}

std::unique_ptr<Backend> createBackend(const std::string& name) {
    if (name == "cpu") return std::make_unique<CpuBackend>();
    std::lock_guard lock(registryMutex());
    if (name == "auto") {
        for (const BackendFactory& f : factories())
            if (f.probe().empty()) return f.create();
        return std::make_unique<CpuBackend>();
    }
    const BackendFactory* factory = findFactory(name);
    if (!factory) {
        if (name == "cuda")
            throw BackendError("the CUDA backend is not available: this build of AttnScope was made without CUDA "
                               "(nvcc was not found at configure time)");
        throw BackendError("unknown backend '" + name + "' (expected cpu, cuda or auto)");
    }
    const std::string reason = factory->probe();
    if (!reason.empty()) throw BackendError("the " + name + " backend cannot be used: " + reason);
    return factory->create();
}

}  // namespace attnscope
