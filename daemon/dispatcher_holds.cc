// Dispatcher budget holds: VM budget taken outside a run (a shell's VM), queued fairly with
// jobs in the same admission. Split from dispatcher.cc.
#include "daemon/dispatcher.h"

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace ktstr::daemon {

absl::StatusOr<std::unique_ptr<BudgetHold>> Dispatcher::HoldBudget(const std::string& holder,
                                                                   Resources cost,
                                                                   AbortSignal* abort) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || draining_) return absl::UnavailableError("ktstrd is stopping");
  // Unique and never a run id (those start with a digit).
  const std::string id = absl::StrCat(holder, "#", ++hold_counter_);
  holders_[id] = Holder{abort, cost, false};
  admission_.Enqueue(id, 0, cost);
  work_ = true;
  while (true) {
    Holder& h = holders_.at(id);
    if (h.granted) break;
    if (abort->aborted() || stopping_) {
      admission_.RemoveRun(id);
      holders_.erase(id);
      return stopping_ ? absl::UnavailableError("ktstrd is stopping")
                       : absl::CancelledError("cancelled while waiting for the VM budget");
    }
    // The abort signal has its own mutex: poll it while waiting for the grant.
    auto granted = [&h, this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return h.granted || stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&granted), absl::Milliseconds(200));
  }
  if (cost.vcpus > options_.budget.vcpus || cost.memory_mb > options_.budget.memory_mb) {
    spdlog::warn("{} needs {} vCPUs / {} MiB, over the host budget ({} / {}); running it alone",
                 holder, cost.vcpus, cost.memory_mb, options_.budget.vcpus,
                 options_.budget.memory_mb);
  }
  return std::unique_ptr<BudgetHold>(new BudgetHold(this, id));
}

void Dispatcher::ReleaseHold(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = holders_.find(id);
  if (it == holders_.end()) return;
  admission_.Release(it->second.cost);
  holders_.erase(it);
  work_ = true;
}

BudgetHold::~BudgetHold() { dispatcher_->ReleaseHold(id_); }

}  // namespace ktstr::daemon
