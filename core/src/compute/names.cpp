// Display names of the small enums (CLI output, JSON, UI labels).
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

}  // namespace attnscope
