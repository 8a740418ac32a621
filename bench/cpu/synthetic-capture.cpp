// attnscope-synthetic-capture: writes a capture of seeded random Q/K/V (model attribute says
// "synthetic-random"), for benchmarks and memory measurements only — never presented as real.
// Usage: attnscope-synthetic-capture OUT.h5 T [d=128] [layers=1] [q_heads=1] [kv_heads=1] [dtype=float16]
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include "attnscope/io/capture-writer.h"

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: attnscope-synthetic-capture OUT.h5 T [d=128] [layers=1] [q_heads=1] [kv_heads=1] "
                     "[dtype=float16|bfloat16|float32]\n";
        return 2;
    }
    using namespace attnscope;
    const int T = std::atoi(argv[2]);
    const int d = argc > 3 ? std::atoi(argv[3]) : 128;
    const int layers = argc > 4 ? std::atoi(argv[4]) : 1;
    const int hq = argc > 5 ? std::atoi(argv[5]) : 1;
    const int hkv = argc > 6 ? std::atoi(argv[6]) : 1;
    const std::string dtype = argc > 7 ? argv[7] : "float16";
    if (T <= 0 || d <= 0 || layers <= 0 || hq <= 0 || hkv <= 0 || hq % hkv != 0) {
        std::cerr << "error: T, d, layers and heads must be positive and q_heads a multiple of kv_heads\n";
        return 2;
    }
    CaptureInfo info;
    info.model = "synthetic-random (seeded N(0,1.5) values, not a trained model)";
    info.modelType = "synthetic";
    info.source = "attnscope-synthetic-capture";
    info.causal = true;
    info.softmaxScale = 1.0 / std::sqrt(static_cast<double>(d));
    info.numLayers = layers;
    info.numQueryHeads = hq;
    info.numKvHeads = hkv;
    info.headDim = d;
    info.valueDim = d;
    info.seqLen = T;
    info.storage = dtype == "float32" ? StorageType::Float32 : dtype == "bfloat16" ? StorageType::BFloat16 : StorageType::Float16;
    for (int t = 0; t < T; ++t) {
        info.tokens.ids.push_back(t);
        info.tokens.text.push_back("t" + std::to_string(t));
        info.tokens.special.push_back(0);
    }
    std::mt19937 rng(12345);
    std::normal_distribution<float> normal(0.0f, 1.5f);
    std::vector<LayerTensors> tensors(layers);
    for (LayerTensors& l : tensors) {
        for (auto [v, heads] : {std::pair{&l.q, hq}, std::pair{&l.k, hkv}, std::pair{&l.v, hkv}}) {
            v->resize(static_cast<size_t>(heads) * T * d);
            for (float& x : *v) x = normal(rng);
        }
    }
    CaptureWriteOptions options;
    options.deflate = false;
    writeCapture(argv[1], info, tensors, {}, options);
    std::cout << "wrote " << argv[1] << " (synthetic, T=" << T << ", d=" << d << ", " << layers << " layers, " << hq
              << "/" << hkv << " heads, " << dtype << ")\n";
    return 0;
}
