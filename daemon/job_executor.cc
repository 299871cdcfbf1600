#include "daemon/job_executor.h"

namespace ktstr::daemon {

void AbortSignal::Abort(AbortReason reason) {
  std::function<void()> hook;
  {
    absl::MutexLock lock(&mu_);
    if (reason_ != AbortReason::kNone) return;
    reason_ = reason;
    hook = std::move(hook_);
  }
  if (hook) hook();
}

AbortReason AbortSignal::reason() const {
  absl::MutexLock lock(&mu_);
  return reason_;
}

bool AbortSignal::WaitFor(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto aborted = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return reason_ != AbortReason::kNone;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&aborted), timeout);
}

void AbortSignal::OnAbort(std::function<void()> hook) {
  {
    absl::MutexLock lock(&mu_);
    if (reason_ == AbortReason::kNone) {
      hook_ = std::move(hook);
      return;
    }
  }
  hook();
}

}  // namespace ktstr::daemon
