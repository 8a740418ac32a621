// Progress reporting and cancellation for long computations. A view or the CLI passes one in;
// backends call report() now and then and stop with JobCancelled when cancelled() turns true.
#pragma once

#include <atomic>
#include <stdexcept>
#include <string_view>

namespace attnscope {

class JobCancelled : public std::runtime_error {
public:
    JobCancelled() : std::runtime_error("job cancelled") {}
};

class JobControl {
public:
    virtual ~JobControl() = default;
    // fraction in [0, 1] of the current stage; called from worker threads, must be thread-safe.
    virtual void report(std::string_view stage, double fraction) { (void)stage; (void)fraction; }
    void cancel() { m_cancelled.store(true); }
    bool cancelled() const { return m_cancelled.load(std::memory_order_relaxed); }

private:
    std::atomic<bool> m_cancelled{false};
};

// Helpers for backends: both accept nullptr.
inline void reportProgress(JobControl* job, std::string_view stage, double fraction) {
    if (job) job->report(stage, fraction);
}
inline void throwIfCancelled(const JobControl* job) {
    if (job && job->cancelled()) throw JobCancelled();
}

}  // namespace attnscope
