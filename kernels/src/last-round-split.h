// The last round of a persistent forward launch, split so that it fills the GPU once.
//
// A persistent launch runs N items on G CTAs: CTA c takes items c, c + G, c + 2G, ... (items are
// numbered longest first). After R = N / G full rounds, N - R G items are left: that many CTAs run
// one item more while the other G - (N - R G) wait for them. At 8K sink + 4 (2048 items, 132 CTAs)
// that is 68 busy CTAs and 64 idle ones for the length of a whole item.
//
// Here the longest min(N - R G, G - (N - R G)) items of that round become two units each: the
// 64 rows of one of the item's warpgroups, on a CTA of its own, whose two consumers share the
// rows' key blocks (forward-wgmma-specialized.cu). The round's other items stay whole. Units go to
// CTAs in order: CTAs 0 and 1 take the halves of the round's first item, and so on, then the
// whole items; CTAs past the last unit have no last round.
//
// No CUDA in here: the CPU tests (tests/core/test-last-round-split.cpp) walk every CTA's places
// and check that each row of every item is computed exactly once.
#pragma once

#include <algorithm>

#if defined(__CUDACC__)
#define ATTNSCOPE_HOST_DEVICE __host__ __device__
#else
#define ATTNSCOPE_HOST_DEVICE
#endif

namespace attnscope::cuda {

// One unit of a CTA's work: an item (persistent numbering) and which rows of it.
struct ItemPlace {
    static constexpr int kWhole = -1;
    int item;
    int half;  // kWhole: both warpgroups' rows; 0 or 1: only that warpgroup's rows (a split unit)
};

struct LastRoundSplit {
    int lastRoundStart = 0;  // the first item past the full rounds (N when no round is split)
    int splitItems = 0;      // items of the last round computed as two units
    int units = 0;           // units of the last round: 2 splitItems halves, then the rest whole

    LastRoundSplit() = default;
    // splitting = false: the last round's items stay whole, each on the CTA of the round-robin order.
    ATTNSCOPE_HOST_DEVICE LastRoundSplit(int items, int ctas, bool splitting = true) {
        const int rounds = items / ctas;
        const int left = items - rounds * ctas;
        if (!splitting || rounds == 0 || left == 0) {  // one item per CTA, or full rounds only: nothing to split
            lastRoundStart = items;
            splitItems = 0;
            units = 0;
        } else {
            lastRoundStart = rounds * ctas;
            splitItems = std::min(left, ctas - left);
            units = left + splitItems;
        }
    }

    // CTA cta's unit of the last round; false if it has none.
    ATTNSCOPE_HOST_DEVICE bool lastUnit(int cta, ItemPlace& p) const {
        if (cta >= units) return false;
        if (cta < 2 * splitItems) {
            p.item = lastRoundStart + cta / 2;
            p.half = cta & 1;
        } else {
            p.item = lastRoundStart + cta - splitItems;
            p.half = ItemPlace::kWhole;
        }
        return true;
    }

    // CTA cta's first place (ctas <= items for every launch that gets here).
    ATTNSCOPE_HOST_DEVICE static ItemPlace first(int cta) { return ItemPlace{cta, ItemPlace::kWhole}; }

    // Moves p to the CTA's next place: the next full round's item, or the CTA's unit of the last
    // round; false when p was the CTA's last.
    ATTNSCOPE_HOST_DEVICE bool next(ItemPlace& p, int cta, int ctas) const {
        if (p.item >= lastRoundStart) return false;  // the last round's unit ends the CTA
        p.item += ctas;
        return p.item < lastRoundStart || lastUnit(cta, p);
    }
};

}  // namespace attnscope::cuda
