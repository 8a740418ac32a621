// attnscope-bench-load-layer: times CaptureReader::loadLayer over every layer of a capture (the
// whole-model overview's reading), a few passes; the first pass may fill the page cache, later
// ones read from it. CPU only; use attnscope-synthetic-capture for a Llama-shaped file.
// Usage: attnscope-bench-load-layer FILE [passes=3] [fresh|reuse] [threads=0]
//   fresh: LayerTensors loadLayer(l), a new tensor per layer (allocation and first touch included);
//   reuse: loadLayer(l, into, threads) into two LayerTensors used in turn, as the overview does.
#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <string>

#include "attnscope/io/capture-reader.h"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: attnscope-bench-load-layer FILE [passes=3] [fresh|reuse] [threads=0]\n";
        return 2;
    }
    using namespace attnscope;
    const int passes = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
    const bool reuse = argc > 3 && std::string(argv[3]) == "reuse";
    const int threads = argc > 4 ? std::atoi(argv[4]) : 0;
    const CaptureReader reader = CaptureReader::open(argv[1]);
    const CaptureInfo& info = reader.info();
    const size_t elements = (static_cast<size_t>(info.numQueryHeads) * info.headDim +
                             static_cast<size_t>(info.numKvHeads) * (info.headDim + info.valueDim)) *
                            static_cast<size_t>(info.seqLen);
    std::cout << argv[1] << ": " << info.numLayers << " layers, " << info.numQueryHeads << "/" << info.numKvHeads
              << " heads, d=" << info.headDim << ", T=" << info.seqLen << ", " << storageTypeName(info.storage) << ", "
              << elements << " elements per layer, " << (reuse ? "reuse" : "fresh") << ", threads "
              << threads << "\n";
    LayerTensors buffers[2];
    double checksum = 0;
    for (int p = 0; p < passes; ++p) {
        const auto start = std::chrono::steady_clock::now();
        double slowest = 0;
        for (int l = 0; l < info.numLayers; ++l) {
            const auto t0 = std::chrono::steady_clock::now();
            LayerTensors fresh;
            LayerTensors& layer = reuse ? buffers[l % 2] : fresh;
            if (reuse) {
                reader.loadLayer(l, layer, threads);
            } else {
                fresh = reader.loadLayer(l);
            }
            slowest = std::max(slowest, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            checksum += layer.q[layer.q.size() / 2] + layer.v.back();
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::cout << "pass " << p << ": " << std::fixed << std::setprecision(3) << seconds << " s, "
                  << seconds / info.numLayers * 1e3 << " ms per layer (slowest " << slowest * 1e3 << " ms), "
                  << std::setprecision(2) << static_cast<double>(elements) * info.numLayers / seconds / 1e9
                  << " G elements/s\n";
    }
    std::cout << "checksum " << checksum << "\n";
    return 0;
}
