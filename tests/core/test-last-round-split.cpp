// The last round of a persistent forward launch, split (kernels/src/last-round-split.h, no CUDA in
// it): every CTA's places walked on the CPU as the warp-specialized forward's producer walks them.
// Each item's rows must be computed exactly once (whole, or as two halves on two CTAs), no CTA may
// run more than one place past the full rounds, and the split must fill the GPU once where it can.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

#include "last-round-split.h"

namespace attnscope::cuda {
namespace {

// Every CTA's places, in order.
std::vector<std::vector<ItemPlace>> walk(int items, int ctas, bool splitting = true) {
    const LastRoundSplit split(items, ctas, splitting);
    std::vector<std::vector<ItemPlace>> places(ctas);
    for (int cta = 0; cta < std::min(items, ctas); ++cta) {
        ItemPlace p = LastRoundSplit::first(cta);
        do places[cta].push_back(p);
        while (split.next(p, cta, ctas));
    }
    return places;
}

// How often each (item, half) is computed; fails on places outside the launch.
std::map<std::pair<int, int>, int> coverage(const std::vector<std::vector<ItemPlace>>& places, int items) {
    std::map<std::pair<int, int>, int> seen;
    for (const auto& cta : places)
        for (const ItemPlace& p : cta) {
            EXPECT_GE(p.item, 0);
            EXPECT_LT(p.item, items);
            EXPECT_TRUE(p.half == ItemPlace::kWhole || p.half == 0 || p.half == 1) << p.half;
            ++seen[{p.item, p.half}];
        }
    return seen;
}

void expectEveryRowOnce(int items, int ctas, bool splitting = true) {
    SCOPED_TRACE(std::to_string(items) + " items on " + std::to_string(ctas) + " CTAs");
    const auto seen = coverage(walk(items, ctas, splitting), items);
    for (int item = 0; item < items; ++item) {
        const auto count = [&](int half) {
            const auto it = seen.find({item, half});
            return it == seen.end() ? 0 : it->second;
        };
        const int whole = count(ItemPlace::kWhole), first = count(0), second = count(1);
        EXPECT_TRUE((whole == 1 && first == 0 && second == 0) || (whole == 0 && first == 1 && second == 1))
            << "item " << item << ": whole " << whole << ", halves " << first << " / " << second;
    }
}

TEST(LastRoundSplit, EveryRowOnceForManyShapes) {
    for (int ctas : {1, 2, 3, 5, 7, 132})
        for (int items = 1; items <= 3 * ctas + 7; ++items) {
            expectEveryRowOnce(items, ctas);
            expectEveryRowOnce(items, ctas, false);
        }
    expectEveryRowOnce(2048, 132);  // 8K, 16 head pairs x 128 query blocks
    expectEveryRowOnce(8192, 132);  // 32K
}

TEST(LastRoundSplit, EightKSinkPlusFourFillsTheGpuOnce) {
    // 2048 items on 132 CTAs: 15 full rounds, 68 items left. The first 64 of them are split, the
    // other 4 stay whole: 132 units, one per CTA.
    const LastRoundSplit split(2048, 132);
    EXPECT_EQ(split.lastRoundStart, 1980);
    EXPECT_EQ(split.splitItems, 64);
    EXPECT_EQ(split.units, 132);
    const auto places = walk(2048, 132);
    for (int cta = 0; cta < 132; ++cta) {
        ASSERT_EQ(places[cta].size(), 16u) << "CTA " << cta;
        for (int round = 0; round < 15; ++round)
            EXPECT_EQ(places[cta][round].item, cta + 132 * round);  // the round-robin order, unchanged
        const ItemPlace last = places[cta].back();
        if (cta < 128) {
            EXPECT_EQ(last.item, 1980 + cta / 2);
            EXPECT_EQ(last.half, cta % 2);
        } else {
            EXPECT_EQ(last.item, 1980 + 64 + (cta - 128));
            EXPECT_EQ(last.half, ItemPlace::kWhole);
        }
    }
}

TEST(LastRoundSplit, AtMostOnePlacePastTheFullRounds) {
    for (int ctas : {2, 3, 5, 132})
        for (int items = ctas + 1; items <= 4 * ctas; ++items) {
            const LastRoundSplit split(items, ctas);
            const int rounds = items / ctas;
            for (const auto& cta : walk(items, ctas)) {
                EXPECT_LE(static_cast<int>(cta.size()), rounds + 1);
                int past = 0;
                for (const ItemPlace& p : cta) past += p.item >= split.lastRoundStart ? 1 : 0;
                EXPECT_LE(past, 1);
            }
        }
}

TEST(LastRoundSplit, MoreLeftThanIdleSplitsOnlyWhatFits) {
    // 10 items on 4 CTAs: 2 full rounds, 2 left, 2 idle CTAs: both left items are split.
    LastRoundSplit split(10, 4);
    EXPECT_EQ(split.splitItems, 2);
    EXPECT_EQ(split.units, 4);
    // 11 items on 4 CTAs: 3 left, 1 idle: one item split, two whole.
    split = LastRoundSplit(11, 4);
    EXPECT_EQ(split.splitItems, 1);
    EXPECT_EQ(split.units, 4);
    ItemPlace p{};
    ASSERT_TRUE(split.lastUnit(3, p));
    EXPECT_EQ(p.item, 10);
    EXPECT_EQ(p.half, ItemPlace::kWhole);
}

TEST(LastRoundSplit, NothingSplitWithoutAPartialRound) {
    for (const LastRoundSplit split : {LastRoundSplit(264, 132), LastRoundSplit(100, 132), LastRoundSplit(2048, 132, false)}) {
        EXPECT_EQ(split.splitItems, 0);
        EXPECT_EQ(split.units, 0);
    }
    // One item per CTA (dense launches): each CTA's only place is its own item.
    const auto places = walk(100, 100);
    for (int cta = 0; cta < 100; ++cta) {
        ASSERT_EQ(places[cta].size(), 1u);
        EXPECT_EQ(places[cta][0].item, cta);
        EXPECT_EQ(places[cta][0].half, ItemPlace::kWhole);
    }
}

}  // namespace
}  // namespace attnscope::cuda
