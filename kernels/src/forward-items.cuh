// The work items of the Hopper forward kernels (forward-wgmma.cu, forward-wgmma-specialized.cu)
// and the stream of key blocks a CTA visits through its items. An item is one CTA's worth of query
// rows: two 64-row query tiles, one per computing warpgroup.
#pragma once

#include "last-round-split.h"
#include "pair-blocks.cuh"

namespace attnscope::cuda {

// Whether a CTA takes two query heads of one K/V head (GQA groups of even size: their key block
// lists are the same, so neither warpgroup computes blocks only the other uses) rather than two
// query blocks of one head.
__host__ __device__ inline bool forwardPairsHeads(const HeadView& h) { return (h.qHeads / h.kvHeads) % 2 == 0; }

// The 64 query rows a warpgroup owns in an item: query block qb (== the number of query blocks
// when the item has no second block for it) of query head `head`.
struct WarpgroupRows {
    int qb;
    int head;
};

// Work items: one CTA's worth of query rows. Item x of head group y: query block nb - 1 - x of
// query heads 2y and 2y + 1 (head pairs), or query blocks 2 (pairs - 1 - x) and the one after of
// head y (block pairs): a head's longest causal rows come first. One-item launches number them
// x + y * itemsPerGroup, persistent ones y + x * groups (ItemBlockStream).
struct ForwardItems {
    int itemsPerGroup;
    int groups;
    __host__ __device__ explicit ForwardItems(const HeadView& h)
        : itemsPerGroup(forwardPairsHeads(h) ? h.rowsPadded / kTile : (h.rowsPadded / kTile + 1) / 2),
          groups(forwardPairsHeads(h) ? h.qHeads / 2 : h.qHeads) {}
    __host__ __device__ int count() const { return itemsPerGroup * groups; }
};

// The key blocks of a CTA's items blockIdx.x, blockIdx.x + gridDim.x, ... one after the other, so
// that the K/V pipeline runs on across items. Persistent launches take the items heads first (item
// i is place i / groups of head group i % groups): every group's longest rows first and the
// shortest last, which balances CTAs whose items differ in length (dense lists: 2.98 -> 2.03 ms
// at 8K). With kSplitLastRound their last, partial round is split (last-round-split.h): a CTA may
// end with one warpgroup's rows of an item, whose key blocks then go to the two consumers in turns,
// and the stream is the plain round-robin one without it. An item
// whose union of lists is empty yields one block used by neither warpgroup, so that its rows are
// still written (O = 0, LSE = -inf).
template <bool kSplitLastRound = false>
struct ItemBlockStream {
    ItemPlace place;  // the current item (persistent numbering for persistent launches) and its rows
    int x, y;  // ... as its place in its head group and the head group
    int stepX = 0, stepY = 0;  // gridDim.x items as (x, y) steps, heads first
    int turn;        // split units: list entries taken so far (they alternate between the consumers)
    bool headPairs;
    bool fresh;      // no block of the current item yielded yet
    float invGroup;  // 1 / query heads per K/V head
    size_t kvRows;       // first row of the item's K/V head
    ListOffsets ahead;   // the list offsets of the CTA's next item (block-sparse), loaded at this one's open
    LastRoundSplit split;  // the launch's last round (kSplitLastRound only)
    PairBlocks blocks;

    __device__ __forceinline__ void start(const HeadView& h, const ForwardArgs& a, const ForwardItems& items,
                                          bool persistent) {
        headPairs = forwardPairsHeads(h);
        invGroup = 1.0f / static_cast<float>(h.qHeads / h.kvHeads);
        place = LastRoundSplit::first(static_cast<int>(blockIdx.x));
        if constexpr (kSplitLastRound) split = LastRoundSplit(items.count(), static_cast<int>(gridDim.x), persistent);
        if (persistent) {
            x = place.item / items.groups;
            y = place.item - x * items.groups;
            stepX = static_cast<int>(gridDim.x) / items.groups;
            stepY = static_cast<int>(gridDim.x) - stepX * items.groups;
        } else {
            y = place.item / items.itemsPerGroup;
            x = place.item - y * items.itemsPerGroup;
        }
        if (a.blockOffsets) ahead = itemOffsets(h, a, x);
        open(h, a, items);
    }

    // The first query block of the item at place x of its head group.
    __device__ __forceinline__ int firstQueryBlock(const HeadView& h, int atX) const {
        const int nb = h.rowsPadded / kTile;
        return headPairs ? nb - 1 - atX : 2 * ((nb + 1) / 2 - 1 - atX);
    }
    __device__ __forceinline__ int firstQueryBlock(const HeadView& h) const { return firstQueryBlock(h, x); }

