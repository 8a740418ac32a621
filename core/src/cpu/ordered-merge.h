// Folds per-task partial results into a total in task order, whatever order the tasks finish in, so
// floating-point sums do not depend on scheduling or on the thread count. A finished task's partial
// waits (in memory, nobody blocks) until every earlier task's partial has been merged.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <utility>

namespace attnscope::cpu {

template <class Partial>
class OrderedMerge {
public:
    explicit OrderedMerge(std::function<void(const Partial&)> merge) : m_merge(std::move(merge)) {}

    void submit(int task, Partial partial) {
        std::lock_guard lock(m_mutex);
        m_pending.emplace(task, std::move(partial));
        for (auto it = m_pending.find(m_next); it != m_pending.end(); it = m_pending.find(++m_next)) {
            m_merge(it->second);
            m_pending.erase(it);
        }
    }

private:
    std::function<void(const Partial&)> m_merge;
    std::mutex m_mutex;
    std::map<int, Partial> m_pending;
    int m_next = 0;
};

}  // namespace attnscope::cpu
