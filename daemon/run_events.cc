#include "daemon/run_events.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ktstr::daemon {
namespace {
// What a queued output event costs beyond its text (the event, the deque's share), so a
// flood of empty lines is bounded too.
constexpr size_t kOutputEventOverhead = 64;

size_t OutputCost(const ktstr::v1::RunEvent& ev) {
  return ev.output().line().size() + kOutputEventOverhead;
}
}  // namespace

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

void WatcherQueue::Push(const ktstr::v1::RunEvent& ev) {
  if (ev.has_output()) {
    const size_t bytes = OutputCost(ev);
    if (output_bytes_ + bytes > max_output_bytes_) {
      if (dropped_++ == 0) first_dropped_ = ev;
      return;
    }
    if (dropped_ > 0) PushNotice();
    output_bytes_ += bytes;
  } else if (dropped_ > 0) {
    PushNotice();
  }
  queue_.push_back(ev);
}

void WatcherQueue::PushNotice() {
  ktstr::v1::RunEvent notice = first_dropped_;
  notice.mutable_output()->set_line(
      absl::StrCat("[ktstrd: ", dropped_, " output line", dropped_ == 1 ? "" : "s",
                   " dropped here: this watcher read them too slowly]"));
  dropped_ = 0;
  output_bytes_ += OutputCost(notice);  // may pass the bound by this one line
  queue_.push_back(std::move(notice));
}

std::optional<ktstr::v1::RunEvent> WatcherQueue::Pop() {
  if (queue_.empty()) return std::nullopt;
  ktstr::v1::RunEvent ev = std::move(queue_.front());
  queue_.pop_front();
  if (ev.has_output()) output_bytes_ -= std::min(output_bytes_, OutputCost(ev));
  return ev;
}

}  // namespace ktstr::daemon
