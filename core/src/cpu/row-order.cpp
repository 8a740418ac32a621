// Radix sort of a row's keys; see row-order.h.
#include "cpu/row-order.h"

#include <cstring>

namespace attnscope::cpu {

namespace {

// Unsigned key whose ascending order is the logits' descending order: the usual order-preserving map
// of IEEE floats (flip all bits of negatives, the sign bit of the rest), then inverted.
uint32_t descendingKey(float logit) {
    if (logit == 0.0f) logit = 0.0f;  // -0 ties with +0
    uint32_t bits;
    std::memcpy(&bits, &logit, sizeof bits);
    bits = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
    return ~bits;
}

}  // namespace

void RowOrder::sort(const float* logits, int n, int firstKey, int32_t* order) {
    if (n <= 0) return;
    m_items.resize(n);
    m_swap.resize(n);
    // Positions start ascending and every pass is stable, so equal logits keep key order.
    for (int t = 0; t < n; ++t) m_items[t] = (static_cast<uint64_t>(descendingKey(logits[t])) << 32) | static_cast<uint32_t>(t);
    int counts[4][256] = {};  // all four byte histograms in one read
    for (int t = 0; t < n; ++t)
        for (int b = 0; b < 4; ++b) ++counts[b][(m_items[t] >> (32 + 8 * b)) & 0xff];
    for (int b = 0; b < 4; ++b) {
        const int shift = 32 + 8 * b;
        int* count = counts[b];
        if (count[(m_items[0] >> shift) & 0xff] == n) continue;  // every key shares this byte
        int start = 0;
        for (int d = 0; d < 256; ++d) {
            const int size = count[d];
            count[d] = start;
            start += size;
        }
        for (int t = 0; t < n; ++t) m_swap[count[(m_items[t] >> shift) & 0xff]++] = m_items[t];
        m_items.swap(m_swap);
    }
    for (int r = 0; r < n; ++r) order[r] = firstKey + static_cast<int32_t>(m_items[r] & 0xffffffffu);
}

}  // namespace attnscope::cpu
