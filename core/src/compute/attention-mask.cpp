// Counting visible cells of a rectangle: one interval intersection per row.
#include "attnscope/attention-mask.h"

namespace attnscope {

long long visibleCellCount(const AttentionConfig& config, int seqLen, int q0, int q1, int k0, int k1) {
    long long count = 0;
    for (int i = std::max(q0, 0); i < std::min(q1, seqLen); ++i) {
        const KeyRange r = visibleKeys(config, seqLen, i);
        const int b = std::max(r.begin, k0);
        const int e = std::min(r.end, k1);
        if (e > b) count += e - b;
    }
    return count;
}

}  // namespace attnscope
