// LRU tile cache: a list in recency order plus a hash index into it.
#include "tile-cache.h"

#include <cmath>
#include <cstring>

namespace attnscope::views {

namespace {
uint64_t mix(uint64_t h, uint64_t v) {
    // FNV-1a over the 8 bytes of v: deterministic across runs, unlike std::hash of strings.
    for (int i = 0; i < 8; ++i) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 1099511628211ull;
    }
    return h;
}
}  // namespace

size_t TileKeyHash::operator()(const TileKey& k) const {
    uint64_t h = 1469598103934665603ull;
    h = mix(h, static_cast<uint64_t>(k.layer));
    h = mix(h, static_cast<uint64_t>(k.head));
    h = mix(h, static_cast<uint64_t>(k.quantity));
    h = mix(h, static_cast<uint64_t>(k.pooling));
    h = mix(h, k.variantHash);
    h = mix(h, static_cast<uint64_t>(k.tile.level));
    h = mix(h, static_cast<uint64_t>(static_cast<uint32_t>(k.tile.tx)));
    h = mix(h, static_cast<uint64_t>(static_cast<uint32_t>(k.tile.ty)));
    return static_cast<size_t>(h);
}

uint64_t variantParamsHash(const std::string& variantId, const std::map<std::string, double>& params) {
    uint64_t h = 1469598103934665603ull;
    for (char c : variantId) h = mix(h, static_cast<unsigned char>(c));
    for (const auto& [name, value] : params) {
        for (char c : name) h = mix(h, static_cast<unsigned char>(c));
        uint64_t bits = 0;
        std::memcpy(&bits, &value, sizeof bits);
        h = mix(h, bits);
    }
    return h == 0 ? 1 : h;  // 0 means "no variant"
}

std::shared_ptr<const CachedTile> TileCache::find(const TileKey& key) {
    auto it = m_index.find(key);
    if (it == m_index.end()) {
        ++m_misses;
        return nullptr;
    }
    ++m_hits;
    m_entries.splice(m_entries.begin(), m_entries, it->second);
    return it->second->tile;
}

void TileCache::insert(const TileKey& key, std::shared_ptr<const CachedTile> tile) {
    if (auto it = m_index.find(key); it != m_index.end()) {
        m_bytes -= it->second->tile->bytes();
        m_entries.erase(it->second);
        m_index.erase(it);
    }
    m_bytes += tile->bytes();
    m_entries.push_front({key, std::move(tile)});
    m_index[key] = m_entries.begin();
    // Evict least recent entries, but never the one just inserted.
    while (m_bytes > m_budget && m_entries.size() > 1) {
        m_bytes -= m_entries.back().tile->bytes();
        m_index.erase(m_entries.back().key);
        m_entries.pop_back();
    }
}

void TileCache::clear() {
    m_entries.clear();
    m_index.clear();
    m_bytes = 0;
}

}  // namespace attnscope::views
