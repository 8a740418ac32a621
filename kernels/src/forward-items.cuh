// The work items of the Hopper forward kernels (forward-wgmma.cu, forward-wgmma-specialized.cu)
// and the stream of key blocks a CTA visits through its items. An item is one CTA's worth of query
// rows: two 64-row query tiles, one per computing warpgroup.
#pragma once

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
// at 8K). An item whose union of lists is empty yields one block used by neither warpgroup, so
// that its rows are still written (O = 0, LSE = -inf).
struct ItemBlockStream {
    int item;  // the current item's number
    int x, y;  // ... as its place in its head group and the head group
    int stepX = 0, stepY = 0;  // gridDim.x items as (x, y) steps, heads first
    bool headPairs;
    bool fresh;      // no block of the current item yielded yet
    float invGroup;  // 1 / query heads per K/V head
    size_t kvRows;       // first row of the item's K/V head
    ListOffsets ahead;   // the list offsets of the CTA's next item (block-sparse), loaded at this one's open
    PairBlocks blocks;

    __device__ __forceinline__ void start(const HeadView& h, const ForwardArgs& a, const ForwardItems& items,
                                          bool persistent) {
        headPairs = forwardPairsHeads(h);
        invGroup = 1.0f / static_cast<float>(h.qHeads / h.kvHeads);
        item = static_cast<int>(blockIdx.x);
        if (persistent) {
            x = item / items.groups;
            y = item - x * items.groups;
            stepX = static_cast<int>(gridDim.x) / items.groups;
            stepY = static_cast<int>(gridDim.x) - stepX * items.groups;
        } else {
            y = item / items.itemsPerGroup;
            x = item - y * items.itemsPerGroup;
        }
        if (a.blockOffsets) ahead = itemOffsets(h, a);
        open(h, a, items);
    }

    // The current item's first query block.
    __device__ __forceinline__ int firstQueryBlock(const HeadView& h) const {
        const int nb = h.rowsPadded / kTile;
        return headPairs ? nb - 1 - x : 2 * ((nb + 1) / 2 - 1 - x);
    }

    __device__ __forceinline__ WarpgroupRows rows(const HeadView& h, int wg) const {
        const int qb = firstQueryBlock(h);
        return headPairs ? WarpgroupRows{qb, 2 * y + wg} : WarpgroupRows{qb + wg, y};
    }

    __device__ __forceinline__ bool hasSecond(const HeadView& h, int qb) const {
        return !headPairs && qb + 1 < h.rowsPadded / kTile;
    }

    __device__ __forceinline__ ListOffsets itemOffsets(const HeadView& h, const ForwardArgs& a) const {
        const int qb = firstQueryBlock(h);
        return listOffsets(a, qb, hasSecond(h, qb));
    }

    // Moves (x, y) on by gridDim.x items (persistent launches only), without a division.
    __device__ __forceinline__ void step(const ForwardItems& items) {
        x += stepX;
        y += stepY;
        if (y >= items.groups) {
            y -= items.groups;
            ++x;
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
            if (item + static_cast<int>(gridDim.x) < items.count()) {
                const int saveX = x, saveY = y;
                step(items);
                ahead = itemOffsets(h, a);
                x = saveX;
                y = saveY;
            }
        } else {
            const int qb = firstQueryBlock(h);
            blocks = pairBlocks(h, a, qb, hasSecond(h, qb));
        }
        fresh = true;
    }

    // The next key block kb, the warpgroups using it (bit per warpgroup) and whether it is the
    // first block of a new item (rows() then gives its rows).
    __device__ __forceinline__ bool next(const HeadView& h, const ForwardArgs& a, const ForwardItems& items, int& kb,
                                         unsigned& halves, bool& first) {
        for (;;) {
            if (blocks.next(kb, halves)) {
                if (headPairs) halves = 3u;  // both warpgroups use the one list
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
            item += static_cast<int>(gridDim.x);
            if (item >= items.count()) return false;
            step(items);  // only persistent launches get here: a one-item CTA ends above
            open(h, a, items);
        }
    }
};

}  // namespace attnscope::cuda
