// Reads AttnScope capture files (docs/capture-format.md). open() validates the whole structure
// from metadata alone; loadHead() reads one (layer, query head) slab and its KV head, never the
// whole file. Files are opened read-only. Every defect throws CaptureError.
#pragma once

#include <memory>
#include <string>

#include "attnscope/head-tensors.h"
#include "attnscope/layer-overview.h"
#include "attnscope/io/capture-error.h"
#include "attnscope/io/capture-info.h"

namespace attnscope {

class CaptureReader {
public:
    static CaptureReader open(const std::string& path);
    ~CaptureReader();
    CaptureReader(CaptureReader&&) noexcept;
    CaptureReader& operator=(CaptureReader&&) noexcept;

    const CaptureInfo& info() const;
    // Q of `queryHead`, K and V of its KV head, as fp32, with the layer's attention config.
    // Checks for NaN/Inf and throws NonFiniteValue naming the dataset, head and position.
    HeadTensors loadHead(int layer, int queryHead) const;
    // Every head of one layer (the whole-model overview's unit), read head slab by head slab with the
    // same checks as loadHead (a non-finite value: the first in q, k, v and head order). HDF5 reads on
    // the calling thread while `threads` - 1 helpers widen and check the slabs already read (0: as
    // many as the layer's size and the machine warrant).
    LayerTensors loadLayer(int layer) const;
    // The same into `out`, reusing its vectors' storage: loading layer after layer into the same one or
    // two LayerTensors saves allocating and first-touching every layer's memory again. After an
    // exception, `out` holds no particular values.
    void loadLayer(int layer, LayerTensors& out, int threads = 0) const;
    ReferenceValues loadReference(const std::string& name) const;

private:
    struct Impl;
    explicit CaptureReader(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

}  // namespace attnscope
