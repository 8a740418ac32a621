// LRU cache of computed map tiles keyed by everything that changes their pixels: head, quantity,
// pooling, variant parameters and the tile's place in the quadtree (which fixes rect and size).
// Bounded by a byte budget; touching an entry makes it most recent. UI thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "attnscope/pooled-tile.h"
#include "map-viewport.h"

namespace attnscope::views {

struct TileKey {
    int layer = 0;
    int head = 0;
    TileQuantity quantity = TileQuantity::DenseWeight;
    Pooling pooling = Pooling::Mean;
    uint64_t variantHash = 0;  // 0 for dense weights (no variant involved)
    TileCoord tile;
    bool operator==(const TileKey&) const = default;
};

struct TileKeyHash {
    size_t operator()(const TileKey& key) const;
};

// Stable hash of a variant id and its parameter values (order-independent: params are a std::map).
uint64_t variantParamsHash(const std::string& variantId, const std::map<std::string, double>& params);

struct CachedTile {
    PooledTile tile;
    float maxFinite = 0.0f;  // largest finite value (signed maps: largest magnitude)
    size_t bytes() const { return tile.values.size() * sizeof(float) + 64; }
};

class TileCache {
public:
    explicit TileCache(size_t budgetBytes = 256u << 20) : m_budget(budgetBytes) {}

    std::shared_ptr<const CachedTile> find(const TileKey& key);  // touches the entry
    bool contains(const TileKey& key) const { return m_index.count(key) != 0; }
    void insert(const TileKey& key, std::shared_ptr<const CachedTile> tile);
    void clear();

    size_t size() const { return m_entries.size(); }
    size_t bytes() const { return m_bytes; }
    size_t budget() const { return m_budget; }
    size_t hits() const { return m_hits; }
    size_t misses() const { return m_misses; }

private:
    struct Entry {
        TileKey key;
        std::shared_ptr<const CachedTile> tile;
    };
    std::list<Entry> m_entries;  // front = most recent
    std::unordered_map<TileKey, std::list<Entry>::iterator, TileKeyHash> m_index;
    size_t m_budget;
    size_t m_bytes = 0;
    size_t m_hits = 0, m_misses = 0;
};

}  // namespace attnscope::views
