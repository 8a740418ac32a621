// Display names of the small enums (CLI output, JSON, UI labels) and tile-request validation.
#include <stdexcept>
#include <string>

#include "attnscope/pooled-tile.h"
#include "attnscope/sparse-mask.h"

namespace attnscope {

const char* poolingName(Pooling pooling) { return pooling == Pooling::Mean ? "mean" : "max"; }

const char* tileQuantityName(TileQuantity quantity) {
    switch (quantity) {
        case TileQuantity::DenseWeight: return "dense";
        case TileQuantity::VariantWeight: return "variant";
        case TileQuantity::KeptFraction: return "mask";
        case TileQuantity::Difference: return "difference";
        case TileQuantity::DroppedMass: return "dropped";
    }
    return "unknown";
}

const char* weightKindName(WeightKind kind) {
    switch (kind) {
        case WeightKind::SoftmaxInMask: return "softmax-in-mask";
        case WeightKind::LinearEluPlusOne: return "linear-elu+1";
    }
    return "unknown";
}

void validateTileRequest(const TileRequest& r, int seqLen) {
    auto fail = [&](const std::string& what) { throw std::invalid_argument("tile request: " + what); };
    if (r.queryBegin < 0 || r.queryEnd > seqLen || r.queryBegin >= r.queryEnd)
        fail("query range [" + std::to_string(r.queryBegin) + ", " + std::to_string(r.queryEnd) +
             ") must be non-empty inside [0, " + std::to_string(seqLen) + ")");
    if (r.keyBegin < 0 || r.keyEnd > seqLen || r.keyBegin >= r.keyEnd)
        fail("key range [" + std::to_string(r.keyBegin) + ", " + std::to_string(r.keyEnd) +
             ") must be non-empty inside [0, " + std::to_string(seqLen) + ")");
    if (r.width < 1 || r.height < 1 || r.width > kMaxTileSide || r.height > kMaxTileSide)
        fail("size " + std::to_string(r.width) + "x" + std::to_string(r.height) + " must be within 1.." +
             std::to_string(kMaxTileSide));
}

}  // namespace attnscope