    // The rows of the current item's warpgroup wg.
    __device__ __forceinline__ WarpgroupRows rows(const HeadView& h, int wg) const {
        const int qb = firstQueryBlock(h);
        return headPairs ? WarpgroupRows{qb, 2 * y + wg} : WarpgroupRows{qb + wg, y};
    }

    // The rows consumer c computes: its warpgroup's, or in a split unit the unit's for both.
    __device__ __forceinline__ WarpgroupRows unitRows(const HeadView& h, int c) const {
        if constexpr (!kSplitLastRound) return rows(h, c);
        return rows(h, place.half == ItemPlace::kWhole ? c : place.half);
    }

    __device__ __forceinline__ bool hasSecond(const HeadView& h, int qb) const {
        return !headPairs && qb + 1 < h.rowsPadded / kTile;
    }

    __device__ __forceinline__ ListOffsets itemOffsets(const HeadView& h, const ForwardArgs& a, int atX) const {
        const int qb = firstQueryBlock(h, atX);
        return listOffsets(a, qb, hasSecond(h, qb));
    }

    // The CTA's place after p (persistent launches); false when p is its last.
    __device__ __forceinline__ bool nextPlace(ItemPlace& p, const ForwardItems& items) const {
        if constexpr (kSplitLastRound) return split.next(p, static_cast<int>(blockIdx.x), static_cast<int>(gridDim.x));
        p.item += static_cast<int>(gridDim.x);
        return p.item < items.count();
    }

    // (x, y) of the CTA's place p (persistent launches): gridDim.x items on from the current one
    // without a division, the last round's unit with one.
    __device__ __forceinline__ void coordinates(const ItemPlace& p, const ForwardItems& items, int& px, int& py) const {
        if (!kSplitLastRound || p.item == place.item + static_cast<int>(gridDim.x)) {
            px = x + stepX;
            py = y + stepY;
            if (py >= items.groups) {
                py -= items.groups;
                ++px;
            }
        } else {
            px = p.item / items.groups;
            py = p.item - px * items.groups;
        }
    }

    __device__ __forceinline__ void open(const HeadView& h, const ForwardArgs& a, const ForwardItems& items) {
        // (head + 0.5) / group lies at least 0.5 / group from an integer, far more than the few
        // ulp the float product can be off for any realistic head count: no integer division.
        const int kvHead = __float2int_rz((static_cast<float>(rows(h, 0).head) + 0.5f) * invGroup);
        kvRows = static_cast<size_t>(kvHead) * h.rowsPadded;
        if (a.blockOffsets) {
            blocks = listBlocks(a, ahead);
            // The next item's offsets, for its open: loaded a whole item before they are used.
            ItemPlace after = place;
            if (nextPlace(after, items)) {
                int afterX, afterY;
                coordinates(after, items, afterX, afterY);
                ahead = itemOffsets(h, a, afterX);
            }
        } else {
            const int qb = firstQueryBlock(h);
            blocks = pairBlocks(h, a, qb, hasSecond(h, qb));
        }
        fresh = true;
        turn = 0;
    }

    // The next key block kb, the warpgroups using it (bit per warpgroup; in a split unit the one
    // consumer that takes it) and whether it is the first block of a new item (rows() then gives
    // its rows).
    __device__ __forceinline__ bool next(const HeadView& h, const ForwardArgs& a, const ForwardItems& items, int& kb,
                                         unsigned& halves, bool& first) {
        for (;;) {
            if (blocks.next(kb, halves)) {
                if (headPairs) halves = 3u;  // both warpgroups use the one list
                if (kSplitLastRound && place.half != ItemPlace::kWhole) {
                    if (((halves >> place.half) & 1u) == 0) continue;  // the other warpgroup's block
                    halves = 1u << (turn & 1);
                    ++turn;
                }
                first = fresh;
                fresh = false;
                return true;
            }
            if (fresh) {
                kb = 0;
                halves = 0;
                first = true;
                fresh = false;
                return true;
            }
            // Only persistent launches go on: a one-item CTA's split has no next place.
            ItemPlace after = place;
            if (!nextPlace(after, items)) return false;
            coordinates(after, items, x, y);
            place = after;
            open(h, a, items);
        }
    }
};

}  // namespace attnscope::cuda
