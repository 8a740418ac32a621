// Tile cache: keys, LRU order, byte budget, variant parameter hashing.
#include <gtest/gtest.h>

#include "tile-cache.h"

using namespace attnscope;
using namespace attnscope::views;

namespace {
std::shared_ptr<const CachedTile> tileOf(int texels, float value) {
    auto t = std::make_shared<CachedTile>();
    t->tile.width = texels;
    t->tile.height = 1;
    t->tile.values.assign(texels, value);
    t->maxFinite = value;
    return t;
}
TileKey keyAt(int tx, TileQuantity q = TileQuantity::DenseWeight) {
    TileKey k;
    k.layer = 1;
    k.head = 2;
    k.quantity = q;
    k.tile = {0, tx, 0};
    return k;
}
}  // namespace

TEST(TileCache, FindsWhatWasInsertedByFullKey) {
    TileCache cache;
    cache.insert(keyAt(3), tileOf(4, 0.5f));
    ASSERT_TRUE(cache.find(keyAt(3)));
    EXPECT_FLOAT_EQ(cache.find(keyAt(3))->maxFinite, 0.5f);
    EXPECT_FALSE(cache.find(keyAt(4)));
    EXPECT_FALSE(cache.find(keyAt(3, TileQuantity::Difference)));
    TileKey otherPooling = keyAt(3);
    otherPooling.pooling = Pooling::Max;
    EXPECT_FALSE(cache.find(otherPooling));
    TileKey otherVariant = keyAt(3);
    otherVariant.variantHash = 77;
    EXPECT_FALSE(cache.contains(otherVariant));
    EXPECT_EQ(cache.hits(), 2u);
    EXPECT_EQ(cache.misses(), 3u);
}

TEST(TileCache, EvictsLeastRecentlyUsedBeyondBudget) {
    const size_t oneTile = tileOf(1000, 0)->bytes();
    TileCache cache(3 * oneTile);
    cache.insert(keyAt(0), tileOf(1000, 0));
    cache.insert(keyAt(1), tileOf(1000, 1));
    cache.insert(keyAt(2), tileOf(1000, 2));
    ASSERT_TRUE(cache.find(keyAt(0)));  // 0 becomes most recent; 1 is now the oldest
    cache.insert(keyAt(3), tileOf(1000, 3));
    EXPECT_EQ(cache.size(), 3u);
    EXPECT_TRUE(cache.contains(keyAt(0)));
    EXPECT_FALSE(cache.contains(keyAt(1)));
    EXPECT_TRUE(cache.contains(keyAt(2)));
    EXPECT_TRUE(cache.contains(keyAt(3)));
    EXPECT_LE(cache.bytes(), cache.budget());
}

TEST(TileCache, ReinsertReplacesWithoutDoubleCounting) {
    TileCache cache;
    cache.insert(keyAt(0), tileOf(10, 1));
    const size_t bytes = cache.bytes();
    cache.insert(keyAt(0), tileOf(10, 2));
    EXPECT_EQ(cache.bytes(), bytes);
    EXPECT_EQ(cache.size(), 1u);
    EXPECT_FLOAT_EQ(cache.find(keyAt(0))->maxFinite, 2.0f);
    cache.clear();
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_EQ(cache.bytes(), 0u);
}

TEST(TileCache, VariantHashDependsOnIdAndEveryParameter) {
    const uint64_t a = variantParamsHash("streaming-llm", {{"sinks", 4}, {"window", 64}});
    EXPECT_EQ(a, variantParamsHash("streaming-llm", {{"window", 64}, {"sinks", 4}}));
    EXPECT_NE(a, variantParamsHash("streaming-llm", {{"sinks", 4}, {"window", 65}}));
    EXPECT_NE(a, variantParamsHash("window", {{"sinks", 4}, {"window", 64}}));
    EXPECT_NE(a, 0u);
}
