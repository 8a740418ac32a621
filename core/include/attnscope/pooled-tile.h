// A pooled image of a rectangle of the attention map: what the map view and `render` draw.
// Pixel (x, y) covers query rows [r0, r1) and keys [c0, c1) with
//   r0 = queryBegin + floor(y * H / height), r1 = max(queryBegin + floor((y+1) * H / height), r0 + 1)
// (H = queryEnd - queryBegin; keys likewise), so zoomed-out pixels pool many cells and zoomed-in
// pixels repeat one cell. Pooling runs over the visible cells of the pixel only.
#pragma once

#include <cstddef>
#include <vector>

namespace attnscope {

enum class Pooling { Mean, Max };

// What each cell contributes before pooling.
enum class TileQuantity {
    DenseWeight,    // dense softmax probability
    VariantWeight,  // the variant's implied weight (0 outside its mask)
    KeptFraction,   // 1 if the variant keeps the cell, else 0 (mean pooling gives the kept fraction)
    Difference,     // variant weight - dense weight (signed)
    DroppedMass     // dense weight of cells the variant drops, 0 for kept cells
};

const char* poolingName(Pooling pooling);
const char* tileQuantityName(TileQuantity quantity);

struct TileRequest {
    int queryBegin = 0;
    int queryEnd = 0;
    int keyBegin = 0;
    int keyEnd = 0;
    int width = 256;
    int height = 256;
    Pooling pooling = Pooling::Mean;
    TileQuantity quantity = TileQuantity::DenseWeight;
};

// Largest tile side a backend accepts.
constexpr int kMaxTileSide = 16384;

// Throws std::invalid_argument naming the problem when the request's ranges are empty or outside
// [0, seqLen), or its size is outside 1..kMaxTileSide. Every backend validates with this.
void validateTileRequest(const TileRequest& request, int seqLen);

struct PooledTile {
    int width = 0;
    int height = 0;
    std::vector<float> values;  // [height, width]; NaN where the pixel covers no visible cell
    float at(int x, int y) const { return values[static_cast<size_t>(y) * width + x]; }
};

// Cell range [begin, end) covered by pixel p of `pixels` over a span [spanBegin, spanEnd).
struct PixelSpan {
    int begin;
    int end;
};
inline PixelSpan pixelSpan(int spanBegin, int spanEnd, int pixels, int p) {
    const long long n = spanEnd - spanBegin;
    int b = spanBegin + static_cast<int>(p * n / pixels);
    int e = spanBegin + static_cast<int>((p + 1) * n / pixels);
    if (e <= b) e = b + 1;
    return {b, e};
}

}  // namespace attnscope
