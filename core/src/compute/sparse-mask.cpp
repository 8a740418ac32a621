// Pointwise membership test of a SparseMask: the single definition CPU and GPU both follow.
#include "attnscope/sparse-mask.h"

#include <algorithm>
#include <cstdlib>

namespace attnscope {

bool SparseMask::keeps(int i, int j, float logit) const {
    if (keepAll) return true;
    if (j < sinkTokens) return true;
    // The caller has already applied the model's mask, so for causal models j <= i and the
    // symmetric band |i - j| < w is the causal band 0 <= i - j < w.
    if (windowSize > 0 && std::abs(i - j) < windowSize) return true;
    if (blockSize > 0 && blocks[static_cast<size_t>(i / blockSize) * blockCols + j / blockSize]) return true;
    if (!columns.empty() && std::binary_search(columns.begin(), columns.end(), j)) return true;
    if (!rowTopK.empty()) {
        const RowThreshold& t = rowTopK[i];
        if (logit > t.thresholdLogit || (logit == t.thresholdLogit && j <= t.thresholdKey)) return true;
    }
    return false;
}

}  // namespace attnscope
