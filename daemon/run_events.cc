#include "daemon/run_events.h"

namespace ktstr::daemon {

void RunEventLog::Append(const ktstr::v1::RunEvent& ev) {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  for (auto& [id, fn] : subscribers_) fn(ev);
  if (ev.has_output()) {
    if (++output_lines_ > config::kMaxReplayedOutputLines) return;
  }
  history_.push_back(ev);
  if (ev.has_run_finished()) closed_ = true;
}

int RunEventLog::Subscribe(Subscriber fn) {
  absl::MutexLock lock(&mu_);
  for (const auto& ev : history_) fn(ev);
  int id = next_id_++;
  subscribers_.emplace(id, std::move(fn));
  return id;
}

void RunEventLog::Unsubscribe(int id) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(id);
}

bool RunEventLog::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

}  // namespace ktstr::daemon
